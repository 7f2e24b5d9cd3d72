#include <sit/transport/mean_flow.h>

#include <torch/csrc/autograd/autograd.h>

namespace sit::transport {

namespace {

// (N,) -> (N, 1, ..., 1) like x.
torch::Tensor per_example(const torch::Tensor& a, const torch::Tensor& x) {
  std::vector<int64_t> shape(x.dim(), 1);
  shape[0] = a.size(0);
  return a.view(shape);
}

// One dual level of forward-mode AD for the guard's lifetime.
class DualLevel {
 public:
  DualLevel() : level_(torch::autograd::forward_ad::enter_dual_level()) {}
  ~DualLevel() { torch::autograd::forward_ad::exit_dual_level(level_); }
  DualLevel(const DualLevel&) = delete;
  DualLevel& operator=(const DualLevel&) = delete;
  uint64_t level() const { return level_; }

 private:
  uint64_t level_;
};

}  // namespace

std::pair<torch::Tensor, torch::Tensor> average_velocity_jvp(const AverageVelocityFn& u, const torch::Tensor& y,
                                                             const std::array<torch::Tensor, 3>& primals,
                                                             const std::array<torch::Tensor, 3>& tangents) {
  DualLevel dual;
  const auto level = static_cast<int64_t>(dual.level());
  torch::Tensor out;
  try {
    out = u(at::_make_dual(primals[0], tangents[0], level), at::_make_dual(primals[1], tangents[1], level),
            at::_make_dual(primals[2], tangents[2], level), y);
  } catch (const c10::Error& e) {
    const std::string message = e.msg();
    throw std::runtime_error("MeanFlow's JVP (forward-mode AD) through the model failed: " +
                             message.substr(0, message.find('\n')));
  }
  auto [primal, tangent] = at::_unpack_dual(out, level);
  if (!tangent.defined()) throw std::runtime_error("MeanFlow's JVP: the model's output carries no tangent");
  return {primal, tangent.detach()};
}

MeanFlowTimes mean_flow_times(const torch::Tensor& normals, const torch::Tensor& uniforms,
                              const MeanFlowOptions& options) {
  TORCH_CHECK(normals.dim() == 2 && normals.size(1) == 2 && uniforms.dim() == 1 &&
                  uniforms.size(0) == normals.size(0),
              "mean_flow_times expects normals (N, 2) and uniforms (N,), but got ", normals.sizes(), " and ",
              uniforms.sizes());
  auto times = torch::sigmoid(normals * options.P_std() + options.P_mean());  // (N, 2), MeanFlow's clock
  auto t = std::get<0>(times.max(1)), r = std::get<0>(times.min(1));      // t >= r
  r = torch::where(uniforms < options.data_proportion(), t, r);
  return {1 - t, 1 - r};  // SiT's clock: the step goes from 1 - t_mf up to 1 - r_mf
}

MeanFlowLosses mean_flow_loss(const AverageVelocityFn& u, const torch::Tensor& x1, const torch::Tensor& x0,
                              const MeanFlowTimes& times, const torch::Tensor& y, const torch::Tensor& drop,
                              int64_t null_label, const MeanFlowOptions& options) {
  const auto& t = times.t;  // (N,)
  const auto h = times.r - times.t;
  const auto t_x = per_example(t, x1);
  auto z = t_x * x1 + (1 - t_x) * x0;  // (N, C, H, W): the Linear path
  auto v = x1 - x0;
  auto v_g = v;
  if (options.guided()) {  // v_g = omega v + kappa u(z, t, 0, y) + (1 - omega - kappa) u(z, t, 0, null)
    torch::NoGradGuard no_grad;
    const auto zero = torch::zeros_like(t);
    const auto u_null = u(z, t, zero, torch::full_like(y, null_label));
    v_g = options.omega() * v + (1 - options.omega() - options.kappa()) * u_null;
    if (options.kappa() != 0.0) v_g = v_g + options.kappa() * u(z, t, zero, y);
  }
  auto y_in = y;
  if (drop.defined()) {
    const auto dropped = drop.eq(1);
    y_in = torch::where(dropped, torch::full_like(y, null_label), y);
    v_g = torch::where(per_example(dropped, v_g), v, v_g);
  }
  auto [u_pred, dudt] = average_velocity_jvp(u, y_in, {z, t, h}, {v_g, torch::ones_like(t), -torch::ones_like(h)});
  const auto u_tgt = (v_g + per_example(h.clamp(0, 1), dudt) * dudt).detach();
  std::vector<int64_t> pixels;
  for (int64_t d = 1; d < u_pred.dim(); ++d) pixels.push_back(d);
  auto delta = (u_pred - u_tgt).pow(2).sum(pixels);  // (N,)
  auto weight = (delta.detach() + options.norm_eps()).pow(options.norm_p());
  return {delta / weight, u_pred};
}

}  // namespace sit::transport
