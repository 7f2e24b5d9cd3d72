#pragma once
// Power-function EMA and its post-hoc reconstruction (EDM2: Karras et al., 2024, "Analyzing and
// Improving the Training Dynamics of Diffusion Models", Sec. 3 and App. C; NVlabs/edm2
// training/phema.py and reconstruct_phema.py). The EMA of profile p_t(tau) ~ tau^gamma over
// 0 <= tau <= t has the same relative width sigma_rel at every t; from snapshots of a few such
// EMAs taken during training, a least-squares fit of their profiles gives, after training, the
// EMA of any other sigma_rel.
//
// Time counts optimiser steps: t is the number of steps taken, the first step is t = 1. EDM2
// counts images (t = images seen, dt = batch); at a constant batch B its beta, 1 - B / (t B), is
// ours, 1 - 1 / t, and its inner products are ours divided by B, which the solve cancels.

#include <sit/config/fields.h>
#include <sit/io/state_dict.h>
#include <sit/io/value.h>
#include <sit/nn/sit.h>
#include <sit/train/train_config.h>

#include <map>
#include <optional>
#include <string>
#include <vector>

namespace sit::train {

/// The largest sigma_rel taken (EDM2's bound; 1 / sqrt(12) = 0.2887 is gamma = 0, the plain mean).
inline constexpr double kMaxSigmaRel = 0.289;

/// sigma_rel of the profile of exponent gamma (EDM2 Eq. 123, exp_to_std):
/// sqrt((gamma + 1) / ((gamma + 2)^2 (gamma + 3))).
double gamma_to_sigma_rel(double gamma);

/// The gamma of a sigma_rel in (0, kMaxSigmaRel) (Eq. 126, Algorithm 2, std_to_exp): the largest
/// real root of gamma^3 + 7 gamma^2 + (16 - sigma_rel^-2) gamma + (12 - sigma_rel^-2).
double sigma_rel_to_gamma(double sigma_rel);

/// Throws ConfigError naming the setting `key` unless each sigma_rel is in (0, kMaxSigmaRel) and no
/// two are equal to 3 decimals (the snapshots' file names).
void check_sigma_rels(const std::string& key, const std::vector<double>& sigma_rels);

/// The decay of step t >= 1 (Eq. 127, power_function_beta): (1 - 1 / t)^(gamma + 1); after the
/// step, ema = beta ema + (1 - beta) model (0 at t = 1: the first step's weights).
double power_function_beta(double sigma_rel, int64_t t);

/// <p_a, p_b>, the inner product of the profiles (t_a, sigma_a) and (t_b, sigma_b) (Eq. 151,
/// Algorithm 3, power_function_correlation):
/// (gamma_a + 1)(gamma_b + 1) (t_a / t_b)^(t_a < t_b ? gamma_b : -gamma_a) / ((gamma_a + gamma_b + 1) max(t_a, t_b)).
double power_function_correlation(double a_t, double a_sigma_rel, double b_t, double b_sigma_rel);

/// The (in, out) float64 coefficients X that combine the EMAs (in_t[i], in_sigma_rels[i]) into
/// those of (out_t, out_sigma_rels[j]) (Algorithm 3, solve_posthoc_coefficients): A X = B with
/// A_ik = <p_i, p_k>, B_ij = <p_i, q_j>, each column of X then divided by its sum.
torch::Tensor solve_posthoc_coefficients(const std::vector<int64_t>& in_t, const std::vector<double>& in_sigma_rels,
                                         int64_t out_t, const std::vector<double>& out_sigma_rels);

/// Power-function EMAs of a model during training, one per sigma_rel (EDM2's PowerFunctionEMA):
/// copies of the model, in its dtype and on its device, updated after every step.
class PowerFunctionEma {
 public:
  PowerFunctionEma(const nn::SiT& model, std::vector<double> sigma_rels);

  /// After step t (t >= 1): ema = beta(t) ema + (1 - beta(t)) model, for each EMA.
  void update(const nn::SiT& model, int64_t t);

  const std::vector<double>& sigma_rels() const { return sigma_rels_; }
  const std::vector<nn::SiT>& emas() const { return emas_; }

  /// The checkpoint entry, as EDM2's PowerFunctionEMA.state_dict(): {"stds": [sigma_rel, ...],
  /// "emas": [state dict, ...]}.
  io::Value state_value() const;
  /// Loads state_value's entry; its stds must be this tracker's (else a FileError naming `path`).
  void load_state_value(const io::Value& value, const std::string& path);

 private:
  std::vector<double> sigma_rels_;
  std::vector<nn::SiT> emas_;
};

/// Metadata keys of a snapshot (and of a reconstruction, beside kConfigMetadataKey's run settings).
inline constexpr const char* kPhemaStepKey = "phema_step";
inline constexpr const char* kPhemaSigmaRelKey = "phema_sigma_rel";

/// A snapshot's file name in its folder: "<t, 7 digits>-<sigma_rel, 3 decimals>.safetensors"
/// (EDM2's "network-snapshot-<kimg>-<std>.pkl", in steps).
std::string phema_snapshot_name(int64_t t, double sigma_rel);

/// Writes each EMA of `phema` at step t into `dir` (created if missing) as a float32 safetensors
/// state dict, metadata: the run's configuration (kConfigMetadataKey, so sit-sample reads it), t
/// and sigma_rel (full precision). Returns the paths.
std::vector<std::string> save_phema_snapshots(const PowerFunctionEma& phema, int64_t t, const std::string& dir,
                                              const TrainConfig& config);

/// A snapshot as listed: its file, step and sigma_rel (from its metadata).
struct PhemaSnapshot {
  std::string path;
  int64_t t = 0;
  double sigma_rel = 0;
};

/// The snapshots in `dir` (files named as phema_snapshot_name), sorted by (t, sigma_rel); only
/// their headers are read. Throws FileError for a missing folder, a folder without snapshots, or a
/// snapshot whose metadata lacks t or sigma_rel.
std::vector<PhemaSnapshot> list_phema_snapshots(const std::string& dir);

/// One reconstructed EMA: the state dict (float32) and its metadata (the run's configuration, t,
/// sigma_rel), ready for io::save_state_dict.
struct PhemaReconstruction {
  int64_t t = 0;
  double sigma_rel = 0;
  io::StateDict state_dict;
  std::map<std::string, std::string> metadata;
};

/// The EMAs of `sigma_rels` at step `t` (nullopt: the newest snapshot's) from the snapshots of
/// steps 0 < t' <= t, as reconstruct_phema.py: the coefficients in float64, then for each snapshot
/// in order out_j += X_ij snapshot_i in float32; what is not floating point is the newest
/// snapshot's. Reads each snapshot once. Throws ConfigError for a sigma_rel outside
/// (0, kMaxSigmaRel) or a t that no snapshot has, FileError for snapshots of different runs (their
/// settings other than TrainConfig::per_run differ) or different tensors (names, shapes).
std::vector<PhemaReconstruction> reconstruct_phema(const std::vector<PhemaSnapshot>& snapshots,
                                                   const std::vector<double>& sigma_rels,
                                                   std::optional<int64_t> t = std::nullopt);

/// sit-phema's settings: which snapshots, which EMAs, where to write them.
struct PhemaReconstructionConfig {
  std::string snapshots;
  std::vector<double> sigma_rel;
  int64_t step = 0;  // 0: the newest snapshot's
  std::string out_dir;

  template <typename Self, typename Field>
  static void fields(Self& self, Field&& field) {
    field("snapshots", self.snapshots, "folder of power-function EMA snapshots (sit-train's <results-dir>/phema)");
    field("sigma_rel", self.sigma_rel, "relative standard deviations of the EMAs to reconstruct, e.g. 0.05,0.1,0.15");
    field("step", self.step, "the training step to reconstruct at (0: the newest snapshot's)", config::non_negative);
    field("out_dir", self.out_dir, "folder for phema-<step>-<sigma_rel>.safetensors");
  }

  /// Throws ConfigError for an empty folder setting, no sigma_rel, one outside (0, kMaxSigmaRel),
  /// or two with the same file name.
  void validate() const;
};

/// The output file of a reconstruction in `out_dir`: "phema-<t, 7 digits>-<sigma_rel, 3 decimals>.safetensors".
std::string phema_reconstruction_path(const std::string& out_dir, int64_t t, double sigma_rel);

}  // namespace sit::train
