// Misuse table, part 1: core, autograd (with anomaly mode), ops, and sizes at the int64 edge.
// Every bad call a user can type must throw tg::Error whose message names the op and the
// offending values (runner and known-issue policy: misuse_table.h; nn, optim, datasets and
// checkpoints: test_misuse_io.cpp).
#define BOOST_TEST_MODULE misuse
#include <boost/test/unit_test.hpp>

#include <limits>

#include "misuse_table.h"

using namespace tg;
using namespace tg::misuse;
namespace F = tg::nn::functional;

BOOST_AUTO_TEST_CASE(core_misuse) {
  run_table({
      {"add: shapes do not broadcast",
       [] {
         add(ones({2, 3}), ones({4, 3}));
       },
       {"add", "[2, 3]", "[4, 3]"}},
      {"mul operator: shapes do not broadcast",
       [] { ones({5}) * ones({2}); },
       {"mul", "[5]", "[2]"}},
      {"zeros: negative size",
       [] {
         zeros({2, -3});
       },
       {"negative size -3", "[2, -3]"}},
      {"empty: element count overflows",
       [] {
         empty({1ll << 40, 1ll << 40});
       },
       {"empty", "[1099511627776, 1099511627776]", "too many elements"}},
      {"reshape: element count differs",
       [] {
         ones({2, 3}).reshape({4, 2});
       },
       {"reshape", "[4, 2]", "6"}},
      {"reshape: two -1 dims",
       [] {
         ones({6}).reshape({-1, -1});
       },
       {"reshape", "only one dimension can be -1", "[-1, -1]"}},
      {"view: incompatible strides",
       [] {
         ones({2, 3}).t().view({6});
       },
       {"view", "[3, 2]"}},
      {"transpose: dim out of range",
       [] {
         ones({2, 3}).transpose(0, 2);
       },
       {"transpose", "dim 2", "2 dims"}},
      {"unsqueeze: dim out of range", [] { ones({2}).unsqueeze(3); }, {"unsqueeze", "dim 3"}},
      {"squeeze: dim out of range", [] { ones({2}).squeeze(-3); }, {"squeeze", "dim -3"}},
      {"permute: repeated dim",
       [] {
         ones({2, 3}).permute({0, 0});
       },
       {"permute", "dim 0 repeats", "[0, 0]"}},
      {"expand: incompatible size",
       [] {
         ones({3}).expand({2, 4});
       },
       {"expand", "[3]", "[2, 4]"}},
      {"select: index out of range",
       [] {
         ones({2, 3}).select(1, 3);
       },
       {"select", "index 3", "size 3"}},
      {"narrow: past the end", [] { ones({5}).narrow(0, 3, 4); }, {"narrow", "start 3", "4"}},
      {"slice: zero step", [] { ones({5}).slice(0, 0, 5, 0); }, {"slice", "step", "0"}},
      {"at: index out of range",
       [] {
         ones({2, 2}).at({2, 0});
       },
       {"index 2", "size 2"}},
      {"at: wrong number of indices",
       [] {
         ones({2, 2}).at({0});
       },
       {"1 indices", "2 dims", "[2, 2]"}},
      {"item: more than one element", [] { ones({2}).item(); }, {"item", "[2]"}},
      {"data_ptr: wrong element type",
       [] { ones({2}).data_ptr<double>(); },
       {"data_ptr", "float32", "float64"}},
      {"sum: dim out of range",
       [] {
         sum(ones({2, 3}), {5});
       },
       {"sum", "dim 5", "2 dims"}},
      {"sum_to: incompatible shape",
       [] {
         ones({2, 3}).sum_to({4});
       },
       {"sum_to", "[2, 3]", "[4]"}},
      {"arange: zero step", [] { arange(0, 5, 0); }, {"arange", "step=0"}},
      {"arange: step with the wrong sign",
       [] { arange(5, 0, 1); },
       {"arange", "step 1", "start=5", "end=0"}},
      {"linspace: negative steps", [] { linspace(0, 1, -1); }, {"linspace", "-1"}},
      {"randint: empty range", [] { randint(5, 5, {2}); }, {"randint", "(5)"}},
      {"from_vector: count does not fill shape",
       [] {
         from_vector(std::vector<float>{1, 2, 3, 4, 5}, {2, 3});
       },
       {"from_vector", "5 values", "[2, 3]"}},
      {"tensor: ragged rows",
       [] {
         tensor({{1.f, 2.f}, {3.f}});
       },
       {"ragged", "1", "2"}},
      {"set_num_threads: zero", [] { set_num_threads(0); }, {"set_num_threads", "0"}},
      {"Generator::set_state: garbage",
       [] {
         Generator g;
         g.set_state("not a state");
       },
       {"set_state", "malformed"}},
      {"copy_: shape mismatch", [] { zeros({2}).copy_(ones({3})); }, {"copy_", "[2]", "[3]"}},
      {"add_: result larger than self",
       [] {
         zeros({3}).add_(ones({2, 3}));
       },
       {"add_", "[3]", "[2, 3]"}},
      {"div_: integer tensor", [] { arange(4).div_(2.0); }, {"div_", "int64"}},
  });
}

// Sizes and indices at the edge of int64: each must be refused, not overflow. The rows marked
// known_issue crash or run into undefined behaviour today (found by this table; fixes listed in
// the issue-7 report) and run isolated until fixed; issue 17 fixed the rest.
BOOST_AUTO_TEST_CASE(overflow_misuse) {
  constexpr std::int64_t kMax = std::numeric_limits<std::int64_t>::max();
  run_table({
      {"ones: byte count overflows size_t", [] { ones({1ll << 62}); }, {"[4611686018427387904]"}},
      {"zeros: byte count wraps to a tiny storage",
       [] { zeros({(1ll << 62) + 1}); },
       {"[4611686018427387905]"}},
      {"randn: byte count overflows size_t", [] { randn({1ll << 62}); }, {"[4611686018427387904]"}},
      {"one_hot: class count overflows the byte count",
       [] { one_hot(idx({1}), 1ll << 62); },
       {"4611686018427387904"}},
      {"arange: element count beyond int64", [] { arange(0, 1e20, 1); }, {"arange", "1e+20"}},
      {"repeat: result size overflows",
       [] { repeat(ones({2}), {1ll << 62}); },
       {"repeat", "4611686018427387904"}},
      {"narrow: start + length overflows",
       [] { ones({5}).narrow(0, kMax, 2); },
       {"narrow", "9223372036854775807"}},
      // Issue 17 item 10: every shape, stride and size computation is checked, naming the op.
      {"expand: 2^64 elements",
       [] {
         ones({1, 1}).expand({1ll << 32, 1ll << 32});
       },
       {"expand", "[4294967296, 4294967296]", "too many elements"}},
      {"reshape: empty tensor to sizes whose product overflows",
       [] {
         empty({0}).reshape({kMax, kMax, kMax, 0});
       },
       {"reshape", "too many elements"}},
      {"view: empty tensor to sizes whose product overflows",
       [] {
         empty({0}).view({kMax, kMax, 0});
       },
       {"view", "too many elements"}},
      {"reshape: -1 beside sizes whose product overflows",
       [] {
         empty({0}).reshape({kMax, kMax, -1});
       },
       {"reshape", "too many elements"}},
      {"pad: padded size overflows int64",
       [] {
         pad(ones({2}), {1ll << 62, 1ll << 62});
       },
       {"pad", "overflows int64"}},
      {"pad: padded byte count overflows",
       [] {
         pad(ones({2}), {1ll << 61, 0});
       },
       {"pad", "more bytes"}},
      {"pad: INT64_MIN width",
       [] {
         pad(ones({2}), {std::numeric_limits<std::int64_t>::min(), kMax});
       },
       {"pad", "overflows int64"}},
      {"add: broadcast result has too many elements",
       [] {
         ones({1, 1}).expand({1ll << 40, 1}) + ones({1, 1}).expand({1, 1ll << 40});
       },
       {"add", "[1099511627776, 1099511627776]", "too many elements"}},
      {"cat: result size overflows int64",
       [] {
         const Tensor e = ones({1}).expand({1ll << 62});
         cat({e, e});
       },
       {"cat", "overflows int64"}},
      {"split_with_sizes: sizes sum overflows",
       [] {
         split_with_sizes(ones({5}), {kMax, kMax});
       },
       {"split_with_sizes", "overflows int64"}},
      {"one_hot: inferred class count overflows",
       [] { one_hot(from_vector(std::vector<std::int64_t>{kMax}), -1); },
       {"one_hot", "overflows int64"}},
      {"repeat: expanded shape has too many elements",
       [] {
         repeat(ones({1, 1}), {1ll << 32, 1ll << 32});
       },
       {"repeat", "too many elements"}},
      {"index_select: result has too many elements",
       [] {
         index_select(ones({1, 1, 1}).expand({1ll << 50, 1, 0}), 1, zeros({1 << 14}, kInt64));
       },
       {"index_select", "too many elements"}},
      // Issue 17 item 9: a scalar that does not fit the dtype (int64 garbage before).
      {"full: 1e30 into int64",
       [] { full({2}, 1e30, kInt64); },
       {"full", "1e+30", "int64", "without overflow"}},
      {"add: int64 tensor plus 1e20",
       [] { arange(3) + 1e20; },
       {"add", "1e+20", "int64", "without overflow"}},
      {"add: undefined operand",
       [] { add(Tensor(), ones({2})); },
       {"add", "undefined"},
       "vague message 'tensor: operation on an undefined tensor' names no op"},
  });
}

// Not misuse: valid calls at the int64 edge that must simply work (PyTorch accepts them).
BOOST_AUTO_TEST_CASE(valid_calls_at_int64_edges) {
  constexpr std::int64_t kMax = std::numeric_limits<std::int64_t>::max();
  struct Row {
    std::string name;
    std::function<void()> call;  // throws tg::Error when the result is wrong
    std::string known_issue;
  };
  const std::vector<Row> rows = {
      {"slice: end and step of INT64_MAX give one element",
       [] { TG_CHECK(ones({5}).slice(0, 0, kMax, kMax).numel() == 1, "slice: wrong length"); }, ""},
      // Chunks of ceil(5 / chunks) = 1 element, as chunk(7) gives (PyTorch 1.13 itself
      // overflows here and refuses the call).
      {"chunk: INT64_MAX chunks give one-element chunks",
       [] { TG_CHECK(chunk(ones({5}), kMax).size() == 5, "chunk: wrong chunk count"); }, ""},
      {"split: INT64_MAX split size gives one piece",
       [] { TG_CHECK(split(ones({5}), kMax).size() == 1, "split: wrong piece count"); }, ""},
      {"randint: a range wider than int64 draws in range (PyTorch accepts it too)",
       [] {
         const Tensor r = randint(std::numeric_limits<std::int64_t>::min(), kMax, {64});
         TG_CHECK(max(r).item<std::int64_t>() < kMax, "randint: value out of range");
         TG_CHECK(min(r).item<std::int64_t>() < 0 && max(r).item<std::int64_t>() > 0,
                  "randint: 64 draws over the whole int64 range all on one side");
       },
       ""},
      {"select: index -size is the first element",
       [] { TG_CHECK(arange(5).select(0, -5).item() == 0.0, "select: wrong element"); }, ""},
  };
  for (const auto& row : rows) {
    BOOST_TEST_CONTEXT("edge case '"
                       << row.name << "'"
                       << (row.known_issue.empty() ? std::string()
                                                   : " [KNOWN ISSUE: " + row.known_issue + "]")) {
      std::string msg;
      const std::string got =
          row.known_issue.empty() ? outcome(row.call, msg) : outcome_isolated(row.call, msg);
      const std::string what = got.empty() ? "tg::Error: " + msg : got;
      if (row.known_issue.empty())
        BOOST_TEST(got == "no exception", what);
      else
        BOOST_WARN_MESSAGE(got == "no exception", "still broken: " << what);
    }
  }
}

BOOST_AUTO_TEST_CASE(autograd_misuse) {
  run_table({
      {"requires_grad_ on int64", [] { arange(3).requires_grad_(); }, {"requires_grad_", "int64"}},
      {"requires_grad_(false) on a non-leaf",
       [] { (leaf({2}) * 2.0).requires_grad_(false); },
       {"requires_grad_", "non-leaf"}},
      {"backward twice without retain_graph",
       [] {
         Tensor x = leaf({3});
         Tensor y = (x * x).sum();
         y.backward();
         y.backward();
       },
       {"mul", "second time", "retain_graph"}},
      {"backward of a non-scalar without a gradient",
       [] { (leaf({3}) * 2.0).backward(); },
       {"backward", "[3]", "one-element"}},
      {"backward of a tensor that needs no grad",
       [] { ones({1}).backward(); },
       {"backward", "does not require grad"}},
      {"backward with a mis-shaped gradient",
       [] { (leaf({3}) * 2.0).backward(ones({2})); },
       {"backward", "[2]", "[3]"}},
      {"in-place change of a saved tensor",
       [] {
         Tensor x = leaf({3}), w = ones({3});
         Tensor y = (x * w).sum();
         w.add_(1.0);
         y.backward();
       },
       {"mul", "modified by an in-place operation", "version 0 -> 1"}},
      {"in-place change of a leaf that requires grad",
       [] { leaf({3}).mul_(2.0); },
       {"mul_", "leaf"}},
      {"set_grad with the wrong shape",
       [] { leaf({3}).set_grad(ones({2})); },
       {"set_grad", "[2]", "[3]"}},
      {"grad of an unused input",
       [] {
         Tensor x = leaf({2}), z = leaf({2});
         grad({(x * 2.0).sum()}, {z});
       },
       {"grad", "input 0", "not used"}},
      {"retain_grad on a tensor without grad",
       [] { ones({2}).retain_grad(); },
       {"retain_grad", "does not require grad"}},
      {"gradcheck with float32 inputs",
       [] { gradcheck([](const std::vector<Tensor>& v) { return v[0] * 2.0; }, {leaf({2})}); },
       {"gradcheck", "float32", "float64"}},
      {"anomaly mode: NaN in forward",
       [] {
         DetectAnomalyGuard guard;
         log(leaf({2}) - 1.0 - 1.0);
       },
       {"log", "forward produced NaN or Inf"}},
      {"anomaly mode: Inf in backward names the forward op",
       [] {
         DetectAnomalyGuard guard;
         Tensor x = zeros({2}).requires_grad_();
         sqrt(x).sum().backward();
       },
       {"sqrt", "backward produced NaN or Inf", "forward op 'sqrt'"}},
  });
}

BOOST_AUTO_TEST_CASE(ops_misuse) {
  run_table({
      {"matmul: inner dims differ",
       [] {
         matmul(ones({64, 784}), ones({100, 10}));
       },
       {"matmul", "[64, 784]", "[100, 10]", "784", "100"}},
      {"matmul: dtypes differ",
       [] {
         matmul(ones({2, 2}), ones({2, 2}, kFloat64));
       },
       {"matmul", "float32", "float64"}},
      {"matmul: integer tensors",
       [] {
         matmul(ones({2, 2}, kInt64), ones({2, 2}, kInt64));
       },
       {"matmul", "int64"}},
      {"mm: 3-D operand",
       [] {
         mm(ones({2, 3, 4}), ones({4, 5}));
       },
       {"mm", "[2, 3, 4]"}},
      {"bmm: batch sizes differ",
       [] {
         bmm(ones({2, 3, 4}), ones({3, 4, 5}));
       },
       {"bmm", "[2, 3, 4]", "[3, 4, 5]"}},
      {"dot: lengths differ", [] { dot(ones({3}), ones({4})); }, {"dot", "3", "4"}},
      {"addmm: input does not broadcast",
       [] {
         addmm(ones({5}), ones({2, 3}), ones({3, 4}));
       },
       {"addmm", "[5]", "[2, 4]"}},
      {"cat: shapes differ off the cat dim",
       [] {
         cat({ones({2, 3}), ones({2, 4})}, 0);
       },
       {"cat", "tensor 1", "[2, 4]"}},
      {"cat: empty list", [] { cat({}, 0); }, {"cat", "non-empty"}},
      {"stack: shapes differ",
       [] {
         stack({ones({2}), ones({3})});
       },
       {"stack", "tensor 1", "[3]"}},
      {"split: zero split size", [] { split(ones({4}), 0); }, {"split", "0"}},
      {"chunk: zero chunks", [] { chunk(ones({4}), 0); }, {"chunk", "0"}},
      {"index_select: index out of range",
       [] {
         index_select(ones({3, 2}), 0, idx({0, 5}));
       },
       {"index_select", "index 5", "size 3"}},
      {"index_select: float index",
       [] {
         index_select(ones({3, 2}), 0, ones({1}));
       },
       {"index_select", "int64", "float32"}},
      {"gather: index out of range",
       [] {
         gather(ones({2, 3}), 1, idx({7, 0}).reshape({2, 1}));
       },
       {"gather", "index 7", "size 3"}},
      {"gather: index rank differs",
       [] {
         gather(ones({2, 3}), 1, idx({0, 1}));
       },
       {"gather", "[2]", "[2, 3]"}},
      {"scatter_add: src dtype differs",
       [] { scatter_add(zeros({3}), 0, idx({0}), ones({1}, kFloat64)); },
       {"scatter_add", "float64", "float32"}},
      {"masked_fill: float mask",
       [] { masked_fill(ones({3}), ones({3}), 0.0); },
       {"masked_fill", "uint8", "float32"}},
      {"one_hot: negative class",
       [] {
         one_hot(idx({1, -1}), 3);
       },
       {"one_hot", "-1"}},
      {"one_hot: class out of range", [] { one_hot(idx({5}), 3); }, {"one_hot", "5", "3"}},
      {"repeat: fewer counts than dims",
       [] {
         repeat(ones({2, 3}), {2});
       },
       {"repeat", "1", "2"}},
      {"pad: odd pad list",
       [] {
         pad(ones({2, 3}), {1, 2, 3});
       },
       {"pad", "[1, 2, 3]"}},
      {"where: float condition",
       [] { where(ones({2}), ones({2}), ones({2})); },
       {"where", "uint8"}},
      {"lt: shapes do not broadcast", [] { lt(ones({2}), ones({3})); }, {"lt", "[2]", "[3]"}},
      {"cumsum: dim out of range",
       [] {
         cumsum(ones({2, 2}), 3);
       },
       {"cumsum", "dim 3"}},
      {"argmax: dim out of range",
       [] {
         argmax(ones({2, 2}), -3);
       },
       {"argmax", "dim -3"}},
      {"max: empty tensor", [] { tg::max(ones({0})); }, {"max", "[0]"}},
      {"mean: integer tensor", [] { mean(arange(4)); }, {"mean", "int64"}},
      {"norm: negative p", [] { norm(ones({3}), -1.0); }, {"norm", "-1"}},
      {"softmax: dim out of range",
       [] {
         F::softmax(ones({2, 3}), 2);
       },
       {"softmax", "dim 2"}},
      {"linear: in_features differ",
       [] {
         F::linear(ones({4, 5}), ones({3, 6}));
       },
       {"linear", "[4, 5]", "[3, 6]"}},
      {"cross_entropy: target out of range",
       [] {
         F::cross_entropy(ones({2, 3}), idx({0, 5}));
       },
       {"cross_entropy", "target 5", "3"}},
      {"cross_entropy: batch sizes differ",
       [] {
         F::cross_entropy(ones({2, 3}), idx({0, 1, 2}));
       },
       {"cross_entropy", "[3]", "[2]"}},
      {"cross_entropy: float target of the wrong shape",
       [] {
         F::cross_entropy(ones({2, 3}), ones({2, 2}));
       },
       {"cross_entropy", "[2, 2]", "[2, 3]"}},
      {"mse_loss: shapes differ",
       [] {
         F::mse_loss(ones({2, 3}), ones({3, 2}));
       },
       {"mse_loss", "[2, 3]", "[3, 2]"}},
      {"binary_cross_entropy: input outside [0, 1]",
       [] { F::binary_cross_entropy(full({2}, 1.5), ones({2})); },
       {"binary_cross_entropy", "1.5"}},
      {"dropout: p above 1", [] { F::dropout(ones({3}), 1.5, true); }, {"dropout", "1.5"}},
      {"batch_norm: running stats of the wrong size",
       [] {
         F::batch_norm(ones({4, 3}), zeros({2}), ones({2}), {}, {}, false);
       },
       {"batch_norm", "[3]", "[2]"}},
  });
}

BOOST_AUTO_TEST_CASE(pooling_misuse) {
  run_table({
      {"max_pool2d: kernel larger than the padded input",
       [] {
         F::max_pool2d(ones({1, 1, 5, 5}), 7);
       },
       {"max_pool2d", "[5, 5]", "output size [0, 0]", "too small"}},
      {"max_pool2d: padding more than half the kernel",
       [] {
         F::max_pool2d(ones({1, 1, 5, 5}), 3, 1, 2);
       },
       {"max_pool2d", "padding=[2, 2]", "kernel_size=[3, 3]"}},
      {"max_pool2d: zero stride",
       [] {
         F::max_pool2d(ones({1, 1, 4, 4}), 2, 0);
       },
       {"max_pool2d", "stride must be positive", "[0, 0]"}},
      {"max_pool2d: negative padding",
       [] {
         F::max_pool2d(ones({1, 1, 4, 4}), 2, 2, {-1, 0});
       },
       {"max_pool2d", "non-negative", "[-1, 0]"}},
      {"max_pool2d: zero kernel",
       [] {
         F::max_pool2d(ones({1, 1, 4, 4}), {0, 2});
       },
       {"max_pool2d", "kernel_size", "[0, 2]"}},
      {"max_pool2d: 2-D input",
       [] {
         F::max_pool2d(ones({5, 5}), 2);
       },
       {"max_pool2d", "[C, H, W]", "[5, 5]"}},
      {"max_pool2d: empty spatial dim",
       [] {
         F::max_pool2d(ones({1, 2, 0, 4}), 2);
       },
       {"max_pool2d", "non-zero", "[1, 2, 0, 4]"}},
      {"max_pool2d: integer input",
       [] {
         F::max_pool2d(ones({1, 1, 4, 4}, kInt64), 2);
       },
       {"max_pool2d", "int64"}},
      {"max_pool1d: 4-D input",
       [] {
         F::max_pool1d(ones({1, 1, 4, 4}), 2);
       },
       {"max_pool1d", "[N, C, L]", "[1, 1, 4, 4]"}},
      {"max_pool1d: dilated kernel longer than the input",
       [] {
         F::max_pool1d(ones({1, 2, 5}), 3, 1, 0, 3);
       },
       {"max_pool1d", "input of size 5", "output size -1"}},
      {"avg_pool2d: padding more than half the kernel",
       [] {
         F::avg_pool2d(ones({1, 1, 6, 6}), {4, 2}, 1, {1, 2});
       },
       {"avg_pool2d", "padding=[1, 2]", "kernel_size=[4, 2]"}},
      {"avg_pool2d: zero divisor_override",
       [] {
         F::avg_pool2d(ones({1, 1, 4, 4}), 2, 2, 0, false, true, 0);
       },
       {"avg_pool2d", "divisor_override"}},
      {"avg_pool1d: kernel larger than the input",
       [] {
         F::avg_pool1d(ones({2, 3}), 4);
       },
       {"avg_pool1d", "input of size 3", "output size 0"}},
      {"adaptive_avg_pool2d: negative output size",
       [] {
         F::adaptive_avg_pool2d(ones({1, 1, 4, 4}), {2, -1});
       },
       {"adaptive_avg_pool2d", "[2, -1]"}},
      {"adaptive_max_pool2d: 5-D input",
       [] {
         F::adaptive_max_pool2d(ones({1, 1, 1, 4, 4}), 2);
       },
       {"adaptive_max_pool2d", "[1, 1, 1, 4, 4]"}},
      {"batch_norm [N, C, H, W]: weight of the wrong channel count",
       [] {
         F::batch_norm(ones({2, 3, 4, 4}), {}, {}, ones({4}), {}, true);
       },
       {"batch_norm", "weight", "[3]", "[4]"}},
      {"BatchNorm2d: channel mismatch",
       [] {
         nn::BatchNorm2d(3)(ones({2, 4, 5, 5}));
       },
       {"BatchNorm2d(3)", "[N, 3, H, W]", "[2, 4, 5, 5]"}},
      {"BatchNorm2d: [N, C] input",
       [] {
         nn::BatchNorm2d(3)(ones({2, 3}));
       },
       {"BatchNorm2d(3)", "[2, 3]"}},
      {"dropout2d: 2-D input",
       [] {
         F::dropout2d(ones({4, 3}), 0.5, true);
       },
       {"dropout2d", "[4, 3]"}},
      {"Dropout2d: p above 1", [] { nn::Dropout2d(1.5); }, {"Dropout2d", "1.5"}},
      {"Unflatten: dim out of range",
       [] {
         nn::Unflatten(3, {2, 2})(ones({4, 4}));
       },
       {"Unflatten", "dim 3", "[4, 4]"}},
  });
}

// Convolutions and their modules (issue 13).
BOOST_AUTO_TEST_CASE(conv_misuse) {
  run_table({
      {"conv2d: input channels differ from the weight's",
       [] {
         F::conv2d(ones({1, 3, 5, 5}), ones({4, 2, 3, 3}));
       },
       {"conv2d", "[4, 2, 3, 3]", "expects 2 input channels", "[1, 3, 5, 5]"}},
      {"conv2d: groups do not divide the input channels",
       [] {
         F::conv2d(ones({1, 3, 5, 5}), ones({4, 1, 3, 3}), {}, 1, 0, 1, 2);
       },
       {"conv2d", "groups=2", "input channels (3)"}},
      {"conv2d: groups do not divide the output channels",
       [] {
         F::conv2d(ones({1, 4, 5, 5}), ones({3, 2, 3, 3}), {}, 1, 0, 1, 2);
       },
       {"conv2d", "groups=2", "output channels (3)"}},
      {"conv2d: kernel larger than the padded input",
       [] {
         F::conv2d(ones({1, 1, 2, 2}), ones({1, 1, 3, 3}));
       },
       {"conv2d", "kernel size (3, 3)", "padded input (2, 2)"}},
      {"conv2d: dilated kernel larger than the padded input",
       [] {
         F::conv2d(ones({1, 1, 4, 4}), ones({1, 1, 2, 2}), {}, 1, 0, 4);
       },
       {"conv2d", "dilation (4, 4)", "spans (5, 5)", "padded input (4, 4)"}},
      {"conv2d: negative padding",
       [] {
         F::conv2d(ones({1, 1, 4, 4}), ones({1, 1, 2, 2}), {}, 1, {0, -1});
       },
       {"conv2d", "padding", "(0, -1)"}},
      {"conv2d: 3-d input",
       [] {
         F::conv2d(ones({1, 4, 4}), ones({1, 1, 2, 2}));
       },
       {"conv2d", "4-d input", "[1, 4, 4]"}},
      {"conv2d: 3-d weight",
       [] {
         F::conv2d(ones({1, 1, 4, 4}), ones({1, 1, 2}));
       },
       {"conv2d", "4-d weight", "[1, 1, 2]"}},
      {"conv2d: zero stride",
       [] {
         F::conv2d(ones({1, 1, 4, 4}), ones({1, 1, 2, 2}), {}, {1, 0});
       },
       {"conv2d", "stride", "(1, 0)"}},
      {"conv2d: \"same\" with stride 2",
       [] {
         F::conv2d(ones({1, 1, 4, 4}), ones({1, 1, 3, 3}), {}, 2, "same");
       },
       {"conv2d", "same", "strided", "(2, 2)"}},
      {"conv2d: unknown padding mode",
       [] {
         F::conv2d(ones({1, 1, 4, 4}), ones({1, 1, 3, 3}), {}, 1, "full");
       },
       {"padding", "\"full\""}},
      {"conv2d: bias of the wrong size",
       [] {
         F::conv2d(ones({1, 1, 4, 4}), ones({2, 1, 3, 3}), ones({3}));
       },
       {"conv2d", "bias", "[2]", "[3]"}},
      {"conv2d: weight dtype differs",
       [] {
         F::conv2d(ones({1, 1, 4, 4}), ones({1, 1, 3, 3}, kFloat64));
       },
       {"conv2d", "weight dtype", "float64", "float32"}},
      {"conv2d: integer input",
       [] {
         F::conv2d(zeros({1, 1, 4, 4}, kInt64), ones({1, 1, 3, 3}));
       },
       {"conv2d", "floating-point input", "int64"}},
      {"conv1d: input channels differ from the weight's",
       [] {
         F::conv1d(ones({2, 3, 8}), ones({4, 2, 3}));
       },
       {"conv1d", "[4, 2, 3]", "[2, 3, 8]"}},
      {"conv1d: 4-d input",
       [] {
         F::conv1d(ones({2, 3, 8, 1}), ones({4, 3, 3}));
       },
       {"conv1d", "3-d input", "[2, 3, 8, 1]"}},
      {"conv1d: kernel longer than the padded input",
       [] {
         F::conv1d(ones({1, 1, 3}), ones({1, 1, 5}));
       },
       {"conv1d", "kernel size (1, 5)", "padded input (1, 3)"}},
      {"conv_transpose2d: output size not positive",
       [] {
         F::conv_transpose2d(ones({1, 1, 2, 2}), ones({1, 1, 2, 2}), {}, 1, 3);
       },
       {"conv_transpose2d", "output size (-3, -3)", "not positive"}},
      {"conv_transpose2d: output_padding not below stride or dilation",
       [] {
         F::conv_transpose2d(ones({1, 1, 2, 2}), ones({1, 1, 2, 2}), {}, 2, 0, 2);
       },
       {"conv_transpose2d", "output_padding (2, 2)", "stride (2, 2)"}},
      {"conv_transpose2d: input channels differ from the weight's",
       [] {
         F::conv_transpose2d(ones({1, 3, 2, 2}), ones({2, 1, 2, 2}));
       },
       {"conv_transpose2d", "[2, 1, 2, 2]", "[1, 3, 2, 2]"}},
      {"conv_transpose2d: groups do not divide the input channels",
       [] {
         F::conv_transpose2d(ones({1, 3, 2, 2}), ones({3, 1, 2, 2}), {}, 1, 0, 0, 2);
       },
       {"conv_transpose2d", "groups=2", "input channels (3)"}},
      {"conv_transpose2d: negative padding",
       [] {
         F::conv_transpose2d(ones({1, 1, 2, 2}), ones({1, 1, 2, 2}), {}, 1, -1);
       },
       {"conv_transpose2d", "padding", "(-1, -1)"}},
      {"conv2d_weight: grad_output of the wrong size",
       [] {
         F::conv2d_weight(ones({1, 1, 4, 4}), 3, ones({1, 1, 3, 3}));
       },
       {"conv2d_weight", "[1, 1, 3, 3]", "[1, 1, 2, 2]"}},
      {"unfold: kernel larger than the padded input",
       [] {
         F::unfold(ones({1, 1, 2, 2}), 3);
       },
       {"unfold", "kernel size (3, 3)", "padded input (2, 2)"}},
      {"fold: rows not a multiple of the kernel size",
       [] {
         F::fold(ones({1, 5, 4}), {3, 3}, 2);
       },
       {"fold", "5 rows", "(2, 2)"}},
      {"fold: block count does not match the output size",
       [] {
         F::fold(ones({1, 4, 5}), {3, 3}, 2);
       },
       {"fold", "5 blocks", "(2, 2) = 4"}},
      {"Conv2d: groups do not divide in_channels",
       [] { nn::Conv2d(3, 4, 3, {.groups = 2}); },
       {"Conv2d", "groups=2", "in_channels=3"}},
      {"Conv2d: zero kernel size",
       [] {
         nn::Conv2d(3, 4, {3, 0});
       },
       {"Conv2d", "kernel_size", "(3, 0)"}},
      {"Conv2d: input with other channels",
       [] {
         nn::Conv2d conv(3, 4, 3);
         conv(ones({1, 2, 5, 5}));
       },
       {"conv2d", "expects 3 input channels", "[1, 2, 5, 5]"}},
      {"ConvTranspose2d: groups do not divide out_channels",
       [] { nn::ConvTranspose2d(4, 3, 3, {.groups = 2}); },
       {"ConvTranspose2d", "groups=2", "out_channels=3"}},
  });
}

// Issue 12: the method spellings and print options.
BOOST_AUTO_TEST_CASE(api_misuse) {
  run_table({
      {"all: dim out of range",
       [] {
         ones({2, 3}).all(2);
       },
       {"all", "dim 2", "out of range"}},
      {"any: dim out of range", [] { ones({2}).any(-2); }, {"any", "dim -2", "out of range"}},
      {"x.max(dim): dim out of range", [] { ones({2}).max(1); }, {"max", "dim 1"}},
      {"set_printoptions: negative precision",
       [] { set_printoptions({.precision = -1}); },
       {"set_printoptions", "precision", "-1"}},
      {"set_printoptions: zero linewidth",
       [] { set_printoptions({.linewidth = 0}); },
       {"set_printoptions", "linewidth", "0"}},
  });
}

// Selection and recurrent ops and layers (issue 14, helper rnn).
BOOST_AUTO_TEST_CASE(rnn_misuse) {
  run_table({
      {"topk: k larger than the dim",
       [] {
         topk(ones({2, 3}), 5);
       },
       {"topk", "k (5)", "size 3"}},
      {"sort: dim out of range",
       [] {
         sort(ones({2, 3}), 3);
       },
       {"sort", "3"}},
      {"unbind: 0-dim", [] { unbind(scalar_tensor(1.0)); }, {"unbind", "at least 1 dim"}},
      {"lstm_cell: input width differs from w_ih",
       [] {
         lstm_cell(ones({2, 3}), {ones({2, 4}), ones({2, 4})}, ones({16, 5}), ones({16, 4}));
       },
       {"lstm_cell", "3 features", "input_size 5"}},
      {"lstm_cell: c undefined",
       [] {
         lstm_cell(ones({2, 3}), {ones({2, 4}), Tensor()}, ones({16, 3}), ones({16, 4}));
       },
       {"lstm_cell", "c must be defined"}},
      {"gru_cell: w_hh not [3H, H]",
       [] {
         gru_cell(ones({2, 3}), ones({2, 4}), ones({12, 3}), ones({12, 5}));
       },
       {"gru_cell", "[12, 5]"}},
      {"rnn_tanh_cell: bias of the wrong size",
       [] {
         rnn_tanh_cell(ones({2, 3}), ones({2, 4}), ones({4, 3}), ones({4, 4}), ones({5}));
       },
       {"rnn_tanh_cell", "[4]", "[5]"}},
      {"gru_gates: gx and gh differ",
       [] {
         gru_gates(ones({2, 6}), ones({2, 3}), ones({2, 2}));
       },
       {"gru_gates", "[2, 6]", "[2, 3]"}},
      {"LSTM: input of the wrong width",
       [] {
         nn::LSTM(10, 20)(ones({5, 3, 7}));
       },
       {"LSTM", "input_size=10", "[5, 3, 7]"}},
      {"GRU: h0 of the wrong shape",
       [] {
         nn::GRU(2, 3, {.bidirectional = true}).forward(ones({4, 1, 2}), ones({1, 1, 3}));
       },
       {"GRU", "h0", "[2, 1, 3]", "[1, 1, 3]"}},
      {"RNN: 4-d input",
       [] {
         nn::RNN(2, 3)(ones({1, 2, 3, 2}));
       },
       {"RNN", "[1, 2, 3, 2]"}},
      {"LSTM: empty sequence",
       [] {
         nn::LSTM(2, 3)(ones({0, 1, 2}));
       },
       {"LSTM", "[0, 1, 2]"}},
      {"LSTM: dropout above 1", [] { nn::LSTM(2, 3, {.dropout = 1.5}); }, {"LSTM", "1.5"}},
      {"LSTMCell: input of the wrong width",
       [] {
         nn::LSTMCell(3, 4)(ones({2, 5}));
       },
       {"lstm_cell", "5 features", "input_size 3"}},
      {"lstm_layer: input width differs from w_ih",
       [] {
         lstm_layer(ones({4, 2, 3}), {}, ones({16, 5}), ones({16, 4}));
       },
       {"lstm_layer", "3 features", "input_size 5"}},
      {"lstm_layer: c0 of the wrong shape",
       [] {
         lstm_layer(ones({4, 2, 3}), {ones({2, 4}), ones({1, 4})}, ones({16, 3}), ones({16, 4}));
       },
       {"lstm_layer", "[2, 4]", "[1, 4]"}},
      {"lstm_layer: float64 bias with float32 input",
       [] {
         lstm_layer(ones({4, 2, 3}), {}, ones({16, 3}), ones({16, 4}), ones({16}, kFloat64));
       },
       {"lstm_layer", "float32", "float64"}},
  });
}

// Issue 12 (bool, promotion, messages): what PyTorch refuses on bool, float labels passed as
// class indices, and anomaly mode blaming the op the user called with the input that carried
// the NaN.
BOOST_AUTO_TEST_CASE(bool_and_message_misuse) {
  const auto mask = [] { return tensor({1.0, 0.0}, kFloat64).to(kBool); };
  run_table({
      {"neg of a bool tensor", [&] { -mask(); }, {"neg", "bool", "logical_not"}},
      {"sub of bool tensors", [&] { mask() - mask(); }, {"sub", "bool", "logical_xor"}},
      {"where with an int64 condition",
       [&] { where(mask().to(kInt64), ones({2}), zeros({2})); },
       {"where", "condition", "bool", "int64"}},
      {"masked_fill with a float32 mask",
       [] { masked_fill(ones({2}), ones({2}), 0.0); },
       {"masked_fill", "mask", "bool", "float32"}},
      {"~ of a float tensor", [] { ~ones({2}); }, {"operator~", "float32", "logical_not"}},
      {"in-place add of int64 into bool",
       [&] { mask().add_(ones({2}, kInt64)); },
       {"add_", "int64", "bool"}},
      {"cross_entropy: float labels of the batch's shape",
       [] {
         F::cross_entropy(zeros({8, 10}), zeros({8}));
       },
       {"cross_entropy: class-index targets must be int64, got float32 of shape [8]",
        "probability targets must be floating-point with the input's shape [8, 10]"}},
      {"nll_loss: float labels",
       [] {
         F::nll_loss(zeros({8, 10}), zeros({8}));
       },
       {"nll_loss: class-index targets must be int64, got float32 of shape [8]"}},
      {"cross_entropy: bool labels",
       [] {
         F::cross_entropy(zeros({2, 3}), zeros({2}, kBool));
       },
       {"class-index targets must be int64, got bool of shape [2]"}},
      {"anomaly mode: NaN arriving with a Linear's input is blamed on linear and that input",
       [] {
         DetectAnomalyGuard guard;
         nn::Linear fc(3, 2);
         Tensor x = ones({4, 3});
         x.set({1, 2}, std::numeric_limits<double>::quiet_NaN());
         fc(x);
       },
       {"linear: forward produced NaN or Inf", "its input 0 (shape [4, 3])",
        "arrived with that input"}},
      {"anomaly mode: NaN inside matmul's internal ops is blamed on matmul",
       [] {
         DetectAnomalyGuard guard;
         Tensor v = ones({3});
         v.set({0}, std::numeric_limits<double>::infinity());
         matmul(v, ones({3, 2}) * 0.0);  // inf * 0 inside the internal mm of [1, 3] x [3, 2]
       },
       {"matmul: forward produced NaN or Inf", "internal op", "its input 0 (shape [3])"}},
      {"anomaly mode: NaN in an internal op's backward is blamed on the user's op",
       [] {
         DetectAnomalyGuard guard;
         Tensor x = ones({3}).requires_grad_();
         Tensor y = matmul(x, ones({3, 2}));  // [3] x [3, 2]: internal unsqueeze, mm, squeeze
         y.backward(tensor({std::numeric_limits<double>::infinity(), 1.0}, kFloat32));
       },
       {"matmul: backward produced NaN or Inf", "of its internal op",
        "recorded by forward op 'matmul'", "the gradient it received already held NaN or Inf"}},
  });
}
