#pragma once
// Recurrent cells, spelled like torch's lstm_cell / gru_cell / rnn_tanh_cell / rnn_relu_cell,
// with PyTorch's weight layouts and gate orders: LSTM w_ih [4H, I], w_hh [4H, H] with gates
// i, f, g, o; GRU [3H, ...] with r, z, n and b_hn inside r * (h W_hn^T + b_hn); plain RNN
// [H, ...]. Inputs are [B, I] with states [B, H], or unbatched [I] with states [H]. Biases
// are optional. The gate arithmetic runs as one fused kernel per step (lstm_gates, gru_gates)
// whose backward is a fused kernel too, and under create_graph the same formula in
// differentiable ops, so the cells differentiate twice.
#include <cstdint>
#include <vector>

#include "tapegrad/core/tensor.h"

namespace tg {

struct LSTMState {
  Tensor h, c;
};

// (h', c') = LSTM step from x and (h, c).
LSTMState lstm_cell(const Tensor& x, const LSTMState& state, const Tensor& w_ih, const Tensor& w_hh,
                    const Tensor& b_ih = {}, const Tensor& b_hh = {});
Tensor gru_cell(const Tensor& x, const Tensor& h, const Tensor& w_ih, const Tensor& w_hh,
                const Tensor& b_ih = {}, const Tensor& b_hh = {});
// h' = tanh(x W_ih^T + b_ih + h W_hh^T + b_hh), and the same with relu.
Tensor rnn_tanh_cell(const Tensor& x, const Tensor& h, const Tensor& w_ih, const Tensor& w_hh,
                     const Tensor& b_ih = {}, const Tensor& b_hh = {});
Tensor rnn_relu_cell(const Tensor& x, const Tensor& h, const Tensor& w_ih, const Tensor& w_hh,
                     const Tensor& b_ih = {}, const Tensor& b_hh = {});

// The fused gate steps the cells and nn::LSTM / nn::GRU run once per time step.
// gates: [B, 4H] pre-activations (x W_ih^T + h W_hh^T + biases), c: [B, H].
LSTMState lstm_gates(const Tensor& gates, const Tensor& c);
// gx = x W_ih^T + b_ih and gh = h W_hh^T + b_hh, both [B, 3H]; h: [B, H].
Tensor gru_gates(const Tensor& gx, const Tensor& gh, const Tensor& h);

// One LSTM layer over a whole sequence (what nn::LSTM runs per layer and direction) as one
// recorded node: x [T, B, input_size], state (h0, c0) [B, H] each (zeros when undefined); with
// `reverse` the steps run from T-1 down to 0. Returns the h of every step [T, B, H] (in time
// order) and the final state. Backward runs the gate recurrence, then one GEMM each for dW_hh,
// dW_ih and dx over all steps; under create_graph it is written in differentiable ops.
struct LSTMSequence {
  Tensor output;
  LSTMState state;
};
LSTMSequence lstm_layer(const Tensor& x, const LSTMState& state, const Tensor& w_ih,
                        const Tensor& w_hh, const Tensor& b_ih = {}, const Tensor& b_hh = {},
                        bool reverse = false);

// The slices of x along dim, like torch.unbind, as one recorded node whose backward stacks the
// gradients (one pass, where T separate select views would each scatter into a zero tensor of
// x's full size). Deliberate difference: the slices are contiguous copies, not views.
std::vector<Tensor> unbind(const Tensor& x, std::int64_t dim = 0);

}  // namespace tg
