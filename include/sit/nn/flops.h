#pragma once
// Floating-point operations of a SiT forward pass, counted as 2 per multiply-add of its matmuls
// (the linear layers, the patch projection and attention's two batched products); normalisation
// and element-wise work is left out, as in the DiT/SiT papers' Gflops column.

#include <sit/nn/sit.h>

namespace sit::nn {

/// FLOPs of forward_full on a batch of batch_size inputs. A training step (forward and backward)
/// costs about 3 times this.
double forward_flops(const SiTOptions& options, int64_t batch_size);

}  // namespace sit::nn
