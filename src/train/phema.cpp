#include <sit/train/phema.h>

#include <sit/error.h>
#include <sit/io/safetensors.h>
#include <sit/train/checkpoint_settings.h>
#include <sit/train/ema.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <iterator>
#include <regex>
#include <set>

namespace sit::train {

namespace fs = std::filesystem;

double gamma_to_sigma_rel(double gamma) {
  return std::sqrt((gamma + 1) / ((gamma + 2) * (gamma + 2) * (gamma + 3)));
}

double sigma_rel_to_gamma(double sigma_rel) {
  TORCH_CHECK(sigma_rel > 0 && sigma_rel < kMaxSigmaRel, "sigma_rel_to_gamma: sigma_rel must be in (0, ", kMaxSigmaRel,
              "), but got ", sigma_rel);
  // f(gamma) = (gamma + 2)^2 (gamma + 3) - s (gamma + 1), the cubic of Eq. 126 with s = sigma_rel^-2,
  // is convex for gamma > -7/3 and positive at gamma = s, right of every root: Newton's steps from
  // there fall monotonically onto the largest root.
  const double s = 1 / (sigma_rel * sigma_rel);
  double gamma = s;
  for (int i = 0; i < 1000; ++i) {
    const double f = (gamma + 2) * (gamma + 2) * (gamma + 3) - s * (gamma + 1);
    const double df = 3 * gamma * gamma + 14 * gamma + 16 - s;
    const double next = gamma - f / df;
    if (!(next < gamma)) break;  // no more progress: converged to the last bit
    gamma = next;
  }
  return gamma;
}

double power_function_beta(double sigma_rel, int64_t t) {
  TORCH_CHECK(t >= 1, "power_function_beta: the step count starts at 1, but got ", t);
  return std::pow(1 - 1 / static_cast<double>(t), sigma_rel_to_gamma(sigma_rel) + 1);
}

double power_function_correlation(double a_t, double a_sigma_rel, double b_t, double b_sigma_rel) {
  const double a_gamma = sigma_rel_to_gamma(a_sigma_rel), b_gamma = sigma_rel_to_gamma(b_sigma_rel);
  const double ratio = std::pow(a_t / b_t, a_t < b_t ? b_gamma : -a_gamma);
  return (a_gamma + 1) * (b_gamma + 1) * ratio / ((a_gamma + b_gamma + 1) * std::max(a_t, b_t));
}

torch::Tensor solve_posthoc_coefficients(const std::vector<int64_t>& in_t, const std::vector<double>& in_sigma_rels,
                                         int64_t out_t, const std::vector<double>& out_sigma_rels) {
  TORCH_CHECK(in_t.size() == in_sigma_rels.size() && !in_t.empty(),
              "solve_posthoc_coefficients: one sigma_rel per input step, and at least one input");
  const auto n = static_cast<int64_t>(in_t.size()), m = static_cast<int64_t>(out_sigma_rels.size());
  auto A = torch::empty({n, n}, torch::kFloat64);  // (in, in)
  auto B = torch::empty({n, m}, torch::kFloat64);  // (in, out)
  auto a = A.accessor<double, 2>();
  auto b = B.accessor<double, 2>();
  for (int64_t i = 0; i < n; ++i) {
    const auto t_i = static_cast<double>(in_t[i]);
    for (int64_t k = 0; k < n; ++k) {
      a[i][k] = power_function_correlation(t_i, in_sigma_rels[i], static_cast<double>(in_t[k]), in_sigma_rels[k]);
    }
    for (int64_t j = 0; j < m; ++j) {
      b[i][j] = power_function_correlation(t_i, in_sigma_rels[i], static_cast<double>(out_t), out_sigma_rels[j]);
    }
  }
  auto X = torch::linalg_solve(A, B);        // (in, out)
  return X / X.sum(0, /*keepdim=*/true);  // each output's weights sum to 1
}

PowerFunctionEma::PowerFunctionEma(const nn::SiT& model, std::vector<double> sigma_rels)
    : sigma_rels_(std::move(sigma_rels)) {
  for (size_t i = 0; i < sigma_rels_.size(); ++i) emas_.push_back(make_ema(model));
}

void PowerFunctionEma::update(const nn::SiT& model, int64_t t) {
  for (size_t i = 0; i < emas_.size(); ++i) update_ema(*emas_[i], *model, power_function_beta(sigma_rels_[i], t));
}

io::Value PowerFunctionEma::state_value() const {
  io::List stds, emas;
  for (size_t i = 0; i < emas_.size(); ++i) {
    stds.push_back(io::Value::floating(sigma_rels_[i]));
    emas.push_back(io::state_dict_value(io::state_dict(*emas_[i])));
  }
  auto value = io::Value::dict();
  value.to_dict().set("stds", io::Value::list(stds));
  value.to_dict().set("emas", io::Value::list(emas));
  return value;
}

void PowerFunctionEma::load_state_value(const io::Value& value, const std::string& path) {
  using Kind = io::Value::Kind;
  const io::Value* stds = value.is(Kind::Dict) ? value.to_dict().find("stds") : nullptr;
  const io::Value* emas = value.is(Kind::Dict) ? value.to_dict().find("emas") : nullptr;
  if (stds == nullptr || emas == nullptr || !stds->is(Kind::List) || !emas->is(Kind::List)) {
    throw FileError(path, "'phema' is not a dict of the lists 'stds' and 'emas'");
  }
  std::vector<double> saved;
  for (const auto& item : stds->items()) {
    if (!item.is(Kind::Float)) throw FileError(path, std::string("'phema.stds' holds a ") + io::kind_name(item.kind()));
    saved.push_back(item.to_double());
  }
  if (saved != sigma_rels_ || emas->items().size() != emas_.size()) {
    throw FileError(path, "'phema' tracks sigma_rel " + config::text(saved) + ", the run " + config::text(sigma_rels_));
  }
  for (size_t i = 0; i < emas_.size(); ++i) {
    const std::string source = path + " [phema.emas." + std::to_string(i) + "]";
    io::load_state_dict(*emas_[i], io::state_dict_from_value(emas->items()[i], source), path);
  }
}

std::string phema_snapshot_name(int64_t t, double sigma_rel) {
  char name[64];
  std::snprintf(name, sizeof name, "%07lld-%.3f.safetensors", static_cast<long long>(t), sigma_rel);
  return name;
}

std::vector<std::string> save_phema_snapshots(const PowerFunctionEma& phema, int64_t t, const std::string& dir,
                                              const TrainConfig& config) {
  fs::create_directories(dir);
  std::vector<std::string> paths;
  for (size_t i = 0; i < phema.emas().size(); ++i) {
    io::StateDict weights;  // float32 on the CPU: a reconstruction sums many of them with large coefficients of both signs
    for (const auto& item : io::state_dict(*phema.emas()[i])) {
      const auto& w = item.value();
      weights.insert(item.key(), w.is_floating_point() ? w.to(torch::kCPU, torch::kFloat32) : w.cpu());
    }
    const double sigma_rel = phema.sigma_rels()[i];
    paths.push_back((fs::path(dir) / phema_snapshot_name(t, sigma_rel)).string());
    io::save_state_dict(weights, paths.back(),
                    {{kConfigMetadataKey, config.to_json()},
                     {kPhemaStepKey, std::to_string(t)},
                     {kPhemaSigmaRelKey, nlohmann::json(sigma_rel).dump()}});  // shortest exact text
  }
  return paths;
}

namespace {

// A metadata value of a snapshot, parsed as JSON (a number).
nlohmann::json metadata_number(const std::map<std::string, std::string>& metadata, const char* key,
                               const std::string& path) {
  auto it = metadata.find(key);
  auto value = it == metadata.end() ? nlohmann::json() : nlohmann::json::parse(it->second, nullptr, false);
  if (!value.is_number()) throw FileError(path, std::string("no power-function EMA snapshot (metadata '") + key + "')");
  return value;
}

// The settings that make a run what it is (all but TrainConfig::per_run), as JSON text.
std::string run_identity(const std::map<std::string, std::string>& metadata, const std::string& path) {
  auto it = metadata.find(kConfigMetadataKey);
  if (it == metadata.end()) {
    throw FileError(path, std::string("no run settings (metadata '") + kConfigMetadataKey + "')");
  }
  auto json = nlohmann::json::parse(TrainConfig::from_json(it->second).to_json());
  for (auto item = json.begin(); item != json.end();) {
    item = TrainConfig::per_run(item.key()) ? json.erase(item) : std::next(item);
  }
  return json.dump();
}

// sum += coefficient snapshot in float32, for each floating-point tensor; the others are the
// snapshot's (EDM2 copies each input's buffers in turn: the newest's stay). An empty sum starts at 0.
void add_weighted(io::StateDict& sum, const io::StateDict& snapshot, double coefficient, const std::string& path,
                  const std::string& first_path) {
  if (sum.is_empty()) {
    for (const auto& item : snapshot) sum.insert(item.key(), torch::zeros_like(item.value(), torch::kFloat32));
  }
  if (snapshot.keys() != sum.keys()) throw FileError(path, "holds other tensors than " + first_path);
  for (const auto& item : snapshot) {
    auto& total = sum[item.key()];
    const auto& w = item.value();
    if (w.sizes() != total.sizes()) {
      throw FileError(path, "'" + item.key() + "' has another shape than in " + first_path);
    }
    if (w.is_floating_point()) {
      total.add_(w.to(torch::kFloat32), coefficient);
    } else {
      total = w;
    }
  }
}

}  // namespace

std::vector<PhemaSnapshot> list_phema_snapshots(const std::string& dir) {
  std::error_code error;
  if (!fs::is_directory(dir, error)) throw FileError(dir, "no such folder of power-function EMA snapshots");
  const std::regex name("[0-9]{7,}-[0-9]+\\.[0-9]{3}\\.safetensors");
  std::vector<PhemaSnapshot> snapshots;
  for (const auto& entry : fs::directory_iterator(dir)) {
    const auto file = entry.path().filename().string();
    if (!entry.is_regular_file() || !std::regex_match(file, name)) continue;
    const auto path = entry.path().string();
    const auto metadata = io::read_safetensors_metadata(path);
    const auto t = metadata_number(metadata, kPhemaStepKey, path);
    if (!t.is_number_integer() || t.get<int64_t>() < 1) throw FileError(path, "its step is not a positive integer");
    const double sigma_rel = metadata_number(metadata, kPhemaSigmaRelKey, path).get<double>();
    if (!(sigma_rel > 0 && sigma_rel < kMaxSigmaRel)) throw FileError(path, "its sigma_rel is not in (0, 0.289)");
    snapshots.push_back({path, t.get<int64_t>(), sigma_rel});
  }
  if (snapshots.empty()) throw FileError(dir, "no power-function EMA snapshots (<step>-<sigma_rel>.safetensors)");
  std::sort(snapshots.begin(), snapshots.end(), [](const PhemaSnapshot& a, const PhemaSnapshot& b) {
    return std::make_pair(a.t, a.sigma_rel) < std::make_pair(b.t, b.sigma_rel);
  });
  return snapshots;
}

std::vector<PhemaReconstruction> reconstruct_phema(const std::vector<PhemaSnapshot>& snapshots,
                                                   const std::vector<double>& sigma_rels, std::optional<int64_t> t) {
  check_sigma_rels("sigma_rel", sigma_rels);
  if (snapshots.empty()) throw FileError("snapshots", "none to reconstruct from");
  int64_t newest = 0;
  for (const auto& s : snapshots) newest = std::max(newest, s.t);
  const int64_t out_t = t.value_or(newest);
  std::vector<PhemaSnapshot> inputs;
  for (const auto& s : snapshots) {
    if (s.t <= out_t) inputs.push_back(s);
  }
  if (std::none_of(inputs.begin(), inputs.end(), [&](const PhemaSnapshot& s) { return s.t == out_t; })) {
    throw config::ConfigError(config::setting("step") + " " + std::to_string(out_t) +
                              ": no snapshot was taken at that step (the newest is " + std::to_string(newest) + ")");
  }
  std::vector<int64_t> in_t;
  std::vector<double> in_sigma_rels;
  for (const auto& s : inputs) {
    in_t.push_back(s.t);
    in_sigma_rels.push_back(s.sigma_rel);
  }
  const auto X = solve_posthoc_coefficients(in_t, in_sigma_rels, out_t, sigma_rels);  // (in, out)
  const auto x = X.accessor<double, 2>();

  std::vector<PhemaReconstruction> out(sigma_rels.size());
  std::string identity;
  for (size_t i = 0; i < inputs.size(); ++i) {
    const auto& path = inputs[i].path;
    auto checkpoint = io::read_checkpoint(path);
    const auto this_identity = run_identity(checkpoint.metadata, path);
    if (i == 0) identity = this_identity;
    if (this_identity != identity) {
      throw FileError(path, "a snapshot of another run than " + inputs[0].path + " (their settings differ)");
    }
    for (size_t j = 0; j < out.size(); ++j) {
      add_weighted(out[j].state_dict, checkpoint.state_dict, x[i][j], path, inputs[0].path);
      out[j].t = out_t;
      out[j].sigma_rel = sigma_rels[j];
      out[j].metadata = {{kConfigMetadataKey, checkpoint.metadata.at(kConfigMetadataKey)},  // the newest's, at the end
                         {kPhemaStepKey, std::to_string(out_t)},
                         {kPhemaSigmaRelKey, nlohmann::json(sigma_rels[j]).dump()}};
    }
  }
  return out;
}

void check_sigma_rels(const std::string& key, const std::vector<double>& sigma_rels) {
  std::set<std::string> names;
  for (double sigma_rel : sigma_rels) {
    config::require(sigma_rel > 0 && sigma_rel < kMaxSigmaRel, key, config::text(sigma_rels),
                    "each must be in (0, " + config::text(kMaxSigmaRel) + ")");
    config::require(names.insert(phema_snapshot_name(0, sigma_rel)).second, key, config::text(sigma_rels),
                    "two values are the same to 3 decimals (the file names)");
  }
}

void PhemaReconstructionConfig::validate() const {
  config::check_ranges(*this);
  config::require(!snapshots.empty(), "snapshots", "", "must name the folder of snapshots (<results-dir>/phema)");
  config::require(!sigma_rel.empty(), "sigma_rel", "", "must give at least one relative standard deviation");
  config::require(!out_dir.empty(), "out_dir", "", "must name a folder");
  check_sigma_rels("sigma_rel", sigma_rel);
}

std::string phema_reconstruction_path(const std::string& out_dir, int64_t t, double sigma_rel) {
  return (fs::path(out_dir) / ("phema-" + phema_snapshot_name(t, sigma_rel))).string();
}

}  // namespace sit::train
