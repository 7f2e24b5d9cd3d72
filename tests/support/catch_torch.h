#pragma once
// Catch2 after LibTorch. Debian's LibTorch is built with glog, whose CHECK(condition) macro
// (abort on failure) would otherwise replace Catch's CHECK; so torch comes first and glog's CHECK
// is dropped before Catch defines its own.

#include <torch/torch.h>

#undef CHECK
#include <catch2/catch.hpp>
