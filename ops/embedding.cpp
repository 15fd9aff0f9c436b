// embedding: a row gather whose backward adds rows back (embedding_backward), each recorded so
// that it differentiates again: the backward of embedding_backward is the gather of the grad's
// rows, with the padding positions zeroed (they never received a gradient).
#include <algorithm>
#include <cstring>

#include "tapegrad/core/autograd.h"
#include "tapegrad/core/threading.h"
#include "tapegrad/ops/sequence.h"

namespace tg::nn::functional {

using autograd::record;
using autograd::Saved;

namespace {

constexpr std::int64_t kNoPadding = -1;

// out[p, :] = w[idx[p], :], or zeros where idx[p] == pad (when zero_pad).
Tensor gather_rows(const Tensor& w, const Tensor& idx, std::int64_t pad, bool zero_pad);

// out = zeros([num, D]); out[idx[p], :] += g[p, :] except where idx[p] == pad. Columns are split
// over threads and each task walks the indices in order: a row's sum never depends on the thread
// count, and no two tasks write the same element.
Tensor scatter_rows(const Tensor& g, const Tensor& idx, std::int64_t num, std::int64_t pad) {
  const std::int64_t D = g.size(-1);
  const std::int64_t n = idx.numel();
  Tensor out = zeros({num, D}, g.dtype());
  const Tensor gc = g.detach().contiguous();
  const std::int64_t* ip = idx.data_ptr<std::int64_t>();
  dispatch_floating(g.dtype(), "embedding_backward", [&]<typename T>() {
    const T* gp = gc.data_ptr<T>();
    T* op = out.data_ptr<T>();
    const std::int64_t grain =
        std::max<std::int64_t>(16, detail::kElementwiseGrain / std::max<std::int64_t>(n, 1));
    detail::parallel_for(D, grain, [&](std::int64_t c0, std::int64_t c1) {
      for (std::int64_t p = 0; p < n; ++p) {
        if (ip[p] == pad) continue;
        T* dst = op + ip[p] * D;
        const T* src = gp + p * D;
        for (std::int64_t c = c0; c < c1; ++c) dst[c] += src[c];
      }
    });
  });
  return record("embedding_backward", {g}, out, {idx}, [pad](const Tensor& gg, const Saved& s) {
    const Tensor i = s[0];
    return grads{gather_rows(gg, i, pad, true).reshape({i.numel(), gg.size(-1)})};
  });
}

Tensor gather_rows(const Tensor& w, const Tensor& idx, std::int64_t pad, bool zero_pad) {
  const std::int64_t D = w.size(1), num = w.size(0);
  Shape shape = idx.shape();
  shape.push_back(D);
  Tensor out = empty(shape, w.dtype());
  const Tensor wc = w.detach().contiguous();
  const std::int64_t* ip = idx.data_ptr<std::int64_t>();
  const std::int64_t n = idx.numel();
  const std::size_t row_bytes = static_cast<std::size_t>(D) * element_size(w.dtype());
  auto* op = static_cast<char*>(out.raw_data());
  const auto* wp = static_cast<const char*>(wc.raw_data());
  const std::int64_t grain =
      std::max<std::int64_t>(1, detail::kElementwiseGrain / std::max<std::int64_t>(D, 1));
  detail::parallel_for(n, grain, [&](std::int64_t b, std::int64_t e) {
    for (std::int64_t p = b; p < e; ++p) {
      char* dst = op + static_cast<std::size_t>(p) * row_bytes;
      if (zero_pad && ip[p] == pad)
        std::memset(dst, 0, row_bytes);
      else if (row_bytes > 0)
        std::memcpy(dst, wp + static_cast<std::size_t>(ip[p]) * row_bytes, row_bytes);
    }
  });
  return record("embedding", {w}, out, {idx}, [pad, num](const Tensor& g, const Saved& s) {
    const Tensor i = s[0];
    return grads{scatter_rows(g.reshape({i.numel(), g.size(-1)}), i, num, pad)};
  });
}

}  // namespace

Tensor embedding(const Tensor& weight, const Tensor& indices,
                 std::optional<std::int64_t> padding_idx) {
  TG_CHECK(weight.defined() && indices.defined(), "embedding: weight or indices is undefined");
  TG_CHECK(weight.dim() == 2, "embedding: weight must be 2-D [num_embeddings, embedding_dim], got ",
           shape_str(weight.shape()));
  TG_CHECK(weight.is_floating_point(), "embedding: weight must be floating point, got ",
           weight.dtype());
  TG_CHECK(indices.dtype() == kInt64, "embedding: indices must be int64, got ", indices.dtype());
  const std::int64_t num = weight.size(0);
  std::int64_t pad = kNoPadding;
  if (padding_idx) {
    TG_CHECK(*padding_idx >= -num && *padding_idx < num, "embedding: padding_idx ", *padding_idx,
             " is out of range for num_embeddings ", num);
    pad = *padding_idx < 0 ? *padding_idx + num : *padding_idx;
  }
  const Tensor idx = indices.detach().contiguous();
  const std::int64_t* ip = idx.data_ptr<std::int64_t>();
  for (std::int64_t p = 0; p < idx.numel(); ++p)
    TG_CHECK(ip[p] >= 0 && ip[p] < num, "embedding: index ", ip[p],
             " is out of range for num_embeddings ", num);
  return gather_rows(weight, idx, pad, false);
}

}  // namespace tg::nn::functional
