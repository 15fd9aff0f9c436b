#pragma once
// Pooling kernels over contiguous [P, H, W] planes (P = N * C). A pooling is described by one
// window per output row and one per output column; max pooling, average pooling and their
// adaptive forms differ only in how the windows are laid out. Planes are split over threads and
// each plane is computed serially, so results do not depend on the thread count.
#include <cstdint>
#include <optional>
#include <vector>

#include "tapegrad/core/tensor.h"

namespace tg::kernels {

// The input positions first, first + step, ..., (count of them, all inside the input) that one
// output row (or column) reads; `padded` is the window's extent counted with padding (the
// count_include_pad divisor).
struct Window {
  std::int64_t first = 0, step = 1, count = 0, padded = 0;
};

struct PoolPlan {
  std::int64_t planes = 0, H = 0, W = 0;
  std::vector<Window> rows, cols;  // OH and OW windows
  bool count_include_pad = true;
  std::optional<std::int64_t> divisor_override;
  std::int64_t OH() const { return static_cast<std::int64_t>(rows.size()); }
  std::int64_t OW() const { return static_cast<std::int64_t>(cols.size()); }
};

// Windows of a strided pooling along one axis: output o starts at o * stride - pad.
std::vector<Window> strided_windows(std::int64_t in, std::int64_t out, std::int64_t kernel,
                                    std::int64_t stride, std::int64_t pad, std::int64_t dilation);
// Windows of adaptive pooling: [floor(o * in / out), ceil((o + 1) * in / out)).
std::vector<Window> adaptive_windows(std::int64_t in, std::int64_t out);

// x: contiguous [P, H, W] float32/float64. y: [P, OH, OW]; indices: int64 [P, OH, OW].
void max_pool(const PoolPlan& p, const Tensor& x, Tensor& y, Tensor& indices);
// gx (zeroed here, [P, H, W]) receives g ([P, OH, OW]) at the saved indices.
void max_pool_scatter(const PoolPlan& p, const Tensor& g, const Tensor& indices, Tensor& gx);
// Average pooling (adjoint = false: x [P, H, W] -> y [P, OH, OW]) or its adjoint, the backward
// (adjoint = true: g [P, OH, OW] -> gx [P, H, W]).
void avg_pool(const PoolPlan& p, const Tensor& in, Tensor& out, bool adjoint);

}  // namespace tg::kernels
