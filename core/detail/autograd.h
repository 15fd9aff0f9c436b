#pragma once
// The autograd engine's internals: graph nodes, their edges and saved tensors. Internal (not
// installed): ops use the public core/autograd.h; users see a node through GradFn (core/tensor.h).
#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string_view>
#include <utility>
#include <vector>

#include "tapegrad/core/autograd.h"
#include "tapegrad/core/detail/tensor_impl.h"

namespace tg {
namespace autograd {

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

class Node : public GradFn, public std::enable_shared_from_this<Node> {
 public:
  // Frees the graph below this node with a loop, not by recursing through each node's
  // destructor: a chain of a million nodes would overflow the stack.
  virtual ~Node();
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

// The edge a gradient for `t` flows into (its grad_fn slot, or its leaf accumulator).
Edge gradient_edge(const Tensor& t);

// Throws unless a hook's result `returned` has the dtype and shape of the gradient `given` it
// got. `node` is null for a leaf's hook, else the op whose output `output_nr` carries the hook.
void check_hook_result(const Tensor& given, const Tensor& returned, int id, const Node* node,
                       std::uint32_t output_nr);

}  // namespace autograd

namespace detail {
// Guards a leaf's grad_accumulator, hooks and hook ids (a lock picked by address, held briefly:
// never while user code runs).
std::mutex& leaf_mutex(const TensorImpl* impl);
// Drops a reference to a node; inside the freeing of a graph, the last reference is queued
// instead of destroyed in place (TensorImpl's destructor calls this for its grad_fn).
void release_node(std::shared_ptr<autograd::Node>& node) noexcept;
// t's grad_fn as the engine's node (Tensor::grad_fn() gives users only its GradFn face); a view
// whose memory changed re-derives it first.
const std::shared_ptr<autograd::Node>& grad_fn(const Tensor& t);
// Anomaly mode: whether t (floating point) holds a NaN or an Inf.
bool has_non_finite(const Tensor& t);
// Whether this thread is running a node's backward (engine.cpp): the engine then checks the
// node's gradients itself, naming the node, and forward checks stand aside.
bool in_backward();
}  // namespace detail

}  // namespace tg
