#include "tapegrad/core/tensor.h"

#include <cmath>
#include <cstring>
#include <limits>

#include "tapegrad/core/autograd.h"
#include "tapegrad/core/detail/autograd.h"
#include "tapegrad/core/detail/iterate.h"
#include "tapegrad/core/detail/view_tracking.h"
#include "tapegrad/core/random.h"

namespace tg {

TensorImpl::TensorImpl(std::shared_ptr<Storage> storage_, Shape shape_, Shape strides_,
                       std::int64_t offset_, Dtype dtype_)
    : storage(std::move(storage_)),
      shape(std::move(shape_)),
      strides(std::move(strides_)),
      offset(offset_),
      dtype(dtype_) {
  detail::count_tensor(+1);
}

TensorImpl::~TensorImpl() {
  detail::release_node(grad_fn);  // no recursion when this frees the rest of a long graph
  detail::count_tensor(-1);
}

const TensorImpl& Tensor::checked() const {
  if (!impl_) throw Error("tensor: operation on an undefined tensor");
  return *impl_;
}

const Shape& Tensor::shape() const { return checked().shape; }
const Shape& Tensor::strides() const { return checked().strides; }
std::int64_t Tensor::offset() const { return checked().offset; }
std::int64_t Tensor::dim() const { return static_cast<std::int64_t>(checked().shape.size()); }
std::int64_t Tensor::numel() const { return numel_of(checked().shape); }
Dtype Tensor::dtype() const { return checked().dtype; }

std::int64_t Tensor::size(std::int64_t d) const { return shape()[wrap_dim("size", d, dim())]; }
std::int64_t Tensor::stride(std::int64_t d) const {
  return strides()[wrap_dim("stride", d, dim())];
}

bool Tensor::is_contiguous() const {
  const auto& i = checked();
  std::int64_t expected = 1;
  for (auto d = static_cast<std::int64_t>(i.shape.size()) - 1; d >= 0; --d) {
    if (i.shape[d] == 1) continue;
    if (i.strides[d] != expected) return false;
    expected *= i.shape[d];
  }
  return true;
}

void* Tensor::raw_data() const {
  const auto& i = checked();
  return static_cast<std::byte*>(i.storage->data()) +
         i.offset * static_cast<std::int64_t>(element_size(i.dtype));
}

namespace {
std::int64_t flat_offset(const Tensor& t, std::initializer_list<std::int64_t> index,
                         const char* op) {
  TG_CHECK(static_cast<std::int64_t>(index.size()) == t.dim(), op, ": got ", index.size(),
           " indices for a tensor of ", t.dim(), " dims (shape ", shape_str(t.shape()), ")");
  std::int64_t off = t.offset(), d = 0;
  for (auto v : index) {
    const auto n = t.shape()[d];
    TG_CHECK(v >= -n && v < n, op, ": index ", v, " is out of range for dim ", d, " of size ", n);
    off += (v < 0 ? v + n : v) * t.strides()[d];
    ++d;
  }
  return off;
}

template <typename To>
To read_as(const Tensor& t, std::int64_t off) {
  return dispatch(t.dtype(), [&]<typename T>() {
    return static_cast<To>(static_cast<const T*>(t.impl()->storage->data())[off]);
  });
}
}  // namespace

template <typename T>
T Tensor::item() const {
  TG_CHECK(numel() == 1, "item: expected a tensor with one element, got shape ",
           shape_str(shape()));
  return read_as<T>(*this, offset());
}

template <typename T>
T Tensor::at(std::initializer_list<std::int64_t> index) const {
  return read_as<T>(*this, flat_offset(*this, index, "at"));
}

void Tensor::set(std::initializer_list<std::int64_t> index, double value) {
  const auto off = flat_offset(*this, index, "set");
  check_scalar_fits("set", value, dtype());
  dispatch(dtype(), [&]<typename T>() {
    static_cast<T*>(impl_->storage->data())[off] = static_cast<T>(value);
  });
  impl_->storage->bump_version();
}

template <typename To>
std::vector<To> Tensor::to_vector() const {
  std::vector<To> out(static_cast<std::size_t>(numel()));
  if (out.empty()) return out;
  Tensor dst = empty(shape(), dtype_of<To>());
  dispatch(dtype(), [&]<typename T>() {
    detail::map_kernel<To, T>(dst, {this}, [](T v) { return static_cast<To>(v); });
  });
  std::memcpy(out.data(), dst.raw_data(), out.size() * sizeof(To));
  return out;
}

#define TG_INSTANTIATE(T)             \
  template T Tensor::item<T>() const; \
  template T Tensor::at<T>(std::initializer_list<std::int64_t>) const;
TG_INSTANTIATE(float)
TG_INSTANTIATE(double)
TG_INSTANTIATE(std::int64_t)
TG_INSTANTIATE(std::uint8_t)
TG_INSTANTIATE(int)
TG_INSTANTIATE(bool)
#undef TG_INSTANTIATE
template std::vector<float> Tensor::to_vector<float>() const;
template std::vector<double> Tensor::to_vector<double>() const;
template std::vector<std::int64_t> Tensor::to_vector<std::int64_t>() const;
template std::vector<std::uint8_t> Tensor::to_vector<std::uint8_t>() const;

Tensor Tensor::detach() const {
  const auto& i = checked();
  return Tensor(std::make_shared<TensorImpl>(i.storage, i.shape, i.strides, i.offset, i.dtype));
}

bool Tensor::requires_grad() const {
  detail::refresh_view(*this);
  const auto& i = checked();
  return i.requires_grad || i.grad_fn != nullptr;
}

Tensor& Tensor::requires_grad_(bool on) {
  auto& i = const_cast<TensorImpl&>(checked());
  TG_CHECK(!on || is_floating(i.dtype), "requires_grad_: only floating-point tensors can ",
           "require gradients, got dtype ", i.dtype);
  TG_CHECK(i.grad_fn == nullptr || on, "requires_grad_: cannot turn off gradients of a ",
           "non-leaf tensor (created by ", "an op); use detach() instead");
  if (i.grad_fn == nullptr) i.requires_grad = on;
  return *this;
}

bool Tensor::is_leaf() const { return detail::grad_fn(*this) == nullptr; }
std::shared_ptr<autograd::GradFn> Tensor::grad_fn() const { return detail::grad_fn(*this); }

namespace detail {
const std::shared_ptr<autograd::Node>& grad_fn(const Tensor& t) {
  refresh_view(t);
  if (!t.defined()) throw Error("tensor: operation on an undefined tensor");
  return t.impl()->grad_fn;
}
}  // namespace detail

Tensor Tensor::grad() const {
  const auto& i = checked();
  return i.grad ? Tensor(i.grad) : Tensor();
}

void Tensor::set_grad(const Tensor& g) const {
  auto& i = const_cast<TensorImpl&>(checked());
  if (g.defined())
    TG_CHECK(g.shape() == i.shape && g.dtype() == i.dtype, "set_grad: gradient of shape ",
             shape_str(g.shape()), " (", g.dtype(), ") does not match tensor of shape ",
             shape_str(i.shape), " (", i.dtype, ")");
  i.grad = g.impl_ptr();
}

void Tensor::zero_grad() const { const_cast<TensorImpl&>(checked()).grad.reset(); }

std::uint32_t Tensor::version() const { return checked().storage->version(); }
void Tensor::bump_version() const { checked().storage->bump_version(); }

void Tensor::backward(const Tensor& gradient, bool retain_graph, bool create_graph) const {
  tg::backward({*this}, gradient.defined() ? std::vector<Tensor>{gradient} : std::vector<Tensor>{},
               retain_graph, create_graph);
}

void Tensor::retain_grad() const {
  detail::refresh_view(*this);
  auto& i = const_cast<TensorImpl&>(checked());
  TG_CHECK(requires_grad(), "retain_grad: the tensor does not require grad");
  if (!i.grad_fn) return;  // leaves keep .grad anyway
  auto& node = *i.grad_fn;
  std::lock_guard lock(node.mutex);  // other threads may be running backward through node
  if (i.retains_grad) return;
  i.retains_grad = true;
  node.retained.emplace_back(i.output_nr, impl_);
  node.has_hooks.store(true, std::memory_order_release);
}

int Tensor::register_hook(GradHook hook) const {
  detail::refresh_view(*this);
  auto& i = const_cast<TensorImpl&>(checked());
  TG_CHECK(requires_grad(), "register_hook: cannot register a hook on a tensor that does not ",
           "require grad");
  // Hooks are shared with the snapshot a running backward pass works from, so a hook may add
  // or remove hooks (itself included) while it runs. The two locks are never held together.
  auto fn = std::make_shared<GradHook>(std::move(hook));
  int id = 0;
  {
    std::lock_guard lock(detail::leaf_mutex(&i));
    id = i.next_hook_id++;
    if (!i.grad_fn) {
      i.hooks.emplace_back(id, std::move(fn));
      return id;
    }
  }
  auto& node = *i.grad_fn;
  std::lock_guard lock(node.mutex);
  node.pre_hooks.push_back({i.output_nr, id, std::move(fn)});
  node.has_hooks.store(true, std::memory_order_release);
  return id;
}

int Tensor::register_post_accumulate_grad_hook(PostAccumulateGradHook hook) const {
  auto& i = const_cast<TensorImpl&>(checked());
  TG_CHECK(requires_grad() && !i.grad_fn,
           "register_post_accumulate_grad_hook: only leaf tensors that require grad accumulate "
           "a .grad; got a ",
           i.grad_fn ? "non-leaf tensor" : "tensor that does not require grad");
  std::lock_guard lock(detail::leaf_mutex(&i));
  const int id = i.next_hook_id++;
  i.post_accumulate_hooks.emplace_back(id,
                                       std::make_shared<PostAccumulateGradHook>(std::move(hook)));
  return id;
}

void Tensor::remove_hook(int id) const {
  auto& i = const_cast<TensorImpl&>(checked());
  std::vector<std::shared_ptr<GradHook>> removed;  // destroyed after the locks are released
  {
    std::lock_guard lock(detail::leaf_mutex(&i));
    for (auto& h : i.hooks)
      if (h.first == id) removed.push_back(std::move(h.second));
    std::erase_if(i.hooks, [](const auto& h) { return h.second == nullptr; });
    std::erase_if(i.post_accumulate_hooks, [id](const auto& h) { return h.first == id; });
  }
  if (!i.grad_fn) return;
  std::lock_guard lock(i.grad_fn->mutex);
  for (auto& h : i.grad_fn->pre_hooks)
    if (h.id == id && h.output_nr == i.output_nr) removed.push_back(std::move(h.fn));
  std::erase_if(i.grad_fn->pre_hooks, [](const auto& h) { return h.fn == nullptr; });
}

// ---- factories ----

void check_scalar_fits(std::string_view op, double value, Dtype dtype) {
  bool fits = true;
  switch (dtype) {
    case kFloat64:
      break;
    case kFloat32:
      fits = !std::isfinite(value) || std::abs(value) <= std::numeric_limits<float>::max();
      break;
    // PyTorch's bounds; 2^63 is refused although (double)INT64_MAX rounds to it, since it does
    // not fit. NaN fails every comparison.
    case kInt64:
      fits = value >= -0x1p63 && value < 0x1p63;
      break;
    case kUInt8:
      fits = value >= 0.0 && value <= 255.0;
      break;
    case kBool:  // any value: non-zero (and NaN) is true, as PyTorch converts to bool
      break;
  }
  TG_CHECK(fits, op, ": value ", value, " cannot be converted to type ", dtype,
           " without overflow");
}

Tensor empty(const Shape& shape, Dtype dtype) {
  const auto esize = static_cast<std::int64_t>(element_size(dtype));
  check_shape("empty", shape, esize);
  const std::int64_t n = numel_of(shape);
  auto storage = std::make_shared<Storage>(static_cast<std::size_t>(n * esize));
  return Tensor(
      std::make_shared<TensorImpl>(std::move(storage), shape, contiguous_strides(shape), 0, dtype));
}

namespace {
Tensor full_checked(std::string_view op, const Shape& shape, double value, Dtype dtype) {
  check_scalar_fits(op, value, dtype);
  Tensor t = empty(shape, dtype);
  dispatch(dtype, [&]<typename T>() {
    T* p = t.data_ptr<T>();
    std::fill(p, p + t.numel(), static_cast<T>(value));
  });
  return t;
}
}  // namespace

Tensor full(const Shape& shape, double value, Dtype dtype) {
  return full_checked("full", shape, value, dtype);
}

Tensor zeros(const Shape& shape, Dtype dtype) {
  Tensor t = empty(shape, dtype);
  if (t.nbytes() > 0) std::memset(t.raw_data(), 0, t.nbytes());  // no null pointer to memset
  return t;
}
Tensor ones(const Shape& shape, Dtype dtype) { return full(shape, 1.0, dtype); }
Tensor zeros_like(const Tensor& t) { return zeros(t.shape(), t.dtype()); }
Tensor ones_like(const Tensor& t) { return ones(t.shape(), t.dtype()); }
Tensor full_like(const Tensor& t, double value) {
  return full_checked("full_like", t.shape(), value, t.dtype());
}
Tensor empty_like(const Tensor& t) { return empty(t.shape(), t.dtype()); }
Tensor scalar_tensor(double value, Dtype dtype) {
  return full_checked("scalar_tensor", {}, value, dtype);
}

Tensor arange(double end) { return arange(0.0, end, 1.0); }

Tensor arange(double start, double end, double step) {
  const bool whole =
      start == std::floor(start) && end == std::floor(end) && step == std::floor(step);
  return arange(start, end, step, whole ? kInt64 : kFloat32);
}

Tensor arange(double start, double end, double step, Dtype dtype) {
  TG_CHECK(step != 0.0 && std::isfinite(step) && std::isfinite(start) && std::isfinite(end),
           "arange: invalid range start=", start, " end=", end, " step=", step);
  TG_CHECK((end - start) / step >= 0, "arange: step ", step,
           " has the wrong sign for start=", start, " end=", end);
  const double count = std::ceil((end - start) / step);
  TG_CHECK(count < 0x1p63, "arange: start=", start, " end=", end, " step=", step, " gives ", count,
           " elements, more than an int64 can count");
  const auto n = static_cast<std::int64_t>(count);
  check_shape("arange", {n}, static_cast<std::int64_t>(element_size(dtype)));
  if (n > 0) {  // values run monotonically from the first to the last
    check_scalar_fits("arange", start, dtype);
    check_scalar_fits("arange", start + static_cast<double>(n - 1) * step, dtype);
  }
  Tensor t = empty({n}, dtype);
  dispatch(dtype, [&]<typename T>() {
    T* p = t.data_ptr<T>();
    for (std::int64_t i = 0; i < n; ++i)
      p[i] = static_cast<T>(start + static_cast<double>(i) * step);
  });
  return t;
}

Tensor linspace(double start, double end, std::int64_t steps, Dtype dtype) {
  TG_CHECK(steps >= 0, "linspace: steps must be non-negative, got ", steps);
  if (steps > 0) {  // values run monotonically from start to end
    check_scalar_fits("linspace", start, dtype);
    check_scalar_fits("linspace", end, dtype);
  }
  check_shape("linspace", {steps}, static_cast<std::int64_t>(element_size(dtype)));
  Tensor t = empty({steps}, dtype);
  dispatch(dtype, [&]<typename T>() {
    T* p = t.data_ptr<T>();
    const double delta = steps > 1 ? (end - start) / static_cast<double>(steps - 1) : 0.0;
    for (std::int64_t i = 0; i < steps; ++i)
      p[i] = static_cast<T>(i == steps - 1 ? end : start + static_cast<double>(i) * delta);
  });
  return t;
}

Tensor eye(std::int64_t n, Dtype dtype) { return eye(n, n, dtype); }

Tensor eye(std::int64_t n, std::int64_t m, Dtype dtype) {
  Tensor t = zeros({n, m}, dtype);
  dispatch(dtype, [&]<typename T>() {
    T* p = t.data_ptr<T>();
    for (std::int64_t i = 0; i < std::min(n, m); ++i) p[i * m + i] = T(1);
  });
  return t;
}

Tensor from_blob(const void* data, const Shape& shape, Dtype dtype) {
  Tensor t = empty(shape, dtype);
  if (t.nbytes() > 0) {
    TG_CHECK(data != nullptr, "from_blob: null data pointer for shape ", shape_str(shape));
    std::memcpy(t.raw_data(), data, t.nbytes());
  }
  return t;
}

Tensor tensor(std::initializer_list<float> values) {
  return from_vector(std::vector<float>(values));
}

Tensor tensor(std::initializer_list<double> values, Dtype dtype) {
  for (double v : values) check_scalar_fits("tensor", v, dtype);
  Tensor t = empty({static_cast<std::int64_t>(values.size())}, dtype);
  dispatch(dtype, [&]<typename T>() {
    T* p = t.data_ptr<T>();
    for (double v : values) *p++ = static_cast<T>(v);
  });
  return t;
}

Tensor tensor(std::initializer_list<std::initializer_list<float>> rows) {
  const auto r = static_cast<std::int64_t>(rows.size());
  const auto c = r ? static_cast<std::int64_t>(rows.begin()->size()) : 0;
  std::vector<float> flat;
  for (const auto& row : rows) {
    TG_CHECK(static_cast<std::int64_t>(row.size()) == c, "tensor: ragged rows (", row.size(),
             " vs ", c, " values)");
    flat.insert(flat.end(), row.begin(), row.end());
  }
  return from_vector(flat, {r, c});
}

Tensor rand(const Shape& shape, Dtype dtype) {
  Tensor t = empty(shape, dtype);
  auto& gen = default_generator();
  dispatch_floating(dtype, "rand", [&]<typename T>() {
    T* p = t.data_ptr<T>();
    for (std::int64_t i = 0; i < t.numel(); ++i) p[i] = static_cast<T>(gen.uniform());
  });
  return t;
}

Tensor randn(const Shape& shape, Dtype dtype) {
  Tensor t = empty(shape, dtype);
  auto& gen = default_generator();
  dispatch_floating(dtype, "randn", [&]<typename T>() {
    T* p = t.data_ptr<T>();
    for (std::int64_t i = 0; i < t.numel(); ++i) p[i] = static_cast<T>(gen.normal());
  });
  return t;
}

Tensor randint(std::int64_t low, std::int64_t high, const Shape& shape, Dtype dtype) {
  TG_CHECK(low < high, "randint: low (", low, ") must be less than high (", high, ")");
  Tensor t = empty(shape, dtype);
  auto& gen = default_generator();
  dispatch(dtype, [&]<typename T>() {
    T* p = t.data_ptr<T>();
    for (std::int64_t i = 0; i < t.numel(); ++i) p[i] = static_cast<T>(gen.randint(low, high));
  });
  return t;
}

// ---- comparison ----

bool allclose(const Tensor& a, const Tensor& b, double rtol, double atol) {
  if (a.shape() != b.shape()) return false;
  const auto va = a.to_vector<double>(), vb = b.to_vector<double>();
  for (std::size_t i = 0; i < va.size(); ++i) {
    if (std::isnan(va[i]) || std::isnan(vb[i])) return false;
    if (va[i] == vb[i]) continue;  // equal infinities
    if (!(std::abs(va[i] - vb[i]) <= atol + rtol * std::abs(vb[i]))) return false;
  }
  return true;
}

Dtype result_type(const Tensor& a, const Tensor& b) {
  const bool a0 = a.dim() == 0, b0 = b.dim() == 0;
  if (a0 == b0) return promote_types(a.dtype(), b.dtype());
  const Dtype dims = a0 ? b.dtype() : a.dtype(), zero = a0 ? a.dtype() : b.dtype();
  return dtype_category(zero) > dtype_category(dims) ? promote_types(dims, zero) : dims;
}

Dtype result_type(const Tensor& t, double scalar) {
  const Dtype d = t.dtype();
  if (is_floating(d)) return d;
  if (!std::isfinite(scalar) || scalar != std::floor(scalar)) return kFloat32;
  return d == kBool ? kInt64 : d;
}

bool equal(const Tensor& a, const Tensor& b) {
  if (a.shape() != b.shape() || a.dtype() != b.dtype()) return false;
  const Tensor ca = a.contiguous(), cb = b.contiguous();
  return ca.nbytes() == 0 || std::memcmp(ca.raw_data(), cb.raw_data(), ca.nbytes()) == 0;
}

}  // namespace tg
