#pragma once
// Atomic file writes: the bytes go to a hidden temporary beside the target, are fsynced and then
// renamed over it, so a reader (or a process killed mid-write) sees the old file or the new one,
// never a mix. Used by checkpoints (nn/serialize.h) and training logs (datasets/training_log.h).
#include <cstddef>
#include <filesystem>
#include <functional>
#include <string_view>

namespace tg {

// Writes `bytes` to `path` atomically; the file keeps its mode (new files get 0644).
void write_file_atomic(const std::filesystem::path& path, std::string_view bytes);

namespace detail {
// Appends bytes to the temporary file.
using WriteChunk = std::function<void(const char* data, std::size_t n)>;
// Atomic write of whatever `body` streams through the WriteChunk it is given. Errors name `op`.
void write_file_atomic_with(const std::filesystem::path& path,
                            const std::function<void(const WriteChunk&)>& body, const char* op);
}  // namespace detail

}  // namespace tg
