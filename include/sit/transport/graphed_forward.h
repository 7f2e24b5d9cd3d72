#pragma once
// A model call replayed from a CUDA graph. A SiT forward at a small batch is hundreds of short
// kernels whose launch cost dominates the GPU time; a sampler calls it with the same shapes at
// every step, so one capture serves the whole run.

#include <sit/transport/guidance.h>

namespace sit::transport {

/// Whether this build of sit can capture CUDA graphs (a CUDA build of LibTorch 2.x).
bool cuda_graphs_available();

/// `forward` behind a CUDA graph. The first call with given shapes and dtypes warms `forward` up
/// and captures it with static input buffers; each call copies its inputs in, replays the graph
/// and returns a copy of the output. A call with other shapes captures anew. `forward` must be
/// free of host synchronisation and randomness (an eval-mode model is). Inputs must be CUDA
/// tensors; throws where cuda_graphs_available() is false.
LabelledForward cuda_graphed(LabelledForward forward);

}  // namespace sit::transport
