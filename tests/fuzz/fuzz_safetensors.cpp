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
#include <nlohmann/json.hpp>
#include <string>

namespace {

// KNOWN ISSUE (reported in issue 7; remove this filter once core/shape.cpp is fixed): a shape
// with a zero dim passes check_shape however large its other dims are, and contiguous_strides
// then overflows int64 (UB). Inputs whose header declares such a shape are skipped so the
// fuzzer can look for other bugs; the case is pinned by
// tests/fuzz/regressions/safetensors_stride_overflow.st.
bool strides_overflow(const std::string& bytes) {
  if (bytes.size() < 8) return false;
  std::uint64_t n = 0;
  std::memcpy(&n, bytes.data(), 8);
  if (n > bytes.size() - 8) return false;
  const auto header = nlohmann::json::parse(bytes.substr(8, n), nullptr, false);
  if (!header.is_object()) return false;
  for (const auto& [name, v] : header.items()) {
    if (!v.is_object() || !v.contains("shape") || !v["shape"].is_array()) continue;
    std::int64_t s = 1;
    for (const auto& d : v["shape"]) {
      if (!d.is_number_unsigned()) break;
      const std::uint64_t k = d.get<std::uint64_t>();
      if (k > static_cast<std::uint64_t>(INT64_MAX)) break;
      if (__builtin_mul_overflow(s, k > 1 ? static_cast<std::int64_t>(k) : 1, &s)) return true;
    }
  }
  return false;
}

// Bit equality; empty tensors compare by shape and dtype only. KNOWN ISSUE (reported):
// tg::equal passes the null data pointers of empty tensors to memcmp (UB), pinned by
// tests/fuzz/regressions/safetensors_empty_tensor.st.
bool same(const tg::Tensor& a, const tg::Tensor& b) {
  if (a.numel() == 0 || b.numel() == 0) return a.shape() == b.shape() && a.dtype() == b.dtype();
  return tg::equal(a, b);
}
[[noreturn]] void finding(const char* what) {
  std::fprintf(stderr, "fuzz_safetensors: %s\n", what);
  std::abort();
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string bytes(reinterpret_cast<const char*>(data), size);
  if (strides_overflow(bytes)) return 0;
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
    if (it == again.end() || !same(t, it->second)) finding("round trip changed a tensor");
  }
  return 0;
}
