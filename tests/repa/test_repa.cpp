// REPA: the projector and loss against REPA's models/sit.py and loss.py (fixtures from
// tests/data/repa/make_*_fixtures.py), the classifier teacher, DINOv2, and REPA in the trainer.
#include "support/catch_torch.h"
#include <sit/config/error.h>
#include <sit/error.h>
#include <sit/eval/classifier.h>
#include <sit/io/npy.h>
#include <sit/io/state_dict.h>
#include <sit/io/torch_load.h>
#include <sit/nn/sit_from_state_dict.h>
#include <sit/pipeline/generator.h>
#include <sit/repa/dinov2.h>
#include <sit/repa/encoder.h>
#include <sit/repa/repa.h>
#include <sit/train/trainer.h>

#include <filesystem>
#include <set>

#include "support/exceptions.h"
#include "support/files.h"
#include "support/tensor_lists.h"
#include "train/tiny_config.h"

namespace {

std::string repa_data(const std::string& name) { return std::string(SIT_TEST_DATA_DIR) + "/repa/" + name; }

double max_abs(const torch::Tensor& a, const torch::Tensor& b) {
  return (a.to(torch::kFloat64) - b.to(torch::kFloat64)).abs().max().item<double>();
}

// The state dict's entries under `prefix`, without it.
sit::io::StateDict under(const sit::io::StateDict& state_dict, const std::string& prefix) {
  sit::io::StateDict part;
  for (const auto& item : state_dict) {
    if (item.key().rfind(prefix, 0) == 0) part.insert(item.key().substr(prefix.size()), item.value());
  }
  return part;
}

}  // namespace

TEST_CASE("REPA's hidden tokens, projector and projection loss match models/sit.py and loss.py", "[repa]") {
  auto sd = sit::io::read_state_dict(repa_data("repa_sit.pt"));
  auto ref = sit::io::read_npz(repa_data("repa_reference.npz"));
  sit::nn::SiT model(sit::nn::SiTOptions()
                         .input_size(8)
                         .patch_size(2)
                         .in_channels(4)
                         .hidden_size(32)
                         .depth(3)
                         .num_heads(2)
                         .mlp_ratio(2)
                         .class_dropout_prob(0.1)
                         .num_classes(10)
                         .learn_sigma(false));
  sit::io::load_state_dict(*model, sit::nn::without_projectors(sd), "repa_sit.pt");
  auto projector = sit::repa::build_projector(32, 32, 24);
  sit::io::load_state_dict(*projector, under(sd, sit::repa::kProjectorPrefix), "repa_sit.pt [projectors.0.]");
  model->eval();
  torch::NoGradGuard no_grad;

  auto [output, hidden] = model->forward_with_hidden(ref["model_input"], ref["time_input"], ref["y"],
                                                     /*depth=*/2);
  auto zs_tilde = projector->forward(hidden);  // (3, 16, 24)
  // Float32 against float32; the script's float32-float64 differences are 4e-7 (output), 4e-8
  // (zs_tilde) and 2e-9 (proj_loss).
  CHECK(max_abs(output, ref["output"]) < 1e-5);
  CHECK(max_abs(zs_tilde, ref["zs_tilde"]) < 1e-6);
  CHECK(max_abs(sit::repa::projection_loss(ref["z"], zs_tilde), ref["proj_loss"]) < 1e-6);
  // The hidden tokens cost the default path nothing: forward is the same computation.
  CHECK(torch::equal(output, model->forward(ref["model_input"], ref["time_input"], ref["y"])));
}

TEST_CASE("REPA's projector has REPA's layers and a depth beyond the model's is a one-line error", "[repa]") {
  auto projector = sit::repa::build_projector(16, 8, 4);
  auto keys = sit::io::state_dict(*projector).keys();
  CHECK(keys == std::vector<std::string>{"0.weight", "0.bias", "2.weight", "2.bias", "4.weight", "4.bias"});
  CHECK(sit::repa::build_projector(16, 8, 4)->forward(torch::zeros({2, 5, 16})).sizes() == torch::IntArrayRef{2, 5, 4});

  sit::test::TempDir dir;
  auto config = sit::test::tiny_config(dir.path().string());  // depth 1
  config.repa.encoder("classifier:" + dir.file("c.safetensors"));
  CHECK(sit::test::message_of([&] { config.validate(); }) ==
        "repa_encoder classifier:" + dir.file("c.safetensors") + ": no such file (make it with sit-eval "
        "train-classifier --out " + dir.file("c.safetensors") + ")");
  sit::eval::Classifier classifier(sit::eval::ClassifierOptions().image_size(8).channels(4).num_classes(4));
  sit::eval::save_classifier(classifier, dir.file("c.safetensors"));
  CHECK(sit::test::message_of([&] { config.validate(); }) == "repa_depth 8: must be at most the model's depth, 1");
  config.repa.depth(1);
  CHECK_NOTHROW(config.validate());
  config.data.data = sit::train::DataSource::Latents;
  config.data.data_path = "latents";
  CHECK_THROWS_AS(config.validate(), sit::config::ConfigError);
}

TEST_CASE("the classifier teacher averages its spatial features over the token grid's blocks", "[repa]") {
  sit::test::TempDir dir;
  torch::manual_seed(0);
  sit::eval::Classifier classifier(sit::eval::ClassifierOptions().image_size(8).channels(4).num_classes(4));
  classifier->reset_parameters(at::detail::getDefaultCPUGenerator());
  const auto path = dir.file("classifier.safetensors");
  sit::eval::save_classifier(classifier, path);
  classifier->eval();

  auto images = torch::rand({3, 1, 8, 8}) * 2 - 1;
  auto features = classifier->spatial_features(images).detach();  // (3, 8, 4, 4)
  auto same_grid = sit::repa::load_encoder("classifier:" + path, {1, 8, 8}, 4);
  CHECK(same_grid->embed_dim() == 8);
  CHECK(torch::allclose(same_grid->encode(images), features.flatten(2).transpose(1, 2)));
  auto coarse = sit::repa::load_encoder("classifier:" + path, {1, 8, 8}, 2)->encode(images);  // (3, 4, 8)
  REQUIRE(coarse.sizes() == torch::IntArrayRef{3, 4, 8});
  for (int64_t i = 0; i < 2; ++i) {
    for (int64_t j = 0; j < 2; ++j) {
      auto block = features.slice(2, 2 * i, 2 * i + 2).slice(3, 2 * j, 2 * j + 2).mean({2, 3});  // (3, 8)
      CHECK(max_abs(coarse.select(1, 2 * i + j), block) < 1e-6);
    }
  }

  using sit::test::message_of;
  CHECK(message_of([&] { sit::repa::load_encoder("classifier:" + path, {1, 8, 8}, 3); }) ==
        "repa_encoder classifier:" + path +
            ": its 4x4 feature grid cannot be averaged to the SiT's 3x3 token grid (it needs a patch size whose "
            "grid divides 4)");
  CHECK(message_of([&] { sit::repa::load_encoder("classifier:" + path, {3, 8, 8}, 2); }) ==
        "repa_encoder classifier:" + path + ": the classifier takes 1x8x8 images, the data is 3x8x8");
  CHECK(message_of([&] { sit::repa::load_encoder("inception:x", {1, 8, 8}, 2); }) ==
        "repa_encoder 'inception:x': expected classifier:FILE, dinov2-vit-s:FILE, dinov2-vit-b:FILE or "
        "dinov2-vit-l:FILE");
  CHECK_THROWS_AS(sit::repa::load_encoder("classifier", {1, 8, 8}, 2), sit::config::ConfigError);
}

TEST_CASE("DINOv2 as REPA runs it matches dinov2's forward_features, resampled pos_embed and preprocessing", "[repa]") {
  auto ref = sit::io::read_npz(repa_data("dinov2_reference.npz"));
  sit::repa::Dinov2 model(sit::repa::Dinov2Options().embed_dim(32).depth(2).num_heads(2));
  sit::io::load_state_dict(*model, sit::io::read_state_dict(repa_data("dinov2_random.pth")), "dinov2_random.pth");
  model->eval();
  model->resample_pos_embed(16);  // 37x37 -> 16x16 patch positions
  CHECK(model->options.img_size() == 224);
  CHECK(max_abs(model->pos_embed, ref["pos_embed"]) < 1e-6);

  torch::NoGradGuard no_grad;
  auto images = ref["images"].to(torch::kFloat32) / 127.5 - 1;  // the data space, as the data loader gives it
  auto tokens = model->forward_features(sit::repa::dinov2_preprocess(images, 224));  // (2, 256, 32)
  // Float32 against float32; the script's float32-float64 difference is 5e-6 of values up to 3.5.
  CHECK(max_abs(tokens, ref["x_norm_patchtokens"]) < 1e-4);

  using sit::test::message_of;
  const auto missing = repa_data("dinov2_vitb14_pretrain.pth");
  CHECK(message_of([&] { sit::repa::load_encoder("dinov2-vit-b:" + missing, {3, 256, 256}, 16); }) ==
        "repa_encoder dinov2-vit-b:" + missing + ": no such file (DINOv2's authors publish it at "
        "https://dl.fbaipublicfiles.com/dinov2/dinov2_vitb14/dinov2_vitb14_pretrain.pth)");
  CHECK_THROWS_AS(sit::repa::load_encoder("dinov2-vit-s:" + repa_data("dinov2_random.pth"), {3, 256, 256}, 16),
                  sit::FileError);  // a width-32 ViT is not ViT-S/14
  CHECK(message_of([&] { sit::repa::load_encoder("dinov2-vit-b:" + repa_data("dinov2_random.pth"), {3, 256, 128}, 16); }) ==
        "repa_encoder dinov2-vit-b:" + repa_data("dinov2_random.pth") +
            ": DINOv2 takes square RGB (or grey) images, the data is 3x256x128");
}

namespace {

// The tiny run (depth 1, patch 4: a 2x2 token grid) with REPA's classifier teacher on a random
// 1x8x8 classifier written to `dir`.
sit::train::TrainConfig repa_config(const sit::test::TempDir& dir) {
  const auto path = dir.file("teacher.safetensors");
  if (!std::filesystem::exists(path)) {
    torch::manual_seed(1);
    sit::eval::Classifier classifier(sit::eval::ClassifierOptions().image_size(8).channels(4).num_classes(4));
    classifier->reset_parameters(at::detail::getDefaultCPUGenerator());
    sit::eval::save_classifier(classifier, path);
  }
  auto config = sit::test::tiny_config(dir.path().string());
  config.repa.encoder("classifier:" + path).depth(1).projector_dim(16);
  return config;
}

// A copy of the module's parameters.
std::vector<torch::Tensor> weights(const torch::nn::Module& module) { return sit::test::copies(module.parameters()); }

}  // namespace

TEST_CASE("REPA at weight 0 trains the SiT as without REPA, and at 0.5 it changes the training", "[repa][train]") {
  torch::set_num_threads(1);
  sit::test::TempDir dir;
  auto data = std::make_shared<sit::test::TinyDataset>();
  sit::train::Trainer plain(sit::test::tiny_config(dir.path().string()), data);
  auto config = repa_config(dir);
  config.repa.proj_coeff(0);
  sit::train::Trainer weight0(config, data);
  config.repa.proj_coeff(0.5);
  sit::train::Trainer repa(config, data);
  CHECK(sit::test::all_equal(weights(*plain.model()), weights(*repa.model())));  // the same initial SiT
  double plain_loss = 0, repa_loss = 0;
  for (int i = 0; i < 3; ++i) {
    plain_loss = plain.train_step();
    CHECK(weight0.train_step() == plain_loss);
    repa_loss = repa.train_step();
  }
  CHECK(sit::test::all_equal(weights(*plain.model()), weights(*weight0.model())));
  CHECK_FALSE(sit::test::all_equal(weights(*plain.model()), weights(*repa.model())));
  // The step's loss is the flow loss plus 0.5 times the alignment loss, a mean of -cos.
  CHECK(repa.repa_loss() >= -1);
  CHECK(repa.repa_loss() <= 1);
  CHECK(repa.repa_loss() != 0);
  CHECK(weight0.repa_loss() != 0);
}

TEST_CASE("a REPA run resumes exactly, its projector and moments in the checkpoint's model and opt", "[repa][train]") {
  torch::set_num_threads(1);
  sit::test::TempDir dir;
  auto data = std::make_shared<sit::test::TinyDataset>();
  auto config = repa_config(dir);
  sit::train::Trainer uninterrupted(config, data);
  std::vector<double> expected;
  for (int i = 0; i < 6; ++i) expected.push_back(uninterrupted.train_step());

  sit::train::Trainer first(config, data);
  for (int i = 0; i < 3; ++i) CHECK(first.train_step() == expected[i]);
  const auto checkpoint = dir.file("ckpt.pt");
  first.save_checkpoint(checkpoint);
  sit::train::Trainer resumed(config, data);
  resumed.resume(checkpoint);
  for (int i = 3; i < 6; ++i) CHECK(resumed.train_step() == expected[i]);
  CHECK(sit::test::all_equal(weights(*resumed.model()), weights(*uninterrupted.model())));
  CHECK(sit::test::all_equal(weights(*resumed.projector()), weights(*uninterrupted.projector())));

  auto root = sit::io::torch_load(checkpoint);
  const auto model = sit::io::state_dict_from_value(*root.to_dict().find("model"), "model");
  const auto ema = sit::io::state_dict_from_value(*root.to_dict().find("ema"), "ema");
  CHECK(model.contains("projectors.0.0.weight"));
  CHECK(model.contains("projectors.0.4.bias"));
  CHECK_FALSE(ema.contains("projectors.0.0.weight"));
  const auto model_parameters = static_cast<int64_t>(first.model()->parameters().size());
  const auto& opt_state = root.to_dict().find("opt")->to_dict().find("state")->to_dict();
  std::set<int64_t> indices;
  for (const auto& item : opt_state.items) indices.insert(item.first.to_int());
  CHECK(indices.count(model_parameters + 5) == 1);  // the projector's last bias
  // Sampling (sit-sample's sit::Generator) reads either entry as the SiT alone.
  CHECK_NOTHROW(sit::Generator(checkpoint, sit::GeneratorOptions().ckpt_entry("model")));
  CHECK_NOTHROW(sit::Generator(checkpoint, sit::GeneratorOptions().ckpt_entry("ema")));
}
