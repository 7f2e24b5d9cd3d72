#pragma once
// MeanFlow (Geng et al. 2025, "Mean Flows for One-step Generative Modeling"): a network of the
// average velocity over an interval, trained by the MeanFlow identity u = v - (t - r) du/dt, that
// samples in one evaluation (the official JAX meanflow.py and PyTorch py-meanflow's
// meanflow/models/meanflow.py and time_sampler.py).
//
// Time convention. MeanFlow's clock runs the other way from SiT's, on the same Linear path:
//   MeanFlow: z_t = (1 - t) x + t e (noise at t = 1), v = e - x, z_r = z_t - (t - r) u(z_t, r, t).
//   SiT:      z_t = t x + (1 - t) e (data at t = 1),  v = x - e, z_r = z_t + (r - t) u(z_t, t, h).
// A time maps as t_sit = 1 - t_mf (r likewise), the interval h = t_mf - r_mf = r_sit - t_sit >= 0
// is the same number in both, and the velocities change sign: u_sit(z, t_sit, h) = -u_mf(z, r_mf,
// t_mf). sit's network takes (z, t_sit, h) and predicts u_sit (SiT::forward's h), so at h = 0 it is
// a SiT velocity model: a flow-matching checkpoint starts it, and the ODE and SDE samplers use
// u(z, t, 0), the instantaneous velocity that the r = t part of the batch trains.
//
// The loss in SiT's convention (each line MeanFlow's, mapped):
//   (u, D) = JVP(u_theta, (z, t, h), (v_g, 1, -1))      MeanFlow: (u, du/dt) = JVP(u, (z, t, r), (v_g, 1, 0))
//   u_tgt  = stopgrad(v_g + clip(h, 0, 1) D)            MeanFlow: v_g - clip(t - r, 0, 1) du/dt
//   delta  = sum over pixels of (u - u_tgt)^2, loss = delta / stopgrad((delta + norm_eps)^norm_p)
// with the guided velocity of training-time guidance, computed without gradients,
//   v_g = omega v + kappa u(z, t, 0, y) + (1 - omega - kappa) u(z, t, 0, null),
// and v_g = v (and the null label) for the examples whose label is dropped.

#include <sit/config/fields.h>
#include <sit/transport/transport.h>

#include <array>
#include <functional>
#include <utility>

namespace sit::transport {

/// MeanFlow's training settings, named as its code names them, defaults those of the official JAX
/// configs/default.py but for guidance (off: omega 1, kappa 0; its ImageNet runs take kappa 0.5).
struct MeanFlowOptions {
  /// The logit-normal of both times, in MeanFlow's convention: t_mf = sigmoid(P_mean + P_std n).
  TORCH_ARG(double, P_mean) = -0.4;
  TORCH_ARG(double, P_std) = 1.0;
  /// The fraction of the batch with r = t (a flow-matching target).
  TORCH_ARG(double, data_proportion) = 0.75;
  TORCH_ARG(double, omega) = 1.0;
  TORCH_ARG(double, kappa) = 0.0;
  /// The adaptive weight's power p and constant c.
  TORCH_ARG(double, norm_p) = 1.0;
  TORCH_ARG(double, norm_eps) = 0.01;

 public:
  template <typename Self, typename Field>
  static void fields(Self& self, Field&& field) {
    field("meanflow_p_mean", self.P_mean(), "MeanFlow: mean of the logit-normal times (its convention, noise at 1)");
    field("meanflow_p_std", self.P_std(), "MeanFlow: std of the logit-normal times", config::positive);
    field("meanflow_data_proportion", self.data_proportion(), "MeanFlow: fraction of the batch with r = t",
          config::closed(0, 1));
    field("meanflow_omega", self.omega(), "MeanFlow: guidance omega of the target velocity (1: none)",
          config::positive);
    field("meanflow_kappa", self.kappa(), "MeanFlow: guidance kappa, the conditional model's share (0: none)",
          config::half_open(0, 1));
    field("meanflow_norm_p", self.norm_p(), "MeanFlow: power p of the adaptive loss weight (0: plain L2)",
          config::non_negative);
    field("meanflow_norm_eps", self.norm_eps(), "MeanFlow: constant c of the adaptive loss weight",
          config::positive);
  }
  /// Throws ConfigError for a setting outside its range.
  void validate() const { config::check_ranges(*this); }
  /// Whether the target is guided (omega != 1 or kappa != 0): it needs the null label.
  bool guided() const { return omega() != 1.0 || kappa() != 0.0; }
};

/// The average-velocity network in SiT's convention: z (N, C, H, W), t (N,), h (N,), y (N,) int64
/// labels (the null label where dropped) -> u (N, C, H, W).
using AverageVelocityFn = std::function<torch::Tensor(const torch::Tensor& z, const torch::Tensor& t,
                                                      const torch::Tensor& h, const torch::Tensor& y)>;

/// (u(z, t, h, y), its derivative along the tangents (dz, dt, dh)) by forward-mode AD
/// (torch::autograd::forward_ad), the derivative detached. An op of u without a forward-mode
/// formula (SDPA's kernels, a C++ custom autograd function) is a std::runtime_error naming it.
std::pair<torch::Tensor, torch::Tensor> average_velocity_jvp(const AverageVelocityFn& u, const torch::Tensor& y,
                                                             const std::array<torch::Tensor, 3>& primals,
                                                             const std::array<torch::Tensor, 3>& tangents);

/// A pair of times in SiT's convention: z_t is where the interval starts, the step lands at r >= t.
struct MeanFlowTimes {
  torch::Tensor t;  // (N,)
  torch::Tensor r;  // (N,)
};

/// MeanFlow's (t, r) draw (time_sampler.py's v0, the paper's) from standard normals (N, 2) and
/// uniforms (N,) on [0, 1): two logit-normal times sorted, r set to t where the uniform is below
/// data_proportion; returned in SiT's convention.
MeanFlowTimes mean_flow_times(const torch::Tensor& normals, const torch::Tensor& uniforms,
                              const MeanFlowOptions& options);

struct MeanFlowLosses {
  torch::Tensor loss;  // (N,) adaptively weighted: the batch mean is MeanFlow's loss
  torch::Tensor u;     // (N, C, H, W) the prediction
};

/// MeanFlow's loss at data x1 and noise x0 (N, C, H, W), times t, r (N,) in SiT's convention,
/// labels y (N,) int64 and drop (N,) (1 where the label is dropped; undefined: none). null_label
/// is the model's unconditional label. The JVP runs by forward-mode AD through u.
MeanFlowLosses mean_flow_loss(const AverageVelocityFn& u, const torch::Tensor& x1, const torch::Tensor& x0,
                              const MeanFlowTimes& times, const torch::Tensor& y, const torch::Tensor& drop,
                              int64_t null_label, const MeanFlowOptions& options);

}  // namespace sit::transport
