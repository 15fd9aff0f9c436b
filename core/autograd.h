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
// Backward closures must capture no Tensor (save them through the `saved` list instead): the
// engine checks saved tensors against in-place changes, avoids reference cycles through saved
// outputs, and frees them after backward. Broadcast gradients are summed back to each input's
// shape by the engine, not by each op.
#include <atomic>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "tapegrad/core/grad_mode.h"
#include "tapegrad/core/tensor.h"

namespace tg {

using grads = std::vector<Tensor>;  // one gradient per input; undefined = zero / not needed

namespace autograd {

class Node;

// Where a gradient goes: output slot `input_nr` of `node` (node is null when no grad is needed).
struct Edge {
  std::shared_ptr<Node> node;
  std::uint32_t input_nr = 0;
};

struct TensorMeta {
  Shape shape;
  Dtype dtype = kFloat32;
};

// A tensor kept for backward, with the version it had when saved.
class SavedTensor {
 public:
  SavedTensor() = default;
  SavedTensor(const Tensor& t, bool is_output, std::uint32_t output_nr = 0);
  // Rebuilds the tensor; for a saved output under create_graph, re-attaches it to `owner` so
  // that the second backward can differentiate through it.
  Tensor unpack(Node& owner) const;
  void check_version(std::string_view op, std::size_t index) const;

 private:
  Tensor data_;  // for outputs a detached alias: holding the output itself would form a cycle
  std::uint32_t version_ = 0;
  std::uint32_t output_nr_ = 0;
  bool is_output_ = false;
};

class Node : public std::enable_shared_from_this<Node> {
 public:
  // Frees the graph below this node with a loop, not by recursing through each node's
  // destructor: a chain of a million nodes would overflow the stack.
  virtual ~Node();
  virtual std::string_view name() const = 0;
  // Gradients w.r.t. the inputs (one per next_edge), given gradients w.r.t. the outputs.
  virtual grads apply(grads&& grad_outputs) = 0;
  // Frees what apply needs; called after a backward pass without retain_graph.
  virtual void release() {}
  virtual bool released() const { return false; }

  std::vector<Edge> next_edges;         // one per input
  std::vector<TensorMeta> input_meta;   // gradients are summed back to these shapes
  std::vector<TensorMeta> output_meta;  // missing output gradients become zeros of these
  std::uint64_t sequence_nr = 0;        // creation order; later nodes run first

  struct PreHook {
    std::uint32_t output_nr;
    int id;
    std::shared_ptr<GradHook> fn;  // shared: a backward pass runs a snapshot of the list
  };
  // Threads may register hooks while others run backward through this node: pre_hooks and
  // retained change under `mutex`, and has_hooks (set once either is non-empty) lets the engine
  // skip the lock for the usual node without any.
  std::vector<PreHook> pre_hooks;  // hooks of non-leaf tensors (this node's outputs)
  std::vector<std::pair<std::uint32_t, std::weak_ptr<TensorImpl>>> retained;  // retain_grad
  std::atomic<bool> has_hooks{false};
  // Guards the lists above, the node's saved state between apply and release (threads may run
  // backward through one graph with retain_graph), and a leaf's .grad in AccumulateGrad.
  mutable std::mutex mutex;
  // Name of the forward op that recorded this node, for error messages (a view of a string the
  // node owns; empty for leaf sinks).
  std::string_view forward_trace;
};

// What a backward closure receives besides the output gradient(s).
class Saved {
 public:
  Saved(const std::vector<SavedTensor>& saved, const std::vector<Edge>& edges, Node& owner)
      : saved_(saved), edges_(edges), owner_(owner) {}
  Tensor operator[](std::size_t i) const;
  std::size_t size() const { return saved_.size(); }
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

// The edge a gradient for `t` flows into (its grad_fn slot, or its leaf accumulator).
Edge gradient_edge(const Tensor& t);

}  // namespace autograd

namespace detail {
// Guards a leaf's grad_accumulator, hooks and hook ids (a lock picked by address, held briefly:
// never while user code runs).
std::mutex& leaf_mutex(const TensorImpl* impl);
// Drops a reference to a node; inside the freeing of a graph, the last reference is queued
// instead of destroyed in place (TensorImpl's destructor calls this for its grad_fn).
void release_node(std::shared_ptr<autograd::Node>& node) noexcept;
}  // namespace detail

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
