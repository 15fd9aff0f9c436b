// The tanh_mse_fullbatch example's network (784 -> 50 tanh -> 10, squared error to one-hot
// targets) with its forward and backward pass written out by hand in plain loops, the way seed
// notebook 002 did, sample by sample with gradients accumulated over the batch. Autograd must
// give the same loss and the same gradients for every parameter (float64, allclose).
//
// Derivation, per sample x with target t (s = pre-activation, h = hidden activation):
//   s1 = W1 x + b1,  h = tanh(s1),  s2 = W2 h + b2,  y = s2 (linear output) or tanh(s2)
//   loss = sum_k (y_k - t_k)^2
//   dloss/dy   = 2 (y - t)
//   dloss/ds2  = dloss/dy                      (linear)   or  dloss/dy * (1 - y^2)   (tanh)
//   dloss/dW2 += dloss/ds2 h^T,   dloss/db2 += dloss/ds2
//   dloss/dh   = W2^T dloss/ds2
//   dloss/ds1  = dloss/dh * (1 - h^2)          (tanh' = 1 - tanh^2)
//   dloss/dW1 += dloss/ds1 x^T,   dloss/db1 += dloss/ds1
// The batch loss is the sum over samples (the notebook's acc_loss); F::mse_loss is that sum
// divided by N * 10.
#define BOOST_TEST_MODULE tanh_mse_backprop
#include <boost/test/unit_test.hpp>

#include <tapegrad/tapegrad.h>
#include <cmath>
#include <cstdint>
#include <vector>

using namespace tg;
namespace F = tg::nn::functional;

namespace {

constexpr std::int64_t kIn = 784, kHidden = 50, kOut = 10, kBatch = 7;

// Row-major matrices as plain vectors.
struct Params {
  std::vector<double> w1, b1, w2, b2;  // [50, 784], [50], [10, 50], [10]
};

struct HandResult {
  double loss = 0.0;
  std::vector<double> out;  // [N, 10]
  Params grad;
};

HandResult hand_forward_backward(const Params& p, const std::vector<double>& x,
                                 const std::vector<double>& t, bool tanh_output) {
  HandResult r;
  r.out.assign(kBatch * kOut, 0.0);
  r.grad = {std::vector<double>(p.w1.size(), 0.0), std::vector<double>(p.b1.size(), 0.0),
            std::vector<double>(p.w2.size(), 0.0), std::vector<double>(p.b2.size(), 0.0)};
  for (std::int64_t n = 0; n < kBatch; ++n) {
    const double* xn = &x[n * kIn];
    const double* tn = &t[n * kOut];
    // Forward.
    std::vector<double> h(kHidden), y(kOut);
    for (std::int64_t j = 0; j < kHidden; ++j) {
      double s = p.b1[j];
      for (std::int64_t i = 0; i < kIn; ++i) s += p.w1[j * kIn + i] * xn[i];
      h[j] = std::tanh(s);
    }
    for (std::int64_t k = 0; k < kOut; ++k) {
      double s = p.b2[k];
      for (std::int64_t j = 0; j < kHidden; ++j) s += p.w2[k * kHidden + j] * h[j];
      y[k] = tanh_output ? std::tanh(s) : s;
      r.out[n * kOut + k] = y[k];
      r.loss += (y[k] - tn[k]) * (y[k] - tn[k]);
    }
    // Backward.
    std::vector<double> ds2(kOut), dh(kHidden, 0.0);
    for (std::int64_t k = 0; k < kOut; ++k) {
      const double dy = 2.0 * (y[k] - tn[k]);
      ds2[k] = tanh_output ? dy * (1.0 - y[k] * y[k]) : dy;
      r.grad.b2[k] += ds2[k];
      for (std::int64_t j = 0; j < kHidden; ++j) {
        r.grad.w2[k * kHidden + j] += ds2[k] * h[j];
        dh[j] += p.w2[k * kHidden + j] * ds2[k];
      }
    }
    for (std::int64_t j = 0; j < kHidden; ++j) {
      const double ds1 = dh[j] * (1.0 - h[j] * h[j]);
      r.grad.b1[j] += ds1;
      for (std::int64_t i = 0; i < kIn; ++i) r.grad.w1[j * kIn + i] += ds1 * xn[i];
    }
  }
  return r;
}

Tensor as_tensor(const std::vector<double>& v, const Shape& shape) { return from_vector(v, shape); }

// The example's network, in float64.
struct Net : nn::Module {
  nn::Linear fc1{kIn, kHidden}, fc2{kHidden, kOut};
  bool tanh_output;
  explicit Net(bool tanh_output) : tanh_output(tanh_output) {
    register_modules({{"fc1", fc1}, {"fc2", fc2}});
    to(kFloat64);
  }
  Tensor forward(const Tensor& x) override {
    Tensor out = fc2(tanh(fc1(x)));
    return tanh_output ? tanh(out) : out;
  }
};

struct Batch {
  Tensor x, labels, targets;
};

Batch make_batch() {
  Batch b;
  b.x = randn({kBatch, kIn}, kFloat64) * 0.5;
  b.labels = randint(0, kOut, {kBatch});
  b.targets = one_hot(b.labels, kOut, kFloat64);
  return b;
}

void check_against_autograd(bool tanh_output) {
  manual_seed(tanh_output ? 11 : 7);
  Net net(tanh_output);
  const Batch b = make_batch();
  const Params p{net.fc1.weight.to_vector<double>(), net.fc1.bias.to_vector<double>(),
                 net.fc2.weight.to_vector<double>(), net.fc2.bias.to_vector<double>()};
  const HandResult hand =
      hand_forward_backward(p, b.x.to_vector<double>(), b.targets.to_vector<double>(), tanh_output);

  // The notebook's objective: squared error summed over samples and classes.
  Tensor out = net(b.x);
  Tensor loss = (out - b.targets).pow(2.0).sum();
  net.zero_grad();
  loss.backward();

  BOOST_TEST(allclose(out.detach(), as_tensor(hand.out, {kBatch, kOut}), 1e-12, 1e-12));
  BOOST_TEST(loss.item() == hand.loss, boost::test_tools::tolerance(1e-12));
  BOOST_TEST(
      allclose(net.fc1.weight.grad(), as_tensor(hand.grad.w1, {kHidden, kIn}), 1e-10, 1e-12));
  BOOST_TEST(allclose(net.fc1.bias.grad(), as_tensor(hand.grad.b1, {kHidden}), 1e-10, 1e-12));
  BOOST_TEST(
      allclose(net.fc2.weight.grad(), as_tensor(hand.grad.w2, {kOut, kHidden}), 1e-10, 1e-12));
  BOOST_TEST(allclose(net.fc2.bias.grad(), as_tensor(hand.grad.b2, {kOut}), 1e-10, 1e-12));

  // The gradients are not trivially small, so the comparison above means something.
  double max_abs = 0.0;
  for (double g : hand.grad.w1) max_abs = std::max(max_abs, std::abs(g));
  BOOST_TEST(max_abs > 1e-3);

  // What the example trains on: F::mse_loss is the same objective divided by N * 10.
  Tensor mse = F::mse_loss(net(b.x), b.targets);
  net.zero_grad();
  mse.backward();
  const double scale = 1.0 / static_cast<double>(kBatch * kOut);
  BOOST_TEST(mse.item() == hand.loss * scale, boost::test_tools::tolerance(1e-12));
  BOOST_TEST(allclose(net.fc1.weight.grad(), as_tensor(hand.grad.w1, {kHidden, kIn}) * scale, 1e-10,
                      1e-14));
  BOOST_TEST(allclose(net.fc2.weight.grad(), as_tensor(hand.grad.w2, {kOut, kHidden}) * scale,
                      1e-10, 1e-14));
  BOOST_TEST(
      allclose(net.fc1.bias.grad(), as_tensor(hand.grad.b1, {kHidden}) * scale, 1e-10, 1e-14));
  BOOST_TEST(allclose(net.fc2.bias.grad(), as_tensor(hand.grad.b2, {kOut}) * scale, 1e-10, 1e-14));
}

}  // namespace

BOOST_AUTO_TEST_CASE(linear_output_hand_backward_equals_autograd) { check_against_autograd(false); }

BOOST_AUTO_TEST_CASE(tanh_output_hand_backward_equals_autograd) {
  // The notebook itself put tanh on the output layer too.
  check_against_autograd(true);
}

BOOST_AUTO_TEST_CASE(hand_gradient_step_equals_sgd_step) {
  // One full-batch gradient-descent step by hand (w -= lr * grad of the mean squared error)
  // lands where optim::SGD lands after autograd.
  manual_seed(5);
  Net net(false);
  const Batch b = make_batch();
  const Params p{net.fc1.weight.to_vector<double>(), net.fc1.bias.to_vector<double>(),
                 net.fc2.weight.to_vector<double>(), net.fc2.bias.to_vector<double>()};
  const HandResult hand =
      hand_forward_backward(p, b.x.to_vector<double>(), b.targets.to_vector<double>(), false);
  const double lr = 0.1, scale = 1.0 / static_cast<double>(kBatch * kOut);

  optim::SGD opt(net.parameters(), {.lr = lr});
  Tensor loss = F::mse_loss(net(b.x), b.targets);
  opt.zero_grad();
  loss.backward();
  opt.step();

  auto stepped = [&](const std::vector<double>& w, const std::vector<double>& g) {
    std::vector<double> out(w.size());
    for (std::size_t i = 0; i < w.size(); ++i) out[i] = w[i] - lr * scale * g[i];
    return out;
  };
  BOOST_TEST(allclose(net.fc1.weight, as_tensor(stepped(p.w1, hand.grad.w1), {kHidden, kIn}), 1e-12,
                      1e-14));
  BOOST_TEST(allclose(net.fc2.weight, as_tensor(stepped(p.w2, hand.grad.w2), {kOut, kHidden}),
                      1e-12, 1e-14));
  BOOST_TEST(
      allclose(net.fc1.bias, as_tensor(stepped(p.b1, hand.grad.b1), {kHidden}), 1e-12, 1e-14));
  BOOST_TEST(allclose(net.fc2.bias, as_tensor(stepped(p.b2, hand.grad.b2), {kOut}), 1e-12, 1e-14));
}
