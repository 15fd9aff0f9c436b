#pragma once
// The IDX file format of MNIST-style datasets (http://yann.lecun.com/exdb/mnist/): a big-endian
// header {0, 0, type code, rank}, `rank` uint32 sizes, then the elements row-major, big-endian.
// Files may be plain or gzip-compressed (detected from the content, not the name).
#include <filesystem>

#include "tapegrad/core/tensor.h"

namespace tg::datasets {

// IDX element type codes.
enum class IdxType : std::uint8_t {
  UInt8 = 0x08,
  Int8 = 0x09,
  Int16 = 0x0B,
  Int32 = 0x0C,
  Float32 = 0x0D,
  Float64 = 0x0E,
};

// Reads a whole IDX file. uint8 stays uint8, int8/int16/int32 become int64, float32 and float64
// keep their type. Every malformed file (bad magic, unknown type code, absurd rank or sizes,
// truncated data, trailing bytes, corrupt gzip) throws tg::Error naming the file; memory is
// never allocated beyond what the file's bytes (after decompression) actually back. Only regular
// files are read (a FIFO or device is refused without blocking). gzip files may declare at most
// 1 GiB of data (a gzip bomb is refused before inflating, or after inflating only the declared
// size plus one byte); plain files have no such limit.
Tensor read_idx(const std::filesystem::path& path);

// Writes `t` as IDX: uint8 -> ubyte, int64 -> int32 (values must fit), float32 -> float,
// float64 -> double; gzip-compressed when `gzip` is true. The write is atomic, through the same
// writer as tg::save (core/atomic_file.h: unique temporary, fsync, rename, links followed,
// devices refused), so concurrent writers to one path never tear the file.
void write_idx(const std::filesystem::path& path, const Tensor& t, bool gzip = false);

}  // namespace tg::datasets
