#pragma once
// Divergence of a vector field, for the change of log-density along the probability-flow ODE:
// d log p(x_t) / dt = -div v(x_t, t).

#include <sit/config/enum_names.h>
#include <torch/torch.h>

#include <functional>
#include <optional>
#include <string>

namespace sit::transport {

enum class Divergence {
  Hutchinson,  // eps^T (dv/dx) eps with Rademacher eps: one backward pass, unbiased (official)
  Exact        // the trace of dv/dx, one backward pass per dimension: for small dimensions
};

constexpr auto enum_table(Divergence) {
  return config::EnumTable<Divergence, 2>{"divergence", {{{Divergence::Hutchinson, "hutchinson"}, {Divergence::Exact, "exact"}}}};
}

/// A per-sample field v: (N, ...) -> (N, ...), differentiable in its argument.
using FieldFn = std::function<torch::Tensor(const torch::Tensor& x)>;

/// v(x) and its divergence estimate.
struct FieldWithDivergence {
  torch::Tensor value;       // (N, ...)
  torch::Tensor divergence;  // (N,)
};

/// One evaluation of v at x with grad enabled, and the divergence of sample n computed over
/// sample n's dimensions. Hutchinson draws eps = 2 randint(2) - 1 from `generator`.
FieldWithDivergence divergence(const FieldFn& field, const torch::Tensor& x, Divergence method,
                               std::optional<torch::Generator> generator = std::nullopt);

}  // namespace sit::transport
