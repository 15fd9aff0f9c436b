#pragma once
// A training checkpoint: everything a run needs to continue exactly where it stopped.
//
//   optim::save_checkpoint("run.ckpt", net, opt, step, &sched);
//   ...
//   step = optim::load_checkpoint("run.ckpt", net, opt, &sched);
//
// One safetensors file (atomic save) holds the model's state dict under "model.", the
// optimizer's under "optimizer." and the scheduler's under "scheduler."; the metadata holds the
// step, the state of tg::default_generator() (dropout masks, shuffles and init draws continue
// the same sequence) and any extra strings of the caller. A resumed run is bit-for-bit the run
// that never stopped.
#include <cstdint>
#include <filesystem>

#include "tapegrad/nn/module.h"
#include "tapegrad/optim/lr_scheduler.h"
#include "tapegrad/optim/optimizer.h"

namespace tg::optim {

void save_checkpoint(const std::filesystem::path& path, const nn::Module& model,
                     const Optimizer& optimizer, std::int64_t step,
                     const Scheduler* scheduler = nullptr, const Metadata& extra = {});

// Restores model (strictly), optimizer, scheduler and the global RNG, and returns the step. All
// or nothing: if any part does not fit, nothing is changed and the error says what. The
// scheduler must be given exactly when the checkpoint has one. `extra` receives the caller's
// metadata.
std::int64_t load_checkpoint(const std::filesystem::path& path, nn::Module& model,
                             Optimizer& optimizer, Scheduler* scheduler = nullptr,
                             Metadata* extra = nullptr);

}  // namespace tg::optim
