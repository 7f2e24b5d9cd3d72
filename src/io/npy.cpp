#include <sit/io/npy.h>

#include <cstring>
#include <limits>

#include "io/zip_archive.h"

#include "io/byte_reader.h"
#include "io/file.h"

namespace sit::io {
namespace {

struct NpyType {
  const char* descr;
  torch::Dtype dtype;
};

const NpyType kNpyTypes[] = {
    {"<f4", torch::kFloat32}, {"<f8", torch::kFloat64}, {"<f2", torch::kFloat16},
    {"<i8", torch::kInt64},   {"<i4", torch::kInt32},   {"<i2", torch::kInt16},
    {"|i1", torch::kInt8},    {"|u1", torch::kUInt8},   {"|b1", torch::kBool},
};

const char kMagic[] = "\x93NUMPY";
constexpr size_t kMagicSize = 6;
// numpy pads the header so the data starts on a 64-byte boundary.
constexpr size_t kNpyHeaderAlignment = 64;

torch::Dtype dtype_of(std::string descr, const std::string& source) {
  if (descr.size() == 3 && (descr[0] == '=' || (descr[0] == '<' && descr[2] == '1'))) {
    descr[0] = descr[2] == '1' ? '|' : '<';  // native order is little-endian on every target
  }
  for (const NpyType& type : kNpyTypes) {
    if (descr == type.descr) return type.dtype;
  }
  if (!descr.empty() && descr[0] == '>') detail::fail(source, "big-endian dtype '" + descr + "' is not supported");
  detail::fail(source, "unsupported dtype '" + descr + "' (expected one of <f4 <f8 <f2 <i8 <i4 <i2 |i1 |u1 |b1)");
}

std::string descr_of(torch::Dtype dtype, const std::string& path) {
  for (const NpyType& type : kNpyTypes) {
    if (dtype == type.dtype) return type.descr;
  }
  detail::fail(path, std::string("cannot write dtype ") + c10::toString(dtype) + " to .npy");
}

struct NpyHeader {
  std::string descr;
  bool fortran_order = false;
  std::vector<int64_t> shape;
};

// The header is a Python dict literal: {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }
class HeaderParser {
 public:
  HeaderParser(std::string text, std::string source) : text_(std::move(text)), source_(std::move(source)) {}

  NpyHeader parse() {
    NpyHeader header;
    bool seen_descr = false, seen_order = false, seen_shape = false;
    expect('{');
    while (!consume('}')) {
      const std::string key = quoted();
      expect(':');
      if (key == "descr") {
        if (peek() != '\'' && peek() != '"') fail("structured dtypes are not supported");
        header.descr = quoted(), seen_descr = true;
      } else if (key == "fortran_order") {
        header.fortran_order = boolean(), seen_order = true;
      } else if (key == "shape") {
        header.shape = int_tuple(), seen_shape = true;
      } else {
        fail("unknown key '" + key + "'");
      }
      if (!consume(',')) {
        expect('}');
        break;
      }
    }
    if (!seen_descr || !seen_order || !seen_shape) fail("needs 'descr', 'fortran_order' and 'shape'");
    peek();
    if (position_ != text_.size()) fail("characters after the closing brace");
    return header;
  }

 private:
  // Quotes the header on one line: at most 120 characters, unprintable ones as '?'.
  [[noreturn]] void fail(const std::string& problem) const {
    std::string quoted = text_.substr(0, 120);
    for (char& c : quoted) c = std::isprint(static_cast<unsigned char>(c)) ? c : '?';
    quoted.erase(quoted.find_last_not_of(" ?") + 1);
    detail::fail(source_, "malformed .npy header (" + problem + "): " + quoted);
  }
  char peek() {
    while (position_ < text_.size() && std::isspace(static_cast<unsigned char>(text_[position_]))) ++position_;
    return position_ < text_.size() ? text_[position_] : '\0';
  }
  bool consume(char c) {
    if (peek() != c) return false;
    ++position_;
    return true;
  }
  void expect(char c) {
    if (!consume(c)) fail(std::string("expected '") + c + "' at column " + std::to_string(position_));
  }
  bool consume_word(const std::string& word) {
    if (peek() == '\0' || text_.compare(position_, word.size(), word) != 0) return false;
    position_ += word.size();
    return true;
  }
  std::string quoted() {
    const char quote = peek();
    if (quote != '\'' && quote != '"') fail("expected a quoted string at column " + std::to_string(position_));
    const size_t end = text_.find(quote, position_ + 1);
    if (end == std::string::npos) fail("unterminated string");
    std::string value = text_.substr(position_ + 1, end - position_ - 1);
    position_ = end + 1;
    return value;
  }
  bool boolean() {
    if (consume_word("True")) return true;
    if (consume_word("False")) return false;
    fail("expected True or False");
  }
  int64_t integer() {
    peek();
    size_t digits = 0;
    int64_t value = 0;
    while (position_ < text_.size() && std::isdigit(static_cast<unsigned char>(text_[position_]))) {
      const int digit = text_[position_++] - '0';
      if (value > (std::numeric_limits<int64_t>::max() - digit) / 10) fail("dimension too large");
      value = value * 10 + digit;
      ++digits;
    }
    if (digits == 0) fail("expected a non-negative integer at column " + std::to_string(position_));
    consume('L');  // Python 2 long suffix
    return value;
  }
  std::vector<int64_t> int_tuple() {
    std::vector<int64_t> values;
    expect('(');
    while (!consume(')')) {
      values.push_back(integer());
      if (!consume(',')) {
        expect(')');
        break;
      }
    }
    return values;
  }

  std::string text_;
  std::string source_;
  size_t position_ = 0;
};

// Element count of `shape`, or a failure when it overflows.
uint64_t element_count(const std::vector<int64_t>& shape, const std::string& source) {
  uint64_t count = 1;
  for (const int64_t dim : shape) {
    if (dim != 0 && count > std::numeric_limits<uint64_t>::max() / static_cast<uint64_t>(dim)) {
      detail::fail(source, "array shape overflows");
    }
    count *= static_cast<uint64_t>(dim);
  }
  return count;
}

// Python tuple syntax: () (3,) (2, 3).
std::string tuple_literal(torch::IntArrayRef sizes) {
  std::string text = "(";
  for (size_t i = 0; i < sizes.size(); ++i) text += (i > 0 ? ", " : "") + std::to_string(sizes[i]);
  return text + (sizes.size() == 1 ? ",)" : ")");
}

std::string npy_header(const torch::Tensor& array, const std::string& path) {
  std::string dict = "{'descr': '" + descr_of(array.scalar_type(), path) +
                     "', 'fortran_order': False, 'shape': " + tuple_literal(array.sizes()) + ", }";
  // magic (6) + version (2) + header length (2) + dict + padding + '\n' is a multiple of 64.
  const size_t unpadded = kMagicSize + 4 + dict.size() + 1;
  dict.append((kNpyHeaderAlignment - unpadded % kNpyHeaderAlignment) % kNpyHeaderAlignment, ' ');
  dict.push_back('\n');
  if (dict.size() > std::numeric_limits<uint16_t>::max()) detail::fail(path, "too many dimensions for .npy");
  std::string out(kMagic, kMagicSize);
  out.push_back('\x01');
  out.push_back('\x00');
  detail::append_u16(out, static_cast<uint16_t>(dict.size()));
  return out + dict;
}

// The whole .npy (header and C-order data) of `array`.
std::string encode_npy(const torch::Tensor& array, const std::string& path) {
  const torch::Tensor data = array.detach().to(torch::kCPU).contiguous();
  std::string out = npy_header(data, path);
  out.append(static_cast<const char*>(data.data_ptr()), data.nbytes());
  return out;
}

}  // namespace

torch::Tensor decode_npy(const uint8_t* data, size_t size, const std::string& source) {
  detail::ByteReader reader(data, size, source);
  if (size < kMagicSize || std::memcmp(reader.take(kMagicSize, ".npy magic"), kMagic, kMagicSize) != 0) {
    reader.fail("not a .npy file (" + (size < kMagicSize ? std::to_string(size) + " bytes)" : "bad magic)"));
  }
  const uint8_t major = reader.u8(".npy version");
  reader.u8(".npy version");
  if (major < 1 || major > 3) reader.fail("unsupported .npy format version " + std::to_string(major));
  const uint64_t header_size = major == 1 ? reader.u16(".npy header length") : reader.u32(".npy header length");
  const NpyHeader header = HeaderParser(reader.string(header_size, ".npy header"), source).parse();
  if (header.fortran_order) reader.fail("Fortran-order arrays are not supported (save with np.ascontiguousarray)");

  const torch::Dtype dtype = dtype_of(header.descr, source);
  const uint64_t count = element_count(header.shape, source);
  const uint64_t item_size = c10::elementSize(dtype);
  if (count > std::numeric_limits<uint64_t>::max() / item_size) reader.fail("array shape overflows");
  const uint64_t bytes = count * item_size;
  if (reader.remaining() != bytes) {
    reader.fail((reader.remaining() < bytes ? "truncated array data: needs " : "trailing bytes after array data: needs ") +
                std::to_string(bytes) + " bytes, " + std::to_string(reader.remaining()) + " present");
  }
  torch::Tensor array = torch::empty(header.shape, torch::TensorOptions().dtype(dtype));
  const uint8_t* payload = reader.take(bytes, "array data");
  if (dtype == torch::kBool) {
    for (uint64_t i = 0; i < bytes; ++i) {
      if (payload[i] > 1) reader.fail("bool array holds byte " + std::to_string(payload[i]) + " (not 0 or 1)");
    }
  }
  if (bytes > 0) std::memcpy(array.data_ptr(), payload, bytes);  // an empty array has no data pointer
  return array;
}

torch::Tensor read_npy(const std::string& path) {
  const std::vector<uint8_t> bytes = detail::read_file(path);
  return decode_npy(bytes.data(), bytes.size(), path);
}

void write_npy(const std::string& path, const torch::Tensor& array) {
  detail::AtomicFile file(path);
  file.write(encode_npy(array, path));
  file.commit();
}

NamedArrays read_npz(const std::string& path) {
  ZipReader archive(path);
  NamedArrays arrays;
  for (const ZipEntry& entry : archive.entries()) {
    std::string key = entry.name;
    if (key.size() > 4 && key.compare(key.size() - 4, 4, ".npy") == 0) key.resize(key.size() - 4);
    const std::vector<uint8_t> bytes = archive.read(entry);
    if (arrays.contains(key)) detail::fail(path, "duplicate member '" + entry.name + "'");
    arrays.insert(key, decode_npy(bytes.data(), bytes.size(), path + ":" + entry.name));
  }
  return arrays;
}

void write_npz(const std::string& path, const NamedArrays& arrays) {
  ZipWriter archive(path);
  for (const auto& item : arrays) {
    const std::string bytes = encode_npy(item.value(), path);
    archive.add(item.key() + ".npy", bytes.data(), bytes.size());
  }
  archive.finish();
}

}  // namespace sit::io
