#pragma once
// The autograd tape. Each op that needs a gradient records a Node on its output; the recorded
// nodes form the graph that backward() walks in reverse topological order.
//
// Writing an op (see ops/ for many):
//   Tensor exp(const Tensor& x) {
//     Tensor y = kernels::exp(x);                              // forward, no graph
//     return autograd::record("exp", {x}, y, {y},              // saved: y
//         [](const Tensor& g, const autograd::Saved& s) { return grads{g * s[0]}; });
//   }
// The engine's types (Node, Edge, SavedTensor) are internal: core/detail/autograd.h.
// Backward closures must capture no Tensor (save them through the `saved` list instead): the
// engine checks saved tensors against in-place changes, avoids reference cycles through saved
// outputs, and frees them after backward. Broadcast gradients are summed back to each input's
// shape by the engine, not by each op.
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "tapegrad/core/grad_mode.h"
#include "tapegrad/core/tensor.h"

namespace tg {

using grads = std::vector<Tensor>;  // one gradient per input; undefined = zero / not needed

namespace autograd {

class Node;
class SavedTensor;
struct Edge;

// What a backward closure receives besides the output gradient(s).
class Saved {
 public:
  Saved(const std::vector<SavedTensor>& saved, const std::vector<Edge>& edges, Node& owner)
      : saved_(saved), edges_(edges), owner_(owner) {}
  Tensor operator[](std::size_t i) const;
  std::size_t size() const;
  bool needs_grad(std::size_t input) const;

 private:
  const std::vector<SavedTensor>& saved_;
  const std::vector<Edge>& edges_;
  Node& owner_;
};

using BackwardFn = std::function<grads(const Tensor& grad, const Saved& saved)>;
using MultiBackwardFn = std::function<grads(const grads& grad_outputs, const Saved& saved)>;

// Grad mode is on and some input requires grad.
bool needs_grad(std::initializer_list<Tensor> inputs);
bool needs_grad(const std::vector<Tensor>& inputs);

// Records `op` on `output` if needs_grad(inputs); returns `output` either way.
Tensor record(const char* op, std::initializer_list<Tensor> inputs, Tensor output,
              std::initializer_list<Tensor> saved, BackwardFn backward);
Tensor record(const char* op, std::initializer_list<Tensor> inputs, Tensor output,
              BackwardFn backward);
// Several outputs sharing one node (custom ops, split-like ops).
std::vector<Tensor> record_multi(std::string op, const std::vector<Tensor>& inputs,
                                 std::vector<Tensor> outputs, const std::vector<Tensor>& saved,
                                 MultiBackwardFn backward);

}  // namespace autograd

// Sums d(outputs)/d(inputs) weighted by grad_outputs and returns it, without touching .grad.
// grad_outputs may be omitted for one-element outputs. An input that does not influence the
// outputs is an error unless allow_unused, in which case its gradient is undefined.
std::vector<Tensor> grad(const std::vector<Tensor>& outputs, const std::vector<Tensor>& inputs,
                         const std::vector<Tensor>& grad_outputs = {}, bool retain_graph = false,
                         bool create_graph = false, bool allow_unused = false);

// Accumulates gradients of `tensors` into the leaves' .grad.
void backward(const std::vector<Tensor>& tensors, const std::vector<Tensor>& grad_tensors = {},
              bool retain_graph = false, bool create_graph = false);

// Anomaly mode: while a guard is alive, a NaN or Inf produced by a recorded op's forward or
// backward raises an error naming that op.
class DetectAnomalyGuard {
 public:
  DetectAnomalyGuard();
  ~DetectAnomalyGuard();
  DetectAnomalyGuard(const DetectAnomalyGuard&) = delete;
  DetectAnomalyGuard& operator=(const DetectAnomalyGuard&) = delete;
  static bool is_enabled();

 private:
  bool prev_;
};
using detect_anomaly = DetectAnomalyGuard;

namespace autograd {
// Marks a composite op (one the user calls that runs other recorded ops inside: matmul's
// reshapes, a loss built from log and mean) for anomaly mode: a NaN or Inf from an internal op
// is blamed on the outermost scope's op, naming the internal op, and on the scope's input that
// already carried it. Costs a thread-local write; the inputs are kept only in anomaly mode.
class OpScope {
 public:
  OpScope(const char* op, std::initializer_list<Tensor> inputs);
  ~OpScope();
  OpScope(const OpScope&) = delete;
  OpScope& operator=(const OpScope&) = delete;

 private:
  friend struct OpScopeAccess;
  const char* op_;
  std::vector<Tensor> inputs_;
  OpScope* prev_;
};
}  // namespace autograd

}  // namespace tg
