// The autograd tape: grad mode and anomaly flags, recording nodes (edges, saved tensors, leaf
// accumulators, hook checks) and freeing graphs without recursion. Running the recorded graph
// backward: engine.cpp.
#include "tapegrad/core/autograd.h"
#include "tapegrad/core/detail/autograd.h"

#include <array>
#include <atomic>
#include <cmath>
#include <limits>
#include <span>

#include "tapegrad/core/detail/view_tracking.h"
#include "tapegrad/ops/elementwise.h"

namespace tg {
namespace {
thread_local bool g_grad_enabled = true;
thread_local bool g_anomaly = false;
std::atomic<std::uint64_t> g_sequence{0};
}  // namespace

bool detail::has_non_finite(const Tensor& t) {
  if (!t.defined() || !t.is_floating_point()) return false;
  for (double v : t.to_vector<double>())
    if (!std::isfinite(v)) return true;
  return false;
}

bool GradMode::is_enabled() { return g_grad_enabled; }
void GradMode::set_enabled(bool enabled) { g_grad_enabled = enabled; }

DetectAnomalyGuard::DetectAnomalyGuard() : prev_(g_anomaly) { g_anomaly = true; }
DetectAnomalyGuard::~DetectAnomalyGuard() { g_anomaly = prev_; }
bool DetectAnomalyGuard::is_enabled() { return g_anomaly; }

// ---- freeing graphs without recursion ----
// Dropping the last reference to a node destroys its edges, which may drop the last reference
// to the next node, and so on: recursion as deep as the graph. Instead, the outermost node
// destructor on a thread opens a work list; every node or tensor destroyed while it is open
// moves the last references it holds (edges, saved tensors' grad_fn) onto the list, and the
// outermost destructor releases them one by one in a loop.
namespace {
thread_local std::vector<std::shared_ptr<autograd::Node>>* t_pending = nullptr;

class ReleaseScope {
 public:
  ReleaseScope() : outer_(t_pending == nullptr) {
    if (outer_) t_pending = &list_;
  }
  ~ReleaseScope() {
    if (!outer_) return;
    while (!list_.empty()) {
      std::shared_ptr<autograd::Node> n = std::move(list_.back());
      list_.pop_back();
      n.reset();  // may push more onto list_
    }
    t_pending = nullptr;
  }
  ReleaseScope(const ReleaseScope&) = delete;
  ReleaseScope& operator=(const ReleaseScope&) = delete;

 private:
  bool outer_;
  std::vector<std::shared_ptr<autograd::Node>> list_;
};

void release_edges(std::vector<autograd::Edge>& edges) noexcept {
  for (auto& e : edges) detail::release_node(e.node);
}

// Locks for leaf state, picked by the TensorImpl's address: a lock per tensor would make every
// tensor larger for the few that are leaves requiring grad.
std::array<std::mutex, 64> g_leaf_mutexes;
}  // namespace

void detail::release_node(std::shared_ptr<autograd::Node>& node) noexcept {
  if (!node) return;
  // use_count() == 1: this is the last reference (another thread dropping its own one at the
  // same moment only makes this reset the last, which then runs inside the open scope).
  if (t_pending != nullptr && node.use_count() == 1)
    t_pending->push_back(std::move(node));
  else
    node.reset();
}

std::mutex& detail::leaf_mutex(const TensorImpl* impl) {
  auto h = static_cast<std::uint64_t>(reinterpret_cast<std::uintptr_t>(impl));
  h = (h ^ (h >> 29)) * 0xBF58476D1CE4E5B9ull;
  return g_leaf_mutexes[static_cast<std::size_t>(h >> 58)];
}

namespace autograd {
using detail::has_non_finite;

thread_local OpScope* g_op_scope = nullptr;  // innermost composite op being run

struct OpScopeAccess {
  static const OpScope* outermost() {
    const OpScope* s = g_op_scope;
    while (s && s->prev_) s = s->prev_;
    return s;
  }
  static const char* op(const OpScope& s) { return s.op_; }
  static const std::vector<Tensor>& inputs(const OpScope& s) { return s.inputs_; }
};

OpScope::OpScope(const char* op, std::initializer_list<Tensor> inputs)
    : op_(op), prev_(g_op_scope) {
  if (DetectAnomalyGuard::is_enabled() && !detail::in_backward()) inputs_.assign(inputs);
  g_op_scope = this;
}
OpScope::~OpScope() { g_op_scope = prev_; }

namespace {
// "; input 1 (shape [8, 4]) already held NaN or Inf", for the first such input, or "".
std::string carrier(std::span<const Tensor> inputs) {
  for (std::size_t i = 0; i < inputs.size(); ++i)
    if (inputs[i].defined() && inputs[i].is_floating_point() && has_non_finite(inputs[i]))
      return detail::concat("; its input ", i, " (shape ", shape_str(inputs[i].shape()),
                            ") already held NaN or Inf, so it arrived with that input");
  return {};
}

// The name anomaly messages give a node recorded now: the op the user called (the outermost
// OpScope), or the op itself outside any scope.
std::string user_facing(std::string_view op) {
  const OpScope* scope = OpScopeAccess::outermost();
  return std::string(scope ? std::string_view(OpScopeAccess::op(*scope)) : op);
}
}  // namespace

Node::~Node() {
  ReleaseScope scope;
  release_edges(next_edges);
}

// A hook may replace the gradient but not change its shape or dtype (PyTorch's rule): a wrong
// one would otherwise end up in .grad or be summed into the next gradient.
void check_hook_result(const Tensor& given, const Tensor& returned, int id, const Node* node,
                       std::uint32_t output_nr) {
  const bool same_dtype = returned.dtype() == given.dtype();
  if (same_dtype && returned.shape() == given.shape()) return;
  const std::string where = node ? detail::concat("output ", output_nr, " of ", node->name())
                                 : std::string("a leaf tensor");
  TG_CHECK(same_dtype, "hook ", id, " on ", where, " has changed the type of value (was ",
           given.dtype(), ", got ", returned.dtype(), "); a hook must return a gradient of the ",
           "dtype and shape it was given, or an undefined tensor to keep the gradient");
  throw Error(detail::concat("hook ", id, " on ", where, " has changed the size of value (was ",
                             shape_str(given.shape()), ", got ", shape_str(returned.shape()),
                             "); a hook must return a gradient of the shape and dtype it was ",
                             "given, or an undefined tensor to keep the gradient"));
}

namespace {

class FunctionNode final : public Node {
 public:
  // One output (most ops) or several; the single-output form calls its closure directly.
  FunctionNode(std::string name, BackwardFn fn)
      : name_(std::move(name)), trace_(user_facing(name_)), single_(std::move(fn)) {
    forward_trace = trace_;
  }
  FunctionNode(std::string name, MultiBackwardFn fn)
      : name_(std::move(name)), trace_(user_facing(name_)), multi_(std::move(fn)) {
    forward_trace = trace_;
  }
  ~FunctionNode() override {
    // What the node owns may hold the rest of the graph (saved inputs and tensors captured by
    // closures or hooks keep their grad_fn): drop it all while the work list is open.
    ReleaseScope scope;
    saved_.clear();
    single_ = nullptr;
    multi_ = nullptr;
    pre_hooks.clear();
    release_edges(next_edges);
  }
  std::string_view name() const override { return name_; }

  grads apply(grads&& grad_outputs) override {
    // Threads may run backward through a shared graph: release() must not free what another
    // thread's apply reads, and a custom op's backward writes its context. Other nodes (an op
    // that saved nothing) have no state to guard and skip the lock.
    std::unique_lock lock(mutex, std::defer_lock);
    if (had_saved_ || multi_) lock.lock();
    if (released_ && had_saved_)
      throw Error(detail::concat(
          name_, ": trying to backward through the graph a second time (its saved tensors were ",
          "freed by the first backward); pass retain_graph=true to the first backward call"));
    for (std::size_t i = 0; i < saved_.size(); ++i) saved_[i].check_version(name_, i);
    const Saved saved(saved_, next_edges, *this);
    return single_ ? single_(grad_outputs[0], saved) : multi_(grad_outputs, saved);
  }

  void release() override {
    if (!had_saved_) return;  // nothing to free; apply looks at released_ only if had_saved_
    ReleaseScope scope;       // the saved tensors may hold the last reference to the graph below
    std::lock_guard lock(mutex);
    saved_.clear();
    released_ = true;
  }
  bool released() const override {
    std::lock_guard lock(mutex);
    return released_ && had_saved_;
  }

  void set_saved(std::vector<SavedTensor> saved) {
    had_saved_ = !saved.empty();
    saved_ = std::move(saved);
  }

 private:
  std::string name_;
  std::string trace_;  // the op the user called (see OpScope)
  BackwardFn single_;
  MultiBackwardFn multi_;
  std::vector<SavedTensor> saved_;
  bool released_ = false;
  bool had_saved_ = false;
};

// The sink of a leaf: runs the leaf's hooks and accumulates into its .grad.
class AccumulateGrad final : public Node {
 public:
  explicit AccumulateGrad(std::shared_ptr<TensorImpl> leaf) : leaf_(std::move(leaf)) {
    output_meta.push_back({leaf_->shape, leaf_->dtype});
    // Runs as soon as its gradient is complete (PyTorch gives it the highest sequence number):
    // .grad and the post-accumulate hooks (DistributedDataParallel's buckets) are ready while
    // the rest of the backward pass still computes, instead of all at its end.
    sequence_nr = std::numeric_limits<std::uint64_t>::max();
  }
  std::string_view name() const override { return "AccumulateGrad"; }

  grads apply(grads&& grad_outputs) override {
    Tensor g = std::move(grad_outputs[0]);
    if (!g.defined()) return {};
    // A snapshot: a hook may add or remove hooks; like PyTorch, the changes apply from the next
    // pass (and a removed hook stays alive while it runs).
    std::vector<std::pair<int, std::shared_ptr<GradHook>>> hooks;
    {
      std::lock_guard lock(detail::leaf_mutex(leaf_.get()));
      hooks = leaf_->hooks;
    }
    for (const auto& [id, hook] : hooks) {
      Tensor r = (*hook)(g);
      if (!r.defined()) continue;
      check_hook_result(g, r, id, nullptr, 0);
      g = std::move(r);
    }
    accumulate(std::move(g));
    std::vector<std::pair<int, std::shared_ptr<PostAccumulateGradHook>>> post;
    {
      std::lock_guard lock(detail::leaf_mutex(leaf_.get()));
      post = leaf_->post_accumulate_hooks;
    }
    for (const auto& [id, hook] : post) (*hook)(Tensor(leaf_));
    return {};
  }

 private:
  void accumulate(Tensor g) {
    // Graphs built in several threads share this node: accumulate one pass at a time.
    std::lock_guard lock(mutex);
    if (GradMode::is_enabled()) {  // create_graph: the gradient keeps its own history
      leaf_->grad = leaf_->grad ? (Tensor(leaf_->grad) + g).impl_ptr() : g.impl_ptr();
      return;
    }
    NoGradGuard guard;
    if (leaf_->grad) {
      Tensor(leaf_->grad).add_(g);
    } else if (g.is_contiguous() && g.impl_ptr().use_count() == 1 &&
               g.impl()->storage.use_count() == 1 && !g.grad_fn()) {
      leaf_->grad = g.impl_ptr();  // nobody else sees this buffer: keep it without a copy
    } else {
      leaf_->grad = g.detach().clone().impl_ptr();
    }
  }

  std::shared_ptr<TensorImpl> leaf_;
};

}  // namespace

// ---- saved tensors ----

SavedTensor::SavedTensor(const Tensor& t, bool is_output, std::uint32_t output_nr)
    : output_nr_(output_nr), is_output_(is_output) {
  if (!t.defined()) return;
  version_ = t.version();
  data_ = is_output || !t.impl()->requires_grad ? t.detach() : t;
  // A non-leaf input keeps its history, not its handle: a handle (or the base a view holds)
  // can own this very node after an in-place op, which would be a reference cycle.
  if (!is_output) {
    if (const auto& fn = detail::grad_fn(t)) {
      data_.impl()->grad_fn = fn;
      data_.impl()->output_nr = t.impl()->output_nr;
    }
  }
}

Tensor SavedTensor::unpack(Node& owner) const {
  // Without create_graph the detached alias itself will do: no new handle.
  if (!data_.defined() || !is_output_ || !GradMode::is_enabled()) return data_;
  Tensor t = data_.detach();  // create_graph: the saved output differentiates through owner
  t.impl()->grad_fn = owner.shared_from_this();
  t.impl()->output_nr = output_nr_;
  return t;
}

void SavedTensor::check_version(std::string_view op, std::size_t index) const {
  if (!data_.defined()) return;
  const auto now = data_.version();
  TG_CHECK(now == version_, op, ": saved tensor ", index, " (shape ", shape_str(data_.shape()),
           ") needed for the gradient was modified by an in-place operation (version ", version_,
           " -> ", now, "); compute on a clone() or do the in-place change after backward");
}

std::size_t Saved::size() const { return saved_.size(); }

Tensor Saved::operator[](std::size_t i) const {
  TG_CHECK(i < saved_.size(), "backward: asked for saved tensor ", i, " but only ", saved_.size(),
           " were saved");
  return saved_[i].unpack(owner_);
}

bool Saved::needs_grad(std::size_t input) const {
  return input < edges_.size() && edges_[input].node != nullptr;
}

// ---- recording ----

bool needs_grad(std::initializer_list<Tensor> inputs) {
  if (!GradMode::is_enabled()) return false;
  for (const auto& t : inputs)
    if (t.defined() && t.requires_grad()) return true;
  return false;
}

bool needs_grad(const std::vector<Tensor>& inputs) {
  if (!GradMode::is_enabled()) return false;
  for (const auto& t : inputs)
    if (t.defined() && t.requires_grad()) return true;
  return false;
}

Edge gradient_edge(const Tensor& t) {
  detail::refresh_view(t);  // a view whose memory changed takes its history from its base
  TensorImpl* impl = t.impl();
  if (impl->grad_fn) return {impl->grad_fn, impl->output_nr};
  if (!impl->requires_grad) return {};
  // Threads recording ops on a shared leaf (a model's parameter) must get the same node.
  std::lock_guard lock(detail::leaf_mutex(impl));
  auto acc = impl->grad_accumulator.lock();
  if (!acc) {
    acc = std::make_shared<AccumulateGrad>(t.impl_ptr());
    impl->grad_accumulator = acc;
  }
  return {acc, 0};
}

namespace {
void check_forward_finite(std::string_view op, std::span<const Tensor> inputs,
                          std::span<const Tensor> outputs) {
  if (!DetectAnomalyGuard::is_enabled() || detail::in_backward()) return;
  for (const auto& out : outputs) {
    if (!has_non_finite(out)) continue;
    const OpScope* scope = OpScopeAccess::outermost();
    if (scope && std::string_view(OpScopeAccess::op(*scope)) != op)
      throw Error(detail::concat(OpScopeAccess::op(*scope),
                                 ": forward produced NaN or Inf (anomaly detection; in its "
                                 "internal op '",
                                 op, "')", carrier(OpScopeAccess::inputs(*scope))));
    throw Error(
        detail::concat(op, ": forward produced NaN or Inf (anomaly detection)", carrier(inputs)));
  }
}

// Wires `node` between the inputs and the outputs, and keeps the saved tensors.
void attach(const std::shared_ptr<FunctionNode>& node, std::span<const Tensor> inputs,
            std::span<Tensor> outputs, std::span<const Tensor> saved) {
  node->sequence_nr = g_sequence.fetch_add(1, std::memory_order_relaxed);
  node->next_edges.reserve(inputs.size());
  node->input_meta.reserve(inputs.size());
  for (const auto& in : inputs) {
    if (in.defined() && in.requires_grad()) {
      node->next_edges.push_back(gradient_edge(in));
      node->input_meta.push_back({in.shape(), in.dtype()});
    } else {
      node->next_edges.emplace_back();
      node->input_meta.emplace_back();
    }
  }
  std::vector<SavedTensor> saved_tensors;
  saved_tensors.reserve(saved.size());
  for (const auto& s : saved) {
    std::int64_t out_index = -1;
    for (std::size_t j = 0; j < outputs.size(); ++j)
      if (s.defined() && s.is_same(outputs[j])) out_index = static_cast<std::int64_t>(j);
    saved_tensors.emplace_back(s, out_index >= 0,
                               static_cast<std::uint32_t>(std::max<std::int64_t>(out_index, 0)));
  }
  node->set_saved(std::move(saved_tensors));
  node->output_meta.reserve(outputs.size());
  for (std::size_t j = 0; j < outputs.size(); ++j) {
    Tensor& out = outputs[j];
    node->output_meta.push_back({out.shape(), out.dtype()});
    if (!out.is_floating_point()) continue;
    out.impl()->grad_fn = node;
    out.impl()->output_nr = static_cast<std::uint32_t>(j);
  }
}
}  // namespace

std::vector<Tensor> record_multi(std::string op, const std::vector<Tensor>& inputs,
                                 std::vector<Tensor> outputs, const std::vector<Tensor>& saved,
                                 MultiBackwardFn backward) {
  check_forward_finite(op, inputs, outputs);
  if (!needs_grad(inputs)) return outputs;
  auto node = std::make_shared<FunctionNode>(std::move(op), std::move(backward));
  attach(node, inputs, outputs, saved);
  return outputs;
}

Tensor record(const char* op, std::initializer_list<Tensor> inputs, Tensor output,
              std::initializer_list<Tensor> saved, BackwardFn backward) {
  check_forward_finite(op, {inputs.begin(), inputs.size()}, {&output, 1});
  if (!needs_grad(inputs)) return output;
  auto node = std::make_shared<FunctionNode>(op, std::move(backward));
  attach(node, {inputs.begin(), inputs.size()}, {&output, 1}, {saved.begin(), saved.size()});
  return output;
}

Tensor record(const char* op, std::initializer_list<Tensor> inputs, Tensor output,
              BackwardFn backward) {
  return record(op, inputs, std::move(output), {}, std::move(backward));
}

}  // namespace autograd

}  // namespace tg
