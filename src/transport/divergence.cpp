#include <sit/transport/divergence.h>

#include "transport/generator.h"

namespace sit::transport {

namespace {

std::vector<int64_t> non_batch_dims(const torch::Tensor& x) {
  std::vector<int64_t> dims;
  for (int64_t d = 1; d < x.dim(); ++d) dims.push_back(d);
  return dims;
}

}  // namespace

FieldWithDivergence divergence(const FieldFn& field, const torch::Tensor& x, Divergence method,
                               std::optional<torch::Generator> generator) {
  torch::AutoGradMode enable_grad(true);
  auto xg = x.detach().requires_grad_(true);
  auto value = field(xg);
  const int64_t n = x.size(0);
  if (method == Divergence::Hutchinson) {
    // E[eps^T J eps] = tr J for eps with independent entries of mean 0 and variance 1.
    auto eps = torch::randint(2, x.sizes(), detail::to_c10(generator), x.options()) * 2 - 1;
    auto grad = torch::autograd::grad({(value * eps).sum()}, {xg})[0];
    return {value.detach(), (grad * eps).sum(non_batch_dims(x))};
  }
  // tr J = sum_i d v_i / d x_i, one vector-Jacobian product per dimension i of a sample.
  auto value_flat = value.reshape({n, -1});
  const int64_t dimensions = value_flat.size(1);
  auto trace = torch::zeros({n}, x.options());
  for (int64_t i = 0; i < dimensions; ++i) {
    auto grad = torch::autograd::grad({value_flat.select(1, i).sum()}, {xg},
                                      /*grad_outputs=*/{}, /*retain_graph=*/true)[0];
    trace = trace + grad.reshape({n, -1}).select(1, i);
  }
  return {value.detach(), trace};
}

}  // namespace sit::transport
