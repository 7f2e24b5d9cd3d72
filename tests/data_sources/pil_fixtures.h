#pragma once
// The images PIL decoded and resampled for the reference outputs (tests/data/data_sources/pil).

#include <string>

namespace sit::test {

inline const std::string kPilDir = std::string(SIT_TEST_DATA_DIR) + "/data_sources/pil/";

}  // namespace sit::test
