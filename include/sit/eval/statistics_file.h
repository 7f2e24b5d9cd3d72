#pragma once
// Reference statistics in the layout of the ADM evaluator's reference batches (.npz):
//   mu, sigma      float64 (2048,), (2048, 2048)   pool_3 mean and covariance: FID
//   mu_s, sigma_s  float64 (2023,), (2023, 2023)   spatial mean and covariance: sFID
//   arr_0          uint8 (N, H, W, 3)               the images (ADM's files; optional here)
// and what sit-eval adds so a reference is computed once:
//   pool_3         float32 (N, 2048)                the features behind precision and recall
//   input_mode     uint8 text                        the input mode of the features ("adm", "pytorch-fid")
// ADM's own files carry no input_mode: TensorFlow made them, which is the adm mode.

#include <sit/eval/frechet.h>
#include <sit/eval/inception.h>
#include <sit/io/npy.h>

#include <optional>
#include <string>

namespace sit::eval {

struct InceptionStatistics {
  GaussianStatistics pool;      // of pool_3
  GaussianStatistics spatial;   // of the spatial features
  torch::Tensor pool_3;         // (N, 2048) float32, or undefined when the file holds statistics only
  std::optional<InputMode> input_mode;  // unknown for a file sit-eval did not write
};

/// The statistics of features computed in `mode`.
InceptionStatistics inception_statistics(const InceptionFeatures& features, InputMode mode);

/// Writes mu, sigma, mu_s, sigma_s, pool_3 and input_mode (see above); atomically.
void write_statistics(const std::string& path, const InceptionStatistics& statistics);

/// The statistics of a .npz holding mu, sigma, mu_s and sigma_s (and pool_3, input_mode when there);
/// std::nullopt when it holds none of them. Shapes and dtypes are checked, naming file and key.
std::optional<InceptionStatistics> read_statistics(const std::string& path);
/// The same from the arrays of `path`, already read.
std::optional<InceptionStatistics> read_statistics(const io::NamedArrays& arrays, const std::string& path);

/// Throws ConfigError("<source>: its statistics were computed in input mode A, but --input-mode is
/// B") unless the statistics were made in `mode` (a file without input_mode counts as adm: ADM's
/// reference batches, made by TensorFlow).
void require_input_mode(const InceptionStatistics& statistics, InputMode mode, const std::string& source);

}  // namespace sit::eval
