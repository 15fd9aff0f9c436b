// linear and dropout. (softmax, the losses and batch_norm live in softmax.cpp, cross_entropy.cpp,
// loss.cpp and batch_norm.cpp.)
#include "tapegrad/ops/nn_functional.h"

#include <cmath>

#include "tapegrad/core/autograd.h"
#include "tapegrad/core/random.h"
#include "tapegrad/core/threading.h"
#include "tapegrad/ops/elementwise.h"
#include "tapegrad/ops/kernels/gemm.h"
#include "tapegrad/ops/linalg.h"
#include "tapegrad/ops/reduction.h"

namespace tg::nn::functional {

using autograd::record;
using autograd::Saved;

Tensor linear(const Tensor& input, const Tensor& weight, const Tensor& bias) {
  const autograd::OpScope scope("linear", {input, weight, bias});
  TG_CHECK(input.defined() && weight.defined(), "linear: input and weight must be defined");
  TG_CHECK(weight.dim() == 2, "linear: weight must be [out_features, in_features], got shape ",
           shape_str(weight.shape()));
  TG_CHECK(input.dim() >= 1, "linear: input must have at least 1 dim, got a 0-dim tensor");
  const std::int64_t out_f = weight.size(0), in_f = weight.size(1);
  TG_CHECK(input.size(-1) == in_f, "linear: input of shape ", shape_str(input.shape()),
           " does not match weight of shape ", shape_str(weight.shape()), " (", input.size(-1),
           " != ", in_f, ")");
  TG_CHECK(input.is_floating_point(), "linear: expected a floating-point input, got ",
           input.dtype());
  TG_CHECK(weight.dtype() == input.dtype(), "linear: weight dtype ", weight.dtype(),
           " differs from input dtype ", input.dtype());
  if (bias.defined()) {
    TG_CHECK(bias.dim() == 1 && bias.size(0) == out_f, "linear: bias must have shape [", out_f,
             "], got ", shape_str(bias.shape()));
    TG_CHECK(bias.dtype() == input.dtype(), "linear: bias dtype ", bias.dtype(),
             " differs from input dtype ", input.dtype());
  }
  const std::int64_t rows = in_f == 0
                                ? numel_of(Shape(input.shape().begin(), input.shape().end() - 1))
                                : input.numel() / in_f;
  Shape out_shape = input.shape();
  out_shape.back() = out_f;
  Tensor y = empty(out_shape, input.dtype());
  {
    NoGradGuard guard;
    Tensor y2 = y.view({rows, out_f});
    // The bias is copied into every output row first, then the GEMM adds x @ W^T onto it
    // (beta = 1); W^T is a transposed view that BLAS reads through a transpose flag.
    if (bias.defined()) y2.copy_(bias.detach());
    kernels::gemm(input.detach().reshape({rows, in_f}), weight.detach().t(), y2, 1.0,
                  bias.defined() ? 1.0 : 0.0);
  }
  return record("linear", {input, weight, bias}, y, {input, weight},
                [rows, in_f, out_f](const Tensor& g, const Saved& s) {
                  const Tensor g2 = g.reshape({rows, out_f});
                  return grads{
                      s.needs_grad(0) ? matmul(g, s[1]) : Tensor(),
                      s.needs_grad(1) ? matmul(g2.t(), s[0].reshape({rows, in_f})) : Tensor(),
                      s.needs_grad(2) ? sum(g2, {0}) : Tensor()};
                });
}

Tensor dropout(const Tensor& x, double p, bool training) {
  TG_CHECK(x.defined(), "dropout: input is undefined");
  TG_CHECK(p >= 0.0 && p <= 1.0, "dropout: probability must be in [0, 1], got ", p);
  if (!training || p == 0.0) return x;
  TG_CHECK(x.is_floating_point(), "dropout: expected a floating-point tensor, got ", x.dtype());
  // The mask holds 0 or 1/(1-p). One 64-bit key is drawn from the global generator per call and
  // each element's coin is a hash of (key, index): a counter-based stream, so the mask can be
  // filled in parallel and is still the same for a seed whatever the thread count. The hash
  // works in 32-bit lanes (two rounds of murmur3's finalizer, the index's high half mixed in
  // between) so the loop vectorizes. p == 1 drops everything.
  const double scale = p < 1.0 ? 1.0 / (1.0 - p) : 0.0;
  const std::uint64_t key = default_generator().engine()();
  const auto key_lo = static_cast<std::uint32_t>(key),
             key_hi = static_cast<std::uint32_t>(key >> 32);
  // Keep an element when its 24-bit uniform draw u satisfies u >= p * 2^24.
  const auto threshold = static_cast<std::uint32_t>(std::ceil(p * 16777216.0));
  const Tensor xc = x.detach().contiguous();
  Tensor mask = empty(x.shape(), x.dtype());
  Tensor y = empty(x.shape(), x.dtype());
  dispatch_floating(x.dtype(), "dropout", [&]<typename T>() {
    T* m = mask.data_ptr<T>();
    T* out = y.data_ptr<T>();
    const T* in = xc.data_ptr<T>();
    const T keep = static_cast<T>(scale);
    tg::detail::parallel_for(
        x.numel(), tg::detail::kElementwiseGrain, [=](std::int64_t b, std::int64_t e) {
          // Locals and a branch-free select: what the vectorizer needs.
          T* __restrict mp = m;
          T* __restrict op = out;
          const T* __restrict ip = in;
          for (std::int64_t i = b; i < e; ++i) {
            const auto lo = static_cast<std::uint32_t>(i), hi = static_cast<std::uint32_t>(i >> 32);
            std::uint32_t h = lo * 0x9E3779B9u + key_lo;
            h = (h ^ (h >> 16)) * 0x85EBCA6Bu;
            h = (h ^ (h >> 13)) * 0xC2B2AE35u;
            h ^= h >> 16;
            h += key_hi ^ hi;
            h = (h ^ (h >> 16)) * 0x85EBCA6Bu;
            h = (h ^ (h >> 13)) * 0xC2B2AE35u;
            h ^= h >> 16;
            const T mv = static_cast<T>((h >> 8) >= threshold) * keep;
            mp[i] = mv;
            op[i] = ip[i] * mv;
          }
        });
  });
  return record("dropout", {x}, y, {mask},
                [](const Tensor& g, const Saved& s) { return grads{g * s[0]}; });
}

}  // namespace tg::nn::functional

namespace tg::nn::functional {

Tensor dropout2d(const Tensor& x, double p, bool training) {
  TG_CHECK(x.defined(), "dropout2d: input is undefined");
  TG_CHECK(p >= 0.0 && p <= 1.0, "dropout2d: probability must be in [0, 1], got ", p);
  TG_CHECK(x.dim() == 3 || x.dim() == 4,
           "dropout2d: expected a 3-D [C, H, W] or 4-D [N, C, H, W] input, got ",
           shape_str(x.shape()));
  if (!training || p == 0.0) return x;
  TG_CHECK(x.is_floating_point(), "dropout2d: expected a floating-point tensor, got ", x.dtype());
  // One draw per channel from the global generator, in channel order (so the mask does not
  // depend on the thread count); the product with x is an ordinary recorded mul.
  Shape mshape = x.shape();
  for (std::size_t d = mshape.size() - 2; d < mshape.size(); ++d) mshape[d] = 1;
  const std::int64_t channels = numel_of(mshape);
  const double scale = p < 1.0 ? 1.0 / (1.0 - p) : 0.0;
  std::vector<double> keep(static_cast<std::size_t>(channels));
  Generator& gen = default_generator();
  for (auto& k : keep) k = gen.uniform() >= p ? scale : 0.0;
  return x * from_vector(keep, mshape).to(x.dtype());
}

}  // namespace tg::nn::functional
