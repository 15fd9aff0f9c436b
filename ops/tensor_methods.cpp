// The Tensor methods declared in core/tensor.h that are ops: each forwards to its free function.
#include "tapegrad/ops/elementwise.h"
#include "tapegrad/ops/linalg.h"
#include "tapegrad/ops/reduction.h"
#include "tapegrad/ops/shape.h"

namespace tg {

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

Tensor Tensor::sum() const { return tg::sum(*this); }
Tensor Tensor::sum(const Shape& dims, bool keepdim) const { return tg::sum(*this, dims, keepdim); }
Tensor Tensor::mean() const { return tg::mean(*this); }
Tensor Tensor::mean(const Shape& dims, bool keepdim) const {
  return tg::mean(*this, dims, keepdim);
}
Tensor Tensor::sum_to(const Shape& s) const { return tg::sum_to(*this, s); }
Tensor Tensor::exp() const { return tg::exp(*this); }
Tensor Tensor::log() const { return tg::log(*this); }
Tensor Tensor::tanh() const { return tg::tanh(*this); }
Tensor Tensor::sigmoid() const { return tg::sigmoid(*this); }
Tensor Tensor::relu() const { return tg::relu(*this); }
Tensor Tensor::pow(double e) const { return tg::pow(*this, e); }
Tensor Tensor::matmul(const Tensor& o) const { return tg::matmul(*this, o); }

}  // namespace tg
