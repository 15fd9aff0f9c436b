// im2col + GEMM convolution kernels. Work is split over samples (or fixed blocks of samples for
// the weight gradient), each sample's products going through the panel engine of gemm.h: no
// sample's result depends on which thread ran it, and the weight gradient's per-block partial
// sums are added in block order, so results are bit-identical on any thread count.
//
// The im2col buffers are per-thread and only grow: a training loop reuses them every step
// instead of faulting fresh pages in (a [576, 3136] float buffer is 7 MB).
#include "tapegrad/ops/kernels/conv.h"

#include <tbb/task_arena.h>

#include <algorithm>
#include <cstring>
#include <type_traits>
#include <vector>

#include "tapegrad/core/threading.h"
#include "tapegrad/ops/kernels/gemm.h"

namespace tg::kernels {
namespace {

// Per-thread scratch, one per slot (a task uses slot 0; the calling thread keeps its partial
// sums in slot 1 while tasks run).
template <typename T>
T* workspace(int slot, std::int64_t n) {
  thread_local std::vector<T> buf[2];
  auto& b = buf[slot];
  if (static_cast<std::int64_t>(b.size()) < n) b.resize(static_cast<std::size_t>(n));
  return b.data();
}

// Columns ow in [lo, hi) read inside the input row for kernel column offset `off` (iw = ow *
// stride + off).
void valid_range(std::int64_t off, std::int64_t stride, std::int64_t in, std::int64_t out,
                 std::int64_t& lo, std::int64_t& hi) {
  lo = off >= 0 ? 0 : (-off + stride - 1) / stride;
  hi = in - 1 - off < 0 ? 0 : (in - 1 - off) / stride + 1;
  lo = std::min(lo, out);
  hi = std::max(lo, std::min(hi, out));
}

// True when im2col of x is x itself (1x1 kernel, stride 1, no padding).
bool is_pointwise(const ConvGeom& g) {
  return g.kh == 1 && g.kw == 1 && g.sh == 1 && g.sw == 1 && g.ph == 0 && g.pw == 0 &&
         g.OH == g.H && g.OW == g.W;
}

// Rows here are short (14 values for a 14x14 image): GCC would turn the copy and fill loops into
// memmove/memset calls, whose call overhead then dominates, so it is told not to.
#if defined(__GNUC__) && !defined(__clang__)
#define TG_NO_LIBCALL_LOOPS __attribute__((optimize("no-tree-loop-distribute-patterns")))
#else
#define TG_NO_LIBCALL_LOOPS
#endif

// im2col and its adjoint col2im are one walk over the kernel taps (channel c, kernel row i,
// kernel column j), each tap's im2col row against its channel's plane: kToCol copies the plane
// into the row (padding as zeros), else the row is added into the plane (x zeroed by the caller).

// Zeroes the border columns [0, lo) and [hi, OW) of the output rows [oh0, oh1) of one im2col row.
template <typename T>
TG_NO_LIBCALL_LOOPS void zero_border_columns(T* row, const ConvGeom& g, std::int64_t oh0,
                                             std::int64_t oh1, std::int64_t lo, std::int64_t hi) {
  for (std::int64_t oh = oh0; oh < oh1; ++oh) {
    T* rr = row + oh * g.OW;
    for (std::int64_t ow = 0; ow < lo; ++ow) rr[ow] = T(0);
    for (std::int64_t ow = hi; ow < g.OW; ++ow) rr[ow] = T(0);
  }
}

// One tap (kernel row i, column offset `off`, valid output columns [lo, hi)) when stride is 1
// and OW == W ("same"-style padding): the valid output rows then meet one contiguous span of the
// plane xc, moved in one long loop. The values that wrap around a row edge fall exactly on the
// border columns: im2col zeroes them after the copy; col2im (which may change the row) zeroes
// them before adding, so that only zeros land on the wrapped positions.
template <bool kToCol, typename XP, typename CP>
TG_NO_LIBCALL_LOOPS void flat_tap(XP xc, CP row, const ConvGeom& g, std::int64_t i,
                                  std::int64_t off, std::int64_t lo, std::int64_t hi) {
  using T = std::remove_const_t<std::remove_pointer_t<CP>>;
  std::int64_t oh0, oh1;  // output rows whose input row is inside the image
  valid_range(i * g.dh - g.ph, 1, g.H, g.OH, oh0, oh1);
  if constexpr (kToCol) {
    for (std::int64_t k = 0; k < oh0 * g.OW; ++k) row[k] = T(0);
    for (std::int64_t k = oh1 * g.OW; k < g.OH * g.OW; ++k) row[k] = T(0);
  }
  if (oh0 >= oh1) return;
  if constexpr (!kToCol) zero_border_columns(row, g, oh0, oh1, lo, hi);
  const CP r = row + oh0 * g.OW;
  const std::int64_t base = (oh0 - g.ph + i * g.dh) * g.W + off;  // plane index of r[0]
  const std::int64_t count = (oh1 - oh0) * g.OW;
  // Only indices that stay inside the valid rows are touched; the rest are border columns.
  const std::int64_t k0 = std::min(count, std::max<std::int64_t>(0, -off));
  const std::int64_t k1 = std::max(k0, count - std::max<std::int64_t>(0, off));
  if constexpr (kToCol) {
    for (std::int64_t k = k0; k < k1; ++k) r[k] = xc[base + k];
    zero_border_columns(row, g, oh0, oh1, lo, hi);
  } else {
    for (std::int64_t k = k0; k < k1; ++k) xc[base + k] += r[k];
  }
}

// One tap, any stride: output row by output row.
template <bool kToCol, typename XP, typename CP>
TG_NO_LIBCALL_LOOPS void strided_tap(XP xc, CP row, const ConvGeom& g, std::int64_t i,
                                     std::int64_t off, std::int64_t lo, std::int64_t hi) {
  using T = std::remove_const_t<std::remove_pointer_t<CP>>;
  for (std::int64_t oh = 0; oh < g.OH; ++oh) {
    const CP r = row + oh * g.OW;
    const std::int64_t ih = oh * g.sh - g.ph + i * g.dh;
    if (ih < 0 || ih >= g.H) {
      if constexpr (kToCol)
        for (std::int64_t ow = 0; ow < g.OW; ++ow) r[ow] = T(0);
      continue;
    }
    const XP xr = xc + ih * g.W + off;
    if constexpr (kToCol) {
      for (std::int64_t ow = 0; ow < lo; ++ow) r[ow] = T(0);
      if (g.sw == 1)
        for (std::int64_t ow = lo; ow < hi; ++ow) r[ow] = xr[ow];
      else
        for (std::int64_t ow = lo; ow < hi; ++ow) r[ow] = xr[ow * g.sw];
      for (std::int64_t ow = hi; ow < g.OW; ++ow) r[ow] = T(0);
    } else {
      if (g.sw == 1)
        for (std::int64_t ow = lo; ow < hi; ++ow) xr[ow] += r[ow];
      else
        for (std::int64_t ow = lo; ow < hi; ++ow) xr[ow * g.sw] += r[ow];
    }
  }
}

// x [C, H, W] and col [C * kh * kw, OH * OW] with row stride ld, tap by tap.
template <bool kToCol, bool kFlat, typename XP, typename CP>
TG_NO_LIBCALL_LOOPS void walk_taps(XP x, CP col, std::int64_t ld, const ConvGeom& g) {
  for (std::int64_t c = 0; c < g.C; ++c)
    for (std::int64_t i = 0; i < g.kh; ++i)
      for (std::int64_t j = 0; j < g.kw; ++j) {
        const CP row = col + ((c * g.kh + i) * g.kw + j) * ld;
        const XP xc = x + c * g.H * g.W;
        const std::int64_t off = j * g.dw - g.pw;
        std::int64_t lo, hi;
        valid_range(off, g.sw, g.W, g.OW, lo, hi);
        if constexpr (kFlat)
          flat_tap<kToCol>(xc, row, g, i, off, lo, hi);
        else
          strided_tap<kToCol>(xc, row, g, i, off, lo, hi);
      }
}

// Stride 1 and OW == W: each tap's valid output rows meet one contiguous span of the plane.
bool is_flat(const ConvGeom& g) { return g.sh == 1 && g.sw == 1 && g.OW == g.W; }

// One sample [C, H, W] -> col [C * kh * kw, OH * OW] with row stride ld.
template <typename T>
TG_NO_LIBCALL_LOOPS void im2col_sample(const T* x, const ConvGeom& g, T* col, std::int64_t ld) {
  if (is_flat(g))
    walk_taps<true, true>(x, col, ld, g);
  else
    walk_taps<true, false>(x, col, ld, g);
}

// The adjoint: adds col [C * kh * kw, OH * OW] into x [C, H, W] (x zeroed by the caller).
template <typename T>
TG_NO_LIBCALL_LOOPS void col2im_sample(const T* col, std::int64_t ld, const ConvGeom& g, T* x) {
  walk_taps<false, false>(x, col, ld, g);
}

// col2im of a scratch buffer, which it may change: when flat, the border columns (whose values
// belong to padding) are zeroed first, and each tap's valid rows add as one span.
template <typename T>
TG_NO_LIBCALL_LOOPS void col2im_scratch_sample(T* col, std::int64_t ld, const ConvGeom& g, T* x) {
  if (is_flat(g))
    walk_taps<false, true>(x, col, ld, g);
  else
    col2im_sample<T>(col, ld, g, x);
}

// Runs body(n0, n1) over samples in blocks of `grain`. The workspaces are per thread, so a thread
// must never start another block (of this call or of a convolution elsewhere) while one of its
// own is half done: each block is isolated (a thread waiting inside a block's nested GEMM runs
// only that GEMM's panels), and so is the whole loop (the calling thread, while it waits, runs
// only this call's blocks, even when the call itself sits inside someone's TBB task).
template <typename F>
void for_samples(std::int64_t n, std::int64_t grain, F&& body) {
  tbb::this_task_arena::isolate([&] {
    detail::parallel_for(n, grain, [&](std::int64_t n0, std::int64_t n1) {
      tbb::this_task_arena::isolate([&] { body(n0, n1); });
    });
  });
}

// Samples per task: at least ~4M multiply-adds, so small samples do not become tiny tasks.
std::int64_t sample_grain(double macs_per_sample) {
  const double want = 4.0e6;
  return std::max<std::int64_t>(1,
                                static_cast<std::int64_t>(want / std::max(macs_per_sample, 1.0)));
}

// Runs per_sample(n, col) for every sample n < N, in tasks of sample_grain samples, with the
// thread's im2col workspace `col` ([groups * K, L]; null when `pointwise`, which needs none).
template <typename T, typename F>
void for_samples_with_col(std::int64_t N, const ConvGeom& g, bool pointwise, F&& per_sample) {
  const std::int64_t K = g.rows(), L = g.cols();
  for_samples(N, sample_grain(static_cast<double>(g.O * K * L)),
              [&](std::int64_t n0, std::int64_t n1) {
                T* col = pointwise ? nullptr : workspace<T>(0, K * g.groups * L);
                for (std::int64_t n = n0; n < n1; ++n) per_sample(n, col);
              });
}

template <typename T>
void forward_typed(const T* x, const T* w, const T* b, T* y, std::int64_t N, const ConvGeom& g) {
  const std::int64_t K = g.rows(), L = g.cols(), Og = g.O / g.groups;
  const std::int64_t in_size = g.C * g.H * g.W, out_size = g.O * L;
  const bool pointwise = is_pointwise(g);
  for_samples_with_col<T>(N, g, pointwise, [&](std::int64_t n, T* col) {
    const T* xn = x + n * in_size;
    T* yn = y + n * out_size;
    if (!pointwise) im2col_sample(xn, g, col, L);
    const T* src = pointwise ? xn : col;
    if (b)
      for (std::int64_t o = 0; o < g.O; ++o) std::fill(yn + o * L, yn + (o + 1) * L, b[o]);
    for (std::int64_t gi = 0; gi < g.groups; ++gi)
      gemm<T>(false, false, Og, L, K, T(1), w + gi * Og * K, K, src + gi * K * L, L,
              b ? T(1) : T(0), yn + gi * Og * L, L);
  });
}

template <typename T>
void input_grad_typed(const T* gy, const T* w, const T* b, T* gx, std::int64_t N,
                      const ConvGeom& g) {
  const std::int64_t K = g.rows(), L = g.cols(), Og = g.O / g.groups;
  const std::int64_t in_size = g.C * g.H * g.W, out_size = g.O * L;
  const bool pointwise = is_pointwise(g);
  for_samples_with_col<T>(N, g, pointwise, [&](std::int64_t n, T* col) {
    const T* gyn = gy + n * out_size;
    T* gxn = gx + n * in_size;
    T* dst = pointwise ? gxn : col;
    for (std::int64_t gi = 0; gi < g.groups; ++gi)
      gemm<T>(true, false, K, L, Og, T(1), w + gi * Og * K, K, gyn + gi * Og * L, L, T(0),
              dst + gi * K * L, L);
    if (!pointwise) {
      std::fill(gxn, gxn + in_size, T(0));
      col2im_scratch_sample(col, L, g, gxn);
    }
    if (b)
      for (std::int64_t c = 0; c < g.C; ++c)
        for (std::int64_t i = 0; i < g.H * g.W; ++i) gxn[c * g.H * g.W + i] += b[c];
  });
}

// Blocks of samples for the weight gradient: a fixed count from N alone (never from the thread
// count), so the partial sums, and the order they are added in, are the same on any machine
// setting.
constexpr std::int64_t kWeightBlocks = 8;

template <typename T>
void weight_grad_typed(const T* x, const T* gy, T* gw, std::int64_t N, const ConvGeom& g) {
  const std::int64_t K = g.rows(), L = g.cols(), Og = g.O / g.groups;
  const std::int64_t in_size = g.C * g.H * g.W, out_size = g.O * L, wsize = g.O * K;
  if (N == 0) {
    std::fill(gw, gw + wsize, T(0));
    return;
  }
  const std::int64_t blocks = std::min(N, kWeightBlocks);
  const std::int64_t per = (N + blocks - 1) / blocks;
  T* partial = workspace<T>(1, blocks * wsize);
  const bool pointwise = is_pointwise(g);
  for_samples(blocks, 1, [&](std::int64_t b0, std::int64_t b1) {
    T* col = pointwise ? nullptr : workspace<T>(0, K * g.groups * L);
    for (std::int64_t blk = b0; blk < b1; ++blk) {
      T* p = partial + blk * wsize;
      const std::int64_t n0 = blk * per, n1 = std::min(N, n0 + per);
      if (n0 >= n1) std::fill(p, p + wsize, T(0));
      for (std::int64_t n = n0; n < n1; ++n) {
        const T* xn = x + n * in_size;
        if (!pointwise) im2col_sample(xn, g, col, L);
        const T* src = pointwise ? xn : col;
        for (std::int64_t gi = 0; gi < g.groups; ++gi)
          gemm<T>(false, true, Og, K, L, T(1), gy + n * out_size + gi * Og * L, L, src + gi * K * L,
                  L, n == n0 ? T(0) : T(1), p + gi * Og * K, K);
      }
    }
  });
  std::copy(partial, partial + wsize, gw);
  for (std::int64_t blk = 1; blk < blocks; ++blk)
    for (std::int64_t i = 0; i < wsize; ++i) gw[i] += partial[blk * wsize + i];
}

template <typename F>
void on_dtype(Dtype dt, F&& f) {
  if (dt == kFloat32)
    f(float{});
  else
    f(double{});
}

// f(n) for every sample n < N, in tasks of about 64K of the `values` each sample moves.
template <typename F>
void each_sample(std::int64_t N, std::int64_t values, F&& f) {
  detail::parallel_for(N, std::max<std::int64_t>(1, 65536 / std::max<std::int64_t>(values, 1)),
                       [&](std::int64_t n0, std::int64_t n1) {
                         for (std::int64_t n = n0; n < n1; ++n) f(n);
                       });
}

}  // namespace

Tensor conv2d_forward(const Tensor& x, const Tensor& w, const Tensor& b, const ConvGeom& g) {
  const std::int64_t N = x.size(0);
  Tensor y = empty({N, g.O, g.OH, g.OW}, x.dtype());
  on_dtype(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    forward_typed<T>(x.data_ptr<T>(), w.data_ptr<T>(), b.defined() ? b.data_ptr<T>() : nullptr,
                     y.data_ptr<T>(), N, g);
  });
  return y;
}

Tensor conv2d_input_grad(const Tensor& gy, const Tensor& w, const Tensor& b, const ConvGeom& g) {
  const std::int64_t N = gy.size(0);
  Tensor gx = empty({N, g.C, g.H, g.W}, gy.dtype());
  on_dtype(gy.dtype(), [&](auto tag) {
    using T = decltype(tag);
    input_grad_typed<T>(gy.data_ptr<T>(), w.data_ptr<T>(), b.defined() ? b.data_ptr<T>() : nullptr,
                        gx.data_ptr<T>(), N, g);
  });
  return gx;
}

Tensor conv2d_weight_grad(const Tensor& x, const Tensor& gy, const ConvGeom& g) {
  Tensor gw = empty({g.O, g.C / g.groups, g.kh, g.kw}, x.dtype());
  on_dtype(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    weight_grad_typed<T>(x.data_ptr<T>(), gy.data_ptr<T>(), gw.data_ptr<T>(), x.size(0), g);
  });
  return gw;
}

Tensor channel_sum(const Tensor& g) {
  const std::int64_t N = g.size(0), C = g.size(1), L = g.size(2) * g.size(3);
  Tensor out = empty({C}, g.dtype());
  on_dtype(g.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* gp = g.data_ptr<T>();
    T* op = out.data_ptr<T>();
    const std::int64_t grain = std::max<std::int64_t>(1, 65536 / std::max<std::int64_t>(N * L, 1));
    detail::parallel_for(C, grain, [&](std::int64_t c0, std::int64_t c1) {
      for (std::int64_t c = c0; c < c1; ++c) {
        // Each row in 16 lanes of T (a loop the compiler vectorizes), rows added in double.
        double total = 0.0;
        for (std::int64_t n = 0; n < N; ++n) {
          const T* row = gp + (n * C + c) * L;
          T lane[16] = {};
          std::int64_t i = 0;
          for (; i + 16 <= L; i += 16)
            for (int k = 0; k < 16; ++k) lane[k] += row[i + k];
          for (; i < L; ++i) lane[i % 16] += row[i];
          double row_sum = 0.0;
          for (int k = 0; k < 16; ++k) row_sum += static_cast<double>(lane[k]);
          total += row_sum;
        }
        op[c] = static_cast<T>(total);
      }
    });
  });
  return out;
}

Tensor im2col(const Tensor& x, const ConvGeom& g) {
  const std::int64_t N = x.size(0), rows = g.C * g.kh * g.kw, L = g.cols();
  Tensor cols = empty({N, rows, L}, x.dtype());
  on_dtype(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* xp = x.data_ptr<T>();
    T* cp = cols.data_ptr<T>();
    each_sample(N, rows * L, [&](std::int64_t n) {
      im2col_sample(xp + n * g.C * g.H * g.W, g, cp + n * rows * L, L);
    });
  });
  return cols;
}

Tensor col2im(const Tensor& cols, const ConvGeom& g) {
  const std::int64_t N = cols.size(0), rows = g.C * g.kh * g.kw, L = g.cols();
  Tensor x = zeros({N, g.C, g.H, g.W}, cols.dtype());
  on_dtype(cols.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* cp = cols.data_ptr<T>();
    T* xp = x.data_ptr<T>();
    each_sample(N, rows * L, [&](std::int64_t n) {
      col2im_sample(cp + n * rows * L, L, g, xp + n * g.C * g.H * g.W);
    });
  });
  return x;
}

}  // namespace tg::kernels
