#pragma once
// Atomic file writes: the bytes go to a hidden temporary beside the target, are fsynced and then
// renamed over it, so a reader (or a process killed mid-write) sees the old file or the new one,
// never a mix. Used by checkpoints (nn/serialize.h), IDX files (datasets/idx.h) and training logs
// (datasets/training_log.h).
//
// What the target may be: a new name, an existing regular file (it keeps its mode), or a
// symbolic link, which is followed so that the file it points to is replaced and the link stays.
// A directory, a device, a FIFO or a socket is refused with a tg::Error. Temporary names stay
// within the file system's name limit however long the target's name is. Every error is a
// tg::Error naming the operation, the path and the system's reason (strerror).
#include <filesystem>
#include <string_view>

namespace tg {

// Writes `bytes` to `path` atomically; the file keeps its mode (new files get 0644).
void write_file_atomic(const std::filesystem::path& path, std::string_view bytes);

}  // namespace tg
