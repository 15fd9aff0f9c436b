// The GEMM-only lower bound of an epoch (for the CNN: its convolutions as im2col GEMMs): only the
// matrix products a training step cannot avoid (forward X W^T, weight gradients, input gradients
// except for the input layer), on the same OpenBLAS, with nothing else.
#include <cblas.h>

#include <chrono>

#include "gemm_bound.h"

namespace {
// One product layer as im2col + GEMM: Y[m, n] = W[m, k] X[k, n] with m output channels,
// k = in_channels * kh * kw and n = batch * output pixels (a linear layer: k inputs, n = batch).
struct Product {
  int m, k, n;
  bool input_grad;  // the first layer's input needs no gradient
};

double cnn_bound_epoch(const NetSpec& spec, std::int64_t samples) {
  const int b = spec.batch;
  const std::vector<Product> layers{{32, 9, b * 784, false},
                                    {64, 32 * 9, b * 196, true},
                                    {128, 3136, b, true},
                                    {10, 128, b, true}};
  std::vector<std::vector<float>> w, x, y, dw, dx, dy;
  for (const auto& l : layers) {
    w.emplace_back(static_cast<std::size_t>(l.m) * l.k, 0.01f);
    dw.emplace_back(w.back().size(), 0.0f);
    x.emplace_back(static_cast<std::size_t>(l.k) * l.n, 0.01f);
    dx.emplace_back(x.back().size(), 0.0f);
    y.emplace_back(static_cast<std::size_t>(l.m) * l.n, 0.0f);
    dy.emplace_back(y.back().size(), 0.01f);
  }
  const std::int64_t batches = samples / b;
  const auto start = std::chrono::steady_clock::now();
  for (std::int64_t s = 0; s < batches; ++s) {
    for (std::size_t i = 0; i < layers.size(); ++i) {  // forward: Y = W X
      const auto& l = layers[i];
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, l.m, l.n, l.k, 1.0f, w[i].data(), l.k,
                  x[i].data(), l.n, 0.0f, y[i].data(), l.n);
    }
    for (std::size_t i = layers.size(); i-- > 0;) {
      const auto& l = layers[i];
      // dW = dY X^T
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, l.m, l.k, l.n, 1.0f, dy[i].data(), l.n,
                  x[i].data(), l.n, 0.0f, dw[i].data(), l.k);
      if (l.input_grad)  // dX = W^T dY
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, l.k, l.n, l.m, 1.0f, w[i].data(), l.k,
                    dy[i].data(), l.n, 0.0f, dx[i].data(), l.n);
    }
  }
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}
}  // namespace

double gemm_bound_epoch(const NetSpec& spec, std::int64_t n) {
  if (spec.cnn) return cnn_bound_epoch(spec, n);
  std::vector<int> widths{784};
  widths.insert(widths.end(), spec.hidden.begin(), spec.hidden.end());
  widths.push_back(10);
  const int batch = spec.batch;
  std::vector<std::vector<float>> acts, weights, grads;
  for (std::size_t l = 0; l < widths.size(); ++l)
    acts.emplace_back(static_cast<std::size_t>(batch) * widths[l], 0.01f);
  for (std::size_t l = 0; l + 1 < widths.size(); ++l) {
    weights.emplace_back(static_cast<std::size_t>(widths[l]) * widths[l + 1], 0.01f);
    grads.emplace_back(weights.back().size(), 0.0f);
  }
  std::vector<std::vector<float>> dacts = acts;
  const std::int64_t batches = n / batch;
  const auto start = std::chrono::steady_clock::now();
  for (std::int64_t b = 0; b < batches; ++b) {
    for (std::size_t l = 0; l + 1 < widths.size(); ++l)  // forward: A[l+1] = A[l] W^T
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, batch, widths[l + 1], widths[l], 1.0f,
                  acts[l].data(), widths[l], weights[l].data(), widths[l], 0.0f, acts[l + 1].data(),
                  widths[l + 1]);
    for (std::size_t l = widths.size() - 1; l >= 1; --l) {
      // dW = dA[l]^T A[l-1]
      cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, widths[l], widths[l - 1], batch, 1.0f,
                  dacts[l].data(), widths[l], acts[l - 1].data(), widths[l - 1], 0.0f,
                  grads[l - 1].data(), widths[l - 1]);
      if (l >= 2)  // dA[l-1] = dA[l] W; none for the input layer
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, batch, widths[l - 1], widths[l],
                    1.0f, dacts[l].data(), widths[l], weights[l - 1].data(), widths[l - 1], 0.0f,
                    dacts[l - 1].data(), widths[l - 1]);
    }
  }
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}
