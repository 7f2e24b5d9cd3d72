// sit-train: train a SiT (the official train.py in C++), on Fashion-MNIST by default.
//
//   sit-train --model SiT-S/2 --data folder --data-path /imagenet/train --image-size 256
//   sit-train --ckpt results/run/checkpoints/0005000.pt --max-steps 10000   # resume
//   sit-train --auto-resume ...   # the same command again continues from its newest checkpoint
//   torchrun --no-python --nproc_per_node=2 sit-train --threads 1 ...      # data-parallel ranks
//   sit-train --data folder --data-path /imagenet/train --image-size 256 --vae sd-vae-ft-ema

#include <sit/data/fashion_mnist.h>
#include <sit/data/image_folder.h>
#include <sit/data/latent_shards.h>
#include <sit/image/grid.h>
#include <sit/io/state_dict.h>
#include <sit/train/checkpoint_settings.h>
#include <sit/pipeline/sample_evaluator.h>
#include <sit/pipeline/training_generator.h>
#include <sit/train/trainer.h>

#include <fmt/chrono.h>
#include <fmt/core.h>
#include <nlohmann/json.hpp>

#include <atomic>
#include <chrono>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <regex>
#include <set>

#include "common.h"
#include "progress_bar.h"

namespace fs = std::filesystem;

namespace {

std::atomic<bool> g_stop{false};
void request_stop(int) { g_stop = true; }

struct TrainParams {
  sit::train::TrainConfig config;
  std::string ckpt;  // resume from this checkpoint
  sit::examples::DistributedParams distributed;
};

void add_options(CLI::App& app, TrainParams& p) {
  sit::examples::bind(app, p.config);
  app.get_option("--results-dir")->check(sit::examples::kOutputDir);
  sit::examples::add_old_spelling(app, "--sample-steps", "--num-sampling-steps");
  sit::examples::add_old_spelling(app, "--sample-method", "--sampling-method");
  app.add_option("--ckpt", p.ckpt, "resume from this sit-train checkpoint");
  sit::examples::add_distributed_options(app, p.distributed);
}

// A resume continues the saved run: a flag that sets a setting the resume does not take from the
// command line (all but TrainConfig::per_run) differently from the checkpoint is an error, not
// silently overridden. Only the flags given are compared, unless `every_field` (--auto-resume:
// the command is the saved run's, so a setting it leaves at its default must match too).
void check_resume_flags(const CLI::App& app, const sit::train::TrainConfig& flags,
                        const sit::train::TrainConfig& saved, const std::string& ckpt, bool every_field) {
  using sit::train::TrainConfig;
  std::map<std::string, std::string> saved_text;
  TrainConfig::fields(saved, [&](const char* key, const auto& value, const char*, const auto&...) {
    saved_text[key] = sit::examples::field_text(value);
  });
  TrainConfig::fields(flags, [&](const char* key, const auto& value, const char*, const auto&...) {
    if (TrainConfig::per_run(key) || !(every_field || sit::examples::given(app, key))) return;
    auto text = sit::examples::field_text(value);
    if (text != saved_text[key] && std::string(key).rfind("meanflow", 0) == 0 && !saved.model.architecture.meanflow()) {
      throw sit::config::ConfigError(sit::config::flag(key) + " on a resume of " + ckpt +
                                     ", a flow-matching run: fine-tune it as MeanFlow in a new run, --meanflow "
                                     "--init-from " + ckpt);
    }
    if (text != saved_text[key]) {
      throw sit::config::ConfigError(sit::config::flag(key) + " " + text + " contradicts " + ckpt + ", saved with " +
                                     saved_text[key] + " (a resume continues the saved run)");
    }
  });
}

// The newest checkpoint save_checkpoint wrote in `dir` (<step>.pt; a .tmp is an unfinished write),
// if any.
std::optional<std::string> newest_checkpoint(const fs::path& dir) {
  std::optional<std::string> newest;
  int64_t newest_step = -1;
  std::error_code error;
  if (!fs::is_directory(dir, error)) return newest;
  const std::regex name("[0-9]{7,}\\.pt");
  for (const auto& entry : fs::directory_iterator(dir)) {
    const auto file = entry.path().filename().string();
    if (!entry.is_regular_file() || !std::regex_match(file, name)) continue;
    const int64_t step = std::stoll(file.substr(0, file.size() - 3));
    if (step > newest_step) {
      newest_step = step;
      newest = entry.path().string();
    }
  }
  return newest;
}

std::shared_ptr<const sit::data::Dataset> make_dataset(const sit::train::DataConfig& c) {
  switch (c.data) {
    case sit::train::DataSource::FashionMNIST: {
      sit::data::FashionMNISTOptions options;
      if (!c.data_path.empty()) options.root(c.data_path);
      return std::make_shared<sit::data::FashionMNIST>(options);
    }
    case sit::train::DataSource::Folder:
      return std::make_shared<sit::data::ImageFolder>(
          sit::data::ImageFolderOptions(c.data_path).image_size(c.image_size));
    case sit::train::DataSource::Latents:
      return std::make_shared<sit::data::LatentShards>(
          sit::data::LatentShardsOptions(c.data_path)
              .num_classes(c.num_classes > 0 ? c.num_classes : 1000)
              .sample_posterior(c.sample_posterior));
  }
  throw std::logic_error("unknown data source");
}

// Console and log file, as the official logger ("[time] message"); silent on ranks other than 0,
// as train.py's create_logger.
class Logger {
 public:
  Logger(const fs::path& file, bool enabled) : enabled_(enabled) {
    if (!enabled_) return;
    out_.open(file, std::ios::app);
    if (!out_) throw std::runtime_error("cannot write the log " + file.string());
  }
  template <typename... Args>
  void operator()(fmt::format_string<Args...> format, Args&&... args) {
    if (!enabled_) return;
    std::time_t now = std::time(nullptr);
    std::tm local{};
    localtime_r(&now, &local);
    auto line = fmt::format("[{:%Y-%m-%d %H:%M:%S}] {}", local, fmt::format(format, std::forward<Args>(args)...));
    progress_.clear();
    fmt::print("{}\n", line);
    out_ << line << '\n' << std::flush;
  }
  // The step's progress bar; a log line takes its place.
  void progress(int64_t step, int64_t total, double loss) {
    if (enabled_) progress_.show(step, total, fmt::format("loss {:.4f}", loss));
  }

 private:
  bool enabled_;
  std::ofstream out_;
  sit::examples::ProgressBar progress_;
};

// A write that a killed run left unfinished (AtomicFile's .tmp): removed, so that nothing stale
// lies next to the checkpoints.
void remove_unfinished_writes(const fs::path& results, Logger& log) {
  std::vector<fs::path> unfinished;
  for (const auto& dir : {results / "checkpoints", results / "phema"}) {
    if (!fs::is_directory(dir)) continue;
    for (const auto& entry : fs::directory_iterator(dir)) {
      if (entry.path().extension() == ".tmp") unfinished.push_back(entry.path());
    }
  }
  if (fs::exists(results / "ema.safetensors.tmp")) unfinished.push_back(results / "ema.safetensors.tmp");
  for (const auto& path : unfinished) {
    fs::remove(path);
    log("Removed {}, the unfinished write of an earlier run", path.string());
  }
}

// The periodic sample grids: 8 per class, one row per class (the first 10 classes when there are
// more), the same noise at every step (the first samples of seed 12345).
void save_samples(const sit::train::Trainer& trainer, const fs::path& dir, Logger& log) {
  const auto generator = sit::pipeline::training_generator(trainer);
  const int64_t classes = std::min<int64_t>(generator.architecture().num_classes(), 10), per_class = 8;
  auto y = torch::arange(classes, torch::kInt64).repeat_interleave(per_class);
  auto samples = generator.generate(y, sit::Draws().seed(12345)).samples;
  auto path = dir / fmt::format("{:07d}.png", trainer.train_steps());
  if (samples.size(1) == 1 || samples.size(1) == 3) {
    sit::image::save_image(path.string(), samples);
    log("Saved samples to {}", path.string());
  }
}

std::string save_checkpoint(const sit::train::Trainer& trainer, const fs::path& dir, Logger& log) {
  auto path = dir / fmt::format("{:07d}.pt", trainer.train_steps());
  trainer.save_checkpoint(path.string());
  log("Saved checkpoint to {}", path.string());
  return path.string();
}

// The power-function EMAs at this step, in <results>/phema (sit-phema reconstructs others from them).
void save_phema_snapshots(const sit::train::Trainer& trainer, const fs::path& results, Logger& log) {
  auto paths = sit::train::save_phema_snapshots(*trainer.phema(), trainer.train_steps(), (results / "phema").string(),
                                                trainer.config());
  log("Saved {} power-function EMA snapshots to {}", paths.size(), (results / "phema").string());
}

// Scores the EMA model (every rank takes part) and logs them (rank 0): a log line and a line of
// <results>/metrics.jsonl.
void evaluate(sit::pipeline::SampleEvaluator& evaluator, const sit::train::Trainer& trainer,
              sit::distributed::ProcessGroup* group, const fs::path& results, Logger& log) {
  const auto start = std::chrono::steady_clock::now();
  const auto scores = evaluator.evaluate(sit::pipeline::training_generator(trainer), group);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (group != nullptr && group->rank() != 0) return;
  nlohmann::json json = {{"step", trainer.train_steps()}, {"samples", scores.samples}};
  std::string line;
  for (const auto& [key, value] : {std::pair{"fid", scores.fid}, {"sfid", scores.sfid},
                                   {"inception_score", scores.inception_score}, {"precision", scores.precision},
                                   {"recall", scores.recall}, {"accuracy", scores.accuracy},
                                   {"classifier_fd", scores.classifier_fd}}) {
    if (!value) continue;
    json[key] = *value;
    line += fmt::format(" {} {:.4f},", key, *value);
  }
  if (scores.input_mode) json["input_mode"] = sit::config::enum_name(*scores.input_mode);
  log("(step={:07d}) Eval of {} samples:{} ({:.0f} s)", trainer.train_steps(), scores.samples,
      line.substr(0, line.size() - 1), seconds);
  std::ofstream metrics(results / "metrics.jsonl", std::ios::app);
  if (!(metrics << json.dump() << '\n')) throw std::runtime_error("cannot write " + (results / "metrics.jsonl").string());
}

// The mean of `value` over the ranks.
double mean_over_ranks(sit::distributed::ProcessGroup* group, double value, const torch::Device& device) {
  if (group == nullptr) return value;
  auto sum = torch::full({1}, value, torch::TensorOptions(torch::kFloat64).device(device));
  group->all_reduce_sum({sum});
  return sum.item<double>() / static_cast<double>(group->world_size());
}

int run(const CLI::App& app, TrainParams p) {
  auto config = p.config;
  sit::examples::resolve_model(app, config.model);
  std::string resume_from = p.ckpt;
  if (!p.ckpt.empty()) {
    auto saved = sit::train::read_checkpoint_config(p.ckpt);
    check_resume_flags(app, config, saved, p.ckpt, false);
    config = config.resumed_from(saved);
  }
  // After a preemption or a crash the same command continues the run (its newest checkpoint);
  // before the first checkpoint it starts as the command says.
  if (config.run.auto_resume) {
    if (auto newest = newest_checkpoint(fs::path(config.run.results_dir) / "checkpoints")) {
      auto saved = sit::train::read_checkpoint_config(*newest);
      check_resume_flags(app, config, saved, *newest, true);
      config = config.resumed_from(saved);
      resume_from = *newest;
    }
  }
  if (!resume_from.empty()) config.run.init_from.clear();  // the weights are the checkpoint's
  config.validate();  // before anything is loaded or written
  auto device = sit::examples::apply_runtime(config.runtime);
  auto group = sit::examples::join_process_group(p.distributed, device);
  const bool main_rank = group == nullptr || group->rank() == 0;
  config.runtime.device = device.str();
  config.runtime.precision = sit::examples::runnable_precision(device, config.runtime.precision);
  auto dataset = make_dataset(config.data);
  if (config.data.num_classes > 0 && config.data.num_classes != dataset->num_classes()) {
    throw sit::config::ConfigError(fmt::format("--num-classes {}: the data has {} classes",
                                               config.data.num_classes, dataset->num_classes()));
  }
  // Before anything is written: an evaluation that cannot run stops the run here.
  std::optional<sit::pipeline::SampleEvaluator> evaluator;
  if (config.eval.enabled()) evaluator.emplace(config, dataset->shape(), dataset->num_classes(), device);
  sit::nn::set_matmul_precision(config.runtime.precision);
  sit::train::Trainer trainer(config, dataset, group);  // loads the --vae: before anything is written
  fs::path results(config.run.results_dir);
  if (main_rank) {
    fs::create_directories(results / "checkpoints");
    fs::create_directories(results / "samples");
  }
  Logger log(results / "log.txt", main_rank);
  if (main_rank) remove_unfinished_writes(results, log);
  if (group) {
    fmt::print("Starting rank={}, seed={}, world_size={}.\n", group->rank(),
               config.optim.global_seed * group->world_size() + group->rank(), group->world_size());
  }
  if (!resume_from.empty()) {
    trainer.resume(resume_from);
    log("Resumed from {} at step {}", resume_from, trainer.train_steps());
  }
  const int64_t first_step = trainer.train_steps();
  int64_t parameters = 0;
  for (const auto& t : trainer.model()->parameters()) parameters += t.numel();
  log("SiT Parameters: {}", parameters);
  log("Dataset contains {} images ({} classes)", dataset->size(), dataset->num_classes());
  log("Training for {} steps, batch {} ({} per rank, {} ranks), {} threads per rank...",
      trainer.total_steps(), config.optim.global_batch_size,
      config.optim.global_batch_size / trainer.world_size(), trainer.world_size(), torch::get_num_threads());

  double running_loss = 0;  // over the log interval's good steps
  double running_repa_loss = 0;  // REPA's alignment loss (part of the loss), likewise
  int64_t log_steps = 0, good_steps = 0;
  auto start = std::chrono::steady_clock::now();
  std::string last_checkpoint;
  // Ranks stop together: a signal reaching one rank (torchrun forwards it to all, at slightly
  // different steps) stops every rank after the same step.
  auto stop_requested = [&] { return mean_over_ranks(group.get(), g_stop ? 1.0 : 0.0, device) > 0; };
  while (trainer.train_steps() < trainer.total_steps() && !stop_requested()) {
    double loss = trainer.train_step();
    ++log_steps;
    int64_t step = trainer.train_steps();
    if (trainer.consecutive_bad_steps() > 0) {  // every rank skipped it
      log("(step={:07d}) Skipped: non-finite loss or gradient ({} in a row, at most {}); weights and EMA unchanged",
          step, trainer.consecutive_bad_steps(), config.run.max_bad_steps);
    } else {
      running_loss += loss;
      if (config.repa.enabled()) running_repa_loss += trainer.repa_loss();
      ++good_steps;
    }
    log.progress(step, trainer.total_steps(), loss);
    if (step % config.run.log_every == 0) {
      double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      double steps_per_sec = log_steps / seconds;
      running_loss = mean_over_ranks(group.get(), running_loss, device);
      if (config.repa.enabled()) running_repa_loss = mean_over_ranks(group.get(), running_repa_loss, device);
      if (good_steps > 0) {
        log("(step={:07d}) Train Loss: {:.4f}, Train Steps/Sec: {:.2f}, Images/Sec: {:.1f}, LR: {:.3g}{}",
            step, running_loss / good_steps, steps_per_sec, steps_per_sec * config.optim.global_batch_size,
            trainer.current_lr(),
            config.repa.enabled() ? fmt::format(", REPA Loss: {:.4f}", running_repa_loss / good_steps) : "");
      }
      running_loss = 0;
      running_repa_loss = 0;
      log_steps = 0;
      good_steps = 0;
      start = std::chrono::steady_clock::now();
    }
    if (evaluator && step % config.eval.eval_every == 0) evaluate(*evaluator, trainer, group.get(), results, log);
    if (!main_rank) continue;
    // Snapshots before the checkpoint: a run killed between the two redoes the step and rewrites them.
    if (trainer.phema() && step % config.run.phema_every == 0) save_phema_snapshots(trainer, results, log);
    if (step % config.run.ckpt_every == 0) last_checkpoint = save_checkpoint(trainer, results / "checkpoints", log);
    if (step % config.run.sample_every == 0) save_samples(trainer, results / "samples", log);
  }
  const bool interrupted = trainer.train_steps() < trainer.total_steps();
  if (interrupted && trainer.train_steps() == first_step) {  // a signal while starting: nothing new to save
    log("Interrupted before the first step: nothing saved");
    return 130;
  }
  if (interrupted) log("Interrupted at step {}", trainer.train_steps());
  if (main_rank) {
    if (trainer.phema() && trainer.train_steps() % config.run.phema_every != 0) {
      save_phema_snapshots(trainer, results, log);
    }
    if (last_checkpoint.empty() || trainer.train_steps() % config.run.ckpt_every != 0) {
      save_checkpoint(trainer, results / "checkpoints", log);
    }
    sit::io::save_state_dict(sit::io::state_dict(*trainer.ema()), (results / "ema.safetensors").string(),
                         {{sit::train::kConfigMetadataKey, trainer.config().to_json()}});
    log("Done: {} steps; EMA weights in {}", trainer.train_steps(), (results / "ema.safetensors").string());
  }
  return interrupted ? 130 : 0;
}

}  // namespace

int main(int argc, char** argv) {
  // First of all, so that a signal while the data load or the model is built still ends the run
  // cleanly (after that, at a step boundary). A write past RLIMIT_FSIZE fails with EFBIG, a
  // one-line error, instead of killing the process with SIGXFSZ.
  std::signal(SIGINT, request_stop);
  std::signal(SIGTERM, request_stop);
  std::signal(SIGXFSZ, SIG_IGN);
  TrainParams params;
  CLI::App app{"sit-train: train a SiT (the official train.py)"};
  add_options(app, params);
  return sit::examples::run_main("sit-train", app, argc, argv, [&] { return run(app, params); });
}
