#include <sit/transport/guidance.h>

namespace sit::transport {

namespace {

// (N,) booleans: t clamped to [0, 1] inside [t_lo, t_hi], so that the stages an adaptive solver
// evaluates past t = 1 are guided under the default interval, as the official code guides them.
torch::Tensor in_interval(const torch::Tensor& t, const GuidanceOptions& options) {
  auto domain_t = t.clamp(0.0, 1.0);
  return domain_t.ge(options.t_lo()).logical_and(domain_t.le(options.t_hi()));
}

int64_t guided_count(const GuidanceOptions& options, int64_t channels) {
  return options.guided_channels() == GuidedChannels::All ? channels
                                                          : std::min<int64_t>(3, channels);
}

// The guided channels: uncond + cfg_scale (cond - uncond), (N, guided_count, ...).
torch::Tensor mix(const torch::Tensor& cond, const torch::Tensor& uncond,
                  const GuidanceOptions& options) {
  const int64_t k = guided_count(options, cond.size(1));
  auto cond_eps = cond.narrow(1, 0, k), uncond_eps = uncond.narrow(1, 0, k);
  return uncond_eps + options.cfg_scale() * (cond_eps - uncond_eps);
}

// `own` with its guided channels replaced by `eps`.
torch::Tensor with_guided(const torch::Tensor& eps, const torch::Tensor& own) {
  const int64_t k = eps.size(1);
  return torch::cat({eps, own.narrow(1, k, own.size(1) - k)}, 1);
}

// Keeps `guided` where `inside` and `unguided` elsewhere, per sample.
torch::Tensor select_rows(const torch::Tensor& inside, const torch::Tensor& guided,
                          const torch::Tensor& unguided) {
  if (inside.all().item<bool>()) return guided;
  std::vector<int64_t> shape(guided.dim(), 1);
  shape[0] = inside.size(0);
  return torch::where(inside.view(shape), guided, unguided);
}

}  // namespace

ModelFn classifier_free_guidance(LabelledForward forward, torch::Tensor y,
                                 GuidanceOptions options) {
  auto labels = torch::cat({y, torch::full_like(y, options.null_label())});
  return [forward = std::move(forward), y = std::move(y), labels, options](const torch::Tensor& x,
                                                                           const torch::Tensor& t) {
    const int64_t n = x.size(0);
    auto inside = in_interval(t, options);
    if (!inside.any().item<bool>()) return forward(x, t, y);
    auto out = forward(torch::cat({x, x}), torch::cat({t, t}), labels);
    auto cond = out.narrow(0, 0, n), uncond = out.narrow(0, n, n);
    return select_rows(inside, with_guided(mix(cond, uncond, options), cond), cond);
  };
}

ModelFn classifier_free_guidance_doubled(LabelledForward forward, torch::Tensor y,
                                         GuidanceOptions options) {
  auto labels = torch::cat({y, torch::full_like(y, options.null_label())});
  return [forward = std::move(forward), y = std::move(y), labels, options](const torch::Tensor& x,
                                                                           const torch::Tensor& t) {
    const int64_t n = y.size(0);
    TORCH_CHECK(x.size(0) == 2 * n,
                "classifier_free_guidance_doubled: the state must be [z; z] "
                "with ",
                2 * n, " rows, but got ", x.size(0));
    auto half = x.narrow(0, 0, n);
    auto inside = in_interval(t, options);
    if (!inside.any().item<bool>()) {
      auto cond = forward(half, t.narrow(0, 0, n), y);
      return torch::cat({cond, cond});
    }
    auto out = forward(torch::cat({half, half}), t, labels);
    auto cond = out.narrow(0, 0, n), uncond = out.narrow(0, n, n);
    auto eps = mix(cond, uncond, options);
    auto guided = torch::cat({with_guided(eps, cond), with_guided(eps, uncond)});
    return select_rows(inside, guided, torch::cat({cond, cond}));
  };
}

torch::Tensor ConditionedModel::initial_state(const torch::Tensor& z) const {
  return doubled ? torch::cat({z, z}) : z;
}

torch::Tensor ConditionedModel::samples(const torch::Tensor& state) const {
  return doubled ? state.narrow(0, 0, state.size(0) / 2) : state;
}

ConditionedModel condition(LabelledForward forward, torch::Tensor y,
                           const std::optional<GuidanceOptions>& guidance) {
  if (guidance) return {classifier_free_guidance_doubled(std::move(forward), std::move(y), *guidance), true};
  return {[forward = std::move(forward), y = std::move(y)](const torch::Tensor& x, const torch::Tensor& t) {
            return forward(x, t, y);
          },
          false};
}

}  // namespace sit::transport
