#include "tapegrad/datasets/idx.h"

#include <zlib.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <cstring>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <system_error>
#include <vector>

#include <unistd.h>

namespace tg::datasets {

namespace {

constexpr std::size_t kMaxRank = 16;             // MNIST uses 1 and 3; more is a corrupt header
constexpr std::uint64_t kMaxBytes = 1ull << 46;  // 64 TiB: anything larger is absurd on its face

struct FileCloser {
  void operator()(std::FILE* f) const { std::fclose(f); }
};
using File = std::unique_ptr<std::FILE, FileCloser>;

template <typename... Args>
[[noreturn]] void fail(const std::filesystem::path& path, const Args&... args) {
  throw Error(detail::concat("read_idx: ", path.string(), ": ", args...));
}

// The bytes of an IDX file, decompressed when it is gzip. read() returns fewer than n bytes
// only at the end of the data.
class ByteSource {
 public:
  ByteSource(const std::filesystem::path& path) : path_(path) {
    file_.reset(std::fopen(path.c_str(), "rb"));
    if (!file_) fail(path, "cannot open (", std::strerror(errno), ")");
    std::array<unsigned char, 2> magic{};
    const std::size_t got = std::fread(magic.data(), 1, 2, file_.get());
    gzip_ = got == 2 && magic[0] == 0x1f && magic[1] == 0x8b;
    std::rewind(file_.get());
    if (gzip_) {
      in_.resize(1 << 16);
      if (inflateInit2(&zs_, 15 + 16) != Z_OK) fail(path, "zlib initialisation failed");
      zs_open_ = true;
    } else {
      std::error_code ec;
      const auto size = std::filesystem::file_size(path, ec);
      if (ec) fail(path, "cannot determine the file size (", ec.message(), ")");
      plain_left_ = size;
    }
  }
  ~ByteSource() {
    if (zs_open_) inflateEnd(&zs_);
  }
  ByteSource(const ByteSource&) = delete;
  ByteSource& operator=(const ByteSource&) = delete;

  bool gzip() const { return gzip_; }
  // Bytes left in a plain file (exact); unknown for gzip until decompressed.
  std::optional<std::uint64_t> known_remaining() const {
    return gzip_ ? std::nullopt : std::optional<std::uint64_t>(plain_left_);
  }

  std::size_t read(void* dst, std::size_t n) {
    if (!gzip_) {
      const std::size_t got = std::fread(dst, 1, n, file_.get());
      if (got < n && std::ferror(file_.get())) fail(path_, "read error");
      plain_left_ -= std::min<std::uint64_t>(plain_left_, got);
      return got;
    }
    return inflate_into(static_cast<unsigned char*>(dst), n);
  }

  // True when the gzip stream ended properly (trailer and CRC checked).
  bool gzip_complete() const { return stream_end_; }

 private:
  bool refill() {
    const std::size_t got = std::fread(in_.data(), 1, in_.size(), file_.get());
    if (got == 0 && std::ferror(file_.get())) fail(path_, "read error");
    zs_.next_in = in_.data();
    zs_.avail_in = static_cast<uInt>(got);
    return got > 0;
  }

  std::size_t inflate_into(unsigned char* dst, std::size_t n) {
    std::size_t done = 0;
    while (done < n) {
      if (stream_end_) {
        // Another gzip member may follow (concatenated .gz files are valid gzip).
        if (zs_.avail_in == 0 && !refill()) break;
        if (zs_.next_in[0] != 0x1f)
          fail(path_, "unexpected bytes after the end of the gzip stream (trailing garbage)");
        if (inflateReset(&zs_) != Z_OK) fail(path_, "zlib reset failed");
        stream_end_ = false;
      }
      if (zs_.avail_in == 0 && !refill()) break;  // compressed data ended early
      const std::size_t want = std::min<std::size_t>(n - done, 1u << 30);
      zs_.next_out = dst + done;
      zs_.avail_out = static_cast<uInt>(want);
      const int ret = inflate(&zs_, Z_NO_FLUSH);
      done += want - zs_.avail_out;
      if (ret == Z_STREAM_END) {
        stream_end_ = true;
      } else if (ret != Z_OK && ret != Z_BUF_ERROR) {
        fail(path_, "corrupt gzip data (zlib: ", zs_.msg ? zs_.msg : "error ", ret, ")");
      }
    }
    return done;
  }

  std::filesystem::path path_;
  File file_;
  bool gzip_ = false;
  std::uint64_t plain_left_ = 0;
  z_stream zs_{};
  bool zs_open_ = false;
  bool stream_end_ = false;
  std::vector<unsigned char> in_;
};

struct TypeInfo {
  std::size_t size;
  Dtype dtype;
  const char* name;
};

std::optional<TypeInfo> type_info(std::uint8_t code) {
  switch (code) {
    case 0x08:
      return TypeInfo{1, kUInt8, "ubyte"};
    case 0x09:
      return TypeInfo{1, kInt64, "sbyte"};
    case 0x0B:
      return TypeInfo{2, kInt64, "short"};
    case 0x0C:
      return TypeInfo{4, kInt64, "int"};
    case 0x0D:
      return TypeInfo{4, kFloat32, "float"};
    case 0x0E:
      return TypeInfo{8, kFloat64, "double"};
    default:
      return std::nullopt;
  }
}

std::uint64_t load_be(const unsigned char* p, std::size_t n) {
  std::uint64_t v = 0;
  for (std::size_t i = 0; i < n; ++i) v = (v << 8) | p[i];
  return v;
}

// Decodes `count` big-endian elements of type `code` from raw into dst (starting at element
// `first`).
void decode(std::uint8_t code, const unsigned char* raw, std::int64_t count, const Tensor& dst,
            std::int64_t first) {
  switch (code) {
    case 0x08:
      std::memcpy(dst.data_ptr<std::uint8_t>() + first, raw, static_cast<std::size_t>(count));
      return;
    case 0x09: {
      auto* out = dst.data_ptr<std::int64_t>() + first;
      for (std::int64_t i = 0; i < count; ++i) out[i] = static_cast<std::int8_t>(raw[i]);
      return;
    }
    case 0x0B: {
      auto* out = dst.data_ptr<std::int64_t>() + first;
      for (std::int64_t i = 0; i < count; ++i)
        out[i] = static_cast<std::int16_t>(static_cast<std::uint16_t>(load_be(raw + 2 * i, 2)));
      return;
    }
    case 0x0C: {
      auto* out = dst.data_ptr<std::int64_t>() + first;
      for (std::int64_t i = 0; i < count; ++i)
        out[i] = static_cast<std::int32_t>(static_cast<std::uint32_t>(load_be(raw + 4 * i, 4)));
      return;
    }
    case 0x0D: {
      auto* out = dst.data_ptr<float>() + first;
      for (std::int64_t i = 0; i < count; ++i) {
        const auto bits = static_cast<std::uint32_t>(load_be(raw + 4 * i, 4));
        std::memcpy(out + i, &bits, 4);
      }
      return;
    }
    case 0x0E: {
      auto* out = dst.data_ptr<double>() + first;
      for (std::int64_t i = 0; i < count; ++i) {
        const std::uint64_t bits = load_be(raw + 8 * i, 8);
        std::memcpy(out + i, &bits, 8);
      }
      return;
    }
    default:
      throw Error("read_idx: internal error: unknown type code");
  }
}

}  // namespace

Tensor read_idx(const std::filesystem::path& path) {
  ByteSource src(path);
  const char* kind = src.gzip() ? " (gzip)" : "";

  std::array<unsigned char, 4> magic{};
  const std::size_t got = src.read(magic.data(), 4);
  if (got < 4) fail(path, "file too short for an IDX header (", got, " bytes)", kind);
  if (magic[0] != 0 || magic[1] != 0)
    fail(path, "bad magic number 0x", std::hex, load_be(magic.data(), 4), std::dec,
         " (an IDX file starts with two zero bytes, a type code and the rank)", kind);
  const std::uint8_t code = magic[2];
  const auto info = type_info(code);
  if (!info)
    fail(path, "unknown IDX type code 0x", std::hex, int(code), std::dec,
         " (known: 0x08 ubyte, 0x09 sbyte, 0x0B short, 0x0C int, 0x0D float, 0x0E double)");
  const std::size_t rank = magic[3];
  if (rank > kMaxRank) fail(path, "absurd rank ", rank, " (at most ", kMaxRank, " supported)");

  std::vector<unsigned char> dims_raw(4 * rank);
  if (src.read(dims_raw.data(), dims_raw.size()) < dims_raw.size())
    fail(path, "truncated header: rank ", rank, " needs ", 4 * rank, " bytes of sizes", kind);
  Shape shape(rank);
  std::uint64_t count = 1;
  bool overflow = false;
  for (std::size_t d = 0; d < rank; ++d) {
    const std::uint64_t n = load_be(dims_raw.data() + 4 * d, 4);
    shape[d] = static_cast<std::int64_t>(n);
    if (n != 0 && count > kMaxBytes / n) overflow = true;
    count *= n;
  }
  for (auto n : shape)
    if (n == 0) count = 0, overflow = false;
  if (overflow || count * info->size > kMaxBytes)
    fail(path, "absurd sizes ", shape_str(shape), ": the element count overflows");
  // An empty tensor still gets strides from its other sizes: they must fit too.
  check_shape("read_idx: " + path.string(), shape);
  const std::uint64_t bytes = count * info->size;

  if (auto left = src.known_remaining()) {
    // Plain file: the exact size is known, so every mismatch is caught before allocating.
    if (*left < bytes)
      fail(path, "truncated data: sizes ", shape_str(shape), " of ", info->name, " need ", bytes,
           " bytes but only ", *left, " follow the header");
    if (*left > bytes)
      fail(path, "trailing garbage: sizes ", shape_str(shape), " of ", info->name, " need ", bytes,
           " bytes but ", *left, " follow the header");
    Tensor out = empty(shape, info->dtype);
    std::vector<unsigned char> chunk(std::min<std::uint64_t>(bytes, 1u << 20));
    const std::uint64_t per_chunk = chunk.size() / info->size;
    for (std::uint64_t first = 0; first < count; first += per_chunk) {
      const std::uint64_t n = std::min(per_chunk, count - first);
      if (src.read(chunk.data(), n * info->size) < n * info->size)
        fail(path, "file shrank while reading");
      decode(code, chunk.data(), static_cast<std::int64_t>(n), out,
             static_cast<std::int64_t>(first));
    }
    return out;
  }

  // gzip: the decompressed size is unknown until inflated, so grow the buffer as data arrives;
  // a header that claims more than the stream holds fails without a large allocation.
  std::vector<unsigned char> raw;
  std::uint64_t have = 0;
  while (have < bytes) {
    const std::uint64_t target =
        std::min<std::uint64_t>(bytes, std::max<std::uint64_t>(1u << 20, 2 * have));
    raw.resize(target);
    const std::size_t want = target - have;
    const std::size_t n = src.read(raw.data() + have, want);
    have += n;
    if (n < want)
      fail(path, "truncated data: sizes ", shape_str(shape), " of ", info->name, " need ", bytes,
           " bytes but the gzip stream holds only ", have, " after the header");
  }
  unsigned char extra = 0;
  if (src.read(&extra, 1) == 1)
    fail(path, "trailing garbage: sizes ", shape_str(shape), " of ", info->name, " need ", bytes,
         " bytes but the gzip stream holds more");
  if (!src.gzip_complete())
    fail(path, "truncated gzip stream: the data ends before the gzip trailer");
  Tensor out = empty(shape, info->dtype);
  if (count > 0) decode(code, raw.data(), static_cast<std::int64_t>(count), out, 0);
  return out;
}

namespace {

void store_be(unsigned char* p, std::uint64_t v, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) p[i] = static_cast<unsigned char>(v >> (8 * (n - 1 - i)));
}

std::vector<unsigned char> encode(const Tensor& t_in) {
  const Tensor t = t_in.contiguous();
  IdxType type{};
  std::size_t esize = 0;
  switch (t.dtype()) {
    case kUInt8:
      type = IdxType::UInt8, esize = 1;
      break;
    case kInt64:
      type = IdxType::Int32, esize = 4;
      break;
    case kFloat32:
      type = IdxType::Float32, esize = 4;
      break;
    case kFloat64:
      type = IdxType::Float64, esize = 8;
      break;
  }
  TG_CHECK(t.dim() <= static_cast<std::int64_t>(kMaxRank), "write_idx: rank ", t.dim(), " exceeds ",
           kMaxRank);
  for (auto n : t.shape())
    TG_CHECK(n <= std::numeric_limits<std::uint32_t>::max(), "write_idx: size ", n,
             " does not fit the IDX header's uint32");
  const auto count = static_cast<std::size_t>(t.numel());
  std::vector<unsigned char> out(4 + 4 * t.shape().size() + count * esize);
  out[2] = static_cast<unsigned char>(type);
  out[3] = static_cast<unsigned char>(t.dim());
  unsigned char* p = out.data() + 4;
  for (auto n : t.shape()) store_be(p, static_cast<std::uint64_t>(n), 4), p += 4;
  switch (t.dtype()) {
    case kUInt8:
      std::memcpy(p, t.data_ptr<std::uint8_t>(), count);
      break;
    case kInt64: {
      const auto* v = t.data_ptr<std::int64_t>();
      for (std::size_t i = 0; i < count; ++i) {
        TG_CHECK(v[i] >= std::numeric_limits<std::int32_t>::min() &&
                     v[i] <= std::numeric_limits<std::int32_t>::max(),
                 "write_idx: int64 value ", v[i], " does not fit IDX int32");
        store_be(p + 4 * i, static_cast<std::uint32_t>(static_cast<std::int32_t>(v[i])), 4);
      }
      break;
    }
    case kFloat32: {
      const auto* v = t.data_ptr<float>();
      for (std::size_t i = 0; i < count; ++i) {
        std::uint32_t bits;
        std::memcpy(&bits, v + i, 4);
        store_be(p + 4 * i, bits, 4);
      }
      break;
    }
    case kFloat64: {
      const auto* v = t.data_ptr<double>();
      for (std::size_t i = 0; i < count; ++i) {
        std::uint64_t bits;
        std::memcpy(&bits, v + i, 8);
        store_be(p + 8 * i, bits, 8);
      }
      break;
    }
  }
  return out;
}

}  // namespace

void write_idx(const std::filesystem::path& path, const Tensor& t, bool gzip) {
  const std::vector<unsigned char> bytes = encode(t);
  const std::filesystem::path tmp =
      path.string() + ".tmp." + std::to_string(static_cast<long>(::getpid()));
  bool ok = false;
  if (gzip) {
    gzFile gz = gzopen(tmp.c_str(), "wb");
    TG_CHECK(gz != nullptr, "write_idx: cannot create ", tmp.string());
    ok = bytes.empty() || gzwrite(gz, bytes.data(), static_cast<unsigned>(bytes.size())) ==
                              static_cast<int>(bytes.size());
    ok = gzclose(gz) == Z_OK && ok;
  } else {
    File f(std::fopen(tmp.c_str(), "wb"));
    TG_CHECK(f != nullptr, "write_idx: cannot create ", tmp.string(), " (", std::strerror(errno),
             ")");
    ok = std::fwrite(bytes.data(), 1, bytes.size(), f.get()) == bytes.size();
    ok = std::fclose(f.release()) == 0 && ok;
  }
  std::error_code ec;
  if (ok) std::filesystem::rename(tmp, path, ec);
  if (!ok || ec) {
    std::filesystem::remove(tmp, ec);
    throw Error(detail::concat("write_idx: failed to write ", path.string()));
  }
}

}  // namespace tg::datasets
