// The GEMM-only lower bound of an epoch: only the matrix products a training step cannot avoid
// (forward X W^T, weight gradients, input gradients except for the input layer), on the same
// OpenBLAS, with nothing else.
#include <cblas.h>

#include <chrono>

#include "gemm_bound.h"

double gemm_bound_epoch(const NetSpec& spec, std::int64_t n) {
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
