// View tracking and in-place history rewriting (see view_tracking.h), plus the three strided
// region ops they need, each with its backward: gather a view's region out of a base-shaped
// tensor ("as_strided"), scatter a region's gradient into zeros of the base's shape
// ("as_strided_backward"), and replace the region of a base-shaped tensor ("copy_slices").
#include "tapegrad/core/detail/view_tracking.h"

#include <algorithm>
#include <cstring>
#include <mutex>

#include "tapegrad/core/autograd.h"
#include "tapegrad/core/detail/autograd.h"
#include "tapegrad/core/detail/iterate.h"

namespace tg::detail {
namespace {

using autograd::Saved;

// Where a tensor's elements live in its storage.
struct Geometry {
  Shape shape, strides;
  std::int64_t offset = 0;
};

Geometry geometry_of(const Tensor& t) { return {t.shape(), t.strides(), t.offset()}; }

// Lowest and highest storage offsets a geometry reaches (numel > 0).
std::pair<std::int64_t, std::int64_t> span_of(const Geometry& g) {
  std::int64_t lo = g.offset, hi = g.offset;
  for (std::size_t d = 0; d < g.shape.size(); ++d) {
    const std::int64_t reach = (g.shape[d] - 1) * g.strides[d];
    (reach < 0 ? lo : hi) += reach;
  }
  return {lo, hi};
}

bool has_internal_overlap(const Tensor& t) {
  if (t.numel() <= 1) return false;
  for (std::int64_t d = 0; d < t.dim(); ++d)
    if (t.shape()[d] > 1 && t.strides()[d] == 0) return true;
  return false;
}

Tensor on_storage(const std::shared_ptr<Storage>& s, const Geometry& g, std::int64_t shift,
                  Dtype dtype) {
  return Tensor(std::make_shared<TensorImpl>(s, g.shape, g.strides, g.offset - shift, dtype));
}

void copy_into(const Tensor& dst, const Tensor& src) {
  dispatch(dst.dtype(),
           [&]<typename T>() { detail::map_kernel<T, T>(dst, {&src}, [](T v) { return v; }); });
}

// dst[i] (+)= src[i] one element at a time, for a destination whose elements share memory.
void write_serial(const Tensor& dst, const Tensor& src_in, bool add) {
  const Tensor src = src_in.contiguous();
  dispatch(dst.dtype(), [&]<typename T>() {
    T* base = dst.data_ptr<T>();
    const T* s = src.data_ptr<T>();
    const auto n = dst.numel();
    const auto dims = dst.dim();
    Shape idx(dims, 0);
    std::int64_t off = 0;
    for (std::int64_t k = 0; k < n; ++k) {
      base[off] = add ? base[off] + s[k] : s[k];
      for (auto d = dims - 1; d >= 0; --d) {
        off += dst.strides()[d];
        if (++idx[d] < dst.shape()[d]) break;
        off -= idx[d] * dst.strides()[d];
        idx[d] = 0;
      }
    }
  });
}

// A base-shaped tensor laid out with the base's strides in fresh memory, holding `values`
// (or zeros), and the view region inside it.
struct Laid {
  Tensor whole, region;
};
Laid lay_out(const Tensor& values, const Geometry& base, const Geometry& view, Dtype dtype) {
  const auto [lo, hi] = span_of(base);
  Tensor buf = zeros({hi - lo + 1}, dtype);
  Laid l{on_storage(buf.impl()->storage, base, lo, dtype),
         on_storage(buf.impl()->storage, view, lo, dtype)};
  if (values.defined()) copy_into(l.whole, values);
  return l;
}

Tensor contiguous_copy(const Tensor& t) {
  NoGradGuard guard;
  return t.is_contiguous() ? t : t.clone();
}

Tensor view_gather(const Tensor& t, const Geometry& base, const Geometry& view);
Tensor view_scatter_add(const Tensor& g, const Geometry& base, const Geometry& view);

// The view's elements, read out of a tensor of the base's shape.
Tensor view_gather(const Tensor& t, const Geometry& base, const Geometry& view) {
  Tensor out;
  if (numel_of(view.shape) == 0) {
    out = zeros(view.shape, t.dtype());
  } else {
    NoGradGuard guard;
    out = lay_out(t, base, view, t.dtype()).region.clone();
  }
  return autograd::record("as_strided", {t}, out, [base, view](const Tensor& g, const Saved&) {
    return grads{view_scatter_add(g, base, view)};
  });
}

// Zeros of the base's shape with g added at the view's elements (summed where they repeat).
Tensor view_scatter_add(const Tensor& g, const Geometry& base, const Geometry& view) {
  Tensor out;
  if (numel_of(base.shape) == 0) {
    out = zeros(base.shape, g.dtype());
  } else {
    Laid l = lay_out({}, base, view, g.dtype());
    if (has_internal_overlap(l.region))
      write_serial(l.region, g, true);
    else
      copy_into(l.region, g);
    out = contiguous_copy(l.whole);
  }
  return autograd::record(
      "as_strided_backward", {g}, out,
      [base, view](const Tensor& gg, const Saved&) { return grads{view_gather(gg, base, view)}; });
}

// A base-shaped tensor equal to `whole` except at the view's elements, which hold `region`.
Tensor view_replace(const Tensor& whole, const Tensor& region, const Geometry& base,
                    const Geometry& view) {
  Tensor out;
  if (numel_of(base.shape) == 0) {
    out = zeros(base.shape, whole.dtype());
  } else {
    Laid l = lay_out(whole, base, view, whole.dtype());
    const Tensor r = region.dtype() == whole.dtype() ? region : region.detach().to(whole.dtype());
    if (has_internal_overlap(l.region))
      write_serial(l.region, r, false);
    else
      copy_into(l.region, r);
    out = contiguous_copy(l.whole);
  }
  return autograd::record(
      "copy_slices", {whole, region}, out, [base, view](const Tensor& g, const Saved& s) {
        return grads{
            s.needs_grad(0) ? view_replace(g, zeros(view.shape, g.dtype()), base, view) : Tensor(),
            s.needs_grad(1) ? view_gather(g, base, view) : Tensor()};
      });
}

// The base's history after an in-place op on one of its views: the gradient of the base flows
// to the op's node for the view's region and straight to the old history everywhere else.
class CopySlices final : public autograd::Node {
 public:
  CopySlices(autograd::Edge base_edge, const Tensor& base, const Tensor& view,
             std::shared_ptr<autograd::Node> fn)
      : base_(geometry_of(base)),
        view_(geometry_of(view)),
        dtype_(base.dtype()),
        fn_(std::move(fn)) {
    sequence_nr = fn_->sequence_nr;  // runs where the in-place op's node would have
    forward_trace = fn_->forward_trace;
    next_edges.push_back(std::move(base_edge));
    input_meta.push_back({base_.shape, dtype_});
    for (std::size_t i = 1; i < fn_->next_edges.size(); ++i) {
      next_edges.push_back(fn_->next_edges[i]);
      input_meta.push_back(fn_->input_meta[i]);
    }
    output_meta.push_back({base_.shape, dtype_});
  }
  std::string_view name() const override { return "CopySlices"; }

  grads apply(grads&& grad_outputs) override {
    const Tensor g = grad_outputs[0];
    grads res = fn_->apply({view_gather(g, base_, view_)});
    Tensor region = !res.empty() && res[0].defined() ? res[0] : zeros(view_.shape, g.dtype());
    if (region.shape() != view_.shape) region = region.sum_to(view_.shape);
    grads out(next_edges.size());
    if (next_edges[0].node) out[0] = view_replace(g, region, base_, view_);
    for (std::size_t i = 1; i < out.size() && i < res.size(); ++i) out[i] = std::move(res[i]);
    return out;
  }
  void release() override { fn_->release(); }
  bool released() const override { return fn_->released(); }

 private:
  Geometry base_, view_;
  Dtype dtype_;
  std::shared_ptr<autograd::Node> fn_;
};

// The grad_fn of a view re-derived from its base: the view's gradient goes to the base's
// elements it covers. (A node built here rather than through record(): deriving a grad_fn is
// not a forward computation, so anomaly mode must not inspect the view's values.)
class AsStrided final : public autograd::Node {
 public:
  AsStrided(const Tensor& base, const Tensor& view)
      : base_(geometry_of(base)), view_(geometry_of(view)) {
    next_edges.push_back(autograd::gradient_edge(base));
    sequence_nr = next_edges[0].node ? next_edges[0].node->sequence_nr + 1 : 0;
    input_meta.push_back({base_.shape, base.dtype()});
    output_meta.push_back({view_.shape, view.dtype()});
    forward_trace = "as_strided";
  }
  std::string_view name() const override { return "as_strided"; }
  grads apply(grads&& grad_outputs) override {
    return {view_scatter_add(grad_outputs[0], base_, view_)};
  }

 private:
  Geometry base_, view_;
};

// Gives the view t a grad_fn that reads its elements out of its base. Callers hold
// g_derive_mutex, and the new version is published after the grad_fn: a thread reading a shared
// view sees either a stale version (and waits for the mutex) or the finished grad_fn.
std::mutex g_derive_mutex;
void derive_from_base(const Tensor& t) {
  TensorImpl& i = *t.impl();
  const std::uint32_t now = i.storage->version();
  const Tensor base(i.view_base);
  if (static_cast<ViewCreation>(i.view_creation) != ViewCreation::NoGrad && base.requires_grad()) {
    i.grad_fn = std::make_shared<AsStrided>(base, t);
    i.output_nr = 0;
  }
  i.view_version.store(now, std::memory_order_release);
}

}  // namespace

void set_view_of(const Tensor& x, const Tensor& view) {
  const TensorImpl& xi = *x.impl();
  TensorImpl& vi = *view.impl();
  vi.view_base = xi.view_base ? xi.view_base : x.impl_ptr();
  vi.view_version = vi.storage->version();
  vi.view_creation =
      GradMode::is_enabled() ? xi.view_creation : static_cast<std::uint8_t>(ViewCreation::NoGrad);
  vi.view_op = xi.view_op;
}

void mark_multi_output_views(const std::vector<Tensor>& views, const char* op) {
  for (const auto& v : views) {
    TensorImpl& vi = *v.impl();
    if (!vi.view_base || vi.view_creation != static_cast<std::uint8_t>(ViewCreation::Default))
      continue;
    vi.view_creation = static_cast<std::uint8_t>(ViewCreation::MultiOutput);
    vi.view_op = op;
  }
}

void refresh_view_slow(const Tensor& t) {
  const TensorImpl& i = *t.impl();
  std::lock_guard<std::mutex> lock(g_derive_mutex);
  // Another thread may have re-derived it while this one waited.
  if (i.view_version.load(std::memory_order_relaxed) != i.storage->version()) derive_from_base(t);
}

void check_inplace(const Tensor& self, const char* op, bool recorded) {
  if (!GradMode::is_enabled()) return;
  const TensorImpl& i = *self.impl();
  if (i.view_base) {
    const Tensor base(i.view_base);
    switch (static_cast<ViewCreation>(i.view_creation)) {
      case ViewCreation::NoGrad:
        TG_CHECK(!recorded && !base.requires_grad(), op,
                 ": a view made in no_grad mode is being modified in place with grad mode on; "
                 "this is ambiguous and refused (as in PyTorch): make the view and the in-place "
                 "change both inside the no_grad block (untracked) or both outside it (tracked)");
        break;
      case ViewCreation::MultiOutput:
        TG_CHECK(!recorded, op, ": the tensor is a view returned by ", i.view_op,
                 ", which returns several views; such views cannot be modified in place while "
                 "their gradient is tracked (as in PyTorch): use an out-of-place op instead");
        break;
      case ViewCreation::Default:
        break;
    }
    TG_CHECK(!(recorded && base.is_leaf() && base.requires_grad()), op,
             ": a view of a leaf tensor that requires grad cannot be modified in place while "
             "grad mode is on (wrap the update in tg::NoGradGuard)");
  }
  TG_CHECK(!(recorded && self.is_leaf() && self.requires_grad()), op,
           ": a leaf tensor that requires grad cannot be modified in place while grad mode is on ",
           "(wrap the update in tg::NoGradGuard)");
}

void rebase_history(const Tensor& self, const std::shared_ptr<autograd::Node>& fn) {
  TensorImpl& i = *self.impl();
  if (!i.view_base) {
    i.grad_fn = fn;
    i.output_nr = 0;
    return;
  }
  const Tensor base(i.view_base);
  auto copy_slices = std::make_shared<CopySlices>(autograd::gradient_edge(base), base, self, fn);
  base.impl()->grad_fn = std::move(copy_slices);
  base.impl()->output_nr = 0;
  std::lock_guard<std::mutex> lock(g_derive_mutex);
  derive_from_base(self);
}

// ---- memory overlap ----

void check_no_internal_overlap(const char* op, const Tensor& dst) {
  TG_CHECK(!has_internal_overlap(dst), op,
           ": unsupported operation: more than one element of the written-to tensor (shape ",
           shape_str(dst.shape()), ", strides ", shape_str(dst.strides()),
           ") refers to a single memory location; clone() it before writing to it");
}

namespace {
// Dense without overlap: some order of the dims has contiguous strides (PyTorch's
// is_non_overlapping_and_dense).
bool is_dense(const Tensor& t) {
  std::vector<std::int64_t> dims;
  for (std::int64_t d = 0; d < t.dim(); ++d)
    if (t.shape()[d] != 1) dims.push_back(d);
  std::sort(dims.begin(), dims.end(),
            [&](auto a, auto b) { return t.strides()[a] < t.strides()[b]; });
  std::int64_t expected = 1;
  for (auto d : dims) {
    if (t.strides()[d] != expected) return false;
    expected *= t.shape()[d];
  }
  return true;
}
}  // namespace

bool source_needs_copy(const char* op, const Tensor& dst, const Tensor& src) {
  if (dst.impl()->storage != src.impl()->storage || dst.numel() == 0 || src.numel() == 0)
    return false;
  const auto [dlo, dhi] = span_of(geometry_of(dst));
  const auto [slo, shi] = span_of(geometry_of(src));
  if (dhi < slo || shi < dlo) return false;  // disjoint memory
  // Element i of dst and of src (broadcast to dst's shape) at the same place: a safe alias.
  if (src.offset() == dst.offset() &&
      broadcast_shapes(op, dst.shape(), src.shape()) == dst.shape()) {
    const Tensor b = broadcast_view(src, dst.shape());
    bool same = true;
    for (std::int64_t d = 0; d < dst.dim(); ++d)
      same = same && (dst.shape()[d] == 1 || b.strides()[d] == dst.strides()[d]);
    if (same) return false;
  }
  TG_CHECK(!(is_dense(dst) && is_dense(src)), op,
           ": unsupported operation: some elements of the input tensor (shape ",
           shape_str(src.shape()), ", strides ", shape_str(src.strides()),
           ") and the written-to tensor (shape ", shape_str(dst.shape()), ", strides ",
           shape_str(dst.strides()),
           ") refer to a single memory location; clone() the input "
           "first");
  return true;
}

}  // namespace tg::detail
