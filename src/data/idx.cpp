#include <sit/data/idx.h>

#include <algorithm>
#include <climits>
#include <memory>
#include <vector>

#include <c10/util/Exception.h>
#include <zlib.h>

namespace sit::data {
namespace {

using GzFile = std::unique_ptr<gzFile_s, int (*)(gzFile)>;

// Reads exactly `count` bytes (or fewer at end of file); gzread takes at most INT_MAX at once.
int64_t read_bytes(gzFile file, const std::string& path, uint8_t* out, int64_t count) {
  int64_t done = 0;
  while (done < count) {
    const auto chunk = static_cast<unsigned>(std::min<int64_t>(count - done, INT_MAX));
    const int got = gzread(file, out + done, chunk);
    int error = Z_OK;
    const char* message = gzerror(file, &error);
    TORCH_CHECK(got >= 0 && (error == Z_OK || error == Z_BUF_ERROR), "IDX file '", path,
                "': read error: ", message);
    if (got == 0) break;
    done += got;
  }
  return done;
}

}  // namespace

torch::Tensor read_idx(const std::string& path) {
  // gzread passes a file that is not gzip-compressed through unchanged.
  GzFile file(gzopen(path.c_str(), "rb"), gzclose);
  TORCH_CHECK(file, "IDX file '", path, "' cannot be opened");

  uint8_t magic[4];
  TORCH_CHECK(read_bytes(file.get(), path, magic, 4) == 4, "IDX file '", path,
              "' is truncated: no header");
  TORCH_CHECK(magic[0] == 0 && magic[1] == 0 && magic[2] == 0x08 && magic[3] >= 1,
              "IDX file '", path, "' has a bad magic number (expected 00 00 08 <rank>, got ",
              int(magic[0]), " ", int(magic[1]), " ", int(magic[2]), " ", int(magic[3]), ")");

  std::vector<uint8_t> header(4 * static_cast<size_t>(magic[3]));
  TORCH_CHECK(read_bytes(file.get(), path, header.data(), header.size()) ==
                  static_cast<int64_t>(header.size()),
              "IDX file '", path, "' is truncated: incomplete dimensions");
  std::vector<int64_t> sizes;
  for (size_t d = 0; d < header.size(); d += 4) {
    sizes.push_back((int64_t{header[d]} << 24) | (header[d + 1] << 16) | (header[d + 2] << 8) |
                    header[d + 3]);
  }

  // The dimensions are untrusted (a gzip file's size does not bound its contents): the data is
  // read in chunks as it comes, so what is allocated is what the file holds, not what it claims.
  int64_t count = 1;
  for (const int64_t size : sizes) {
    TORCH_CHECK(!__builtin_mul_overflow(count, size, &count), "IDX file '", path, "' has dimensions ",
                torch::IntArrayRef(sizes), " whose product overflows");
  }
  constexpr int64_t kChunk = int64_t{1} << 20;
  std::vector<uint8_t> bytes;
  int64_t got = 0;
  while (got < count) {
    bytes.resize(static_cast<size_t>(got + std::min(count - got, kChunk)));
    const int64_t read = read_bytes(file.get(), path, bytes.data() + got, static_cast<int64_t>(bytes.size()) - got);
    got += read;
    if (got < static_cast<int64_t>(bytes.size())) break;
  }
  TORCH_CHECK(got == count, "IDX file '", path, "' is truncated: dimensions ", torch::IntArrayRef(sizes),
              " need ", count, " bytes of data but only ", got, " are present");
  torch::Tensor data = torch::empty(sizes, torch::kUInt8);
  std::copy(bytes.begin(), bytes.end(), data.data_ptr<uint8_t>());
  return data;
}

}  // namespace sit::data
