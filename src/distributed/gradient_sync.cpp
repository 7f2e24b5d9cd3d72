#include <sit/distributed/gradient_sync.h>

#include <torch/torch.h>

namespace sit::distributed {
namespace {

// Consecutive tensors of one dtype and device, at most cap bytes per bucket.
std::vector<std::vector<torch::Tensor>> make_buckets(const std::vector<torch::Tensor>& tensors,
                                                     int64_t cap) {
  std::vector<std::vector<torch::Tensor>> buckets;
  int64_t bytes = 0;
  for (const auto& tensor : tensors) {
    const int64_t size = tensor.numel() * static_cast<int64_t>(tensor.element_size());
    bool fits = !buckets.empty() && bytes + size <= cap &&
                buckets.back().front().scalar_type() == tensor.scalar_type() &&
                buckets.back().front().device() == tensor.device();
    if (!fits) {
      buckets.emplace_back();
      bytes = 0;
    }
    buckets.back().push_back(tensor);
    bytes += size;
  }
  return buckets;
}

// (sum of numel,) <- the tensors, in order.
torch::Tensor flatten(const std::vector<torch::Tensor>& tensors) {
  std::vector<torch::Tensor> flat;
  flat.reserve(tensors.size());
  for (const auto& t : tensors) flat.push_back(t.reshape({-1}));
  return torch::cat(flat);
}

// The tensors <- their slices of flat.
void unflatten_into(const torch::Tensor& flat, const std::vector<torch::Tensor>& tensors) {
  int64_t offset = 0;
  for (const auto& t : tensors) {
    t.copy_(flat.narrow(0, offset, t.numel()).view_as(t));
    offset += t.numel();
  }
}

}  // namespace

void broadcast_module(torch::nn::Module& module, ProcessGroup& group, int64_t root) {
  torch::NoGradGuard no_grad;
  std::vector<torch::Tensor> tensors = module.parameters();
  for (const auto& buffer : module.buffers()) tensors.push_back(buffer);
  auto buckets = make_buckets(tensors, GradientBuckets::kDefaultBucketCapBytes);
  std::vector<torch::Tensor> flat;
  for (const auto& bucket : buckets) flat.push_back(flatten(bucket));
  group.broadcast(flat, root);
  for (size_t i = 0; i < buckets.size(); ++i) unflatten_into(flat[i], buckets[i]);
}

GradientBuckets::GradientBuckets(const std::vector<torch::Tensor>& parameters,
                                 std::shared_ptr<ProcessGroup> group, int64_t bucket_cap_bytes)
    : group_(std::move(group)) {
  TORCH_CHECK(group_, "GradientBuckets needs a process group");
  TORCH_CHECK(bucket_cap_bytes > 0, "GradientBuckets: bucket_cap_bytes must be positive, but got ",
              bucket_cap_bytes);
  std::vector<torch::Tensor> trained;
  for (const auto& p : parameters) {
    if (p.requires_grad()) trained.push_back(p);
  }
  buckets_ = make_buckets(trained, bucket_cap_bytes);
}

void GradientBuckets::average_gradients() {
  torch::NoGradGuard no_grad;
  for (auto& bucket : buckets_) {
    for (auto& p : bucket) {
      if (!p.grad().defined()) p.mutable_grad() = torch::zeros_like(p);
    }
  }
  std::vector<torch::Tensor> flat;
  for (const auto& bucket : buckets_) {
    std::vector<torch::Tensor> grads;
    for (const auto& p : bucket) grads.push_back(p.grad());
    flat.push_back(flatten(grads));
  }
  group_->all_reduce_sum(flat);
  for (size_t i = 0; i < buckets_.size(); ++i) {
    flat[i].div_(static_cast<double>(group_->world_size()));
    std::vector<torch::Tensor> grads;
    for (const auto& p : buckets_[i]) grads.push_back(p.grad());
    unflatten_into(flat[i], grads);
  }
}

}  // namespace sit::distributed
