#include "tapegrad/optim/checkpoint.h"

#include <charconv>

#include "tapegrad/core/error.h"
#include "tapegrad/core/random.h"
#include "tapegrad/nn/serialize.h"

namespace tg::optim {
namespace {

constexpr const char* kFormat = "tapegrad.format";
constexpr const char* kFormatName = "training-checkpoint/1";
constexpr const char* kStep = "tapegrad.step";
constexpr const char* kRng = "tapegrad.rng";
constexpr const char* kHasScheduler = "tapegrad.scheduler";

void add_prefixed(StateDict& out, const std::string& prefix, const StateDict& part) {
  for (const auto& [k, t] : part) out.emplace(prefix + k, t);
}

StateDict clone_all(const StateDict& s) {
  StateDict out;
  for (const auto& [k, t] : s) out.emplace(k, t.clone());
  return out;
}

}  // namespace

void save_checkpoint(const std::filesystem::path& path, const nn::Module& model,
                     const Optimizer& optimizer, std::int64_t step, const Scheduler* scheduler,
                     const Metadata& extra) {
  Metadata meta;
  for (const auto& [k, v] : extra) {
    TG_CHECK(!k.starts_with("tapegrad."), "save_checkpoint: metadata key '", k,
             "' uses the reserved prefix 'tapegrad.'");
    meta[k] = v;
  }
  meta[kFormat] = kFormatName;
  meta[kStep] = std::to_string(step);
  meta[kRng] = default_generator().state();
  meta[kHasScheduler] = std::to_string(scheduler ? 1 : 0);
  StateDict all;
  add_prefixed(all, "model.", model.state_dict());
  add_prefixed(all, "optimizer.", optimizer.state_dict());
  if (scheduler) add_prefixed(all, "scheduler.", scheduler->state_dict());
  save(all, path, meta);
}

std::int64_t load_checkpoint(const std::filesystem::path& path, nn::Module& model,
                             Optimizer& optimizer, Scheduler* scheduler, Metadata* extra) {
  const std::string where = "load_checkpoint: '" + path.string() + "'";
  Metadata meta;
  const StateDict all = load(path, &meta);
  TG_CHECK(meta.count(kFormat) && meta[kFormat] == kFormatName, where,
           ": not a tapegrad training checkpoint (metadata '", kFormat, "' is '",
           meta.count(kFormat) ? meta[kFormat] : "", "', expected '", kFormatName, "')");
  TG_CHECK(meta.count(kStep) && meta.count(kRng) && meta.count(kHasScheduler), where,
           ": the metadata lacks the step, RNG state or scheduler flag");
  std::int64_t step = 0;
  const std::string& s = meta[kStep];
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), step);
  TG_CHECK(ec == std::errc() && end == s.data() + s.size(), where, ": bad step '", s, "'");
  Generator rng;
  rng.set_state(meta[kRng]);  // validates before anything changes
  const bool has_scheduler = meta[kHasScheduler] == "1";
  TG_CHECK(has_scheduler == (scheduler != nullptr), where,
           has_scheduler ? ": the checkpoint holds scheduler state; pass the scheduler to restore"
                         : ": the checkpoint holds no scheduler state, but a scheduler was given");

  StateDict parts[3];
  const char* prefixes[3] = {"model.", "optimizer.", "scheduler."};
  for (const auto& [k, t] : all) {
    bool placed = false;
    for (int i = 0; i < 3 && !placed; ++i) {
      if (k.starts_with(prefixes[i])) {
        parts[i].emplace(k.substr(std::string(prefixes[i]).size()), t);
        placed = true;
      }
    }
    TG_CHECK(placed, where, ": unexpected tensor '", k, "'");
  }

  // Snapshots to roll back to if a later part refuses its state.
  const StateDict model_before = clone_all(model.state_dict());
  const StateDict optim_before = optimizer.state_dict();
  model.load_state_dict(parts[0], true);
  try {
    optimizer.load_state_dict(parts[1]);
    if (scheduler) {
      try {
        scheduler->load_state_dict(parts[2]);
      } catch (...) {
        optimizer.load_state_dict(optim_before);
        throw;
      }
    }
  } catch (...) {
    model.load_state_dict(model_before, true);
    throw;
  }
  default_generator() = rng;
  if (extra) {
    extra->clear();
    for (const auto& [k, v] : meta)
      if (!k.starts_with("tapegrad.")) (*extra)[k] = v;
  }
  return step;
}

}  // namespace tg::optim
