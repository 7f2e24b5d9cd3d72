#include <sit/config/error.h>
#include <sit/eval/statistics_file.h>
#include <sit/io/npy.h>

#include <sstream>
#include <stdexcept>

namespace sit::eval {

namespace {

torch::Tensor text_array(const std::string& text) {
  return torch::tensor(std::vector<uint8_t>(text.begin(), text.end()), torch::kUInt8);
}

std::string array_text(const torch::Tensor& array) {
  const auto bytes = array.contiguous();
  return std::string(reinterpret_cast<const char*>(bytes.data_ptr<uint8_t>()), bytes.numel());
}

// arrays[key], checked to be a float array of `dims` dimensions whose sizes equal `sizes` where given (>= 0).
const torch::Tensor& checked(const io::NamedArrays& arrays, const std::string& path, const std::string& key,
                      std::vector<int64_t> sizes) {
  const auto* array = arrays.find(key);
  if (array == nullptr) throw std::invalid_argument(path + ": no '" + key + "' array");
  bool ok = array->is_floating_point() && array->dim() == static_cast<int64_t>(sizes.size());
  for (size_t i = 0; ok && i < sizes.size(); ++i) ok = sizes[i] < 0 || array->size(i) == sizes[i];
  if (!ok) {
    std::ostringstream message;
    message << path << ": '" << key << "' is " << array->scalar_type() << " " << array->sizes()
            << ", expected a float array of shape (";
    for (size_t i = 0; i < sizes.size(); ++i) message << (i ? ", " : "") << (sizes[i] < 0 ? "N" : std::to_string(sizes[i]));
    message << ")";
    throw std::invalid_argument(message.str());
  }
  return *array;
}

}  // namespace

InceptionStatistics inception_statistics(const InceptionFeatures& features, InputMode mode) {
  return {gaussian_statistics(features.pool_3), gaussian_statistics(features.spatial),
          features.pool_3.to(torch::kFloat32), mode};
}

void write_statistics(const std::string& path, const InceptionStatistics& statistics) {
  io::NamedArrays arrays;
  arrays.insert("mu", statistics.pool.mean);
  arrays.insert("sigma", statistics.pool.covariance);
  arrays.insert("mu_s", statistics.spatial.mean);
  arrays.insert("sigma_s", statistics.spatial.covariance);
  if (statistics.pool_3.defined()) arrays.insert("pool_3", statistics.pool_3.to(torch::kFloat32));
  if (statistics.input_mode) arrays.insert("input_mode", text_array(config::enum_name(*statistics.input_mode)));
  io::write_npz(path, arrays);
}

std::optional<InceptionStatistics> read_statistics(const std::string& path) {
  return read_statistics(io::read_npz(path), path);
}

std::optional<InceptionStatistics> read_statistics(const io::NamedArrays& arrays, const std::string& path) {
  if (!arrays.contains("mu") && !arrays.contains("sigma") && !arrays.contains("mu_s") && !arrays.contains("sigma_s")) {
    return std::nullopt;
  }
  InceptionStatistics statistics;
  const auto mu = checked(arrays, path, "mu", {-1}).to(torch::kFloat64);
  statistics.pool = {mu, checked(arrays, path, "sigma", {mu.size(0), mu.size(0)}).to(torch::kFloat64)};
  const auto mu_s = checked(arrays, path, "mu_s", {-1}).to(torch::kFloat64);
  statistics.spatial = {mu_s, checked(arrays, path, "sigma_s", {mu_s.size(0), mu_s.size(0)}).to(torch::kFloat64)};
  if (arrays.contains("pool_3")) statistics.pool_3 = checked(arrays, path, "pool_3", {-1, mu.size(0)}).to(torch::kFloat32);
  if (const auto* mode = arrays.find("input_mode")) {
    if (mode->scalar_type() != torch::kUInt8 || mode->dim() != 1) {
      throw std::invalid_argument(path + ": 'input_mode' must be uint8 text");
    }
    try {
      statistics.input_mode = config::parse_enum<InputMode>(array_text(*mode));
    } catch (const config::ConfigError& error) {
      throw std::invalid_argument(path + ": " + error.what());
    }
  }
  return statistics;
}

void require_input_mode(const InceptionStatistics& statistics, InputMode mode, const std::string& source) {
  const auto made = statistics.input_mode.value_or(InputMode::ADM);
  if (made == mode) return;
  throw config::ConfigError(source + ": its statistics were computed in input mode " + config::enum_name(made) +
                            (statistics.input_mode ? "" : " (an ADM reference batch, made by TensorFlow)") +
                            ", but " + config::setting("input_mode") + " is " + config::enum_name(mode));
}

}  // namespace sit::eval
