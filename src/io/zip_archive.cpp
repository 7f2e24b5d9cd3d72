#include "io/zip_archive.h"

#include <zlib.h>

#include <algorithm>
#include <limits>
#include <unordered_set>

#include "io/byte_reader.h"
#include "io/file.h"

namespace sit::io {
namespace {

// Record signatures and fixed sizes from the ZIP application note (APPNOTE.TXT 6.3).
constexpr uint32_t kLocalHeaderSignature = 0x04034b50;
constexpr uint32_t kCentralHeaderSignature = 0x02014b50;
constexpr uint32_t kEndSignature = 0x06054b50;
constexpr uint32_t kZip64EndSignature = 0x06064b50;
constexpr uint32_t kZip64LocatorSignature = 0x07064b50;
constexpr uint64_t kLocalHeaderSize = 30;
constexpr uint64_t kEndRecordSize = 22;
constexpr uint64_t kZip64LocatorSize = 20;
constexpr uint64_t kZip64EndRecordSize = 56;
constexpr uint64_t kMaxCommentSize = 0xFFFF;
constexpr uint16_t kZip64ExtraId = 0x0001;
// torch.save pads the local header's extra field with this id so member data is 64-byte aligned.
constexpr uint16_t kPaddingExtraId = 0x4246;  // "FB"
constexpr uint64_t kDataAlignment = 64;
constexpr uint32_t kZip64Marker32 = 0xFFFFFFFF;
constexpr uint16_t kZip64Marker16 = 0xFFFF;
constexpr uint16_t kFlagEncrypted = 0x0001;
constexpr uint16_t kFlagUtf8 = 0x0800;
constexpr uint16_t kMethodStored = 0;
constexpr uint16_t kMethodDeflated = 8;
constexpr uint16_t kDosDate1980 = 0x21;  // 1980-01-01, the earliest DOS date

uint32_t crc32_of(const void* data, uint64_t size, uint32_t crc = 0) {
  const auto* bytes = static_cast<const Bytef*>(data);
  while (size > 0) {
    const uInt chunk = static_cast<uInt>(std::min<uint64_t>(size, std::numeric_limits<uInt>::max()));
    crc = static_cast<uint32_t>(::crc32(crc, bytes, chunk));
    bytes += chunk;
    size -= chunk;
  }
  return crc;
}

struct CentralDirectory {
  uint64_t count;
  uint64_t offset;
  uint64_t size;
  uint64_t limit;  // the record that follows the directory: nothing of it may reach past here
};

// Position of the end of central directory record: the last signature whose comment fits the tail.
uint64_t find_end_record(detail::InputFile& file) {
  if (file.size() < kEndRecordSize) {
    detail::fail(file.path(), "not a zip archive (only " + std::to_string(file.size()) + " bytes)");
  }
  const uint64_t tail_size = std::min(file.size(), kEndRecordSize + kMaxCommentSize);
  const uint64_t tail_start = file.size() - tail_size;
  const std::vector<uint8_t> tail = file.read(tail_start, tail_size, "end of archive");
  for (uint64_t i = tail_size - kEndRecordSize + 1; i-- > 0;) {
    detail::ByteReader record(tail.data() + i, tail_size - i, file.path());
    if (record.u32("signature") != kEndSignature) continue;
    record.skip(16, "end record");
    if (record.u16("comment length") <= record.remaining()) return tail_start + i;
  }
  detail::fail(file.path(), "not a zip archive (no end of central directory record)");
}

CentralDirectory read_zip64_end_record(detail::InputFile& file, uint64_t end_record_offset) {
  if (end_record_offset < kZip64LocatorSize) detail::fail(file.path(), "zip64 locator missing");
  const uint64_t locator_offset = end_record_offset - kZip64LocatorSize;
  const std::vector<uint8_t> locator_bytes = file.read(locator_offset, kZip64LocatorSize, "zip64 locator");
  detail::ByteReader locator(locator_bytes.data(), locator_bytes.size(), file.path());
  if (locator.u32("zip64 locator") != kZip64LocatorSignature) detail::fail(file.path(), "zip64 locator missing");
  locator.u32("zip64 locator disk");
  const uint64_t record_offset = locator.u64("zip64 end record offset");
  if (record_offset > locator_offset || locator_offset - record_offset < kZip64EndRecordSize) {
    detail::fail(file.path(), "zip64 end record offset " + std::to_string(record_offset) + " is out of place");
  }
  const std::vector<uint8_t> record_bytes = file.read(record_offset, kZip64EndRecordSize, "zip64 end record");
  detail::ByteReader record(record_bytes.data(), record_bytes.size(), file.path());
  if (record.u32("zip64 end record") != kZip64EndSignature) detail::fail(file.path(), "bad zip64 end record signature");
  record.skip(8 + 2 + 2 + 4 + 4 + 8, "zip64 end record");  // record size, versions, disks, disk entries
  CentralDirectory directory{};
  directory.count = record.u64("zip64 entry count");
  directory.size = record.u64("zip64 directory size");
  directory.offset = record.u64("zip64 directory offset");
  directory.limit = record_offset;
  return directory;
}

CentralDirectory read_end_record(detail::InputFile& file) {
  const uint64_t end_offset = find_end_record(file);
  const std::vector<uint8_t> bytes = file.read(end_offset, kEndRecordSize, "end record");
  detail::ByteReader record(bytes.data(), bytes.size(), file.path());
  record.u32("end record");
  const uint16_t disk = record.u16("disk number");
  const uint16_t directory_disk = record.u16("directory disk");
  record.u16("disk entry count");
  CentralDirectory directory{};
  directory.count = record.u16("entry count");
  directory.size = record.u32("directory size");
  directory.offset = record.u32("directory offset");
  directory.limit = end_offset;
  if (disk != 0 || directory_disk != 0) detail::fail(file.path(), "multi-disk zip archives are not supported");
  if (directory.count == kZip64Marker16 || directory.size == kZip64Marker32 || directory.offset == kZip64Marker32) {
    return read_zip64_end_record(file, end_offset);
  }
  return directory;
}

// Replaces the 0xFFFFFFFF placeholders of an entry by the zip64 extra field's values, which appear
// in this order and only for the fields that hold the placeholder.
void apply_zip64_extra(const std::string& extra, ZipEntry& entry, uint64_t& header_offset, const std::string& source) {
  detail::ByteReader fields(reinterpret_cast<const uint8_t*>(extra.data()), extra.size(), source);
  while (fields.remaining() >= 4) {
    const uint16_t id = fields.u16("extra field id");
    const uint16_t size = fields.u16("extra field size");
    const uint8_t* data = fields.take(size, "extra field");
    if (id != kZip64ExtraId) continue;
    detail::ByteReader zip64(data, size, source + ": zip64 field of '" + entry.name + "'");
    if (entry.size == kZip64Marker32) entry.size = zip64.u64("uncompressed size");
    if (entry.compressed_size == kZip64Marker32) entry.compressed_size = zip64.u64("compressed size");
    if (header_offset == kZip64Marker32) header_offset = zip64.u64("local header offset");
  }
}

// Start of a member's data: after its local header, whose name and extra field lengths may differ
// from the central directory's. The data must end before `data_limit` (the central directory).
uint64_t local_data_offset(detail::InputFile& file, const ZipEntry& entry, uint64_t header_offset,
                           uint64_t data_limit) {
  const std::vector<uint8_t> bytes = file.read(header_offset, kLocalHeaderSize, "local header of '" + entry.name + "'");
  detail::ByteReader header(bytes.data(), bytes.size(), file.path());
  if (header.u32("local header") != kLocalHeaderSignature) {
    detail::fail(file.path(), "bad local header signature for member '" + entry.name + "'");
  }
  header.skip(22, "local header");  // versions, flags, method, time, crc, sizes
  const uint16_t name_size = header.u16("name length");
  const uint16_t extra_size = header.u16("extra length");
  const uint64_t data_offset = header_offset + kLocalHeaderSize + name_size + extra_size;
  if (data_offset > data_limit || entry.compressed_size > data_limit - data_offset) {
    detail::fail(file.path(), "data of member '" + entry.name + "' [" + std::to_string(data_offset) + ", " +
                                  std::to_string(data_offset + entry.compressed_size) +
                                  ") overruns the central directory at " + std::to_string(data_limit));
  }
  return data_offset;
}

void check_entry(const ZipEntry& entry, uint16_t flags, const std::string& source) {
  const std::string member = "member '" + entry.name + "'";
  if (flags & kFlagEncrypted) detail::fail(source, member + " is encrypted");
  if (entry.method != kMethodStored && entry.method != kMethodDeflated) {
    detail::fail(source, member + " uses unsupported compression method " + std::to_string(entry.method));
  }
  if (entry.method == kMethodStored && entry.compressed_size != entry.size) {
    detail::fail(source, "stored " + member + " has compressed size " + std::to_string(entry.compressed_size) +
                             " != size " + std::to_string(entry.size));
  }
  // Deflate expands at most 1032:1, which bounds what a reader allocates for a corrupt size.
  if (entry.method == kMethodDeflated && entry.size / 1032 > entry.compressed_size + 1) {
    detail::fail(source, member + " claims an implausible size " + std::to_string(entry.size));
  }
}

// A member as the directory places it: its local header, name, extra field and data.
struct Extent {
  uint64_t begin;  // the local header
  uint64_t end;    // past the (compressed) data
  const ZipEntry* entry;
};

ZipEntry read_entry(detail::ByteReader& directory, detail::InputFile& file, uint64_t data_limit,
                    uint64_t* header_offset_out) {
  if (directory.u32("central directory entry") != kCentralHeaderSignature) {
    directory.fail("bad central directory entry signature at directory offset " + std::to_string(directory.position() - 4));
  }
  directory.skip(4, "central directory entry");  // versions
  const uint16_t flags = directory.u16("flags");
  ZipEntry entry;
  entry.method = directory.u16("compression method");
  directory.skip(4, "modification time");
  entry.crc32 = directory.u32("crc32");
  entry.compressed_size = directory.u32("compressed size");
  entry.size = directory.u32("size");
  const uint16_t name_size = directory.u16("name length");
  const uint16_t extra_size = directory.u16("extra length");
  const uint16_t comment_size = directory.u16("comment length");
  directory.skip(8, "central directory entry");  // disk number, attributes
  uint64_t header_offset = directory.u32("local header offset");
  entry.name = directory.string(name_size, "member name");
  apply_zip64_extra(directory.string(extra_size, "extra field"), entry, header_offset, file.path());
  directory.skip(comment_size, "member comment");
  check_entry(entry, flags, file.path());
  entry.data_offset = local_data_offset(file, entry, header_offset, data_limit);
  *header_offset_out = header_offset;
  return entry;
}

// Each name once, and no two members sharing bytes: overlapping members are how zip bombs
// multiply one compressed stream, and a repeated name would make which one is read arbitrary.
void check_distinct(const std::vector<ZipEntry>& entries, const std::vector<uint64_t>& header_offsets,
                    const std::string& source) {
  std::vector<Extent> extents;
  std::unordered_set<std::string> names;
  for (size_t i = 0; i < entries.size(); ++i) {
    if (!names.insert(entries[i].name).second) detail::fail(source, "member '" + entries[i].name + "' appears twice");
    extents.push_back({header_offsets[i], entries[i].data_offset + entries[i].compressed_size, &entries[i]});
  }
  std::sort(extents.begin(), extents.end(), [](const Extent& a, const Extent& b) { return a.begin < b.begin; });
  for (size_t i = 1; i < extents.size(); ++i) {
    if (extents[i].begin < extents[i - 1].end) {
      detail::fail(source, "members '" + extents[i - 1].entry->name + "' and '" + extents[i].entry->name +
                               "' overlap at offset " + std::to_string(extents[i].begin));
    }
  }
}

// Raw deflate (no zlib header) of `compressed` into exactly `size` bytes at dst.
void inflate_into(const std::vector<uint8_t>& compressed, void* dst, uint64_t size, const std::string& what) {
  z_stream stream{};
  if (inflateInit2(&stream, -MAX_WBITS) != Z_OK) detail::fail(what, "cannot initialise zlib");
  stream.next_in = const_cast<Bytef*>(compressed.data());
  stream.next_out = static_cast<Bytef*>(dst);
  uint64_t input_left = compressed.size(), output_left = size;
  int status = Z_OK;
  while (status == Z_OK) {
    const uInt input_chunk = static_cast<uInt>(std::min<uint64_t>(input_left, std::numeric_limits<uInt>::max()));
    const uInt output_chunk = static_cast<uInt>(std::min<uint64_t>(output_left, std::numeric_limits<uInt>::max()));
    stream.avail_in = input_chunk;
    stream.avail_out = output_chunk;
    status = inflate(&stream, Z_NO_FLUSH);
    input_left -= input_chunk - stream.avail_in;
    output_left -= output_chunk - stream.avail_out;
    if (status == Z_OK && stream.avail_in == input_chunk && stream.avail_out == output_chunk) break;  // stalled
  }
  inflateEnd(&stream);
  if (status != Z_STREAM_END) detail::fail(what, "corrupt deflate data");
  if (output_left != 0) detail::fail(what, "inflates to fewer bytes than the directory says");
}

std::vector<ZipEntry> read_central_directory(detail::InputFile& file) {
  const std::string& source = file.path();
  const CentralDirectory directory = read_end_record(file);
  if (directory.offset > directory.limit || directory.size > directory.limit - directory.offset) {
    detail::fail(source, "central directory [" + std::to_string(directory.offset) + ", +" +
                             std::to_string(directory.size) + ") lies outside the archive");
  }
  // An entry takes at least 46 bytes: this bounds the count before anything is allocated.
  if (directory.count > directory.size / 46) {
    detail::fail(source, "central directory claims " + std::to_string(directory.count) + " entries in " +
                             std::to_string(directory.size) + " bytes");
  }
  const std::vector<uint8_t> bytes = file.read(directory.offset, directory.size, "central directory");
  detail::ByteReader reader(bytes.data(), bytes.size(), source + ": central directory");
  std::vector<ZipEntry> entries;
  std::vector<uint64_t> header_offsets(directory.count);
  entries.reserve(directory.count);
  for (uint64_t i = 0; i < directory.count; ++i) {
    entries.push_back(read_entry(reader, file, directory.offset, &header_offsets[i]));
  }
  check_distinct(entries, header_offsets, source);
  return entries;
}

// The fields a local header and a central directory entry share, "version needed" to "name length".
std::string common_fields(uint32_t crc, uint64_t size, size_t name_size, bool zip64_sizes, bool zip64_offset) {
  std::string fields;
  detail::append_u16(fields, zip64_sizes || zip64_offset ? 45 : 20);  // 4.5 introduced zip64
  detail::append_u16(fields, kFlagUtf8);
  detail::append_u16(fields, kMethodStored);
  detail::append_u16(fields, 0);  // time
  detail::append_u16(fields, kDosDate1980);
  detail::append_u32(fields, crc);
  detail::append_u32(fields, zip64_sizes ? kZip64Marker32 : static_cast<uint32_t>(size));  // compressed
  detail::append_u32(fields, zip64_sizes ? kZip64Marker32 : static_cast<uint32_t>(size));
  detail::append_u16(fields, static_cast<uint16_t>(name_size));
  return fields;
}

// Zip64 sizes when needed, then torch.save's "FB" padding so the data starts on a 64-byte boundary.
std::string local_extra_field(uint64_t header_offset, size_t name_size, uint64_t size, bool zip64_sizes) {
  std::string extra;
  if (zip64_sizes) {
    detail::append_u16(extra, kZip64ExtraId);
    detail::append_u16(extra, 16);
    detail::append_u64(extra, size);
    detail::append_u64(extra, size);
  }
  const uint64_t unpadded = header_offset + kLocalHeaderSize + name_size + extra.size();
  uint64_t padding = (kDataAlignment - unpadded % kDataAlignment) % kDataAlignment;
  if (padding > 0 && padding < 4) padding += kDataAlignment;  // room for the padding field's own header
  if (padding > 0) {
    detail::append_u16(extra, kPaddingExtraId);
    detail::append_u16(extra, static_cast<uint16_t>(padding - 4));
    extra.append(padding - 4, 'Z');
  }
  return extra;
}

// The zip64 field of a central directory entry: the sizes and offset that overflow 32 bits.
std::string central_extra_field(uint64_t header_offset, uint64_t size, bool zip64_sizes, bool zip64_offset) {
  std::string extra;
  if (!zip64_sizes && !zip64_offset) return extra;
  detail::append_u16(extra, kZip64ExtraId);
  detail::append_u16(extra, static_cast<uint16_t>(8 * (2 * zip64_sizes + zip64_offset)));
  if (zip64_sizes) detail::append_u64(extra, size);
  if (zip64_sizes) detail::append_u64(extra, size);
  if (zip64_offset) detail::append_u64(extra, header_offset);
  return extra;
}

}  // namespace

ZipReader::ZipReader(const std::string& path)
    : file_(std::make_unique<detail::InputFile>(path)), entries_(read_central_directory(*file_)) {}

ZipReader::~ZipReader() = default;

const std::string& ZipReader::path() const { return file_->path(); }

const ZipEntry* ZipReader::find(const std::string& name) const {
  for (const ZipEntry& entry : entries_) {
    if (entry.name == name) return &entry;
  }
  return nullptr;
}

std::vector<uint8_t> ZipReader::read(const ZipEntry& entry) {
  std::vector<uint8_t> bytes(entry.size);
  read_into(entry, bytes.data());
  return bytes;
}

void ZipReader::read_into(const ZipEntry& entry, void* dst) {
  const std::string what = "data of member '" + entry.name + "'";
  if (entry.method == kMethodStored) {
    file_->read(entry.data_offset, dst, entry.size, what);
  } else {
    const std::vector<uint8_t> compressed = file_->read(entry.data_offset, entry.compressed_size, what);
    inflate_into(compressed, dst, entry.size, path() + ": member '" + entry.name + "'");
  }
  if (crc32_of(dst, entry.size) != entry.crc32) {
    detail::fail(path(), "member '" + entry.name + "' is corrupt (CRC-32 mismatch)");
  }
}

ZipWriter::ZipWriter(const std::string& path, Zip64 zip64)
    : file_(std::make_unique<detail::AtomicFile>(path)), zip64_(zip64) {}

ZipWriter::~ZipWriter() = default;

void ZipWriter::add(const std::string& name, const void* data, uint64_t size) {
  if (name.size() > kZip64Marker16) detail::fail(name, "zip member name too long");
  const uint32_t crc = crc32_of(data, size);
  const uint64_t header_offset = file_->size();
  const bool zip64_sizes = zip64_ == Zip64::Always || size >= kZip64Marker32;
  const bool zip64_offset = zip64_ == Zip64::Always || header_offset >= kZip64Marker32;
  const std::string common = common_fields(crc, size, name.size(), zip64_sizes, zip64_offset);

  const std::string local_extra = local_extra_field(header_offset, name.size(), size, zip64_sizes);
  std::string local;
  detail::append_u32(local, kLocalHeaderSignature);
  local += common;
  detail::append_u16(local, static_cast<uint16_t>(local_extra.size()));
  file_->write(local + name + local_extra);
  file_->write(data, size);

  const std::string central_extra = central_extra_field(header_offset, size, zip64_sizes, zip64_offset);
  detail::append_u32(central_directory_, kCentralHeaderSignature);
  central_directory_ += common.substr(0, 2);  // version made by = version needed
  central_directory_ += common;
  detail::append_u16(central_directory_, static_cast<uint16_t>(central_extra.size()));
  detail::append_u16(central_directory_, 0);  // comment length
  detail::append_u16(central_directory_, 0);  // disk number
  detail::append_u16(central_directory_, 0);  // internal attributes
  detail::append_u32(central_directory_, 0);  // external attributes
  detail::append_u32(central_directory_, zip64_offset ? kZip64Marker32 : static_cast<uint32_t>(header_offset));
  central_directory_ += name + central_extra;
  ++member_count_;
}

void ZipWriter::finish() {
  const uint64_t directory_offset = file_->size();
  file_->write(central_directory_);
  write_end_of_central_directory(directory_offset, central_directory_.size());
  file_->commit();
}

void ZipWriter::write_end_of_central_directory(uint64_t directory_offset, uint64_t directory_size) {
  const bool zip64 = zip64_ == Zip64::Always || member_count_ >= kZip64Marker16 ||
                     directory_offset >= kZip64Marker32 || directory_size >= kZip64Marker32;
  std::string end;
  if (zip64) {
    const uint64_t record_offset = directory_offset + directory_size;
    detail::append_u32(end, kZip64EndSignature);
    detail::append_u64(end, kZip64EndRecordSize - 12);  // size of the rest of the record
    detail::append_u16(end, 45);
    detail::append_u16(end, 45);
    detail::append_u32(end, 0);  // this disk
    detail::append_u32(end, 0);  // directory disk
    detail::append_u64(end, member_count_);
    detail::append_u64(end, member_count_);
    detail::append_u64(end, directory_size);
    detail::append_u64(end, directory_offset);
    detail::append_u32(end, kZip64LocatorSignature);
    detail::append_u32(end, 0);
    detail::append_u64(end, record_offset);
    detail::append_u32(end, 1);  // total disks
  }
  const uint16_t count = zip64 ? kZip64Marker16 : static_cast<uint16_t>(member_count_);
  detail::append_u32(end, kEndSignature);
  detail::append_u16(end, 0);
  detail::append_u16(end, 0);
  detail::append_u16(end, count);
  detail::append_u16(end, count);
  detail::append_u32(end, zip64 ? kZip64Marker32 : static_cast<uint32_t>(directory_size));
  detail::append_u32(end, zip64 ? kZip64Marker32 : static_cast<uint32_t>(directory_offset));
  detail::append_u16(end, 0);  // comment length
  file_->write(end);
}

}  // namespace sit::io
