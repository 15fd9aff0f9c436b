// The recurrent cells: two GEMMs (x W_ih^T with the biases folded in, then h W_hh^T added by
// addmm) and one fused gate op, whose forward and backward kernels live in
// ops/kernels/rnn_gates.cpp. Under create_graph the gate backward is the same formula written
// in differentiable ops, so gradgradcheck passes through it.
#include "tapegrad/ops/rnn.h"

#include "tapegrad/core/autograd.h"
#include "tapegrad/core/error.h"
#include "tapegrad/ops/elementwise.h"
#include "tapegrad/ops/indexing.h"
#include "tapegrad/ops/kernels/rnn_gates.h"
#include "tapegrad/ops/linalg.h"
#include "tapegrad/ops/nn_functional.h"
#include "tapegrad/ops/shape.h"

namespace tg {

using autograd::record_multi;
using autograd::Saved;

namespace {

Tensor zeros_if_undefined(const Tensor& g, const Tensor& like) {
  return g.defined() ? g : zeros(like.shape(), like.dtype());
}

// Checks a cell's operands; returns H. `gates` is 4 (LSTM), 3 (GRU) or 1 (RNN).
std::int64_t check_cell(const char* op, const Tensor& x, const Tensor& h, const Tensor& c,
                        const Tensor& w_ih, const Tensor& w_hh, const Tensor& b_ih,
                        const Tensor& b_hh, std::int64_t gates) {
  TG_CHECK(x.defined() && h.defined() && w_ih.defined() && w_hh.defined(), op,
           ": input, hidden state and weights must be defined");
  TG_CHECK(x.is_floating_point(), op, ": expected a floating-point input, got ", x.dtype());
  TG_CHECK(x.dim() == 1 || x.dim() == 2, op, ": expected input of shape [B, input_size] or ",
           "[input_size], got ", shape_str(x.shape()));
  TG_CHECK(w_ih.dim() == 2 && w_hh.dim() == 2 && w_hh.size(0) % gates == 0, op, ": expected w_ih [",
           gates, "*H, input_size] and w_hh [", gates, "*H, H], got ", shape_str(w_ih.shape()),
           " and ", shape_str(w_hh.shape()));
  const std::int64_t H = w_hh.size(0) / gates;
  TG_CHECK(w_hh.size(1) == H && w_ih.size(0) == gates * H, op, ": expected w_ih [", gates * H,
           ", input_size] and w_hh [", gates * H, ", ", H, "], got ", shape_str(w_ih.shape()),
           " and ", shape_str(w_hh.shape()));
  TG_CHECK(x.size(-1) == w_ih.size(1), op, ": input has ", x.size(-1),
           " features but w_ih expects input_size ", w_ih.size(1), " (input shape ",
           shape_str(x.shape()), ", w_ih shape ", shape_str(w_ih.shape()), ")");
  Shape state = x.dim() == 2 ? Shape{x.size(0), H} : Shape{H};
  for (const Tensor* s : {&h, &c}) {
    if (!s->defined()) continue;
    TG_CHECK(s->shape() == state, op, ": expected hidden state of shape ", shape_str(state),
             " for input ", shape_str(x.shape()), ", got ", shape_str(s->shape()));
  }
  for (const Tensor* b : {&b_ih, &b_hh})
    if (b->defined())
      TG_CHECK(b->dim() == 1 && b->size(0) == gates * H, op, ": expected biases of shape [",
               gates * H, "], got ", shape_str(b->shape()));
  for (const Tensor* t : {&h, &c, &w_ih, &w_hh, &b_ih, &b_hh})
    if (t->defined())
      TG_CHECK(t->dtype() == x.dtype(), op, ": all operands must have the input's dtype ",
               x.dtype(), ", got ", t->dtype());
  return H;
}

Tensor batched(const Tensor& t) { return t.defined() && t.dim() == 1 ? t.unsqueeze(0) : t; }

// x W_ih^T + h W_hh^T + b_ih + b_hh in two GEMMs (the biases join the first).
Tensor pre_activation(const Tensor& x, const Tensor& h, const Tensor& w_ih, const Tensor& w_hh,
                      const Tensor& b_ih, const Tensor& b_hh) {
  const Tensor b = b_ih.defined() && b_hh.defined() ? b_ih + b_hh : b_ih.defined() ? b_ih : b_hh;
  return addmm(nn::functional::linear(x, w_ih, b), h, w_hh.t());
}

Tensor sig_grad(const Tensor& s) { return s * (1.0 - s); }  // sigmoid' from sigmoid

}  // namespace

LSTMState lstm_gates(const Tensor& gates, const Tensor& c) {
  TG_CHECK(gates.defined() && c.defined(), "lstm_gates: gates and c must be defined");
  TG_CHECK(c.dim() == 2 && gates.dim() == 2 && gates.size(0) == c.size(0) &&
               gates.size(1) == 4 * c.size(1),
           "lstm_gates: expected gates [B, 4H] and c [B, H], got ", shape_str(gates.shape()),
           " and ", shape_str(c.shape()));
  TG_CHECK(gates.is_floating_point() && gates.dtype() == c.dtype(),
           "lstm_gates: expected floating gates and c of one dtype, got ", gates.dtype(), " and ",
           c.dtype());
  const Tensor gc = gates.detach().contiguous(), cc = c.detach().contiguous();
  Tensor h_out = empty(c.shape(), c.dtype()), c_out = empty(c.shape(), c.dtype());
  Tensor act = empty(gates.shape(), c.dtype()), tc = empty(c.shape(), c.dtype());
  kernels::lstm_gates_forward(gc, cc, h_out, c_out, act, tc);
  const std::int64_t H = c.size(1);
  auto out = record_multi(
      "lstm_gates", {gates, c}, {h_out, c_out}, {gates, c, act, tc},
      [H](const grads& go, const Saved& s) {
        const Tensor gates = s[0], c = s[1];
        const Tensor dh = zeros_if_undefined(go[0], c);
        if (!GradMode::is_enabled()) {
          Tensor g_gates = empty(gates.shape(), gates.dtype()), g_c = empty(c.shape(), c.dtype());
          const Tensor dc = go[1].defined() ? go[1].contiguous() : Tensor();
          kernels::lstm_gates_backward(dh.contiguous(), dc, s[2], s[3], c.contiguous(), g_gates,
                                       g_c);
          return grads{g_gates, g_c};
        }
        // create_graph: the same formula in differentiable ops from the saved inputs.
        const Tensor i = sigmoid(gates.narrow(1, 0, H)), f = sigmoid(gates.narrow(1, H, H));
        const Tensor g = tanh(gates.narrow(1, 2 * H, H)), o = sigmoid(gates.narrow(1, 3 * H, H));
        const Tensor t = tanh(f * c + i * g);
        Tensor dc = dh * o * (1.0 - t * t);
        if (go[1].defined()) dc = dc + go[1];
        const Tensor g_gates = cat({dc * g * sig_grad(i), dc * c * sig_grad(f),
                                    dc * i * (1.0 - g * g), dh * t * sig_grad(o)},
                                   1);
        return grads{g_gates, dc * f};
      });
  return {out[0], out[1]};
}

Tensor gru_gates(const Tensor& gx, const Tensor& gh, const Tensor& h) {
  TG_CHECK(gx.defined() && gh.defined() && h.defined(), "gru_gates: operands must be defined");
  TG_CHECK(h.dim() == 2 && gx.dim() == 2 && gx.shape() == gh.shape() && gx.size(0) == h.size(0) &&
               gx.size(1) == 3 * h.size(1),
           "gru_gates: expected gx and gh [B, 3H] and h [B, H], got ", shape_str(gx.shape()), ", ",
           shape_str(gh.shape()), " and ", shape_str(h.shape()));
  TG_CHECK(h.is_floating_point() && gx.dtype() == h.dtype() && gh.dtype() == h.dtype(),
           "gru_gates: expected floating operands of one dtype, got ", gx.dtype(), ", ", gh.dtype(),
           " and ", h.dtype());
  const Tensor ghc = gh.detach().contiguous(), hc = h.detach().contiguous();
  Tensor h_out = empty(h.shape(), h.dtype()), act = empty(gx.shape(), h.dtype());
  kernels::gru_gates_forward(gx.detach().contiguous(), ghc, hc, h_out, act);
  const std::int64_t H = h.size(1);
  auto out = record_multi(
      "gru_gates", {gx, gh, h}, {h_out}, {gx, gh, h, act}, [H](const grads& go, const Saved& s) {
        const Tensor gx = s[0], gh = s[1], h = s[2];
        const Tensor d = zeros_if_undefined(go[0], h);
        if (!GradMode::is_enabled()) {
          Tensor g_gx = empty(gx.shape(), gx.dtype()), g_gh = empty(gx.shape(), gx.dtype());
          Tensor g_h = empty(h.shape(), h.dtype());
          kernels::gru_gates_backward(d.contiguous(), s[3], gh.contiguous(), h.contiguous(), g_gx,
                                      g_gh, g_h);
          return grads{g_gx, g_gh, g_h};
        }
        const Tensor hn = gh.narrow(1, 2 * H, H);
        const Tensor r = sigmoid(gx.narrow(1, 0, H) + gh.narrow(1, 0, H));
        const Tensor z = sigmoid(gx.narrow(1, H, H) + gh.narrow(1, H, H));
        const Tensor n = tanh(gx.narrow(1, 2 * H, H) + r * hn);
        const Tensor dn = d * (1.0 - z) * (1.0 - n * n);
        const Tensor dz = d * (h - n) * sig_grad(z);
        const Tensor dr = dn * hn * sig_grad(r);
        return grads{cat({dr, dz, dn}, 1), cat({dr, dz, dn * r}, 1), d * z};
      });
  return out[0];
}

LSTMState lstm_cell(const Tensor& x, const LSTMState& state, const Tensor& w_ih, const Tensor& w_hh,
                    const Tensor& b_ih, const Tensor& b_hh) {
  check_cell("lstm_cell", x, state.h, state.c, w_ih, w_hh, b_ih, b_hh, 4);
  TG_CHECK(state.c.defined(), "lstm_cell: cell state c must be defined");
  const Tensor gates = pre_activation(batched(x), batched(state.h), w_ih, w_hh, b_ih, b_hh);
  LSTMState out = lstm_gates(gates, batched(state.c));
  if (x.dim() == 1) return {out.h.squeeze(0), out.c.squeeze(0)};
  return out;
}

Tensor gru_cell(const Tensor& x, const Tensor& h, const Tensor& w_ih, const Tensor& w_hh,
                const Tensor& b_ih, const Tensor& b_hh) {
  check_cell("gru_cell", x, h, {}, w_ih, w_hh, b_ih, b_hh, 3);
  const Tensor hb = batched(h);
  const Tensor gx = nn::functional::linear(batched(x), w_ih, b_ih);
  const Tensor gh = nn::functional::linear(hb, w_hh, b_hh);
  const Tensor out = gru_gates(gx, gh, hb);
  return x.dim() == 1 ? out.squeeze(0) : out;
}

Tensor rnn_tanh_cell(const Tensor& x, const Tensor& h, const Tensor& w_ih, const Tensor& w_hh,
                     const Tensor& b_ih, const Tensor& b_hh) {
  check_cell("rnn_tanh_cell", x, h, {}, w_ih, w_hh, b_ih, b_hh, 1);
  const Tensor out = tanh(pre_activation(batched(x), batched(h), w_ih, w_hh, b_ih, b_hh));
  return x.dim() == 1 ? out.squeeze(0) : out;
}

Tensor rnn_relu_cell(const Tensor& x, const Tensor& h, const Tensor& w_ih, const Tensor& w_hh,
                     const Tensor& b_ih, const Tensor& b_hh) {
  check_cell("rnn_relu_cell", x, h, {}, w_ih, w_hh, b_ih, b_hh, 1);
  const Tensor out = relu(pre_activation(batched(x), batched(h), w_ih, w_hh, b_ih, b_hh));
  return x.dim() == 1 ? out.squeeze(0) : out;
}

std::vector<Tensor> unbind(const Tensor& x, std::int64_t dim) {
  TG_CHECK(x.defined() && x.dim() > 0, "unbind: expected a tensor with at least 1 dim");
  const std::int64_t d = wrap_dim("unbind", dim, x.dim());
  std::vector<Tensor> parts;
  {
    NoGradGuard guard;
    const Tensor xd = x.detach();
    for (std::int64_t i = 0; i < x.size(d); ++i) parts.push_back(xd.select(d, i).clone());
  }
  if (!x.is_floating_point()) return parts;
  if (parts.empty()) return parts;
  return record_multi("unbind", {x}, std::move(parts), {},
                      [d, shape = x.shape(), dtype = x.dtype()](const grads& go, const Saved&) {
                        Shape part = shape;
                        part.erase(part.begin() + d);
                        std::vector<Tensor> gs;
                        gs.reserve(go.size());
                        for (const auto& g : go) gs.push_back(g.defined() ? g : zeros(part, dtype));
                        return grads{stack(gs, d)};
                      });
}

}  // namespace tg
