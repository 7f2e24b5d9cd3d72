#include <sit/transport/graphed_forward.h>
#include <sit/error.h>

#include <stdexcept>

#if defined(SIT_WITH_CUDA) && TORCH_VERSION_MAJOR >= 2
#define SIT_CUDA_GRAPHS 1
#include <ATen/autocast_mode.h>
#include <ATen/cuda/CUDAGraph.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#include <torch/cuda.h>

#include <memory>
#endif

namespace sit::transport {

bool cuda_graphs_available() {
#ifdef SIT_CUDA_GRAPHS
  return true;
#else
  return false;
#endif
}

#ifdef SIT_CUDA_GRAPHS
namespace {

// The graph and the buffers its kernels read and write.
struct CapturedForward {
  LabelledForward forward;
  std::unique_ptr<at::cuda::CUDAGraph> graph;
  torch::Tensor x, t, y, out;

  bool matches(const torch::Tensor& x_, const torch::Tensor& t_, const torch::Tensor& y_) const {
    return graph && x.sizes() == x_.sizes() && x.dtype() == x_.dtype() && t.sizes() == t_.sizes() &&
           t.dtype() == t_.dtype() && y.sizes() == y_.sizes() && x.device() == x_.device();
  }

  void capture(const torch::Tensor& x_, const torch::Tensor& t_, const torch::Tensor& y_) {
    graph.reset();
    x = x_.clone();
    t = t_.clone();
    y = y_.clone();
    torch::cuda::synchronize();
    c10::cuda::CUDAStreamGuard side_stream(c10::cuda::getStreamFromPool(false, x.device().index()));
    // Warm-up off the capture: cuBLAS handles, workspaces and kernel choices are made here.
    for (int i = 0; i < 3; ++i) forward(x, t, y);
    torch::cuda::synchronize();
    // Autocast's cache of bf16 weight copies must not outlive the graph's memory pool.
    bool cache = at::autocast::is_autocast_cache_enabled();
    at::autocast::set_autocast_cache_enabled(false);
    graph = std::make_unique<at::cuda::CUDAGraph>();
    graph->capture_begin();
    try {
      out = forward(x, t, y);
    } catch (...) {
      // End the capture so the stream can run work again, then report the forward's error.
      try {
        graph->capture_end();
      } catch (...) {
      }
      graph.reset();
      at::autocast::set_autocast_cache_enabled(cache);
      throw;
    }
    graph->capture_end();
    at::autocast::set_autocast_cache_enabled(cache);
    torch::cuda::synchronize();
  }
};

}  // namespace

LabelledForward cuda_graphed(LabelledForward forward) {
  auto state = std::make_shared<CapturedForward>();
  state->forward = std::move(forward);
  return [state](const torch::Tensor& x, const torch::Tensor& t, const torch::Tensor& y) {
    TORCH_CHECK(x.is_cuda() && t.is_cuda() && y.is_cuda(),
                "cuda_graphed: inputs must be CUDA tensors, but x is on ", x.device());
    if (!state->matches(x, t, y)) state->capture(x, t, y);
    state->x.copy_(x);
    state->t.copy_(t);
    state->y.copy_(y);
    state->graph->replay();
    return state->out.clone();
  };
}
#else
LabelledForward cuda_graphed(LabelledForward) {
  throw UnsupportedError(
      "CUDA graphs need sit built against a CUDA LibTorch 2.x; this build has none");
}
#endif

}  // namespace sit::transport
