#include <sit/eval/precision_recall.h>

#include <torch/torch.h>

namespace sit::eval {

namespace {

constexpr int64_t kRowBlock = 1024;  // rows of distances held at once: kRowBlock x N float32

// Squared L2 distances (B, N) between rows u (B, D) and v (N, D) with v's squared norms (N,).
torch::Tensor squared_distances(const torch::Tensor& u, const torch::Tensor& v, const torch::Tensor& v_norms) {
  const auto u_norms = u.square().sum(1, /*keepdim=*/true);
  return (u_norms - 2 * u.matmul(v.t()) + v_norms.unsqueeze(0)).clamp_min(0);
}

torch::Tensor as_features(const torch::Tensor& x, const char* what) {
  TORCH_CHECK(x.dim() == 2 && x.size(0) > 0, what, " features must be (N, D), got ", x.sizes());
  return x.to(torch::kFloat32).contiguous();
}

// Whether each row of `points` lies in some ball (centres, radii): (N,) bool.
torch::Tensor inside(const torch::Tensor& points, const torch::Tensor& centres, const torch::Tensor& radii) {
  const auto norms = centres.square().sum(1);
  std::vector<torch::Tensor> in;
  for (int64_t begin = 0; begin < points.size(0); begin += kRowBlock) {
    const auto block = points.slice(0, begin, std::min(begin + kRowBlock, points.size(0)));
    in.push_back((squared_distances(block, centres, norms) <= radii.unsqueeze(0)).any(1));
  }
  return torch::cat(in);
}

}  // namespace

torch::Tensor manifold_radii(const torch::Tensor& features, int64_t k) {
  const auto x = as_features(features, "manifold");
  TORCH_CHECK(k >= 1 && x.size(0) > k, "the k = ", k, " nearest-neighbour radius needs more than ", k, " points, got ",
              x.size(0));
  const auto norms = x.square().sum(1);
  std::vector<torch::Tensor> radii;
  for (int64_t begin = 0; begin < x.size(0); begin += kRowBlock) {
    const auto block = x.slice(0, begin, std::min(begin + kRowBlock, x.size(0)));
    radii.push_back(std::get<0>(squared_distances(block, x, norms).kthvalue(k + 1, 1)));
  }
  return torch::cat(radii);
}

PrecisionRecall precision_recall(const torch::Tensor& reference, const torch::Tensor& samples, int64_t k) {
  const auto r = as_features(reference, "reference"), s = as_features(samples, "sample");
  TORCH_CHECK(r.size(1) == s.size(1), "reference and sample features differ in dimension: ", r.size(1), " and ",
              s.size(1));
  const auto reference_radii = manifold_radii(r, k), sample_radii = manifold_radii(s, k);
  return {inside(s, r, reference_radii).to(torch::kFloat64).mean().item<double>(),
          inside(r, s, sample_radii).to(torch::kFloat64).mean().item<double>()};
}

}  // namespace sit::eval
