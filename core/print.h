#pragma once
// How `std::cout << tensor` prints: PyTorch's layout and number formatting (shared precision,
// scientific notation when the values' range calls for it, "1." for whole floats, the middle of
// big tensors elided), with tapegrad's names for dtypes and shapes: dtype=float64, size=[0, 3].
#include <cstdint>
#include <optional>

namespace tg {

struct PrintOptions {
  int precision = 4;                  // digits after the point
  std::int64_t threshold = 1000;      // more elements than this are summarized with "..."
  std::int64_t edgeitems = 3;         // elements kept at each end of a summarized dim
  std::int64_t linewidth = 80;        // characters per line before wrapping
  std::optional<bool> sci_mode = {};  // nullopt: chosen from the values, as PyTorch does
};

// Replaces every option (like torch.set_printoptions, except that a field left out takes its
// default rather than keeping the current value: start from get_printoptions() to change one).
// Negative sizes or a precision outside [0, 30] are a tg::Error.
void set_printoptions(const PrintOptions& options);
PrintOptions get_printoptions();

}  // namespace tg
