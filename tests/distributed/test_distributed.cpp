// Data-parallel sit-train: ranks started as torchrun starts them (RANK, WORLD_SIZE, LOCAL_RANK,
// MASTER_ADDR, MASTER_PORT), over loopback with Gloo, one thread each.
//
// Why "2 ranks at batch B == 1 process at batch 2B" is expected up to float summation order:
//  - data: rank r's batch k holds DistributedSampler positions 2 (kB + j) + r, j < B, of the
//    epoch's permutation (seeded by global_seed alone); the two halves together are exactly the
//    single process's batch k, positions [2kB, 2(k+1)B), in another order;
//  - loss draws: noise, t and label dropout come from a generator keyed by (global_seed, epoch,
//    dataset index) (training_draws), so each example gets the same draws on either side;
//  - weights: both start from the same initialisation (seeded by global_seed; rank 0's broadcast)
//    and the mean of the two ranks' mean gradients is the single process's mean gradient.
// What remains is the order of float sums (per-rank means, the all-reduce), so after 4 AdamW
// steps at lr 1e-3 the weights agree to 2e-5 (absolute, on weights of size ~0.1), while one
// process on half the data lands more than 1e-3 away: the comparison can fail.
#include "support/catch_torch.h"
#include <sit/distributed/gradient_sync.h>
#include <sit/distributed/process_group.h>
#include <sit/data/sampler.h>
#include <sit/eval/classifier.h>
#include <sit/io/npy.h>
#include <sit/io/state_dict.h>
#include <sit/io/torch_load.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <limits>
#include <regex>
#include <thread>

#include "support/cli.h"
#include "support/files.h"
#include "support/machine.h"
#include "support/process.h"
#include "support/skip.h"
#include "support/tiny_run.h"

using namespace sit::test;

namespace {

using Clock = std::chrono::steady_clock;

// A free TCP port on loopback, for the rendezvous (the kernel picks it; released at once).
int free_port() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = 0;
  REQUIRE(bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0);
  socklen_t length = sizeof(address);
  getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
  close(fd);
  return ntohs(address.sin_port);
}

// `program` with `args`, one OpenMP thread, and the launch variables of `rank` when world_size > 1
// (none of this environment's own); stdout and stderr go to `log`.
pid_t start(const std::string& program, const std::string& args, int rank, int world_size, int port,
            const std::string& log) {
  Environment launch{{"OMP_NUM_THREADS", "1"}, {"RANK", std::nullopt}, {"LOCAL_RANK", std::nullopt},
                     {"WORLD_SIZE", std::nullopt}, {"MASTER_ADDR", std::nullopt}, {"MASTER_PORT", std::nullopt}};
  if (world_size > 1) {
    launch["RANK"] = launch["LOCAL_RANK"] = std::to_string(rank);
    launch["WORLD_SIZE"] = std::to_string(world_size);
    launch["MASTER_ADDR"] = "127.0.0.1";
    launch["MASTER_PORT"] = std::to_string(port);
  }
  return start_program(program + args, log, launch);
}

pid_t start_sit_train(const std::string& args, int rank, int world_size, int port,
                      const std::string& log) {
  return start(SIT_TRAIN_BIN, args, rank, world_size, port, log);
}

// The tiny latents, a free model of depth 2, 32 wide, at batch `batch`; no checkpoints but the last.
std::string train_args(const std::string& data, const std::string& results, int64_t batch,
                       int64_t steps) {
  return TinyTraining{data, /*depth=*/2, /*hidden_size=*/32, batch}.args(results, steps, 100000) +
         " --dist-timeout 20";
}

sit::io::StateDict final_weights(const std::string& results, int64_t steps) {
  auto path = results + "/checkpoints/" + std::string(7 - std::to_string(steps).size(), '0') +
              std::to_string(steps) + ".pt";
  auto root = sit::io::torch_load(path);
  return sit::io::state_dict_from_value(*root.to_dict().find("model"), path);
}

double max_difference(const sit::io::StateDict& a, const sit::io::StateDict& b) {
  double worst = 0;
  for (const auto& item : a) {
    worst = std::max(worst, (item.value() - b[item.key()]).abs().max().item<double>());
  }
  return worst;
}

}  // namespace

TEST_CASE("gradient buckets: flattened, reduced and copied back to the right parameters", "[distributed]") {
  if (!sit::distributed::distributed_available()) SIT_SKIP("this build has no c10d/gloo");
  // A group of one rank: the mean over ranks is the identity, so any mix-up of the buckets' slices
  // shows as a changed gradient.
  sit::distributed::ProcessGroupOptions options;
  options.environment.master_port = free_port();
  options.timeout = std::chrono::seconds(10);
  auto group = std::make_shared<sit::distributed::ProcessGroup>(options);
  std::vector<torch::Tensor> parameters;
  std::vector<torch::Tensor> expected;
  for (int64_t size : {300, 5, 1000, 7, 64}) {  // float32: 1200, 20, 4000, 28, 256 bytes
    parameters.push_back(torch::randn({size}).requires_grad_());
    expected.push_back(torch::randn({size}));
    parameters.back().mutable_grad() = expected.back().clone();
  }
  parameters.push_back(torch::randn({3}));  // no gradient needed: left out of the buckets
  parameters.push_back(torch::randn({4}).requires_grad_());  // no gradient yet: a zero one
  sit::distributed::GradientBuckets buckets(parameters, group, /*bucket_cap_bytes=*/1300);
  CHECK(buckets.num_buckets() == 3);  // {300, 5}, {1000} (over the cap, alone), {7, 64, 4}
  buckets.average_gradients();
  for (size_t i = 0; i < expected.size(); ++i) CHECK(torch::equal(parameters[i].grad(), expected[i]));
  CHECK(!parameters[5].grad().defined());
  CHECK(torch::equal(parameters[6].grad(), torch::zeros({4})));

  // broadcast_module from rank 0 of one rank leaves the module as it is.
  torch::nn::Linear linear(3, 2);
  auto before = linear->weight.clone();
  sit::distributed::broadcast_module(*linear, *group);
  CHECK(torch::equal(linear->weight, before));
}

TEST_CASE("2 ranks at batch B take the steps of 1 process at batch 2B", "[distributed]") {
  if (!sit::distributed::distributed_available()) SIT_SKIP("this build has no c10d/gloo");
  TempDir tmp;
  write_latent_shard(tmp.path().string(), tiny_latents());
  const int64_t steps = 4;

  auto one = start_sit_train(train_args(tmp.path().string(), tmp.file("one"), 16, steps), 0, 1, 0,
                             tmp.file("one.txt"));
  REQUIRE(wait_exit(one, 40) == 0);
  auto half = start_sit_train(train_args(tmp.path().string(), tmp.file("half"), 8, steps), 0, 1, 0,
                              tmp.file("half.txt"));
  REQUIRE(wait_exit(half, 40) == 0);

  int port = free_port();
  std::vector<pid_t> ranks;
  for (int rank = 0; rank < 2; ++rank) {
    ranks.push_back(start_sit_train(train_args(tmp.path().string(), tmp.file("two"), 16, steps), rank,
                                    2, port, tmp.file("rank" + std::to_string(rank) + ".txt")));
  }
  for (int rank = 0; rank < 2; ++rank) {
    INFO(read_text(tmp.file("rank" + std::to_string(rank) + ".txt")));
    CHECK(wait_exit(ranks[rank], 40) == 0);
  }

  auto single = final_weights(tmp.file("one"), steps);
  auto parallel = final_weights(tmp.file("two"), steps);
  CHECK(max_difference(single, parallel) < 2e-5);
  CHECK(max_difference(single, final_weights(tmp.file("half"), steps)) > 1e-3);
  // The logged loss is the mean over ranks: the single process's, to the 4 printed decimals.
  CHECK(logged_losses(tmp.file("rank0.txt")) == logged_losses(tmp.file("one.txt")));
  CHECK(logged_losses(tmp.file("rank0.txt")).size() == steps);
  // Rank 0 alone writes: rank 1's console holds no log lines.
  CHECK(logged_losses(tmp.file("rank1.txt")).empty());

  // sit-sample as sample_ddp.py: 5 samples split 3 + 2 over the ranks in batches of 2 (rank 1's
  // last batch short), gathered by rank 0 into one .npz in sample order. With the noise given, the
  // samples equal the single process's up to float differences between batch compositions.
  auto z = torch::randn({5, 4, 8, 8}, at::detail::createCPUGenerator(11));
  sit::io::write_npy(tmp.file("z.npy"), z);
  auto sample_args = [&](const std::string& out) {
    return " ODE --ckpt " + tmp.file("one") + "/checkpoints/0000004.pt --num-heads 2 --noise " +
           tmp.file("z.npy") + " --num-samples 5 --batch-size 2 --cfg-scale 1 --sampling-method euler"
           " --num-sampling-steps 4 --threads 1 --out '' --out-npy " + out + ".npy --out-npz " + out + ".npz"
           " --vae " SIT_TEST_DATA_DIR "/vae/small/vae.pt";  // the ADM npz holds images: decoded latents
  };
  REQUIRE(wait_exit(start(SIT_SAMPLE_BIN, sample_args(tmp.file("s1")), 0, 1, 0, tmp.file("s1.txt")), 40) == 0);
  port = free_port();
  std::vector<pid_t> samplers;
  for (int rank = 0; rank < 2; ++rank) {
    samplers.push_back(start(SIT_SAMPLE_BIN, sample_args(tmp.file("s2")), rank, 2, port,
                             tmp.file("s2_" + std::to_string(rank) + ".txt")));
  }
  for (int rank = 0; rank < 2; ++rank) {
    INFO(read_text(tmp.file("s2_" + std::to_string(rank) + ".txt")));
    CHECK(wait_exit(samplers[rank], 40) == 0);
  }
  auto single_samples = sit::io::read_npy(tmp.file("s1.npy"));
  auto parallel_samples = sit::io::read_npy(tmp.file("s2.npy"));
  REQUIRE(parallel_samples.sizes() == single_samples.sizes());  // (5, 3, 16, 16) decoded
  CHECK((parallel_samples - single_samples).abs().max().item<double>() < 1e-5);
  auto npz = sit::io::read_npz(tmp.file("s2.npz"));
  CHECK(npz["arr_0"].size(0) == 5);
  CHECK(torch::equal(npz["arr_1"], sit::io::read_npz(tmp.file("s1.npz"))["arr_1"]));
}

TEST_CASE("--eval-every on 2 ranks: each rank samples its chunks, the scores are the single process's",
          "[distributed][eval]") {
  if (!sit::distributed::distributed_available()) SIT_SKIP("this build has no c10d/gloo");
  // The runs train on the default data set.
  if (!sit::test::fashion_mnist_installed()) SIT_SKIP("Debian's dataset-fashion-mnist is not installed");
  TempDir tmp;
  sit::eval::Classifier classifier;  // untrained: its scores only have to agree
  sit::eval::save_classifier(classifier, tmp.file("classifier.safetensors"));
  // 150 samples: chunk 0 (100) on rank 0, chunk 1 (50) on rank 1.
  auto args = [&](const std::string& results) {
    return free_model(1, 32) + " --lr 1e-3 --ema-decay 0.5"
           " --num-workers 1 --threads 1 --log-every 1 --ckpt-every 100000 --sample-every 100000 --dist-timeout 20"
           " --global-batch-size 16 --max-steps 2 --num-sampling-steps 3 --sampling-method euler --eval-every 2"
           " --eval-samples 150 --eval-classifier " + tmp.file("classifier.safetensors") + " --results-dir " + results;
  };
  auto one = start_sit_train(args(tmp.file("one")), 0, 1, 0, tmp.file("one.txt"));
  INFO(read_text(tmp.file("one.txt")));
  REQUIRE(wait_exit(one, 60) == 0);
  int port = free_port();
  std::vector<pid_t> ranks;
  for (int rank = 0; rank < 2; ++rank) {
    ranks.push_back(start_sit_train(args(tmp.file("two")), rank, 2, port, tmp.file("rank" + std::to_string(rank) + ".txt")));
  }
  for (int rank = 0; rank < 2; ++rank) {
    INFO(read_text(tmp.file("rank" + std::to_string(rank) + ".txt")));
    CHECK(wait_exit(ranks[rank], 60) == 0);
  }
  auto score = [&](const std::string& results, const std::string& key) {
    std::smatch match;
    const auto text = read_text(results + "/metrics.jsonl");
    REQUIRE(std::regex_search(text, match, std::regex("\"" + key + "\":([-0-9.e+]+)")));
    return std::stod(match[1]);
  };
  // The weights agree to ~1e-5 (the test above), so the samples and their scores agree closely;
  // a chunk lost or sampled twice would move the feature FD far more.
  const double single = score(tmp.file("one"), "classifier_fd"), parallel = score(tmp.file("two"), "classifier_fd");
  CHECK(parallel == Approx(single).epsilon(1e-3));
  CHECK(score(tmp.file("two"), "accuracy") == Approx(score(tmp.file("one"), "accuracy")).margin(0.02));
  CHECK(score(tmp.file("two"), "samples") == 150);
}

TEST_CASE("a rank that dies or hangs ends the other with an error within the timeout", "[distributed]") {
  if (!sit::distributed::distributed_available()) SIT_SKIP("this build has no c10d/gloo");
  TempDir tmp;
  write_latent_shard(tmp.path().string(), tiny_latents());
  const double timeout = 3;
  for (int signal : {SIGKILL, SIGSTOP}) {
    const std::string name = signal == SIGKILL ? "killed" : "stopped";
    INFO("rank 1 " + name);
    int port = free_port();
    auto args = train_args(tmp.path().string(), tmp.file(name), 16, 1000000) +
                " --dist-timeout " + std::to_string(static_cast<int>(timeout));
    auto log0 = tmp.file(name + "0.txt");
    auto rank0 = start_sit_train(args, 0, 2, port, log0);
    auto rank1 = start_sit_train(args, 1, 2, port, tmp.file(name + "1.txt"));
    // Both ranks are training once rank 0 has logged a step.
    auto deadline = Clock::now() + std::chrono::seconds(30);
    while (logged_losses(log0).empty() && Clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    REQUIRE(!logged_losses(log0).empty());

    kill(rank1, signal);
    auto killed = Clock::now();
    int status = wait_exit(rank0, timeout + 10);
    double seconds = std::chrono::duration<double>(Clock::now() - killed).count();
    kill(rank1, SIGKILL);
    waitpid(rank1, nullptr, 0);

    auto text = read_text(log0);
    INFO(text);
    CHECK(status == 1);
    CHECK(seconds < timeout + 5);
    CHECK_THAT(text, Catch::Contains("sit-train: error: rank 0:"));
  }
}

namespace {

// sit-train on `world_size` ranks (over loopback when 2), outputs to <tmp>/<name><rank>.txt;
// every rank's exit status.
std::vector<int> run_ranks(const TempDir& tmp, const std::string& args, int world_size,
                           const std::string& name) {
  const int port = world_size > 1 ? free_port() : 0;
  std::vector<pid_t> ranks;
  for (int rank = 0; rank < world_size; ++rank) {
    ranks.push_back(start_sit_train(args, rank, world_size, port, tmp.file(name + std::to_string(rank) + ".txt")));
  }
  std::vector<int> statuses;
  for (pid_t pid : ranks) statuses.push_back(wait_exit(pid, 60));
  return statuses;
}

sit::io::StateDict saved_entry(const std::string& path, const std::string& entry) {
  auto root = sit::io::torch_load(path);
  return sit::io::state_dict_from_value(*root.to_dict().find(entry), path);
}

// The steps that rank 0's log says were skipped.
std::vector<int64_t> skipped_steps(const std::string& log) {
  std::vector<int64_t> steps;
  const auto text = read_text(log);
  const std::regex line("\\(step=(\\d+)\\) Skipped: non-finite");
  for (std::sregex_iterator it(text.begin(), text.end(), line), end; it != end; ++it) {
    steps.push_back(std::stoll((*it)[1]));
  }
  return steps;
}

}  // namespace

TEST_CASE("2 ranks resumed from a checkpoint take the uninterrupted 2-rank run's steps", "[distributed]") {
  if (!sit::distributed::distributed_available()) SIT_SKIP("this build has no c10d/gloo");
  TempDir tmp;
  write_latent_shard(tmp.path().string(), tiny_latents());
  const auto data = tmp.path().string();
  auto statuses = run_ranks(tmp, train_args(data, tmp.file("straight"), 16, 4) + " --ckpt-every 2", 2, "straight");
  INFO(read_text(tmp.file("straight0.txt")) + read_text(tmp.file("straight1.txt")));
  REQUIRE(statuses == std::vector<int>{0, 0});
  const auto middle = tmp.file("straight") + "/checkpoints/0000002.pt";
  statuses = run_ranks(tmp, train_args(data, tmp.file("resumed"), 16, 4) + " --ckpt " + middle, 2, "resumed");
  INFO(read_text(tmp.file("resumed0.txt")) + read_text(tmp.file("resumed1.txt")));
  REQUIRE(statuses == std::vector<int>{0, 0});
  CHECK_THAT(read_text(tmp.file("resumed0.txt")), Catch::Contains("Resumed from " + middle + " at step 2"));

  // Same ranks, same batches, same reduction order: the same weights, bit for bit.
  for (const auto* entry : {"model", "ema"}) {
    INFO(entry);
    auto straight = saved_entry(tmp.file("straight") + "/checkpoints/0000004.pt", entry);
    auto resumed = saved_entry(tmp.file("resumed") + "/checkpoints/0000004.pt", entry);
    CHECK(max_difference(straight, resumed) == 0);
  }
  auto all = logged_losses(tmp.file("straight0.txt")), after = logged_losses(tmp.file("resumed0.txt"));
  REQUIRE(all.size() == 4);
  CHECK(after == decltype(all)(all.begin() + 2, all.end()));
}

TEST_CASE("a NaN example on one rank: every rank skips the step, or stops at --max-bad-steps", "[distributed]") {
  if (!sit::distributed::distributed_available()) SIT_SKIP("this build has no c10d/gloo");
  TempDir tmp;
  const auto data = tmp.path().string();
  // The tiny latents with one NaN example: the one at position 41 of the epoch's order, which
  // the single process (batch 16) meets in step 3 and the 2 ranks (8 each) in rank 1's step 3
  // (rank r's batch k holds positions 2 (8k + j) + r): rank 0, which logs and saves, sees only
  // finite data.
  const int64_t bad = sit::data::epoch_indices(64, 0, sit::data::SamplerOptions())[41];
  auto latents = tiny_latents();
  latents[bad].fill_(std::numeric_limits<float>::quiet_NaN());
  write_latent_shard(data, latents);

  REQUIRE(run_ranks(tmp, train_args(data, tmp.file("one"), 16, 4), 1, "one") == std::vector<int>{0});
  auto statuses = run_ranks(tmp, train_args(data, tmp.file("two"), 16, 4), 2, "two");
  INFO(read_text(tmp.file("two0.txt")) + read_text(tmp.file("two1.txt")));
  REQUIRE(statuses == std::vector<int>{0, 0});
  const auto skipped = skipped_steps(tmp.file("one0.txt"));
  REQUIRE(skipped == std::vector<int64_t>{3});
  CHECK(skipped_steps(tmp.file("two0.txt")) == skipped);
  // Had a rank updated its weights at the skipped step, the ranks would drift apart and rank 0's
  // weights away from the single process's.
  for (const auto* entry : {"model", "ema"}) {
    INFO(entry);
    auto single = saved_entry(tmp.file("one") + "/checkpoints/0000004.pt", entry);
    auto parallel = saved_entry(tmp.file("two") + "/checkpoints/0000004.pt", entry);
    CHECK(max_difference(single, parallel) < 2e-5);
  }

  // --max-bad-steps 1: every rank stops at that step with the message, exit status 1, and the
  // checkpoints before it are kept.
  statuses = run_ranks(tmp, train_args(data, tmp.file("stop"), 16, 4) + " --max-bad-steps 1 --ckpt-every 1", 2, "stop");
  for (int rank = 0; rank < 2; ++rank) {
    const auto text = read_text(tmp.file("stop" + std::to_string(rank) + ".txt"));
    INFO("rank " << rank << ": " << text);
    CHECK(statuses[rank] == 1);
    CHECK_THAT(text, Catch::Contains("sit-train: error: steps " + std::to_string(skipped[0]) + " to " +
                                     std::to_string(skipped[0]) + " all had a non-finite loss or gradient"));
  }
  for (int64_t step = 1; step <= 4; ++step) {
    const auto path = tmp.file("stop") + "/checkpoints/000000" + std::to_string(step) + ".pt";
    INFO(path);
    CHECK(std::filesystem::exists(path) == (step < skipped[0]));
    if (step < skipped[0]) CHECK_NOTHROW(sit::io::torch_load(path));
  }
}

TEST_CASE("MeanFlow on 2 ranks takes the single process's steps; its one-step sampler and one-line errors",
          "[distributed][meanflow]") {
  if (!sit::distributed::distributed_available()) SIT_SKIP("this build has no c10d/gloo");
  TempDir tmp;
  write_latent_shard(tmp.path().string(), tiny_latents());
  const auto data = tmp.path().string();
  const int64_t steps = 3;
  const std::string meanflow = " --meanflow --meanflow-kappa 0.3";
  auto statuses = run_ranks(tmp, train_args(data, tmp.file("one"), 16, steps) + meanflow, 1, "one");
  INFO(read_text(tmp.file("one0.txt")));
  REQUIRE(statuses == std::vector<int>{0});
  statuses = run_ranks(tmp, train_args(data, tmp.file("two"), 16, steps) + meanflow, 2, "two");
  INFO(read_text(tmp.file("two0.txt")) + read_text(tmp.file("two1.txt")));
  REQUIRE(statuses == std::vector<int>{0, 0});
  CHECK(max_difference(final_weights(tmp.file("one"), steps), final_weights(tmp.file("two"), steps)) < 2e-5);

  const auto sample = [&](const std::string& ckpt) {
    return run_program(std::string(SIT_SAMPLE_BIN) + " ODE --ckpt " + ckpt + " --num-heads 2 --sampling-method "
                       "meanflow --num-sampling-steps 1 --cfg-scale 1 --num-samples 3 --threads 1 --out '' --out-npy " +
                       tmp.file("samples.npy"), tmp);
  };
  auto sampled = sample(tmp.file("one") + "/checkpoints/0000003.pt");
  INFO(sampled.text);
  CHECK(sampled.status == 0);
  CHECK_THAT(sampled.text, Catch::Contains("3 samples, 1 model evaluations"));
  CHECK(torch::isfinite(sit::io::read_npy(tmp.file("samples.npy"))).all().item<bool>());

  // A flow-matching run: no one-step sampler, no MeanFlow resume.
  REQUIRE(run_ranks(tmp, train_args(data, tmp.file("flow"), 16, 1), 1, "flow") == std::vector<int>{0});
  const auto flow = tmp.file("flow") + "/checkpoints/0000001.pt";
  check_error(sample(flow), "sit-sample", {"--sampling-method meanflow", "MeanFlow"});
  check_error(run_program(std::string(SIT_TRAIN_BIN) + train_args(data, tmp.file("flow"), 16, 2) + " --ckpt " + flow +
                          " --meanflow", tmp),
              "sit-train", {"--meanflow", "--init-from " + flow});
}
