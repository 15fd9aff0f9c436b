#include "tapegrad/datasets/idx.h"

#include <zlib.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <limits>
#include <new>
#include <optional>
#include <string>
#include <vector>

#include "tapegrad/core/detail/file_io.h"

namespace tg::datasets {

namespace {

constexpr std::size_t kMaxRank = 16;             // MNIST uses 1 and 3; more is a corrupt header
constexpr std::uint64_t kMaxBytes = 1ull << 46;  // 64 TiB: anything larger is absurd on its face
// gzip files are not backed by their bytes (deflate inflates up to ~1000x): their data is read
// up to 1 GiB decompressed (EMNIST, the largest MNIST-style set, is 0.55 GB).
constexpr std::uint64_t kMaxGzipBytes = 1ull << 30;

template <typename... Args>
[[noreturn]] void fail(const std::filesystem::path& path, const Args&... args) {
  throw Error(detail::concat("read_idx: ", path.string(), ": ", args...));
}

// The bytes of an IDX file, decompressed when it is gzip. read() returns fewer than n bytes
// only at the end of the data. restart() goes back to the first byte for a second pass.
class ByteSource {
 public:
  explicit ByteSource(const std::filesystem::path& path)
      : path_(path), file_(path, "read_idx: " + path.string()) {
    std::array<unsigned char, 2> magic{};
    const std::size_t got = file_.read(magic.data(), 2);
    gzip_ = got == 2 && magic[0] == 0x1f && magic[1] == 0x8b;
    file_.rewind();
    if (gzip_) {
      in_.resize(1 << 16);
      if (inflateInit2(&zs_, 15 + 16) != Z_OK) fail(path, "zlib initialisation failed");
      zs_open_ = true;
    }
    plain_left_ = file_.size();
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
      const std::size_t got = file_.read(dst, n);
      plain_left_ -= std::min<std::uint64_t>(plain_left_, got);
      return got;
    }
    return inflate_into(static_cast<unsigned char*>(dst), n);
  }

  void restart() {
    file_.rewind();
    plain_left_ = file_.size();
    if (gzip_) {
      if (inflateReset(&zs_) != Z_OK) fail(path_, "zlib reset failed");
      zs_.avail_in = 0;
      stream_end_ = false;
    }
  }

  // True when the gzip stream ended properly (trailer and CRC checked).
  bool gzip_complete() const { return stream_end_; }

 private:
  bool refill() {
    const std::size_t got = file_.read(in_.data(), in_.size());
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
  tg::detail::InputFile file_;  // regular files only, opened without blocking
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

namespace {

// Decodes `count` elements from `src` (positioned at the first one) into a new tensor, 1 MiB of
// file bytes at a time.
Tensor decode_all(ByteSource& src, const std::filesystem::path& path, std::uint8_t code,
                  const TypeInfo& info, const Shape& shape, std::uint64_t count) {
  Tensor out = empty(shape, info.dtype);
  const std::uint64_t bytes = count * info.size;
  std::vector<unsigned char> chunk(std::min<std::uint64_t>(bytes, 1u << 20));
  const std::uint64_t per_chunk = std::max<std::uint64_t>(chunk.size() / info.size, 1);
  for (std::uint64_t first = 0; first < count; first += per_chunk) {
    const std::uint64_t n = std::min(per_chunk, count - first);
    if (src.read(chunk.data(), n * info.size) < n * info.size)
      fail(path, "the file changed while being read");
    decode(code, chunk.data(), static_cast<std::int64_t>(n), out, static_cast<std::int64_t>(first));
  }
  return out;
}

Tensor read_idx_checked(const std::filesystem::path& path) {
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
    return decode_all(src, path, code, *info, shape, count);
  }

  // gzip: the decompressed size is unknown until inflated. A few KB can inflate to gigabytes,
  // so the declared size is capped, and a first pass inflates exactly that much (plus one byte
  // to catch trailing data) into a small scratch buffer, allocating nothing. Only a stream that
  // holds exactly the declared bytes is decoded, in a second pass, straight into the tensor.
  if (bytes > kMaxGzipBytes)
    fail(path, "sizes ", shape_str(shape), " of ", info->name, " declare ", bytes,
         " bytes, above the limit of ", kMaxGzipBytes,
         " bytes for gzip-compressed IDX files (decompress it with gunzip and read the plain "
         "file, which has no such limit)");
  std::vector<unsigned char> scratch(std::min<std::uint64_t>(bytes + 1, 1u << 16));
  std::uint64_t have = 0;
  while (have < bytes) {
    const std::size_t want = std::min<std::uint64_t>(scratch.size(), bytes - have);
    const std::size_t n = src.read(scratch.data(), want);
    have += n;
    if (n < want)
      fail(path, "truncated data: sizes ", shape_str(shape), " of ", info->name, " need ", bytes,
           " bytes but the gzip stream holds only ", have, " after the header");
  }
  if (src.read(scratch.data(), 1) == 1)
    fail(path, "trailing garbage: sizes ", shape_str(shape), " of ", info->name, " need ", bytes,
         " bytes but the gzip stream holds more");
  if (!src.gzip_complete())
    fail(path, "truncated gzip stream: the data ends before the gzip trailer");
  src.restart();
  std::array<unsigned char, 4 + 4 * kMaxRank> header{};  // skipped: it was checked above
  if (src.read(header.data(), 4 + 4 * rank) < 4 + 4 * rank)
    fail(path, "the file changed while being read");
  return decode_all(src, path, code, *info, shape, count);
}

}  // namespace

Tensor read_idx(const std::filesystem::path& path) {
  try {
    return read_idx_checked(path);
  } catch (const std::bad_alloc&) {
    fail(path, "out of memory while reading the file");
  }
}

namespace {

void store_be(unsigned char* p, std::uint64_t v, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) p[i] = static_cast<unsigned char>(v >> (8 * (n - 1 - i)));
}

std::vector<unsigned char> encode(const Tensor& t_in) {
  // bool has no IDX type: written as ubyte 0/1 (read back as uint8).
  const Tensor t = t_in.dtype() == kBool ? t_in.to(kUInt8) : t_in.contiguous();
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
    case kBool:
      break;  // converted above
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
    case kBool:
      break;  // converted to uint8 above
  }
  return out;
}

// Streams `bytes` gzip-compressed (deflate with the gzip wrapper, no file name, mtime 0).
void gzip_into(const std::vector<unsigned char>& bytes, const tg::detail::WriteChunk& write) {
  z_stream zs{};
  TG_CHECK(
      deflateInit2(&zs, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) == Z_OK,
      "write_idx: zlib initialisation failed");
  struct End {
    z_stream* zs;
    ~End() { deflateEnd(zs); }
  } end{&zs};
  std::vector<unsigned char> out(1 << 16);
  zs.next_in = const_cast<unsigned char*>(bytes.data());  // zlib's API is not const-correct
  std::size_t left = bytes.size();
  int flush = Z_NO_FLUSH;
  while (flush != Z_FINISH) {
    const std::size_t take = std::min<std::size_t>(left, 1u << 30);
    zs.avail_in = static_cast<uInt>(take);
    left -= take;
    flush = left == 0 ? Z_FINISH : Z_NO_FLUSH;
    do {
      zs.next_out = out.data();
      zs.avail_out = static_cast<uInt>(out.size());
      const int ret = deflate(&zs, flush);
      TG_CHECK(ret != Z_STREAM_ERROR, "write_idx: zlib compression failed");
      write(reinterpret_cast<const char*>(out.data()), out.size() - zs.avail_out);
    } while (zs.avail_out == 0);
  }
}

}  // namespace

void write_idx(const std::filesystem::path& path, const Tensor& t, bool gzip) {
  try {
    const std::vector<unsigned char> bytes = encode(t);
    // The library's one atomic writer: a unique temporary, fsync, rename (core/atomic_file.h).
    tg::detail::write_file_atomic_with(
        path,
        [&](const tg::detail::WriteChunk& write) {
          if (gzip)
            gzip_into(bytes, write);
          else
            write(reinterpret_cast<const char*>(bytes.data()), bytes.size());
        },
        "write_idx");
  } catch (const std::bad_alloc&) {
    throw Error(detail::concat("write_idx: '", path.string(), "': out of memory"));
  }
}

}  // namespace tg::datasets
