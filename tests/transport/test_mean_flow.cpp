// MeanFlow: the (t, r) draw and the loss against the authors' code (tests/data/meanflow, made by
// make_meanflow_fixtures.py: py-meanflow's forward_with_loss, and JAX meanflow.py's guided target),
// the JVP against finite differences and the double-backward identity, and the one-step sampler on
// a Gaussian transport whose average velocity is closed form.
#include "support/catch_torch.h"
#include <sit/io/npy.h>
#include <sit/nn/sit.h>
#include <sit/transport/mean_flow.h>
#include <sit/transport/sampler.h>

#include <nlohmann/json.hpp>

#include <fstream>

#include "support/relative_l2.h"

using namespace sit::transport;
using sit::test::relative_l2;

namespace {

const std::string kDir = std::string(SIT_TEST_DATA_DIR) + "/meanflow/";

torch::Tensor array(const std::string& folder, const std::string& name) {
  return sit::io::read_npy(kDir + folder + "/" + name + ".npy");
}

// The fixtures' SiT (input 4x16x16, patch 4, depth 2, hidden 32, 2 heads, 10 classes, learn_sigma)
// with MeanFlow's h_embedder, its weights from weights.npz.
sit::nn::SiT fixture_model() {
  sit::nn::SiT model(sit::nn::SiTOptions()
                         .input_size(16).patch_size(4).in_channels(4).hidden_size(32).depth(2).num_heads(2)
                         .num_classes(10).meanflow(true));
  const auto weights = sit::io::read_npz(kDir + "weights.npz");
  torch::NoGradGuard no_grad;
  auto parameters = model->named_parameters();
  REQUIRE(weights.size() == parameters.size());
  for (auto& item : parameters) item.value().copy_(weights[item.key()]);
  return model;
}

MeanFlowOptions case_options(const nlohmann::json& c) {
  return MeanFlowOptions()
      .P_mean(c["P_mean"]).P_std(c["P_std"]).data_proportion(c["data_proportion"]).omega(c["omega"])
      .kappa(c["kappa"]).norm_p(c["norm_p"]).norm_eps(c["norm_eps"]);
}

// u(z, t, h, y) of a SiT, labels never dropped by the model itself.
AverageVelocityFn average_velocity(const sit::nn::SiT& model) {
  std::shared_ptr<sit::nn::SiTImpl> sit = model.ptr();
  return [sit](const torch::Tensor& z, const torch::Tensor& t, const torch::Tensor& h, const torch::Tensor& y) {
    return sit->forward(z, t, y, torch::zeros_like(y), h);
  };
}

}  // namespace

TEST_CASE("mean_flow_times is time_sampler.py's draw, in SiT's clock", "[transport][meanflow]") {
  for (const std::string name : {"unguided", "guided"}) {
    INFO(name);
    const auto c = nlohmann::json::parse(std::ifstream(kDir + name + "/case.json"));
    auto times = mean_flow_times(array(name, "normals"), array(name, "uniforms"), case_options(c));
    CHECK(torch::allclose(times.t, 1 - array(name, "t_mf"), 0, 1e-6));
    CHECK(torch::allclose(times.r, 1 - array(name, "r_mf"), 0, 1e-6));
  }
}

// Tolerance 1e-4 relative L2 (float32; measured ~1e-7) for the loss, MeanFlow's u and du/dt, and
// every parameter's gradient.
TEST_CASE("mean_flow_loss matches py-meanflow and the guided target of meanflow.py", "[transport][meanflow]") {
  for (const std::string name : {"unguided", "guided"}) {
    INFO(name);
    const auto c = nlohmann::json::parse(std::ifstream(kDir + name + "/case.json"));
    auto model = fixture_model();
    model->train();
    const MeanFlowTimes times{1 - array(name, "t_mf"), 1 - array(name, "r_mf")};
    auto out = mean_flow_loss(average_velocity(model), array(name, "x1"), array(name, "x0"), times,
                              array(name, "y"), array(name, "drop"), 10, case_options(c));
    auto loss = out.loss.mean();
    CHECK(relative_l2(loss, array(name, "loss")) < 1e-4);
    CHECK(relative_l2(-out.u, array(name, "u")) < 1e-4);  // u_mf = -u_sit
    loss.backward();
    const auto grads = sit::io::read_npz(kDir + name + "/grads.npz");
    for (const auto& item : model->named_parameters()) {
      if (item.key() == "pos_embed") continue;
      INFO(item.key());
      REQUIRE(grads.contains(item.key()));
      CHECK(relative_l2(item.value().grad(), grads[item.key()]) < 1e-4);
    }
  }
}

TEST_CASE("MeanFlow's du/dt in SiT's clock is the fixture's", "[transport][meanflow]") {
  auto model = fixture_model();
  const std::string name = "unguided";
  const auto t = 1 - array(name, "t_mf"), r = 1 - array(name, "r_mf");
  const auto x1 = array(name, "x1"), x0 = array(name, "x0");
  const auto tx = t.view({-1, 1, 1, 1});
  auto z = tx * x1 + (1 - tx) * x0;
  // du_mf/dt_mf along (v_mf, 1, 0) is du_sit along (v_sit, 1, -1) in (z, t_sit, h).
  auto [u, dudt] = average_velocity_jvp(average_velocity(model), array(name, "y"), {z, t, r - t},
                                        {x1 - x0, torch::ones_like(t), -torch::ones_like(t)});
  CHECK(relative_l2(-u, array(name, "u")) < 1e-4);
  CHECK(relative_l2(dudt, array(name, "dudt")) < 1e-4);
}

TEST_CASE("the JVP matches central differences and the double-backward identity in float64",
          "[transport][meanflow]") {
  torch::manual_seed(3);
  sit::nn::SiT model(sit::nn::SiTOptions()
                         .input_size(8).patch_size(2).in_channels(2).hidden_size(16).depth(2).num_heads(2)
                         .num_classes(3).meanflow(true));
  {
    torch::NoGradGuard no_grad;
    for (auto& p : model->parameters()) {
      if (p.requires_grad()) p.normal_(0, 0.3);  // the official init zeroes the output
    }
  }
  model->to(torch::kFloat64);
  auto u = average_velocity(model);
  const auto y = torch::tensor({0, 2, 1}, torch::kLong);
  auto z = torch::randn({3, 2, 8, 8}, torch::kFloat64), dz = torch::randn({3, 2, 8, 8}, torch::kFloat64);
  auto t = torch::tensor({0.2, 0.5, 0.9}, torch::kFloat64), h = torch::tensor({0.7, 0.1, 0.0}, torch::kFloat64);
  auto dt = torch::ones_like(t), dh = -torch::ones_like(h);
  auto [value, tangent] = average_velocity_jvp(u, y, {z, t, h}, {dz, dt, dh});
  CHECK(relative_l2(value, u(z, t, h, y)) < 1e-14);

  const double eps = 1e-6;
  auto difference = (u(z + eps * dz, t + eps * dt, h + eps * dh, y) - u(z - eps * dz, t - eps * dt, h - eps * dh, y)) /
                    (2 * eps);
  CHECK(relative_l2(tangent, difference) < 1e-7);

  // J v = d/dw <J^T w, v>, the JVP by two backward passes.
  auto zg = z.clone().requires_grad_(true), tg = t.clone().requires_grad_(true), hg = h.clone().requires_grad_(true);
  auto out = u(zg, tg, hg, y);
  auto w = torch::zeros_like(out).requires_grad_(true);
  auto vjp = torch::autograd::grad({out}, {zg, tg, hg}, {w}, /*retain_graph=*/true, /*create_graph=*/true);
  auto inner = (vjp[0] * dz).sum() + (vjp[1] * dt).sum() + (vjp[2] * dh).sum();
  auto double_backward = torch::autograd::grad({inner}, {w})[0];
  CHECK(relative_l2(tangent, double_backward) < 1e-12);
}

namespace {

// A C++ custom function has no forward-mode formula in LibTorch.
struct NoForwardMode : public torch::autograd::Function<NoForwardMode> {
  static torch::Tensor forward(torch::autograd::AutogradContext*, const torch::Tensor& x) { return x * 2; }
  static torch::autograd::variable_list backward(torch::autograd::AutogradContext*,
                                                 torch::autograd::variable_list grad) {
    return {grad[0] * 2};
  }
};

}  // namespace

TEST_CASE("a JVP through an op without a forward-mode formula is a one-line error", "[transport][meanflow]") {
  AverageVelocityFn u = [](const torch::Tensor& z, const torch::Tensor& t, const torch::Tensor&, const torch::Tensor&) {
    return NoForwardMode::apply(z) * t.view({-1, 1});
  };
  auto z = torch::randn({2, 3}), t = torch::rand({2});
  try {
    average_velocity_jvp(u, torch::zeros({2}, torch::kLong), {z, t, t}, {z, t, t});
    FAIL("no error");
  } catch (const std::runtime_error& e) {
    const std::string message = e.what();
    CHECK(message.find("forward-mode AD") != std::string::npos);
    CHECK(message.find('\n') == std::string::npos);
  }
}

// Data x1 ~ N(mu, s^2 I) and noise x0 ~ N(0, I) on the Linear path: x_t ~ N(t mu, sigma_t^2 I),
// sigma_t^2 = t^2 s^2 + (1 - t)^2, and the probability-flow map from t to r is
// z_r = r mu + (sigma_r / sigma_t) (z_t - t mu), so u(z, t, h) = (z_{t+h} - z) / h exactly
// (its limit v(z, t) at h = 0).
TEST_CASE("sample_mean_flow on the exact average velocity lands on the transport map", "[transport][meanflow]") {
  const double mu = 0.7, s = 0.4;
  auto sigma = [&](const torch::Tensor& t) { return (t * t * s * s + (1 - t) * (1 - t)).sqrt(); };
  AverageVelocityModelFn u = [&](const torch::Tensor& z, const torch::Tensor& time, double h) {
    auto t = time.view({-1, 1});
    if (h == 0) {
      auto d_sigma = (t * s * s - (1 - t)) / sigma(t);
      return mu + d_sigma / sigma(t) * (z - t * mu);
    }
    auto r = t + h;
    return (r * mu + sigma(r) / sigma(t) * (z - t * mu) - z) / h;
  };
  Sampler sampler{Transport()};
  auto x0 = torch::randn({5, 3}, torch::kFloat64);
  for (int64_t steps : {1, 2, 4}) {
    INFO(steps << " steps");
    auto result = sampler.sample_mean_flow(x0, u, SamplerOptions().ode_method(OdeMethod::MeanFlow).num_steps(steps));
    CHECK(result.model_evaluations == steps);
    CHECK(relative_l2(result.sample, mu + s * x0) < 1e-12);
  }
}

TEST_CASE("meanflow sampler options: steps, and no likelihood or reverse", "[transport][meanflow]") {
  auto options = SamplerOptions().ode_method(OdeMethod::MeanFlow).num_steps(1);
  CHECK_NOTHROW(options.validate());
  CHECK_THROWS_WITH(SamplerOptions(options).num_steps(0).validate(), Catch::Contains("num_sampling_steps 0"));
  CHECK_THROWS_WITH(SamplerOptions(options).reverse(true).validate(), Catch::StartsWith("reverse: needs an ODE solver"));
  CHECK_THROWS_WITH(SamplerOptions(options).likelihood(true).validate(), Catch::StartsWith("likelihood: needs one of torchdiffeq's solvers, not meanflow"));
}
