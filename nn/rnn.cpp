#include "tapegrad/nn/rnn.h"

#include <cmath>
#include <sstream>

#include "tapegrad/core/error.h"
#include "tapegrad/nn/init.h"
#include "tapegrad/ops/elementwise.h"
#include "tapegrad/ops/indexing.h"
#include "tapegrad/ops/linalg.h"
#include "tapegrad/ops/nn_functional.h"
#include "tapegrad/ops/shape.h"

namespace tg::nn {

namespace {

const char* mode_name(int mode) {
  static const char* names[] = {"RNN", "LSTM", "GRU"};
  return names[mode];
}

void uniform_init(const std::vector<Tensor>& params, std::int64_t hidden_size) {
  const double k = hidden_size > 0 ? 1.0 / std::sqrt(static_cast<double>(hidden_size)) : 0.0;
  for (const auto& p : params)
    if (p.defined()) init::uniform_(p, -k, k);
}

// PyTorch's RNN repr fields after the sizes: only those that differ from the defaults.
void print_options(std::ostream& os, bool bias, RNNNonlinearity nl) {
  if (nl == RNNNonlinearity::ReLU) os << ", nonlinearity=relu";
  if (!bias) os << ", bias=false";
}

}  // namespace

// ---- RNNBase ----

RNNBase::RNNBase(Mode mode, std::int64_t in, std::int64_t hidden, const RNNOptions& opts)
    : input_size(in),
      hidden_size(hidden),
      options(opts),
      mode_(mode),
      type_(mode_name(static_cast<int>(mode))) {
  TG_CHECK(in > 0 && hidden > 0, type_, ": input_size and hidden_size must be positive, got ", in,
           " and ", hidden);
  TG_CHECK(opts.num_layers > 0, type_, ": num_layers must be positive, got ", opts.num_layers);
  TG_CHECK(opts.dropout >= 0.0 && opts.dropout <= 1.0, type_,
           ": dropout must be a probability in [0, 1], got ", opts.dropout);
  const std::int64_t gates = mode == Mode::LSTM ? 4 : mode == Mode::GRU ? 3 : 1;
  const std::int64_t D = opts.bidirectional ? 2 : 1;
  for (std::int64_t layer = 0; layer < opts.num_layers; ++layer) {
    for (std::int64_t dir = 0; dir < D; ++dir) {
      const std::string suffix = "_l" + std::to_string(layer) + (dir ? "_reverse" : "");
      const std::int64_t layer_in = layer == 0 ? in : hidden * D;
      std::vector<Tensor> w(4);
      w[0] = register_parameter("weight_ih" + suffix, empty({gates * hidden, layer_in}));
      w[1] = register_parameter("weight_hh" + suffix, empty({gates * hidden, hidden}));
      if (opts.bias) {
        w[2] = register_parameter("bias_ih" + suffix, empty({gates * hidden}));
        w[3] = register_parameter("bias_hh" + suffix, empty({gates * hidden}));
      }
      all_weights.push_back(std::move(w));
    }
  }
  reset_parameters();
}

void RNNBase::reset_parameters() {
  for (const auto& w : all_weights) uniform_init(w, hidden_size);
}

std::string RNNBase::extra_repr() const {
  std::ostringstream os;
  os << input_size << ", " << hidden_size;
  if (options.num_layers != 1) os << ", num_layers=" << options.num_layers;
  print_options(os, options.bias,
                mode_ == Mode::RNN ? options.nonlinearity : RNNNonlinearity::Tanh);
  if (options.batch_first) os << ", batch_first=true";
  if (options.dropout != 0.0) os << ", dropout=" << options.dropout;
  if (options.bidirectional) os << ", bidirectional=true";
  return os.str();
}

Tensor RNNBase::forward(const Tensor& input) { return run(input, Tensor(), Tensor())[0]; }

std::vector<Tensor> RNNBase::run(const Tensor& input, const Tensor& h0, const Tensor& c0) {
  TG_CHECK(input.defined(), type_, ": input is undefined");
  TG_CHECK(input.dim() == 2 || input.dim() == 3, type_, ": expected input of shape ",
           options.batch_first ? "[B, T, " : "[T, B, ", input_size, "] or [T, ", input_size,
           "], got ", shape_str(input.shape()));
  TG_CHECK(input.size(-1) == input_size, type_, ": expected input with input_size=", input_size,
           " features in its last dim, got shape ", shape_str(input.shape()));
  const Dtype dtype = all_weights[0][0].dtype();
  TG_CHECK(input.dtype() == dtype, type_, ": input dtype ", input.dtype(),
           " differs from the parameters' dtype ", dtype);
  const bool unbatched = input.dim() == 2;
  const Tensor x0 = unbatched             ? input.unsqueeze(1)
                    : options.batch_first ? input.transpose(0, 1)
                                          : input;
  const std::int64_t T = x0.size(0), B = x0.size(1), H = hidden_size;
  const std::int64_t D = options.bidirectional ? 2 : 1, L = options.num_layers;
  TG_CHECK(T > 0, type_, ": expected a sequence of at least one step, got input shape ",
           shape_str(input.shape()));
  const Shape state_shape = unbatched ? Shape{L * D, H} : Shape{L * D, B, H};
  std::vector<Tensor> h_init, c_init;
  for (auto [s, list, what] : {std::tuple{&h0, &h_init, "h0"}, std::tuple{&c0, &c_init, "c0"}}) {
    if (!s->defined()) continue;
    TG_CHECK(s->shape() == state_shape, type_, ": expected ", what, " of shape ",
             shape_str(state_shape), " for input of shape ", shape_str(input.shape()), ", got ",
             shape_str(s->shape()));
    TG_CHECK(s->dtype() == dtype, type_, ": ", what, " dtype ", s->dtype(),
             " differs from the parameters' dtype ", dtype);
    *list = unbind(unbatched ? s->unsqueeze(1) : *s, 0);
  }
  namespace F = functional;
  Tensor x = x0;
  std::vector<Tensor> h_n, c_n;
  for (std::int64_t layer = 0; layer < L; ++layer) {
    std::vector<Tensor> outputs;
    for (std::int64_t dir = 0; dir < D; ++dir) {
      const std::vector<Tensor>& w = all_weights[layer * D + dir];
      const std::size_t k = static_cast<std::size_t>(layer * D + dir);
      if (mode_ == Mode::LSTM) {
        // The whole layer is one node (ops/lstm_sequence.cpp).
        const LSTMSequence r = lstm_layer(
            x, {h_init.empty() ? Tensor() : h_init[k], c_init.empty() ? Tensor() : c_init[k]}, w[0],
            w[1], w[2], w[3], dir == 1);
        outputs.push_back(r.output);
        h_n.push_back(r.state.h);
        c_n.push_back(r.state.c);
        continue;
      }
      Tensor h = h_init.empty() ? zeros({B, H}, dtype) : h_init[k];
      Tensor c = c_init.empty() ? zeros({B, H}, dtype) : c_init[k];
      // x W_ih^T for every step in one GEMM; for RNN and LSTM both biases join it (GRU keeps
      // b_hn inside r * (...), so its b_hh goes with h W_hh^T).
      Tensor bias = w[2];
      if (mode_ != Mode::GRU && w[2].defined()) bias = w[2] + w[3];
      const std::vector<Tensor> steps = unbind(F::linear(x, w[0], bias), 0);
      // One transposed view for every step: its backward then runs once, on the summed
      // gradient, instead of once per step.
      const Tensor w_hh_t = w[1].t();
      std::vector<Tensor> hs(static_cast<std::size_t>(T));
      for (std::int64_t s = 0; s < T; ++s) {
        const std::size_t t = static_cast<std::size_t>(dir == 0 ? s : T - 1 - s);
        switch (mode_) {
          case Mode::LSTM: {
            LSTMState next = lstm_gates(addmm(steps[t], h, w_hh_t), c);
            h = next.h;
            c = next.c;
            break;
          }
          case Mode::GRU:
            h = gru_gates(steps[t], F::linear(h, w[1], w[3]), h);
            break;
          case Mode::RNN: {
            const Tensor pre = addmm(steps[t], h, w_hh_t);
            h = options.nonlinearity == RNNNonlinearity::Tanh ? tanh(pre) : relu(pre);
            break;
          }
        }
        hs[t] = h;
      }
      outputs.push_back(stack(hs, 0));
      h_n.push_back(h);
      c_n.push_back(c);
    }
    x = D == 2 ? cat(outputs, 2) : outputs[0];
    if (layer + 1 < L && options.dropout > 0.0 && is_training())
      x = F::dropout(x, options.dropout, true);
  }
  Tensor hn = stack(h_n, 0), cn = mode_ == Mode::LSTM ? stack(c_n, 0) : Tensor();
  if (unbatched) {
    x = x.squeeze(1);
    hn = hn.squeeze(1);
    if (cn.defined()) cn = cn.squeeze(1);
  } else if (options.batch_first) {
    x = x.transpose(0, 1);
  }
  return {x, hn, cn};
}

RNN::RNN(std::int64_t in, std::int64_t hidden, const RNNOptions& options)
    : RNNBase(Mode::RNN, in, hidden, options) {}
RNNResult RNN::forward(const Tensor& input, const Tensor& h0) {
  auto r = run(input, h0, Tensor());
  return {r[0], r[1]};
}

LSTM::LSTM(std::int64_t in, std::int64_t hidden, const RNNOptions& options)
    : RNNBase(Mode::LSTM, in, hidden, options) {}
LSTMResult LSTM::forward(const Tensor& input, const LSTMState& hx) {
  TG_CHECK(hx.h.defined() == hx.c.defined(), "LSTM: give both h0 and c0, or neither");
  auto r = run(input, hx.h, hx.c);
  return {r[0], {r[1], r[2]}};
}

GRU::GRU(std::int64_t in, std::int64_t hidden, const RNNOptions& options)
    : RNNBase(Mode::GRU, in, hidden, options) {}
RNNResult GRU::forward(const Tensor& input, const Tensor& h0) {
  auto r = run(input, h0, Tensor());
  return {r[0], r[1]};
}

// ---- cells ----

RNNCellBase::RNNCellBase(std::int64_t gates, std::int64_t in, std::int64_t hidden,
                         const RNNCellOptions& opts)
    : input_size(in), hidden_size(hidden), options(opts) {
  TG_CHECK(in > 0 && hidden > 0, "RNN cell: input_size and hidden_size must be positive, got ", in,
           " and ", hidden);
  weight_ih = register_parameter("weight_ih", empty({gates * hidden, in}));
  weight_hh = register_parameter("weight_hh", empty({gates * hidden, hidden}));
  if (opts.bias) {
    bias_ih = register_parameter("bias_ih", empty({gates * hidden}));
    bias_hh = register_parameter("bias_hh", empty({gates * hidden}));
  }
  reset_parameters();
}

void RNNCellBase::reset_parameters() {
  uniform_init({weight_ih, weight_hh, bias_ih, bias_hh}, hidden_size);
}

std::string RNNCellBase::extra_repr() const {
  std::ostringstream os;
  os << input_size << ", " << hidden_size;
  print_options(os, options.bias, options.nonlinearity);
  return os.str();
}

Tensor RNNCellBase::zero_state(const Tensor& input) const {
  TG_CHECK(input.defined() && (input.dim() == 1 || input.dim() == 2), name(),
           ": expected input of shape [B, ", input_size, "] or [", input_size, "], got ",
           input.defined() ? shape_str(input.shape()) : std::string("undefined"));
  return input.dim() == 2 ? zeros({input.size(0), hidden_size}, weight_ih.dtype())
                          : zeros({hidden_size}, weight_ih.dtype());
}

RNNCell::RNNCell(std::int64_t in, std::int64_t hidden, const RNNCellOptions& options)
    : RNNCellBase(1, in, hidden, options) {}
Tensor RNNCell::forward(const Tensor& input, const Tensor& h) {
  const Tensor hx = h.defined() ? h : zero_state(input);
  return options.nonlinearity == RNNNonlinearity::Tanh
             ? rnn_tanh_cell(input, hx, weight_ih, weight_hh, bias_ih, bias_hh)
             : rnn_relu_cell(input, hx, weight_ih, weight_hh, bias_ih, bias_hh);
}

LSTMCell::LSTMCell(std::int64_t in, std::int64_t hidden, const RNNCellOptions& options)
    : RNNCellBase(4, in, hidden, options) {
  TG_CHECK(options.nonlinearity == RNNNonlinearity::Tanh,
           "LSTMCell: nonlinearity is an RNNCell option");
}
LSTMState LSTMCell::forward(const Tensor& input, const LSTMState& hx) {
  TG_CHECK(hx.h.defined() == hx.c.defined(), "LSTMCell: give both h and c, or neither");
  if (!hx.h.defined()) {
    const Tensor z = zero_state(input);
    return lstm_cell(input, {z, z}, weight_ih, weight_hh, bias_ih, bias_hh);
  }
  return lstm_cell(input, hx, weight_ih, weight_hh, bias_ih, bias_hh);
}

GRUCell::GRUCell(std::int64_t in, std::int64_t hidden, const RNNCellOptions& options)
    : RNNCellBase(3, in, hidden, options) {
  TG_CHECK(options.nonlinearity == RNNNonlinearity::Tanh,
           "GRUCell: nonlinearity is an RNNCell option");
}
Tensor GRUCell::forward(const Tensor& input, const Tensor& h) {
  return gru_cell(input, h.defined() ? h : zero_state(input), weight_ih, weight_hh, bias_ih,
                  bias_hh);
}

}  // namespace tg::nn
