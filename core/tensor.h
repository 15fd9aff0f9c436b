#pragma once
// tg::Tensor: a cheap, copyable handle to shared storage plus shape/strides/offset/dtype.
// Copying a Tensor shares its data (like torch::Tensor); clone() copies it.
//
// Metadata, data access and autograd state are defined in core/. The math and view methods
// declared at the bottom are thin conveniences over the free functions in ops/, where each op's
// forward and backward live.
#include <concepts>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <iosfwd>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "tapegrad/core/dtype.h"
#include "tapegrad/core/shape.h"

namespace tg {

class Tensor;
using GradHook = std::function<Tensor(const Tensor&)>;  // returns a replacement, or undefined
// Runs after a leaf's .grad has been updated by a backward pass; receives the leaf.
using PostAccumulateGradHook = std::function<void(const Tensor&)>;

// The state behind a Tensor handle (shape, strides, storage, autograd fields): internal, defined
// in core/detail/tensor_impl.h. Users hold Tensors; impl() is for the library's own code.
struct TensorImpl;

namespace autograd {
// The public face of a recorded op's backward node: what `x.grad_fn()` points to. The engine's
// node type (core/detail/autograd.h) derives from it and keeps its edges and saved state private.
class GradFn {
 public:
  virtual ~GradFn() = default;
  virtual std::string_view name() const = 0;  // the op that recorded it, e.g. "mul"
};
}  // namespace autograd

struct ValuesIndices;  // max/min along a dim; defined below

// An integer dim index (not bool): lets x.sum(1) mean dim 1 while x.sum({}) keeps meaning every
// dim.
template <typename I>
concept DimIndex = std::integral<I> && !std::same_as<I, bool>;

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
  // The node that made this tensor (null for leaves); grad_fn()->name() is the op, e.g. "mul".
  std::shared_ptr<autograd::GradFn> grad_fn() const;
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
  // Leaves only: calls `hook(leaf)` each time a backward pass has accumulated into this
  // tensor's .grad (PyTorch's register_post_accumulate_grad_hook). Data-parallel training uses
  // it to start reducing a gradient as soon as it is final. remove_hook(id) removes it.
  int register_post_accumulate_grad_hook(PostAccumulateGradHook hook) const;
  void remove_hook(int id) const;
  std::uint32_t version() const;
  // Counts an in-place change made by writing through data_ptr(), so that autograd sees it.
  void bump_version() const;

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

  // ---- ops as methods (ops/tensor_methods.cpp forwards each to its free function) ----
  // PyTorch's method spellings: x.abs(), x.sum(1), x.argmax(1, true), x.max(), (a == b).all().
  // A single dim may be passed as an integer wherever PyTorch takes `dim`; braced lists ({0, 2},
  // {} for every dim) go to the Shape overloads.
  Tensor abs() const;
  Tensor neg() const;
  Tensor exp() const;
  Tensor expm1() const;
  Tensor log() const;
  Tensor log1p() const;
  Tensor sqrt() const;
  Tensor rsqrt() const;
  Tensor square() const;
  Tensor reciprocal() const;
  Tensor sin() const;
  Tensor cos() const;
  Tensor erf() const;
  Tensor tanh() const;
  Tensor sigmoid() const;
  Tensor relu() const;
  Tensor sign() const;
  Tensor round() const;
  Tensor floor() const;
  Tensor ceil() const;
  Tensor softmax(std::int64_t dim) const;
  Tensor log_softmax(std::int64_t dim) const;

  Tensor add(const Tensor& other, double alpha = 1.0) const;
  Tensor add(double other) const;
  Tensor sub(const Tensor& other, double alpha = 1.0) const;
  Tensor sub(double other) const;
  Tensor mul(const Tensor& other) const;
  Tensor mul(double other) const;
  Tensor div(const Tensor& other) const;
  Tensor div(double other) const;
  Tensor pow(double exponent) const;
  Tensor pow(const Tensor& exponent) const;
  Tensor maximum(const Tensor& other) const;
  Tensor minimum(const Tensor& other) const;
  Tensor clamp(std::optional<double> min, std::optional<double> max = std::nullopt) const;
  Tensor clamp_min(double min) const;
  Tensor clamp_max(double max) const;
  Tensor where(const Tensor& condition, const Tensor& other) const;  // condition ? *this : other
  Tensor where(const Tensor& condition, double other) const;

  // Comparisons and logical ops (not differentiable), like the free functions and operators.
  Tensor eq(const Tensor& other) const;
  Tensor ne(const Tensor& other) const;
  Tensor lt(const Tensor& other) const;
  Tensor le(const Tensor& other) const;
  Tensor gt(const Tensor& other) const;
  Tensor ge(const Tensor& other) const;
  Tensor eq(double other) const;
  Tensor ne(double other) const;
  Tensor lt(double other) const;
  Tensor le(double other) const;
  Tensor gt(double other) const;
  Tensor ge(double other) const;
  Tensor logical_and(const Tensor& other) const;
  Tensor logical_or(const Tensor& other) const;
  Tensor logical_xor(const Tensor& other) const;
  Tensor logical_not() const;
  Tensor all() const;  // true when every element is non-zero (NaN counts as true)
  Tensor all(std::int64_t dim, bool keepdim = false) const;
  Tensor any() const;
  Tensor any(std::int64_t dim, bool keepdim = false) const;

  // Reductions.
  Tensor sum() const;
  Tensor sum(const Shape& dims, bool keepdim = false) const;
  Tensor mean() const;
  Tensor mean(const Shape& dims, bool keepdim = false) const;
  Tensor prod() const;
  Tensor prod(std::int64_t dim, bool keepdim = false) const;
  Tensor amax(const Shape& dims = {}, bool keepdim = false) const;
  Tensor amin(const Shape& dims = {}, bool keepdim = false) const;
  Tensor max() const;
  Tensor min() const;
  ValuesIndices max(std::int64_t dim, bool keepdim = false) const;  // (values, indices)
  ValuesIndices min(std::int64_t dim, bool keepdim = false) const;
  Tensor max(const Tensor& other) const { return maximum(other); }  // torch's x.max(y)
  Tensor min(const Tensor& other) const { return minimum(other); }
  Tensor argmax() const;
  Tensor argmax(std::int64_t dim, bool keepdim = false) const;
  Tensor argmin() const;
  Tensor argmin(std::int64_t dim, bool keepdim = false) const;
  // correction 1 (or true) is the unbiased estimate, as PyTorch's positional `unbiased`.
  Tensor var(const Shape& dims = {}, double correction = 1.0, bool keepdim = false) const;
  Tensor std(const Shape& dims = {}, double correction = 1.0, bool keepdim = false) const;
  Tensor logsumexp(const Shape& dims = {}, bool keepdim = false) const;
  Tensor norm(double p = 2.0, const Shape& dims = {}, bool keepdim = false) const;
  Tensor cumsum(std::int64_t dim) const;
  template <DimIndex I>
  Tensor sum(I dim, bool keepdim = false) const {
    return sum(Shape{static_cast<std::int64_t>(dim)}, keepdim);
  }
  template <DimIndex I>
  Tensor mean(I dim, bool keepdim = false) const {
    return mean(Shape{static_cast<std::int64_t>(dim)}, keepdim);
  }
  template <DimIndex I>
  Tensor amax(I dim, bool keepdim = false) const {
    return amax(Shape{static_cast<std::int64_t>(dim)}, keepdim);
  }
  template <DimIndex I>
  Tensor amin(I dim, bool keepdim = false) const {
    return amin(Shape{static_cast<std::int64_t>(dim)}, keepdim);
  }
  template <DimIndex I>
  Tensor var(I dim, double correction = 1.0, bool keepdim = false) const {
    return var(Shape{static_cast<std::int64_t>(dim)}, correction, keepdim);
  }
  template <DimIndex I>
  Tensor std(I dim, double correction = 1.0, bool keepdim = false) const {
    return std(Shape{static_cast<std::int64_t>(dim)}, correction, keepdim);
  }
  template <DimIndex I>
  Tensor logsumexp(I dim, bool keepdim = false) const {
    return logsumexp(Shape{static_cast<std::int64_t>(dim)}, keepdim);
  }
  template <DimIndex I>
  Tensor norm(double p, I dim, bool keepdim = false) const {
    return norm(p, Shape{static_cast<std::int64_t>(dim)}, keepdim);
  }

  // Products.
  Tensor matmul(const Tensor& other) const;
  Tensor mm(const Tensor& other) const;
  Tensor bmm(const Tensor& other) const;
  Tensor dot(const Tensor& other) const;
  Tensor outer(const Tensor& other) const;

  // Shapes and indexing.
  Tensor expand_as(const Tensor& other) const { return expand(other.shape()); }
  Tensor view_as(const Tensor& other) const { return view(other.shape()); }
  Tensor reshape_as(const Tensor& other) const { return reshape(other.shape()); }
  Tensor repeat(const Shape& repeats) const;
  Tensor tile(const Shape& reps) const;
  std::vector<Tensor> split(std::int64_t split_size, std::int64_t dim = 0) const;
  std::vector<Tensor> split_with_sizes(const Shape& sizes, std::int64_t dim = 0) const;
  std::vector<Tensor> chunk(std::int64_t chunks, std::int64_t dim = 0) const;
  Tensor index_select(std::int64_t dim, const Tensor& index) const;
  Tensor gather(std::int64_t dim, const Tensor& index) const;
  Tensor scatter_add(std::int64_t dim, const Tensor& index, const Tensor& src) const;
  Tensor masked_fill(const Tensor& mask, double value) const;

  // Sums a broadcast gradient back to `shape` (the engine uses this for every input).
  Tensor sum_to(const Shape& shape) const;

  // PyTorch's name of the node that made this tensor ("MulBackward0", "SumBackward1"), as
  // y.grad_fn.name() gives in PyTorch; empty for leaves and tensors without history.
  std::string grad_fn_name() const;

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

// Along one dim: the values and the int64 index of the first extreme (torch.return_types.max).
struct ValuesIndices {
  Tensor values, indices;
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
  TG_CHECK(dtype() == dtype_of<T>(), "data_ptr: tensor has dtype ", dtype(),
           " but the requested element type is ", dtype_name(dtype_of<T>()));
  return static_cast<T*>(raw_data());
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
