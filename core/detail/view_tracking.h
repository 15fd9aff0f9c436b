#pragma once
// Views and in-place ops under autograd (the internals behind Tensor::mul_ and friends).
//
// A view (slice, select, transpose, expand, ...) remembers its base: the tensor that owns the
// memory, never itself a view. Its own shape/strides/offset say which elements of the base's
// storage it covers, so any view can be re-created from its base ("as_strided").
//
// An in-place op on a view while gradients are tracked rewrites the base's history: the base's
// new grad_fn is CopySlices(base's old history, the op's node applied to the view's region), and
// the view's grad_fn becomes "as_strided" of the base. A view whose memory changed since its
// grad_fn was made (its storage version moved) re-derives its grad_fn from the base the next time
// the grad_fn is read, so every view sees the in-place changes made through the base or through
// a sibling view. This follows PyTorch, including the cases it refuses (a view of a leaf that
// requires grad, a view made in no_grad mode, one of several views returned by split/chunk).
// Deliberate differences: a view made in no_grad mode is a constant (PyTorch reports its base's
// requires_grad without giving it a grad_fn); a strided source partially overlapping the
// destination is copied first (PyTorch's result depends on its loop order).
#include <cstdint>
#include <memory>
#include <vector>

#include "tapegrad/core/detail/tensor_impl.h"

namespace tg {
namespace autograd {
class Node;
}

namespace detail {

enum class ViewCreation : std::uint8_t {
  Default = 0,      // made with grad mode on
  NoGrad = 1,       // made with grad mode off: an in-place op on it may not be tracked
  MultiOutput = 2,  // one of several views returned together (split, chunk)
};

// Makes `view` (a new handle on x's storage) a view of x's base, remembering how it was made.
void set_view_of(const Tensor& x, const Tensor& view);
// Marks views returned together by `op`: a tracked in-place op on any of them is refused.
void mark_multi_output_views(const std::vector<Tensor>& views, const char* op);

// Re-derives the grad_fn of a view whose memory changed since its grad_fn was made.
void refresh_view_slow(const Tensor& t);
inline void refresh_view(const Tensor& t) {
  const TensorImpl* i = t.impl();
  if (i && i->view_base && i->view_version.load(std::memory_order_acquire) != i->storage->version())
    refresh_view_slow(t);
}

// Throws the errors PyTorch gives before an in-place op `op` on self: a leaf (or a view of a
// leaf) that requires grad, a view made in no_grad mode, a view returned by split/chunk.
// `recorded`: grad mode is on and self or another input requires grad.
void check_inplace(const Tensor& self, const char* op, bool recorded);

// Gives self the history of `fn`, the node the in-place op recorded (its input 0 is self's old
// value): directly for a tensor that is not a view, through CopySlices on the base for a view.
void rebase_history(const Tensor& self, const std::shared_ptr<autograd::Node>& fn);

// ---- memory overlap (for in-place writes) ----
// Refuses a destination in which several elements share one memory location (a stride-0 dim
// of size > 1, as expand makes): an elementwise write into it would be order-dependent.
void check_no_internal_overlap(const char* op, const Tensor& dst);
// For a write of `src` into `dst`: throws when both are dense and their memory partially
// overlaps (PyTorch refuses these); returns true when they overlap in another way that an
// elementwise loop would read half-written values from, so src must be copied first.
bool source_needs_copy(const char* op, const Tensor& dst, const Tensor& src);

}  // namespace detail
}  // namespace tg
