// sit-bench: medians of a training step, a forward pass or a whole sampler run, with the FLOP
// rate they reach.
//
//   sit-bench --task train --model SiT-S/2 --batch-size 8 --threads 2
//   sit-bench --task sample --model SiT-XL/2 --device cuda --precision bf16 --cuda-graph ODE --sampling-method heun2
//   sit-bench --task train --model SiT-B/2 --device cuda --precision bf16 --batch-size 32 --cuda-graph
//   sit-bench --task train --model '' --patch-size 4 --depth 6 --hidden-size 256 --num-heads 4 \
//             --input-size 28 --in-channels 1 --num-classes 10 --batch-size 64 --json out.json

#include <sit/data/dataset.h>
#include <sit/nn/flops.h>
#include <sit/nn/precision.h>
#include <sit/nn/presets.h>
#include <sit/pipeline/generator.h>
#include <sit/runtime/blas_core.h>
#include <sit/train/ema.h>
#include <sit/train/graphed_training_step.h>
#include <sit/train/trainer.h>
#include <sit/transport/graphed_forward.h>
#include <sit/transport/guidance.h>
#include <sit/transport/sampler.h>

#include <fmt/core.h>
#include <nlohmann/json.hpp>
#include <torch/csrc/autograd/profiler_legacy.h>
#include <torch/version.h>
#if defined(SIT_WITH_CUDA) && TORCH_VERSION_MAJOR >= 2
#include <c10/cuda/CUDACachingAllocator.h>
#endif

#include <algorithm>
#include <chrono>
#include <fstream>
#include <optional>

#include "common.h"

namespace {

struct BenchParams {
  std::string task = "train";  // train, forward or sample
  sit::nn::ModelConfig model;   // learn_sigma and class dropout 0.1 as the official defaults
  int64_t input_size = 32;
  int64_t in_channels = 4;
  int64_t num_classes = 1000;
  int64_t batch_size = 8;
  sit::transport::SamplerOptions sampler;
  sit::transport::GuidanceOptions guidance;  // batched: 2 x batch rows per model call
  bool cuda_graph = false;
  sit::nn::RuntimeConfig runtime;
  int warmup = 2;
  int repeats = 5;
  std::string json;
  std::string profile;

  BenchParams() {
    model.model = "SiT-S/2";
    sampler.ode_method(sit::transport::OdeMethod::Heun2);
    sampler.num_steps(50);
  }
};

void add_options(CLI::App& app, BenchParams& p) {
  namespace ex = sit::examples;
  app.add_option("--task", p.task, "train, forward or sample")
      ->check(CLI::IsMember({"train", "forward", "sample"}))->capture_default_str();
  ex::bind(app, p.model);
  app.add_option("--input-size", p.input_size, "input height and width")->check(sit::examples::kPositive)->capture_default_str();
  app.add_option("--in-channels", p.in_channels)->check(sit::examples::kPositive)->capture_default_str();
  app.add_option("--num-classes", p.num_classes)->check(sit::examples::kPositive)->capture_default_str();
  app.add_option("--batch-size", p.batch_size)->check(sit::examples::kPositive)->capture_default_str();
  ex::bind(app, p.sampler);
  ex::bind(app, p.guidance);
  app.add_flag("--cuda-graph", p.cuda_graph,
               "replay from a CUDA graph the sampler's model call (--task sample) or the whole training step on "
               "one fixed device batch, without the data loader and the CPU draws (--task train)");
  ex::bind(app, p.runtime);
  app.add_option("--warmup", p.warmup)->check(sit::examples::kNonNegative)->capture_default_str();
  app.add_option("--repeats", p.repeats)->check(sit::examples::kPositive)->capture_default_str();
  app.add_option("--json", p.json, "also write the result here")->check(sit::examples::kOutputFile);
  app.add_option("--profile", p.profile,
                 "write the timed repeats' operator trace here (Chrome trace JSON; profile_summary.py reads it)")
      ->check(sit::examples::kOutputFile);
  // The sampler of --task sample: sit-sample's subcommands and flags (default: ODE heun2).
  auto* ode = app.add_subcommand("ODE", "--task sample: the probability-flow ODE");
  auto* sde = app.add_subcommand("SDE", "--task sample: the reverse-time SDE");
  ex::bind_fields(*ode, p.sampler, [](auto& g, auto&& f) { sit::transport::SamplerOptions::ode_fields(g, f); });
  ex::bind_fields(*sde, p.sampler, [](auto& g, auto&& f) { sit::transport::SamplerOptions::sde_fields(g, f); });
  app.require_subcommand(0, 1);
}

// Random images with random labels: the training step without any input cost.
class RandomDataset : public sit::data::Dataset {
 public:
  RandomDataset(std::array<int64_t, 3> shape, int64_t num_classes, size_t size)
      : shape_(shape), num_classes_(num_classes), size_(size) {}
  size_t size() const override { return size_; }
  sit::data::Example get(size_t, std::mt19937_64& rng) const override {
    std::normal_distribution<float> normal;
    auto x = torch::empty({shape_[0], shape_[1], shape_[2]});
    auto* data = x.data_ptr<float>();
    for (int64_t i = 0; i < x.numel(); ++i) data[i] = normal(rng);
    return {x, static_cast<int64_t>(rng() % static_cast<uint64_t>(num_classes_))};
  }
  int64_t num_classes() const override { return num_classes_; }
  std::array<int64_t, 3> shape() const override { return shape_; }

 private:
  std::array<int64_t, 3> shape_;
  int64_t num_classes_;
  size_t size_;
};

sit::train::TrainConfig train_config(const BenchParams& p) {
  sit::train::TrainConfig c;
  c.model = p.model;
  c.optim.global_batch_size = p.batch_size;
  c.optim.max_steps = 1 << 30;
  c.data.num_workers = 1;
  c.runtime = p.runtime;
  return c;
}

sit::nn::SiTOptions model_options(const BenchParams& p) {
  return p.model.options({p.in_channels, p.input_size, p.input_size}, p.num_classes);
}

struct Measurement {
  std::vector<double> times_ms;
  int64_t model_evaluations = 0;  // per repeat
  int64_t model_rows = 0;         // rows per model evaluation
  std::optional<int64_t> peak_memory_bytes;  // on a GPU: the most allocated during the timed repeats
};

// The CUDA caching allocator's peak of allocated bytes (torch.cuda.max_memory_allocated), from a
// reset on. Only in a CUDA build of LibTorch 2.x.
#if defined(SIT_WITH_CUDA) && TORCH_VERSION_MAJOR >= 2
void reset_peak_memory(const torch::Device& device) {
  c10::cuda::CUDACachingAllocator::resetPeakStats(device.index());
}
std::optional<int64_t> peak_memory(const torch::Device& device) {
  const auto stats = c10::cuda::CUDACachingAllocator::getDeviceStats(device.index());
  return stats.allocated_bytes[static_cast<size_t>(c10::CachingAllocator::StatType::AGGREGATE)].peak;
}
#else
void reset_peak_memory(const torch::Device&) {}
std::optional<int64_t> peak_memory(const torch::Device&) { return std::nullopt; }
#endif

// Times `run` after `warmup` untimed calls; run returns (model evaluations, rows per evaluation).
template <typename Run>
Measurement measure(const BenchParams& p, const torch::Device& device, Run run) {
  auto sync = [&] {
    if (device.is_cuda()) torch::cuda::synchronize();
  };
  Measurement m;
  for (int i = 0; i < p.warmup; ++i) run();
  sync();
  if (device.is_cuda()) reset_peak_memory(device);
  std::optional<torch::autograd::profiler::RecordProfile> profile;
  if (!p.profile.empty()) profile.emplace(p.profile);
  for (int i = 0; i < p.repeats; ++i) {
    auto start = std::chrono::steady_clock::now();
    std::tie(m.model_evaluations, m.model_rows) = run();
    sync();
    std::chrono::duration<double, std::milli> elapsed = std::chrono::steady_clock::now() - start;
    m.times_ms.push_back(elapsed.count());
  }
  if (device.is_cuda()) m.peak_memory_bytes = peak_memory(device);
  return m;
}

Measurement bench_train(const BenchParams& p, const torch::Device& device) {
  auto dataset = std::make_shared<RandomDataset>(
      std::array<int64_t, 3>{p.in_channels, p.input_size, p.input_size}, p.num_classes,
      static_cast<size_t>(p.batch_size) * 4);
  sit::train::Trainer trainer(train_config(p), dataset);
  return measure(p, device, [&] {
    trainer.train_step();
    return std::make_pair(int64_t{1}, p.batch_size);
  });
}

// The step of bench_train replayed from a CUDA graph, with the trainer's model, AdamW and EMA
// settings; the batch is drawn once on the device, so the loader and the draws are not timed.
Measurement bench_train_graphed(const BenchParams& p, const torch::Device& device, sit::nn::Precision precision) {
  const auto config = train_config(p);
  torch::manual_seed(config.optim.global_seed);
  sit::nn::SiT model(model_options(p));
  model->to(device);
  model->train();
  sit::nn::SiT ema = sit::train::make_ema(model);
  sit::transport::Transport transport(config.transport, model->options.patch_size());
  const auto& o = config.optim;
  sit::train::GraphedTrainingStep step(
      model, ema, transport,
      sit::train::GraphedTrainingStepOptions(p.batch_size)
          .adamw(o.adamw_options())
          .ema_decay(o.ema_decay)
          .precision(precision));
  auto floats = torch::TensorOptions(device);
  auto labels = floats.dtype(torch::kLong);
  sit::train::TrainingBatch batch{
      torch::randn({p.batch_size, p.in_channels, p.input_size, p.input_size}, floats),
      torch::randint(p.num_classes, {p.batch_size}, labels),
      torch::randn({p.batch_size, p.in_channels, p.input_size, p.input_size}, floats),
      transport.training_times(torch::rand({p.batch_size}, floats)), torch::Tensor()};
  if (model->options.class_dropout_prob() > 0) {
    batch.drop = (torch::rand({p.batch_size}, floats) < model->options.class_dropout_prob()).to(torch::kLong);
  }
  return measure(p, device, [&] {
    step.step(batch);
    return std::make_pair(int64_t{1}, p.batch_size);
  });
}

sit::nn::SiT eval_model(const BenchParams& p, const torch::Device& device) {
  torch::manual_seed(0);
  sit::nn::SiT model(model_options(p));
  model->to(device);
  model->eval();
  return model;
}

Measurement bench_forward(const BenchParams& p, const torch::Device& device, sit::nn::Precision precision) {
  auto model = eval_model(p, device);
  torch::InferenceMode inference;
  sit::nn::AutocastGuard autocast(device, precision);
  auto x = torch::randn({p.batch_size, p.in_channels, p.input_size, p.input_size}, device);
  auto t = torch::rand({p.batch_size}, device);
  auto y = torch::randint(p.num_classes, {p.batch_size}, torch::TensorOptions(device).dtype(torch::kLong));
  return measure(p, device, [&] {
    model->forward(x, t, y);  // the official forward: learned sigma computed, then dropped
    return std::make_pair(int64_t{1}, p.batch_size);
  });
}

Measurement bench_sample(const BenchParams& p, const torch::Device& device, sit::nn::Precision precision) {
  auto model = eval_model(p, device);
  torch::InferenceMode inference;
  sit::nn::AutocastGuard autocast(device, precision);
  namespace tr = sit::transport;
  tr::LabelledForward forward = sit::labelled_forward(model);
  if (p.cuda_graph) forward = tr::cuda_graphed(forward);
  auto z = torch::randn({p.batch_size, p.in_channels, p.input_size, p.input_size}, device);
  auto y = torch::randint(p.num_classes, {p.batch_size}, torch::TensorOptions(device).dtype(torch::kLong));
  auto conditioned = tr::condition(forward, y, tr::GuidanceOptions(p.guidance).null_label(p.num_classes));
  auto state = conditioned.initial_state(z);
  tr::Sampler sampler{tr::Transport()};
  const auto& s = p.sampler;
  return measure(p, device, [&] {
    auto result = sampler.sample(state, conditioned.model, s);
    return std::make_pair(result.model_evaluations, state.size(0));
  });
}

double median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  size_t n = values.size();
  return n % 2 == 1 ? values[n / 2] : 0.5 * (values[n / 2 - 1] + values[n / 2]);
}

int run(const CLI::App& app, BenchParams p) {
  sit::examples::resolve_model(app, p.model);
  p.model.validate();
  p.sampler.validate();
  p.guidance.validate();
  if (p.task != "sample" && app.get_subcommands().size() > 0) {
    throw sit::config::ConfigError("ODE and SDE choose the sampler of --task sample, not of --task " + p.task);
  }
  auto device = sit::examples::apply_runtime(p.runtime);
  auto precision = p.runtime.precision = sit::examples::runnable_precision(device, p.runtime.precision);
  sit::nn::set_matmul_precision(precision);
  if (p.cuda_graph && (p.task == "forward" || !device.is_cuda())) {
    throw std::invalid_argument("--cuda-graph applies to --task sample and --task train on a CUDA device");
  }
  if (p.cuda_graph && p.task == "train" && p.model.architecture.meanflow()) {
    throw sit::config::ConfigError("--cuda-graph captures a flow-matching step; time --meanflow steps without it");
  }
  if (p.task == "sample" && p.sampler.ode_method() == sit::transport::OdeMethod::MeanFlow) {
    throw sit::config::ConfigError("--sampling-method meanflow: sit-bench times ODE and SDE solvers; time "
                                   "MeanFlow's steps with sit-sample");
  }
  Measurement m = p.task == "forward" ? bench_forward(p, device, precision)
                  : p.task == "sample" ? bench_sample(p, device, precision)
                  : p.cuda_graph       ? bench_train_graphed(p, device, precision)
                                       : bench_train(p, device);
  auto options = model_options(p);
  // A training step is a forward and a backward of twice its cost.
  double flops = static_cast<double>(m.model_evaluations) * sit::nn::forward_flops(options, m.model_rows) *
                 (p.task == "train" ? 3.0 : 1.0);
  double median_ms = median(m.times_ms);
  double images_per_s = static_cast<double>(p.batch_size) / (median_ms / 1000.0);
  double tflops = flops / (median_ms / 1000.0) / 1e12;
  std::string name = p.model.model.empty() ? fmt::format("SiT(p{} d{} h{} heads{})", options.patch_size(),
                                                         options.depth(), options.hidden_size(), options.num_heads())
                                           : p.model.model;
  fmt::print("{:<8} {:<28} {:>6} {:>5} {:>8} {:>7} {:>12} {:>10} {:>6} {:>9}\n", "task", "model", "input",
             "batch", "device", "prec", "median ms", "images/s", "evals", "TFLOP/s");
  fmt::print("{:<8} {:<28} {:>6} {:>5} {:>8} {:>7} {:>12.2f} {:>10.2f} {:>6} {:>9.4f}\n", p.task, name,
             fmt::format("{}x{}", p.input_size, p.in_channels), p.batch_size, device.str(), sit::config::enum_name(precision),
             median_ms, images_per_s, m.model_evaluations, tflops);
  if (!p.json.empty()) {
    const auto blas_core = sit::runtime::openblas_core();  // null where the BLAS is not OpenBLAS
    nlohmann::json out = {{"task", p.task},
                          {"model", name},
                          {"input_size", p.input_size},
                          {"in_channels", p.in_channels},
                          {"batch_size", p.batch_size},
                          {"device", device.str()},
                          {"threads", torch::get_num_threads()},
                          {"blas_core", blas_core ? nlohmann::json(*blas_core) : nlohmann::json()},
                          {"precision", sit::config::enum_name(precision)},
                          {"median_ms", median_ms},
                          {"times_ms", m.times_ms},
                          {"images_per_s", images_per_s},
                          {"model_evaluations", m.model_evaluations},
                          {"flops", flops},
                          {"tflops", tflops},
                          {"cuda_graph", p.cuda_graph},
                          {"peak_memory_bytes", m.peak_memory_bytes ? nlohmann::json(*m.peak_memory_bytes) : nlohmann::json()}};
    if (p.task == "sample") {
      const auto& s = p.sampler;
      const bool ode = s.mode() == sit::transport::SamplerMode::ODE;
      out["mode"] = sit::config::enum_name(s.mode());
      out["sampling_method"] = ode ? sit::config::enum_name(s.ode_method()) : sit::config::enum_name(s.sde_method());
      out["num_sampling_steps"] = s.num_steps();
      out["cfg_scale"] = p.guidance.cfg_scale();
    }
    std::ofstream(p.json) << out.dump(2) << "\n";
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"sit-bench: time SiT training, forward passes and sampling"};
  app.fallthrough();
  BenchParams params;
  add_options(app, params);
  return sit::examples::run_main("sit-bench", app, argc, argv, [&] {
    if (app.got_subcommand("SDE")) params.sampler.mode(sit::transport::SamplerMode::SDE);
    return run(app, params);
  });
}
