#include "tapegrad/nn/parallel/zero_redundancy_optimizer.h"

#include <algorithm>
#include <map>
#include <string>

#include "tapegrad/core/grad_mode.h"
#include "tapegrad/nn/serialize.h"

namespace tg::nn::parallel {

namespace {

constexpr const char* kName = "ZeroRedundancyOptimizer";

// "state.<i>.<field>" -> {i, field}; false for other keys.
bool split_state_key(const std::string& key, std::size_t& index, std::string& field) {
  if (key.rfind("state.", 0) != 0) return false;
  const auto dot = key.find('.', 6);
  if (dot == std::string::npos) return false;
  try {
    index = std::stoul(key.substr(6, dot - 6));
  } catch (const std::exception&) {
    return false;
  }
  field = key.substr(dot + 1);
  return true;
}

// Whether state tensor t of parameter p has one value per element (exp_avg) rather than being
// one number for the whole parameter (step). A 0-dim parameter's are told apart by dtype.
bool per_element(const Tensor& t, const Tensor& p) {
  return t.shape() == p.shape() && (p.dim() > 0 || t.dtype() == p.dtype());
}

}  // namespace

ZeroRedundancyOptimizer::ZeroRedundancyOptimizer(DistributedDataParallel& ddp,
                                                 const MakeInner& make_inner)
    : ddp_(ddp) {
  TG_CHECK(static_cast<bool>(make_inner), kName, ": the inner optimizer's factory is empty");
  const auto& bucketed = ddp_.bucketed_params();
  const std::size_t P = bucketed.size();
  for (std::size_t i = 0; i < P; ++i) {
    params_.push_back(bucketed[P - 1 - i]);
    reducer_to_.push_back(P - 1 - i);
    TG_CHECK(bucketed[i].is_contiguous(), kName, ": parameter ", P - 1 - i,
             " is not contiguous; its shards are updated in place through views");
  }
  ddp_.reduce_scatter_only(true);
  try {
    // The inner optimizer's parameters: views of this rank's slices, whose gradients are views
    // of the matching elements of the buckets (which the reduce-scatter refills every backward).
    std::vector<Tensor> views;
    for (const Slice& s : slices_of(distributed::rank())) {
      const Tensor& p = params_[s.param];
      Tensor v = p.detach().reshape({p.numel()}).narrow(0, s.begin, s.n);
      v.requires_grad_(true);
      v.set_grad(ddp_.bucket(s.bucket).flat.narrow(0, s.flat_begin, s.n));
      views.push_back(v);
    }
    inner_ = make_inner(std::move(views));
    TG_CHECK(inner_ != nullptr, kName, ": the factory returned no optimizer");
    TG_CHECK(inner_->num_param_groups() == 1, kName,
             ": the inner optimizer must have exactly one parameter group, got ",
             inner_->num_param_groups());
  } catch (...) {
    ddp_.reduce_scatter_only(false);  // no optimizer after all: leave the wrapper as it was
    throw;
  }
  stepped_at_ = ddp_.reductions();
}

// The wrapper goes back to averaging whole gradients, for whatever optimizer comes next.
ZeroRedundancyOptimizer::~ZeroRedundancyOptimizer() { ddp_.reduce_scatter_only(false); }

std::vector<ZeroRedundancyOptimizer::Slice> ZeroRedundancyOptimizer::slices_of(int rank) const {
  std::vector<Slice> out;
  const auto& bucketed = ddp_.bucketed_params();
  const int W = distributed::world_size();
  for (std::size_t b = 0; b < static_cast<std::size_t>(ddp_.num_buckets()); ++b) {
    const auto bk = ddp_.bucket(b);
    const auto [lo, hi] = distributed::shard_range(bk.flat.numel(), rank, W);
    for (std::size_t k = 0; k < bk.params.size(); ++k) {
      const std::int64_t off = bk.offsets[k], n = bucketed[bk.params[k]].numel();
      const std::int64_t b0 = std::max(lo, off), e0 = std::min(hi, off + n);
      if (e0 > b0) out.push_back({reducer_to_[bk.params[k]], b0 - off, e0 - b0, b, b0});
    }
  }
  return out;
}

void ZeroRedundancyOptimizer::step() {
  TG_CHECK(ddp_.reductions() != stepped_at_, kName,
           "::step: no backward pass has reduced gradients since the last step (only a "
           "synchronised backward, outside no_sync(), fills the shards)");
  stepped_at_ = ddp_.reductions();
  inner_->step();
  // Every rank's updated shards into every rank's parameters, one in-place gather per bucket.
  NoGradGuard guard;
  const auto& bucketed = ddp_.bucketed_params();
  std::vector<distributed::Work> works;
  for (std::size_t b = 0; b < static_cast<std::size_t>(ddp_.num_buckets()); ++b) {
    std::vector<Tensor> ts;
    for (const std::size_t i : ddp_.bucket(b).params) ts.push_back(bucketed[i].detach());
    works.push_back(distributed::all_gather_coalesced_async(ts));
  }
  for (auto& w : works) w.wait();
  for (const Tensor& p : params_) p.bump_version();
}

const std::vector<Tensor>& ZeroRedundancyOptimizer::params(std::size_t group) const {
  TG_CHECK(group == 0, kName, ": there is one parameter group, asked for group ", group);
  return params_;
}

double ZeroRedundancyOptimizer::lr(std::size_t group) const {
  TG_CHECK(group == 0, kName, ": there is one parameter group, asked for group ", group);
  return inner_->lr(0);
}

void ZeroRedundancyOptimizer::set_lr(std::size_t group, double lr) {
  TG_CHECK(group == 0, kName, ": there is one parameter group, asked for group ", group);
  inner_->set_lr(0, lr);
}

StateDict ZeroRedundancyOptimizer::state_dict() const {
  // Every rank's inner state dict, then each rank's slices are placed into whole-parameter
  // state: the layout of every rank's shards is known everywhere (shard_range).
  const auto all = distributed::all_gather_string(tg::to_safetensors(inner_->state_dict()));
  StateDict out;
  for (int j = 0; j < static_cast<int>(all.size()); ++j) {
    const StateDict part = tg::from_safetensors(all[static_cast<std::size_t>(j)]);
    const auto slices = slices_of(j);
    for (const auto& [key, t] : part) {
      std::size_t q = 0;
      std::string field;
      if (!split_state_key(key, q, field)) {
        if (j == 0 && key.rfind("param_groups.0.", 0) == 0 && key != "param_groups.0.params")
          out[key] = t;  // the group's options
        continue;
      }
      TG_CHECK(q < slices.size(), kName, "::state_dict: rank ", j, "'s state has ", key,
               " but that rank has ", slices.size(), " slices");
      const Slice& s = slices[q];
      const Tensor& p = params_[s.param];
      const std::string full = "state." + std::to_string(s.param) + "." + field;
      if (t.dim() == 1 && t.numel() == s.n) {  // per element (scalars are 0-dim)
        auto it = out.find(full);
        if (it == out.end()) it = out.emplace(full, zeros(p.shape(), t.dtype())).first;
        NoGradGuard guard;
        it->second.reshape({p.numel()}).narrow(0, s.begin, s.n).copy_(t);
      } else {
        out[full] = t;  // one number per parameter: the same in every slice
      }
    }
  }
  std::vector<std::int64_t> ids(params_.size());
  for (std::size_t i = 0; i < ids.size(); ++i) ids[i] = static_cast<std::int64_t>(i);
  out["param_groups.0.params"] = from_vector(ids, {static_cast<std::int64_t>(ids.size())});
  return out;
}

void ZeroRedundancyOptimizer::load_state_dict(const StateDict& state) {
  // The whole-model state dict, cut down to this rank's slices in the inner optimizer's layout.
  const auto slices = slices_of(distributed::rank());
  std::map<std::size_t, std::vector<std::size_t>> slices_of_param;
  for (std::size_t q = 0; q < slices.size(); ++q) slices_of_param[slices[q].param].push_back(q);
  StateDict part;
  for (const auto& [key, t] : state) {
    std::size_t i = 0;
    std::string field;
    if (!split_state_key(key, i, field)) {
      if (key != "param_groups.0.params") part[key] = t;
      continue;
    }
    TG_CHECK(i < params_.size(), kName, "::load_state_dict: ", key, " names parameter ", i,
             " but there are ", params_.size());
    const Tensor& p = params_[i];
    for (const std::size_t q : slices_of_param[i]) {
      const std::string k = "state." + std::to_string(q) + "." + field;
      if (per_element(t, p))
        part[k] = t.detach().reshape({p.numel()}).narrow(0, slices[q].begin, slices[q].n).clone();
      else
        part[k] = t;
    }
  }
  std::vector<std::int64_t> ids(slices.size());
  for (std::size_t q = 0; q < ids.size(); ++q) ids[q] = static_cast<std::int64_t>(q);
  TG_CHECK(state.count("param_groups.0.params"), kName,
           "::load_state_dict: missing param_groups.0.params");
  const Tensor given = state.at("param_groups.0.params");
  TG_CHECK(given.numel() == static_cast<std::int64_t>(params_.size()), kName,
           "::load_state_dict: the state has ", given.numel(), " parameters, this model ",
           params_.size());
  part["param_groups.0.params"] = from_vector(ids, {static_cast<std::int64_t>(ids.size())});
  inner_->load_state_dict(part);
}

}  // namespace tg::nn::parallel
