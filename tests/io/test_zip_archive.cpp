// ZipReader/ZipWriter: Python-written archives (stored, deflated, zip64) and our own round trips.

#include <cstdlib>
#include <filesystem>

#include "io/zip_archive.h"

#include "io_test_util.h"

#include "support/catch_torch.h"
#include "support/machine.h"
#include "support/skip.h"

using namespace sit::io;
using sit::test::fixture;
using sit::test::scratch;

namespace {

std::string text_of(ZipReader& archive, const std::string& name) {
  const ZipEntry* entry = archive.find(name);
  REQUIRE(entry != nullptr);
  const std::vector<uint8_t> bytes = archive.read(*entry);
  return std::string(bytes.begin(), bytes.end());
}

std::vector<uint8_t> byte_ramp() {
  std::vector<uint8_t> bytes(256);
  for (size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<uint8_t>(i);
  return bytes;
}

}  // namespace

TEST_CASE("ZipReader reads zip64 extra fields and end records written by Python", "[io][zip]") {
  ZipReader archive(fixture("zip64.zip"));
  REQUIRE(archive.entries().size() == 2);
  CHECK(archive.entries()[0].name == "first.txt");
  CHECK(text_of(archive, "first.txt") == "hello zip64");
  CHECK(archive.read(*archive.find("second.bin")) == byte_ramp());
  CHECK(archive.find("absent") == nullptr);
}

TEST_CASE("ZipWriter aligns member data to 64 bytes and round-trips, with and without zip64", "[io][zip]") {
  std::vector<std::string> written;
  for (const Zip64 mode : {Zip64::WhenNeeded, Zip64::Always}) {
    const std::string path = scratch(mode == Zip64::Always ? "always64.zip" : "plain.zip");
    written.push_back(path);
    {
      ZipWriter writer(path, mode);
      writer.add("archive/data.pkl", "abc", 3);
      const std::vector<uint8_t> ramp = byte_ramp();
      writer.add("archive/data/0", ramp.data(), ramp.size());
      writer.add("archive/empty", "", 0);
      writer.finish();
    }
    ZipReader archive(path);
    REQUIRE(archive.entries().size() == 3);
    for (const ZipEntry& entry : archive.entries()) CHECK(entry.data_offset % 64 == 0);
    CHECK(text_of(archive, "archive/data.pkl") == "abc");
    CHECK(archive.read(*archive.find("archive/data/0")) == byte_ramp());
    CHECK(text_of(archive, "archive/empty").empty());
  }
  if (!sit::test::python_available()) SIT_SKIP("Debian's python3 is not installed");
  for (const auto& path : written) {
    INFO(path);
    const std::string check = "/usr/bin/python3 -c \"import zipfile,sys; z=zipfile.ZipFile(sys.argv[1]); "
                              "assert z.testzip() is None; assert z.read('archive/data.pkl')==b'abc'\" " + path;
    CHECK(std::system(check.c_str()) == 0);
  }
}

TEST_CASE("ZipWriter leaves nothing behind without finish()", "[io][zip]") {
  const std::string path = scratch("unfinished.zip");
  std::filesystem::remove(path);
  {
    ZipWriter writer(path);
    writer.add("a", "x", 1);
  }
  CHECK_FALSE(std::filesystem::exists(path));
  CHECK_FALSE(std::filesystem::exists(path + ".tmp"));
}

TEST_CASE("ZipReader rejects damaged archives with the reason", "[io][zip]") {
  const std::string good = fixture("arrays.npz");
  const size_t size = sit::test::read_bytes(good).size();
  CHECK_THROWS_WITH(ZipReader(sit::test::truncated_copy(good, 0, "empty.zip")), Catch::Contains("empty.zip: not a zip archive (only 0 bytes)"));
  CHECK_THROWS_WITH(ZipReader(sit::test::truncated_copy(good, size - 30, "cut.zip")),
                    Catch::Contains("cut.zip: not a zip archive (no end of central directory record)"));
  CHECK_THROWS_WITH(ZipReader(fixture("npy_f4.npy")), Catch::Contains("no end of central directory record"));

  // The end record's last 6 bytes before the comment length are the directory offset and size.
  CHECK_THROWS_WITH(ZipReader(sit::test::flipped_copy(good, size - 3, "offset.zip")), Catch::Contains("lies outside the archive"));
  const size_t directory = sit::test::find_in_file(good, "PK\x01\x02");
  CHECK_THROWS_WITH(ZipReader(sit::test::flipped_copy(good, directory, "directory.zip")),
                    Catch::Contains("bad central directory entry signature"));
  CHECK_THROWS_WITH(ZipReader(sit::test::flipped_copy(good, 0, "local.zip")),
                    Catch::Contains("bad local header signature for member 'f4.npy'"));

  // A flipped data byte parses but fails the CRC when read.
  ZipReader corrupt(sit::test::flipped_copy(good, 200, "data.zip"));
  CHECK_THROWS_WITH(corrupt.read(corrupt.entries()[0]), Catch::Contains("member 'f4.npy' is corrupt (CRC-32 mismatch)"));

  const std::string deflated = fixture("arrays_deflated.npz");
  const size_t data_offset = ZipReader(deflated).entries()[0].data_offset;
  ZipReader bad_stream(sit::test::flipped_copy(deflated, data_offset + 20, "deflate.zip"));
  CHECK_THROWS_WITH(bad_stream.read(bad_stream.entries()[0]), Catch::Contains("member 'f4.npy'"));
}

TEST_CASE("ZipReader refuses repeated names and members that share bytes", "[io][zip]") {
  const std::string repeated = scratch("repeated.zip");
  {
    ZipWriter writer(repeated);
    writer.add("a", "one", 3);
    writer.add("a", "two", 3);
    writer.finish();
  }
  CHECK_THROWS_WITH(ZipReader(repeated), Catch::Contains("repeated.zip: member 'a' appears twice"));

  // Member "b"'s directory entry pointed at "a"'s local header: one stream read twice, as zip
  // bombs do.
  const std::string overlapping = scratch("overlapping.zip");
  {
    ZipWriter writer(overlapping);
    writer.add("a", "one", 3);
    writer.add("b", "one", 3);
    writer.finish();
  }
  std::vector<uint8_t> bytes = sit::test::read_bytes(overlapping);
  const size_t end = bytes.size() - 22;
  const size_t directory = bytes[end + 16] | (bytes[end + 17] << 8) | (bytes[end + 18] << 16) | (bytes[end + 19] << 24);
  const size_t second_entry = directory + 46 + 1;  // past "a"'s entry (no extra field, no comment)
  for (size_t i = 0; i < 4; ++i) bytes[second_entry + 42 + i] = 0;  // local header offset -> 0
  std::ofstream(overlapping, std::ios::binary).write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  CHECK_THROWS_WITH(ZipReader(overlapping), Catch::Contains("overlapping.zip: members") && Catch::Contains("overlap at offset 0"));
}
