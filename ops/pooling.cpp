// Max, average and adaptive pooling. Each op builds a PoolPlan (one window per output row and
// column), runs a kernel from ops/kernels/pool.cpp and records its backward:
//   - max pooling: the gradient is scattered to the saved argmax indices ("..._backward" node),
//     whose own derivative gathers at the same indices (the existing gather op);
//   - average pooling is linear: its backward is the adjoint map, recorded as a node whose
//     derivative is the forward map again, so any order of derivative works.
// The 1-d ops run the 2-d ones on [N, C, 1, L], as PyTorch does.
#include "tapegrad/ops/pooling.h"

#include <memory>
#include <sstream>
#include <string>

#include "tapegrad/core/autograd.h"
#include "tapegrad/ops/indexing.h"
#include "tapegrad/ops/kernels/pool.h"

namespace tg::nn::functional {

using autograd::record;
using autograd::Saved;
using kernels::PoolPlan;
using Plan = std::shared_ptr<const PoolPlan>;

namespace {

// How sizes are printed in messages: "3" for the 1-d ops (only the width is theirs), "[3, 3]".
struct Op {
  const char* name;
  bool one_d;
  std::string show(std::int64_t h, std::int64_t w) const {
    std::ostringstream os;
    if (one_d)
      os << w;
    else
      os << "[" << h << ", " << w << "]";
    return os.str();
  }
  std::string show(const Size2& s) const { return show(s.h, s.w); }
};

void check_input(const Op& op, const Tensor& x) {
  TG_CHECK(x.defined(), op.name, ": input is undefined");
  if (op.one_d)
    TG_CHECK(x.dim() == 3 || x.dim() == 4, op.name,
             ": expected a 2-D [C, L] or 3-D [N, C, L] input, got ",
             shape_str(x.squeeze(-2).shape()));
  else
    TG_CHECK(x.dim() == 3 || x.dim() == 4, op.name,
             ": expected a 3-D [C, H, W] or 4-D [N, C, H, W] input, got ", shape_str(x.shape()));
  TG_CHECK(x.is_floating_point(), op.name, ": expected a floating-point input, got ", x.dtype());
  for (std::int64_t d = x.dim() - 3; d < x.dim(); ++d)
    TG_CHECK(x.size(d) > 0, op.name, ": expected non-zero sizes in all dims but the batch, got ",
             shape_str(op.one_d ? x.squeeze(-2).shape() : x.shape()));
}

// PyTorch's pooling_output_shape: floor (or ceil) of the sliding count, and with ceil_mode no
// window may start in the right padding.
std::int64_t output_size(std::int64_t in, std::int64_t k, std::int64_t s, std::int64_t pad,
                         std::int64_t d, bool ceil_mode) {
  const std::int64_t num = in + 2 * pad - d * (k - 1) - 1 + (ceil_mode ? s - 1 : 0);
  std::int64_t out = (num >= 0 ? num / s : -((-num + s - 1) / s)) + 1;
  if (ceil_mode && (out - 1) * s >= in + pad) --out;
  return out;
}

struct Geometry {
  Size2 kernel, stride, padding, dilation;
};

Geometry check_geometry(const Op& op, Size2 kernel, PoolStride given_stride, Size2 padding,
                        Size2 dilation) {
  const Size2 stride = given_stride.value.value_or(kernel);
  TG_CHECK(kernel.h > 0 && kernel.w > 0, op.name, ": kernel_size must be positive, got ",
           op.show(kernel));
  TG_CHECK(stride.h > 0 && stride.w > 0, op.name, ": stride must be positive, got ",
           op.show(stride));
  TG_CHECK(dilation.h > 0 && dilation.w > 0, op.name, ": dilation must be positive, got ",
           op.show(dilation));
  TG_CHECK(padding.h >= 0 && padding.w >= 0, op.name, ": padding must be non-negative, got ",
           op.show(padding));
  TG_CHECK(padding.h <= kernel.h / 2 && padding.w <= kernel.w / 2, op.name,
           ": padding should be at most half of kernel size, got padding=", op.show(padding),
           " and kernel_size=", op.show(kernel));
  return {kernel, stride, padding, dilation};
}

std::shared_ptr<PoolPlan> strided_plan(const Op& op, const Tensor& x, const Geometry& g,
                                       bool ceil_mode) {
  const std::int64_t H = x.size(-2), W = x.size(-1);
  const std::int64_t OH =
      output_size(H, g.kernel.h, g.stride.h, g.padding.h, g.dilation.h, ceil_mode);
  const std::int64_t OW =
      output_size(W, g.kernel.w, g.stride.w, g.padding.w, g.dilation.w, ceil_mode);
  TG_CHECK(OH > 0 && OW > 0, op.name, ": input of size ", op.show(H, W), " gives output size ",
           op.show(OH, OW), " (kernel_size=", op.show(g.kernel), ", stride=", op.show(g.stride),
           ", padding=", op.show(g.padding), ", dilation=", op.show(g.dilation),
           "): output size is too small");
  auto p = std::make_shared<PoolPlan>();
  p->planes = x.numel() / (H * W);
  p->H = H;
  p->W = W;
  p->rows = kernels::strided_windows(H, OH, g.kernel.h, g.stride.h, g.padding.h, g.dilation.h);
  p->cols = kernels::strided_windows(W, OW, g.kernel.w, g.stride.w, g.padding.w, g.dilation.w);
  return p;
}

std::shared_ptr<PoolPlan> adaptive_plan(const Op& op, const Tensor& x, Size2 out) {
  TG_CHECK(out.h >= 0 && out.w >= 0, op.name, ": output_size must be non-negative, got ",
           op.show(out));
  const std::int64_t H = x.size(-2), W = x.size(-1);
  auto p = std::make_shared<PoolPlan>();
  p->planes = x.numel() / (H * W);
  p->H = H;
  p->W = W;
  p->rows = kernels::adaptive_windows(H, out.h);
  p->cols = kernels::adaptive_windows(W, out.w);
  return p;
}

Shape out_shape(const Tensor& x, const PoolPlan& p) {
  Shape s = x.shape();
  s[s.size() - 2] = p.OH();
  s[s.size() - 1] = p.OW();
  return s;
}

// ---- max ----

enum class Kind { Strided, Adaptive };

Tensor max_backward(Kind kind, const Tensor& g, const Tensor& indices, const Plan& plan,
                    const Shape& in_shape) {
  const Tensor gc = g.detach().contiguous();
  Tensor gx = empty(in_shape, g.dtype());
  kernels::max_pool_scatter(*plan, gc, indices, gx);
  // The scatter's derivative: gather the incoming gradient at the same indices.
  auto gather_back = [plan](const Tensor& gg, const Saved& s) {
    const Tensor idx = s[0];
    const std::int64_t P = plan->planes;
    return grads{
        gather(gg.reshape({P, plan->H * plan->W}), 1, idx.reshape({P, plan->OH() * plan->OW()}))
            .reshape(idx.shape())};
  };
  return kind == Kind::Strided
             ? record("max_pool2d_backward", {g}, gx, {indices}, gather_back)
             : record("adaptive_max_pool2d_backward", {g}, gx, {indices}, gather_back);
}

ValuesIndices max_run(Kind kind, const Tensor& x, const Plan& plan) {
  const Tensor xc = x.detach().contiguous();
  const Shape os = out_shape(x, *plan);
  Tensor y = empty(os, x.dtype());
  Tensor idx = empty(os, kInt64);
  kernels::max_pool(*plan, xc, y, idx);
  const Shape in_shape = x.shape();
  auto back = [kind, plan, in_shape](const Tensor& g, const Saved& s) {
    return grads{max_backward(kind, g, s[0], plan, in_shape)};
  };
  y = kind == Kind::Strided ? record("max_pool2d", {x}, y, {idx}, back)
                            : record("adaptive_max_pool2d", {x}, y, {idx}, back);
  return {y, idx};
}

ValuesIndices max_pool_impl(const Op& op, const Tensor& x, Size2 kernel, PoolStride stride,
                            Size2 padding, Size2 dilation, bool ceil_mode) {
  check_input(op, x);
  const Geometry g = check_geometry(op, kernel, stride, padding, dilation);
  return max_run(Kind::Strided, x, strided_plan(op, x, g, ceil_mode));
}

// ---- average ----

// adjoint = false: the pooling, x -> y; true: its backward, g -> gx. Each is the other's
// derivative.
Tensor avg_run(Kind kind, const Tensor& in, const Plan& plan, bool adjoint, const Shape& x_shape,
               const Shape& y_shape) {
  const Tensor src = in.detach().contiguous();
  Tensor dst = empty(adjoint ? x_shape : y_shape, in.dtype());
  kernels::avg_pool(*plan, src, dst, adjoint);
  auto back = [kind, plan, adjoint, x_shape, y_shape](const Tensor& g, const Saved&) {
    return grads{avg_run(kind, g, plan, !adjoint, x_shape, y_shape)};
  };
  if (kind == Kind::Strided)
    return adjoint ? record("avg_pool2d_backward", {in}, dst, back)
                   : record("avg_pool2d", {in}, dst, back);
  return adjoint ? record("adaptive_avg_pool2d_backward", {in}, dst, back)
                 : record("adaptive_avg_pool2d", {in}, dst, back);
}

Tensor avg_pool_impl(const Op& op, const Tensor& x, Size2 kernel, PoolStride stride, Size2 padding,
                     bool ceil_mode, bool count_include_pad,
                     std::optional<std::int64_t> divisor_override) {
  check_input(op, x);
  const Geometry g = check_geometry(op, kernel, stride, padding, 1);
  TG_CHECK(!divisor_override || *divisor_override != 0, op.name,
           ": divisor_override must not be zero");
  const auto p = strided_plan(op, x, g, ceil_mode);
  p->count_include_pad = count_include_pad;
  p->divisor_override = divisor_override;
  const Plan plan = p;
  return avg_run(Kind::Strided, x, plan, false, x.shape(), out_shape(x, *plan));
}

}  // namespace

ValuesIndices max_pool2d_with_indices(const Tensor& x, Size2 kernel_size, PoolStride stride,
                                      Size2 padding, Size2 dilation, bool ceil_mode) {
  return max_pool_impl({"max_pool2d", false}, x, kernel_size, stride, padding, dilation, ceil_mode);
}

Tensor max_pool2d(const Tensor& x, Size2 kernel_size, PoolStride stride, Size2 padding,
                  Size2 dilation, bool ceil_mode) {
  return max_pool2d_with_indices(x, kernel_size, stride, padding, dilation, ceil_mode).values;
}

ValuesIndices max_pool1d_with_indices(const Tensor& x, std::int64_t kernel_size,
                                      std::optional<std::int64_t> stride, std::int64_t padding,
                                      std::int64_t dilation, bool ceil_mode) {
  const Op op{"max_pool1d", true};
  TG_CHECK(x.defined(), op.name, ": input is undefined");
  TG_CHECK(x.dim() == 2 || x.dim() == 3, op.name,
           ": expected a 2-D [C, L] or 3-D [N, C, L] input, got ", shape_str(x.shape()));
  const PoolStride s(1, stride.value_or(kernel_size));
  auto r = max_pool_impl(op, x.unsqueeze(-2), Size2(1, kernel_size), s, Size2(0, padding),
                         Size2(1, dilation), ceil_mode);
  return {r.values.squeeze(-2), r.indices.squeeze(-2)};
}

Tensor max_pool1d(const Tensor& x, std::int64_t kernel_size, std::optional<std::int64_t> stride,
                  std::int64_t padding, std::int64_t dilation, bool ceil_mode) {
  return max_pool1d_with_indices(x, kernel_size, stride, padding, dilation, ceil_mode).values;
}

Tensor avg_pool2d(const Tensor& x, Size2 kernel_size, PoolStride stride, Size2 padding,
                  bool ceil_mode, bool count_include_pad,
                  std::optional<std::int64_t> divisor_override) {
  return avg_pool_impl({"avg_pool2d", false}, x, kernel_size, stride, padding, ceil_mode,
                       count_include_pad, divisor_override);
}

Tensor avg_pool1d(const Tensor& x, std::int64_t kernel_size, std::optional<std::int64_t> stride,
                  std::int64_t padding, bool ceil_mode, bool count_include_pad) {
  const Op op{"avg_pool1d", true};
  TG_CHECK(x.defined(), op.name, ": input is undefined");
  TG_CHECK(x.dim() == 2 || x.dim() == 3, op.name,
           ": expected a 2-D [C, L] or 3-D [N, C, L] input, got ", shape_str(x.shape()));
  const PoolStride s(1, stride.value_or(kernel_size));
  return avg_pool_impl(op, x.unsqueeze(-2), Size2(1, kernel_size), s, Size2(0, padding), ceil_mode,
                       count_include_pad, std::nullopt)
      .squeeze(-2);
}

Tensor adaptive_avg_pool2d(const Tensor& x, Size2 output_size) {
  const Op op{"adaptive_avg_pool2d", false};
  check_input(op, x);
  const Plan plan = adaptive_plan(op, x, output_size);
  return avg_run(Kind::Adaptive, x, plan, false, x.shape(), out_shape(x, *plan));
}

ValuesIndices adaptive_max_pool2d_with_indices(const Tensor& x, Size2 output_size) {
  const Op op{"adaptive_max_pool2d", false};
  check_input(op, x);
  return max_run(Kind::Adaptive, x, adaptive_plan(op, x, output_size));
}

Tensor adaptive_max_pool2d(const Tensor& x, Size2 output_size) {
  return adaptive_max_pool2d_with_indices(x, output_size).values;
}

}  // namespace tg::nn::functional
