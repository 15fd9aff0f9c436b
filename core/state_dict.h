#pragma once
// A state dict: tensors by dotted name ("fc1.weight", "state.0.exp_avg", ...). Modules,
// optimizers and schedulers all save and restore themselves through one, and a state dict is
// what a safetensors file holds. Ordered by name so files and printouts are deterministic.
#include <map>
#include <string>

#include "tapegrad/core/tensor.h"

namespace tg {

using StateDict = std::map<std::string, Tensor>;
// Free-form string pairs stored beside the tensors (safetensors' "__metadata__").
using Metadata = std::map<std::string, std::string>;

namespace nn {
using tg::StateDict;
}

}  // namespace tg
