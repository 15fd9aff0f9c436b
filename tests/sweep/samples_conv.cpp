// Samples for the convolutions and unfold/fold: strides, padding (sizes, "same" with an odd
// total, "valid"), dilation, groups (depthwise), 1x1 kernels (the path without im2col), batch 1,
// one channel, and non-contiguous inputs (a transposed leaf, a strided slice inside the op).
// Every sample is gradgradchecked: a convolution's backward is made of the three conv nodes.
#include "sweep/op_table.h"
#include "tapegrad/tapegrad.h"  // these samples span ops and nn modules

namespace tg::sweep {
// One sample per line, like samples_core.cpp: the table reads better unwrapped.
// clang-format off
namespace {
namespace F = nn::functional;
}  // namespace

TG_OP_SAMPLES(conv) {
  return {
      {"conv2d", "3x3 pad 1, bias", [](const In& x) { return F::conv2d(x[0], x[1], x[2], 1, 1); }, [] { return In{rnd({2, 2, 4, 4}), rnd({3, 2, 3, 3}), rnd({3})}; }},
      {"conv2d", "stride (2, 1), padding (1, 0), no bias", [](const In& x) { return F::conv2d(x[0], x[1], {}, {2, 1}, {1, 0}); }, [] { return In{rnd({1, 3, 5, 4}), rnd({2, 3, 3, 2})}; }},
      {"conv2d", "dilation (2, 1), stride 2, pad 1", [](const In& x) { return F::conv2d(x[0], x[1], x[2], 2, 1, {2, 1}); }, [] { return In{rnd({2, 1, 6, 5}), rnd({2, 1, 2, 3}), rnd({2})}; }},
      {"conv2d", "groups 2, stride (1, 2)", [](const In& x) { return F::conv2d(x[0], x[1], x[2], {1, 2}, 0, 1, 2); }, [] { return In{rnd({2, 4, 3, 4}), rnd({4, 2, 2, 2}), rnd({4})}; }},
      {"conv2d", "depthwise 3x3 pad 1", [](const In& x) { return F::conv2d(x[0], x[1], x[2], 1, 1, 1, 3); }, [] { return In{rnd({1, 3, 4, 4}), rnd({3, 1, 3, 3}), rnd({3})}; }},
      {"conv2d", "depthwise multiplier 2, stride 2", [](const In& x) { return F::conv2d(x[0], x[1], {}, 2, 1, 1, 2); }, [] { return In{rnd({2, 2, 5, 5}), rnd({4, 1, 3, 3})}; }},
      {"conv2d", "1x1 kernel (no im2col)", [](const In& x) { return F::conv2d(x[0], x[1], x[2]); }, [] { return In{rnd({2, 3, 3, 2}), rnd({2, 3, 1, 1}), rnd({2})}; }},
      {"conv2d", "same, even kernel (odd total padding)", [](const In& x) { return F::conv2d(x[0], x[1], x[2], 1, "same"); }, [] { return In{rnd({1, 2, 4, 3}), rnd({2, 2, 2, 4}), rnd({2})}; }},
      {"conv2d", "same with dilation 2", [](const In& x) { return F::conv2d(x[0], x[1], {}, 1, "same", 2); }, [] { return In{rnd({1, 1, 5, 5}), rnd({2, 1, 3, 2})}; }},
      {"conv2d", "valid", [](const In& x) { return F::conv2d(x[0], x[1], x[2], 1, "valid"); }, [] { return In{rnd({2, 2, 4, 3}), rnd({1, 2, 2, 2}), rnd({1})}; }},
      {"conv2d", "batch 1, one channel, kernel = input", [](const In& x) { return F::conv2d(x[0], x[1], x[2]); }, [] { return In{rnd({1, 1, 3, 3}), rnd({1, 1, 3, 3}), rnd({1})}; }},
      {"conv2d", "non-contiguous input (transposed leaf)", [](const In& x) { return F::conv2d(x[0], x[1], x[2], 1, 1); }, [] { return In{noncontig({3, 2, 4, 4}), rnd({2, 2, 3, 3}), rnd({2})}; }},
      {"conv2d", "strided slice of the input, permuted weight", [](const In& x) { return F::conv2d(x[0].slice(3, 0, 7, 2), x[1].permute({0, 1, 3, 2}), {}, 1, {0, 1}); }, [] { return In{rnd({2, 2, 4, 7}), rnd({2, 2, 2, 3})}; }},
      {"conv2d", "constant weight", [](const In& x) { return F::conv2d(x[0], x[1], {}, 2, 1); }, [] { return In{rnd({1, 2, 5, 4}), constant({3, 2, 3, 3})}; }},
      {"conv2d", "empty batch", [](const In& x) { return F::conv2d(x[0], x[1], x[2], 1, 1); }, [] { return In{rnd({0, 2, 3, 3}), rnd({2, 2, 3, 3}), rnd({2})}; }},
      {"conv1d", "k 3 pad 1, bias", [](const In& x) { return F::conv1d(x[0], x[1], x[2], 1, 1); }, [] { return In{rnd({2, 2, 5}), rnd({3, 2, 3}), rnd({3})}; }},
      {"conv1d", "stride 2, dilation 2, groups 2", [](const In& x) { return F::conv1d(x[0], x[1], {}, 2, 1, 2, 2); }, [] { return In{rnd({1, 4, 9}), rnd({2, 2, 3})}; }},
      {"conv1d", "same, non-contiguous input", [](const In& x) { return F::conv1d(x[0], x[1], x[2], 1, "same"); }, [] { return In{noncontig({2, 2, 6}), rnd({1, 2, 4}), rnd({1})}; }},
      {"conv_transpose2d", "stride 2, output_padding 1, bias", [](const In& x) { return F::conv_transpose2d(x[0], x[1], x[2], 2, 1, 1); }, [] { return In{rnd({2, 2, 3, 3}), rnd({2, 3, 3, 3}), rnd({3})}; }},
      {"conv_transpose2d", "stride (2, 3), output_padding (1, 2)", [](const In& x) { return F::conv_transpose2d(x[0], x[1], {}, {2, 3}, 0, {1, 2}); }, [] { return In{rnd({1, 2, 2, 3}), rnd({2, 1, 2, 3})}; }},
      {"conv_transpose2d", "groups 2, dilation 2, padding 1", [](const In& x) { return F::conv_transpose2d(x[0], x[1], x[2], 1, 1, 0, 2, 2); }, [] { return In{rnd({2, 4, 3, 3}), rnd({4, 1, 2, 2}), rnd({2})}; }},
      {"conv_transpose2d", "output_padding below dilation", [](const In& x) { return F::conv_transpose2d(x[0], x[1], {}, 1, 0, 1, 1, 2); }, [] { return In{rnd({1, 1, 3, 2}), rnd({1, 2, 2, 2})}; }},
      {"conv_transpose2d", "non-contiguous input", [](const In& x) { return F::conv_transpose2d(x[0], x[1], x[2], 2); }, [] { return In{noncontig({2, 3, 2, 3}), rnd({3, 2, 2, 2}), rnd({2})}; }},
      {"conv2d_weight", "3x3 pad 1", [](const In& x) { return F::conv2d_weight(x[0], 3, x[1], 1, 1); }, [] { return In{rnd({2, 2, 4, 4}), rnd({2, 3, 4, 4})}; }},
      {"conv2d_weight", "stride 2, groups 2, dilation (1, 2)", [](const In& x) { return F::conv2d_weight(x[0], {2, 2}, x[1], 2, 1, {1, 2}, 2); }, [] { return In{rnd({2, 4, 4, 5}), rnd({2, 2, 3, 3})}; }},
      {"unfold", "3x3 pad 1", [](const In& x) { return F::unfold(x[0], 3, 1, 1); }, [] { return In{rnd({2, 2, 3, 4})}; }},
      {"unfold", "stride 2, dilation (1, 2), non-contiguous", [](const In& x) { return F::unfold(x[0], {2, 2}, {1, 2}, 0, 2); }, [] { return In{noncontig({3, 2, 5, 6})}; }},
      {"fold", "2x2 overlapping blocks", [](const In& x) { return F::fold(x[0], {3, 4}, 2); }, [] { return In{rnd({2, 8, 6})}; }},
      {"fold", "stride 2, padding 1", [](const In& x) { return F::fold(x[0], {4, 4}, {3, 2}, 1, 1, 2); }, [] { return In{rnd({1, 6, 6})}; }},
  };
}
// clang-format on

}  // namespace tg::sweep
