// libFuzzer target for the checkpoint (safetensors) loader, through its in-memory entry point
// tg::from_safetensors (tg::load reads files through the same parser). Every input must either
// load or throw tg::Error; anything else is a finding.
//
// Oracles for inputs that load: the tensors never hold more bytes than the input, and writing
// them back with to_safetensors and reading that again gives bit-identical tensors and metadata.
#include <tapegrad/core/tensor.h>
#include <tapegrad/nn/serialize.h>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

namespace {

[[noreturn]] void finding(const char* what) {
  std::fprintf(stderr, "fuzz_safetensors: %s\n", what);
  std::abort();
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string bytes(reinterpret_cast<const char*>(data), size);
  tg::StateDict state;
  tg::Metadata meta;
  try {
    state = tg::from_safetensors(bytes, &meta);
  } catch (const tg::Error&) {
    return 0;  // a clean refusal
  }
  std::size_t total = 0;
  for (const auto& [name, t] : state) total += t.nbytes();
  if (total > size) finding("loaded tensors hold more bytes than the input");
  tg::Metadata meta2;
  const tg::StateDict again = tg::from_safetensors(tg::to_safetensors(state, meta), &meta2);
  if (again.size() != state.size() || meta2 != meta) finding("round trip changed the entries");
  for (const auto& [name, t] : state) {
    const auto it = again.find(name);
    if (it == again.end() || !tg::equal(t, it->second)) finding("round trip changed a tensor");
  }
  return 0;
}
