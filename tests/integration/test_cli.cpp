// The programs as a user runs them: sit-sample on every official fixture case, on an official
// train.py checkpoint and on a sit-train checkpoint, with sample.py's own command lines; sit-train's
// resume against a straight run; sit-bench's free model; and the one-line errors of flags that
// contradict a checkpoint or each other. Every check looks at what a run produced (files, values,
// exit status), not only at what it printed.
#include "support/catch_torch.h"
#include <sit/image/codec.h>
#include <sit/io/npy.h>
#include <sit/io/state_dict.h>
#include <sit/io/torch_load.h>
#include <sit/nn/precision.h>
#include <sit/nn/sit.h>
#include <sit/nn/sit_from_state_dict.h>
#include <sit/transport/sampler.h>
#include <sit/transport/transport.h>

#include <nlohmann/json.hpp>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <sstream>

#include "support/cli.h"
#include "support/files.h"
#include "support/fixture_case.h"
#include "support/machine.h"
#include "support/process.h"
#include "support/skip.h"
#include "support/tiny_run.h"

using namespace sit::test;
namespace fs = std::filesystem;
namespace tr = sit::transport;

namespace {

// One thread: on a loaded machine, two threads on a tiny model take 3 times as long.
const std::string kSample = std::string(SIT_SAMPLE_BIN) + " --threads 1";
const std::string kTrain = SIT_TRAIN_BIN;
const std::string kBench = SIT_BENCH_BIN;

Output run(const std::string& command, const TempDir& dir) { return run_program(command, dir); }

// The message's last word: the value a checkpoint holds, in "... contradicts <ckpt>; saved in <origin>: 2".
std::string last_word(const std::string& text) {
  std::istringstream words(text);
  std::string word, last;
  while (words >> word) last = word;
  return last;
}

// A value the command-line parser rejects (CLI11's own exit status), naming the valid choices.
void check_rejected(const Output& out, const std::vector<std::string>& choices) {
  INFO(out.text);
  CHECK(out.status != 0);
  for (const auto& choice : choices) CHECK_THAT(out.text, Catch::Contains(choice));
}

// "N samples, K model evaluations": K.
int64_t printed_evaluations(const std::string& text) {
  std::smatch match;
  if (!std::regex_search(text, match, std::regex("(\\d+) samples, (\\d+) model evaluations"))) return -1;
  return std::stoll(match[2]);
}

std::string number(const nlohmann::json& value) { return value.dump(); }

// sit-sample's command line for a fixture case, from its case.json: the official sample.py flags.
std::string case_command(const std::string& name, const std::string& out_npy) {
  auto dir = fixture_dir(name);
  auto json = read_case_json(dir);
  const auto& t = json["transport"];
  const auto& s = json["sampler"];
  const bool ode = s["mode"] == "ODE";
  std::string c = kSample + " " + s["mode"].get<std::string>() + " --ckpt " + dir + "/ckpt.pt --num-heads " +
                  number(json["model"]["num_heads"]) + " --noise " + dir + "/noise.npy --labels " + dir +
                  "/labels.npy --out-npy " + out_npy;
  c += " --sampling-method " + s["sampling_method"].get<std::string>();
  c += " --num-sampling-steps " + number(s["num_steps"]);
  c += " --path-type " + t["path_type"].get<std::string>() + " --prediction " + t["prediction"].get<std::string>();
  if (!t["loss_weight"].is_null()) c += " --loss-weight " + t["loss_weight"].get<std::string>();
  if (!t["train_eps_arg"].is_null()) c += " --train-eps " + number(t["train_eps_arg"]);
  if (!t["sample_eps_arg"].is_null()) c += " --sample-eps " + number(t["sample_eps_arg"]);
  c += " --cfg-scale " + number(json["guidance"]["cfg_scale"]);
  if (ode) {
    c += " --atol " + number(s["atol"]) + " --rtol " + number(s["rtol"]);
    if (s["reverse"].get<bool>()) c += " --reverse";
  } else {
    c += " --diffusion-form " + s["diffusion_form"].get<std::string>();
    c += " --diffusion-norm " + number(s["diffusion_norm"]);
    c += " --last-step " + (s["last_step"].is_null() ? std::string("None") : s["last_step"].get<std::string>());
    c += " --last-step-size " + number(s["last_step_size"]);
    c += " --sde-noise " + dir + "/sde_noise.npy";
  }
  return c;
}

std::string train_py_checkpoint() { return std::string(SIT_TEST_DATA_DIR) + "/io/train_py_checkpoint.pt"; }

// The noise and labels of a fixture case, for runs on its (or the same) weights.
std::string case_inputs(const std::string& name) {
  auto dir = fixture_dir(name);
  return " --noise " + dir + "/noise.npy --labels " + dir + "/labels.npy";
}

// The loss logged for each step (the last of a step logged twice).
std::map<int64_t, std::string> losses_by_step(const std::string& log) {
  std::map<int64_t, std::string> losses;
  for (const auto& [step, loss] : logged_losses(log)) losses[step] = loss;
  return losses;
}

// The largest |a - b| over every tensor, relative to the largest |b|; the key sets must agree.
double max_relative_difference(const sit::io::StateDict& a, const sit::io::StateDict& b) {
  REQUIRE(a.keys() == b.keys());
  double diff = 0, scale = 0;
  for (const auto& item : b) {
    diff = std::max(diff, (a[item.key()] - item.value()).abs().max().item<double>());
    scale = std::max(scale, item.value().abs().max().item<double>());
  }
  return diff / scale;
}

std::string step_name(int64_t step) {
  auto digits = std::to_string(step);
  return std::string(7 - digits.size(), '0') + digits + ".pt";
}

// Tiny sit-train runs on the tiny latents (tiny_run.h), checkpointed every 2 steps.
struct TrainedRuns {
  TempDir dir;
  TinyTraining flags{dir.file("latents")};
  std::string straight = dir.file("straight");  // 6 steps in one run
  std::string resumed = dir.file("resumed");    // 4 steps, then resumed to 6 with the run's flags alone
  Output first, second, third;

  // The model, data, transport and optimisation (what a checkpoint fixes), and the run's flags.
  std::string args(const std::string& results, int64_t steps) const { return flags.args(results, steps, 2); }
  std::string checkpoint(const std::string& results, int64_t steps) const {
    return results + "/checkpoints/" + step_name(steps);
  }

  TrainedRuns() {
    write_latent_shard(flags.data, tiny_latents());
    first = run(kTrain + args(straight, 6), dir);
    second = run(kTrain + args(resumed, 4), dir);
    third = run(kTrain + flags.run(resumed, 6, 2) + " --ckpt " + checkpoint(resumed, 4), dir);
  }
};

const TrainedRuns& trained_runs() {
  static TrainedRuns runs;
  return runs;
}

}  // namespace

TEST_CASE("sit-sample reproduces every official fixture case from its files", "[cli]") {
  TempDir tmp;
  auto out = tmp.file("x.npy");
  for (const auto& name : sampler_case_names()) {
    INFO("case " << name);
    auto dir = fixture_dir(name);
    auto json = read_case_json(dir);
    fs::remove(out);
    auto command = case_command(name, out);
    INFO(command);
    auto result = run(command, tmp);
    INFO(result.text);
    REQUIRE(result.status == 0);
    const auto& s = json["sampler"];
    const bool ode = s["mode"] == "ODE";
    const bool adaptive = ode && tr::is_adaptive(sit::config::parse_enum<tr::OdeMethod>(s["sampling_method"].get<std::string>()));
    CHECK(relative_l2(sit::io::read_npy(out), read_case_npy(dir, "expected")) < (adaptive ? 1e-3 : 1e-4));
    // The official SDE drift calls the model twice per step where ours calls it once.
    const int64_t evaluations = printed_evaluations(result.text);
    CHECK((ode ? evaluations : 2 * evaluations) == json["model_evaluations"].get<int64_t>());
  }

  auto likelihood = run(kSample + " ODE --ckpt " + fixture_dir("ode_linear_velocity_euler") + "/ckpt.pt --num-heads 4" +
                            case_inputs("ode_linear_velocity_euler") +
                            " --likelihood --sampling-method euler --num-sampling-steps 8 --cfg-scale 1 --out-npy " + out,
                        tmp);
  INFO(likelihood.text);
  REQUIRE(likelihood.status == 0);
  CHECK_THAT(likelihood.text, Catch::Contains("bits/dim"));
  // --out-npy with --likelihood: the prior sample, one per input.
  CHECK(sit::io::read_npy(out).sizes() == read_case_npy(fixture_dir("ode_linear_velocity_euler"), "noise").sizes());
}

TEST_CASE("sit-sample: bad input is a one-line error", "[cli]") {
  TempDir tmp;
  auto ckpt = fixture_dir("ode_linear_velocity_euler") + "/ckpt.pt";
  {
    std::ifstream in(ckpt, std::ios::binary);
    std::ofstream out(tmp.file("truncated.pt"), std::ios::binary);
    std::vector<char> head(20000);
    in.read(head.data(), head.size());
    out.write(head.data(), head.size());
    std::ofstream random(tmp.file("random.pt"), std::ios::binary);
    for (int i = 0; i < 4096; ++i) random.put(static_cast<char>((i * 2654435761u) >> 13));
  }
  auto sample = kSample + " ODE --out '' --num-heads 4 --ckpt ";
  for (const auto& [args, message] : std::vector<std::pair<std::string, std::string>>{
           {tmp.file("truncated.pt"), "truncated.pt"},
           {tmp.file("random.pt"), ": not a checkpoint"},
           {tmp.file("missing.pt"), "missing.pt"},
           {ckpt + " --class-labels 3,12", "class label 12 is outside the model's 10 classes"},
           {ckpt + " --class-labels 1,2 --noise " + ckpt, "ckpt.pt"}}) {
    INFO(args);
    check_error(run(sample + args, tmp), "sit-sample", {message});
  }
}

TEST_CASE("sit-sample on a train.py checkpoint: the transport of its args, and flags that contradict them",
          "[cli]") {
  TempDir tmp;
  const auto ckpt = train_py_checkpoint();  // the weights of ode_linear_velocity_euler, args say GVP
  const auto bare = fixture_dir("ode_linear_velocity_euler") + "/ckpt.pt";
  // The SDE: its drift and diffusion depend on the path (the ODE of a velocity model does not).
  const auto headless = kSample + " SDE --sampling-method Euler --num-sampling-steps 4 --cfg-scale 1 --seed 3" +
                        case_inputs("ode_linear_velocity_euler");
  const auto sde = headless + " --num-heads 4";
  auto from_args = run(sde + " --ckpt " + ckpt + " --out-npy " + tmp.file("args.npy"), tmp);
  auto gvp = run(sde + " --ckpt " + bare + " --path-type GVP --out-npy " + tmp.file("gvp.npy"), tmp);
  auto linear = run(sde + " --ckpt " + bare + " --path-type Linear --out-npy " + tmp.file("linear.npy"), tmp);
  auto agreeing = run(sde + " --ckpt " + ckpt + " --path-type GVP --prediction velocity --image-size 128"
                            " --num-classes 10 --ckpt-entry model --out-npy " + tmp.file("agreeing.npy"), tmp);
  INFO(from_args.text << gvp.text << linear.text << agreeing.text);
  REQUIRE(from_args.status == 0);
  REQUIRE(gvp.status == 0);
  REQUIRE(linear.status == 0);
  REQUIRE(agreeing.status == 0);
  auto samples = sit::io::read_npy(tmp.file("args.npy"));
  CHECK(torch::equal(samples, sit::io::read_npy(tmp.file("gvp.npy"))));
  CHECK(torch::equal(samples, sit::io::read_npy(tmp.file("agreeing.npy"))));
  CHECK(relative_l2(sit::io::read_npy(tmp.file("linear.npy")), samples) > 1e-2);  // the path matters
  // A fork's train.py checkpoint (args.model "SiT-T/2", its own entry of SiT_models): the weights'
  // architecture with the heads given, the rest of its args as for any train.py checkpoint.
  const auto fork = std::string(SIT_TEST_DATA_DIR) + "/io/fork_train_py_checkpoint.pt";
  auto forked = run(sde + " --ckpt " + fork + " --out-npy " + tmp.file("fork.npy"), tmp);
  INFO(forked.text);
  REQUIRE(forked.status == 0);
  CHECK(torch::equal(samples, sit::io::read_npy(tmp.file("fork.npy"))));

  for (const auto& [flag, saved] : std::vector<std::pair<std::string, std::string>>{
           {"--path-type Linear", "GVP"}, {"--prediction noise", "velocity"}, {"--image-size 256", "128"},
           {"--num-classes 5", "10"}}) {
    auto out = run(sde + " --ckpt " + ckpt + " " + flag + " --out-npy " + tmp.file("x.npy"), tmp);
    check_error(out, "sit-sample", {flag + " contradicts " + ckpt, "train.py's args"});
    CHECK(last_word(out.text) == saved);
  }
  // Neither a preset nor a saved head count, and a width no preset has: the heads must be told.
  check_error(run(headless + " --ckpt " + ckpt + " --out-npy " + tmp.file("x.npy"), tmp), "sit-sample",
              {"hidden size 64", "--num-heads"});
  CHECK_FALSE(fs::exists(tmp.file("x.npy")));
}

TEST_CASE("sit-sample runs sample.py's command line with a models folder", "[cli]") {
  TempDir tmp;
  const auto models = tmp.file("models");
  fs::create_directories(models + "/sd-vae-ft-ema");
  const auto vae = std::string(SIT_TEST_DATA_DIR) + "/vae/small";
  fs::copy_file(vae + "/vae.safetensors", models + "/sd-vae-ft-ema/diffusion_pytorch_model.safetensors");
  fs::copy_file(vae + "/config.json", models + "/sd-vae-ft-ema/config.json");
  // sample.py's flags (SDE mode); the checkpoint's args have no preset, so the heads are told.
  const auto official = [](const std::string& vae) {
    return " SDE --ckpt " + train_py_checkpoint() + " --num-heads 4 --vae " + vae +
           " --image-size 128 --num-classes 10 --cfg-scale 4"
           " --num-sampling-steps 4 --seed 0 --path-type GVP --prediction velocity --sampling-method Euler"
           " --diffusion-form sigma --last-step Mean --last-step-size 0.04";
  };
  const auto in_tmp = "cd " + tmp.path().string() + " && env -u SIT_MODELS_DIR ";
  // sample.py's default output: sample.png, 8 samples of 16x16 latents decoded to 32x32 images in a
  // grid of one row (torchvision's padding of 2).
  auto check_png = [&](const Output& out) {
    INFO(out.text);
    REQUIRE(out.status == 0);
    REQUIRE(fs::exists(tmp.file("sample.png")));
    auto image = sit::image::read_rgb(tmp.file("sample.png"));
    CHECK(image.sizes() == torch::IntArrayRef({34 + 2, 8 * 34 + 2, 3}));
    CHECK(image.to(torch::kFloat32).std().item<double>() > 1.0);  // not a blank image
    fs::remove(tmp.file("sample.png"));
  };
  check_png(run(in_tmp + kSample + official("ema") + " --models-dir " + models, tmp));
  check_png(run(in_tmp + "SIT_MODELS_DIR=" + models + " " + kSample + official("ema"), tmp));
  fs::rename(models, tmp.file("pretrained_models"));  // sample.py's folder, found from the working directory
  check_png(run(in_tmp + kSample + official("ema"), tmp));

  // A VAE that is not there: what to download, and where.
  auto missing = run(in_tmp + kSample + official("mse"), tmp);
  check_error(missing, "sit-sample", {"sd-vae-ft-mse", "download stabilityai/sd-vae-ft-mse"});
  CHECK_FALSE(fs::exists(tmp.file("sample.png")));
}

TEST_CASE("sit-train resumes exactly where a straight run would be", "[cli]") {
  const auto& runs = trained_runs();
  INFO(runs.first.text << runs.second.text << runs.third.text);
  REQUIRE(runs.first.status == 0);
  REQUIRE(runs.second.status == 0);
  REQUIRE(runs.third.status == 0);
  const auto straight = runs.checkpoint(runs.straight, 6), resumed = runs.checkpoint(runs.resumed, 6);
  for (const std::string entry : {"ema", "model"}) {
    INFO("entry " << entry);
    auto a = sit::io::read_state_dict(straight, sit::io::ReadOptions().entry(entry));
    CHECK(max_relative_difference(sit::io::read_state_dict(resumed, sit::io::ReadOptions().entry(entry)), a) <= 1e-6);
    // The comparison can fail: two more steps move the weights well past that.
    auto at4 = sit::io::read_state_dict(runs.checkpoint(runs.straight, 4), sit::io::ReadOptions().entry(entry));
    CHECK(max_relative_difference(at4, a) > 1e-4);
  }
  auto a = losses_by_step(runs.straight + "/log.txt"), b = losses_by_step(runs.resumed + "/log.txt");
  for (int64_t step = 1; step <= 6; ++step) {
    INFO("step " << step);
    REQUIRE(a.count(step) == 1);
    REQUIRE(b.count(step) == 1);
    CHECK(a[step] == b[step]);
  }
}

TEST_CASE("sit-sample on a sit-train checkpoint: its saved configuration, and flags that contradict it", "[cli]") {
  const auto& runs = trained_runs();
  REQUIRE(runs.first.status == 0);
  TempDir tmp;
  const auto ckpt = runs.checkpoint(runs.straight, 6);  // 2 heads, Linear velocity, 4 classes
  auto generator = at::detail::createCPUGenerator(3);
  auto z = torch::randn({4, 4, 8, 8}, generator);
  auto y = torch::tensor({0, 1, 2, 3}, torch::kInt64);
  sit::io::write_npy(tmp.file("z.npy"), z);
  sit::io::write_npy(tmp.file("y.npy"), y);
  const auto sample = kSample + " ODE --ckpt " + ckpt + " --noise " + tmp.file("z.npy") + " --labels " +
                      tmp.file("y.npy") + " --sampling-method euler --num-sampling-steps 4 --cfg-scale 1";

  // No --num-heads: the heads come from the saved configuration; the samples are the API's.
  auto ok = run(sample + " --out-npy " + tmp.file("x.npy"), tmp);
  INFO(ok.text);
  REQUIRE(ok.status == 0);
  {
    torch::NoGradGuard no_grad;
    auto model = sit::nn::load_sit(ckpt, sit::nn::ArchitectureHints().num_heads(2));
    model->eval();
    tr::Sampler sampler{tr::Transport(tr::TransportOptions())};
    auto expected = sampler.sample_ode(
        z, [&](const torch::Tensor& x, const torch::Tensor& t) { return model->forward(x, t, y); },
        tr::SamplerOptions().ode_method(tr::OdeMethod::Euler).num_steps(4));
    CHECK(relative_l2(sit::io::read_npy(tmp.file("x.npy")), expected.sample) < 1e-6);
  }
  CHECK(printed_evaluations(ok.text) == 3);

  auto x = " --out-npy " + tmp.file("bad.npy");
  // These used to run and give wrong samples (4 heads on a 2-head model), or another transport.
  for (const auto& [flag, saved] : std::vector<std::pair<std::string, std::string>>{
           {"--num-heads 4", "2"}, {"--path-type VP", "Linear"}, {"--num-classes 10", "4"}}) {
    auto out = run(sample + " " + flag + x, tmp);
    check_error(out, "sit-sample", {flag + " contradicts " + ckpt, "sit-train's configuration"});
    CHECK(last_word(out.text) == saved);
  }
  check_error(run(sample + " --model SiT-S/2" + x, tmp), "sit-sample",
              {"--model SiT-S/2 (depth 12, hidden 384, patch 2) contradicts", "depth 1, hidden 32, patch 4"});
  check_error(run(sample + " --image-size 32" + x, tmp), "sit-sample", {"--image-size 32 contradicts", "8x8 latents"});
  // Settings that are wrong on their own.
  check_rejected(run(sample + " --loss-weight velocty" + x, tmp), {"velocty", "velocity", "likelihood"});
  check_rejected(run(sample + " --sampling-method dopri6" + x, tmp), {"dopri6", "dopri5", "euler"});
  check_error(run(sample + " --cfg-interval 0.5,0.2" + x, tmp), "sit-sample", {"--cfg-interval 0.5,0.2:"});
  check_error(run(sample + " --cfg-interval 0,1.5" + x, tmp), "sit-sample", {"--cfg-interval 0,1.5:"});
  check_error(run(kSample + " ODE --ckpt " + ckpt + " --likelihood --cfg-scale 1" + x, tmp), "sit-sample",
              {"--likelihood", "--noise"});
  check_error(run(sample + " --num-sampling-steps 0" + x, tmp), "sit-sample", {"--num-sampling-steps 0:"});
  check_error(run(sample + " --num-sampling-steps 1" + x, tmp), "sit-sample", {"--num-sampling-steps 1:"});
  CHECK_FALSE(fs::exists(tmp.file("bad.npy")));
}

// The noise, labels and sampler flags of short runs on the sit-train checkpoints (4 classes, 8x8x4).
struct ShortRun {
  TempDir tmp;
  std::string inputs;
  ShortRun() {
    auto generator = at::detail::createCPUGenerator(5);
    sit::io::write_npy(tmp.file("z.npy"), torch::randn({4, 4, 8, 8}, generator));
    sit::io::write_npy(tmp.file("y.npy"), torch::tensor({0, 1, 2, 3}, torch::kInt64));
    inputs = " --noise " + tmp.file("z.npy") + " --labels " + tmp.file("y.npy");
  }
  torch::Tensor samples(const Output& out, const std::string& file) const {
    INFO(out.text);
    REQUIRE(out.status == 0);
    return sit::io::read_npy(tmp.file(file));
  }
};

TEST_CASE("sit-sample autoguidance, CFG-Zero* and rescale: --guide-ckpt, --cfg-zero-star, --guidance-rescale",
          "[cli]") {
  const auto& runs = trained_runs();
  REQUIRE(runs.first.status == 0);
  ShortRun r;
  const auto ckpt = runs.checkpoint(runs.straight, 6), early = runs.checkpoint(runs.straight, 2);
  const auto sample = kSample + " ODE --ckpt " + ckpt + r.inputs + " --sampling-method euler --num-sampling-steps 5";
  auto out = [&](const std::string& name) { return " --out-npy " + r.tmp.file(name); };
  auto unguided = r.samples(run(sample + " --cfg-scale 1" + out("unguided.npy"), r.tmp), "unguided.npy");
  auto cfg = r.samples(run(sample + " --cfg-scale 4" + out("cfg.npy"), r.tmp), "cfg.npy");
  // A guide equal to the model: the model's own samples, whatever the weight.
  auto self = r.samples(run(sample + " --cfg-scale 4 --guide-ckpt " + ckpt + out("self.npy"), r.tmp), "self.npy");
  CHECK(relative_l2(self, unguided) < 1e-6);
  // An earlier checkpoint of the same run as the guide moves the samples elsewhere.
  auto auto_guided = r.samples(run(sample + " --cfg-scale 4 --guide-ckpt " + early + out("auto.npy"), r.tmp), "auto.npy");
  CHECK(relative_l2(auto_guided, unguided) > 1e-3);
  CHECK(relative_l2(auto_guided, cfg) > 1e-3);
  // CFG-Zero* and rescale on a model whose labels matter (this short run's barely do).
  const auto fixture = kSample + " ODE --ckpt " + fixture_dir("ode_linear_velocity_euler") + "/ckpt.pt --num-heads 4" +
                       case_inputs("ode_linear_velocity_euler") + " --sampling-method euler --num-sampling-steps 5";
  auto fixture_cfg = r.samples(run(fixture + " --cfg-scale 4" + out("fixture_cfg.npy"), r.tmp), "fixture_cfg.npy");
  auto fixture_unguided = r.samples(run(fixture + " --cfg-scale 1" + out("fixture_1.npy"), r.tmp), "fixture_1.npy");
  CHECK(relative_l2(fixture_cfg, fixture_unguided) > 1e-2);
  for (const std::string flags : {"--cfg-zero-star", "--cfg-zero-star --zero-init-steps 0", "--guidance-rescale 0.7"}) {
    INFO(flags);
    auto varied = r.samples(run(fixture + " --cfg-scale 4 " + flags + out("varied.npy"), r.tmp), "varied.npy");
    CHECK(relative_l2(varied, fixture_cfg) > 1e-4);  // float noise: ~1e-7
  }

  // A guide of other data, and settings that cannot apply: one-line errors before any sample.
  sit::nn::SiT other(sit::nn::SiTOptions().input_size(16).patch_size(4).in_channels(4).hidden_size(384).depth(1)
                         .num_heads(6).num_classes(4));
  const auto other_ckpt = r.tmp.file("other.pt");
  sit::io::save_state_dict(sit::io::state_dict(*other), other_ckpt);
  check_error(run(sample + " --cfg-scale 4 --guide-ckpt " + other_ckpt + out("bad.npy"), r.tmp), "sit-sample",
              {"--guide-ckpt " + other_ckpt + ": its model takes 4x16x16 inputs in 4 classes, the model 4x8x8"});
  check_error(run(sample + " --cfg-scale 1 --guide-ckpt " + early + out("bad.npy"), r.tmp), "sit-sample",
              {"--guide-ckpt needs --cfg-scale > 1"});
  check_error(run(sample + " --cfg-scale 1 --cfg-zero-star" + out("bad.npy"), r.tmp), "sit-sample",
              {"--cfg-zero-star: needs guidance"});
  check_error(run(sample + " --cfg-scale 4 --guidance-rescale 2" + out("bad.npy"), r.tmp), "sit-sample",
              {"--guidance-rescale 2:"});
  // Zero-init is a zero velocity: a noise model is refused.
  check_error(run(kSample + " ODE --ckpt " + fixture_dir("ode_linear_noise_heun2") + "/ckpt.pt --num-heads 4" +
                      case_inputs("ode_linear_noise_heun2") + " --prediction noise --sampling-method euler"
                      " --num-sampling-steps 3 --cfg-scale 4 --cfg-zero-star" + out("bad.npy"), r.tmp),
              "sit-sample", {"--cfg-zero-star: zero-init returns a zero velocity, but this model predicts noise"});
  CHECK_FALSE(fs::exists(r.tmp.file("bad.npy")));
}

TEST_CASE("sit-sample --preset: the paper's settings as flags, printed, and flags given over them", "[cli]") {
  ShortRun r;
  // The fixture model (its labels matter, so the preset's cfg 1.5 shows) with its own noise and labels.
  const auto files = " --ckpt " + fixture_dir("ode_linear_velocity_euler") + "/ckpt.pt --num-heads 4" +
                     case_inputs("ode_linear_velocity_euler") + " --seed 1 --out-npy ";
  auto help = run(kSample + " --help", r.tmp);
  CHECK_THAT(help.text, Catch::Contains("sit-xl-ode: ODE --model SiT-XL/2") && Catch::Contains("sit-xl-sde: SDE"));

  // As typed: the preset's --num-classes 1000 is checked against this small checkpoint.
  auto as_typed = run(kSample + " --preset sit-xl-sde" + files + r.tmp.file("bad.npy"), r.tmp);
  INFO(as_typed.text);
  CHECK(as_typed.status == 1);
  CHECK_THAT(as_typed.text,
             Catch::Contains("--preset sit-xl-sde: sit-sample SDE --model SiT-XL/2 --image-size 256 --num-classes 1000 "
                             "--vae ema --cfg-scale 1.5 --precision tf32 --num-sampling-steps 250 --sampling-method "
                             "Euler --diffusion-form sigma --diffusion-norm 1 --last-step Mean --last-step-size 0.04") &&
                 Catch::Contains("error: ") && Catch::Contains("neither 1000 classes"));

  // Flags given override the preset's, each with a notice; the printed line runs the same samples.
  const auto overrides = " --model '' --image-size 128 --num-classes 10 --vae '' --num-sampling-steps 4";
  auto preset = run(kSample + " --preset sit-xl-sde" + overrides + files + r.tmp.file("preset.npy"), r.tmp);
  auto from_preset = r.samples(preset, "preset.npy");
  CHECK_THAT(preset.text, Catch::Contains("--preset sit-xl-sde: --num-sampling-steps 4 given, instead of the preset's 250") &&
                              Catch::Contains("--preset sit-xl-sde: --vae '' given, instead of the preset's ema"));
  std::smatch line;
  REQUIRE(std::regex_search(preset.text, line, std::regex("--preset sit-xl-sde: sit-sample (SDE [^\\n]*)")));
  const std::string printed = line[1];
  CHECK_THAT(printed, Catch::Contains("--cfg-scale 1.5") && Catch::Contains("--num-sampling-steps 4"));
  auto replayed = r.samples(run(kSample + " " + printed + files + r.tmp.file("replayed.npy"), r.tmp), "replayed.npy");
  CHECK(torch::equal(replayed, from_preset));
  // The preset did set what was not given: without it the SDE samples at sample.py's cfg 4.
  auto without = r.samples(run(kSample + " SDE" + overrides + files + r.tmp.file("without.npy"), r.tmp), "without.npy");
  CHECK(relative_l2(without, from_preset) > 1e-2);

  check_error(run(kSample + " ODE --preset sit-xl-sde" + overrides + files + r.tmp.file("bad.npy"), r.tmp),
              "sit-sample", {"--preset sit-xl-sde samples with the SDE, but the command line says ODE"});
  check_error(run(kSample + files + r.tmp.file("bad.npy"), r.tmp), "sit-sample", {"give the mode, ODE or SDE"});
  CHECK_FALSE(fs::exists(r.tmp.file("bad.npy")));
}

TEST_CASE("sit-train: a misspelt choice, and a resume that contradicts its checkpoint", "[cli]") {
  const auto& runs = trained_runs();
  REQUIRE(runs.first.status == 0);
  TempDir tmp;
  const auto results = tmp.file("run");
  check_rejected(run(kTrain + runs.args(results, 2) + " --loss-weight velocty", tmp),
                 {"velocty", "velocity", "likelihood"});
  auto contradicting = run(kTrain + runs.args(results, 8) + " --lr 5e-4 --ckpt " + runs.checkpoint(runs.straight, 6), tmp);
  check_error(contradicting, "sit-train", {"--lr 0.0005 contradicts", "0000006.pt, saved with 0.001"});
  // The successors' settings change the objective: a resume keeps them too.
  for (auto [flags, message] : {std::pair<std::string, std::string>{" --adam-beta2 0.95", "--adam-beta2 0.95 contradicts"},
                                {" --time-sampling logit-normal", "--time-sampling logit-normal contradicts"},
                                {" --cosine-loss-weight 1", "--cosine-loss-weight 1 contradicts"}}) {
    auto changed = run(kTrain + runs.args(results, 8) + flags + " --ckpt " + runs.checkpoint(runs.straight, 6), tmp);
    check_error(changed, "sit-train", {message, "0000006.pt, saved with "});
  }
  CHECK_FALSE(fs::exists(results + "/checkpoints/" + step_name(8)));
}

TEST_CASE("sit-train trains, checkpoints and samples Fashion-MNIST; bad flags are one-line errors", "[cli]") {
  if (!fashion_mnist_installed()) SIT_SKIP("Debian's dataset-fashion-mnist is not installed");
  TempDir tmp;
  auto results = tmp.file("run");
  auto train = kTrain + free_model(1, 32, /*patch_size=*/7) +
               " --global-batch-size 16 --log-every 2 --ckpt-every 4 --sample-every 4 --threads 2"
               " --results-dir " + results;
  auto first = run(train + " --sample-steps 3 --max-steps 4", tmp);
  INFO(first.text);
  REQUIRE(first.status == 0);
  CHECK(fs::exists(results + "/checkpoints/0000004.pt"));
  CHECK(fs::exists(results + "/samples/0000004.png"));
  CHECK(fs::exists(results + "/ema.safetensors"));
  CHECK(losses_by_step(results + "/log.txt").count(4) == 1);
  // --sample-steps, the old spelling of sit-sample's --num-sampling-steps, still works and says so.
  CHECK_THAT(first.text, Catch::Contains("--sample-steps is spelt --num-sampling-steps now"));
  // SIGTERM, SIGKILL and failing writes: test_train_faults.cpp.

  check_error(run(train + " --data-path " + tmp.file("nowhere"), tmp), "sit-train", {"nowhere"});
  check_error(run(train + " --patch-size 5", tmp), "sit-train", {"divisible by the patch size 5"});
  // The sample grids' sampler and guidance: sit-sample's groups, with their checks.
  check_error(run(train + " --num-sampling-steps 1", tmp), "sit-train", {"--num-sampling-steps 1", "at least 2 points"});
  check_error(run(train + " --sampling-method rk45", tmp), "sit-train", {"--sampling-method", "rk45", "unipc"});
  check_error(run(train + " --cfg-scale 1 --cfg-zero-star", tmp), "sit-train", {"--cfg-zero-star"});
  check_error(run(kTrain + " --model SiT-M/2 --results-dir " + results, tmp), "sit-train",
              {"--model 'SiT-M/2': not a preset; expected SiT-XL/2"});
}

TEST_CASE("sit-bench benchmarks the free model its dimensions describe", "[cli]") {
  TempDir tmp;
  const auto json_path = tmp.file("out.json");
  const auto bench = kBench +
                     " --task forward --warmup 0 --repeats 1 --batch-size 2 --input-size 8 --in-channels 1"
                     " --num-classes 3 --patch-size 4 --depth 1 --hidden-size 32 --num-heads 2 --threads 1 --json " +
                     json_path;
  auto free = run(bench, tmp);
  INFO(free.text);
  REQUIRE(free.status == 0);
  std::ifstream in(json_path);
  REQUIRE(in);
  auto json = nlohmann::json::parse(in);
  CHECK(json["model"] == "SiT(p4 d1 h32 heads2)");
  CHECK(json["task"] == "forward");
  fs::remove(json_path);

  check_error(run(bench + " --model SiT-S/2", tmp), "sit-bench", {"--patch-size", "SiT-S/2"});
  CHECK_FALSE(fs::exists(json_path));
}

TEST_CASE("--precision bf16 on a CPU without bf16 matmuls runs in fp32 and says so in one line", "[cli]") {
  TempDir tmp;
  const auto json_path = tmp.file("out.json");
  auto result = run(kBench + " --task forward --warmup 0 --repeats 1 --batch-size 2 --input-size 8 --in-channels 1"
                             " --num-classes 3 --model '' --patch-size 4 --depth 1 --hidden-size 32 --num-heads 2"
                             " --threads 1 --precision bf16 --json " + json_path, tmp);
  INFO(result.text);
  REQUIRE(result.status == 0);
  std::ifstream in(json_path);
  REQUIRE(in);
  auto json = nlohmann::json::parse(in);
  const std::string line = "--precision bf16: this CPU has no bf16 matmul instructions (AVX-512 BF16 or AMX)";
  if (sit::nn::cpu_has_bf16_matmul()) {
    CHECK(json["precision"] == "bf16");
    CHECK(result.text.find(line) == std::string::npos);
  } else {
    CHECK(json["precision"] == "fp32");
    CHECK_THAT(result.text, Catch::Contains(line + ", where bf16 runs far slower than fp32; running in fp32"));
  }
}
