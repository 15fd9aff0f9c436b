// operator<< prints what PyTorch 1.13's repr prints (every expected string below is PyTorch's,
// from /usr/bin/python3 with torch 1.13, with tapegrad's names for dtypes and shapes:
// "dtype=float64" for "dtype=torch.float64", "size=[0, 3]" for "size=(0, 3)"), and
// set_printoptions changes it as torch.set_printoptions does.
#define BOOST_TEST_MODULE print
#include <boost/test/unit_test.hpp>

#include <tapegrad/tapegrad.h>
#include <cmath>
#include <functional>
#include <sstream>
#include <string>
#include "error_text.h"

using namespace tg;
using namespace tg::test;

namespace {
std::string str(const Tensor& t) {
  std::ostringstream os;
  os << t;
  return os.str();
}

struct Case {
  const char* what;
  std::function<Tensor()> make;
  const char* want;
};

// Restores the default options when a test case ends, whatever it changed.
struct DefaultOptions {
  DefaultOptions() { set_printoptions({}); }
  ~DefaultOptions() { set_printoptions({}); }
};
}  // namespace

BOOST_FIXTURE_TEST_SUITE(print, DefaultOptions)

BOOST_AUTO_TEST_CASE(values_as_pytorch_prints_them) {
  const Case cases[] = {
      {"scalar_tensor(1.5)", [] { return scalar_tensor(1.5); }, "tensor(1.5000)"},
      {"scalar_tensor(3.0)", [] { return scalar_tensor(3.0); }, "tensor(3.)"},
      {"scalar_tensor(-7, kInt64)", [] { return scalar_tensor(-7, kInt64); }, "tensor(-7)"},
      {"tensor({1e-8f, 1.0f, 12345678.0f})",
       [] {
         return tensor({1e-8f, 1.0f, 12345678.0f});
       },
       "tensor([1.0000e-08, 1.0000e+00, 1.2346e+07])"},
      {"tensor({1.0f, 2.0f})",
       [] {
         return tensor({1.0f, 2.0f});
       },
       "tensor([1., 2.])"},
      {"tensor({1.5f, -2.25f, 3.0f})",
       [] {
         return tensor({1.5f, -2.25f, 3.0f});
       },
       "tensor([ 1.5000, -2.2500,  3.0000])"},
      {"tensor({0.0f, 0.0f, 0.0f})",
       [] {
         return tensor({0.0f, 0.0f, 0.0f});
       },
       "tensor([0., 0., 0.])"},
      {"tensor({1e-5f, 2e-5f})",
       [] {
         return tensor({1e-5f, 2e-5f});
       },
       "tensor([1.0000e-05, 2.0000e-05])"},
      {"tensor({1.0f, 1e9f})",
       [] {
         return tensor({1.0f, 1e9f});
       },
       "tensor([1.0000e+00, 1.0000e+09])"},
      {"tensor({1.0f, 2000.0f})",
       [] {
         return tensor({1.0f, 2000.0f});
       },
       "tensor([1.0000e+00, 2.0000e+03])"},
      {"tensor({0.5f, 2000.0f})",
       [] {
         return tensor({0.5f, 2000.0f});
       },
       "tensor([5.0000e-01, 2.0000e+03])"},
      {"tensor({NAN, 1.0f, -INFINITY, 2.5f})",
       [] {
         return tensor({NAN, 1.0f, -INFINITY, 2.5f});
       },
       "tensor([   nan, 1.0000,   -inf, 2.5000])"},
      {"tensor({NAN, 1.0f, INFINITY})",
       [] {
         return tensor({NAN, 1.0f, INFINITY});
       },
       "tensor([nan, 1., inf])"},
      {"tensor({NAN, INFINITY})",
       [] {
         return tensor({NAN, INFINITY});
       },
       "tensor([nan, inf])"},
      {"tensor({-0.0f, 1.0f})",
       [] {
         return tensor({-0.0f, 1.0f});
       },
       "tensor([-0., 1.])"},
      {"tensor({{1.5f, -2.0f}, {3.25f, 4.0f}})",
       [] {
         return tensor({{1.5f, -2.0f}, {3.25f, 4.0f}});
       },
       "tensor([[ 1.5000, -2.0000],\n        [ 3.2500,  4.0000]])"},
      {"tensor({1.0, 2.5}, kFloat64)",
       [] {
         return tensor({1.0, 2.5}, kFloat64);
       },
       "tensor([1.0000, 2.5000], dtype=float64)"},
      {"tensor({0.1, 0.2}, kFloat64)",
       [] {
         return tensor({0.1, 0.2}, kFloat64);
       },
       "tensor([0.1000, 0.2000], dtype=float64)"},
      {"arange(6)", [] { return arange(6); }, "tensor([0, 1, 2, 3, 4, 5])"},
      {"tensor({0.0, 255.0, 7.0}, kUInt8)",
       [] {
         return tensor({0.0, 255.0, 7.0}, kUInt8);
       },
       "tensor([  0, 255,   7], dtype=uint8)"},
      {"tensor({-5.0, 100.0}, kInt64)",
       [] {
         return tensor({-5.0, 100.0}, kInt64);
       },
       "tensor([ -5, 100])"},
      {"zeros({0})", [] { return zeros({0}); }, "tensor([])"},
      {"zeros({0, 3})",
       [] {
         return zeros({0, 3});
       },
       "tensor([], size=[0, 3])"},
      {"zeros({0}, kInt64)", [] { return zeros({0}, kInt64); }, "tensor([], dtype=int64)"},
      {"zeros({2, 0}, kFloat64)",
       [] {
         return zeros({2, 0}, kFloat64);
       },
       "tensor([], size=[2, 0], dtype=float64)"},
      {"arange(24.0, 0.0, -1.0, kFloat32).reshape({2, 3, 4})",
       [] {
         return arange(24.0, 0.0, -1.0, kFloat32).reshape({2, 3, 4});
       },
       "tensor([[[24., 23., 22., 21.],\n         [20., 19., 18., 17.],\n         [16., 15., 14., "
       "13.]],\n\n        [[12., 11., 10.,  9.],\n         [ 8.,  7.,  6.,  5.],\n         [ 4.,  "
       "3.,  2.,  1.]]])"},
      {"arange(24).reshape({2, 3, 4})",
       [] {
         return arange(24).reshape({2, 3, 4});
       },
       "tensor([[[ 0,  1,  2,  3],\n         [ 4,  5,  6,  7],\n         [ 8,  9, 10, 11]],\n\n    "
       "    [[12, 13, 14, 15],\n         [16, 17, 18, 19],\n         [20, 21, 22, 23]]])"},
      {"arange(2000)", [] { return arange(2000); },
       "tensor([   0,    1,    2,  ..., 1997, 1998, 1999])"},
      {"arange(2000.0, 0.0, -1.0, kFloat32).div(7.0)",
       [] { return arange(2000.0, 0.0, -1.0, kFloat32).div(7.0); },
       "tensor([2.8571e+02, 2.8557e+02, 2.8543e+02,  ..., 4.2857e-01, 2.8571e-01,\n        "
       "1.4286e-01])"},
      {"arange(4000).reshape({40, 100})",
       [] {
         return arange(4000).reshape({40, 100});
       },
       "tensor([[   0,    1,    2,  ...,   97,   98,   99],\n        [ 100,  101,  102,  ...,  "
       "197,  198,  199],\n        [ 200,  201,  202,  ...,  297,  298,  299],\n        ...,\n     "
       "   [3700, 3701, 3702,  ..., 3797, 3798, 3799],\n        [3800, 3801, 3802,  ..., 3897, "
       "3898, 3899],\n        [3900, 3901, 3902,  ..., 3997, 3998, 3999]])"},
      {"arange(1200.0, 0.0, -1.0, kFloat32).reshape({4, 3, 100}).mul(1e-3)",
       [] {
         return arange(1200.0, 0.0, -1.0, kFloat32).reshape({4, 3, 100}).mul(1e-3);
       },
       "tensor([[[1.2000e+00, 1.1990e+00, 1.1980e+00,  ..., 1.1030e+00,\n          1.1020e+00, "
       "1.1010e+00],\n         [1.1000e+00, 1.0990e+00, 1.0980e+00,  ..., 1.0030e+00,\n          "
       "1.0020e+00, 1.0010e+00],\n         [1.0000e+00, 9.9900e-01, 9.9800e-01,  ..., "
       "9.0300e-01,\n          9.0200e-01, 9.0100e-01]],\n\n        [[9.0000e-01, 8.9900e-01, "
       "8.9800e-01,  ..., 8.0300e-01,\n          8.0200e-01, 8.0100e-01],\n         [8.0000e-01, "
       "7.9900e-01, 7.9800e-01,  ..., 7.0300e-01,\n          7.0200e-01, 7.0100e-01],\n         "
       "[7.0000e-01, 6.9900e-01, 6.9800e-01,  ..., 6.0300e-01,\n          6.0200e-01, "
       "6.0100e-01]],\n\n        [[6.0000e-01, 5.9900e-01, 5.9800e-01,  ..., 5.0300e-01,\n         "
       " 5.0200e-01, 5.0100e-01],\n         [5.0000e-01, 4.9900e-01, 4.9800e-01,  ..., "
       "4.0300e-01,\n          4.0200e-01, 4.0100e-01],\n         [4.0000e-01, 3.9900e-01, "
       "3.9800e-01,  ..., 3.0300e-01,\n          3.0200e-01, 3.0100e-01]],\n\n        "
       "[[3.0000e-01, 2.9900e-01, 2.9800e-01,  ..., 2.0300e-01,\n          2.0200e-01, "
       "2.0100e-01],\n         [2.0000e-01, 1.9900e-01, 1.9800e-01,  ..., 1.0300e-01,\n          "
       "1.0200e-01, 1.0100e-01],\n         [1.0000e-01, 9.9000e-02, 9.8000e-02,  ..., "
       "3.0000e-03,\n          2.0000e-03, 1.0000e-03]]])"},
      {"arange(30.0, 0.0, -1.0, kFloat32).div(3.0)",
       [] { return arange(30.0, 0.0, -1.0, kFloat32).div(3.0); },
       "tensor([10.0000,  9.6667,  9.3333,  9.0000,  8.6667,  8.3333,  8.0000,  7.6667,\n         "
       "7.3333,  7.0000,  6.6667,  6.3333,  6.0000,  5.6667,  5.3333,  5.0000,\n         4.6667,  "
       "4.3333,  4.0000,  3.6667,  3.3333,  3.0000,  2.6667,  2.3333,\n         2.0000,  1.6667,  "
       "1.3333,  1.0000,  0.6667,  0.3333])"},
      {"arange(40.0, 0.0, -1.0, kFloat32).mul(1000.0)",
       [] { return arange(40.0, 0.0, -1.0, kFloat32).mul(1000.0); },
       "tensor([40000., 39000., 38000., 37000., 36000., 35000., 34000., 33000., 32000.,\n        "
       "31000., 30000., 29000., 28000., 27000., 26000., 25000., 24000., 23000.,\n        22000., "
       "21000., 20000., 19000., 18000., 17000., 16000., 15000., 14000.,\n        13000., 12000., "
       "11000., 10000.,  9000.,  8000.,  7000.,  6000.,  5000.,\n         4000.,  3000.,  2000.,  "
       "1000.])"},
      {"linspace(-1.0, 1.0, 5).mul(1e10)", [] { return linspace(-1.0, 1.0, 5).mul(1e10); },
       "tensor([-1.0000e+10, -5.0000e+09,  0.0000e+00,  5.0000e+09,  1.0000e+10])"},
      {"tensor({123456.0f, 0.001f})",
       [] {
         return tensor({123456.0f, 0.001f});
       },
       "tensor([1.2346e+05, 1.0000e-03])"},
  };
  for (const auto& c : cases) BOOST_TEST(str(c.make()) == c.want, c.what);
}

BOOST_AUTO_TEST_CASE(strided_views_print_their_own_elements) {
  // A transposed view and a slice with a step read through their strides.
  BOOST_TEST(str(arange(6).reshape({2, 3}).t()) ==
             "tensor([[0, 3],\n        [1, 4],\n        [2, 5]])");
  BOOST_TEST(str(arange(0.0, 10.0, 1.0, kFloat32).slice(0, 1, 10, 3)) == "tensor([1., 4., 7.])");
  BOOST_TEST(str(Tensor()) == "tensor(undefined)");
}

BOOST_AUTO_TEST_CASE(requires_grad_and_grad_fn_suffixes) {
  const Tensor x = ones({2}).requires_grad_();
  const Case cases[] = {
      {"leaf", [] { return ones({2}).requires_grad_(); }, "tensor([1., 1.], requires_grad=True)"},
      {"mul", [&] { return x * 2.0; }, "tensor([2., 2.], grad_fn=<MulBackward0>)"},
      {"add", [&] { return x + x; }, "tensor([2., 2.], grad_fn=<AddBackward0>)"},
      {"sum", [&] { return x.sum(); }, "tensor(2., grad_fn=<SumBackward0>)"},
      {"exp", [&] { return x.exp(); }, "tensor([2.7183, 2.7183], grad_fn=<ExpBackward0>)"},
      {"sigmoid", [&] { return x.sigmoid(); },
       "tensor([0.7311, 0.7311], grad_fn=<SigmoidBackward0>)"},
      {"f64 leaf", [] { return ones({2}, kFloat64).requires_grad_(); },
       "tensor([1., 1.], dtype=float64, requires_grad=True)"},
      {"view",
       [&] {
         return x.view({2, 1});
       },
       "tensor([[1.],\n        [1.]], grad_fn=<ViewBackward0>)"},
      // The suffix moves to its own line when it would pass linewidth.
      {"long",
       [] {
         return full({1, 10}, 1.5).requires_grad_().mul(3.0);
       },
       "tensor([[4.5000, 4.5000, 4.5000, 4.5000, 4.5000, 4.5000, 4.5000, 4.5000, 4.5000,\n"
       "         4.5000]], grad_fn=<MulBackward0>)"},
  };
  for (const auto& c : cases) BOOST_TEST(str(c.make()) == c.want, c.what);
  BOOST_TEST(str(x.detach()) == "tensor([1., 1.])");
}

BOOST_AUTO_TEST_CASE(set_printoptions_as_in_pytorch) {
  PrintOptions o;
  o.precision = 2;
  set_printoptions(o);
  BOOST_TEST(get_printoptions().precision == 2);
  BOOST_TEST(str(tensor({1.23456f, 2.5f})) == "tensor([1.23, 2.50])");
  o = {};
  o.sci_mode = true;
  set_printoptions(o);
  BOOST_TEST(str(tensor({1.5f, 2.0f})) == "tensor([1.5000e+00, 2.0000e+00])");
  o.sci_mode = false;
  set_printoptions(o);
  BOOST_TEST(str(tensor({1e-8f, 1.0f, 12345678.0f})) ==
             "tensor([    0.0000,     1.0000, 12345678.0000])");
  set_printoptions({.threshold = 5, .edgeitems = 2});
  BOOST_TEST(str(arange(10)) == "tensor([0, 1,  ..., 8, 9])");
  set_printoptions({.linewidth = 30});
  BOOST_TEST(str(arange(0.0, 20.0, 1.0, kFloat32).div(3.0)) ==
             "tensor([0.0000, 0.3333,\n        0.6667, 1.0000,\n        1.3333, 1.6667,\n        "
             "2.0000, 2.3333,\n        2.6667, 3.0000,\n        3.3333, 3.6667,\n        4.0000, "
             "4.3333,\n        4.6667, 5.0000,\n        5.3333, 5.6667,\n        6.0000, 6.3333])");
}

BOOST_AUTO_TEST_CASE(bad_print_options_are_refused) {
  BOOST_TEST(contains(error_of([] { set_printoptions({.precision = -1}); }),
                      "set_printoptions: precision must be in [0, 30], got -1"));
  BOOST_TEST(contains(error_of([] { set_printoptions({.threshold = -2}); }),
                      "set_printoptions: threshold must be >= 0, got -2"));
  BOOST_TEST(contains(error_of([] { set_printoptions({.edgeitems = -1}); }), "edgeitems"));
  BOOST_TEST(contains(error_of([] { set_printoptions({.linewidth = 0}); }), "linewidth"));
  BOOST_TEST(get_printoptions().precision == 4);  // a refused call changes nothing
}

BOOST_AUTO_TEST_SUITE_END()
