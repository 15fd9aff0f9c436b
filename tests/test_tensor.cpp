// Tensor basics: factories, dtypes, element access, views sharing storage, broadcasting,
// printing, in-place ops and the errors a user meets first.
#define BOOST_TEST_MODULE tensor
#include <boost/test/unit_test.hpp>

#include <tapegrad/tapegrad.h>
#include <cmath>
#include <limits>
#include <sstream>
#include "error_text.h"
#include "tapegrad/core/detail/tensor_impl.h"  // internal: this test checks the library's own state

using namespace tg;
using namespace tg::test;

namespace {}  // namespace

BOOST_AUTO_TEST_CASE(factories_fill_shapes_and_dtypes) {
  auto z = zeros({2, 3});
  BOOST_TEST(z.dtype() == kFloat32);
  BOOST_TEST(z.shape() == (Shape{2, 3}));
  BOOST_TEST(z.numel() == 6);
  BOOST_TEST(z.sum().item() == 0.0);
  BOOST_TEST(ones({4}, kFloat64).sum().item() == 4.0);
  BOOST_TEST(full({2, 2}, 2.5).at({1, 1}) == 2.5);
  auto a = arange(5);
  BOOST_TEST(a.dtype() == kInt64);
  BOOST_TEST(a.to_vector<std::int64_t>() == (std::vector<std::int64_t>{0, 1, 2, 3, 4}));
  auto af = arange(0.0, 1.0, 0.25);
  BOOST_TEST(af.dtype() == kFloat32);
  BOOST_TEST(af.numel() == 4);
  auto l = linspace(0, 1, 5, kFloat64);
  BOOST_TEST(l.at({4}) == 1.0);
  BOOST_TEST(l.at({1}) == 0.25);
  auto e = eye(3);
  BOOST_TEST(e.sum().item() == 3.0);
  BOOST_TEST(e.at({1, 1}) == 1.0);
  BOOST_TEST(e.at({0, 1}) == 0.0);
  auto t = tensor({{1, 2, 3}, {4, 5, 6}});
  BOOST_TEST(t.shape() == (Shape{2, 3}));
  BOOST_TEST(t.at({1, 2}) == 6.0);
  BOOST_TEST(t.at({-1, -3}) == 4.0);
  auto v = from_vector(std::vector<std::int64_t>{7, 8, 9, 10}, {2, 2});
  BOOST_TEST(v.dtype() == kInt64);
  BOOST_TEST(v.at<std::int64_t>({1, 0}) == 9);
  std::uint8_t raw[3] = {1, 2, 255};
  auto b = from_blob(raw, {3}, kUInt8);
  raw[0] = 100;  // from_blob copies
  BOOST_TEST(b.at({0}) == 1.0);
  BOOST_TEST(b.at({2}) == 255.0);
  BOOST_TEST(scalar_tensor(3.0).dim() == 0);
  BOOST_TEST(scalar_tensor(3.0).item() == 3.0);
}

BOOST_AUTO_TEST_CASE(random_draws_repeat_after_manual_seed) {
  manual_seed(42);
  auto a = randn({100});
  auto r = rand({100});
  auto i = randint(0, 10, {100});
  manual_seed(42);
  BOOST_TEST(equal(a, randn({100})));
  BOOST_TEST(equal(r, rand({100})));
  BOOST_TEST(equal(i, randint(0, 10, {100})));
  auto m = randn({20000}, kFloat64);
  BOOST_TEST(std::abs(m.mean().item()) < 0.05);
  BOOST_TEST(std::abs(((m * m).mean().item()) - 1.0) < 0.05);
  auto u = rand({20000}, kFloat64);
  BOOST_TEST(u.to_vector<double>() == u.to_vector<double>());
  for (double x : u.to_vector<double>()) BOOST_REQUIRE(x >= 0.0 && x < 1.0);
  for (auto x : randint(-3, 3, {1000}).to_vector<std::int64_t>()) BOOST_REQUIRE(x >= -3 && x < 3);
  // Generator state round trip.
  Generator g(7);
  g.normal();
  const auto state = g.state();
  const double next = g.normal(), after = g.uniform();
  Generator h;
  h.set_state(state);
  BOOST_TEST(h.normal() == next);
  BOOST_TEST(h.uniform() == after);
}

BOOST_AUTO_TEST_CASE(dtype_conversions_and_promotion) {
  auto x = tensor({1.5f, -2.5f, 3.0f});
  BOOST_TEST(x.to(kInt64).to_vector<std::int64_t>() == (std::vector<std::int64_t>{1, -2, 3}));
  BOOST_TEST(x.to(kFloat64).dtype() == kFloat64);
  auto i = arange(3);
  BOOST_TEST((i + x).dtype() == kFloat32);
  BOOST_TEST((i * 2.0).dtype() == kInt64);
  BOOST_TEST((i * 0.5).dtype() == kFloat32);
  BOOST_TEST((x.to(kFloat64) + x).dtype() == kFloat64);
  BOOST_TEST((i / 2.0).dtype() == kFloat32);  // true division of integers gives floats
  BOOST_TEST((i / 2.0).at({1}) == 0.5);
  BOOST_TEST(promote_types(kUInt8, kInt64) == kInt64);
}

BOOST_AUTO_TEST_CASE(views_share_storage_without_copies) {
  auto x = arange(0, 12, 1, kFloat32).reshape({3, 4});
  auto t = x.t();
  BOOST_TEST(t.shape() == (Shape{4, 3}));
  BOOST_TEST(!t.is_contiguous());
  BOOST_TEST(t.impl()->storage == x.impl()->storage);
  BOOST_TEST(t.at({3, 2}) == 11.0);
  auto s = x.slice(1, 1, 4, 2);  // columns 1 and 3
  BOOST_TEST(s.shape() == (Shape{3, 2}));
  BOOST_TEST(s.at({2, 1}) == 11.0);
  BOOST_TEST(s.impl()->storage == x.impl()->storage);
  auto row = x.select(0, 1);
  BOOST_TEST(row.to_vector<float>() == (std::vector<float>{4, 5, 6, 7}));
  auto n = x.narrow(1, 2, 2);
  BOOST_TEST(n.to_vector<float>() == (std::vector<float>{2, 3, 6, 7, 10, 11}));
  auto u = x.unsqueeze(0);
  BOOST_TEST(u.shape() == (Shape{1, 3, 4}));
  BOOST_TEST(u.squeeze(0).shape() == (Shape{3, 4}));
  BOOST_TEST(x.reshape({2, 1, 6}).squeeze().shape() == (Shape{2, 6}));
  auto p = x.reshape({3, 2, 2}).permute({2, 0, 1});
  BOOST_TEST(p.shape() == (Shape{2, 3, 2}));
  BOOST_TEST(p.at({1, 2, 0}) == 9.0);
  auto e = tensor({1.0f, 2.0f}).reshape({2, 1}).expand({2, 3});
  BOOST_TEST(e.strides()[1] == 0);
  BOOST_TEST(e.sum().item() == 9.0);
  BOOST_TEST(x.flatten().shape() == (Shape{12}));
  // A write through a view is seen by the base.
  row.fill_(-1);
  BOOST_TEST(x.at({1, 3}) == -1.0);
  // view() refuses what needs a copy; reshape() copies.
  BOOST_TEST(contains(error_of([&] { t.view({12}); }), "view: cannot view"));
  BOOST_TEST(t.reshape({12}).at({1}) == -1.0);  // x[1][0], overwritten above
  BOOST_TEST(t.contiguous().is_contiguous());
  BOOST_TEST(x.contiguous().is_same(x));  // no copy when already contiguous
  BOOST_TEST(x.reshape({-1, 6}).shape() == (Shape{2, 6}));
}

BOOST_AUTO_TEST_CASE(broadcasting_follows_numpy) {
  auto a = tensor({1.0f, 2.0f, 3.0f}).reshape({3, 1});
  auto b = tensor({10.0f, 20.0f});
  auto c = a + b;
  BOOST_TEST(c.shape() == (Shape{3, 2}));
  BOOST_TEST(c.to_vector<float>() == (std::vector<float>{11, 21, 12, 22, 13, 23}));
  BOOST_TEST((a * 2.0).to_vector<float>() == (std::vector<float>{2, 4, 6}));
  BOOST_TEST((1.0 - b).to_vector<float>() == (std::vector<float>{-9, -19}));
  auto msg = error_of([&] { zeros({2, 3}) + zeros({4}); });
  BOOST_TEST(contains(msg, "add"));
  BOOST_TEST(contains(msg, "[2, 3]"));
  BOOST_TEST(contains(msg, "[4]"));
}

BOOST_AUTO_TEST_CASE(elementwise_and_reduction_values) {
  auto x = tensor({-1.0, 0.0, 2.0}, kFloat64);
  BOOST_TEST(allclose(exp(x), tensor({std::exp(-1.0), 1.0, std::exp(2.0)}, kFloat64)));
  BOOST_TEST(allclose(relu(x), tensor({0.0, 0.0, 2.0}, kFloat64)));
  BOOST_TEST(
      allclose(sigmoid(tensor({0.0, 800.0, -800.0}, kFloat64)), tensor({0.5, 1.0, 0.0}, kFloat64)));
  BOOST_TEST(allclose(tanh(x), tensor({std::tanh(-1.0), 0.0, std::tanh(2.0)}, kFloat64)));
  BOOST_TEST(allclose(pow(x, 2.0), tensor({1.0, 0.0, 4.0}, kFloat64)));
  BOOST_TEST(allclose(log(tensor({1.0, std::exp(1.0)}, kFloat64)), tensor({0.0, 1.0}, kFloat64)));
  auto m = arange(0, 24, 1, kFloat64).reshape({2, 3, 4});
  BOOST_TEST(m.sum().item() == 276.0);
  BOOST_TEST(m.sum({0, 2}).to_vector<double>() == (std::vector<double>{60, 92, 124}));
  BOOST_TEST(m.sum({1}, true).shape() == (Shape{2, 1, 4}));
  BOOST_TEST(m.sum({-1}).at({1, 2}) == 20 + 21 + 22 + 23);
  BOOST_TEST(m.mean({0}).at({0, 0}) == 6.0);
  BOOST_TEST(m.permute({2, 1, 0}).sum({2}).at({3, 2}) == 11 + 23);  // strided reduction
  BOOST_TEST(m.sum({0}).at({2, 3}) == 11 + 23);                     // leading-dim reduction
  BOOST_TEST(zeros({0, 3}).sum({0}).to_vector<float>() == (std::vector<float>{0, 0, 0}));
  BOOST_TEST(arange(4).sum().dtype() == kInt64);
  // A long sum is exact for integers stored in floats and independent of thread count.
  auto big = ones({1 << 20});
  BOOST_TEST(big.sum().item() == double(1 << 20));
}

BOOST_AUTO_TEST_CASE(matmul_shapes_and_values) {
  auto a = tensor({{1, 2}, {3, 4}, {5, 6}});
  auto b = tensor({{1, 0, -1}, {2, 1, 0}});
  auto c = matmul(a, b);
  BOOST_TEST(c.to_vector<float>() == (std::vector<float>{5, 2, -1, 11, 4, -3, 17, 6, -5}));
  BOOST_TEST(matmul(b.t(), a.t()).to_vector<float>() == c.t().contiguous().to_vector<float>());
  BOOST_TEST(matmul(tensor({1.f, 2.f}), tensor({3.f, 4.f})).item() == 11.0);
  BOOST_TEST(matmul(tensor({1.f, 1.f}), b).shape() == (Shape{3}));
  BOOST_TEST(matmul(a, tensor({1.f, 1.f})).to_vector<float>() == (std::vector<float>{3, 7, 11}));
  auto batch = randn({4, 3, 2});
  auto r = matmul(batch, b);
  BOOST_TEST(r.shape() == (Shape{4, 3, 3}));
  BOOST_TEST(allclose(r.select(0, 2), matmul(batch.select(0, 2), b), 1e-5, 1e-6));
  auto bb = randn({2, 1, 2, 5});
  BOOST_TEST(matmul(batch.unsqueeze(0).expand({2, 4, 3, 2}), bb).shape() == (Shape{2, 4, 3, 5}));
  auto msg = error_of([&] { matmul(zeros({64, 784}), zeros({100, 10})); });
  BOOST_TEST(msg == "matmul: cannot multiply [64, 784] by [100, 10] (784 != 100)");
  BOOST_TEST(contains(error_of([&] {
                        matmul(zeros({2, 2}), zeros({2, 2}, kFloat64));
                      }),
                      "dtypes differ"));
  BOOST_TEST(matmul(zeros({3, 0}), zeros({0, 2})).sum().item() == 0.0);
}

BOOST_AUTO_TEST_CASE(in_place_ops_write_through_and_bump_versions) {
  auto x = ones({2, 3});
  const auto v0 = x.version();
  x.add_(tensor({1.f, 2.f, 3.f}));
  BOOST_TEST(x.to_vector<float>() == (std::vector<float>{2, 3, 4, 2, 3, 4}));
  x.mul_(2.0).sub_(1.0).div_(2.0);
  BOOST_TEST(x.at({0, 2}) == 3.5);
  x.zero_();
  BOOST_TEST(x.sum().item() == 0.0);
  x.copy_(tensor({5.f, 6.f, 7.f}));
  BOOST_TEST(x.at({1, 1}) == 6.0);
  x.fill_(9);
  BOOST_TEST(x.version() > v0);
  x.add_(ones({2, 3}), 0.5);
  BOOST_TEST(x.at({0, 0}) == 9.5);
  BOOST_TEST(contains(error_of([&] { x.add_(ones({4, 2, 3})); }), "add_: cannot write"));
  auto i = arange(3);
  BOOST_TEST(contains(error_of([&] { i.add_(tensor({0.5f, 0.5f, 0.5f})); }), "cannot be written"));
}

// PyTorch's repr (more cases in test_print.cpp).
BOOST_AUTO_TEST_CASE(printing_shows_values_as_pytorch) {
  std::ostringstream os;
  os << tensor({{1.5f, -2.0f}, {3.25f, 4.0f}});
  BOOST_TEST(os.str() == "tensor([[ 1.5000, -2.0000],\n        [ 3.2500,  4.0000]])");
  std::ostringstream big;
  big << arange(0, 2000, 1, kFloat32).reshape({40, 50});
  BOOST_TEST(contains(big.str(), "  ..., 4.7000e+01"));
  BOOST_TEST(contains(big.str(), "1.9990e+03]])"));
  std::ostringstream ints;
  ints << arange(3);
  BOOST_TEST(ints.str() == "tensor([0, 1, 2])");
}

// Issue 17 item 11: int64 values print exactly (they used to go through double: INT64_MAX
// printed as -9223372036854775808 and 2^53 + 1 as 2^53).
BOOST_AUTO_TEST_CASE(printing_int64_is_exact) {
  std::ostringstream os;
  os << from_vector(std::vector<std::int64_t>{std::numeric_limits<std::int64_t>::max(),
                                              (std::int64_t{1} << 53) + 1,
                                              std::numeric_limits<std::int64_t>::min()});
  BOOST_TEST(os.str() ==
             "tensor([ 9223372036854775807,     9007199254740993, -9223372036854775808])");
  std::ostringstream u8;
  u8 << from_vector(std::vector<std::uint8_t>{0, 255, 7});
  BOOST_TEST(u8.str() == "tensor([  0, 255,   7], dtype=uint8)");
}

// Issue 17 item 14: a summarized print reads only the printed elements (it used to copy the
// whole tensor to doubles, 5.5-18 s for 10M elements), and the column format comes from the
// printed elements only, as PyTorch's summarize does.
BOOST_AUTO_TEST_CASE(printing_reads_only_what_it_shows) {
  // 2^40 elements as a stride-0 view: copying them (8 TiB of doubles) cannot work.
  std::ostringstream huge;
  huge << full({1}, 7.0).expand({std::int64_t{1} << 20, std::int64_t{1} << 20});
  BOOST_TEST(huge.str() ==
             "tensor([[7., 7., 7.,  ..., 7., 7., 7.],\n"
             "        [7., 7., 7.,  ..., 7., 7., 7.],\n"
             "        [7., 7., 7.,  ..., 7., 7., 7.],\n"
             "        ...,\n"
             "        [7., 7., 7.,  ..., 7., 7., 7.],\n"
             "        [7., 7., 7.,  ..., 7., 7., 7.],\n"
             "        [7., 7., 7.,  ..., 7., 7., 7.]])");
  // An elided value does not widen the columns or change the precision.
  Tensor z = zeros({2000});
  z.set({1000}, 123456.5);
  std::ostringstream os;
  os << z;
  BOOST_TEST(os.str() == "tensor([0., 0., 0.,  ..., 0., 0., 0.])");
  // A strided view prints its own elements.
  std::ostringstream strided;
  strided << arange(0, 4000, 1).reshape({2, 2000}).slice(1, 1, 2000, 2);
  BOOST_TEST(strided.str() ==
             "tensor([[   1,    3,    5,  ..., 1995, 1997, 1999],\n"
             "        [2001, 2003, 2005,  ..., 3995, 3997, 3999]])");
}

// Issue 17 item 9: a scalar that does not fit the dtype is an error naming the op, as in PyTorch
// ("value cannot be converted to type int64_t without overflow"), not int64 garbage.
BOOST_AUTO_TEST_CASE(scalars_that_do_not_fit_the_dtype_are_errors) {
  const auto fits = [](const std::string& msg, const std::string& op) {
    return contains(msg, op + ": value") && contains(msg, "without overflow");
  };
  BOOST_TEST(fits(error_of([] { full({2}, 1e30, kInt64); }), "full"));
  BOOST_TEST(contains(error_of([] { full({2}, 1e30, kInt64); }),
                      "1e+30 cannot be converted to type int64"));
  BOOST_TEST(fits(error_of([] { arange(3) + 1e20; }), "add"));
  BOOST_TEST(fits(error_of([] { arange(3) - 1e20; }), "sub"));
  BOOST_TEST(fits(error_of([] { arange(3) * 1e20; }), "mul"));
  BOOST_TEST(fits(error_of([] { 1e20 - arange(3); }), "sub"));
  BOOST_TEST(fits(error_of([] { (void)(arange(3) < 1e20); }), "lt"));
  // inf is not a whole number: int64 + inf promotes to float32, as in PyTorch (result_type)
  BOOST_TEST((arange(3) + std::numeric_limits<double>::infinity()).dtype() == kFloat32);
  BOOST_TEST(fits(error_of([] { full({2}, 0x1p63, kInt64); }), "full"));  // INT64_MAX + 1
  BOOST_TEST(fits(error_of([] { full({2}, std::nan(""), kInt64); }), "full"));
  BOOST_TEST(fits(error_of([] { full({2}, 256, kUInt8); }), "full"));
  BOOST_TEST(fits(error_of([] { full({2}, -1, kUInt8); }), "full"));
  BOOST_TEST(fits(error_of([] { full({2}, 1e39, kFloat32); }), "full"));
  BOOST_TEST(fits(error_of([] { full_like(arange(2), 1e19); }), "full_like"));
  BOOST_TEST(fits(error_of([] { scalar_tensor(1e19, kInt64); }), "scalar_tensor"));
  BOOST_TEST(fits(error_of([] { arange(9.2e18, 9.4e18, 1e17); }), "arange"));
  BOOST_TEST(fits(error_of([] { linspace(0, 300, 4, kUInt8); }), "linspace"));
  BOOST_TEST(fits(error_of([] { tensor({1.0, 1e19}, kInt64); }), "tensor"));
  BOOST_TEST(fits(error_of([] { arange(2).set({0}, 1e19); }), "set"));
  BOOST_TEST(
      fits(error_of([] { masked_fill(arange(2), ones({2}, kUInt8), 1e19); }), "masked_fill"));
  // What fits still works, at the edges too (fractions truncate toward zero, as in PyTorch).
  BOOST_TEST(full({1}, -0x1p63, kInt64).item<std::int64_t>() ==
             std::numeric_limits<std::int64_t>::min());
  BOOST_TEST(full({1}, 2.5, kInt64).item<std::int64_t>() == 2);
  BOOST_TEST(full({1}, -2.5, kInt64).item<std::int64_t>() == -2);
  BOOST_TEST(full({1}, 255, kUInt8).item<int>() == 255);
  BOOST_TEST(std::isinf(full({1}, std::numeric_limits<double>::infinity()).item()));
  BOOST_TEST((arange(3) + 1e18).at<std::int64_t>({2}) == 1000000000000000002LL);
  BOOST_TEST((arange(3) + 0.5).dtype() == kFloat32);  // a fraction already gives float32
}

BOOST_AUTO_TEST_CASE(bad_calls_throw_clear_errors) {
  BOOST_TEST(contains(error_of([] { zeros({2, -1}); }), "negative size -1"));
  BOOST_TEST(contains(error_of([] { zeros({2, 3}).at({2, 0}); }), "index 2 is out of range"));
  BOOST_TEST(contains(error_of([] {
                        zeros({2, 3}).item();
                      }),
                      "item: expected a tensor with one element"));
  BOOST_TEST(contains(error_of([] { zeros({2, 3}).sum({2}); }), "dim 2 is out of range"));
  BOOST_TEST(contains(error_of([] {
                        zeros({2, 3}).reshape({4, 2});
                      }),
                      "shape [4, 2] is invalid for input of shape [2, 3]"));
  BOOST_TEST(contains(error_of([] { zeros({2, 3}).expand({4, 3, 2}); }), "expand: cannot expand"));
  BOOST_TEST(contains(error_of([] { zeros({2, 3}).permute({0, 0}); }), "repeats"));
  BOOST_TEST(contains(error_of([] { zeros({2, 3}).select(1, 3); }), "index 3 is out of range"));
  BOOST_TEST(contains(error_of([] { arange(3).requires_grad_(); }), "only floating-point tensors"));
  BOOST_TEST(contains(error_of([] { zeros({2}).data_ptr<double>(); }), "dtype float32"));
  BOOST_TEST(contains(error_of([] { arange(0.0, 1.0, 0.0); }), "arange: invalid range"));
  BOOST_TEST(contains(error_of([] { Tensor().shape(); }), "undefined tensor"));
  BOOST_TEST(contains(error_of([] { set_num_threads(0); }), "set_num_threads"));
}

BOOST_AUTO_TEST_CASE(thread_count_does_not_change_results) {
  manual_seed(3);
  auto x = randn({1 << 18});
  auto w = randn({300, 200});
  set_num_threads(1);
  const auto s1 = x.sum().item(), m1 = (x * x).sum({0}).item();
  const auto g1 = matmul(w, w.t()).sum({1});
  set_num_threads(2);
  BOOST_TEST(x.sum().item() == s1);
  BOOST_TEST((x * x).sum({0}).item() == m1);
  BOOST_TEST(get_num_threads() == 2);
  BOOST_TEST(allclose(matmul(w, w.t()).sum({1}), g1, 1e-5, 1e-4));
}
