#pragma once
// tg::Tensor: a cheap, copyable handle to shared storage plus shape/strides/offset/dtype.
// Copying a Tensor shares its data (like torch::Tensor); clone() copies it.
//
// Metadata, data access and autograd state are defined in core/. The math and view methods
// declared at the bottom are thin conveniences over the free functions in ops/, where each op's
// forward and backward live.
#include <atomic>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <iosfwd>
#include <memory>
#include <span>
#include <vector>

#include "tapegrad/core/dtype.h"
#include "tapegrad/core/shape.h"
#include "tapegrad/core/storage.h"

namespace tg {

class Tensor;
namespace autograd {
class Node;
}

using GradHook = std::function<Tensor(const Tensor&)>;  // returns a replacement, or undefined

// The state behind a Tensor handle. Users rarely touch it directly.
struct TensorImpl {
  TensorImpl(std::shared_ptr<Storage> storage, Shape shape, Shape strides, std::int64_t offset,
             Dtype dtype);
  ~TensorImpl();
  TensorImpl(const TensorImpl&) = delete;
  TensorImpl& operator=(const TensorImpl&) = delete;

  std::shared_ptr<Storage> storage;
  Shape shape;
  Shape strides;        // in elements
  std::int64_t offset;  // in elements
  Dtype dtype;

  // Autograd state.
  bool requires_grad = false;                      // meaningful for leaves
  std::shared_ptr<autograd::Node> grad_fn;         // set on results of recorded ops
  std::uint32_t output_nr = 0;                     // which output of grad_fn this is
  std::shared_ptr<TensorImpl> grad;                // accumulated gradient (leaves, retain_grad)
  std::weak_ptr<autograd::Node> grad_accumulator;  // leaves: the node that fills .grad
  bool retains_grad = false;
  // Leaf hooks (non-leaf hooks live on grad_fn), shared so a backward pass can run a snapshot.
  std::vector<std::pair<int, std::shared_ptr<GradHook>>> hooks;
  int next_hook_id = 0;

  // View tracking (core/view_tracking.h). A view made by a view op keeps its base (the
  // tensor that owns the memory, never itself a view) so that an in-place op on the view can
  // rewrite the base's history, and a view whose memory changed re-derives its grad_fn from the
  // base. view_version is the storage version at which grad_fn was last derived.
  std::shared_ptr<TensorImpl> view_base;
  std::atomic<std::uint32_t> view_version{0};
  std::uint8_t view_creation = 0;  // detail::ViewCreation
  const char* view_op = nullptr;   // the op that made a multi-output view, for messages
};

class Tensor {
 public:
  Tensor() = default;
  explicit Tensor(std::shared_ptr<TensorImpl> impl) : impl_(std::move(impl)) {}

  bool defined() const { return impl_ != nullptr; }
  TensorImpl* impl() const { return impl_.get(); }
  const std::shared_ptr<TensorImpl>& impl_ptr() const { return impl_; }
  bool is_same(const Tensor& other) const { return impl_ == other.impl_; }

  // ---- metadata ----
  const Shape& shape() const;
  const Shape& sizes() const { return shape(); }
  std::int64_t size(std::int64_t dim) const;
  const Shape& strides() const;
  std::int64_t stride(std::int64_t dim) const;
  std::int64_t offset() const;
  std::int64_t dim() const;
  std::int64_t numel() const;
  Dtype dtype() const;
  bool is_floating_point() const { return is_floating(dtype()); }
  bool is_contiguous() const;
  std::size_t nbytes() const { return static_cast<std::size_t>(numel()) * element_size(dtype()); }

  // ---- data access ----
  // Pointer to the first element (offset applied). Checks that T matches the dtype.
  template <typename T>
  T* data_ptr() const;
  void* raw_data() const;  // untyped pointer to the first element
  // Value of a one-element tensor, converted to T.
  template <typename T = double>
  T item() const;
  // Element at a full index, converted to T; negative indices count from the end.
  template <typename T = double>
  T at(std::initializer_list<std::int64_t> index) const;
  // Writes one element (no autograd; bumps the version counter).
  void set(std::initializer_list<std::int64_t> index, double value);
  // All elements in row-major order, converted to T.
  template <typename T>
  std::vector<T> to_vector() const;

  // ---- conversions (differentiable where it makes sense) ----
  Tensor to(Dtype dtype) const;
  Tensor clone() const;
  Tensor contiguous() const;
  Tensor detach() const;  // shares data, no history

  // ---- autograd ----
  bool requires_grad() const;
  Tensor& requires_grad_(bool on = true);
  bool is_leaf() const;
  const std::shared_ptr<autograd::Node>& grad_fn() const;
  Tensor grad() const;  // undefined until a backward pass fills it
  void set_grad(const Tensor& g) const;
  void zero_grad() const;  // drops .grad (set to none)
  // Gradient of this tensor w.r.t. the graph's leaves. `gradient` may be omitted only for
  // one-element tensors.
  void backward(const Tensor& gradient = {}, bool retain_graph = false,
                bool create_graph = false) const;
  void retain_grad() const;  // keep .grad on a non-leaf
  // Calls `hook(grad)` when this tensor's gradient is computed; a defined return value
  // replaces the gradient. Returns an id for remove_hook.
  int register_hook(GradHook hook) const;
  void remove_hook(int id) const;
  std::uint32_t version() const;

  // ---- views (no copy; defined in ops/shape.cpp) ----
  Tensor reshape(const Shape& shape) const;
  Tensor view(const Shape& shape) const;
  Tensor flatten(std::int64_t start_dim = 0, std::int64_t end_dim = -1) const;
  Tensor squeeze() const;
  Tensor squeeze(std::int64_t dim) const;
  Tensor unsqueeze(std::int64_t dim) const;
  Tensor transpose(std::int64_t dim0, std::int64_t dim1) const;
  Tensor permute(const Shape& dims) const;
  Tensor t() const;
  Tensor expand(const Shape& shape) const;
  Tensor slice(std::int64_t dim, std::int64_t start, std::int64_t end, std::int64_t step = 1) const;
  Tensor narrow(std::int64_t dim, std::int64_t start, std::int64_t length) const;
  Tensor select(std::int64_t dim, std::int64_t index) const;
  Tensor operator[](std::int64_t index) const { return select(0, index); }

  // ---- math conveniences (defined in ops/) ----
  Tensor sum() const;
  Tensor sum(const Shape& dims, bool keepdim = false) const;
  Tensor mean() const;
  Tensor mean(const Shape& dims, bool keepdim = false) const;
  Tensor exp() const;
  Tensor log() const;
  Tensor tanh() const;
  Tensor sigmoid() const;
  Tensor relu() const;
  Tensor pow(double exponent) const;
  Tensor matmul(const Tensor& other) const;
  // Sums a broadcast gradient back to `shape` (the engine uses this for every input).
  Tensor sum_to(const Shape& shape) const;

  // ---- in-place (no copy; bump the version counter) ----
  Tensor& add_(const Tensor& other, double alpha = 1.0);
  Tensor& add_(double value);
  Tensor& sub_(const Tensor& other);
  Tensor& sub_(double value);
  Tensor& mul_(const Tensor& other);
  Tensor& mul_(double value);
  Tensor& div_(const Tensor& other);
  Tensor& div_(double value);
  Tensor& zero_();
  Tensor& fill_(double value);
  Tensor& copy_(const Tensor& src);

 private:
  const TensorImpl& checked() const;
  std::shared_ptr<TensorImpl> impl_;
};

std::ostream& operator<<(std::ostream& os, const Tensor& t);

// True when shapes match and |a - b| <= atol + rtol * |b| everywhere (NaNs never match).
bool allclose(const Tensor& a, const Tensor& b, double rtol = 1e-5, double atol = 1e-8);
// Same shape, dtype and every element bit-equal.
bool equal(const Tensor& a, const Tensor& b);

// ---- type promotion (PyTorch's result_type; every binary op family computes in this dtype) ----
// Two tensors: promote_types (dtype.h), except that a 0-dim operand only promotes a tensor with
// dims when it is of a higher category (bool < integer < floating): float32 [3] + float64 0-dim
// -> float32, int64 [3] + float64 0-dim -> float64, as in PyTorch.
Dtype result_type(const Tensor& a, const Tensor& b);
// A tensor and a C++ number (PyTorch's "wrapped number"): a floating tensor keeps its dtype
// (float32 + 1e-300 stays float32); an integer tensor keeps its dtype for a whole number and
// becomes float32 for a fractional one; a bool tensor becomes int64 for a whole number and
// float32 for a fractional one (a C++ double cannot say "Python bool", so b + 1.0 is int64).
Dtype result_type(const Tensor& t, double scalar);

// ---- factories ----
// A scalar that does not fit the dtype is a tg::Error naming the op ("full: value 1e+30 cannot be
// converted to type int64 without overflow"), as in PyTorch: NaN, infinities and values outside
// [lowest, max] for integer dtypes, finite values beyond float's range for float32. Fractional
// values truncate toward zero for integer dtypes, as in PyTorch. Every value arrives as a double
// and is checked as PyTorch checks a Python float: full({1}, -1, kUInt8) is refused, where
// PyTorch wraps the Python int -1 to 255.
void check_scalar_fits(std::string_view op, double value, Dtype dtype);
Tensor empty(const Shape& shape, Dtype dtype = kFloat32);
Tensor zeros(const Shape& shape, Dtype dtype = kFloat32);
Tensor ones(const Shape& shape, Dtype dtype = kFloat32);
Tensor full(const Shape& shape, double value, Dtype dtype = kFloat32);
Tensor zeros_like(const Tensor& t);
Tensor ones_like(const Tensor& t);
Tensor full_like(const Tensor& t, double value);
Tensor empty_like(const Tensor& t);                          // contiguous, same shape and dtype
Tensor scalar_tensor(double value, Dtype dtype = kFloat32);  // 0-dim
// [start, end) in steps of `step`; int64 when all three are whole numbers and dtype is omitted.
Tensor arange(double end);
Tensor arange(double start, double end, double step = 1.0);
Tensor arange(double start, double end, double step, Dtype dtype);
Tensor linspace(double start, double end, std::int64_t steps, Dtype dtype = kFloat32);
Tensor eye(std::int64_t n, Dtype dtype = kFloat32);
Tensor eye(std::int64_t n, std::int64_t m, Dtype dtype = kFloat32);
// From data (copied). An empty shape means 1-D; use scalar_tensor for 0-dim.
Tensor tensor(std::initializer_list<float> values);
Tensor tensor(std::initializer_list<double> values, Dtype dtype);
Tensor tensor(std::initializer_list<std::initializer_list<float>> rows);
template <typename T>
Tensor from_vector(const std::vector<T>& values, Shape shape = {});
// Copies numel(shape) elements of `dtype` from a raw buffer.
Tensor from_blob(const void* data, const Shape& shape, Dtype dtype);

// ---- random (repeatable after manual_seed; see core/random.h) ----
Tensor rand(const Shape& shape, Dtype dtype = kFloat32);   // U[0, 1)
Tensor randn(const Shape& shape, Dtype dtype = kFloat32);  // N(0, 1)
Tensor randint(std::int64_t low, std::int64_t high, const Shape& shape, Dtype dtype = kInt64);

// ---- template definitions ----
template <typename T>
T* Tensor::data_ptr() const {
  const auto& i = checked();
  TG_CHECK(i.dtype == dtype_of<T>(), "data_ptr: tensor has dtype ", i.dtype,
           " but the requested element type is ", dtype_name(dtype_of<T>()));
  return static_cast<T*>(i.storage->data()) + i.offset;
}

template <typename T>
Tensor from_vector(const std::vector<T>& values, Shape shape) {
  if (shape.empty()) shape = {static_cast<std::int64_t>(values.size())};
  check_shape("from_vector", shape);
  TG_CHECK(numel_of(shape) == static_cast<std::int64_t>(values.size()),
           "from_vector: ", values.size(), " values do not fill shape ", shape_str(shape));
  return from_blob(values.data(), shape, dtype_of<T>());
}

}  // namespace tg
