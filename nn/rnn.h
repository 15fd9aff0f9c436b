#pragma once
// Recurrent layers and cells, like torch.nn.RNN / LSTM / GRU and RNNCell / LSTMCell / GRUCell:
// PyTorch's parameter names (weight_ih_l0, weight_hh_l0, bias_ih_l0, bias_hh_l0, and
// ..._reverse for the backward direction; weight_ih, ... for cells), shapes, gate orders and
// init (every parameter U(-1/sqrt(hidden_size), 1/sqrt(hidden_size))), so PyTorch state dicts
// load unchanged.
//
//   nn::LSTM lstm(10, 20, {.num_layers = 2, .batch_first = true, .bidirectional = true});
//   auto [out, hc] = lstm.forward(x);   // out [B, T, 2*20]; hc.h, hc.c [2*2, B, 20]
//
// Inputs are [T, B, input_size] ([B, T, input_size] with batch_first) or unbatched
// [T, input_size]; initial states [num_layers * num_directions, B, hidden_size] (zeros when
// omitted). Each layer runs one GEMM for x W_ih^T over the whole sequence, then per step
// h W_hh^T and the fused gate op of ops/rnn.h.
#include <cstdint>
#include <string>
#include <vector>

#include "tapegrad/nn/module.h"
#include "tapegrad/ops/rnn.h"

namespace tg::nn {

enum class RNNNonlinearity { Tanh, ReLU };

struct RNNOptions {
  std::int64_t num_layers = 1;
  bool bias = true;
  bool batch_first = false;
  double dropout = 0.0;  // on the outputs of every layer but the last, in training
  bool bidirectional = false;
  RNNNonlinearity nonlinearity = RNNNonlinearity::Tanh;  // nn::RNN only
};

// What RNN and GRU return: output [T, B, D*H] (batch_first: [B, T, D*H]) and the final hidden
// state of every layer and direction, [num_layers * D, B, H].
struct RNNResult {
  Tensor output, h_n;
};
// LSTM's (output, (h_n, c_n)).
struct LSTMResult {
  Tensor output;
  LSTMState hidden;
};

// The shared machinery: parameters, checks, the layer loop.
class RNNBase : public OwningModule {
 public:
  void reset_parameters();  // U(-1/sqrt(hidden_size), 1/sqrt(hidden_size)) for every parameter
  std::string extra_repr() const override;
  // Only the output (lets the layer sit in a Sequential).
  Tensor forward(const Tensor& input) override;

  std::int64_t input_size, hidden_size;
  RNNOptions options;
  // Per layer and direction (index layer * D + direction): {w_ih, w_hh, b_ih, b_hh}, biases
  // undefined without bias.
  std::vector<std::vector<Tensor>> all_weights;

 protected:
  enum class Mode { RNN, LSTM, GRU };
  RNNBase(Mode mode, std::int64_t input_size, std::int64_t hidden_size, const RNNOptions& options);
  // h0 / c0 may be undefined (zeros); c0 only for LSTM. Returns output, h_n, c_n.
  std::vector<Tensor> run(const Tensor& input, const Tensor& h0, const Tensor& c0);
  Mode mode_;
  std::string type_;
};

class RNN : public RNNBase {
 public:
  RNN(std::int64_t input_size, std::int64_t hidden_size, const RNNOptions& options = {});
  RNNResult forward(const Tensor& input, const Tensor& h0);
  using RNNBase::forward;
};

class LSTM : public RNNBase {
 public:
  LSTM(std::int64_t input_size, std::int64_t hidden_size, const RNNOptions& options = {});
  LSTMResult forward(const Tensor& input, const LSTMState& hx);
  using RNNBase::forward;
};

class GRU : public RNNBase {
 public:
  GRU(std::int64_t input_size, std::int64_t hidden_size, const RNNOptions& options = {});
  RNNResult forward(const Tensor& input, const Tensor& h0);
  using RNNBase::forward;
};

// ---- cells: one step; input [B, input_size] or [input_size], states likewise ----
struct RNNCellOptions {
  bool bias = true;
  RNNNonlinearity nonlinearity = RNNNonlinearity::Tanh;  // RNNCell only
};

class RNNCellBase : public OwningModule {
 public:
  void reset_parameters();
  std::string extra_repr() const override;

  std::int64_t input_size, hidden_size;
  RNNCellOptions options;
  Tensor weight_ih, weight_hh, bias_ih, bias_hh;

 protected:
  RNNCellBase(std::int64_t gates, std::int64_t input_size, std::int64_t hidden_size,
              const RNNCellOptions& options);
  Tensor zero_state(const Tensor& input) const;  // zeros matching the input's batch
};

class RNNCell : public RNNCellBase {
 public:
  RNNCell(std::int64_t input_size, std::int64_t hidden_size, const RNNCellOptions& options = {});
  Tensor forward(const Tensor& input, const Tensor& h);
  Tensor forward(const Tensor& input) override { return forward(input, Tensor()); }
};

class LSTMCell : public RNNCellBase {
 public:
  LSTMCell(std::int64_t input_size, std::int64_t hidden_size, const RNNCellOptions& options = {});
  LSTMState forward(const Tensor& input, const LSTMState& hx);
  Tensor forward(const Tensor& input) override { return forward(input, LSTMState{}).h; }
};

class GRUCell : public RNNCellBase {
 public:
  GRUCell(std::int64_t input_size, std::int64_t hidden_size, const RNNCellOptions& options = {});
  Tensor forward(const Tensor& input, const Tensor& h);
  Tensor forward(const Tensor& input) override { return forward(input, Tensor()); }
};

}  // namespace tg::nn
