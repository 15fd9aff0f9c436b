// The backward engine: discovers the graph below the roots, counts each node's dependencies,
// and runs the nodes from a ready queue in reverse creation order, summing the gradients that
// flow into each. (It adds and reduces gradients with ops from ops/; that is the one place core/
// calls into ops/, through the Tensor methods declared in tensor.h.) Nodes, edges, saved tensors
// and hooks: autograd.cpp.
#include <algorithm>
#include <cstdint>
#include <queue>
#include <utility>
#include <vector>

#include "tapegrad/core/autograd.h"
#include "tapegrad/core/detail/autograd.h"
#include "tapegrad/ops/elementwise.h"

namespace tg {
namespace {
// Inside a backward pass the engine checks each node's gradients itself, naming the node.
thread_local bool g_in_backward = false;
}  // namespace

bool detail::in_backward() { return g_in_backward; }

namespace autograd {
using detail::has_non_finite;

namespace {

struct Root {
  Edge edge;
  Tensor grad;
};

void accumulate(grads& buffer, std::uint32_t slot, Tensor g) {
  if (!buffer[slot].defined())
    buffer[slot] = std::move(g);
  else
    buffer[slot] = buffer[slot] + g;
}

// Node* -> dense index (open addressing). The engine keeps its per-node state in plain vectors
// indexed by it, so a backward pass costs a handful of allocations, not a few per node.
class NodeIndex {
 public:
  static constexpr std::size_t kNone = static_cast<std::size_t>(-1);

  // The node's index, and whether it was new.
  std::pair<std::size_t, bool> insert(Node* n) {
    if ((nodes_.size() + 1) * 2 > slots_.size()) grow();
    const std::size_t s = slot_of(n);
    if (slots_[s] != kNone) return {slots_[s], false};
    slots_[s] = nodes_.size();
    nodes_.push_back(n);
    return {nodes_.size() - 1, true};
  }
  std::size_t find(Node* n) const { return slots_.empty() ? kNone : slots_[slot_of(n)]; }
  Node* node(std::size_t i) const { return nodes_[i]; }
  std::size_t size() const { return nodes_.size(); }

 private:
  std::size_t slot_of(Node* n) const {
    const std::size_t mask = slots_.size() - 1;
    auto h = static_cast<std::uint64_t>(reinterpret_cast<std::uintptr_t>(n));
    h = (h ^ (h >> 29)) * 0xBF58476D1CE4E5B9ull;
    std::size_t s = static_cast<std::size_t>(h ^ (h >> 32)) & mask;
    while (slots_[s] != kNone && nodes_[slots_[s]] != n) s = (s + 1) & mask;
    return s;
  }
  void grow() {
    slots_.assign(std::max<std::size_t>(16, slots_.size() * 2), kNone);
    for (std::size_t i = 0; i < nodes_.size(); ++i) slots_[slot_of(nodes_[i])] = i;
  }
  std::vector<std::size_t> slots_;  // power-of-two size, at most half full
  std::vector<Node*> nodes_;
};

// Runs the hooks of the node's output tensors on their gradients, then fills retained .grads.
// Hooks run from a snapshot of the list, outside the lock: they may add or remove hooks
// (PyTorch: the changes apply from the next pass), and other threads may register more.
void run_pre_hooks(Node& n, grads& in, bool create_graph) {
  std::vector<Node::PreHook> hooks;
  bool retains = false;
  {
    std::lock_guard lock(n.mutex);
    hooks = n.pre_hooks;
    retains = !n.retained.empty();
  }
  for (const auto& h : hooks) {
    if (h.output_nr >= in.size() || !in[h.output_nr].defined()) continue;
    GradMode::set_enabled(create_graph);
    Tensor r = (*h.fn)(in[h.output_nr]);
    if (!r.defined()) continue;
    check_hook_result(in[h.output_nr], r, h.id, &n, h.output_nr);
    in[h.output_nr] = std::move(r);
  }
  if (!retains) return;
  std::lock_guard lock(n.mutex);  // threads sharing this node add to the same .grad
  for (const auto& [slot, weak] : n.retained) {
    auto impl = weak.lock();
    if (!impl || slot >= in.size() || !in[slot].defined()) continue;
    Tensor g = create_graph ? in[slot] : in[slot].detach();
    impl->grad = impl->grad ? (Tensor(impl->grad).detach() + g).impl_ptr() : g.impl_ptr();
  }
}

// Runs the graph below `roots`. With `targets`, returns the gradient flowing into each target
// edge instead of accumulating into leaves.
std::vector<Tensor> execute(const std::vector<Root>& roots, const std::vector<Edge>& targets,
                            bool keep_graph, bool create_graph) {
  const bool capture = !targets.empty();
  // Discover the graph and count, for every node, the edges that point to it.
  NodeIndex index;
  std::vector<int> deps;
  std::vector<Node*> stack;
  for (const auto& r : roots)
    if (index.insert(r.edge.node.get()).second) stack.push_back(r.edge.node.get());
  while (!stack.empty()) {
    Node* n = stack.back();
    stack.pop_back();
    for (const auto& e : n->next_edges) {
      if (!e.node) continue;
      const auto [j, fresh] = index.insert(e.node.get());
      if (deps.size() <= j) deps.resize(j + 1, 0);
      ++deps[j];
      if (fresh) stack.push_back(e.node.get());
    }
  }
  const std::size_t count = index.size();
  deps.resize(count, 0);

  // With targets: run a node only if some target lies below it.
  std::vector<std::vector<std::pair<std::uint32_t, std::size_t>>> captures;
  std::vector<char> runs;
  if (capture) {
    captures.resize(count);
    for (std::size_t i = 0; i < targets.size(); ++i) {
      if (!targets[i].node) continue;
      const std::size_t j = index.find(targets[i].node.get());
      if (j != NodeIndex::kNone) captures[j].emplace_back(targets[i].input_nr, i);
    }
    // Topological order (Kahn), then a reverse sweep marks nodes that reach a target.
    std::vector<int> indeg = deps;
    std::vector<std::size_t> order;
    for (std::size_t i = 0; i < count; ++i)
      if (indeg[i] == 0) order.push_back(i);
    for (std::size_t o = 0; o < order.size(); ++o)
      for (const auto& e : index.node(order[o])->next_edges)
        if (e.node) {
          const std::size_t j = index.find(e.node.get());
          if (--indeg[j] == 0) order.push_back(j);
        }
    std::vector<char> reaches(count, 0);
    runs.assign(count, 0);
    for (auto it = order.rbegin(); it != order.rend(); ++it) {
      bool below = false;
      for (const auto& e : index.node(*it)->next_edges)
        below = below || (e.node && reaches[index.find(e.node.get())]);
      runs[*it] = below;
      reaches[*it] = below || !captures[*it].empty();
    }
  }

  std::vector<grads> buffers(count);
  auto buffer_of = [&](std::size_t i) -> grads& {
    auto& b = buffers[i];
    if (b.empty()) b.resize(std::max<std::size_t>(index.node(i)->output_meta.size(), 1));
    return b;
  };
  for (const auto& r : roots)
    accumulate(buffer_of(index.find(r.edge.node.get())), r.edge.input_nr, r.grad);

  auto later_first = [&](std::size_t a, std::size_t b) {
    return index.node(a)->sequence_nr < index.node(b)->sequence_nr;
  };
  std::priority_queue<std::size_t, std::vector<std::size_t>, decltype(later_first)> ready(
      later_first);
  for (std::size_t i = 0; i < count; ++i)
    if (deps[i] == 0) ready.push(i);

  std::vector<Tensor> captured(targets.size());
  const bool prev_mode = GradMode::is_enabled();
  struct Restore {
    bool mode;
    ~Restore() { GradMode::set_enabled(mode); }
  } restore{prev_mode};

  while (!ready.empty()) {
    const std::size_t ni = ready.top();
    ready.pop();
    Node* n = index.node(ni);
    grads in = std::move(buffer_of(ni));
    buffers[ni] = grads();

    if (n->has_hooks.load(std::memory_order_acquire)) run_pre_hooks(*n, in, create_graph);
    if (capture)
      for (const auto& [slot, which] : captures[ni]) captured[which] = in[slot];

    bool any = false;
    for (const auto& g : in) any = any || g.defined();
    const bool run = any && (!capture || runs[ni]);
    grads out;
    if (run) {
      for (std::size_t k = 0; k < in.size(); ++k)
        if (!in[k].defined() && k < n->output_meta.size())
          in[k] = zeros(n->output_meta[k].shape, n->output_meta[k].dtype);
      bool received_bad = false;  // anomaly mode: the NaN came with the incoming gradient
      if (DetectAnomalyGuard::is_enabled())
        for (const auto& g : in) received_bad = received_bad || (g.defined() && has_non_finite(g));
      GradMode::set_enabled(create_graph);
      g_in_backward = true;
      try {
        out = n->apply(std::move(in));
      } catch (...) {
        g_in_backward = false;
        throw;
      }
      g_in_backward = false;
      GradMode::set_enabled(prev_mode);
      TG_CHECK(out.size() == n->next_edges.size(), n->name(),
               ": backward returned an incorrect number of gradients (expected ",
               n->next_edges.size(), ", got ", out.size(), ")");
      if (DetectAnomalyGuard::is_enabled())
        for (std::size_t i = 0; i < out.size(); ++i)
          TG_CHECK(!has_non_finite(out[i]),
                   n->forward_trace.empty() || n->forward_trace == n->name() ? n->name()
                                                                             : n->forward_trace,
                   ": backward produced NaN or Inf in the gradient of input ", i,
                   n->forward_trace.empty() || n->forward_trace == n->name()
                       ? std::string()
                       : detail::concat(" of its internal op '", n->name(), "'"),
                   " (anomaly detection; recorded by forward op '", n->forward_trace, "')",
                   received_bad ? "; the gradient it received already held NaN or Inf" : "");
    }
    for (std::size_t i = 0; i < n->next_edges.size(); ++i) {
      const Edge& e = n->next_edges[i];
      if (!e.node) continue;
      const std::size_t j = index.find(e.node.get());
      if (i < out.size() && out[i].defined()) {
        Tensor g = std::move(out[i]);
        const auto& meta = n->input_meta[i];
        GradMode::set_enabled(create_graph);
        if (g.shape() != meta.shape) {
          try {
            g = g.sum_to(meta.shape);
          } catch (const Error&) {
            throw Error(
                detail::concat(n->name(), ": backward returned an invalid gradient at index ", i,
                               " - got ", shape_str(g.shape()),
                               " but expected shape compatible with ", shape_str(meta.shape)));
          }
        }
        if (g.dtype() != meta.dtype) g = g.to(meta.dtype);
        GradMode::set_enabled(prev_mode);
        accumulate(buffer_of(j), e.input_nr, std::move(g));
      }
      if (--deps[j] == 0) ready.push(j);
    }
    if (!keep_graph) n->release();
  }
  return captured;
}

std::vector<Root> make_roots(const char* op, const std::vector<Tensor>& outputs,
                             const std::vector<Tensor>& grad_outputs) {
  TG_CHECK(grad_outputs.empty() || grad_outputs.size() == outputs.size(), op, ": got ",
           grad_outputs.size(), " gradients for ", outputs.size(), " tensors");
  std::vector<Root> roots;
  for (std::size_t i = 0; i < outputs.size(); ++i) {
    const Tensor& t = outputs[i];
    TG_CHECK(t.defined(), op, ": tensor ", i, " is undefined");
    TG_CHECK(t.requires_grad(), op, ": tensor ", i,
             " does not require grad and has no grad_fn (nothing to differentiate)");
    Tensor g = grad_outputs.empty() ? Tensor() : grad_outputs[i];
    if (!g.defined()) {
      TG_CHECK(t.numel() == 1, op, ": a gradient can be implied only for one-element outputs, ",
               "but tensor ", i, " has shape ", shape_str(t.shape()),
               "; pass a gradient of that shape");
      g = ones_like(t);
    } else {
      TG_CHECK(g.shape() == t.shape(), op, ": gradient of shape ", shape_str(g.shape()),
               " does not match tensor ", i, " of shape ", shape_str(t.shape()));
      if (g.dtype() != t.dtype()) g = g.to(t.dtype());
    }
    roots.push_back({gradient_edge(t), g});
  }
  return roots;
}

}  // namespace
}  // namespace autograd

void backward(const std::vector<Tensor>& tensors, const std::vector<Tensor>& grad_tensors,
              bool retain_graph, bool create_graph) {
  auto roots = autograd::make_roots("backward", tensors, grad_tensors);
  autograd::execute(roots, {}, retain_graph || create_graph, create_graph);
}

std::vector<Tensor> grad(const std::vector<Tensor>& outputs, const std::vector<Tensor>& inputs,
                         const std::vector<Tensor>& grad_outputs, bool retain_graph,
                         bool create_graph, bool allow_unused) {
  TG_CHECK(!inputs.empty(), "grad: no inputs given");
  auto roots = autograd::make_roots("grad", outputs, grad_outputs);
  std::vector<autograd::Edge> targets;
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    TG_CHECK(inputs[i].defined() && inputs[i].requires_grad(), "grad: input ", i,
             " does not require grad");
    targets.push_back(autograd::gradient_edge(inputs[i]));
  }
  auto result = autograd::execute(roots, targets, retain_graph || create_graph, create_graph);
  for (std::size_t i = 0; i < result.size(); ++i) {
    TG_CHECK(result[i].defined() || allow_unused, "grad: input ", i,
             " was not used to compute the outputs; pass allow_unused=true to get an undefined "
             "gradient for it");
    if (result[i].defined() && !create_graph) result[i] = result[i].detach();
  }
  return result;
}

}  // namespace tg
