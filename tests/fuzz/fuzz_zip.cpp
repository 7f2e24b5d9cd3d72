// The zip reader: central directory, zip64 records, local headers, stored and deflated members.
#include "io/zip_archive.h"

#include "fuzz_input.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = sit::fuzz::scratch_path("zip");
  sit::fuzz::write_bytes(path, data, size);
  sit::fuzz::expect_clean([&] {
    sit::io::ZipReader archive(path);
    for (const sit::io::ZipEntry& entry : archive.entries()) {
      sit::fuzz::expect_clean([&] { archive.read(entry); });
    }
  });
  return 0;
}
