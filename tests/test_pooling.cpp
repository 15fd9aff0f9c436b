// Pooling, BatchNorm2d, Dropout2d and Unflatten against PyTorch 1.13's numbers (generated once
// with torch.nn.functional on the same inputs): values and indices of max pooling with padding,
// ceil_mode and dilation, tie order, average pooling's three divisors, adaptive bins, the 1-d
// forms; results equal on 1 and 2 threads; the modules' printing and state dicts.
#define BOOST_TEST_MODULE pooling
#include <boost/test/unit_test.hpp>

#include <tapegrad/tapegrad.h>
#include <algorithm>
#include <cmath>

#include "error_text.h"

using namespace tg;
namespace F = tg::nn::functional;
using test::contains;
using test::error_of;

namespace {
// [1, 1, 5, 6]
Tensor digits() {
  return from_vector(std::vector<double>{3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5, 8, 9, 7, 9,
                                         3, 2, 3, 8, 4, 6, 2, 6, 4, 3, 3, 8, 3, 2, 7},
                     {1, 1, 5, 6});
}
void expect(const Tensor& got, const std::vector<double>& want, const Shape& shape,
            double tol = 1e-12) {
  BOOST_TEST(shape_str(got.shape()) == shape_str(shape));
  const auto g = got.to(kFloat64).contiguous().to_vector<double>();
  BOOST_REQUIRE_EQUAL(g.size(), want.size());
  for (std::size_t i = 0; i < g.size(); ++i)
    BOOST_TEST(g[i] == want[i], boost::test_tools::tolerance(tol));
}
void expect_idx(const Tensor& got, const std::vector<std::int64_t>& want) {
  BOOST_TEST(got.dtype() == kInt64);
  const auto g = got.contiguous().to_vector<std::int64_t>();
  BOOST_TEST(g == want, boost::test_tools::per_element());
}
}  // namespace

BOOST_AUTO_TEST_CASE(max_pool_values_and_indices_match_pytorch) {
  auto r = F::max_pool2d_with_indices(digits(), 3, 2, 1, 1, true);
  expect(r.values, {6, 6, 9, 9, 9, 9, 8, 8, 8, 8, 7, 7}, {1, 1, 3, 4});
  expect_idx(r.indices, {7, 7, 5, 5, 12, 14, 11, 11, 18, 26, 29, 29});
  r = F::max_pool2d_with_indices(digits(), {2, 3}, {1, 2}, 0, {2, 1});
  expect(r.values, {9, 9, 8, 6, 9, 9}, {1, 1, 3, 2});
  expect_idx(r.indices, {12, 14, 18, 20, 12, 14});
  r = F::adaptive_max_pool2d_with_indices(digits(), {3, 4});
  expect(r.values, {6, 6, 5, 9, 9, 9, 6, 8, 8, 8, 6, 7}, {1, 1, 3, 4});
  expect_idx(r.indices, {7, 7, 4, 5, 12, 14, 22, 11, 18, 26, 22, 29});
  r = F::max_pool1d_with_indices(digits().reshape({1, 2, 15}), 4, 3, 2, 1, true);
  expect(r.values, {3, 5, 9, 6, 9, 9, 3, 8, 6, 6, 8, 7}, {1, 2, 6});
  expect_idx(r.indices, {0, 4, 5, 7, 12, 14, 0, 3, 5, 7, 11, 14});
  // Ties keep the first maximum in window order, -0.0 against 0.0 included.
  const Tensor t = from_vector(std::vector<double>{1, 1, 0, -0.0, 1, 1, -0.0, 0}, {1, 1, 2, 4});
  expect_idx(F::max_pool2d_with_indices(t, 2).indices, {0, 2});
  // float32 takes the same path.
  expect(F::max_pool2d(digits().to(kFloat32), 2), {6, 5, 9, 9, 9, 6}, {1, 1, 2, 3});
}

BOOST_AUTO_TEST_CASE(avg_pool_divisors_and_adaptive_bins_match_pytorch) {
  expect(F::avg_pool2d(digits(), 3, 2, 1, true, false),
         {3.0, 3.3333333333333335, 5.166666666666667, 8.5, 6.0, 5.0, 4.0, 5.0, 4.5,
          4.333333333333333, 4.0, 5.5},
         {1, 1, 3, 4});
  expect(F::avg_pool2d(digits(), 3, 2, 1, true, true),
         {1.3333333333333333, 2.2222222222222223, 3.4444444444444446, 2.8333333333333335, 4.0, 5.0,
          4.0, 2.5, 2.0, 2.888888888888889, 2.6666666666666665, 1.8333333333333333},
         {1, 1, 3, 4});
  expect(F::avg_pool2d(digits(), 2, 1, 0, false, true, 3),
         {4.0,
          5.333333333333333,
          4.333333333333333,
          4.666666666666667,
          9.0,
          8.0,
          9.0,
          6.666666666666667,
          4.333333333333333,
          6.0,
          9.333333333333334,
          8.666666666666666,
          6.666666666666667,
          4.333333333333333,
          5.0,
          6.0,
          7.0,
          6.333333333333333,
          4.333333333333333,
          6.333333333333333},
         {1, 1, 4, 5});
  expect(F::adaptive_avg_pool2d(digits(), {2, 4}),
         {4.666666666666667, 5.333333333333333, 3.1666666666666665, 5.333333333333333,
          5.666666666666667, 6.166666666666667, 3.0, 4.0},
         {1, 1, 2, 4});
  expect(F::avg_pool1d(digits().reshape({1, 2, 15}), 4, 3, 2, true),
         {1.0, 2.75, 5.5, 4.75, 7.25, 4.0, 1.25, 4.25, 4.5, 4.0, 4.0, 2.25}, {1, 2, 6});
  // Global average pooling is the mean over H and W.
  const Tensor x = randn({2, 3, 4, 5}, kFloat64);
  BOOST_TEST(allclose(F::adaptive_avg_pool2d(x, 1), mean(x, {2, 3}, true), 1e-12, 1e-12));
}

BOOST_AUTO_TEST_CASE(pooling_is_bit_identical_on_one_and_two_threads) {
  manual_seed(5);
  const Tensor x = randn({8, 16, 20, 20}).requires_grad_();  // enough planes for several tasks
  auto run = [&] {
    std::vector<Tensor> out;
    for (int k = 0; k < 3; ++k) {
      Tensor y = k == 0   ? F::max_pool2d(x, 2)
                 : k == 1 ? F::avg_pool2d(x, 3, 2, 1, true)
                          : F::adaptive_avg_pool2d(x, 10);
      out.push_back(y.detach());
      const Tensor g =
          sin(arange(0.0, static_cast<double>(y.numel()), 1.0, kFloat32)).reshape(y.shape());
      out.push_back(grad({y}, {x}, {g})[0]);
    }
    return out;
  };
  const int before = get_num_threads();
  set_num_threads(1);
  const auto one = run();
  set_num_threads(2);
  const auto two = run();
  set_num_threads(before);
  for (std::size_t i = 0; i < one.size(); ++i) BOOST_TEST(equal(one[i], two[i]));
}

BOOST_AUTO_TEST_CASE(batch_norm_2d_matches_pytorch_and_round_trips) {
  nn::BatchNorm2d bn(2);
  const Tensor x = pow(arange(0.0, 24.0, 1.0, kFloat32).reshape({2, 2, 3, 2}), 1.5) / 10.0;
  const Tensor y = bn(x);
  expect(y.to(kFloat64),
         {-1.137397289276123,  -1.099611759185791,  -1.0305237770080566, -0.9410580396652222,
          -0.8351132869720459, -0.7149425148963928, -1.2573491334915161, -1.1491069793701172,
          -1.0328291654586792, -0.9090366959571838, -0.7781611084938049, -0.6405667066574097,
          0.43331655859947205, 0.633691132068634,   0.8419284224510193,  1.0577419996261597,
          1.2808749675750732,  1.511094331741333,   0.48860934376716614, 0.6712594032287598,
          0.8587815165519714,  1.0510523319244385,  1.2479569911956787,  1.4493895769119263},
         {2, 2, 3, 2}, 1e-6);  // float32
  BOOST_TEST(allclose(bn.running_mean, tensor({0.3010142147541046f, 0.5910891890525818f}), 1e-5));
  BOOST_TEST(allclose(bn.running_var, tensor({1.664077639579773f, 2.2610578536987305f}), 1e-5));
  std::vector<std::string> names;
  for (const auto& [name, t] : bn.state_dict()) names.push_back(name);
  std::sort(names.begin(), names.end());
  BOOST_TEST(names == (std::vector<std::string>{"bias", "num_batches_tracked", "running_mean",
                                                "running_var", "weight"}),
             boost::test_tools::per_element());
  // Eval mode uses the running statistics; a fresh module loaded from the state dict agrees.
  bn.eval();
  nn::BatchNorm2d copy(2);
  copy.load_state_dict(bn.state_dict());
  copy.eval();
  BOOST_TEST(equal(bn(x), copy(x)));
  BOOST_TEST(contains(error_of([&] {
                        bn(randn({2, 3, 4, 4}));
                      }),
                      "BatchNorm2d(2): expected input of shape [N, 2, H, W], got [2, 3, 4, 4]"));
}

BOOST_AUTO_TEST_CASE(modules_print_like_pytorch) {
  auto repr = [](nn::Module&& m) {
    std::ostringstream os;
    m.pretty_print(os);
    return os.str();
  };
  BOOST_TEST(
      contains(repr(nn::MaxPool2d(2)),
               "MaxPool2d(kernel_size=2, stride=2, padding=0, dilation=1, ceil_mode=false)"));
  BOOST_TEST(contains(repr(nn::AvgPool2d(3, {.stride = 2, .padding = 1})),
                      "AvgPool2d(kernel_size=3, stride=2, padding=1)"));
  BOOST_TEST(contains(repr(nn::AdaptiveAvgPool2d(1)), "AdaptiveAvgPool2d(output_size=1)"));
  BOOST_TEST(
      contains(repr(nn::AdaptiveMaxPool2d({2, 3})), "AdaptiveMaxPool2d(output_size=(2, 3))"));
  BOOST_TEST(
      contains(repr(nn::MaxPool1d(3)),
               "MaxPool1d(kernel_size=3, stride=3, padding=0, dilation=1, ceil_mode=false)"));
  BOOST_TEST(
      contains(repr(nn::AvgPool1d(3)), "AvgPool1d(kernel_size=(3,), stride=(3,), padding=(0,))"));
  BOOST_TEST(contains(repr(nn::Unflatten(1, {1, 28, 28})),
                      "Unflatten(dim=1, unflattened_size=(1, 28, 28))"));
  BOOST_TEST(contains(repr(nn::Dropout2d(0.2)), "Dropout2d(p=0.2)"));
  BOOST_TEST(
      contains(repr(nn::BatchNorm2d(4)),
               "BatchNorm2d(4, eps=1e-05, momentum=0.1, affine=true, track_running_stats=true)"));
  // The modules compute what the functions do.
  const Tensor x = randn({2, 3, 6, 6});
  BOOST_TEST(equal(nn::MaxPool2d(3, {.stride = 2, .padding = 1})(x), F::max_pool2d(x, 3, 2, 1)));
  BOOST_TEST(equal(nn::AdaptiveMaxPool2d(2)(x), F::adaptive_max_pool2d(x, 2)));
  BOOST_TEST(shape_str(nn::Unflatten(1, {2, -1})(randn({4, 6})).shape()) == "[4, 2, 3]");
}

BOOST_AUTO_TEST_CASE(dropout2d_zeroes_whole_channels) {
  manual_seed(3);
  const Tensor x = ones({8, 16, 3, 3});
  const Tensor y = F::dropout2d(x, 0.5, true);
  const auto v = y.to_vector<float>();
  int zeroed = 0;
  for (std::size_t c = 0; c < 8 * 16; ++c) {
    const float first = v[c * 9];
    BOOST_TEST((first == 0.0f || first == 2.0f));
    for (std::size_t k = 1; k < 9; ++k) BOOST_TEST(v[c * 9 + k] == first);
    zeroed += first == 0.0f;
  }
  BOOST_TEST(zeroed > 30);  // 64 expected of 128 channels
  BOOST_TEST(zeroed < 98);
  BOOST_TEST(equal(F::dropout2d(x, 0.5, false), x));
  nn::Dropout2d drop(0.5);
  drop.eval();
  BOOST_TEST(equal(drop(x), x));
}
