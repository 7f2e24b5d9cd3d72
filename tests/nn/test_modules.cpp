// Each module against its formula written out independently (loops, not the module's code path).
#include "support/catch_torch.h"
#include <sit/nn/sit.h>
#include <sit/nn/sit_from_state_dict.h>

#include <cmath>

#include "support/relative_l2.h"

namespace {

using sit::test::relative_l2;

sit::nn::SiTOptions tiny_options() {
  return sit::nn::SiTOptions()
      .input_size(8).patch_size(2).in_channels(4).hidden_size(32).depth(2).num_heads(4)
      .num_classes(10).class_dropout_prob(0.1);
}

// Redraw every parameter except pos_embed from N(0, 0.05^2), as the fixtures do: the official
// initialisation zeroes the output layer, which would make every output zero.
void randomize(sit::nn::SiT& model) {
  torch::NoGradGuard no_grad;
  for (auto& item : model->named_parameters()) {
    if (item.key() != "pos_embed") item.value().normal_(0.0, 0.05);
  }
}

}  // namespace

TEST_CASE("timestep_embedding is [cos(t f), sin(t f)] with max_period 10000", "[nn]") {
  auto t = torch::tensor({0.0f, 0.25f, 3.5f, 999.0f});
  const int64_t dim = 9, half = 4;  // odd: one zero column at the end
  auto emb = sit::nn::TimestepEmbedderImpl::timestep_embedding(t, dim);
  REQUIRE(emb.sizes() == torch::IntArrayRef({4, dim}));
  for (int64_t n = 0; n < 4; ++n) {
    double tn = t[n].item<double>();
    for (int64_t k = 0; k < half; ++k) {
      double f = std::exp(-std::log(10000.0) * k / half);
      CHECK(emb[n][k].item<double>() == Approx(std::cos(tn * f)).margin(2e-4));
      CHECK(emb[n][half + k].item<double>() == Approx(std::sin(tn * f)).margin(2e-4));
    }
    CHECK(emb[n][dim - 1].item<double>() == 0.0);
  }
}

TEST_CASE("LabelEmbedder: the null row, forced drops and training dropout", "[nn]") {
  sit::nn::LabelEmbedder with_null(sit::nn::LabelEmbedderOptions(10, 8, 0.1));
  sit::nn::LabelEmbedder without_null(sit::nn::LabelEmbedderOptions(10, 8, 0.0));
  CHECK(with_null->embedding_table->weight.size(0) == 11);
  CHECK(without_null->embedding_table->weight.size(0) == 10);

  auto labels = torch::tensor({1, 2, 3, 4}, torch::kInt64);
  auto forced = with_null->forward(labels, /*train=*/false, torch::tensor({0, 1, 0, 1}));
  const auto& table = with_null->embedding_table->weight;
  CHECK(torch::equal(forced[0], table[1]));
  CHECK(torch::equal(forced[1], table[10]));
  CHECK(torch::equal(forced[3], table[10]));
  CHECK(torch::equal(with_null->forward(labels, false), table.index_select(0, labels)));

  torch::manual_seed(0);
  auto many = torch::zeros({20000}, torch::kInt64);
  auto dropped = with_null->token_drop(many).eq(10).to(torch::kFloat64).mean().item<double>();
  CHECK(dropped == Approx(0.1).margin(0.01));  // 0.01 is 4.7 standard errors at n = 20000
}

TEST_CASE("Attention equals per-head softmax(q k^T / sqrt(d)) v", "[nn]") {
  torch::manual_seed(1);
  const int64_t N = 2, T = 5, D = 12, H = 3, hd = D / H;
  sit::nn::Attention attention(sit::nn::AttentionOptions(D, H));
  auto x = torch::randn({N, T, D});
  auto actual = attention->forward(x);

  auto qkv = torch::addmm(attention->qkv->bias, x.reshape({N * T, D}), attention->qkv->weight.t())
                 .reshape({N, T, 3 * D});
  auto heads = torch::zeros({N, T, D});
  for (int64_t n = 0; n < N; ++n) {
    for (int64_t h = 0; h < H; ++h) {
      auto q = qkv[n].slice(1, h * hd, (h + 1) * hd);
      auto k = qkv[n].slice(1, D + h * hd, D + (h + 1) * hd);
      auto v = qkv[n].slice(1, 2 * D + h * hd, 2 * D + (h + 1) * hd);
      auto weights = torch::softmax(q.mm(k.t()) / std::sqrt(double(hd)), 1);
      heads[n].slice(1, h * hd, (h + 1) * hd).copy_(weights.mm(v));
    }
  }
  auto expected = heads.matmul(attention->proj->weight.t()) + attention->proj->bias;
  CHECK(relative_l2(actual, expected) < 1e-6);
}

TEST_CASE("Mlp is fc2(gelu_tanh(fc1 x))", "[nn]") {
  torch::manual_seed(2);
  sit::nn::Mlp mlp(sit::nn::MlpOptions(6, 24));
  auto x = torch::randn({3, 6});
  auto h = x.matmul(mlp->fc1->weight.t()) + mlp->fc1->bias;
  auto gelu = 0.5 * h * (1 + torch::tanh(std::sqrt(2.0 / M_PI) * (h + 0.044715 * h.pow(3))));
  auto expected = gelu.matmul(mlp->fc2->weight.t()) + mlp->fc2->bias;
  CHECK(relative_l2(mlp->forward(x), expected) < 1e-6);
}

TEST_CASE("unpatchify places token (h, w), patch pixel (p, q), channel c at (c, h P + p, w P + q)",
          "[nn]") {
  sit::nn::SiT model(tiny_options());
  const int64_t N = 2, P = 2, grid = 4, C = model->out_channels();
  auto tokens = torch::randn({N, grid * grid, P * P * C});
  auto image = model->unpatchify(tokens);
  REQUIRE(image.sizes() == torch::IntArrayRef({N, C, 8, 8}));
  for (int64_t n = 0; n < N; ++n)
    for (int64_t h = 0; h < grid; ++h)
      for (int64_t w = 0; w < grid; ++w)
        for (int64_t p = 0; p < P; ++p)
          for (int64_t q = 0; q < P; ++q)
            for (int64_t c = 0; c < C; ++c)
              REQUIRE(image[n][c][h * P + p][w * P + q].item<float>() ==
                      tokens[n][h * grid + w][(p * P + q) * C + c].item<float>());
}

TEST_CASE("initialize_weights: official layout of zeros, xavier bounds and N(0, 0.02)", "[nn]") {
  torch::manual_seed(3);
  sit::nn::SiT model(sit::nn::SiTOptions().input_size(16).patch_size(2).hidden_size(96)
                         .depth(2).num_heads(4).num_classes(100));
  auto params = model->named_parameters();
  for (const auto& key : {"blocks.0.adaLN_modulation.1.weight", "blocks.1.adaLN_modulation.1.bias",
                          "final_layer.adaLN_modulation.1.weight", "final_layer.linear.weight",
                          "final_layer.linear.bias", "x_embedder.proj.bias",
                          "blocks.0.attn.qkv.bias"}) {
    CHECK(params[key].abs().max().item<double>() == 0.0);
  }
  // xavier-uniform bound sqrt(6 / (fan_in + fan_out)); the patch conv counts as a linear.
  auto qkv = params["blocks.0.attn.qkv.weight"];
  CHECK(qkv.abs().max().item<double>() <= std::sqrt(6.0 / (96 + 288)));
  CHECK(qkv.abs().max().item<double>() > 0.9 * std::sqrt(6.0 / (96 + 288)));
  auto conv = params["x_embedder.proj.weight"];
  double conv_bound = std::sqrt(6.0 / (4 * 2 * 2 + 96));
  CHECK(conv.abs().max().item<double>() <= conv_bound);
  CHECK(conv.abs().max().item<double>() > 0.9 * conv_bound);
  CHECK(params["y_embedder.embedding_table.weight"].std().item<double>() ==
        Approx(0.02).margin(0.001));
  CHECK(params["t_embedder.mlp.0.weight"].std().item<double>() == Approx(0.02).margin(0.001));
  CHECK_FALSE(params["pos_embed"].requires_grad());
  // The zero-initialised model outputs zero everywhere (adaLN-Zero).
  model->eval();
  auto out = model->forward(torch::randn({2, 4, 16, 16}), torch::rand({2}), torch::tensor({1, 2}));
  CHECK(out.abs().max().item<double>() == 0.0);
}

TEST_CASE("state_dict keys follow the official names", "[nn]") {
  sit::nn::SiT model(tiny_options().depth(1));
  std::vector<std::string> keys;
  for (const auto& item : model->named_parameters()) keys.push_back(item.key());
  std::vector<std::string> official = {
      "pos_embed", "x_embedder.proj.weight", "x_embedder.proj.bias",
      "t_embedder.mlp.0.weight", "t_embedder.mlp.0.bias", "t_embedder.mlp.2.weight",
      "t_embedder.mlp.2.bias", "y_embedder.embedding_table.weight",
      "blocks.0.attn.qkv.weight", "blocks.0.attn.qkv.bias", "blocks.0.attn.proj.weight",
      "blocks.0.attn.proj.bias", "blocks.0.mlp.fc1.weight", "blocks.0.mlp.fc1.bias",
      "blocks.0.mlp.fc2.weight", "blocks.0.mlp.fc2.bias", "blocks.0.adaLN_modulation.1.weight",
      "blocks.0.adaLN_modulation.1.bias", "final_layer.linear.weight", "final_layer.linear.bias",
      "final_layer.adaLN_modulation.1.weight", "final_layer.adaLN_modulation.1.bias"};
  std::sort(keys.begin(), keys.end());
  std::sort(official.begin(), official.end());
  CHECK(keys == official);
}

TEST_CASE("forward drops the learned-sigma half", "[nn]") {
  torch::manual_seed(4);
  sit::nn::SiT model(tiny_options());
  randomize(model);
  model->eval();
  auto z = torch::randn({2, 4, 8, 8});
  auto x = torch::cat({z, z});
  auto t = torch::full({4}, 0.3);
  auto y = torch::tensor({3, 7, 10, 10}, torch::kInt64);

  auto full = model->forward_full(x, t, y);
  REQUIRE(full.size(1) == 8);
  CHECK(torch::equal(model->forward(x, t, y), full.slice(1, 0, 4)));
}

TEST_CASE("a MeanFlow SiT: h_embedder in its state dict, read back from the weights, h only for it", "[nn]") {
  sit::nn::SiT model(tiny_options().meanflow(true));
  auto names = model->named_parameters();
  CHECK(names.contains("h_embedder.mlp.0.weight"));
  CHECK(names.contains("h_embedder.mlp.2.bias"));
  sit::io::StateDict sd;
  for (const auto& item : names) sd.insert(item.key(), item.value());
  CHECK(sit::nn::infer_sit_options(sd, sit::nn::ArchitectureHints().num_heads(4)).meanflow());

  sit::nn::SiT flow(tiny_options());
  CHECK_FALSE(flow->named_parameters().contains("h_embedder.mlp.0.weight"));
  auto x = torch::randn({2, 4, 8, 8}), t = torch::rand({2}), y = torch::tensor({1, 3});
  CHECK_THROWS_WITH(flow->forward(x, t, y, c10::nullopt, torch::rand({2})), Catch::Contains("meanflow"));
  // Without h a MeanFlow model is its own u(z, t, 0).
  model->eval();
  CHECK(torch::equal(model->forward(x, t, y), model->forward(x, t, y, c10::nullopt, torch::zeros({2}))));
}
