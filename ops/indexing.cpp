// Joining, splitting and indexing ops, each forward kernel beside its backward. The backwards are
// themselves ops of this file (narrow, index_select <-> index_select_backward, gather <->
// scatter_add, masked_fill, pad), so every one of them differentiates again.
#include "tapegrad/ops/indexing.h"

#include <algorithm>
#include <cstring>
#include <limits>

#include "tapegrad/core/autograd.h"
#include "tapegrad/core/detail/iterate.h"
#include "tapegrad/core/detail/view_tracking.h"
#include "tapegrad/ops/kernels/copy_rows.h"
#include "tapegrad/ops/kernels/elementwise.h"
#include "tapegrad/ops/kernels/rows.h"
#include "tapegrad/ops/shape.h"

namespace tg {

using autograd::record;
using autograd::Saved;

namespace {

Tensor checked_index(const char* op, const Tensor& index) {
  TG_CHECK(index.defined(), op, ": index is undefined");
  TG_CHECK(index.dtype() == kInt64, op, ": index must be int64, got ", index.dtype());
  return index.detach().contiguous();
}

// Calls f(pos, p) for every multi-index pos of `shape` in row-major order (p: flat position).
template <typename F>
void for_each_position(const Shape& shape, F&& f) {
  const std::int64_t total = numel_of(shape);
  Shape pos(shape.size(), 0);
  for (std::int64_t p = 0; p < total; ++p) {
    f(pos, p);
    for (auto d = static_cast<std::int64_t>(shape.size()) - 1; d >= 0; --d) {
      if (++pos[d] < shape[d]) break;
      pos[d] = 0;
    }
  }
}

// The gradient of index_select: g's slices added into zeros of `shape` at the indexed places.
Tensor index_select_backward(const Tensor& g, std::int64_t dim, const Tensor& index,
                             const Shape& shape) {
  Tensor out = zeros(shape, g.dtype());
  const Tensor gc = g.detach().contiguous();
  const kernels::Rows r = kernels::rows_along(shape, dim);
  const std::int64_t k = index.numel();
  const std::int64_t* ip = index.data_ptr<std::int64_t>();
  dispatch(g.dtype(), [&]<typename T>() {
    const T* gp = gc.data_ptr<T>();
    T* op = out.data_ptr<T>();
    // Each outer block is written by one task only, so repeated indices need no atomics.
    const std::int64_t grain = std::max<std::int64_t>(
        1, detail::kElementwiseGrain / std::max<std::int64_t>(k * r.inner, 1));
    detail::parallel_for(r.outer, grain, [&](std::int64_t b, std::int64_t e) {
      for (std::int64_t o = b; o < e; ++o)
        for (std::int64_t j = 0; j < k; ++j) {
          T* dst = op + (o * r.n + ip[j]) * r.inner;
          const T* src = gp + (o * k + j) * r.inner;
          for (std::int64_t i = 0; i < r.inner; ++i) dst[i] += src[i];
        }
    });
  });
  return record(
      "index_select_backward", {g}, out, {index},
      [dim](const Tensor& gg, const Saved& s) { return grads{index_select(gg, dim, s[0])}; });
}

}  // namespace

Tensor cat(const std::vector<Tensor>& tensors, std::int64_t dim) {
  TG_CHECK(!tensors.empty(), "cat: expected a non-empty list of tensors");
  for (std::size_t i = 0; i < tensors.size(); ++i)
    TG_CHECK(tensors[i].defined(), "cat: tensor ", i, " is undefined");
  const Tensor& first = tensors[0];
  TG_CHECK(first.dim() > 0, "cat: a 0-dim tensor cannot be concatenated (tensor 0)");
  const auto d = wrap_dim("cat", dim, first.dim());
  Shape out_shape = first.shape();
  out_shape[d] = 0;
  std::vector<std::int64_t> sizes;
  Dtype dtype = first.dtype();  // promoted over all tensors, as torch.cat does
  for (std::size_t i = 0; i < tensors.size(); ++i) {
    const Tensor& t = tensors[i];
    dtype = promote_types(dtype, t.dtype());
    bool match = t.dim() == first.dim();
    for (std::int64_t k = 0; match && k < t.dim(); ++k)
      match = k == d || t.size(k) == first.size(k);
    TG_CHECK(match, "cat: tensor ", i, " has shape ", shape_str(t.shape()),
             " which does not match tensor 0's shape ", shape_str(first.shape()), " except in dim ",
             d);
    out_shape[d] = checked_add("cat", "size of the result", out_shape[d], t.size(d));
    sizes.push_back(t.size(d));
  }
  check_shape("cat", out_shape, static_cast<std::int64_t>(element_size(dtype)));
  Tensor out = empty(out_shape, dtype);
  {
    NoGradGuard guard;
    std::int64_t off = 0;
    for (std::size_t i = 0; i < tensors.size(); ++i) {
      if (sizes[i] > 0 && out.numel() > 0) out.narrow(d, off, sizes[i]).copy_(tensors[i].detach());
      off += sizes[i];
    }
  }
  return autograd::record_multi("cat", tensors, {out}, {},
                                [d, sizes](const grads& g, const Saved&) {
                                  grads out;
                                  std::int64_t off = 0;
                                  for (auto s : sizes) {
                                    out.push_back(g[0].narrow(d, off, s));
                                    off += s;
                                  }
                                  return out;
                                })[0];
}

Tensor stack(const std::vector<Tensor>& tensors, std::int64_t dim) {
  TG_CHECK(!tensors.empty(), "stack: expected a non-empty list of tensors");
  for (std::size_t i = 0; i < tensors.size(); ++i)
    TG_CHECK(tensors[i].defined(), "stack: tensor ", i, " is undefined");
  const auto d = wrap_dim("stack", dim, tensors[0].dim() + 1);
  std::vector<Tensor> parts;
  for (std::size_t i = 0; i < tensors.size(); ++i) {
    TG_CHECK(tensors[i].shape() == tensors[0].shape(), "stack: tensor ", i, " has shape ",
             shape_str(tensors[i].shape()), " but tensor 0 has shape ",
             shape_str(tensors[0].shape()));
    parts.push_back(tensors[i].unsqueeze(d));
  }
  return cat(parts, d);
}

std::vector<Tensor> split(const Tensor& x, std::int64_t split_size, std::int64_t dim) {
  TG_CHECK(x.defined() && x.dim() > 0, "split: expected a tensor with at least 1 dim");
  const auto d = wrap_dim("split", dim, x.dim());
  const auto n = x.size(d);
  TG_CHECK(split_size > 0 || (split_size == 0 && n == 0),
           "split: split_size must be positive, got ", split_size);
  if (n == 0) return {x.narrow(d, 0, 0)};
  std::vector<Tensor> parts;
  for (std::int64_t start = 0; start < n;) {  // start + split_size may not fit int64
    const std::int64_t len = std::min(split_size, n - start);
    parts.push_back(x.narrow(d, start, len));
    start += len;
  }
  detail::mark_multi_output_views(parts, "split");
  return parts;
}

std::vector<Tensor> split_with_sizes(const Tensor& x, const Shape& sizes, std::int64_t dim) {
  TG_CHECK(x.defined() && x.dim() > 0, "split_with_sizes: expected a tensor with at least 1 dim");
  const auto d = wrap_dim("split_with_sizes", dim, x.dim());
  std::int64_t total = 0;
  for (auto s : sizes) {
    TG_CHECK(s >= 0, "split_with_sizes: sizes must be non-negative, got ", shape_str(sizes));
    total = checked_add("split_with_sizes", "sum of sizes", total, s);
  }
  TG_CHECK(total == x.size(d), "split_with_sizes: sizes ", shape_str(sizes), " add up to ", total,
           " but dim ", d, " has size ", x.size(d));
  std::vector<Tensor> parts;
  std::int64_t start = 0;
  for (auto s : sizes) {
    parts.push_back(x.narrow(d, start, s));
    start += s;
  }
  detail::mark_multi_output_views(parts, "split_with_sizes");
  return parts;
}

std::vector<Tensor> chunk(const Tensor& x, std::int64_t chunks, std::int64_t dim) {
  TG_CHECK(chunks > 0, "chunk: chunks must be positive, got ", chunks);
  TG_CHECK(x.defined() && x.dim() > 0, "chunk: expected a tensor with at least 1 dim");
  const auto d = wrap_dim("chunk", dim, x.dim());
  const auto n = x.size(d);
  if (n == 0) return split_with_sizes(x, Shape(chunks, 0), d);
  return split(x, n / chunks + (n % chunks != 0), d);  // ceil(n / chunks) without overflow
}

Tensor index_select(const Tensor& x, std::int64_t dim, const Tensor& index) {
  TG_CHECK(x.defined(), "index_select: input is undefined");
  const Tensor idx = checked_index("index_select", index);
  TG_CHECK(idx.dim() <= 1, "index_select: index must be 1-D, got shape ", shape_str(idx.shape()));
  TG_CHECK(x.dim() > 0, "index_select: cannot index a 0-dim tensor");
  const auto d = wrap_dim("index_select", dim, x.dim());
  const auto n = x.size(d), k = idx.numel();
  const std::int64_t* ip = idx.data_ptr<std::int64_t>();
  for (std::int64_t j = 0; j < k; ++j)
    TG_CHECK(ip[j] >= 0 && ip[j] < n, "index_select: index ", ip[j], " is out of range for dim ", d,
             " of size ", n);
  Shape out_shape = x.shape();
  out_shape[d] = k;
  check_shape("index_select", out_shape, static_cast<std::int64_t>(element_size(x.dtype())));
  Tensor out = empty(out_shape, x.dtype());
  const Tensor xc = x.detach().contiguous();
  const kernels::Rows r = kernels::rows_along(x.shape(), d);
  // Slice (o, j) of the output is slice (o, ip[j]) of x, each `inner` elements long.
  kernels::copy_rows(static_cast<std::byte*>(out.raw_data()),
                     static_cast<const std::byte*>(xc.raw_data()),
                     static_cast<std::size_t>(r.inner) * element_size(x.dtype()), r.outer * k,
                     [&](std::int64_t row) { return (row / k) * n + ip[row % k]; });
  const Shape shape = x.shape();
  return record("index_select", {x}, out, {idx}, [d, shape](const Tensor& g, const Saved& s) {
    return grads{index_select_backward(g, d, s[0], shape)};
  });
}

Tensor gather(const Tensor& x, std::int64_t dim, const Tensor& index) {
  TG_CHECK(x.defined(), "gather: input is undefined");
  const Tensor idx = checked_index("gather", index);
  TG_CHECK(idx.dim() == x.dim(), "gather: index of shape ", shape_str(idx.shape()),
           " must have as many dims as the input of shape ", shape_str(x.shape()));
  const auto d = wrap_dim("gather", dim, std::max<std::int64_t>(x.dim(), 1));
  for (std::int64_t k = 0; k < x.dim(); ++k)
    TG_CHECK(k == d || idx.size(k) <= x.size(k), "gather: index of shape ", shape_str(idx.shape()),
             " is larger than the input of shape ", shape_str(x.shape()), " in dim ", k);
  const std::int64_t n = x.dim() == 0 ? 1 : x.size(d);
  const std::int64_t* ip = idx.data_ptr<std::int64_t>();
  Tensor out = empty(idx.shape(), x.dtype());
  dispatch(x.dtype(), [&]<typename T>() {
    const T* xp = x.data_ptr<T>();
    T* op = out.data_ptr<T>();
    const Shape& xs = x.strides();
    for_each_position(idx.shape(), [&](const Shape& pos, std::int64_t p) {
      const std::int64_t v = ip[p];
      TG_CHECK(v >= 0 && v < n, "gather: index ", v, " is out of range for dim ", d, " of size ",
               n);
      std::int64_t off = 0;
      for (std::size_t k = 0; k < pos.size(); ++k)
        off += (static_cast<std::int64_t>(k) == d ? v : pos[k]) * xs[k];
      op[p] = xp[off];
    });
  });
  const Shape shape = x.shape();
  return record("gather", {x}, out, {idx}, [d, shape](const Tensor& g, const Saved& s) {
    return grads{scatter_add(zeros(shape, g.dtype()), d, s[0], g)};
  });
}

Tensor scatter_add(const Tensor& self, std::int64_t dim, const Tensor& index, const Tensor& src) {
  TG_CHECK(self.defined() && src.defined(), "scatter_add: self and src must be defined");
  const Tensor idx = checked_index("scatter_add", index);
  TG_CHECK(idx.dim() == self.dim() && src.dim() == self.dim(),
           "scatter_add: self, index and src must have the same number of dims, got shapes ",
           shape_str(self.shape()), ", ", shape_str(idx.shape()), " and ", shape_str(src.shape()));
  TG_CHECK(src.dtype() == self.dtype(), "scatter_add: src dtype ", src.dtype(),
           " differs from self dtype ", self.dtype());
  const auto d = wrap_dim("scatter_add", dim, std::max<std::int64_t>(self.dim(), 1));
  for (std::int64_t k = 0; k < self.dim(); ++k) {
    TG_CHECK(idx.size(k) <= src.size(k), "scatter_add: index of shape ", shape_str(idx.shape()),
             " is larger than src of shape ", shape_str(src.shape()), " in dim ", k);
    TG_CHECK(k == d || idx.size(k) <= self.size(k), "scatter_add: index of shape ",
             shape_str(idx.shape()), " is larger than self of shape ", shape_str(self.shape()),
             " in dim ", k);
  }
  const std::int64_t n = self.dim() == 0 ? 1 : self.size(d);
  const std::int64_t* ip = idx.data_ptr<std::int64_t>();
  Tensor out = self.detach().clone();
  dispatch(self.dtype(), [&]<typename T>() {
    const T* sp = src.data_ptr<T>();
    T* op = out.data_ptr<T>();
    const Shape &os = out.strides(), &ss = src.strides();
    for_each_position(idx.shape(), [&](const Shape& pos, std::int64_t p) {
      const std::int64_t v = ip[p];
      TG_CHECK(v >= 0 && v < n, "scatter_add: index ", v, " is out of range for dim ", d,
               " of size ", n);
      std::int64_t o = 0, s = 0;
      for (std::size_t k = 0; k < pos.size(); ++k) {
        o += (static_cast<std::int64_t>(k) == d ? v : pos[k]) * os[k];
        s += pos[k] * ss[k];
      }
      op[o] += sp[s];
    });
  });
  const Shape src_shape = src.shape(), idx_shape = idx.shape();
  return record("scatter_add", {self, src}, out, {idx},
                [d, src_shape, idx_shape](const Tensor& g, const Saved& s) {
                  Tensor gsrc;
                  if (s.needs_grad(1)) {
                    gsrc = gather(g, d, s[0]);
                    if (idx_shape != src_shape) {  // src entries the index never reads get 0
                      Shape widths;
                      for (auto k = static_cast<std::int64_t>(src_shape.size()) - 1; k >= 0; --k)
                        widths.insert(widths.end(), {0, src_shape[k] - idx_shape[k]});
                      gsrc = pad(gsrc, widths);
                    }
                  }
                  return grads{g, gsrc};
                });
}

Tensor masked_fill(const Tensor& x, const Tensor& mask_in, double value) {
  TG_CHECK(x.defined() && mask_in.defined(), "masked_fill: input and mask must be defined");
  const Tensor mask = kernels::as_mask("masked_fill", "mask", mask_in.detach());
  const Shape shape = broadcast_shapes("masked_fill", x.shape(), mask.shape());
  const Tensor xv = detail::broadcast_view(x.detach(), shape);
  const Tensor mv = detail::broadcast_view(mask, shape);
  check_scalar_fits("masked_fill", value, x.dtype());
  Tensor out = empty(shape, x.dtype());
  dispatch(x.dtype(), [&]<typename T>() {
    const T v = static_cast<T>(value);
    detail::map_kernel<T, T, bool>(out, {&xv, &mv}, [v](T a, bool m) { return m ? v : a; });
  });
  return record("masked_fill", {x}, out, {mask},
                [](const Tensor& g, const Saved& s) { return grads{masked_fill(g, s[0], 0.0)}; });
}

Tensor one_hot(const Tensor& index, std::int64_t num_classes, Dtype dtype) {
  const Tensor idx = checked_index("one_hot", index);
  TG_CHECK(num_classes >= -1, "one_hot: num_classes must be -1 (infer) or non-negative, got ",
           num_classes);
  const std::int64_t* ip = idx.data_ptr<std::int64_t>();
  const std::int64_t n = idx.numel();
  for (std::int64_t j = 0; j < n; ++j)
    TG_CHECK(ip[j] >= 0, "one_hot: class index ", ip[j], " is negative");
  std::int64_t classes = num_classes;
  if (classes == -1) {
    TG_CHECK(n > 0, "one_hot: cannot infer the number of classes from an empty tensor; pass ",
             "num_classes");
    classes = checked_add("one_hot", "class count", *std::max_element(ip, ip + n), 1);
  }
  for (std::int64_t j = 0; j < n; ++j)
    TG_CHECK(ip[j] < classes, "one_hot: class index ", ip[j], " is out of range for ", classes,
             " classes");
  Shape shape = idx.shape();
  shape.push_back(classes);
  check_shape("one_hot", shape, static_cast<std::int64_t>(element_size(dtype)));
  Tensor out = zeros(shape, dtype);
  dispatch(dtype, [&]<typename T>() {
    T* op = out.data_ptr<T>();
    for (std::int64_t j = 0; j < n; ++j) op[j * classes + ip[j]] = T(1);
  });
  return out;
}

Tensor repeat(const Tensor& x, const Shape& repeats) {
  TG_CHECK(x.defined(), "repeat: input is undefined");
  TG_CHECK(static_cast<std::int64_t>(repeats.size()) >= x.dim(), "repeat: got ", repeats.size(),
           " repeat counts for a tensor of ", x.dim(), " dims (shape ", shape_str(x.shape()), ")");
  for (auto r : repeats)
    TG_CHECK(r >= 0, "repeat: repeat counts must be non-negative, got ", shape_str(repeats));
  // x as [1, s0, 1, s1, ...], expanded to [r0, s0, r1, s1, ...] and copied into
  // [r0 * s0, r1 * s1, ...]: one copy, and expand's backward sums the tiles back.
  Shape padded(repeats.size() - x.shape().size(), 1);
  padded.insert(padded.end(), x.shape().begin(), x.shape().end());
  Shape inter, expanded, result;
  for (std::size_t i = 0; i < repeats.size(); ++i) {
    inter.insert(inter.end(), {1, padded[i]});
    expanded.insert(expanded.end(), {repeats[i], padded[i]});
    result.push_back(checked_mul("repeat", "size of the result", repeats[i], padded[i]));
  }
  check_shape("repeat", result, static_cast<std::int64_t>(element_size(x.dtype())));
  check_shape("repeat", expanded);
  const Tensor e = x.reshape(inter).expand(expanded);
  return (e.is_contiguous() ? e.clone() : e.contiguous()).view(result);
}

Tensor tile(const Tensor& x, const Shape& reps) {
  TG_CHECK(x.defined(), "tile: input is undefined");
  for (auto r : reps)
    TG_CHECK(r >= 0, "tile: repetitions must be non-negative, got ", shape_str(reps));
  Shape full_reps = reps;
  if (static_cast<std::int64_t>(full_reps.size()) < x.dim())
    full_reps.insert(full_reps.begin(), x.dim() - static_cast<std::int64_t>(full_reps.size()), 1);
  return repeat(x, full_reps);
}

Tensor pad(const Tensor& x, const Shape& widths, double value) {
  TG_CHECK(x.defined(), "pad: input is undefined");
  TG_CHECK(widths.size() % 2 == 0, "pad: the pad list must have an even length, got ",
           shape_str(widths));
  const auto padded_dims = static_cast<std::int64_t>(widths.size() / 2);
  TG_CHECK(padded_dims <= x.dim(), "pad: ", shape_str(widths), " pads ", padded_dims,
           " dims but the input of shape ", shape_str(x.shape()), " has ", x.dim());
  Shape out_shape = x.shape();
  for (std::int64_t i = 0; i < padded_dims; ++i) {
    const auto d = x.dim() - 1 - i;
    const auto lo = widths[2 * i], hi = widths[2 * i + 1];
    // INT64_MIN has no negation (the backward pads by -width): refuse it with the overflows.
    TG_CHECK(lo != std::numeric_limits<std::int64_t>::min() &&
                 hi != std::numeric_limits<std::int64_t>::min(),
             "pad: padding (", lo, ", ", hi, ") of dim ", d, " overflows int64");
    out_shape[d] =
        checked_add("pad", "padded size", checked_add("pad", "padded size", x.size(d), lo), hi);
    TG_CHECK(out_shape[d] >= 0, "pad: padding (", lo, ", ", hi, ") leaves dim ", d, " of size ",
             x.size(d), " with negative size ", out_shape[d]);
  }
  check_scalar_fits("pad", value, x.dtype());
  check_shape("pad", out_shape, static_cast<std::int64_t>(element_size(x.dtype())));
  Tensor out = full(out_shape, value, x.dtype());
  // Copy the part of x that survives the cropping (negative widths) to its place.
  Tensor src = x.detach(), dst = out;
  bool any = x.numel() > 0;
  for (std::int64_t i = 0; any && i < padded_dims; ++i) {
    const auto d = x.dim() - 1 - i;
    const auto lo = widths[2 * i], hi = widths[2 * i + 1];
    const auto begin = std::max<std::int64_t>(0, -lo);
    const auto end = x.size(d) - std::max<std::int64_t>(0, -hi);
    if (end <= begin) {
      any = false;
      break;
    }
    src = src.slice(d, begin, end);
    const auto at = std::max<std::int64_t>(0, lo);
    dst = dst.slice(d, at, at + (end - begin));
  }
  if (any) {
    NoGradGuard guard;
    dst.copy_(src);
  }
  return record("pad", {x}, out, [widths](const Tensor& g, const Saved&) {
    Shape back;
    for (auto w : widths) back.push_back(-w);
    return grads{pad(g, back, 0.0)};
  });
}

}  // namespace tg
