// diffusers' AutoencoderKL: the modules against diffusers' own outputs (tests/data/vae), the three
// weight files, the legacy attention names, the full SD-VAE key set, and one-line load errors.
#include "support/catch_torch.h"
#include <ATen/CPUGeneratorImpl.h>
#include <sit/io/npy.h>
#include <sit/io/state_dict.h>
#include <sit/vae/vae_from_state_dict.h>

#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>

#include "support/exceptions.h"
#include "vae/decoder.h"
#include "support/files.h"
#include "support/relative_l2.h"

using sit::test::message_of;
using sit::test::relative_l2;
namespace fs = std::filesystem;

namespace {

// Relative L2 of a float32 port against diffusers (see tests/data/vae/README.md).
constexpr double kTolerance = 1e-5;

const std::string kSmall = std::string(SIT_TEST_DATA_DIR) + "/vae/small";

torch::Tensor fixture(const std::string& name) { return sit::io::read_npy(kSmall + "/" + name + ".npy"); }

nlohmann::json read_json(const std::string& path) {
  std::ifstream in(path);
  return nlohmann::json::parse(in);
}

sit::vae::AutoencoderKL small_vae(const std::string& weights = "vae.safetensors") {
  return sit::vae::load_vae(kSmall + "/" + weights);
}

}  // namespace

TEST_CASE("config.json gives the small case's architecture", "[vae]") {
  auto options = sit::vae::read_vae_config(kSmall + "/config.json");
  CHECK(options.block_out_channels() == std::vector<int64_t>{32, 64});
  CHECK(options.layers_per_block() == 1);
  CHECK(options.norm_num_groups() == 8);
  CHECK(options.latent_channels() == 4);
  CHECK(options.scaling_factor() == 0.18215);
  CHECK(options.downsample_factor() == 2);
  auto params = read_json(kSmall + "/case.json")["param_count"].get<int64_t>();
  sit::vae::AutoencoderKL vae(options);
  int64_t count = 0;
  for (const auto& p : vae->parameters()) count += p.numel();
  CHECK(count == params);

  CHECK_THAT(message_of([] { sit::vae::parse_vae_config(R"({"block_out_channels": [32], "down_block_types": ["CrossAttnDownBlock2D"]})", "c.json"); }),
             Catch::Contains("c.json") && Catch::Contains("CrossAttnDownBlock2D"));
  CHECK_THAT(message_of([] { sit::vae::parse_vae_config(R"({"layers_per_block": "two"})", "c.json"); }),
             Catch::Contains("layers_per_block"));
  // Counts must be positive (norm_num_groups 0 divided by zero) and there are at most 8 blocks
  // (70 shifted the downsampling factor past 64 bits).
  CHECK_THAT(message_of([] { sit::vae::parse_vae_config(R"({"norm_num_groups": 0})", "c.json"); }),
             Catch::Equals("c.json: 'norm_num_groups' is 0, expected a positive count"));
  CHECK_THAT(message_of([] { sit::vae::parse_vae_config(R"({"block_out_channels": [8, 4e45]})", "c.json"); }),
             Catch::Contains("c.json: 'block_out_channels' has the wrong type: [8,"));
  CHECK_THAT(message_of([] { sit::vae::parse_vae_config(R"({"latent_channels": -4})", "c.json"); }),
             Catch::Contains("'latent_channels' is -4"));
  CHECK_THAT(message_of([] { sit::vae::parse_vae_config(R"({"block_out_channels": [1, 1, 1, 1, 1, 1, 1, 1, 1], "norm_num_groups": 1})", "c.json"); }),
             Catch::Equals("c.json: block_out_channels has 9 entries, expected 1 to 8"));
}

TEST_CASE("the default options build the SD-VAE with exactly diffusers' keys and shapes", "[vae]") {
  auto reference = read_json(std::string(SIT_TEST_DATA_DIR) + "/vae/full_config_keys.json");
  sit::vae::AutoencoderKL vae;  // instantiated only: 84M parameters, never run
  auto state = sit::io::state_dict(*vae);
  REQUIRE(state.size() == reference["keys"].size());
  REQUIRE(state.size() == reference["num_tensors"].get<size_t>());
  size_t index = 0;
  for (const auto& key : reference["keys"]) {
    INFO(key["name"].get<std::string>());
    const torch::Tensor* tensor = state.find(key["name"].get<std::string>());
    REQUIRE(tensor != nullptr);
    CHECK(tensor->sizes().vec() == key["shape"].get<std::vector<int64_t>>());
    CHECK(state.keys()[index++] == key["name"].get<std::string>());  // state_dict() order too
  }
  int64_t count = 0;
  for (const auto& p : vae->parameters()) count += p.numel();
  CHECK(count == reference["param_count"].get<int64_t>());
  CHECK(count == 83653863);
}

TEST_CASE("the three weight files load to the same weights", "[vae]") {
  auto reference = sit::io::state_dict(*small_vae("vae.pt"));
  for (const char* file : {"vae.safetensors", "vae_legacy_attn.safetensors"}) {
    INFO(file);
    auto loaded = sit::io::state_dict(*small_vae(file));
    REQUIRE(loaded.size() == reference.size());
    for (const auto& item : reference) CHECK(torch::equal(loaded[item.key()], item.value()));
  }
  // The legacy file really holds the old names, which the conversion maps.
  auto legacy = sit::io::read_state_dict(kSmall + "/vae_legacy_attn.safetensors");
  CHECK(legacy.contains("encoder.mid_block.attentions.0.query.weight"));
  CHECK(legacy.contains("decoder.mid_block.attentions.0.proj_attn.bias"));
  auto converted = sit::vae::convert_legacy_attention_names(legacy);
  CHECK(converted.contains("encoder.mid_block.attentions.0.to_q.weight"));
  CHECK(converted.contains("decoder.mid_block.attentions.0.to_out.0.bias"));
  CHECK(converted.contains("decoder.mid_block.attentions.0.group_norm.weight"));
}

TEST_CASE("1x1-conv-shaped legacy attention weights are reshaped", "[vae]") {
  auto state = sit::io::read_state_dict(kSmall + "/vae_legacy_attn.safetensors");
  sit::io::StateDict conv_shaped;
  for (const auto& item : state) {
    bool projection = item.key().find(".attentions.0.") != std::string::npos && item.value().dim() == 2;
    conv_shaped.insert(item.key(), projection ? item.value().unsqueeze(-1).unsqueeze(-1) : item.value());
  }
  CHECK(conv_shaped["encoder.mid_block.attentions.0.key.weight"].dim() == 4);
  sit::test::TempDir tmp;
  sit::io::save_state_dict(conv_shaped, tmp.file("conv.safetensors"));
  auto loaded = sit::vae::load_vae(tmp.file("conv.safetensors"), kSmall + "/config.json");
  auto reference = small_vae("vae.pt");
  CHECK(torch::equal(loaded->decoder->mid_block->attentions[0]->as<sit::vae::AttentionImpl>()->to_k->weight,
                     reference->decoder->mid_block->attentions[0]->as<sit::vae::AttentionImpl>()->to_k->weight));
}

TEST_CASE("encode and decode match diffusers", "[vae]") {
  torch::NoGradGuard no_grad;
  auto vae = small_vae();
  auto x = fixture("x");
  auto posterior = vae->encode(x);
  double mean_error = relative_l2(posterior.mean, fixture("mean"));
  double logvar_error = relative_l2(posterior.logvar, fixture("logvar"));
  double std_error = relative_l2(posterior.std(), fixture("std"));
  auto seed = read_json(kSmall + "/case.json")["eps_generator_seed"].get<uint64_t>();
  auto generator = at::detail::createCPUGenerator(seed);
  auto z = posterior.sample(generator);
  double z_error = relative_l2(z, fixture("z_sample"));
  double decoded_error = relative_l2(vae->decode(fixture("latent_in")), fixture("decoded"));
  double roundtrip_error = relative_l2(vae->forward(x), fixture("roundtrip"));
  auto rect = vae->encode(fixture("x_rect"));
  double mean_rect_error = relative_l2(rect.mean, fixture("mean_rect"));
  double logvar_rect_error = relative_l2(rect.logvar, fixture("logvar_rect"));
  double decoded_rect_error = relative_l2(vae->decode(fixture("latent_rect")), fixture("decoded_rect"));
  WARN("rel L2: mean " << mean_error << ", logvar " << logvar_error << ", std " << std_error << ", z_sample "
                       << z_error << ", decoded " << decoded_error << ", roundtrip " << roundtrip_error
                       << ", mean_rect " << mean_rect_error << ", logvar_rect " << logvar_rect_error
                       << ", decoded_rect " << decoded_rect_error);
  CHECK(mean_error < kTolerance);
  CHECK(logvar_error < kTolerance);
  CHECK(std_error < kTolerance);
  CHECK(z_error < kTolerance);
  CHECK(decoded_error < kTolerance);
  CHECK(roundtrip_error < kTolerance);
  CHECK(mean_rect_error < kTolerance);
  CHECK(logvar_rect_error < kTolerance);
  CHECK(decoded_rect_error < kTolerance);
  // The fixture's latent_in is latent_scaled / scaling_factor, as sampling divides.
  CHECK(relative_l2(fixture("latent_scaled") / vae->options.scaling_factor(), fixture("latent_in")) < 1e-7);
}

TEST_CASE("sliced encode and decode equal the whole batch", "[vae]") {
  torch::NoGradGuard no_grad;
  auto vae = small_vae();
  auto x = fixture("x");
  auto latents = fixture("latent_in");
  CHECK(relative_l2(vae->decode(latents, /*slice_size=*/1), vae->decode(latents)) < 1e-6);
  CHECK(relative_l2(vae->encode(x, /*slice_size=*/1).mean, vae->encode(x).mean) < 1e-6);
  CHECK(relative_l2(vae->decode(latents, 1), fixture("decoded")) < kTolerance);
}

TEST_CASE("a diffusers folder loads with its config", "[vae]") {
  sit::test::TempDir tmp;
  fs::copy_file(kSmall + "/config.json", tmp.file("config.json"));
  fs::copy_file(kSmall + "/vae_legacy_attn.safetensors", tmp.file("diffusion_pytorch_model.safetensors"));
  auto files = sit::vae::find_vae_files(tmp.path().string());
  CHECK(files.weights == tmp.file("diffusion_pytorch_model.safetensors"));
  CHECK(files.config == tmp.file("config.json"));
  torch::NoGradGuard no_grad;
  auto vae = sit::vae::load_vae(tmp.path().string());
  CHECK(relative_l2(vae->decode(fixture("latent_in")), fixture("decoded")) < kTolerance);

  // A torch.save .bin (what diffusers writes without safetensors) is the fallback.
  sit::test::TempDir bin;
  fs::copy_file(kSmall + "/config.json", bin.file("config.json"));
  fs::copy_file(kSmall + "/vae.pt", bin.file("diffusion_pytorch_model.bin"));
  CHECK(sit::vae::find_vae_files(bin.path().string()).weights == bin.file("diffusion_pytorch_model.bin"));
  CHECK(relative_l2(sit::vae::load_vae(bin.path().string())->decode(fixture("latent_in")), fixture("decoded")) <
        kTolerance);

  sit::test::TempDir empty;
  CHECK_THAT(message_of([&] { sit::vae::load_vae(empty.path().string()); }),
             Catch::Contains("diffusion_pytorch_model"));
}

TEST_CASE("a wrong key or shape is a one-line error naming it", "[vae]") {
  sit::test::TempDir tmp;
  auto state = sit::io::read_state_dict(kSmall + "/vae.safetensors");
  sit::io::StateDict renamed, reshaped;
  for (const auto& item : state) {
    bool target = item.key() == "decoder.up_blocks.0.resnets.1.conv2.weight";
    renamed.insert(target ? "decoder.up_blocks.0.resnets.1.conv3.weight" : item.key(), item.value());
    reshaped.insert(item.key(), target ? item.value().narrow(0, 0, 8) : item.value());
  }
  sit::io::save_state_dict(renamed, tmp.file("renamed.safetensors"));
  sit::io::save_state_dict(reshaped, tmp.file("reshaped.safetensors"));
  auto config = kSmall + "/config.json";
  auto key_error = message_of([&] { sit::vae::load_vae(tmp.file("renamed.safetensors"), config); });
  CHECK_THAT(key_error, Catch::Contains("renamed.safetensors") &&
                            Catch::Contains("decoder.up_blocks.0.resnets.1.conv3.weight") &&
                            Catch::Contains("decoder.up_blocks.0.resnets.1.conv2.weight"));
  auto shape_error = message_of([&] { sit::vae::load_vae(tmp.file("reshaped.safetensors"), config); });
  CHECK_THAT(shape_error, Catch::Contains("decoder.up_blocks.0.resnets.1.conv2.weight") &&
                              Catch::Contains("8") && Catch::Contains("64"));
  // Without a config.json beside them the SD-VAE default applies, which the small weights miss.
  fs::copy_file(kSmall + "/vae.safetensors", tmp.file("alone.safetensors"));
  auto default_error = message_of([&] { sit::vae::load_vae(tmp.file("alone.safetensors")); });
  CHECK_THAT(default_error, Catch::Contains("alone.safetensors") && Catch::Contains("missing keys"));
  auto config_error = message_of([&] { sit::vae::load_vae(kSmall + "/vae.safetensors", tmp.file("none.json")); });
  CHECK_THAT(config_error, Catch::Contains("none.json"));
  for (const auto& error : {key_error, shape_error, default_error, config_error}) {
    CHECK(error.find('\n') == std::string::npos);
  }
}
