#include <sit/eval/inception_score.h>

#include <torch/torch.h>

namespace sit::eval {

double inception_score(const torch::Tensor& logits, int64_t split_size) {
  TORCH_CHECK(logits.dim() == 2 && logits.size(0) >= 1, "logits (N >= 1, K), got ", logits.sizes());
  TORCH_CHECK(split_size >= 1, "split size must be positive, got ", split_size);
  const auto log_p = torch::log_softmax(logits.to(torch::kFloat64), 1);  // (N, K)
  double total = 0;
  int64_t splits = 0;
  for (int64_t begin = 0; begin < log_p.size(0); begin += split_size, ++splits) {
    const auto part = log_p.slice(0, begin, std::min(begin + split_size, log_p.size(0)));
    const auto p = part.exp();
    const auto log_marginal = p.mean(0, /*keepdim=*/true).log();
    total += (p * (part - log_marginal)).sum(1).mean().exp().item<double>();
  }
  return total / static_cast<double>(splits);
}

}  // namespace sit::eval
