#pragma once
// Fused elementwise gate kernels of the recurrent cells (ops/rnn.cpp), one pass over [B, H]
// each. Gate layouts follow PyTorch: LSTM gates [B, 4H] as i, f, g, o; GRU [B, 3H] as r, z, n.
// All tensors contiguous and of one floating dtype; outputs preallocated.
#include "tapegrad/core/tensor.h"

namespace tg::kernels {

// From pre-activation gates and c: c' = f c + i g, h' = o tanh(c'). Also writes the activated
// gates `act` [B, 4H] and tanh(c') `tc` for the backward.
void lstm_gates_forward(const Tensor& gates, const Tensor& c, const Tensor& h_out,
                        const Tensor& c_out, const Tensor& act, const Tensor& tc);
// Gradients w.r.t. gates and c from those w.r.t. h' (gh) and c' (gc).
void lstm_gates_backward(const Tensor& gh, const Tensor& gc, const Tensor& act, const Tensor& tc,
                         const Tensor& c, const Tensor& g_gates, const Tensor& g_c);

// r = s(xr + hr), z = s(xz + hz), n = tanh(xn + r hn), h' = (1 - z) n + z h, from
// gx = x W_ih^T + b_ih and gh = h W_hh^T + b_hh ([B, 3H] each). Writes act = [r, z, n].
void gru_gates_forward(const Tensor& gx, const Tensor& gh, const Tensor& h, const Tensor& h_out,
                       const Tensor& act);
// Gradients w.r.t. gx, gh and h from the one w.r.t. h' (g).
void gru_gates_backward(const Tensor& g, const Tensor& act, const Tensor& gh, const Tensor& h,
                        const Tensor& g_gx, const Tensor& g_gh, const Tensor& g_h);

}  // namespace tg::kernels
