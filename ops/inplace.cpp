// In-place ops. Without autograd they write straight into the tensor's storage. When the write
// is tracked (grad mode on and self or the other operand requires grad), the op records its own
// node (input 0 is self's old value), computes the result out of place, writes it back and
// gives self that node as history; for a view, the base's history is rewritten instead
// (core/view_tracking.h). Either way the version counter is bumped, so a node that saved the old
// values refuses to run backward.
//
// Like PyTorch, mul_/div_ save the other operand, and a copy of self's old value only when the
// other operand needs a gradient; writes into memory that several elements share (expand) and
// dense operands that partially overlap the destination are refused. Deliberate difference:
// other overlapping operands (strided, where PyTorch's result depends on the loop order) are
// copied first, so the result is always the out-of-place one.
#include "tapegrad/core/autograd.h"
#include "tapegrad/core/detail/autograd.h"
#include "tapegrad/core/detail/view_tracking.h"
#include "tapegrad/ops/elementwise.h"
#include "tapegrad/ops/kernels/elementwise.h"
#include "tapegrad/ops/shape.h"

namespace tg {
namespace {

using autograd::Saved;

// What an in-place op learns before it writes: whether it is recorded, and whether the other
// operand must be copied first because it overlaps self in a way an elementwise loop would read
// half-written values from (detail::source_needs_copy).
struct Plan {
  bool recorded = false;
  bool copy_other = false;
};

// Autograd and aliasing checks shared by every in-place op (they throw before anything is
// written).
Plan prepare(const Tensor& self, const char* op, const Tensor& other,
             bool allow_internal_overlap = false) {
  Plan p;
  p.recorded = GradMode::is_enabled() &&
               (self.requires_grad() || (other.defined() && other.requires_grad()));
  detail::check_inplace(self, op, p.recorded);
  if (!allow_internal_overlap) detail::check_no_internal_overlap(op, self);
  if (other.defined()) p.copy_other = detail::source_needs_copy(op, self, other);
  return p;
}

// Writes `result` (recorded by the op, input 0 = self) into self and gives self its history.
Tensor& commit(Tensor& self, const char* op, const Tensor& result) {
  {
    NoGradGuard guard;
    kernels::binary_inplace(op, self, result, [](auto, auto r) { return r; });
  }
  self.impl()->storage->bump_version();
  if (const auto& fn = detail::grad_fn(result)) detail::rebase_history(self, fn);
  return self;
}

// self = f(self, other) elementwise without autograd.
template <typename F>
Tensor& write(Tensor& self, const char* op, const Tensor& other, const Plan& p, F f) {
  kernels::binary_inplace(op, self, p.copy_other ? other.detach().clone() : other, f);
  self.impl()->storage->bump_version();
  return self;
}

// The old value of self for a backward that needs it: a recorded copy (so that double backward
// reaches self's history), taken only when the other operand needs a gradient.
Tensor old_self_if(const Tensor& self, const Tensor& other) {
  return GradMode::is_enabled() && other.requires_grad() ? clone(self) : Tensor();
}

}  // namespace

Tensor& Tensor::add_(const Tensor& other, double alpha) {
  const Plan p = prepare(*this, "add_", other);
  if (p.recorded) return commit(*this, "add_", tg::add(*this, other, alpha));
  return write(*this, "add_", other, p,
               [alpha](auto x, auto y) { return x + static_cast<decltype(x)>(alpha) * y; });
}

Tensor& Tensor::sub_(const Tensor& other) {
  TG_CHECK(dtype() != kBool && other.dtype() != kBool, "sub_: subtraction with a bool tensor is ",
           "not supported (got ", dtype(), " - ", other.dtype(),
           "); use logical_xor or logical_not");
  const Plan p = prepare(*this, "sub_", other);
  if (p.recorded) return commit(*this, "sub_", tg::sub(*this, other));
  return write(*this, "sub_", other, p, [](auto x, auto y) { return x - y; });
}

Tensor& Tensor::mul_(const Tensor& other) {
  const Plan p = prepare(*this, "mul_", other);
  if (!p.recorded) return write(*this, "mul_", other, p, [](auto x, auto y) { return x * y; });
  Tensor result;
  {
    NoGradGuard guard;
    result = tg::mul(*this, other);
  }
  const Tensor old_self = old_self_if(*this, other);
  result = autograd::record(
      "mul_", {*this, other}, result, {other, old_self}, [](const Tensor& g, const Saved& s) {
        return grads{s.needs_grad(0) ? g * s[0] : Tensor(), s.needs_grad(1) ? g * s[1] : Tensor()};
      });
  return commit(*this, "mul_", result);
}

Tensor& Tensor::div_(const Tensor& other) {
  TG_CHECK(is_floating_point(), "div_: in-place division needs a floating-point tensor, got ",
           dtype());
  const Plan p = prepare(*this, "div_", other);
  if (!p.recorded) return write(*this, "div_", other, p, [](auto x, auto y) { return x / y; });
  Tensor result;
  {
    NoGradGuard guard;
    result = tg::div(*this, other);
  }
  const Tensor old_self = old_self_if(*this, other);
  result = autograd::record("div_", {*this, other}, result, {other, old_self},
                            [](const Tensor& g, const Saved& s) {
                              const Tensor b = s[0];
                              return grads{s.needs_grad(0) ? g / b : Tensor(),
                                           s.needs_grad(1) ? -(g * s[1]) / (b * b) : Tensor()};
                            });
  return commit(*this, "div_", result);
}

Tensor& Tensor::add_(double v) { return add_(wrap_scalar(v, *this)); }
Tensor& Tensor::sub_(double v) { return sub_(wrap_scalar(v, *this)); }
Tensor& Tensor::mul_(double v) { return mul_(wrap_scalar(v, *this)); }
Tensor& Tensor::div_(double v) { return div_(wrap_scalar(v, *this)); }

// fill_ may write into memory that several elements share: they all get the same value.
Tensor& Tensor::fill_(double value) {
  if (prepare(*this, "fill_", {}, /*allow_internal_overlap=*/true).recorded) {
    Tensor result = full_like(*this, value);
    result = autograd::record("fill_", {*this}, result,
                              [](const Tensor& g, const Saved&) { return grads{zeros_like(g)}; });
    return commit(*this, "fill_", result);
  }
  dispatch(dtype(), [&]<typename T>() {
    detail::map_kernel<T>(*this, {}, [v = static_cast<T>(value)]() { return v; });
  });
  impl()->storage->bump_version();
  return *this;
}

Tensor& Tensor::zero_() { return fill_(0.0); }

Tensor& Tensor::copy_(const Tensor& src) {
  TG_CHECK(src.defined(), "copy_: source tensor is undefined");
  const Plan p = prepare(*this, "copy_", src);
  if (p.recorded) {
    Tensor result = empty_like(*this);
    {
      NoGradGuard guard;
      kernels::binary_inplace("copy_", result, src, [](auto, auto s) { return s; });
    }
    result = autograd::record("copy_", {*this, src}, result, [](const Tensor& g, const Saved& s) {
      return grads{s.needs_grad(0) ? zeros_like(g) : Tensor(), g};
    });
    return commit(*this, "copy_", result);
  }
  return write(*this, "copy_", src, p, [](auto, auto s) { return s; });
}

}  // namespace tg
