// lstm_layer: one LSTM layer over a whole sequence as ONE recorded node. Per step the cell of
// ops/rnn.cpp recorded an addmm and a gate node, so backward ran T small GEMMs for dW_hh (K = B)
// and summed T weight-sized gradients. Here:
//   forward  = one GEMM for x W_ih^T (+ biases) over all steps, then per step h W_hh^T added
//              into that step's rows and the fused gate kernel, writing into [T, B, ...] buffers;
//   backward = the reverse loop (gate kernel backward, dG_t W_hh) producing the gate gradients
//              dG for all steps, then one GEMM each for dW_hh, dW_ih and dx, and the bias
//              gradient as one column sum of dG.
// Under create_graph the backward is the same recurrence written in differentiable ops (the
// forward recomputed from the saved inputs), so the layer differentiates twice.
#include <cstdint>

#include "tapegrad/core/autograd.h"
#include "tapegrad/core/error.h"
#include "tapegrad/ops/elementwise.h"
#include "tapegrad/ops/kernels/gemm.h"
#include "tapegrad/ops/kernels/rnn_gates.h"
#include "tapegrad/ops/linalg.h"
#include "tapegrad/ops/nn_functional.h"
#include "tapegrad/ops/reduction.h"
#include "tapegrad/ops/rnn.h"
#include "tapegrad/ops/shape.h"

namespace tg {

using autograd::record_multi;
using autograd::Saved;

namespace {

// The saved-tensor slots of the node.
enum Slot : std::size_t { kX, kH0, kC0, kWih, kWhh, kBih, kBhh, kXc, kAct, kTc, kHbuf, kCbuf };

void check_layer(const Tensor& x, const LSTMState& s, const Tensor& w_ih, const Tensor& w_hh,
                 const Tensor& b_ih, const Tensor& b_hh) {
  TG_CHECK(x.defined() && w_ih.defined() && w_hh.defined(),
           "lstm_layer: input and weights must be defined");
  TG_CHECK(x.is_floating_point(), "lstm_layer: expected a floating-point input, got ", x.dtype());
  TG_CHECK(x.dim() == 3 && x.size(0) > 0, "lstm_layer: expected input of shape [T, B, input_size] ",
           "with T >= 1, got ", shape_str(x.shape()));
  TG_CHECK(w_hh.dim() == 2 && w_hh.size(0) % 4 == 0 && w_hh.size(1) * 4 == w_hh.size(0) &&
               w_ih.dim() == 2 && w_ih.size(0) == w_hh.size(0),
           "lstm_layer: expected w_ih [4*H, input_size] and w_hh [4*H, H], got ",
           shape_str(w_ih.shape()), " and ", shape_str(w_hh.shape()));
  TG_CHECK(x.size(2) == w_ih.size(1), "lstm_layer: input has ", x.size(2),
           " features but w_ih expects input_size ", w_ih.size(1), " (input shape ",
           shape_str(x.shape()), ", w_ih shape ", shape_str(w_ih.shape()), ")");
  const Shape state{x.size(1), w_hh.size(1)};
  for (const Tensor* t : {&s.h, &s.c})
    if (t->defined())
      TG_CHECK(t->shape() == state, "lstm_layer: expected states of shape ", shape_str(state),
               " for input ", shape_str(x.shape()), ", got ", shape_str(t->shape()));
  for (const Tensor* b : {&b_ih, &b_hh})
    if (b->defined())
      TG_CHECK(b->dim() == 1 && b->size(0) == w_hh.size(0),
               "lstm_layer: expected biases of shape [", w_hh.size(0), "], got ",
               shape_str(b->shape()));
  for (const Tensor* t : {&s.h, &s.c, &w_ih, &w_hh, &b_ih, &b_hh})
    if (t->defined())
      TG_CHECK(t->dtype() == x.dtype(), "lstm_layer: all operands must have the input's dtype ",
               x.dtype(), ", got ", t->dtype());
}

Tensor bias_sum(const Tensor& b_ih, const Tensor& b_hh) {
  return b_ih.defined() && b_hh.defined() ? b_ih + b_hh : b_ih.defined() ? b_ih : b_hh;
}

// The state buffers hold T + 1 states in time order: forward, slot 0 is the initial state and
// slot t + 1 the state after step t; reverse (steps T-1 down to 0), slot T is the initial state
// and slot t the state after step t. So the state step t reads is slot t + `reverse`, and the
// one it writes slot t + 1 - `reverse`.
std::int64_t read_slot(std::int64_t t, bool reverse) { return t + (reverse ? 1 : 0); }
std::int64_t write_slot(std::int64_t t, bool reverse) { return t + (reverse ? 0 : 1); }

Tensor sig_grad(const Tensor& s) { return s * (1.0 - s); }  // sigmoid' from sigmoid

// create_graph: the forward recomputed and the backward recurrence written in differentiable
// ops, so the gradients carry a graph of their own.
grads composed_backward(const grads& go, const Saved& s, bool reverse) {
  const Tensor x = s[kX], h0 = s[kH0], c0 = s[kC0], w_ih = s[kWih], w_hh = s[kWhh];
  const Tensor b_ih = s[kBih], b_hh = s[kBhh];
  const std::int64_t T = x.size(0), B = x.size(1), I = x.size(2), H = w_hh.size(1);
  const Tensor x2 = x.reshape({T * B, I});
  const Tensor pre_x =
      nn::functional::linear(x2, w_ih, bias_sum(b_ih, b_hh)).reshape({T, B, 4 * H});
  const Tensor w_hh_t = w_hh.t();
  std::vector<Tensor> i(T), f(T), g(T), o(T), tc(T), c_prev(T), h_prev(T);
  Tensor h = h0, c = c0;
  for (std::int64_t k = 0; k < T; ++k) {
    const std::int64_t t = reverse ? T - 1 - k : k;
    const Tensor pre = addmm(pre_x.select(0, t), h, w_hh_t);
    i[t] = sigmoid(pre.narrow(1, 0, H));
    f[t] = sigmoid(pre.narrow(1, H, H));
    g[t] = tanh(pre.narrow(1, 2 * H, H));
    o[t] = sigmoid(pre.narrow(1, 3 * H, H));
    h_prev[t] = h;
    c_prev[t] = c;
    c = f[t] * c + i[t] * g[t];
    tc[t] = tanh(c);
    h = o[t] * tc[t];
  }
  Tensor dh = go[1].defined() ? go[1] : zeros({B, H}, x.dtype());
  Tensor dc = go[2].defined() ? go[2] : zeros({B, H}, x.dtype());
  std::vector<Tensor> dgates(T);
  for (std::int64_t k = T - 1; k >= 0; --k) {
    const std::int64_t t = reverse ? T - 1 - k : k;
    const Tensor dht = go[0].defined() ? dh + go[0].select(0, t) : dh;
    const Tensor dct = dc + dht * o[t] * (1.0 - tc[t] * tc[t]);
    dgates[t] = cat({dct * g[t] * sig_grad(i[t]), dct * c_prev[t] * sig_grad(f[t]),
                     dct * i[t] * (1.0 - g[t] * g[t]), dht * tc[t] * sig_grad(o[t])},
                    1);
    dh = mm(dgates[t], w_hh);
    dc = dct * f[t];
  }
  const Tensor dG = stack(dgates, 0).reshape({T * B, 4 * H});
  const Tensor dGt = dG.t();
  const Tensor db = sum(dG, {0});
  return {mm(dG, w_ih).reshape(x.shape()),
          dh,
          dc,
          mm(dGt, x2),
          mm(dGt, stack(h_prev, 0).reshape({T * B, H})),
          b_ih.defined() ? db : Tensor(),
          b_hh.defined() ? db : Tensor()};
}

// The plain backward: kernels on the buffers the forward saved.
grads fused_backward(const grads& go, const Saved& s, bool reverse) {
  const Tensor xc = s[kXc], w_ih = s[kWih], w_hh = s[kWhh];
  const Tensor act = s[kAct], tc = s[kTc], hbuf = s[kHbuf], cbuf = s[kCbuf];
  const std::int64_t T = xc.size(0), B = xc.size(1), I = xc.size(2), H = w_hh.size(1);
  const Dtype dtype = xc.dtype();
  const Tensor dy = go[0].defined() ? go[0].contiguous() : Tensor();
  Tensor dh = go[1].defined() ? go[1].contiguous() : zeros({B, H}, dtype);
  Tensor dc = go[2].defined() ? go[2].contiguous() : zeros({B, H}, dtype);
  Tensor dG = empty({T, B, 4 * H}, dtype);
  for (std::int64_t k = T - 1; k >= 0; --k) {
    const std::int64_t t = reverse ? T - 1 - k : k;
    const Tensor dht = dy.defined() ? dh + dy.select(0, t) : dh;
    const Tensor dGt = dG.select(0, t);
    Tensor dc_prev = empty({B, H}, dtype);
    kernels::lstm_gates_backward(dht, dc, act.select(0, t), tc.select(0, t),
                                 cbuf.select(0, read_slot(t, reverse)), dGt, dc_prev);
    dc = dc_prev;
    if (k > 0 || s.needs_grad(kH0)) {
      Tensor dh_prev = empty({B, H}, dtype);
      kernels::gemm(dGt, w_hh, dh_prev);
      dh = dh_prev;
    }
  }
  const Tensor dG2 = dG.view({T * B, 4 * H});
  grads out(7);
  if (s.needs_grad(kX)) {
    out[kX] = empty({T, B, I}, dtype);
    kernels::gemm(dG2, w_ih, out[kX].view({T * B, I}));
  }
  out[kH0] = dh;
  out[kC0] = dc;
  if (s.needs_grad(kWih)) {
    out[kWih] = empty(w_ih.shape(), dtype);
    kernels::gemm(dG2.t(), xc.view({T * B, I}), out[kWih]);
  }
  if (s.needs_grad(kWhh)) {
    out[kWhh] = empty(w_hh.shape(), dtype);
    kernels::gemm(dG2.t(), hbuf.narrow(0, reverse ? 1 : 0, T).view({T * B, H}), out[kWhh]);
  }
  if (s.needs_grad(kBih) || s.needs_grad(kBhh)) {
    const Tensor db = sum(dG2, {0});
    out[kBih] = s.needs_grad(kBih) ? db : Tensor();
    out[kBhh] = s.needs_grad(kBhh) ? db : Tensor();
  }
  return out;
}

}  // namespace

LSTMSequence lstm_layer(const Tensor& x, const LSTMState& state, const Tensor& w_ih,
                        const Tensor& w_hh, const Tensor& b_ih, const Tensor& b_hh, bool reverse) {
  check_layer(x, state, w_ih, w_hh, b_ih, b_hh);
  const std::int64_t T = x.size(0), B = x.size(1), I = x.size(2), H = w_hh.size(1);
  const Dtype dtype = x.dtype();
  const Tensor h0 = state.h.defined() ? state.h : zeros({B, H}, dtype);
  const Tensor c0 = state.c.defined() ? state.c : zeros({B, H}, dtype);
  Tensor xc, act, tc, hbuf, cbuf;
  {
    NoGradGuard guard;
    xc = x.detach().contiguous();
    const Tensor b =
        bias_sum(b_ih.defined() ? b_ih.detach() : b_ih, b_hh.defined() ? b_hh.detach() : b_hh);
    // Pre-activations of every step: x W_ih^T + biases in one GEMM, h W_hh^T added per step.
    const Tensor pre = nn::functional::linear(xc.view({T * B, I}), w_ih.detach(), b)
                           .contiguous()
                           .view({T, B, 4 * H});
    act = empty({T, B, 4 * H}, dtype);
    tc = empty({T, B, H}, dtype);
    hbuf = empty({T + 1, B, H}, dtype);
    cbuf = empty({T + 1, B, H}, dtype);
    hbuf.select(0, reverse ? T : 0).copy_(h0.detach());
    cbuf.select(0, reverse ? T : 0).copy_(c0.detach());
    const Tensor w_hh_t = w_hh.detach().t();
    for (std::int64_t k = 0; k < T; ++k) {
      const std::int64_t t = reverse ? T - 1 - k : k;
      const Tensor pt = pre.select(0, t);
      kernels::gemm(hbuf.select(0, read_slot(t, reverse)), w_hh_t, pt, 1.0, 1.0);
      kernels::lstm_gates_forward(
          pt, cbuf.select(0, read_slot(t, reverse)), hbuf.select(0, write_slot(t, reverse)),
          cbuf.select(0, write_slot(t, reverse)), act.select(0, t), tc.select(0, t));
    }
  }
  const std::int64_t last = reverse ? 0 : T;
  std::vector<Tensor> outs{hbuf.narrow(0, reverse ? 0 : 1, T).clone(), hbuf.select(0, last).clone(),
                           cbuf.select(0, last).clone()};
  outs = record_multi("lstm_layer", {x, h0, c0, w_ih, w_hh, b_ih, b_hh}, std::move(outs),
                      {x, h0, c0, w_ih, w_hh, b_ih, b_hh, xc, act, tc, hbuf, cbuf},
                      [reverse](const grads& go, const Saved& s) {
                        return GradMode::is_enabled() ? composed_backward(go, s, reverse)
                                                      : fused_backward(go, s, reverse);
                      });
  return {outs[0], {outs[1], outs[2]}};
}

}  // namespace tg
