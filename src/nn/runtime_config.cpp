#include <sit/nn/runtime_config.h>

#include <torch/types.h>

namespace sit::nn {

void RuntimeConfig::validate() const {
  try {
    torch::Device parsed(device);
    (void)parsed;
  } catch (const c10::Error&) {
    throw config::ConfigError(config::setting("device") + " " + device + ": expected cpu, cuda or cuda:N");
  }
  config::require(threads >= 0, "threads", std::to_string(threads), "must be 0 (every core) or more");
}

}  // namespace sit::nn
