#pragma once
// Internals of the atomic writer (core/atomic_file.h) and the checked file reader that loads use.
#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <string_view>

#include "tapegrad/core/atomic_file.h"

namespace tg {

namespace detail {
// Appends bytes to the temporary file.
using WriteChunk = std::function<void(const char* data, std::size_t n)>;
// Atomic write of whatever `body` streams through the WriteChunk it is given. Errors name `op`.
void write_file_atomic_with(const std::filesystem::path& path,
                            const std::function<void(const WriteChunk&)>& body, const char* op);

// The hidden temporary's file name for a target named `name` in a directory whose names may be
// `name_max` bytes long: "." + name + ".tmp.XXXXXX" (the Xs for mkstemp), with the middle of a
// long name replaced by a hash of it so the result fits.
std::string temp_name_for(const std::string& name, std::size_t name_max);

// "a regular file", "a directory", "a FIFO", "a character device", ... for error messages.
const char* file_type_name(mode_t mode);

// A regular file opened for reading. The open never blocks (a FIFO would wait for a writer
// forever) and anything but a regular file is refused. Errors read "<where>: <what>: <strerror>".
class InputFile {
 public:
  InputFile(const std::filesystem::path& path, std::string where);
  ~InputFile();
  InputFile(const InputFile&) = delete;
  InputFile& operator=(const InputFile&) = delete;

  std::uint64_t size() const { return size_; }
  // Reads up to n bytes at the current position; fewer only at the end of the file.
  std::size_t read(void* dst, std::size_t n);
  // Reads exactly n bytes at `offset`, or throws.
  void read_at(std::uint64_t offset, void* dst, std::size_t n);
  // Back to the start, for a second pass.
  void rewind();

 private:
  std::string where_;
  int fd_ = -1;
  std::uint64_t size_ = 0;
};
}  // namespace detail

}  // namespace tg
