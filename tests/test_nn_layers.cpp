// Layers, containers, activations and losses as modules, checked against closed forms; and
// small networks written with them that learn XOR and a 2-D spiral from plain forward code.
#define BOOST_TEST_MODULE nn_layers
#include <boost/test/unit_test.hpp>

#include <tapegrad/tapegrad.h>
#include <cmath>
#include <numbers>
#include <sstream>
#include "error_text.h"

using namespace tg;
using namespace tg::test;
namespace tt = boost::test_tools;

namespace {
// Elementwise check of y against f(x) (float64 tensors).
template <typename F>
void check_map(const Tensor& x, const Tensor& y, F f, double tol = 1e-12) {
  const auto xs = x.to_vector<double>(), ys = y.to_vector<double>();
  BOOST_TEST_REQUIRE(xs.size() == ys.size());
  for (std::size_t i = 0; i < xs.size(); ++i)
    BOOST_TEST(ys[i] == f(xs[i]), tt::tolerance(tol) << "at x = " << xs[i]);
}
double accuracy(const Tensor& logits, const Tensor& labels) {
  return mean((argmax(logits, 1) == labels).to(kFloat64)).item();
}
}  // namespace

// ---- Linear ----

BOOST_AUTO_TEST_CASE(linear_computes_x_wt_plus_b) {
  nn::Linear lin(3, 2);
  {
    NoGradGuard g;
    lin.weight.copy_(tensor({{1.f, 2.f, 3.f}, {-1.f, 0.f, 0.5f}}));
    lin.bias.copy_(tensor({0.5f, -2.f}));
  }
  auto y = lin(tensor({{1.f, 1.f, 1.f}, {2.f, 0.f, -2.f}}));
  BOOST_TEST(y.shape() == (Shape{2, 2}), tt::per_element());
  BOOST_TEST(y.to_vector<float>() == (std::vector<float>{6.5f, -2.5f, -3.5f, -5.f}),
             tt::per_element());
  // Batched leading dims.
  BOOST_TEST(lin(zeros({4, 5, 3})).shape() == (Shape{4, 5, 2}), tt::per_element());
  // Gradients reach both parameters.
  lin(ones({4, 3})).sum().backward();
  BOOST_TEST(lin.bias.grad().to_vector<float>() == (std::vector<float>{4.f, 4.f}),
             tt::per_element());
  BOOST_TEST(lin.weight.grad().at({1, 2}) == 4.0);
  BOOST_TEST(contains(error_of([&] {
                        lin(ones({2, 4}));
                      }),
                      "Linear(in_features=3, out_features=2): expected input of shape [..., 3], "
                      "got [2, 4]"));
  nn::Linear nob(3, 2, {.bias = false});
  BOOST_TEST(!nob.bias.defined());
  BOOST_TEST(nob.parameters().size() == 1u);
  std::ostringstream os;
  os << nob;
  BOOST_TEST(os.str() == "Linear(in_features=3, out_features=2, bias=false)  [6 params]");
}

BOOST_AUTO_TEST_CASE(linear_default_init_is_pytorchs) {
  manual_seed(8);
  nn::Linear lin(400, 300);
  const double bound = 1.0 / std::sqrt(400.0);
  const Tensor w = lin.weight.detach().to(kFloat64), b = lin.bias.detach().to(kFloat64);
  BOOST_TEST(max(abs(w)).item() <= bound);
  BOOST_TEST(max(abs(w)).item() > 0.99 * bound);
  BOOST_TEST(max(abs(b)).item() <= bound);
  // U(-a, a) has variance a^2 / 3.
  const double v = mean(w * w).item();
  BOOST_TEST(v == bound * bound / 3.0, tt::tolerance(0.02));
  // Repeatable after seeding; reset_parameters draws anew.
  manual_seed(8);
  nn::Linear again(400, 300);
  BOOST_TEST(equal(again.weight.detach(), lin.weight.detach()));
  again.reset_parameters();
  BOOST_TEST(!equal(again.weight.detach(), lin.weight.detach()));
}

// ---- containers ----

BOOST_AUTO_TEST_CASE(sequential_chains_its_modules) {
  manual_seed(2);
  nn::Sequential seq{nn::Linear(4, 6), nn::ReLU(), nn::Linear(6, 2)};
  seq.push_back(nn::Tanh());
  BOOST_TEST(seq.size() == 4u);
  auto& l0 = seq.at<nn::Linear>(0);
  auto& l2 = seq.at<nn::Linear>(2);
  auto x = randn({5, 4});
  auto manual = tanh(l2(relu(l0(x))));
  BOOST_TEST(equal(seq(x), manual));
  std::vector<std::string> names;
  for (auto& [n, p] : seq.named_parameters()) names.push_back(n);
  const std::vector<std::string> want = {"0.weight", "0.bias", "2.weight", "2.bias"};
  BOOST_TEST(names == want, tt::per_element());
  BOOST_TEST(contains(error_of([&] { seq.at<nn::Linear>(1); }), "module 1 is a ReLU"));
  BOOST_TEST(contains(error_of([&] { seq[7]; }), "index 7 is out of range for 4 modules"));
  // Moving a Sequential keeps its parameters (the same handles).
  Tensor w = l0.weight;
  nn::Sequential moved = std::move(seq);
  BOOST_TEST(moved.parameters()[0].is_same(w));
  BOOST_TEST(equal(moved(x), manual));
  // Nested, named and shared children.
  auto shared = std::make_shared<nn::Linear>(2, 2);
  nn::Sequential outer{std::move(moved), nn::Sigmoid()};
  outer.push_back("head", shared);
  BOOST_TEST(outer.named_parameters().back().first == "head.bias");
  BOOST_TEST(outer(x).shape() == (Shape{5, 2}), tt::per_element());
  BOOST_TEST(&outer[2] == shared.get());
}

BOOST_AUTO_TEST_CASE(module_list_holds_modules_for_custom_forward_code) {
  struct Tower : nn::Module {
    nn::ModuleList layers;
    explicit Tower(int depth) {
      for (int i = 0; i < depth; ++i) layers.push_back(nn::Linear(3, 3));
      register_module("layers", layers);
    }
    Tensor forward(const Tensor& x) override {
      Tensor h = x;
      for (const auto& m : layers) h = relu(m->forward(h)) + h;  // residual
      return h;
    }
  } tower(3);
  BOOST_TEST(tower.parameters().size() == 6u);
  BOOST_TEST(tower.named_parameters()[4].first == "layers.2.weight");
  BOOST_TEST(tower(ones({2, 3})).shape() == (Shape{2, 3}), tt::per_element());
  BOOST_TEST(contains(error_of([&] { tower.layers.forward(ones({1, 3})); }), "ModuleList"));
}

// ---- dropout, batch norm, flatten, identity ----

BOOST_AUTO_TEST_CASE(dropout_zeroes_and_rescales_in_training_only) {
  manual_seed(5);
  nn::Dropout drop(0.4);
  auto x = ones({200, 100});
  auto y = drop(x);
  const auto v = y.to_vector<float>();
  std::size_t zeros_n = 0;
  for (float e : v) {
    if (e == 0.f)
      ++zeros_n;
    else
      BOOST_TEST(e == 1.f / 0.6f, tt::tolerance(1e-6));
  }
  BOOST_TEST(double(zeros_n) / v.size() == 0.4, tt::tolerance(0.05));
  drop.eval();
  BOOST_TEST(equal(drop(x), x));
  nn::Dropout none(0.0);
  BOOST_TEST(equal(none(x), x));
  BOOST_TEST(contains(error_of([] { nn::Dropout(1.5); }), "probability must be in [0, 1]"));
}

BOOST_AUTO_TEST_CASE(batchnorm_normalizes_tracks_running_stats_and_uses_them_in_eval) {
  manual_seed(6);
  nn::BatchNorm1d bn(3);
  BOOST_TEST(bn.parameters().size() == 2u);
  BOOST_TEST(bn.buffers().size() == 3u);
  auto x = randn({64, 3}, kFloat64) * 2.0 + 5.0;
  bn.to(kFloat64);
  auto y = bn(x);
  // Per channel: mean 0, biased variance 1 (up to eps).
  auto m = mean(y, {0});
  auto v = var(y, {0}, /*correction=*/0.0);
  for (int c = 0; c < 3; ++c) {
    BOOST_TEST(std::abs(m.at({c})) < 1e-12);
    BOOST_TEST(v.at({c}) == 1.0, tt::tolerance(1e-4));
  }
  // running = 0.9 * running + 0.1 * batch (unbiased variance).
  auto bm = mean(x, {0}), bv = var(x, {0}, 1.0);
  for (int c = 0; c < 3; ++c) {
    BOOST_TEST(bn.running_mean.at({c}) == 0.1 * bm.at({c}), tt::tolerance(1e-12));
    BOOST_TEST(bn.running_var.at({c}) == 0.9 + 0.1 * bv.at({c}), tt::tolerance(1e-12));
  }
  BOOST_TEST(bn.num_batches_tracked.item<std::int64_t>() == 1);
  // Eval: the running statistics, affine applied.
  {
    NoGradGuard g;
    bn.weight.fill_(2.0);
    bn.bias.fill_(-1.0);
  }
  bn.eval();
  auto z = bn(x);
  for (int c = 0; c < 3; ++c) {
    const double rm = bn.running_mean.at({c}), rv = bn.running_var.at({c});
    BOOST_TEST(z.at({7, c}) == (x.at({7, c}) - rm) / std::sqrt(rv + 1e-5) * 2.0 - 1.0,
               tt::tolerance(1e-12));
  }
  BOOST_TEST(bn.num_batches_tracked.item<std::int64_t>() == 1);  // eval does not count
  BOOST_TEST(contains(error_of([&] {
                        bn(ones({4, 5}, kFloat64));
                      }),
                      "BatchNorm1d(3): expected input of shape [N, 3] or [N, 3, L], got [4, 5]"));
}

BOOST_AUTO_TEST_CASE(batchnorm_options) {
  manual_seed(9);
  // Cumulative average when momentum is none: after two batches, the plain mean of both.
  nn::BatchNorm1d cum(2, {.momentum = std::nullopt});
  cum.to(kFloat64);
  auto a = randn({10, 2}, kFloat64), b = randn({10, 2}, kFloat64) + 3.0;
  cum(a);
  cum(b);
  for (int c = 0; c < 2; ++c)
    BOOST_TEST(cum.running_mean.at({c}) == (mean(a, {0}).at({c}) + mean(b, {0}).at({c})) / 2,
               tt::tolerance(1e-12));
  // No affine parameters; no running statistics (eval still uses batch statistics).
  nn::BatchNorm1d plain(2, {.affine = false, .track_running_stats = false});
  BOOST_TEST(plain.parameters().empty());
  BOOST_TEST(plain.buffers().empty());
  plain.eval();
  auto y = plain(a.to(kFloat32));
  BOOST_TEST(std::abs(mean(y, {0}).at({1})) < 1e-6);
  // [N, C, L] inputs normalize over N and L.
  nn::BatchNorm1d seq(4);
  auto s = seq(randn({8, 4, 5}) * 3.0);
  BOOST_TEST(std::abs(mean(s, {0, 2}).at({2})) < 1e-5);
  std::ostringstream os;
  os << cum;
  BOOST_TEST(contains(os.str(), "BatchNorm1d(2, eps=1e-05, momentum=None, affine=true"));
}

BOOST_AUTO_TEST_CASE(flatten_and_identity) {
  nn::Flatten flat;
  BOOST_TEST(flat(zeros({2, 3, 4})).shape() == (Shape{2, 12}), tt::per_element());
  nn::Flatten all(0);
  BOOST_TEST(all(zeros({2, 3, 4})).shape() == (Shape{24}), tt::per_element());
  nn::Identity id;
  auto x = randn({3});
  BOOST_TEST(id(x).is_same(x));
}

// ---- activations ----

BOOST_AUTO_TEST_CASE(activation_modules_match_their_formulas) {
  auto x = tensor({-3.0, -1.0, -0.25, 0.0, 0.5, 2.0, 7.0}, kFloat64);
  check_map(x, nn::ReLU()(x), [](double v) { return std::max(v, 0.0); });
  check_map(x, nn::LeakyReLU(0.2)(x), [](double v) { return v > 0 ? v : 0.2 * v; });
  check_map(x, nn::ReLU6()(x), [](double v) { return std::min(std::max(v, 0.0), 6.0); });
  check_map(x, nn::ELU(1.5)(x), [](double v) { return v > 0 ? v : 1.5 * std::expm1(v); });
  check_map(x, nn::GELU()(x), [](double v) { return v * 0.5 * std::erfc(-v / std::sqrt(2.0)); });
  check_map(x, nn::GELU(nn::GELUApproximate::Tanh)(x), [](double v) {
    return 0.5 * v * (1 + std::tanh(std::sqrt(2 / std::numbers::pi) * (v + 0.044715 * v * v * v)));
  });
  check_map(x, nn::SiLU()(x), [](double v) { return v / (1 + std::exp(-v)); });
  check_map(x, nn::Sigmoid()(x), [](double v) { return 1 / (1 + std::exp(-v)); });
  check_map(x, nn::Tanh()(x), [](double v) { return std::tanh(v); });

  auto logits = tensor({1.0, 2.0, 3.0}, kFloat64).reshape({1, 3});
  const double z = std::exp(1.0) + std::exp(2.0) + std::exp(3.0);
  auto sm = nn::Softmax(1)(logits);
  auto lsm = nn::LogSoftmax()(logits);
  for (int j = 0; j < 3; ++j) {
    BOOST_TEST(sm.at({0, j}) == std::exp(j + 1.0) / z, tt::tolerance(1e-12));
    BOOST_TEST(lsm.at({0, j}) == (j + 1.0) - std::log(z), tt::tolerance(1e-12));
  }
  std::ostringstream os;
  os << nn::Sequential(nn::LeakyReLU(0.2), nn::Softmax(1), nn::GELU(nn::GELUApproximate::Tanh));
  BOOST_TEST(contains(os.str(), "(0): LeakyReLU(negative_slope=0.2)"));
  BOOST_TEST(contains(os.str(), "(1): Softmax(dim=1)"));
  BOOST_TEST(contains(os.str(), "(2): GELU(approximate=tanh)"));
}

// ---- losses ----

BOOST_AUTO_TEST_CASE(loss_modules_match_their_formulas) {
  auto x = tensor({0.5, -1.0, 2.0, 3.0}, kFloat64);
  auto y = tensor({1.0, 1.0, 0.0, 2.5}, kFloat64);
  // diffs: -0.5, -2, 2, 0.5
  BOOST_TEST(nn::MSELoss()(x, y).item() == (0.25 + 4 + 4 + 0.25) / 4, tt::tolerance(1e-15));
  BOOST_TEST(nn::MSELoss(nn::Reduction::Sum)(x, y).item() == 8.5, tt::tolerance(1e-15));
  BOOST_TEST(nn::L1Loss()(x, y).item() == 5.0 / 4, tt::tolerance(1e-15));
  BOOST_TEST(nn::L1Loss(nn::Reduction::None)(x, y).shape() == (Shape{4}), tt::per_element());
  // Huber, delta 1: 0.5 d^2 inside, delta (|d| - delta / 2) outside.
  BOOST_TEST(nn::HuberLoss()(x, y).item() == (0.125 + 1.5 + 1.5 + 0.125) / 4, tt::tolerance(1e-15));
  BOOST_TEST(nn::HuberLoss({.reduction = nn::Reduction::Sum, .delta = 2.0})(x, y).item() ==
                 0.125 + 2.0 + 2.0 + 0.125,
             tt::tolerance(1e-15));

  auto logits = tensor({1.0, 2.0, 0.5, -1.0, 0.0, 3.0}, kFloat64).reshape({2, 3});
  auto target = from_vector(std::vector<std::int64_t>{1, 2});
  auto lse = [](double a, double b, double c) {
    return std::log(std::exp(a) + std::exp(b) + std::exp(c));
  };
  const double l0 = lse(1, 2, 0.5) - 2.0, l1 = lse(-1, 0, 3) - 3.0;
  BOOST_TEST(nn::CrossEntropyLoss()(logits, target).item() == (l0 + l1) / 2, tt::tolerance(1e-12));
  // Class weights: weighted mean.
  auto w = tensor({1.0, 2.0, 0.5}, kFloat64);
  nn::CrossEntropyLoss weighted({.weight = w});
  BOOST_TEST(weighted(logits, target).item() == (2.0 * l0 + 0.5 * l1) / 2.5, tt::tolerance(1e-12));
  BOOST_TEST(weighted.state_dict().count("weight") == 1u);
  nn::NLLLoss nll({.weight = w});
  BOOST_TEST(nll(nn::LogSoftmax(1)(logits), target).item() == (2.0 * l0 + 0.5 * l1) / 2.5,
             tt::tolerance(1e-12));
  nn::NLLLoss ignoring({.ignore_index = 2});
  BOOST_TEST(ignoring(nn::LogSoftmax(1)(logits), target).item() == l0, tt::tolerance(1e-12));

  auto p = tensor({0.9, 0.2, 0.6}, kFloat64), t = tensor({1.0, 0.0, 1.0}, kFloat64);
  const double bce = -(std::log(0.9) + std::log(0.8) + std::log(0.6)) / 3;
  BOOST_TEST(nn::BCELoss()(p, t).item() == bce, tt::tolerance(1e-12));
  auto z = tensor({2.0, -1.0, 0.3}, kFloat64);
  auto sig = [](double v) { return 1 / (1 + std::exp(-v)); };
  const double bcel = -(std::log(sig(2.0)) + std::log(1 - sig(-1.0)) + std::log(sig(0.3))) / 3;
  BOOST_TEST(nn::BCEWithLogitsLoss()(z, t).item() == bcel, tt::tolerance(1e-12));
  nn::BCEWithLogitsLoss pos({.pos_weight = tensor({3.0}, kFloat64)});
  const double bcep =
      -(3 * std::log(sig(2.0)) + std::log(1 - sig(-1.0)) + 3 * std::log(sig(0.3))) / 3;
  BOOST_TEST(pos(z, t).item() == bcep, tt::tolerance(1e-12));
  std::ostringstream os;
  os << nn::MSELoss(nn::Reduction::Sum);
  BOOST_TEST(os.str() == "MSELoss(reduction=sum)");
}

// ---- learning ----

BOOST_AUTO_TEST_CASE(a_two_layer_mlp_learns_xor) {
  struct XorNet : nn::Module {
    nn::Linear hidden{2, 8}, out{8, 1};
    XorNet() { register_modules({{"hidden", hidden}, {"out", out}}); }
    Tensor forward(const Tensor& x) override { return out(tanh(hidden(x))); }
  };
  manual_seed(0);
  XorNet net;
  auto x = tensor({{0.f, 0.f}, {0.f, 1.f}, {1.f, 0.f}, {1.f, 1.f}});
  auto y = tensor({0.f, 1.f, 1.f, 0.f}).reshape({4, 1});
  optim::Adam opt(net.parameters(), {.lr = 0.05});
  nn::BCEWithLogitsLoss criterion;
  double loss = 0;
  for (int step = 0; step < 500; ++step) {
    auto l = criterion(net.forward(x), y);
    opt.zero_grad();
    l.backward();
    opt.step();
    loss = l.item();
  }
  BOOST_TEST(loss < 0.05);
  auto pred = sigmoid(net.forward(x));
  for (int i = 0; i < 4; ++i) BOOST_TEST(std::round(pred.at({i, 0})) == y.at({i, 0}));
}

BOOST_AUTO_TEST_CASE(an_mlp_learns_a_three_arm_spiral) {
  // The classic 2-D spiral: K arms of N points, radius growing with the angle, angular noise.
  const int N = 100, K = 3;
  Generator gen(42);
  std::vector<float> xs;
  std::vector<std::int64_t> ys;
  for (int k = 0; k < K; ++k)
    for (int i = 0; i < N; ++i) {
      const double r = double(i) / (N - 1);
      const double t = 4.0 * k + 4.0 * r + 0.2 * gen.normal();
      xs.push_back(float(r * std::sin(t)));
      xs.push_back(float(r * std::cos(t)));
      ys.push_back(k);
    }
  auto X = from_vector(xs, {N * K, 2});
  auto Y = from_vector(ys, {N * K});

  struct SpiralNet : nn::Module {
    nn::Linear fc1{2, 64}, fc2{64, 3};
    SpiralNet() { register_modules({{"fc1", fc1}, {"fc2", fc2}}); }
    Tensor forward(const Tensor& x) override { return fc2(relu(fc1(x))); }
  };
  manual_seed(1);
  SpiralNet net;
  optim::Adam opt(net.parameters(), {.lr = 0.02});
  const double before = accuracy(net.forward(X), Y);
  for (int step = 0; step < 1500; ++step) {
    auto loss = nn::functional::cross_entropy(net.forward(X), Y);
    opt.zero_grad();
    loss.backward();
    opt.step();
  }
  const double after = accuracy(net.forward(X), Y);
  BOOST_TEST_MESSAGE("spiral accuracy " << before << " -> " << after);
  BOOST_TEST(after > 0.95);
  BOOST_TEST(before < 0.6);
}
