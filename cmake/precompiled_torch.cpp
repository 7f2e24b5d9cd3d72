// The translation unit of the precompiled torch/torch.h headers (cmake/precompiled_torch.cmake).
