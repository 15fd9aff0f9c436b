// Samples for pooling (max, average, adaptive; 1-d and 2-d), dropout2d and batch_norm on
// [N, C, H, W]. Max-pool inputs are standard normal draws: no two values in a window are within
// the finite-difference step, so no tie makes the gradient ambiguous (ties are checked against
// PyTorch in the edge cases and in test_pooling).
#include "sweep/op_table.h"
#include "tapegrad/tapegrad.h"  // these samples span ops and nn modules

namespace tg::sweep {
// One sample per line, like samples_core.cpp: the table reads better unwrapped.
// clang-format off
namespace {
namespace F = nn::functional;
using F::Size2;
// A permuted view: [N, C, H, W] made from a [N, H, W, C] buffer.
Tensor channels_last(const Shape& s) { return rnd({s[0], s[2], s[3], s[1]}).detach().permute({0, 3, 1, 2}).requires_grad_(); }
}  // namespace

TG_OP_SAMPLES(pool_max) {
  return {
      {"max_pool2d", "k2 s2", [](const In& x) { return F::max_pool2d(x[0], 2); }, [] { return In{rnd({2, 3, 4, 4})}; }},
      {"max_pool2d", "k3 s1 pad1, batch 1", [](const In& x) { return F::max_pool2d(x[0], 3, 1, 1); }, [] { return In{rnd({1, 2, 5, 5})}; }},
      {"max_pool2d", "k3 s2 ceil_mode, odd sizes", [](const In& x) { return F::max_pool2d(x[0], 3, 2, 0, 1, true); }, [] { return In{rnd({1, 1, 6, 7})}; }},
      {"max_pool2d", "k(2,3) s(1,2) pad(1,1) dilation 2", [](const In& x) { return F::max_pool2d(x[0], {2, 3}, {1, 2}, {1, 1}, 2); }, [] { return In{rnd({2, 2, 7, 8})}; }},
      {"max_pool2d", "overlapping windows ceil_mode pad1", [](const In& x) { return F::max_pool2d(x[0], 3, 2, 1, 1, true); }, [] { return In{rnd({1, 2, 6, 6})}; }},
      {"max_pool2d", "non-contiguous (batch/channel transposed)", [](const In& x) { return F::max_pool2d(x[0], 2, 1); }, [] { return In{noncontig({3, 2, 4, 3})}; }},
      {"max_pool2d", "permuted (channels-last) view", [](const In& x) { return F::max_pool2d(x[0], 2); }, [] { return In{channels_last({2, 3, 4, 6})}; }},
      {"max_pool2d", "unbatched [C, H, W]", [](const In& x) { return F::max_pool2d(x[0], {3, 2}, {2, 1}); }, [] { return In{rnd({2, 5, 4})}; }},
      {"max_pool2d", "with indices, values", [](const In& x) { return F::max_pool2d_with_indices(x[0], 2, 2, 1).values; }, [] { return In{rnd({1, 3, 5, 4})}; }},
      {"max_pool1d", "k3 s2 pad1", [](const In& x) { return F::max_pool1d(x[0], 3, 2, 1); }, [] { return In{rnd({2, 3, 8})}; }},
      {"max_pool1d", "[C, L] dilation 2 ceil_mode", [](const In& x) { return F::max_pool1d(x[0], 2, 2, 0, 2, true); }, [] { return In{rnd({3, 8})}; }},
      {"max_pool1d", "with indices, non-contiguous", [](const In& x) { return F::max_pool1d_with_indices(x[0], 2).values; }, [] { return In{noncontig({3, 2, 6})}; }},
      {"adaptive_max_pool2d", "7x5 -> 3x2", [](const In& x) { return F::adaptive_max_pool2d(x[0], {3, 2}); }, [] { return In{rnd({2, 2, 7, 5})}; }},
      {"adaptive_max_pool2d", "global, unbatched", [](const In& x) { return F::adaptive_max_pool2d(x[0], 1); }, [] { return In{rnd({3, 4, 5})}; }},
      {"adaptive_max_pool2d", "output larger than input, with indices", [](const In& x) { return F::adaptive_max_pool2d_with_indices(x[0], {4, 3}).values; }, [] { return In{noncontig({2, 1, 3, 2})}; }},
  };
}

TG_OP_SAMPLES(pool_avg) {
  return {
      {"avg_pool2d", "k2 s2", [](const In& x) { return F::avg_pool2d(x[0], 2); }, [] { return In{rnd({2, 3, 4, 4})}; }},
      {"avg_pool2d", "k3 s2 pad1, count_include_pad", [](const In& x) { return F::avg_pool2d(x[0], 3, 2, 1); }, [] { return In{rnd({1, 2, 5, 6})}; }},
      {"avg_pool2d", "k3 s2 pad1 ceil_mode, count_include_pad false", [](const In& x) { return F::avg_pool2d(x[0], 3, 2, 1, true, false); }, [] { return In{rnd({1, 1, 6, 6})}; }},
      {"avg_pool2d", "k(2,3) s(1,2) ceil_mode, count_include_pad", [](const In& x) { return F::avg_pool2d(x[0], {2, 3}, {1, 2}, {1, 1}, true); }, [] { return In{rnd({2, 1, 4, 6})}; }},
      {"avg_pool2d", "divisor_override 3", [](const In& x) { return F::avg_pool2d(x[0], 2, 1, 0, false, true, 3); }, [] { return In{rnd({1, 2, 3, 3})}; }},
      {"avg_pool2d", "non-contiguous, unbatched", [](const In& x) { return F::avg_pool2d(x[0], 2, 1); }, [] { return In{noncontig({4, 3, 3})}; }},
      {"avg_pool2d", "permuted (channels-last) view", [](const In& x) { return F::avg_pool2d(x[0], 3, 1, 1); }, [] { return In{channels_last({1, 3, 4, 4})}; }},
      {"avg_pool1d", "k3 s2 pad1 ceil_mode", [](const In& x) { return F::avg_pool1d(x[0], 3, 2, 1, true); }, [] { return In{rnd({2, 3, 7})}; }},
      {"avg_pool1d", "[C, L] count_include_pad false", [](const In& x) { return F::avg_pool1d(x[0], 2, 1, 1, false, false); }, [] { return In{rnd({2, 5})}; }},
      {"adaptive_avg_pool2d", "7x5 -> 3x2", [](const In& x) { return F::adaptive_avg_pool2d(x[0], {3, 2}); }, [] { return In{rnd({2, 2, 7, 5})}; }},
      {"adaptive_avg_pool2d", "global", [](const In& x) { return F::adaptive_avg_pool2d(x[0], 1); }, [] { return In{rnd({2, 3, 3, 4})}; }},
      {"adaptive_avg_pool2d", "output larger than input, non-contiguous", [](const In& x) { return F::adaptive_avg_pool2d(x[0], {5, 3}); }, [] { return In{noncontig({3, 2, 3, 2})}; }},
  };
}

TG_OP_SAMPLES(pool_dropout2d_batch_norm_2d) {
  return {
      {"dropout2d", "training p=0.5", [](const In& x) { manual_seed(21); return F::dropout2d(x[0], 0.5, true); }, [] { return In{rnd({3, 4, 2, 2})}; }},
      {"dropout2d", "unbatched, non-contiguous p=0.3", [](const In& x) { manual_seed(22); return F::dropout2d(x[0], 0.3, true); }, [] { return In{noncontig({3, 4, 2})}; }},
      {"batch_norm", "training [N, C, H, W], affine", [](const In& x) { return F::batch_norm(x[0], zeros({2}, kFloat64), ones({2}, kFloat64), x[1], x[2], true); }, [] { return In{rnd({3, 2, 2, 3}), positive({2}), rnd({2})}; }},
      {"batch_norm", "training [N, C, H, W] permuted view, no affine", [](const In& x) { return F::batch_norm(x[0], {}, {}, {}, {}, true); }, [] { return In{channels_last({2, 3, 2, 2})}; }},
      {"batch_norm", "training [1, C, H, W], batch 1", [](const In& x) { return F::batch_norm(x[0], {}, {}, x[1], {}, true); }, [] { return In{rnd({1, 2, 3, 2}), rnd({2})}; }},
      {"batch_norm_eval", "eval [N, C, H, W], affine", [](const In& x) { return F::batch_norm(x[0], from_vector(std::vector<double>{0.1, -0.3}), from_vector(std::vector<double>{0.5, 2.0}), x[1], x[2], false); }, [] { return In{rnd({2, 2, 2, 3}), rnd({2}), rnd({2})}; }},
  };
}

// clang-format on
}  // namespace tg::sweep
