#pragma once
// Reductions over all dims or a list of dims (negative dims count from the end; an empty list
// means every dim), with keepdim keeping reduced dims as size 1.
#include <cstdint>
#include <limits>

#include "tapegrad/core/tensor.h"

namespace tg {

Tensor sum(const Tensor& x);
Tensor sum(const Tensor& x, const Shape& dims, bool keepdim = false);
Tensor mean(const Tensor& x);
Tensor mean(const Tensor& x, const Shape& dims, bool keepdim = false);
// Sums x over its broadcast dims so the result has `shape` (the adjoint of expand).
Tensor sum_to(const Tensor& x, const Shape& shape);

// Product; integers multiply to int64. Correct gradients also where x has zeros. Deliberate
// difference: a block without zeros gets y / x (NaN at NaN or inf entries, as PyTorch gives
// when x has no zero at all); PyTorch switches every block to products of the others as soon
// as any element of x is zero.
Tensor prod(const Tensor& x);
Tensor prod(const Tensor& x, const Shape& dims, bool keepdim = false);

// Largest / smallest value over all elements, or over dims. NaN propagates. Ties share the
// gradient evenly (like torch.amax). An empty reduction is an error. As in PyTorch, max()/min()
// over everything send the gradient of a NaN result to the NaN elements, while amax/amin give a
// NaN block a NaN gradient.
Tensor max(const Tensor& x);
Tensor min(const Tensor& x);
Tensor amax(const Tensor& x, const Shape& dims, bool keepdim = false);
Tensor amin(const Tensor& x, const Shape& dims, bool keepdim = false);

// Along one dim: the values and the int64 index of the first extreme (ValuesIndices, in
// core/tensor.h); the gradient flows to that index only.
ValuesIndices max(const Tensor& x, std::int64_t dim, bool keepdim = false);
ValuesIndices min(const Tensor& x, std::int64_t dim, bool keepdim = false);

// Not differentiable: int64 index of the first extreme, over the flattened tensor or along dim.
Tensor argmax(const Tensor& x);
Tensor argmin(const Tensor& x);
Tensor argmax(const Tensor& x, std::int64_t dim, bool keepdim = false);
Tensor argmin(const Tensor& x, std::int64_t dim, bool keepdim = false);

// Variance and standard deviation: sum((x - mean)^2) / (N - correction). correction = 1 is the
// unbiased estimate, 0 the population one; N <= correction gives NaN or inf, like PyTorch.
// std's gradient is 0 where std is 0 (all values equal), like PyTorch.
Tensor var(const Tensor& x, const Shape& dims = {}, double correction = 1.0, bool keepdim = false);
// Spelled tg::std where `using namespace tg` is in effect (plain std names the namespace).
Tensor std(const Tensor& x, const Shape& dims = {}, double correction = 1.0, bool keepdim = false);
// Catches var(x, dims, /*keepdim=*/true): the third argument is the correction.
Tensor var(const Tensor& x, const Shape& dims, bool correction_not_keepdim) = delete;
Tensor std(const Tensor& x, const Shape& dims, bool correction_not_keepdim) = delete;

// log(sum(exp(x))) computed stably (finite for logits of any magnitude); empty gives -inf.
Tensor logsumexp(const Tensor& x, const Shape& dims = {}, bool keepdim = false);

inline constexpr double kInf = std::numeric_limits<double>::infinity();
// The p-norm (sum |x|^p)^(1/p) for p > 0; p = kInf is max |x|, -kInf min |x|, 0 the number of
// non-zeros (gradient 0). The gradient at an all-zero block, and for p < 1 at each zero, is 0
// (a subgradient), like PyTorch. Negative finite p is refused (PyTorch's vector_norm allows it).
Tensor norm(const Tensor& x, double p = 2.0, const Shape& dims = {}, bool keepdim = false);

// Running sum along dim; integers sum to int64.
Tensor cumsum(const Tensor& x, std::int64_t dim);

}  // namespace tg
