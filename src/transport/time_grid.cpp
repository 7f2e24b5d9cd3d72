#include <sit/transport/time_grid.h>

#include <sit/transport/integrators.h>

#include <algorithm>
#include <cmath>
#include <vector>

namespace sit::transport {

namespace {

constexpr double kEdmSigmaMax = 80.0;
constexpr double kEdmSigmaMin = 0.002;

// SD3's shift of a noise level in [0, 1].
double shift_sigma(double sigma, double s) { return s * sigma / (1.0 + (s - 1.0) * sigma); }

// The position in [0, 1] (0: noise end, 1: data end) of grid point i of n on the EDM grid, on
// SiT's clock over [0, 1]; the ends are exact.
double edm_position(int64_t i, int64_t n, double rho) {
  if (i == 0) return 0.0;
  if (i == n - 1) return 1.0;
  const double u = static_cast<double>(i) / static_cast<double>(n - 1);
  const double max_root = std::pow(kEdmSigmaMax, 1.0 / rho), min_root = std::pow(kEdmSigmaMin, 1.0 / rho);
  const double ratio = std::pow(max_root + u * (min_root - max_root), rho);  // (1 - t) / t
  return 1.0 / (1.0 + ratio);
}

}  // namespace

torch::Tensor sampling_grid(double t0, double t1, int64_t points, const TimeGridOptions& options) {
  TORCH_CHECK(points >= 2, "sampling_grid: at least 2 points, but got ", points);
  config::check_ranges(options);
  if (options.is_uniform()) return time_grid(t0, t1, points);
  // Positions u in [0, 1] from the noise end (lo) to the data end (hi).
  const double lo = std::min(t0, t1), hi = std::max(t0, t1);
  std::vector<float> grid(points);
  for (int64_t i = 0; i < points; ++i) {
    double u = options.kind() == TimeGrid::EDM ? edm_position(i, points, options.rho())
                                               : static_cast<double>(i) / static_cast<double>(points - 1);
    u = 1.0 - shift_sigma(1.0 - u, options.shift());
    grid[i] = static_cast<float>(lo + (hi - lo) * u);
  }
  grid.front() = static_cast<float>(lo);
  grid.back() = static_cast<float>(hi);
  if (t0 > t1) std::reverse(grid.begin(), grid.end());
  for (int64_t i = 1; i < points; ++i) {
    TORCH_CHECK(grid[i] != grid[i - 1], "sampling_grid: ", points,
                " points are too many for this grid in float32 (two points coincide near t = ", grid[i], ")");
  }
  return torch::tensor(grid, torch::kFloat32);
}

}  // namespace sit::transport
