#pragma once
// Pooling over NCHW (and NCL) inputs, spelled like torch.nn.functional. Inputs are [N, C, H, W]
// or unbatched [C, H, W] ([N, C, L] or [C, L] for the 1-d ops). Output sizes, padding limits,
// ceil_mode and the NaN convention follow PyTorch 1.13: max pooling propagates NaN (the index of
// the last NaN in a window wins), ties keep the first maximum, and the indices are flat offsets
// h * W + w inside each [H, W] plane. Backward passes are recorded ops, so pooling differentiates
// twice.
#include <cstdint>
#include <optional>

#include "tapegrad/core/tensor.h"
#include "tapegrad/ops/conv.h"
#include "tapegrad/ops/reduction.h"

namespace tg::nn::functional {

// A pooling stride: one int, {h, w}, or left out ({}), in which case it equals the kernel size
// as in PyTorch. (Size2, the plain pair, comes from ops/conv.h.)
struct PoolStride {
  PoolStride() = default;
  PoolStride(std::int64_t both) : value(Size2(both)) {}  // NOLINT: implicit like PyTorch's int
  PoolStride(std::int64_t h, std::int64_t w) : value(Size2(h, w)) {}
  PoolStride(Size2 s) : value(s) {}  // NOLINT: implicit
  std::optional<Size2> value;
};

Tensor max_pool2d(const Tensor& x, Size2 kernel_size, PoolStride stride = {}, Size2 padding = 0,
                  Size2 dilation = 1, bool ceil_mode = false);
// PyTorch's return_indices=True: the values and int64 indices (flat per plane).
ValuesIndices max_pool2d_with_indices(const Tensor& x, Size2 kernel_size, PoolStride stride = {},
                                      Size2 padding = 0, Size2 dilation = 1,
                                      bool ceil_mode = false);
Tensor max_pool1d(const Tensor& x, std::int64_t kernel_size,
                  std::optional<std::int64_t> stride = std::nullopt, std::int64_t padding = 0,
                  std::int64_t dilation = 1, bool ceil_mode = false);
ValuesIndices max_pool1d_with_indices(const Tensor& x, std::int64_t kernel_size,
                                      std::optional<std::int64_t> stride = std::nullopt,
                                      std::int64_t padding = 0, std::int64_t dilation = 1,
                                      bool ceil_mode = false);

// count_include_pad: zero padding counts in the divisor; divisor_override replaces the divisor.
Tensor avg_pool2d(const Tensor& x, Size2 kernel_size, PoolStride stride = {}, Size2 padding = 0,
                  bool ceil_mode = false, bool count_include_pad = true,
                  std::optional<std::int64_t> divisor_override = std::nullopt);
Tensor avg_pool1d(const Tensor& x, std::int64_t kernel_size,
                  std::optional<std::int64_t> stride = std::nullopt, std::int64_t padding = 0,
                  bool ceil_mode = false, bool count_include_pad = true);

// Output bin i covers input rows [floor(i * H / OH), ceil((i + 1) * H / OH)) (likewise columns).
// adaptive_avg_pool2d(x, 1) is global average pooling.
Tensor adaptive_avg_pool2d(const Tensor& x, Size2 output_size);
Tensor adaptive_max_pool2d(const Tensor& x, Size2 output_size);
ValuesIndices adaptive_max_pool2d_with_indices(const Tensor& x, Size2 output_size);

}  // namespace tg::nn::functional
