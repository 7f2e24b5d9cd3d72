// The translation unit that precompiles torch/torch.h (cmake/precompiled_torch.cmake).
