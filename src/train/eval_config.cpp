#include <sit/train/eval_config.h>

namespace sit::train {

void EvalConfig::validate() const {
  using config::require;
  require(eval_every >= 0, "eval_every", std::to_string(eval_every), "must be 0 (no evaluation) or positive");
  if (!enabled()) return;
  require(eval_samples >= 4, "eval_samples", std::to_string(eval_samples),
          "must be 4 or more (precision and recall compare each sample with its 3 nearest)");
  const std::string& weights = inception.inception;
  require(weights.empty() || !eval_ref.empty(), "inception", weights,
          "needs " + config::setting("eval_ref") + ": the statistics to compare with (sit-eval stats)");
  require(eval_ref.empty() || !weights.empty(), "eval_ref", eval_ref, "needs " + config::setting("inception") + ": the network of its statistics");
  require(!weights.empty() || !eval_classifier.empty(), "eval_every", std::to_string(eval_every),
          "needs a feature network: " + config::setting("inception") + " with " + config::setting("eval_ref") + ", or " + config::setting("eval_classifier"));
}

}  // namespace sit::train
