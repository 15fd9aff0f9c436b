// The Tensor methods declared in core/tensor.h that are ops: each forwards to its free function,
// where the op's forward and backward live.
#include "tapegrad/ops/comparison.h"
#include "tapegrad/ops/elementwise.h"
#include "tapegrad/ops/indexing.h"
#include "tapegrad/ops/linalg.h"
#include "tapegrad/ops/nn_functional.h"
#include "tapegrad/ops/reduction.h"
#include "tapegrad/ops/shape.h"

namespace tg {

// ---- views and conversions ----
Tensor Tensor::reshape(const Shape& s) const { return tg::reshape(*this, s); }
Tensor Tensor::view(const Shape& s) const { return tg::view(*this, s); }
Tensor Tensor::flatten(std::int64_t a, std::int64_t b) const { return tg::flatten(*this, a, b); }
Tensor Tensor::squeeze() const { return tg::squeeze(*this); }
Tensor Tensor::squeeze(std::int64_t d) const { return tg::squeeze(*this, d); }
Tensor Tensor::unsqueeze(std::int64_t d) const { return tg::unsqueeze(*this, d); }
Tensor Tensor::transpose(std::int64_t a, std::int64_t b) const {
  return tg::transpose(*this, a, b);
}
Tensor Tensor::permute(const Shape& dims) const { return tg::permute(*this, dims); }
Tensor Tensor::t() const { return tg::t(*this); }
Tensor Tensor::expand(const Shape& s) const { return tg::expand(*this, s); }
Tensor Tensor::slice(std::int64_t d, std::int64_t s, std::int64_t e, std::int64_t st) const {
  return tg::slice(*this, d, s, e, st);
}
Tensor Tensor::narrow(std::int64_t d, std::int64_t s, std::int64_t n) const {
  return tg::narrow(*this, d, s, n);
}
Tensor Tensor::select(std::int64_t d, std::int64_t i) const { return tg::select(*this, d, i); }
Tensor Tensor::to(Dtype d) const { return tg::to_dtype(*this, d); }
Tensor Tensor::clone() const { return tg::clone(*this); }
Tensor Tensor::contiguous() const { return tg::contiguous(*this); }

// ---- unary math and activations ----
Tensor Tensor::abs() const { return tg::abs(*this); }
Tensor Tensor::neg() const { return tg::neg(*this); }
Tensor Tensor::exp() const { return tg::exp(*this); }
Tensor Tensor::expm1() const { return tg::expm1(*this); }
Tensor Tensor::log() const { return tg::log(*this); }
Tensor Tensor::log1p() const { return tg::log1p(*this); }
Tensor Tensor::sqrt() const { return tg::sqrt(*this); }
Tensor Tensor::rsqrt() const { return tg::rsqrt(*this); }
Tensor Tensor::square() const { return tg::square(*this); }
Tensor Tensor::reciprocal() const { return tg::reciprocal(*this); }
Tensor Tensor::sin() const { return tg::sin(*this); }
Tensor Tensor::cos() const { return tg::cos(*this); }
Tensor Tensor::erf() const { return tg::erf(*this); }
Tensor Tensor::tanh() const { return tg::tanh(*this); }
Tensor Tensor::sigmoid() const { return tg::sigmoid(*this); }
Tensor Tensor::relu() const { return tg::relu(*this); }
Tensor Tensor::sign() const { return tg::sign(*this); }
Tensor Tensor::round() const { return tg::round(*this); }
Tensor Tensor::floor() const { return tg::floor(*this); }
Tensor Tensor::ceil() const { return tg::ceil(*this); }
Tensor Tensor::softmax(std::int64_t dim) const { return tg::softmax(*this, dim); }
Tensor Tensor::log_softmax(std::int64_t dim) const { return tg::log_softmax(*this, dim); }

// ---- binary ----
Tensor Tensor::add(const Tensor& o, double alpha) const { return tg::add(*this, o, alpha); }
Tensor Tensor::add(double o) const { return *this + o; }
Tensor Tensor::sub(const Tensor& o, double alpha) const { return tg::sub(*this, o, alpha); }
Tensor Tensor::sub(double o) const { return *this - o; }
Tensor Tensor::mul(const Tensor& o) const { return tg::mul(*this, o); }
Tensor Tensor::mul(double o) const { return *this * o; }
Tensor Tensor::div(const Tensor& o) const { return tg::div(*this, o); }
Tensor Tensor::div(double o) const { return *this / o; }
Tensor Tensor::pow(double e) const { return tg::pow(*this, e); }
Tensor Tensor::pow(const Tensor& e) const { return tg::pow(*this, e); }
Tensor Tensor::maximum(const Tensor& o) const { return tg::maximum(*this, o); }
Tensor Tensor::minimum(const Tensor& o) const { return tg::minimum(*this, o); }
Tensor Tensor::clamp(std::optional<double> lo, std::optional<double> hi) const {
  return tg::clamp(*this, lo, hi);
}
Tensor Tensor::clamp_min(double lo) const { return tg::clamp(*this, lo, std::nullopt); }
Tensor Tensor::clamp_max(double hi) const { return tg::clamp(*this, std::nullopt, hi); }
Tensor Tensor::where(const Tensor& c, const Tensor& o) const { return tg::where(c, *this, o); }
Tensor Tensor::where(const Tensor& c, double o) const { return tg::where(c, *this, o); }

// ---- comparisons and logical ----
Tensor Tensor::eq(const Tensor& o) const { return tg::eq(*this, o); }
Tensor Tensor::ne(const Tensor& o) const { return tg::ne(*this, o); }
Tensor Tensor::lt(const Tensor& o) const { return tg::lt(*this, o); }
Tensor Tensor::le(const Tensor& o) const { return tg::le(*this, o); }
Tensor Tensor::gt(const Tensor& o) const { return tg::gt(*this, o); }
Tensor Tensor::ge(const Tensor& o) const { return tg::ge(*this, o); }
Tensor Tensor::eq(double o) const { return tg::eq(*this, o); }
Tensor Tensor::ne(double o) const { return tg::ne(*this, o); }
Tensor Tensor::lt(double o) const { return tg::lt(*this, o); }
Tensor Tensor::le(double o) const { return tg::le(*this, o); }
Tensor Tensor::gt(double o) const { return tg::gt(*this, o); }
Tensor Tensor::ge(double o) const { return tg::ge(*this, o); }
Tensor Tensor::logical_and(const Tensor& o) const { return tg::logical_and(*this, o); }
Tensor Tensor::logical_or(const Tensor& o) const { return tg::logical_or(*this, o); }
Tensor Tensor::logical_xor(const Tensor& o) const { return tg::logical_xor(*this, o); }
Tensor Tensor::logical_not() const { return tg::logical_not(*this); }
Tensor Tensor::all() const { return tg::all(*this); }
Tensor Tensor::all(std::int64_t d, bool k) const { return tg::all(*this, d, k); }
Tensor Tensor::any() const { return tg::any(*this); }
Tensor Tensor::any(std::int64_t d, bool k) const { return tg::any(*this, d, k); }

// ---- reductions ----
Tensor Tensor::sum() const { return tg::sum(*this); }
Tensor Tensor::sum(const Shape& dims, bool keepdim) const { return tg::sum(*this, dims, keepdim); }
Tensor Tensor::mean() const { return tg::mean(*this); }
Tensor Tensor::mean(const Shape& dims, bool keepdim) const {
  return tg::mean(*this, dims, keepdim);
}
Tensor Tensor::prod() const { return tg::prod(*this); }
Tensor Tensor::prod(std::int64_t d, bool k) const { return tg::prod(*this, Shape{d}, k); }
Tensor Tensor::amax(const Shape& dims, bool k) const { return tg::amax(*this, dims, k); }
Tensor Tensor::amin(const Shape& dims, bool k) const { return tg::amin(*this, dims, k); }
Tensor Tensor::max() const { return tg::max(*this); }
Tensor Tensor::min() const { return tg::min(*this); }
ValuesIndices Tensor::max(std::int64_t d, bool k) const { return tg::max(*this, d, k); }
ValuesIndices Tensor::min(std::int64_t d, bool k) const { return tg::min(*this, d, k); }
Tensor Tensor::argmax() const { return tg::argmax(*this); }
Tensor Tensor::argmax(std::int64_t d, bool k) const { return tg::argmax(*this, d, k); }
Tensor Tensor::argmin() const { return tg::argmin(*this); }
Tensor Tensor::argmin(std::int64_t d, bool k) const { return tg::argmin(*this, d, k); }
Tensor Tensor::var(const Shape& dims, double c, bool k) const { return tg::var(*this, dims, c, k); }
Tensor Tensor::std(const Shape& dims, double c, bool k) const { return tg::std(*this, dims, c, k); }
Tensor Tensor::logsumexp(const Shape& dims, bool k) const { return tg::logsumexp(*this, dims, k); }
Tensor Tensor::norm(double p, const Shape& dims, bool k) const {
  return tg::norm(*this, p, dims, k);
}
Tensor Tensor::cumsum(std::int64_t d) const { return tg::cumsum(*this, d); }
Tensor Tensor::sum_to(const Shape& s) const { return tg::sum_to(*this, s); }

// ---- products ----
Tensor Tensor::matmul(const Tensor& o) const { return tg::matmul(*this, o); }
Tensor Tensor::mm(const Tensor& o) const { return tg::mm(*this, o); }
Tensor Tensor::bmm(const Tensor& o) const { return tg::bmm(*this, o); }
Tensor Tensor::dot(const Tensor& o) const { return tg::dot(*this, o); }
Tensor Tensor::outer(const Tensor& o) const { return tg::outer(*this, o); }

// ---- shapes and indexing ----
Tensor Tensor::repeat(const Shape& r) const { return tg::repeat(*this, r); }
Tensor Tensor::tile(const Shape& r) const { return tg::tile(*this, r); }
std::vector<Tensor> Tensor::split(std::int64_t size, std::int64_t d) const {
  return tg::split(*this, size, d);
}
std::vector<Tensor> Tensor::split_with_sizes(const Shape& sizes, std::int64_t d) const {
  return tg::split_with_sizes(*this, sizes, d);
}
std::vector<Tensor> Tensor::chunk(std::int64_t n, std::int64_t d) const {
  return tg::chunk(*this, n, d);
}
Tensor Tensor::index_select(std::int64_t d, const Tensor& i) const {
  return tg::index_select(*this, d, i);
}
Tensor Tensor::gather(std::int64_t d, const Tensor& i) const { return tg::gather(*this, d, i); }
Tensor Tensor::scatter_add(std::int64_t d, const Tensor& i, const Tensor& src) const {
  return tg::scatter_add(*this, d, i, src);
}
Tensor Tensor::masked_fill(const Tensor& m, double v) const { return tg::masked_fill(*this, m, v); }

}  // namespace tg
