#include "tapegrad/nn/parallel/distributed.h"

#include <chrono>
#include <sstream>
#include <unordered_set>

#include "tapegrad/core/autograd.h"
#include "tapegrad/core/detail/autograd.h"
#include "tapegrad/core/grad_mode.h"

namespace tg::nn::parallel {

namespace {

// "name dtype [shape]" per parameter and buffer: what every rank must agree on.
std::vector<std::string> describe(const Module& m) {
  std::vector<std::string> lines;
  auto add = [&](const char* kind, const NamedTensors& ts) {
    for (const auto& [name, t] : ts) {
      std::ostringstream os;
      os << kind << ' ' << name << ' ' << t.dtype() << ' ' << shape_str(t.shape());
      lines.push_back(os.str());
    }
  };
  add("parameter", m.named_parameters());
  add("buffer", m.named_buffers());
  return lines;
}

std::string join(const std::vector<std::string>& lines) {
  std::string s;
  for (const auto& l : lines) s += l + '\n';
  return s;
}

std::vector<std::string> split_lines(const std::string& s) {
  std::vector<std::string> lines;
  std::istringstream is(s);
  for (std::string l; std::getline(is, l);) lines.push_back(l);
  return lines;
}

void check_same_model(const Module& m) {
  const auto all = distributed::all_gather_string(join(describe(m)));
  const auto mine0 = split_lines(all[0]);
  for (std::size_t r = 1; r < all.size(); ++r) {
    if (all[r] == all[0]) continue;
    const auto other = split_lines(all[r]);
    std::size_t i = 0;
    while (i < mine0.size() && i < other.size() && mine0[i] == other[i]) ++i;
    const std::string a = i < mine0.size() ? mine0[i] : "nothing more";
    const std::string b = i < other.size() ? other[i] : "nothing more";
    throw Error(detail::concat(
        "DistributedDataParallel: the model differs between ranks: rank 0 "
        "has ",
        a, " where rank ", r, " has ", b, " (every rank must build the same architecture)"));
  }
}

}  // namespace

// The gradient bookkeeping of one iteration: which parameters are ready, which buckets are in
// flight. Lives behind a pointer so the hooks can hold it.
struct DistributedDataParallel::Reducer {
  struct Bucket {
    std::vector<std::size_t> params;  // indices into `params`
    std::vector<std::int64_t> offsets;
    Tensor flat;
    std::size_t pending = 0;
    distributed::Work work;
  };

  std::vector<Tensor> params;
  std::vector<std::string> names;
  std::vector<std::size_t> bucket_of;
  std::vector<bool> ready;
  std::vector<Bucket> buckets;
  std::vector<int> hook_ids;
  std::size_t next_launch = 0;
  bool require_sync = true;   // false under no_sync()
  bool auto_prepare = false;  // options.sync_without_forward
  bool as_view = false;       // options.gradient_as_bucket_view
  // Set by a ZeroRedundancyOptimizer: each bucket is only reduce-scattered (this rank's shard of
  // the bucket holds the average) and the parameters' .grad are left as they are.
  bool scatter = false;
  std::uint64_t reductions = 0;  // synchronised backward passes completed
  bool prepared = false;         // a synchronised forward ran; its backward will reduce
  bool started = false;          // at least one gradient of this iteration arrived
  double wait_seconds = 0;

  void prepare(const std::vector<bool>& unused) {
    next_launch = 0;
    started = false;
    prepared = true;
    std::fill(ready.begin(), ready.end(), false);
    for (auto& b : buckets) b.pending = b.params.size();
    for (std::size_t i = 0; i < unused.size(); ++i)
      if (unused[i]) mark_ready(i);
  }

  void on_gradient(std::size_t i) {
    if (!prepared) {
      // no_sync, or a backward not preceded by this wrapper's forward
      if (!auto_prepare || !require_sync) return;
      prepare({});
    }
    if (ready[i] && auto_prepare) throw Error(unfinished());
    TG_CHECK(!ready[i], "DistributedDataParallel: parameter '", names[i],
             "' received a gradient twice in one iteration (backward twice through one forward, "
             "or a parameter used by reentrant backward); call forward again first");
    started = true;
    mark_ready(i);
    // MPI moves a non-blocking collective forward only inside MPI calls: poll the buckets in
    // flight at each gradient so that they progress while backward computes.
    for (std::size_t k = 0; k < next_launch && k < buckets.size(); ++k)
      buckets[k].work.is_completed();
  }

  void mark_ready(std::size_t i) {
    ready[i] = true;
    if (--buckets[bucket_of[i]].pending == 0) launch_ready();
  }

  // Buckets start strictly in order: every rank must issue the collectives in the same order.
  void launch_ready() {
    while (next_launch < buckets.size() && buckets[next_launch].pending == 0) {
      Bucket& b = buckets[next_launch++];
      NoGradGuard guard;
      // Each gradient as it is (the bucket view itself when it already is one); a parameter
      // unused here still takes part, as zeros (another rank may have used it).
      std::vector<Tensor> grads;
      for (const std::size_t i : b.params) {
        const Tensor g = params[i].grad();
        grads.push_back(g.defined() ? g : zeros_like(params[i]));
      }
      b.work = scatter ? distributed::reduce_scatter_coalesced_async(grads, b.flat,
                                                                     distributed::ReduceOp::Avg)
                       : distributed::all_reduce_coalesced_async(grads, b.flat,
                                                                 distributed::ReduceOp::Avg);
    }
    if (next_launch == buckets.size()) finish();
  }

  void finish() {
    const auto t0 = std::chrono::steady_clock::now();
    NoGradGuard guard;
    for (auto& b : buckets) {
      b.work.wait();
      if (scatter) continue;  // the optimizer reads its shard from the bucket
      for (std::size_t k = 0; k < b.params.size(); ++k) {
        const Tensor& p = params[b.params[k]];
        Tensor avg = b.flat.narrow(0, b.offsets[k], p.numel()).view(p.shape());
        Tensor g = p.grad();
        if (g.defined() && g.raw_data() == avg.raw_data()) continue;  // in place already
        if (as_view)
          p.set_grad(avg);
        else if (g.defined())
          g.copy_(avg);
        else
          p.set_grad(avg.clone());
      }
    }
    prepared = false;
    ++reductions;
    wait_seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  }

  std::string unfinished() const {
    std::string s;
    for (std::size_t i = 0; i < params.size(); ++i)
      if (!ready[i]) s += (s.empty() ? "" : ", ") + names[i];
    return detail::concat(
        "DistributedDataParallel: the previous iteration's gradients were not all reduced: ", s,
        " received no gradient (they did not take part in the loss). Construct the wrapper "
        "with find_unused_parameters = true, or make every parameter contribute");
  }
};

DistributedDataParallel::DistributedDataParallel(Module& module,
                                                 DistributedDataParallelOptions options)
    : module_(module), options_(options), reducer_(std::make_unique<Reducer>()) {
  TG_CHECK(options.bucket_cap_bytes > 0,
           "DistributedDataParallel: bucket_cap_bytes must be "
           "positive, got ",
           options.bucket_cap_bytes);
  register_module("module", module);
  check_same_model(module);
  {
    NoGradGuard guard;
    for (auto& p : module.parameters()) {
      Tensor t = p.detach();
      distributed::broadcast(t, 0);
    }
  }
  broadcast_buffers();

  // Buckets over the trainable parameters in reverse registration order: backward produces
  // the last layer's gradients first.
  auto& r = *reducer_;
  r.auto_prepare = options.sync_without_forward;
  r.as_view = options.gradient_as_bucket_view;
  auto named = module.named_parameters();
  for (auto it = named.rbegin(); it != named.rend(); ++it) {
    if (!it->second.requires_grad()) continue;
    r.params.push_back(it->second);
    r.names.push_back(it->first);
  }
  r.bucket_of.resize(r.params.size());
  r.ready.resize(r.params.size());
  std::int64_t bytes = 0;
  for (std::size_t i = 0; i < r.params.size(); ++i) {
    const Tensor& p = r.params[i];
    const auto nbytes = static_cast<std::int64_t>(p.nbytes());
    // The first bucket is small (PyTorch's 1 MiB): communication starts early in backward.
    const std::int64_t cap =
        r.buckets.size() == 1
            ? std::min<std::int64_t>(options.bucket_cap_bytes, std::int64_t{1} << 20)
            : options.bucket_cap_bytes;
    if (r.buckets.empty() || bytes >= cap ||
        r.params[r.buckets.back().params.back()].dtype() != p.dtype()) {
      r.buckets.emplace_back();
      bytes = 0;
    }
    auto& b = r.buckets.back();
    b.offsets.push_back(b.params.empty() ? 0
                                         : b.offsets.back() + r.params[b.params.back()].numel());
    b.params.push_back(i);
    r.bucket_of[i] = r.buckets.size() - 1;
    bytes += nbytes;
  }
  for (auto& b : r.buckets) {
    const Tensor& last = r.params[b.params.back()];
    b.flat = zeros({b.offsets.back() + last.numel()}, last.dtype());
  }
  for (std::size_t i = 0; i < r.params.size(); ++i) {
    Reducer* self = reducer_.get();
    r.hook_ids.push_back(r.params[i].register_post_accumulate_grad_hook(
        [self, i](const Tensor&) { self->on_gradient(i); }));
  }
}

DistributedDataParallel::~DistributedDataParallel() {
  for (std::size_t i = 0; i < reducer_->params.size(); ++i)
    reducer_->params[i].remove_hook(reducer_->hook_ids[i]);
}

Tensor DistributedDataParallel::forward(const Tensor& input) {
  auto& r = *reducer_;
  if (r.prepared && r.started) throw Error(r.unfinished());
  if (is_training() && options_.broadcast_buffers) broadcast_buffers();
  Tensor out = module_.forward(input);
  if (!r.require_sync || !GradMode::is_enabled() || !out.requires_grad()) {
    r.prepared = false;
    return out;
  }
  std::vector<bool> unused;
  if (options_.find_unused_parameters) {
    // Walk the graph from the output; parameters whose accumulator is not reached are unused.
    std::unordered_set<const autograd::Node*> seen;
    std::vector<const autograd::Node*> stack;
    if (auto fn = detail::grad_fn(out)) stack.push_back(fn.get());
    while (!stack.empty()) {
      const auto* n = stack.back();
      stack.pop_back();
      if (!seen.insert(n).second) continue;
      for (const auto& e : n->next_edges)
        if (e.node) stack.push_back(e.node.get());
    }
    unused.resize(r.params.size());
    for (std::size_t i = 0; i < r.params.size(); ++i)
      unused[i] = !seen.count(autograd::gradient_edge(r.params[i]).node.get());
  }
  r.prepare(unused);
  return out;
}

void DistributedDataParallel::broadcast_buffers() {
  if (world_.world_size() == 1) return;
  NoGradGuard guard;
  for (auto& b : module_.buffers()) {
    Tensor t = b.detach();
    distributed::broadcast(t, 0);
  }
}

std::int64_t DistributedDataParallel::num_buckets() const {
  return static_cast<std::int64_t>(reducer_->buckets.size());
}
double DistributedDataParallel::wait_seconds() const { return reducer_->wait_seconds; }

void DistributedDataParallel::reduce_scatter_only(bool on) {
  if (on) {
    TG_CHECK(!reducer_->scatter,
             "ZeroRedundancyOptimizer: this DistributedDataParallel already has one");
    TG_CHECK(!reducer_->prepared || !reducer_->started,
             "ZeroRedundancyOptimizer: make it between iterations, not during a backward pass");
  }
  reducer_->scatter = on;
}
std::uint64_t DistributedDataParallel::reductions() const { return reducer_->reductions; }
const std::vector<Tensor>& DistributedDataParallel::bucketed_params() const {
  return reducer_->params;
}
DistributedDataParallel::BucketView DistributedDataParallel::bucket(std::size_t b) const {
  const auto& bk = reducer_->buckets.at(b);
  return {bk.params, bk.offsets, bk.flat};
}

DistributedDataParallel::NoSyncGuard::NoSyncGuard(DistributedDataParallel& ddp)
    : ddp_(ddp), prev_(ddp.reducer_->require_sync) {
  ddp_.reducer_->require_sync = false;
}
DistributedDataParallel::NoSyncGuard::~NoSyncGuard() { ddp_.reducer_->require_sync = prev_; }

}  // namespace tg::nn::parallel
