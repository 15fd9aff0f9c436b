// Views and copies. A view shares storage with its input; its backward maps the gradient back
// through the inverse view (or, for slices, writes it into zeros of the input's shape).
#include "tapegrad/ops/shape.h"

#include <algorithm>
#include <cstring>
#include <functional>
#include <numeric>
#include <optional>

#include "tapegrad/core/autograd.h"
#include "tapegrad/core/detail/iterate.h"
#include "tapegrad/core/detail/view_tracking.h"
#include "tapegrad/ops/reduction.h"

namespace tg {

using autograd::record;
using autograd::Saved;

namespace {

// A new handle on x's memory, tracked as a view of x's base (see core/view_tracking.h).
Tensor make_view(const Tensor& x, Shape shape, Shape strides, std::int64_t offset) {
  const auto* impl = x.impl();
  Tensor y(std::make_shared<TensorImpl>(impl->storage, std::move(shape), std::move(strides), offset,
                                        impl->dtype));
  detail::set_view_of(x, y);
  return y;
}

// Strides for viewing x as `shape` without a copy, if possible (the rule of torch.view).
std::optional<Shape> view_strides(const Tensor& x, const Shape& shape) {
  if (x.is_contiguous() || x.numel() == 0) return contiguous_strides(shape);
  const Shape& old = x.shape();
  const Shape& olds = x.strides();
  Shape out(shape.size());
  // Walk chunks of old dims that are mutually contiguous, matching them to new dims.
  std::int64_t view_d = static_cast<std::int64_t>(shape.size()) - 1;
  std::int64_t chunk_base_stride = olds.empty() ? 1 : olds.back();
  std::int64_t tensor_numel = 1, view_numel = 1;
  for (std::int64_t d = static_cast<std::int64_t>(old.size()) - 1; d >= 0; --d) {
    tensor_numel *= old[d];
    if (d == 0 || (old[d - 1] != 1 && olds[d - 1] != tensor_numel * chunk_base_stride)) {
      while (view_d >= 0 && (view_numel < tensor_numel || shape[view_d] == 1)) {
        out[view_d] = view_numel * chunk_base_stride;
        view_numel *= shape[view_d];
        --view_d;
      }
      if (view_numel != tensor_numel) return std::nullopt;
      if (d > 0) {
        chunk_base_stride = olds[d - 1];
        tensor_numel = 1;
        view_numel = 1;
      }
    }
  }
  if (view_d != -1) return std::nullopt;
  return out;
}

Shape infer_shape(const char* op, const Shape& shape, std::int64_t numel, const Shape& from) {
  Shape out = shape;
  std::int64_t infer = -1;
  for (std::size_t i = 0; i < out.size(); ++i) {
    if (out[i] == -1) {
      TG_CHECK(infer < 0, op, ": only one dimension can be -1, got ", shape_str(shape));
      infer = static_cast<std::int64_t>(i);
    } else {
      TG_CHECK(out[i] >= 0, op, ": invalid size ", out[i], " in shape ", shape_str(shape));
    }
  }
  // The known sizes must fit even beside a 0 ({MAX, MAX, MAX, 0} would give wrapped strides).
  Shape known_dims = out;
  if (infer >= 0) known_dims[infer] = 1;
  check_shape(op, known_dims);
  const std::int64_t known = numel_of(known_dims);
  if (infer >= 0) {
    TG_CHECK(known != 0 && numel % known == 0, op, ": shape ", shape_str(shape),
             " is invalid for input of shape ", shape_str(from));
    out[infer] = numel / known;
  }
  check_shape(op, out);
  TG_CHECK(numel_of(out) == numel, op, ": shape ", shape_str(shape),
           " is invalid for input of shape ", shape_str(from), " (", numel, " elements)");
  return out;
}

Tensor copy_contiguous(const Tensor& x, Dtype dtype) {
  Tensor y = empty(x.shape(), dtype);
  if (x.dtype() == dtype && x.is_contiguous()) {
    if (y.nbytes()) std::memcpy(y.raw_data(), x.raw_data(), y.nbytes());
    return y;
  }
  dispatch(x.dtype(), [&]<typename From>() {
    dispatch(dtype, [&]<typename To>() {
      detail::map_kernel<To, From>(y, {&x}, [](From v) { return static_cast<To>(v); });
    });
  });
  return y;
}

// The gradient of a strided sub-view: zeros of the input's shape with g written into the view.
// Its own derivative takes the same view of the incoming gradient.
using ViewFn = std::function<Tensor(const Tensor&)>;
Tensor view_backward(const Tensor& g, const Shape& input_shape, ViewFn view) {
  Tensor out = zeros(input_shape, g.dtype());
  {
    NoGradGuard guard;
    view(out).copy_(g);
  }
  return record("view_backward", {g}, out,
                [view](const Tensor& gg, const Saved&) { return grads{view(gg)}; });
}

}  // namespace

Tensor view(const Tensor& x, const Shape& shape_in) {
  const Shape shape = infer_shape("view", shape_in, x.numel(), x.shape());
  auto strides = view_strides(x, shape);
  TG_CHECK(strides.has_value(), "view: cannot view a tensor of shape ", shape_str(x.shape()),
           " and strides ", shape_str(x.strides()), " as ", shape_str(shape),
           " without a copy; use reshape()");
  Tensor y = make_view(x, shape, *strides, x.offset());
  const Shape in_shape = x.shape();
  return record("view", {x}, y,
                [in_shape](const Tensor& g, const Saved&) { return grads{g.reshape(in_shape)}; });
}

Tensor reshape(const Tensor& x, const Shape& shape_in) {
  const Shape shape = infer_shape("reshape", shape_in, x.numel(), x.shape());
  if (view_strides(x, shape)) return view(x, shape);
  return view(contiguous(x), shape);
}

Tensor flatten(const Tensor& x, std::int64_t start_dim, std::int64_t end_dim) {
  if (x.dim() == 0) return reshape(x, {1});
  const auto s = wrap_dim("flatten", start_dim, x.dim());
  const auto e = wrap_dim("flatten", end_dim, x.dim());
  TG_CHECK(s <= e, "flatten: start_dim ", start_dim, " comes after end_dim ", end_dim);
  Shape shape(x.shape().begin(), x.shape().begin() + s);
  std::int64_t n = 1;
  for (auto d = s; d <= e; ++d) n *= x.shape()[d];
  shape.push_back(n);
  shape.insert(shape.end(), x.shape().begin() + e + 1, x.shape().end());
  return reshape(x, shape);
}

Tensor squeeze(const Tensor& x) {
  Shape shape;
  for (auto s : x.shape())
    if (s != 1) shape.push_back(s);
  return reshape(x, shape);
}

Tensor squeeze(const Tensor& x, std::int64_t dim) {
  const auto d = wrap_dim("squeeze", dim, x.dim());
  if (x.dim() == 0 || x.shape()[d] != 1) return reshape(x, x.shape());
  Shape shape = x.shape();
  shape.erase(shape.begin() + d);
  return reshape(x, shape);
}

Tensor unsqueeze(const Tensor& x, std::int64_t dim) {
  const auto d = wrap_dim("unsqueeze", dim, x.dim() + 1);
  Shape shape = x.shape(), strides = x.strides();
  const std::int64_t st =
      d < x.dim() ? checked_mul("unsqueeze", "stride", x.strides()[d], x.shape()[d]) : 1;
  shape.insert(shape.begin() + d, 1);
  strides.insert(strides.begin() + d, st);
  Tensor y = make_view(x, shape, strides, x.offset());
  return record("unsqueeze", {x}, y,
                [d](const Tensor& g, const Saved&) { return grads{squeeze(g, d)}; });
}

Tensor permute(const Tensor& x, const Shape& dims) {
  const auto n = x.dim();
  TG_CHECK(static_cast<std::int64_t>(dims.size()) == n, "permute: got ", dims.size(),
           " dims for a tensor of ", n, " dims");
  Shape shape(n), strides(n), inverse(n);
  std::vector<bool> used(n, false);
  for (std::int64_t i = 0; i < n; ++i) {
    const auto d = wrap_dim("permute", dims[i], n);
    TG_CHECK(!used[d], "permute: dim ", d, " repeats in ", shape_str(dims));
    used[d] = true;
    shape[i] = x.shape()[d];
    strides[i] = x.strides()[d];
    inverse[d] = i;
  }
  Tensor y = make_view(x, shape, strides, x.offset());
  return record("permute", {x}, y,
                [inverse](const Tensor& g, const Saved&) { return grads{permute(g, inverse)}; });
}

Tensor transpose(const Tensor& x, std::int64_t dim0, std::int64_t dim1) {
  if (x.dim() == 0) return reshape(x, {});
  const auto a = wrap_dim("transpose", dim0, x.dim());
  const auto b = wrap_dim("transpose", dim1, x.dim());
  Shape dims(x.dim());
  std::iota(dims.begin(), dims.end(), 0);
  std::swap(dims[a], dims[b]);
  return permute(x, dims);
}

Tensor t(const Tensor& x) {
  TG_CHECK(x.dim() <= 2, "t: expected a tensor of at most 2 dims, got shape ", shape_str(x.shape()),
           "; use transpose(dim0, dim1)");
  return x.dim() < 2 ? reshape(x, x.shape()) : transpose(x, 0, 1);
}

Tensor expand(const Tensor& x, const Shape& shape_in) {
  TG_CHECK(shape_in.size() >= x.shape().size(), "expand: cannot expand shape ",
           shape_str(x.shape()), " to fewer dims ", shape_str(shape_in));
  Shape shape = shape_in;
  const std::size_t lead = shape.size() - x.shape().size();
  for (std::size_t i = 0; i < shape.size(); ++i) {
    if (shape[i] == -1) {
      TG_CHECK(i >= lead, "expand: -1 is not allowed for the new leading dim ", i);
      shape[i] = x.shape()[i - lead];
    }
    TG_CHECK(shape[i] >= 0, "expand: invalid size ", shape[i], " in ", shape_str(shape_in));
    if (i >= lead) {
      const auto s = x.shape()[i - lead];
      TG_CHECK(s == shape[i] || s == 1, "expand: cannot expand shape ", shape_str(x.shape()),
               " to ", shape_str(shape_in), " (dim ", i, ": ", s, " vs ", shape[i], ")");
    }
  }
  check_shape("expand", shape);  // [1, 1] to [2^32, 2^32] is 2^64 elements
  const Tensor b = detail::broadcast_view(x, shape);
  Tensor y = make_view(x, b.shape(), b.strides(), b.offset());
  const Shape in_shape = x.shape();
  return record("expand", {x}, y,
                [in_shape](const Tensor& g, const Saved&) { return grads{sum_to(g, in_shape)}; });
}

Tensor slice(const Tensor& x, std::int64_t dim, std::int64_t start, std::int64_t end,
             std::int64_t step) {
  const auto d = wrap_dim("slice", dim, x.dim());
  TG_CHECK(x.dim() > 0, "slice: cannot slice a 0-dim tensor");
  TG_CHECK(step > 0, "slice: step must be positive, got ", step);
  const auto n = x.shape()[d];
  if (start < 0) start += n;
  if (end < 0) end += n;
  start = std::clamp<std::int64_t>(start, 0, n);
  end = std::clamp<std::int64_t>(end, start, n);
  Shape shape = x.shape(), strides = x.strides();
  // Written so that end and step near INT64_MAX cannot overflow: ceil((end - start) / step).
  shape[d] = (end - start) / step + ((end - start) % step != 0);
  // stride * step as PyTorch reports it; with at most one element left the stride never steps,
  // so where that product would overflow the old stride stays (cannot happen with 2+ elements).
  std::int64_t stepped;
  if (!__builtin_mul_overflow(strides[d], step, &stepped))
    strides[d] = stepped;
  else if (shape[d] > 1)
    checked_mul("slice", "stride", strides[d], step);
  Tensor y = make_view(x, shape, strides, x.offset() + start * x.strides()[d]);
  const Shape in_shape = x.shape();
  return record("slice", {x}, y, [=](const Tensor& g, const Saved&) {
    return grads{
        view_backward(g, in_shape, [=](const Tensor& t) { return slice(t, d, start, end, step); })};
  });
}

Tensor narrow(const Tensor& x, std::int64_t dim, std::int64_t start, std::int64_t length) {
  const auto d = wrap_dim("narrow", dim, x.dim());
  const auto n = x.shape()[d];
  if (start < 0) start += n;
  TG_CHECK(start >= 0 && length >= 0 && start <= n && length <= n - start, "narrow: start ", start,
           " and length ", length, " do not fit dim ", d, " of size ", n);
  return slice(x, d, start, start + length);
}

Tensor select(const Tensor& x, std::int64_t dim, std::int64_t index) {
  TG_CHECK(x.dim() > 0, "select: cannot index a 0-dim tensor");
  const auto d = wrap_dim("select", dim, x.dim());
  const auto n = x.shape()[d];
  TG_CHECK(index >= -n && index < n, "select: index ", index, " is out of range for dim ", d,
           " of size ", n);
  if (index < 0) index += n;
  Shape shape = x.shape(), strides = x.strides();
  shape.erase(shape.begin() + d);
  strides.erase(strides.begin() + d);
  Tensor y = make_view(x, shape, strides, x.offset() + index * x.strides()[d]);
  const Shape in_shape = x.shape();
  return record("select", {x}, y, [=](const Tensor& g, const Saved&) {
    return grads{view_backward(g, in_shape, [=](const Tensor& t) { return select(t, d, index); })};
  });
}

Tensor contiguous(const Tensor& x) {
  if (x.is_contiguous()) return x;
  Tensor y = copy_contiguous(x, x.dtype());
  return record("contiguous", {x}, y, [](const Tensor& g, const Saved&) { return grads{g}; });
}

Tensor clone(const Tensor& x) {
  Tensor y = copy_contiguous(x, x.dtype());
  return record("clone", {x}, y, [](const Tensor& g, const Saved&) { return grads{g}; });
}

Tensor to_dtype(const Tensor& x, Dtype dtype) {
  if (x.dtype() == dtype) return x;
  Tensor y = copy_contiguous(x, dtype);
  if (!is_floating(dtype)) return y;  // integer results carry no gradient
  const Dtype from = x.dtype();
  return record("to_dtype", {x}, y,
                [from](const Tensor& g, const Saved&) { return grads{to_dtype(g, from)}; });
}

}  // namespace tg
