#include <sit/eval/classifier.h>
#include <sit/error.h>
#include <sit/io/safetensors.h>
#include <sit/io/state_dict.h>

#include <ATen/CPUGeneratorImpl.h>

#include <cmath>
#include <stdexcept>

namespace sit::eval {

namespace F = torch::nn::functional;

ClassifierImpl::ClassifierImpl(ClassifierOptions options_) : options(std::move(options_)) { reset(); }

void ClassifierImpl::reset() {
  TORCH_CHECK(options.image_size() % 4 == 0, "image_size divisible by 4, but got ", options.image_size());
  const int64_t c = options.channels(), side = options.image_size() / 4;
  using torch::nn::Conv2dOptions;
  conv1 = register_module("conv1", torch::nn::Conv2d(Conv2dOptions(options.in_channels(), c, 3).padding(1)));
  norm1 = register_module("norm1", torch::nn::BatchNorm2d(c));
  conv2 = register_module("conv2", torch::nn::Conv2d(Conv2dOptions(c, 2 * c, 3).padding(1)));
  norm2 = register_module("norm2", torch::nn::BatchNorm2d(2 * c));
  fc = register_module("fc", torch::nn::Linear(2 * c * side * side, options.feature_dim()));
  head = register_module("head", torch::nn::Linear(options.feature_dim(), options.num_classes()));
}

void ClassifierImpl::pretty_print(std::ostream& stream) const {
  stream << "sit::eval::Classifier(in_channels=" << options.in_channels() << ", image_size=" << options.image_size()
         << ", channels=" << options.channels() << ", feature_dim=" << options.feature_dim()
         << ", num_classes=" << options.num_classes() << ")";
}

void ClassifierImpl::reset_parameters(torch::Generator generator) {
  torch::NoGradGuard no_grad;
  // kaiming_uniform_(a=sqrt(5)) on the weight and the bias rule of torch.nn.Linear/Conv2d both
  // come to U(-1/sqrt(fan_in), 1/sqrt(fan_in)).
  auto init = [&](torch::Tensor& weight, torch::Tensor& bias) {
    const double bound = 1.0 / std::sqrt(static_cast<double>(weight[0].numel()));
    weight.uniform_(-bound, bound, generator);
    bias.uniform_(-bound, bound, generator);
  };
  init(conv1->weight, conv1->bias);
  init(conv2->weight, conv2->bias);
  init(fc->weight, fc->bias);
  init(head->weight, head->bias);
  for (auto* norm : {norm1.get(), norm2.get()}) norm->reset_parameters();
}

torch::Tensor ClassifierImpl::spatial_features(const torch::Tensor& x) {
  TORCH_CHECK(x.dim() == 4 && x.size(1) == options.in_channels() && x.size(2) == options.image_size() &&
                  x.size(3) == options.image_size(),
              "images (N, ", options.in_channels(), ", ", options.image_size(), ", ", options.image_size(),
              "), but got ", x.sizes());
  auto h = F::max_pool2d(torch::relu(norm1(conv1(x))), F::MaxPool2dFuncOptions(2));  // (N, c, H/2, W/2)
  return torch::relu(norm2(conv2(h)));                                                // (N, 2c, H/2, W/2)
}

torch::Tensor ClassifierImpl::features(const torch::Tensor& x) {
  auto h = F::max_pool2d(spatial_features(x), F::MaxPool2dFuncOptions(2));  // (N, 2c, H/4, W/4)
  return torch::relu(fc(h.flatten(1)));                                    // (N, feature_dim)
}

torch::Tensor ClassifierImpl::forward(const torch::Tensor& x) { return head(features(x)); }

torch::Tensor images_to_input(const torch::Tensor& images) {
  TORCH_CHECK(images.scalar_type() == torch::kUInt8 && (images.dim() == 3 || images.dim() == 4),
              "uint8 images (N, H, W) or (N, H, W, C), but got ", images.scalar_type(), " ", images.sizes());
  auto x = images.dim() == 3 ? images.unsqueeze(1) : images.permute({0, 3, 1, 2});
  return x.to(torch::kFloat32).div(127.5).sub(1.0).contiguous();
}

Classifier train_classifier(const torch::Tensor& images, const torch::Tensor& labels,
                            const ClassifierOptions& options, const ClassifierTrainOptions& train,
                            const std::function<void(int64_t, double)>& on_epoch) {
  TORCH_CHECK(labels.dim() == 1 && labels.size(0) == images.size(0), "one label per image, but got ",
              labels.sizes(), " labels for images ", images.sizes());
  auto generator = at::detail::createCPUGenerator(train.seed());
  Classifier classifier(options);
  classifier->reset_parameters(generator);
  classifier->train();
  torch::optim::AdamW optimizer(classifier->parameters(),
                                torch::optim::AdamWOptions(train.lr()).weight_decay(train.weight_decay()));

  const auto inputs = images_to_input(images);
  const auto targets = labels.to(torch::kInt64);
  const int64_t n = inputs.size(0), steps_per_epoch = (n + train.batch_size() - 1) / train.batch_size();
  const int64_t total_steps = train.epochs() * steps_per_epoch;
  int64_t step = 0;
  for (int64_t epoch = 0; epoch < train.epochs(); ++epoch) {
    const auto order = torch::randperm(n, generator, torch::kInt64);
    double loss_sum = 0;
    for (int64_t begin = 0; begin < n; begin += train.batch_size(), ++step) {
      const auto index = order.slice(0, begin, std::min(n, begin + train.batch_size()));
      for (auto& group : optimizer.param_groups()) {
        group.options().set_lr(train.lr() * (1.0 - static_cast<double>(step) / total_steps));
      }
      auto loss = F::cross_entropy(classifier->forward(inputs.index_select(0, index)), targets.index_select(0, index));
      optimizer.zero_grad();
      loss.backward();
      optimizer.step();
      loss_sum += loss.item<double>();
    }
    if (on_epoch) on_epoch(epoch, loss_sum / steps_per_epoch);
  }
  classifier->eval();
  return classifier;
}

ClassifierOutputs classify(Classifier& classifier, const torch::Tensor& images, int64_t batch_size) {
  torch::NoGradGuard no_grad;
  classifier->eval();
  std::vector<torch::Tensor> logits, features;
  for (int64_t begin = 0; begin < images.size(0); begin += batch_size) {
    auto x = images_to_input(images.slice(0, begin, begin + batch_size));
    auto h = classifier->features(x);
    features.push_back(h);
    logits.push_back(classifier->head(h));
  }
  return {torch::cat(logits), torch::cat(features)};
}

double accuracy(const torch::Tensor& logits, const torch::Tensor& labels) {
  TORCH_CHECK(logits.dim() == 2 && labels.dim() == 1 && logits.size(0) == labels.size(0) && labels.size(0) > 0,
              "logits (N, K) and labels (N,), but got ", logits.sizes(), " and ", labels.sizes());
  return logits.argmax(1).eq(labels.to(torch::kInt64)).to(torch::kFloat64).mean().item<double>();
}

namespace {

// The options as header metadata: one decimal integer per field.
const char* const kOptionKeys[] = {"in_channels", "image_size", "channels", "feature_dim", "num_classes"};

int64_t& option_field(ClassifierOptions& options, const std::string& key) {
  if (key == "in_channels") return options.in_channels();
  if (key == "image_size") return options.image_size();
  if (key == "channels") return options.channels();
  if (key == "feature_dim") return options.feature_dim();
  return options.num_classes();
}

}  // namespace

void save_classifier(Classifier& classifier, const std::string& path, std::map<std::string, std::string> metadata) {
  metadata["format"] = "sit.eval.Classifier";
  for (const char* key : kOptionKeys) metadata[key] = std::to_string(option_field(classifier->options, key));
  io::write_safetensors(path, sit::io::state_dict(*classifier), metadata);
}

Classifier load_classifier(const std::string& path) {
  auto file = io::read_safetensors(path);
  auto format = file.metadata.find("format");
  if (format == file.metadata.end() || format->second != "sit.eval.Classifier") {
    throw FileError(path, "not a classifier written by sit-eval train-classifier (no format "
                                    "'sit.eval.Classifier' in its metadata)");
  }
  ClassifierOptions options;
  for (const char* key : kOptionKeys) {
    auto value = file.metadata.find(key);
    if (value == file.metadata.end()) throw FileError(path, std::string("metadata lacks '") + key + "'");
    try {
      option_field(options, key) = std::stoll(value->second);
    } catch (const std::exception&) {
      throw FileError(path, std::string("metadata '") + key + "' is '" + value->second + "', not an integer");
    }
  }
  Classifier classifier(options);
  io::load_state_dict(*classifier, file.tensors, path);
  classifier->eval();
  return classifier;
}

}  // namespace sit::eval
