#include <sit/transport/guidance.h>

namespace sit::transport {

namespace {

// (N,) booleans: t clamped to [0, 1] inside [t_lo, t_hi], so that the stages an adaptive solver
// evaluates past t = 1 are guided under the default interval, as the official code guides them.
torch::Tensor in_interval(const torch::Tensor& t, const GuidanceOptions& options) {
  auto domain_t = t.clamp(0.0, 1.0);
  return domain_t.ge(options.cfg_interval()[0]).logical_and(domain_t.le(options.cfg_interval()[1]));
}

int64_t guided_count(const GuidanceOptions& options, int64_t channels) {
  return options.guide_all_channels() ? channels : std::min<int64_t>(3, channels);
}

// v: (N, ...) -> (N, 1, ..., 1), to scale each sample.
torch::Tensor per_sample(const torch::Tensor& values, const torch::Tensor& like) {
  std::vector<int64_t> shape(like.dim(), 1);
  shape[0] = like.size(0);
  return values.view(shape);
}

// CFG-Zero*'s s* = <cond, uncond> / (||uncond||^2 + 1e-8) over each sample's values, (N, 1, ...);
// the 1e-8 is the official code's.
torch::Tensor optimized_scale(const torch::Tensor& cond, const torch::Tensor& uncond) {
  auto c = cond.reshape({cond.size(0), -1}), u = uncond.reshape({uncond.size(0), -1});
  return per_sample((c * u).sum(1) / ((u * u).sum(1) + 1e-8), cond);
}

// Lin et al. eq. 15-16: phi guided std(cond) / std(guided) + (1 - phi) guided, stds per sample.
torch::Tensor rescaled(const torch::Tensor& guided, const torch::Tensor& cond, double phi) {
  auto std_of = [](const torch::Tensor& v) { return per_sample(v.reshape({v.size(0), -1}).std(1), v); };
  return phi * guided * (std_of(cond) / std_of(guided)) + (1 - phi) * guided;
}

// The guided channels, (N, guided_count, ...): s uncond + cfg_scale (cond - s uncond), s = 1 or
// CFG-Zero*'s s*, then rescaled.
torch::Tensor mix(const torch::Tensor& cond, const torch::Tensor& uncond,
                  const GuidanceOptions& options) {
  const int64_t k = guided_count(options, cond.size(1));
  auto cond_eps = cond.narrow(1, 0, k), uncond_eps = uncond.narrow(1, 0, k);
  if (options.cfg_zero_star()) uncond_eps = optimized_scale(cond_eps, uncond_eps) * uncond_eps;
  auto eps = uncond_eps + options.cfg_scale() * (cond_eps - uncond_eps);
  if (options.guidance_rescale() > 0) eps = rescaled(eps, cond_eps, options.guidance_rescale());
  return eps;
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
  return torch::where(per_sample(inside, guided), guided, unguided);
}

// The conditional and the unconditional (or the guide's) outputs at x: (N, ...), t: (N,): one
// forward over [x; x] with labels [y; null], or with a guide each model on x with labels y.
struct Branches {
  LabelledForward forward;
  LabelledForward guide;
  torch::Tensor y;
  torch::Tensor labels;  // [y; null]

  std::pair<torch::Tensor, torch::Tensor> operator()(const torch::Tensor& x, const torch::Tensor& t) const {
    if (guide) return {forward(x, t, y), guide(x, t, y)};
    const int64_t n = x.size(0);
    auto out = forward(torch::cat({x, x}), torch::cat({t, t}), labels);
    return {out.narrow(0, 0, n), out.narrow(0, n, n)};
  }
};

Branches branches(LabelledForward forward, LabelledForward guide, torch::Tensor y, const GuidanceOptions& options) {
  auto labels = torch::cat({y, torch::full_like(y, options.null_label())});
  return {std::move(forward), std::move(guide), std::move(y), std::move(labels)};
}

// CFG-Zero*'s zero-init. The official pipelines zero step i (0-based) while i <= zero_steps, so
// their zero_steps = K - 1; their one-evaluation-per-step Euler-type schedulers make a step one
// call, as our Euler ODE and SDE solvers do.
ModelFn zero_initialised(ModelFn model, int64_t calls) {
  if (calls <= 0) return model;
  auto made = std::make_shared<int64_t>(0);
  return [model = std::move(model), calls, made](const torch::Tensor& x, const torch::Tensor& t) {
    if ((*made)++ < calls) return torch::zeros_like(x);
    return model(x, t);
  };
}

}  // namespace

ModelFn classifier_free_guidance(LabelledForward forward, torch::Tensor y, GuidanceOptions options,
                                 LabelledForward guide) {
  auto both = branches(std::move(forward), std::move(guide), std::move(y), options);
  ModelFn model = [both, options](const torch::Tensor& x, const torch::Tensor& t) {
    auto inside = in_interval(t, options);
    if (!inside.any().item<bool>()) return both.forward(x, t, both.y);
    auto [cond, uncond] = both(x, t);
    return select_rows(inside, with_guided(mix(cond, uncond, options), cond), cond);
  };
  return zero_initialised(std::move(model), options.zero_init_calls());
}

ModelFn classifier_free_guidance_doubled(LabelledForward forward, torch::Tensor y,
                                         GuidanceOptions options, LabelledForward guide) {
  auto both = branches(std::move(forward), std::move(guide), std::move(y), options);
  ModelFn model = [both, options](const torch::Tensor& x, const torch::Tensor& t) {
    const int64_t n = both.y.size(0);
    TORCH_CHECK(x.size(0) == 2 * n,
                "classifier_free_guidance_doubled: the state must be [z; z] "
                "with ",
                2 * n, " rows, but got ", x.size(0));
    auto half = x.narrow(0, 0, n);
    auto half_t = t.narrow(0, 0, n);
    auto inside = in_interval(t, options);
    if (!inside.any().item<bool>()) {
      auto cond = both.forward(half, half_t, both.y);
      return torch::cat({cond, cond});
    }
    auto [cond, uncond] = both(half, half_t);
    auto eps = mix(cond, uncond, options);
    auto guided = torch::cat({with_guided(eps, cond), with_guided(eps, uncond)});
    return select_rows(inside, guided, torch::cat({cond, cond}));
  };
  return zero_initialised(std::move(model), options.zero_init_calls());
}

void GuidanceOptions::validate() const {
  config::check_ranges(*this);
  const auto& interval = cfg_interval();
  config::require(interval.size() == 2 && 0 <= interval[0] && interval[0] < interval[1] && interval[1] <= 1,
                  "cfg_interval", config::text(interval), "expected lo,hi with 0 <= lo < hi <= 1");
  const std::string unguided = "needs guidance, which " + config::setting("cfg_scale") + " " + config::text(cfg_scale()) + " turns off (give > 1)";
  config::require(!cfg_zero_star() || guided(), "cfg_zero_star", "", unguided);
  if (zero_init_steps() && *zero_init_steps() > 0) {
    config::require(guided(), "zero_init_steps", std::to_string(*zero_init_steps()), unguided);
  }
  if (guidance_rescale() > 0) config::require(guided(), "guidance_rescale", config::text(guidance_rescale()), unguided);
}

void GuidanceOptions::validate_for(ModelType prediction) const {
  if (zero_init_calls() == 0 || prediction == ModelType::Velocity) return;
  const std::string problem = "zero-init returns a zero velocity, but this model predicts " +
                              config::enum_name(prediction) + " (velocity models only)";
  if (zero_init_steps()) config::require(false, "zero_init_steps", std::to_string(*zero_init_steps()), problem);
  config::require(false, "cfg_zero_star", "", problem + "; give " + config::setting("zero_init_steps") + " 0 for the optimised scale alone");
}

torch::Tensor ConditionedModel::initial_state(const torch::Tensor& z) const {
  return doubled ? torch::cat({z, z}) : z;
}

torch::Tensor ConditionedModel::samples(const torch::Tensor& state) const {
  return doubled ? state.narrow(0, 0, state.size(0) / 2) : state;
}

ConditionedModel condition(LabelledForward forward, torch::Tensor y,
                           const std::optional<GuidanceOptions>& guidance, LabelledForward guide) {
  TORCH_CHECK((guidance && guidance->guided()) || !guide, "condition: a guide needs guidance (a cfg scale > 1)");
  if (guidance && guidance->guided()) {
    return {classifier_free_guidance_doubled(std::move(forward), std::move(y), *guidance, std::move(guide)),
            true};
  }
  return {[forward = std::move(forward), y = std::move(y)](const torch::Tensor& x, const torch::Tensor& t) {
            return forward(x, t, y);
          },
          false};
}

}  // namespace sit::transport
