#pragma once
// The op table swept by test_gradcheck_sweep: sample inputs per op (plain, broadcast,
// non-contiguous, edge values), each gradchecked and, where the op's backward is written in
// differentiable ops, gradgradchecked. Every node name that ops/ records must be reached by some
// sample, or the sweep fails.
//
// Add samples from a samples_<family>.cpp file:
//   TG_OP_SAMPLES(elementwise) {
//     return {
//       {"exp", "plain", [](const In& x) { return exp(x[0]); }, [] { return In{rnd({3, 4})}; }},
//     };
//   }
#include <functional>
#include <string>
#include <vector>

// Only the Tensor type: each samples_*.cpp includes the op families it samples, so a change to
// one family's header rebuilds that table alone (edges_pytorch.cpp spans every family).
#include "tapegrad/core/tensor.h"

namespace tg::sweep {

using In = std::vector<Tensor>;

struct OpSample {
  std::string op;     // the op under test (for messages)
  std::string label;  // what this sample exercises
  std::function<Tensor(const In&)> fn;
  std::function<In()> make_inputs;  // float64; inputs that require grad are checked
  bool gradgrad = true;             // also run gradgradcheck
  double eps = 1e-6;                // finite-difference step (larger for float32 round trips)
};

using SampleFactory = std::vector<OpSample> (*)();
int register_factory(SampleFactory f);
std::vector<SampleFactory>& factories();

// Inputs: float64 standard normal, requiring grad.
Tensor rnd(const Shape& shape);
// Positive values in [0.5, 2) (domains of log, sqrt, ...).
Tensor positive(const Shape& shape);
// Values away from 0 (|x| in [0.2, 1.2]) for ops with a kink at 0.
Tensor away_from_zero(const Shape& shape);
// A non-contiguous tensor of `shape`: the transpose of a contiguous one.
Tensor noncontig(const Shape& shape);
// A constant (no grad) float64 tensor.
Tensor constant(const Shape& shape);

// An edge-value check (gradcheck cannot run at NaN or inf): the op's forward values and
// gradients at NaN, +-inf and 0 inputs against PyTorch 1.13's, whose numbers the table carries.
// NaN must match NaN; signed zeros are not told apart. The backward runs with a grad_output of
// ones. An input's expected gradient is empty when it does not require grad.
struct EdgeInput {
  Shape shape;
  std::vector<double> values;
  bool requires_grad = true;
};
struct EdgeCase {
  std::string op, label;
  std::function<Tensor(const In&)> fn;
  std::vector<EdgeInput> inputs;
  std::vector<double> value;               // the forward result, flattened
  std::vector<std::vector<double>> grads;  // one per input
};
using EdgeFactory = std::vector<EdgeCase> (*)();
int register_edge_factory(EdgeFactory f);
std::vector<EdgeFactory>& edge_factories();

}  // namespace tg::sweep

#define TG_EDGE_CASES(name)                                      \
  static std::vector<::tg::sweep::EdgeCase> tg_edges_##name();   \
  [[maybe_unused]] static const int tg_edges_registered_##name = \
      ::tg::sweep::register_edge_factory(&tg_edges_##name);      \
  static std::vector<::tg::sweep::EdgeCase> tg_edges_##name()

#define TG_OP_SAMPLES(name)                                        \
  static std::vector<::tg::sweep::OpSample> tg_samples_##name();   \
  [[maybe_unused]] static const int tg_samples_registered_##name = \
      ::tg::sweep::register_factory(&tg_samples_##name);           \
  static std::vector<::tg::sweep::OpSample> tg_samples_##name()
