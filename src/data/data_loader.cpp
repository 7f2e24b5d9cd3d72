#include <sit/data/data_loader.h>

#include <algorithm>

#include <c10/util/Exception.h>
#include <torch/types.h>

namespace sit::data {

DataLoader::DataLoader(std::shared_ptr<const Dataset> dataset, DataLoaderOptions options)
    : dataset_(std::move(dataset)), options_(std::move(options)) {
  TORCH_CHECK(dataset_, "DataLoader needs a dataset");
  TORCH_CHECK(dataset_->size() > 0, "DataLoader: the dataset is empty");
  TORCH_CHECK(options_.batch_size() > 0, "DataLoader: batch_size must be positive, but got ",
              options_.batch_size());
  TORCH_CHECK(options_.num_workers() >= 0 && options_.prefetch() > 0,
              "DataLoader: expected num_workers >= 0 and prefetch > 0, but got num_workers=",
              options_.num_workers(), " prefetch=", options_.prefetch());
  TORCH_CHECK(options_.world_size() > 0 && options_.rank() >= 0 &&
                  options_.rank() < options_.world_size(),
              "DataLoader: expected 0 <= rank < world_size, but got rank=", options_.rank(),
              " world_size=", options_.world_size());
  const auto size = static_cast<int64_t>(dataset_->size());
  examples_per_rank_ = (size + options_.world_size() - 1) / options_.world_size();
  steps_per_epoch_ = options_.drop_last()
                         ? examples_per_rank_ / options_.batch_size()
                         : (examples_per_rank_ + options_.batch_size() - 1) / options_.batch_size();
  TORCH_CHECK(steps_per_epoch_ > 0, "DataLoader: ", examples_per_rank_,
              " examples per rank do not fill one batch of ", options_.batch_size());
}

DataLoader::~DataLoader() { stop_workers(); }

void DataLoader::seek(int64_t epoch, int64_t step) {
  TORCH_CHECK(epoch >= 0 && step >= 0 && step < steps_per_epoch_,
              "DataLoader: cannot seek to epoch ", epoch, " step ", step, " (", steps_per_epoch_,
              " steps per epoch)");
  stop_workers();
  next_claim_ = next_consume_ = epoch * steps_per_epoch_ + step;
}

Batch DataLoader::next() {
  if (options_.num_workers() == 0) {
    const int64_t number = next_consume_++;
    return make_batch(number / steps_per_epoch_, number % steps_per_epoch_);
  }
  if (workers_.empty()) start_workers();
  Made made;
  {
    std::unique_lock<std::mutex> lock(mutex_);
    made_.wait(lock, [&] { return made_batches_.count(next_consume_) > 0; });
    auto found = made_batches_.find(next_consume_);
    made = std::move(found->second);
    made_batches_.erase(found);
    ++next_consume_;
  }
  may_claim_.notify_all();
  if (made.error) std::rethrow_exception(made.error);
  return std::move(made.batch);
}

Batch DataLoader::make_batch(int64_t epoch, int64_t step) const {
  const auto indices = indices_of_epoch(epoch);
  const int64_t begin = step * options_.batch_size();
  const int64_t end = std::min<int64_t>(begin + options_.batch_size(), indices->size());
  const std::array<int64_t, 3> shape = dataset_->shape();

  Batch batch;
  batch.epoch = epoch;
  batch.step = step;
  auto host = torch::TensorOptions().pinned_memory(options_.pin_memory());
  batch.x = torch::empty({end - begin, shape[0], shape[1], shape[2]}, host.dtype(torch::kFloat));
  batch.y = torch::empty({end - begin}, host.dtype(torch::kLong));
  batch.index = torch::empty({end - begin}, torch::kLong);
  int64_t* labels = batch.y.data_ptr<int64_t>();
  int64_t* example_indices = batch.index.data_ptr<int64_t>();
  for (int64_t i = begin; i < end; ++i) {
    const int64_t index = (*indices)[i];
    std::mt19937_64 rng = example_rng(options_.seed(), epoch, index);
    const Example example = dataset_->get(static_cast<size_t>(index), rng);
    TORCH_CHECK(example.x.sizes() == torch::IntArrayRef(shape), "DataLoader: example ", index,
                " has shape ", example.x.sizes(), ", expected ", torch::IntArrayRef(shape));
    batch.x[i - begin].copy_(example.x);
    labels[i - begin] = example.y;
    example_indices[i - begin] = index;
  }
  return batch;
}

std::shared_ptr<const std::vector<int64_t>> DataLoader::indices_of_epoch(int64_t epoch) const {
  std::lock_guard<std::mutex> lock(epochs_mutex_);
  auto found = epochs_.find(epoch);
  if (found != epochs_.end()) return found->second;
  const SamplerOptions sampler = SamplerOptions()
                                     .seed(options_.seed())
                                     .shuffle(options_.shuffle())
                                     .rank(options_.rank())
                                     .world_size(options_.world_size());
  auto indices = std::make_shared<const std::vector<int64_t>>(
      epoch_indices(static_cast<int64_t>(dataset_->size()), epoch, sampler));
  epochs_[epoch] = indices;
  // Workers rarely span more than two epochs; an evicted epoch is only recomputed.
  if (epochs_.size() > 2) epochs_.erase(epochs_.begin());
  return indices;
}

void DataLoader::start_workers() {
  stopping_ = false;
  for (int64_t i = 0; i < options_.num_workers(); ++i) workers_.emplace_back([this] { work(); });
}

void DataLoader::stop_workers() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  may_claim_.notify_all();
  for (std::thread& worker : workers_) worker.join();
  workers_.clear();
  made_batches_.clear();
  next_claim_ = next_consume_;
}

void DataLoader::work() {
  const int64_t window = std::max(options_.prefetch(), options_.num_workers());
  std::unique_lock<std::mutex> lock(mutex_);
  while (true) {
    may_claim_.wait(lock, [&] { return stopping_ || next_claim_ < next_consume_ + window; });
    if (stopping_) return;
    const int64_t number = next_claim_++;
    lock.unlock();
    Made made;
    try {
      made.batch = make_batch(number / steps_per_epoch_, number % steps_per_epoch_);
    } catch (...) {
      made.error = std::current_exception();
    }
    lock.lock();
    made_batches_.emplace(number, std::move(made));
    made_.notify_all();
  }
}

}  // namespace sit::data
