// Selection (sort, topk) and the recurrent ops and layers: sort/topk against PyTorch's values
// and index order, the LSTM and GRU cells against the same step written with elementwise ops,
// a PyTorch state dict loaded into nn::LSTM giving PyTorch's outputs, names, printing, errors.
#define BOOST_TEST_MODULE rnn
#include <boost/test/unit_test.hpp>

#include <tapegrad/tapegrad.h>
#include <cmath>
#include <limits>
#include <sstream>
#include <tuple>
#include "error_text.h"

using namespace tg;
using namespace tg::test;
namespace tt = boost::test_tools;

namespace {
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kInfD = std::numeric_limits<double>::infinity();

void check_close(const Tensor& got, const std::vector<double>& want, double tol) {
  const auto g = got.to(kFloat64).to_vector<double>();
  BOOST_TEST_REQUIRE(g.size() == want.size());
  for (std::size_t i = 0; i < g.size(); ++i) {
    if (std::isnan(want[i])) {
      BOOST_TEST(std::isnan(g[i]), "at " << i);
      continue;
    }
    BOOST_TEST(g[i] == want[i], tt::tolerance(tol) << "at " << i);
  }
}
void check_ids(const Tensor& got, const std::vector<std::int64_t>& want) {
  BOOST_TEST(got.to_vector<std::int64_t>() == want, tt::per_element());
}
Tensor f64(const std::vector<double>& v, const Shape& s) { return from_vector(v, s); }

// PyTorch 1.13: torch.nn.LSTM(3, 2, num_layers=2, bidirectional=True, batch_first=True),
// float64, parameters rounded to 2 decimals.
const std::vector<std::tuple<std::string, Shape, std::vector<double>>> kLstmStateDict = {
    {"weight_ih_l0", {8, 3}, {-0.01, 0.38, -0.58, -0.52, -0.27, 0.19,  -0.01, 0.56,
                              -0.06, 0.19, -0.21, -0.14, -0.68, -0.47, -0.29, 0.03,
                              0.28,  0.42, -0.48, -0.31, 0.26,  0.59,  -0.15, 0.53}},
    {"weight_hh_l0",
     {8, 2},
     {-0.11, 0.07, 0.64, -0.66, -0.45, -0.18, -0.28, 0.61, -0.46, -0.33, -0.49, -0.66, -0.41, 0.61,
      0.32, 0.34}},
    {"bias_ih_l0", {8}, {0.04, -0.36, 0.12, -0.66, -0.51, -0.36, 0.45, 0.41}},
    {"bias_hh_l0", {8}, {-0.31, -0.03, 0.45, 0.7, 0.28, 0.1, 0.47, -0.42}},
    {"weight_ih_l0_reverse", {8, 3}, {0.13, -0.55, -0.49, -0.37, 0.32, 0.28,  -0.42, 0.21,
                                      0.39, -0.09, 0.03,  0.16,  0.44, 0.68,  -0.54, -0.26,
                                      0.28, 0.59,  0.62,  0.62,  0.14, -0.61, 0.07,  -0.44}},
    {"weight_hh_l0_reverse",
     {8, 2},
     {-0.66, 0.63, 0.54, -0.71, 0.13, -0.12, -0.12, -0.32, 0.27, -0.42, 0.26, 0.36, 0.51, 0.26,
      -0.7, -0.46}},
    {"bias_ih_l0_reverse", {8}, {0.35, 0.15, -0.55, -0.41, 0.67, 0.48, -0.31, -0.18}},
    {"bias_hh_l0_reverse", {8}, {-0.67, -0.01, -0.53, -0.55, -0.04, 0.11, -0.29, 0.42}},
    {"weight_ih_l1", {8, 4}, {-0.43, 0.64,  0.48,  -0.6, -0.18, 0.03,  0.1,   0.17,
                              0.28,  0.04,  -0.35, 0.33, -0.68, -0.42, -0.18, -0.34,
                              -0.25, -0.58, -0.15, 0.15, -0.46, -0.04, 0.51,  -0.07,
                              0.02,  -0.06, 0.14,  0.45, 0.67,  0.45,  0.67,  -0.05}},
    {"weight_hh_l1",
     {8, 2},
     {-0.64, -0.34, 0.48, -0, -0.35, -0.54, -0.66, -0.6, -0.14, 0.39, 0.38, -0.68, 0.44, -0.55,
      -0.15, -0.29}},
    {"bias_ih_l1", {8}, {-0.14, -0.14, -0.63, -0.61, -0.11, 0.01, -0.32, 0.27}},
    {"bias_hh_l1", {8}, {-0.64, -0.05, 0.62, -0.29, 0.64, 0.26, -0.64, 0.45}},
    {"weight_ih_l1_reverse", {8, 4}, {-0.08, -0.32, 0.57,  -0.57, 0.08,  -0.15, 0.5,   0.2,
                                      0.34,  0.25,  -0.17, -0.15, -0.58, 0.38,  0.56,  0.48,
                                      -0.5,  0.03,  -0.5,  -0.39, -0.41, 0.24,  -0.42, -0.02,
                                      0.03,  0.46,  -0.53, -0.49, -0.41, 0.49,  -0.25, 0.6}},
    {"weight_hh_l1_reverse",
     {8, 2},
     {0.26, 0.09, -0.01, -0.14, 0.09, -0.16, -0, 0.09, -0.55, -0.37, 0.57, -0.57, -0.05, 0.7, 0.26,
      0.02}},
    {"bias_ih_l1_reverse", {8}, {-0.61, 0.35, -0.5, -0.2, -0.24, -0.1, 0.01, 0.58}},
    {"bias_hh_l1_reverse", {8}, {0.09, 0.63, 0.43, -0.45, 0.32, -0.5, -0.3, 0.21}},
};
const std::vector<double> kLstmX = {
    0.86,  1.39, -0.11, 1.01,  0.05,  -1.1, 1.31,  1.3,   0.09,
    -0.65, 1.19, 0.74,  -0.52, -1.31, 0.62, -0.69, -0.41, -1.11};  // [2, 3, 3]
const std::vector<double> kLstmH0 = {0.16, -0.95, 0.67,  -0.48, 2.2,  0.14, 0.89, -1.97, -1.31,
                                     1.29, -0.73, -1.11, -0.13, 1.45, 0.12, 0.03};  // [4, 2, 2]
const std::vector<double> kLstmC0 = {-0.26, 0.22, -0.36, 0.55,  0.6, 0.38, -0.1, -1.29,
                                     -0.32, 0.79, 1.29,  -2.26, 1,   1.29, 0.8,  0.91};
const std::vector<double> kLstmOut = {
    0.0249520690892303,   0.005072128577219295, 0.028237070028067204,
    -0.3067925261295089,  0.08425442906768989,  0.1615972472690937,
    0.049935240743746716, -0.22451177662537297, 0.0870756062846358,
    0.18321718524918662,  0.1602939160963229,   -0.007562114117330459,
    0.2868798209195355,   -0.5599122215173742,  0.05383239922727251,
    -0.2509412904878557,  0.21196581016113356,  -0.005768106016773418,
    0.09836723011541784,  -0.2196351096263875,  0.09800737936400718,
    0.09064336795144515,  0.20884760360162136,  -0.10281982052935282};  // [2, 3, 4]
const std::vector<double> kLstmHn = {
    -0.42125389818902503, 0.05357297869265518, 0.2239672364825512,   -0.07623216531432332,
    0.2593637196290983,   0.15799776574017066, 0.022744682815461777, 0.34756377689125934,
    0.0870756062846358,   0.18321718524918662, 0.09800737936400718,  0.09064336795144515,
    0.028237070028067204, -0.3067925261295089, 0.05383239922727251,  -0.2509412904878557};
const std::vector<double> kLstmCn = {
    -1.124705295718799,  0.08602817533627347, 0.30468162235458085, -0.2836532815111948,
    0.38009924454751143, 0.398585607642828,   0.0497933324657905,  0.6607666934478125,
    0.3261362367252578,  0.2979521709366174,  0.41489165804021766, 0.13006105263416773,
    0.08023089288287558, -0.4498001431131385, 0.14954065290658544, -0.3376370560797043};
const std::vector<double> kLstmOutZeroState = {
    0.052269184437451974, 0.14660000081791066, 0.02849426436963919,   -0.32784426420207974,
    0.07248373543494016,  0.17500477165334774, 0.0349060193738429,    -0.29808051641938255,
    0.08448174488198923,  0.17647562473582792, 0.019641867788110428,  -0.24963180712214256,
    0.047385717684718366, 0.09638762042056029, 0.017790277794702603,  -0.31256938360685893,
    0.06278408245788447,  0.07935672225126111, 0.010077355675795447,  -0.312275380814743,
    0.06597669119603591,  0.06872863073620455, -0.013565310860758628, -0.28668865012062755};
const std::vector<double> kLstmHnZeroState = {
    -0.38677865225295754, 0.006831975929124588, 0.2645624659517127,   -0.10123011485098692,
    0.2575234169981919,   0.15121636420487597,  0.012391989755359567, 0.3685984475324962,
    0.08448174488198923,  0.17647562473582792,  0.06597669119603591,  0.06872863073620455,
    0.02849426436963919,  -0.32784426420207974, 0.017790277794702603, -0.31256938360685893};
}  // namespace

// ---- sort / topk ----

// torch.sort / topk on [2, nan, 1, 2, inf, nan, -inf, 1] (PyTorch 1.13).
BOOST_AUTO_TEST_CASE(sort_and_topk_follow_pytorch_nan_and_tie_order) {
  const Tensor x = f64({2, kNaN, 1, 2, kInfD, kNaN, -kInfD, 1}, {8});
  auto asc = sort(x);
  check_close(asc.values, {-kInfD, 1, 1, 2, 2, kInfD, kNaN, kNaN}, 0);
  check_ids(asc.indices, {6, 2, 7, 0, 3, 4, 1, 5});
  auto desc = sort(x, 0, true);
  check_close(desc.values, {kNaN, kNaN, kInfD, 2, 2, 1, 1, -kInfD}, 0);
  check_ids(desc.indices, {1, 5, 4, 0, 3, 2, 7, 6});
  check_ids(argsort(x, -1, true), {1, 5, 4, 0, 3, 2, 7, 6});
  auto top = topk(x, 4);
  check_close(top.values, {kNaN, kNaN, kInfD, 2}, 0);
  check_ids(top.indices, {1, 5, 4, 0});
  auto low = topk(x, 3, 0, false);
  check_close(low.values, {-kInfD, 1, 1}, 0);
  check_ids(low.indices, {6, 2, 7});
  // Integers sort too.
  check_ids(sort(from_vector(std::vector<std::int64_t>{3, -1, 2}, {3})).values, {-1, 2, 3});
}

BOOST_AUTO_TEST_CASE(sort_along_a_middle_dim_and_its_gradient) {
  const Tensor x = f64({3, 1, 0, 5, 2, 4, 9, 8, 7, 6, 5, 4}, {2, 3, 2}).requires_grad_();
  auto s = sort(x, 1, true);
  check_close(s.values, {3, 5, 2, 4, 0, 1, 9, 8, 7, 6, 5, 4}, 0);
  check_ids(s.indices, {0, 1, 2, 2, 1, 0, 0, 0, 1, 1, 2, 2});
  // Weighting the sorted values by position sends weight k to the k-th largest of each line.
  auto w = f64({1, 10, 2, 20, 3, 30, 1, 10, 2, 20, 3, 30}, {2, 3, 2});
  sum(s.values * w).backward();
  check_close(x.grad(), {1, 30, 3, 10, 2, 20, 1, 10, 2, 20, 3, 30}, 0);
}

BOOST_AUTO_TEST_CASE(topk_checks_k) {
  const Tensor x = zeros({2, 3});
  BOOST_TEST(
      contains(error_of([&] { topk(x, 4, 1); }), "topk: k (4) out of range for dim 1 of size 3"));
  BOOST_TEST(contains(error_of([&] { topk(x, -1); }), "topk: k (-1)"));
  BOOST_TEST(contains(error_of([&] { sort(x, 2); }), "sort"));
}

// ---- cells against hand-written steps ----

BOOST_AUTO_TEST_CASE(lstm_cell_matches_the_step_written_by_hand) {
  manual_seed(1);
  const Tensor x = randn({3, 4}, kFloat64), h = randn({3, 5}, kFloat64),
               c = randn({3, 5}, kFloat64);
  const Tensor wi = randn({20, 4}, kFloat64).requires_grad_(),
               wh = randn({20, 5}, kFloat64).requires_grad_();
  const Tensor bi = randn({20}, kFloat64).requires_grad_(),
               bh = randn({20}, kFloat64).requires_grad_();
  auto got = lstm_cell(x, {h, c}, wi, wh, bi, bh);
  // PyTorch's definition: gates i, f, g, o in that order.
  const Tensor gates = matmul(x, wi.t()) + bi + matmul(h, wh.t()) + bh;
  const auto parts = chunk(gates, 4, 1);
  const Tensor i = sigmoid(parts[0]), f = sigmoid(parts[1]), g = tanh(parts[2]),
               o = sigmoid(parts[3]);
  const Tensor c2 = f * c + i * g;
  const Tensor h2 = o * tanh(c2);
  check_close(got.h, h2.to_vector<double>(), 1e-12);
  check_close(got.c, c2.to_vector<double>(), 1e-12);
  // The gradients of a loss through both outputs agree too.
  const Tensor wgt = randn({3, 5}, kFloat64);
  auto g1 = grad({sum(got.h * wgt + got.c)}, {wi, wh, bi, bh});
  auto g2 = grad({sum(h2 * wgt + c2)}, {wi, wh, bi, bh});
  for (std::size_t k = 0; k < g1.size(); ++k) check_close(g1[k], g2[k].to_vector<double>(), 1e-12);
}

BOOST_AUTO_TEST_CASE(gru_cell_matches_the_step_written_by_hand) {
  manual_seed(2);
  const Tensor x = randn({2, 3}, kFloat64), h = randn({2, 4}, kFloat64).requires_grad_();
  const Tensor wi = randn({12, 3}, kFloat64).requires_grad_(),
               wh = randn({12, 4}, kFloat64).requires_grad_();
  const Tensor bi = randn({12}, kFloat64).requires_grad_(),
               bh = randn({12}, kFloat64).requires_grad_();
  const Tensor got = gru_cell(x, h, wi, wh, bi, bh);
  // r, z, n with b_hn inside r * (...).
  const auto xs = chunk(matmul(x, wi.t()) + bi, 3, 1);
  const auto hs = chunk(matmul(h, wh.t()) + bh, 3, 1);
  const Tensor r = sigmoid(xs[0] + hs[0]), z = sigmoid(xs[1] + hs[1]);
  const Tensor n = tanh(xs[2] + r * hs[2]);
  const Tensor want = (1.0 - z) * n + z * h;
  check_close(got, want.to_vector<double>(), 1e-12);
  auto g1 = grad({sum(got * got)}, {h, wi, wh, bi, bh});
  auto g2 = grad({sum(want * want)}, {h, wi, wh, bi, bh});
  for (std::size_t k = 0; k < g1.size(); ++k) check_close(g1[k], g2[k].to_vector<double>(), 1e-12);
}

BOOST_AUTO_TEST_CASE(float32_cells_match_float64) {
  manual_seed(3);
  const Tensor x = randn({4, 6}), h = randn({4, 8}), c = randn({4, 8});
  const Tensor wi = randn({32, 6}), wh = randn({32, 8}), b = randn({32});
  auto s32 = lstm_cell(x, {h, c}, wi, wh, b, b);
  auto s64 = lstm_cell(x.to(kFloat64), {h.to(kFloat64), c.to(kFloat64)}, wi.to(kFloat64),
                       wh.to(kFloat64), b.to(kFloat64), b.to(kFloat64));
  check_close(s32.h, s64.h.to_vector<double>(), 1e-5);
  check_close(s32.c, s64.c.to_vector<double>(), 1e-5);
  const Tensor wg = randn({24, 6}), whg = randn({24, 8});
  check_close(gru_cell(x, h, wg, whg),
              gru_cell(x.to(kFloat64), h.to(kFloat64), wg.to(kFloat64), whg.to(kFloat64))
                  .to_vector<double>(),
              1e-5);
}

// ---- layers ----

BOOST_AUTO_TEST_CASE(lstm_loads_a_pytorch_state_dict_and_gives_pytorchs_outputs) {
  nn::LSTM lstm(3, 2, {.num_layers = 2, .batch_first = true, .bidirectional = true});
  lstm.to(kFloat64);
  StateDict sd;
  for (const auto& [name, shape, values] : kLstmStateDict) sd[name] = f64(values, shape);
  BOOST_TEST(lstm.state_dict().size() == sd.size());
  lstm.load_state_dict(sd);  // strict: every PyTorch name must be known
  const Tensor x = f64(kLstmX, {2, 3, 3});
  auto [out, hc] = lstm.forward(x, {f64(kLstmH0, {4, 2, 2}), f64(kLstmC0, {4, 2, 2})});
  BOOST_TEST(out.shape() == (Shape{2, 3, 4}), tt::per_element());
  BOOST_TEST(hc.h.shape() == (Shape{4, 2, 2}), tt::per_element());
  check_close(out, kLstmOut, 1e-12);
  check_close(hc.h, kLstmHn, 1e-12);
  check_close(hc.c, kLstmCn, 1e-12);
  auto zero_state = lstm.forward(x, {});
  check_close(zero_state.output, kLstmOutZeroState, 1e-12);
  check_close(zero_state.hidden.h, kLstmHnZeroState, 1e-12);
  // float32 gives the same within float precision.
  lstm.to(kFloat32);
  check_close(lstm(x.to(kFloat32)), kLstmOutZeroState, 1e-5);
}

BOOST_AUTO_TEST_CASE(layers_have_pytorchs_parameter_names_shapes_and_init) {
  manual_seed(4);
  nn::GRU gru(3, 5, {.num_layers = 2, .bidirectional = true});
  std::vector<std::string> names;
  for (const auto& [n, p] : gru.named_parameters()) names.push_back(n);
  const std::vector<std::string> want = {
      "weight_ih_l0",         "weight_hh_l0",         "bias_ih_l0",         "bias_hh_l0",
      "weight_ih_l0_reverse", "weight_hh_l0_reverse", "bias_ih_l0_reverse", "bias_hh_l0_reverse",
      "weight_ih_l1",         "weight_hh_l1",         "bias_ih_l1",         "bias_hh_l1",
      "weight_ih_l1_reverse", "weight_hh_l1_reverse", "bias_ih_l1_reverse", "bias_hh_l1_reverse"};
  BOOST_TEST(names == want, tt::per_element());
  BOOST_TEST(gru.all_weights[2][0].shape() == (Shape{15, 10}), tt::per_element());
  const double bound = 1.0 / std::sqrt(5.0);
  double lo = 1, hi = -1;
  for (const auto& p : gru.parameters()) {
    lo = std::min(lo, min(p).item());
    hi = std::max(hi, max(p).item());
  }
  BOOST_TEST(lo >= -bound);
  BOOST_TEST(hi <= bound);
  BOOST_TEST(lo < -0.9 * bound);  // the whole range is used
  BOOST_TEST(hi > 0.9 * bound);
  nn::LSTMCell cell(3, 4, {.bias = false});
  names.clear();
  for (const auto& [n, p] : cell.named_parameters()) names.push_back(n);
  BOOST_TEST(names == (std::vector<std::string>{"weight_ih", "weight_hh"}), tt::per_element());
}

// PyTorch's repr, with tapegrad's parameter count after it.
BOOST_AUTO_TEST_CASE(layers_print_like_pytorch) {
  std::ostringstream a, b, c, d;
  a << nn::LSTM(
      10, 20,
      {.num_layers = 2, .bias = false, .batch_first = true, .dropout = 0.5, .bidirectional = true});
  BOOST_TEST(a.str() ==
             "LSTM(10, 20, num_layers=2, bias=false, batch_first=true, dropout=0.5, "
             "bidirectional=true)  [14,400 params]");
  b << nn::GRU(3, 4);
  BOOST_TEST(b.str() == "GRU(3, 4)  [108 params]");
  c << nn::RNNCell(3, 4, {.nonlinearity = nn::RNNNonlinearity::ReLU});
  BOOST_TEST(c.str() == "RNNCell(3, 4, nonlinearity=relu)  [36 params]");
  d << nn::GRUCell(3, 4, {.bias = false});
  BOOST_TEST(d.str() == "GRUCell(3, 4, bias=false)  [84 params]");
}

BOOST_AUTO_TEST_CASE(layer_steps_match_the_cells) {
  // A one-layer GRU / RNN over a sequence is its cell applied step by step with the same weights.
  manual_seed(5);
  nn::GRU gru(3, 4);
  nn::GRUCell gcell(3, 4);
  nn::RNN rnn(3, 4, {.nonlinearity = nn::RNNNonlinearity::ReLU});
  nn::RNNCell rcell(3, 4, {.nonlinearity = nn::RNNNonlinearity::ReLU});
  {
    NoGradGuard g;
    for (auto [layer, cell] :
         {std::pair<nn::RNNBase*, nn::RNNCellBase*>{&gru, &gcell}, {&rnn, &rcell}}) {
      cell->weight_ih.copy_(layer->all_weights[0][0]);
      cell->weight_hh.copy_(layer->all_weights[0][1]);
      cell->bias_ih.copy_(layer->all_weights[0][2]);
      cell->bias_hh.copy_(layer->all_weights[0][3]);
    }
  }
  const Tensor x = randn({5, 2, 3}), h0 = randn({1, 2, 4});
  auto rg = gru.forward(x, h0);
  auto rr = rnn.forward(x, h0);
  Tensor hg = h0[0], hr = h0[0];
  for (std::int64_t t = 0; t < 5; ++t) {
    hg = gcell.forward(x[t], hg);
    hr = rcell.forward(x[t], hr);
    check_close(rg.output[t], hg.to_vector<double>(), 1e-5);
    check_close(rr.output[t], hr.to_vector<double>(), 1e-5);
  }
  check_close(rg.h_n[0], hg.to_vector<double>(), 1e-5);
}

BOOST_AUTO_TEST_CASE(dropout_between_layers_only_in_training) {
  manual_seed(6);
  nn::LSTM lstm(2, 3, {.num_layers = 2, .dropout = 0.5});
  const Tensor x = randn({4, 2, 2});
  lstm.eval();
  const Tensor a = lstm(x), b = lstm(x);
  check_close(a, b.to_vector<double>(), 0);
  lstm.train();
  const Tensor c = lstm(x);
  BOOST_TEST(max(abs(c - a)).item() > 1e-4);
}

BOOST_AUTO_TEST_CASE(misuse_names_the_expected_shapes) {
  nn::LSTM lstm(10, 20);
  BOOST_TEST(contains(
      error_of([&] {
        lstm(zeros({5, 3, 7}));
      }),
      "LSTM: expected input with input_size=10 features in its last dim, got shape [5, 3, 7]"));
  BOOST_TEST(contains(
      error_of([&] {
        lstm.forward(zeros({5, 3, 10}), {zeros({2, 3, 20}), zeros({2, 3, 20})});
      }),
      "LSTM: expected h0 of shape [1, 3, 20] for input of shape [5, 3, 10], got [2, 3, 20]"));
  BOOST_TEST(contains(error_of([&] {
                        lstm.forward(zeros({5, 3, 10}), {zeros({1, 3, 20}), Tensor()});
                      }),
                      "LSTM: give both h0 and c0"));
  BOOST_TEST(contains(error_of([&] {
                        lstm(zeros({5, 3, 10}, kFloat64));
                      }),
                      "LSTM: input dtype float64"));
  BOOST_TEST(contains(error_of([&] { nn::GRU(0, 3); }),
                      "GRU: input_size and hidden_size must be positive"));
  BOOST_TEST(contains(
      error_of([&] {
        lstm_cell(zeros({2, 3}), {zeros({2, 4}), zeros({2, 4})}, zeros({16, 5}), zeros({16, 4}));
      }),
      "lstm_cell: input has 3 features but w_ih expects input_size 5"));
  BOOST_TEST(
      contains(error_of([&] {
                 gru_cell(zeros({2, 3}), zeros({2, 5}), zeros({12, 3}), zeros({12, 4}));
               }),
               "gru_cell: expected hidden state of shape [2, 4] for input [2, 3], got [2, 5]"));
  BOOST_TEST(contains(error_of([&] {
                        lstm_gates(zeros({2, 7}), zeros({2, 2}));
                      }),
                      "lstm_gates: expected gates [B, 4H] and c [B, H], got [2, 7] and [2, 2]"));
}

// ---- the whole-sequence layer op ----

// lstm_layer (one node per layer) against the same recurrence run with lstm_cell per step:
// outputs, final states and every gradient, forward and reverse, with and without states/biases.
BOOST_AUTO_TEST_CASE(lstm_layer_matches_lstm_cell_step_by_step) {
  manual_seed(4);
  const std::int64_t T = 4, B = 3, I = 5, H = 6;
  for (bool reverse : {false, true}) {
    for (bool full : {true, false}) {  // initial states and biases, or neither
      auto leaf = [](const Shape& s) { return randn(s, kFloat64).requires_grad_(); };
      // A transposed input, as nn::LSTM passes with batch_first.
      const Tensor x = leaf({B, T, I}), xt = x.transpose(0, 1);
      const Tensor h0 = full ? leaf({B, H}) : Tensor(), c0 = full ? leaf({B, H}) : Tensor();
      const Tensor wi = leaf({4 * H, I}), wh = leaf({4 * H, H});
      const Tensor bi = full ? leaf({4 * H}) : Tensor(), bh = full ? leaf({4 * H}) : Tensor();
      const LSTMSequence got = lstm_layer(xt, {h0, c0}, wi, wh, bi, bh, reverse);
      LSTMState s{full ? h0 : zeros({B, H}, kFloat64), full ? c0 : zeros({B, H}, kFloat64)};
      std::vector<Tensor> hs(T);
      for (std::int64_t k = 0; k < T; ++k) {
        const std::int64_t t = reverse ? T - 1 - k : k;
        s = lstm_cell(xt.select(0, t), s, wi, wh, bi, bh);
        hs[static_cast<std::size_t>(t)] = s.h;
      }
      const Tensor want = stack(hs, 0);
      check_close(got.output, want.contiguous().to_vector<double>(), 1e-12);
      check_close(got.state.h, s.h.to_vector<double>(), 1e-12);
      check_close(got.state.c, s.c.to_vector<double>(), 1e-12);
      const Tensor wy = randn({T, B, H}, kFloat64), wc = randn({B, H}, kFloat64);
      std::vector<Tensor> wrt{x, wi, wh};
      if (full) wrt.insert(wrt.end(), {h0, c0, bi, bh});
      const auto g1 = grad({sum(got.output * wy + got.state.h * 2.0 + got.state.c * wc)}, wrt);
      const auto g2 = grad({sum(want * wy + s.h * 2.0 + s.c * wc)}, wrt);
      for (std::size_t k = 0; k < g1.size(); ++k)
        check_close(g1[k], g2[k].contiguous().to_vector<double>(), 1e-11);
    }
  }
}

// Only the final state used (output gradient undefined), in float32 against float64.
BOOST_AUTO_TEST_CASE(lstm_layer_float32_and_final_state_only) {
  manual_seed(5);
  const Tensor x = randn({3, 2, 4}), wi = randn({12, 4}).requires_grad_(),
               wh = randn({12, 3}).requires_grad_();
  const LSTMSequence r = lstm_layer(x, {}, wi, wh, {}, {}, true);
  const Tensor x64 = x.to(kFloat64), wi64 = wi.detach().to(kFloat64).requires_grad_(),
               wh64 = wh.detach().to(kFloat64).requires_grad_();
  const LSTMSequence r64 = lstm_layer(x64, {}, wi64, wh64, {}, {}, true);
  check_close(r.output, r64.output.to_vector<double>(), 1e-5);
  const auto g = grad({sum(r.state.h)}, {wi, wh});
  const auto g64 = grad({sum(r64.state.h)}, {wi64, wh64});
  for (std::size_t k = 0; k < g.size(); ++k) check_close(g[k], g64[k].to_vector<double>(), 1e-4);
}

BOOST_AUTO_TEST_CASE(lstm_layer_errors_name_the_shapes) {
  BOOST_TEST(contains(error_of([&] {
                        lstm_layer(zeros({5, 3, 7}), {}, zeros({8, 10}), zeros({8, 2}));
                      }),
                      "lstm_layer: input has 7 features but w_ih expects input_size 10"));
  BOOST_TEST(
      contains(error_of([&] {
                 lstm_layer(zeros({5, 7}), {}, zeros({8, 7}), zeros({8, 2}));
               }),
               "lstm_layer: expected input of shape [T, B, input_size] with T >= 1, got [5, 7]"));
  BOOST_TEST(contains(
      error_of([&] {
        lstm_layer(zeros({5, 3, 7}), {zeros({3, 3}), zeros({3, 2})}, zeros({8, 7}), zeros({8, 2}));
      }),
      "lstm_layer: expected states of shape [3, 2] for input [5, 3, 7], got [3, 3]"));
  BOOST_TEST(contains(
      error_of([&] {
        lstm_layer(zeros({5, 3, 7}), {}, zeros({8, 7}), zeros({6, 2}));
      }),
      "lstm_layer: expected w_ih [4*H, input_size] and w_hh [4*H, H], got [8, 7] and [6, 2]"));
}
