#pragma once
// An analytic oracle: data x1 ~ N(mu, Sigma), noise x0 ~ N(0, I), so x_t = alpha_t x1 + sigma_t x0
// is Gaussian with mean alpha_t mu and covariance V_t = alpha_t^2 Sigma + sigma_t^2 I. With
// Sigma = Q diag(lambda) Q^T every field is diagonal in the eigenbasis u = (x - alpha_t mu) Q:
//   score     -u / v,            v = alpha_t^2 lambda + sigma_t^2
//   noise     E[x0 | x_t] = sigma_t u / v
//   velocity  E[u_t | x_t] = d_alpha_t mu + (alpha_t d_alpha_t lambda + sigma_t d_sigma_t) u / v
// and the probability-flow map is affine: u_t = u_s sqrt(v_t / v_s).
// States are (N, D) float64.

#include <sit/transport/path.h>
#include <sit/transport/transport.h>

#include <cmath>

namespace sit::test {

struct GaussianOracle {
  torch::Tensor mu;      // (D,)
  torch::Tensor q;       // (D, D), orthonormal columns
  torch::Tensor lambda;  // (D,) eigenvalues of Sigma

  /// Sigma = Q diag(lambda) Q^T with Q a rotation drawn from `seed`.
  static GaussianOracle rotated(std::vector<double> mean, std::vector<double> eigenvalues,
                                uint64_t seed) {
    auto gen = at::detail::createCPUGenerator(seed);
    const int64_t d = static_cast<int64_t>(mean.size());
    auto a = torch::randn({d, d}, gen, torch::kFloat64);
    auto qr = torch::linalg_qr(a);
    return {torch::tensor(mean, torch::kFloat64), std::get<0>(qr),
            torch::tensor(eigenvalues, torch::kFloat64)};
  }

  int64_t dim() const { return mu.size(0); }

  torch::Tensor covariance() const { return q.matmul(torch::diag(lambda)).matmul(q.t()); }

  torch::Tensor sample(int64_t n, at::Generator gen) const {
    return mu + (torch::randn({n, dim()}, gen, torch::kFloat64) * lambda.sqrt()).matmul(q.t());
  }

  struct Coefficients {
    torch::Tensor alpha, d_alpha, sigma, sigma_d_sigma;  // (N, 1)
  };
  /// The path at t clamped to [0, 1]: an adaptive solver may step past the end, where a network
  /// would still answer. On VP paths sigma_t d_sigma_t = -alpha_t d_alpha_t (alpha^2 + sigma^2 =
  /// 1), finite at t = 1 where d_sigma_t is not.
  static Coefficients at(const sit::transport::Path& path, const torch::Tensor& t) {
    auto tc = t.to(torch::kFloat64).clamp(0.0, 1.0).view({-1, 1});
    auto alpha = path.compute_alpha_t(tc), sigma = path.compute_sigma_t(tc);
    auto sigma_d_sigma = dynamic_cast<const sit::transport::VPCPlan*>(&path)
                             ? -alpha.value * alpha.derivative
                             : sigma.value * sigma.derivative;
    return {alpha.value, alpha.derivative, sigma.value, sigma_d_sigma};
  }

  // (N, D): variance of x_t along each eigenvector.
  torch::Tensor variance(const Coefficients& c) const {
    return c.alpha.pow(2) * lambda + c.sigma.pow(2);
  }
  torch::Tensor centred(const torch::Tensor& x, const Coefficients& c) const {
    return (x - c.alpha * mu).matmul(q);
  }

  torch::Tensor velocity(const sit::transport::Path& path, const torch::Tensor& x,
                         const torch::Tensor& t) const {
    auto c = at(path, t);
    auto gain = (c.alpha * c.d_alpha * lambda + c.sigma_d_sigma) / variance(c);
    return c.d_alpha * mu + (centred(x, c) * gain).matmul(q.t());
  }
  torch::Tensor score(const sit::transport::Path& path, const torch::Tensor& x,
                      const torch::Tensor& t) const {
    auto c = at(path, t);
    return (-centred(x, c) / variance(c)).matmul(q.t());
  }
  torch::Tensor noise(const sit::transport::Path& path, const torch::Tensor& x,
                      const torch::Tensor& t) const {
    auto c = at(path, t);
    return (c.sigma * centred(x, c) / variance(c)).matmul(q.t());
  }
  /// div of the velocity: sum over eigen-directions of the gain.
  torch::Tensor velocity_divergence(const sit::transport::Path& path,
                                    const torch::Tensor& t) const {
    auto c = at(path, t);
    return ((c.alpha * c.d_alpha * lambda + c.sigma_d_sigma) / variance(c)).sum(1);
  }

  /// What a perfect network of the transport's prediction returns; counts its calls in `calls`
  /// when given. The oracle and the transport must outlive the model.
  sit::transport::ModelFn model(const sit::transport::Transport& transport, int64_t* calls = nullptr) const {
    return [this, &transport, calls](const torch::Tensor& x, const torch::Tensor& t) {
      if (calls) ++*calls;
      const auto& path = transport.path_sampler();
      switch (transport.model_type()) {
        case sit::transport::ModelType::Velocity:
          return velocity(path, x, t);
        case sit::transport::ModelType::Score:
          return score(path, x, t);
        case sit::transport::ModelType::Noise:
          return noise(path, x, t);
      }
      return torch::Tensor();
    };
  }

  /// The exact probability-flow map from time s to time t (scalars).
  torch::Tensor transport_map(const sit::transport::Path& path, const torch::Tensor& x, double s,
                              double t) const {
    auto n = x.size(0);
    auto cs = at(path, torch::full({n}, s, torch::kFloat64));
    auto ct = at(path, torch::full({n}, t, torch::kFloat64));
    auto u = centred(x, cs) * (variance(ct) / variance(cs)).sqrt();
    return ct.alpha * mu + u.matmul(q.t());
  }

  /// log N(x; mu, Sigma): (N,).
  torch::Tensor log_density(const torch::Tensor& x) const {
    auto u = (x - mu).matmul(q);
    return -0.5 * (u.pow(2) / lambda).sum(1) - 0.5 * lambda.log().sum() -
           0.5 * dim() * std::log(2 * M_PI);
  }
};

}  // namespace sit::test
