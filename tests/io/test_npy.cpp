// .npy/.npz against files written by numpy (tests/data/io/make_fixtures.py).

#include <sit/io/npy.h>

#include "io_test_util.h"

#include "support/catch_torch.h"

using namespace sit::io;
using sit::test::require_same;
using sit::test::fixture;
using sit::test::scratch;

namespace {

// The formulas of make_fixtures.py's reference_arrays(), rebuilt here.
NamedArrays reference_arrays() {
  NamedArrays arrays;
  arrays.insert("f4", torch::arange(6, torch::kFloat32).reshape({2, 3}) * 0.5 - 1.0);
  arrays.insert("f8", torch::arange(4, torch::kFloat64) / 3.0);
  arrays.insert("f2", torch::arange(5, torch::kFloat16) * 0.25);
  arrays.insert("i8", torch::arange(6, torch::kInt64).reshape({3, 2}) * -(int64_t{1} << 40));
  arrays.insert("i4", torch::arange(4, torch::kInt32) - 2);
  arrays.insert("u1", torch::arange(250, 256, torch::kInt32).to(torch::kUInt8));
  arrays.insert("b1", torch::tensor({true, false, true}));
  arrays.insert("scalar", torch::tensor(7.5f));
  arrays.insert("empty", torch::zeros({0, 3}));
  return arrays;
}

}  // namespace

TEST_CASE("read_npy reads every supported dtype written by numpy", "[io][npy]") {
  for (const auto& item : reference_arrays()) {
    INFO(item.key());
    require_same(read_npy(fixture("npy_" + item.key() + ".npy")), item.value());
  }
}

TEST_CASE("read_npy reads format versions 2 and 3", "[io][npy]") {
  const torch::Tensor expected = reference_arrays()["f4"];
  require_same(read_npy(fixture("npy_v2.npy")), expected);
  require_same(read_npy(fixture("npy_v3.npy")), expected);
}

TEST_CASE("write_npy then read_npy round-trips values, shape and dtype", "[io][npy]") {
  for (const auto& item : reference_arrays()) {
    INFO(item.key());
    write_npy(scratch("roundtrip.npy"), item.value());
    require_same(read_npy(scratch("roundtrip.npy")), item.value());
  }
  const torch::Tensor transposed = torch::arange(12, torch::kFloat32).reshape({3, 4}).t();
  write_npy(scratch("transposed.npy"), transposed);
  require_same(read_npy(scratch("transposed.npy")), transposed.contiguous());
}

TEST_CASE("write_npy writes numpy's header layout", "[io][npy]") {
  write_npy(scratch("layout.npy"), reference_arrays()["f4"]);
  REQUIRE(sit::test::read_bytes(scratch("layout.npy")) == sit::test::read_bytes(fixture("npy_f4.npy")));
  CHECK_THROWS_WITH(write_npy(scratch("bf16.npy"), torch::zeros({2}, torch::kBFloat16)),
                    Catch::Contains("cannot write dtype BFloat16"));
}

TEST_CASE("read_npz reads stored and deflated archives in file order", "[io][npy]") {
  const NamedArrays expected = reference_arrays();
  for (const char* name : {"arrays.npz", "arrays_deflated.npz"}) {
    INFO(name);
    const NamedArrays arrays = read_npz(fixture(name));
    REQUIRE(arrays.keys() == expected.keys());
    for (const auto& item : expected) require_same(arrays[item.key()], item.value());
  }
}

TEST_CASE("write_npz then read_npz round-trips", "[io][npy]") {
  const NamedArrays expected = reference_arrays();
  write_npz(scratch("roundtrip.npz"), expected);
  const NamedArrays arrays = read_npz(scratch("roundtrip.npz"));
  REQUIRE(arrays.keys() == expected.keys());
  for (const auto& item : expected) require_same(arrays[item.key()], item.value());
}

TEST_CASE("read_npy rejects unsupported and damaged files with the reason", "[io][npy]") {
  CHECK_THROWS_WITH(read_npy(fixture("npy_fortran.npy")), Catch::Contains("Fortran-order"));
  CHECK_THROWS_WITH(read_npy(fixture("npy_big_endian.npy")), Catch::Contains("big-endian dtype '>f4'"));
  CHECK_THROWS_WITH(read_npy(fixture("missing.npy")), Catch::Contains("missing.npy: cannot open"));

  const std::string good = fixture("npy_f4.npy");
  const std::string cut = sit::test::truncated_copy(good, 150, "cut.npy");
  CHECK_THROWS_WITH(read_npy(cut), Catch::Contains("cut.npy: truncated array data: needs 24 bytes, 22 present"));
  CHECK_THROWS_WITH(read_npy(sit::test::truncated_copy(good, 40, "cut_header.npy")), Catch::Contains("truncated .npy header"));
  CHECK_THROWS_WITH(read_npy(sit::test::truncated_copy(good, 0, "empty.npy")), Catch::Contains("empty.npy: not a .npy file (0 bytes)"));
  CHECK_THROWS_WITH(read_npy(sit::test::flipped_copy(good, 0, "magic.npy")), Catch::Contains("bad magic"));
  CHECK_THROWS_WITH(read_npy(sit::test::flipped_copy(good, 6, "version.npy")), Catch::Contains("unsupported .npy format version"));
  // Byte 12 is the 'd' of 'descr': the header no longer names the dtype.
  CHECK_THROWS_WITH(read_npy(sit::test::flipped_copy(good, 12, "key.npy")), Catch::Contains("malformed .npy header"));
  // Bytes 8-9 are the header length: a longer header swallows the data, a much longer one runs out.
  CHECK_THROWS_WITH(read_npy(sit::test::flipped_copy(good, 8, "length.npy")), Catch::Contains("malformed .npy header"));
  CHECK_THROWS_WITH(read_npy(sit::test::flipped_copy(good, 9, "long.npy")), Catch::Contains("truncated .npy header"));
  CHECK_THROWS_WITH(read_npy(sit::test::flipped_copy(fixture("npy_b1.npy"), 128, "bool.npy")),
                    Catch::Contains("bool array holds byte 254"));
}
