#pragma once
// Saving and loading tensors in the safetensors format, so a model trained here opens in the
// Python ecosystem (safetensors.torch.load_file) and back:
//
//   [8 bytes: N, little-endian u64][N bytes: JSON header][raw little-endian tensor data]
//
// The header maps each name to {"dtype": "F32"|"F64"|"I64"|"U8", "shape": [...],
// "data_offsets": [begin, end]} (byte offsets into the data section), plus an optional
// "__metadata__" object of string pairs. It is padded with spaces to a multiple of 8 bytes.
//
// Saves are atomic: the file is written to a temporary in the same directory, flushed to disk
// and renamed over `path`, so a crash leaves either the old file or the new one, never a torn
// one (and no temporary on failure). A symbolic link is followed (its target is replaced, the
// link stays); a directory, device or FIFO is refused (core/atomic_file.h). Loads read only
// regular files (a FIFO or device is refused without blocking) and validate everything before
// trusting it: header size (at most 100 MB), well-formed JSON nested at most 64 levels, known
// dtypes, shapes, offsets that tile the data section exactly in order and match dtype x shape,
// and the exact file length. Anything else is refused with a tg::Error naming the file and the
// problem.
#include <filesystem>
#include <string>

#include "tapegrad/core/atomic_file.h"  // write_file_atomic, used by save
#include "tapegrad/core/state_dict.h"
#include "tapegrad/nn/module.h"

namespace tg {

void save(const StateDict& tensors, const std::filesystem::path& path,
          const Metadata& metadata = {});
// Saves module.state_dict().
void save(const nn::Module& module, const std::filesystem::path& path,
          const Metadata& metadata = {});

// Reads every tensor of a safetensors file; fills `metadata` when given.
StateDict load(const std::filesystem::path& path, Metadata* metadata = nullptr);
// Reads a file into a module through load_state_dict (strict by default).
nn::LoadResult load(nn::Module& module, const std::filesystem::path& path, bool strict = true);

// The same format in memory (what save writes / load reads).
std::string to_safetensors(const StateDict& tensors, const Metadata& metadata = {});
StateDict from_safetensors(const std::string& bytes, Metadata* metadata = nullptr);

}  // namespace tg
