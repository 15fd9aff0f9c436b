// Samples for sort/topk and the recurrent ops: the cells with weights as inputs (so gradcheck
// covers every operand), the fused gate ops directly, unbind, and nn::RNN/LSTM/GRU in float64
// (batch_first, bidirectional, two layers, given initial states) checked through the input and
// the initial states.
#include <memory>

#include "sweep/op_table.h"
#include "tapegrad/tapegrad.h"  // these samples span ops and nn modules

namespace tg::sweep {
// One sample per line, like samples_core.cpp: the table reads better unwrapped.
// clang-format off
namespace {

// Distinct values (ties would make the selection, and so the finite differences, ambiguous).
Tensor distinct(const Shape& shape) {
  const std::int64_t n = numel_of(shape);
  Tensor perm = tg::argsort(constant({n}));
  return (perm.to(kFloat64) * 0.37 - 1.0).reshape(shape).detach().requires_grad_();
}
Tensor joined(const LSTMState& s) { return cat({s.h, s.c * 1.5}, -1); }

template <typename M>
std::shared_ptr<M> module64(std::int64_t in, std::int64_t hidden, const nn::RNNOptions& o) {
  manual_seed(7);
  auto m = std::make_shared<M>(in, hidden, o);
  m->to(kFloat64);
  return m;
}

}  // namespace

TG_OP_SAMPLES(rnn_sort_topk) {
  return {
      {"sort", "last dim", [](const In& x) { return sort(x[0]).values; }, [] { return In{distinct({3, 4})}; }},
      {"sort", "dim 0 descending, non-contiguous", [](const In& x) { return sort(x[0].t(), 0, true).values; }, [] { return In{distinct({4, 3})}; }},
      {"sort", "0-dim", [](const In& x) { return sort(x[0], 0).values; }, [] { return In{rnd({})}; }},
      {"topk", "largest 2 of 5", [](const In& x) { return topk(x[0], 2).values; }, [] { return In{distinct({3, 5})}; }},
      {"topk", "smallest 3 along dim 0 of 3-d", [](const In& x) { return topk(x[0], 3, 0, false).values; }, [] { return In{distinct({4, 2, 3})}; }},
      {"topk", "k = 0", [](const In& x) { return topk(x[0], 0).values; }, [] { return In{distinct({2, 3})}; }},
  };
}

TG_OP_SAMPLES(rnn_cells) {
  return {
      {"lstm_gates", "fused gates", [](const In& x) { return joined(lstm_gates(x[0], x[1])); }, [] { return In{rnd({3, 8}), rnd({3, 2})}; }},
      {"lstm_gates", "non-contiguous gates", [](const In& x) { return joined(lstm_gates(x[0], x[1])); }, [] { return In{noncontig({2, 12}), rnd({2, 3})}; }},
      {"lstm_gates", "h only used", [](const In& x) { return lstm_gates(x[0], x[1]).h; }, [] { return In{rnd({2, 8}), rnd({2, 2})}; }},
      {"gru_gates", "fused gates", [](const In& x) { return gru_gates(x[0], x[1], x[2]); }, [] { return In{rnd({3, 6}), rnd({3, 6}), rnd({3, 2})}; }},
      {"lstm_cell", "with biases", [](const In& x) { return joined(lstm_cell(x[0], {x[1], x[2]}, x[3], x[4], x[5], x[6])); }, [] { return In{rnd({2, 3}), rnd({2, 2}), rnd({2, 2}), rnd({8, 3}), rnd({8, 2}), rnd({8}), rnd({8})}; }},
      {"lstm_cell", "unbatched, no bias", [](const In& x) { return joined(lstm_cell(x[0], {x[1], x[2]}, x[3], x[4])); }, [] { return In{rnd({3}), rnd({2}), rnd({2}), rnd({8, 3}), rnd({8, 2})}; }},
      {"gru_cell", "with biases", [](const In& x) { return gru_cell(x[0], x[1], x[2], x[3], x[4], x[5]); }, [] { return In{rnd({2, 3}), rnd({2, 2}), rnd({6, 3}), rnd({6, 2}), rnd({6}), rnd({6})}; }},
      {"gru_cell", "unbatched, no bias", [](const In& x) { return gru_cell(x[0], x[1], x[2], x[3]); }, [] { return In{rnd({3}), rnd({2}), rnd({6, 3}), rnd({6, 2})}; }},
      {"rnn_tanh_cell", "with biases", [](const In& x) { return rnn_tanh_cell(x[0], x[1], x[2], x[3], x[4], x[5]); }, [] { return In{rnd({2, 3}), rnd({2, 2}), rnd({2, 3}), rnd({2, 2}), rnd({2}), rnd({2})}; }},
      {"rnn_relu_cell", "one bias", [](const In& x) { return rnn_relu_cell(x[0], x[1], x[2], x[3], x[4]); }, [] { return In{rnd({2, 3}), away_from_zero({2, 2}), rnd({2, 3}), rnd({2, 2}), rnd({2})}; }},
      {"unbind", "dim 1, part unused", [](const In& x) { auto p = unbind(x[0], 1); return p[0] * 2.0 + p[2]; }, [] { return In{noncontig({3, 3})}; }},
  };
}

TG_OP_SAMPLES(rnn_modules) {
  return {
      {"LSTM", "2 layers, bidirectional, batch_first, initial states", [m = module64<nn::LSTM>(3, 2, {.num_layers = 2, .batch_first = true, .bidirectional = true})](const In& x) { auto r = m->forward(x[0], {x[1], x[2]}); return cat({r.output.flatten(), r.hidden.h.flatten(), r.hidden.c.flatten()}); }, [] { return In{rnd({2, 3, 3}), rnd({4, 2, 2}), rnd({4, 2, 2})}; }},
      {"LSTM", "unbatched, zero states", [m = module64<nn::LSTM>(2, 3, {})](const In& x) { return m->forward(x[0]); }, [] { return In{rnd({4, 2})}; }},
      {"GRU", "2 layers, bidirectional, initial state", [m = module64<nn::GRU>(3, 2, {.num_layers = 2, .bidirectional = true})](const In& x) { auto r = m->forward(x[0], x[1]); return cat({r.output.flatten(), r.h_n.flatten()}); }, [] { return In{rnd({3, 2, 3}), rnd({4, 2, 2})}; }},
      {"RNN", "relu, batch_first, no bias", [m = module64<nn::RNN>(2, 3, {.bias = false, .batch_first = true, .nonlinearity = nn::RNNNonlinearity::ReLU})](const In& x) { return m->forward(x[0], x[1]).output; }, [] { return In{rnd({2, 3, 2}), away_from_zero({1, 2, 3})}; }},
      {"RNN", "tanh, 2 layers", [m = module64<nn::RNN>(2, 2, {.num_layers = 2})](const In& x) { return m->forward(x[0], x[1]).h_n; }, [] { return In{rnd({3, 1, 2}), rnd({2, 1, 2})}; }},
  };
}

// The whole-sequence LSTM layer (one node per layer and direction), weights as inputs.
TG_OP_SAMPLES(rnn_lstm_layer) {
  return {
      {"lstm_layer", "biases, initial states", [](const In& x) { auto r = lstm_layer(x[0], {x[1], x[2]}, x[3], x[4], x[5], x[6]); return cat({r.output.flatten(), r.state.h.flatten(), r.state.c.flatten() * 1.5}); }, [] { return In{rnd({3, 2, 3}), rnd({2, 2}), rnd({2, 2}), rnd({8, 3}), rnd({8, 2}), rnd({8}), rnd({8})}; }},
      {"lstm_layer", "reverse, no bias, zero states, non-contiguous input", [](const In& x) { auto r = lstm_layer(x[0].transpose(0, 1), {}, x[1], x[2], {}, {}, true); return cat({r.output.flatten(), r.state.c.flatten()}); }, [] { return In{rnd({2, 3, 2}), rnd({8, 2}), rnd({8, 2})}; }},
      {"lstm_layer", "final h only, one bias", [](const In& x) { return lstm_layer(x[0], {x[1], x[2]}, x[3], x[4], x[5]).state.h; }, [] { return In{rnd({2, 1, 2}), rnd({1, 3}), rnd({1, 3}), rnd({12, 2}), rnd({12, 3}), rnd({12})}; }},
  };
}

// clang-format on
}  // namespace tg::sweep
