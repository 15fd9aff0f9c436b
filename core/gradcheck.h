#pragma once
// Finite-difference gradient checks: the analytic Jacobian from autograd against the central
// difference (f(x + eps) - f(x - eps)) / 2eps, element by element, in float64.
#include <functional>
#include <string>
#include <vector>

#include "tapegrad/core/tensor.h"

namespace tg {

struct GradcheckOptions {
  double eps = 1e-6;
  double atol = 1e-5;
  double rtol = 1e-3;
  bool raise_exception = true;  // throw tg::Error describing the first mismatch
};

using GradcheckFn = std::function<std::vector<Tensor>(const std::vector<Tensor>&)>;

// fn maps inputs to outputs. Inputs that require grad (float64) are checked; others are held
// fixed. Returns true when every entry matches; otherwise throws (or returns false) with the
// input index, element, analytic and numeric values in the message.
bool gradcheck(const GradcheckFn& fn, const std::vector<Tensor>& inputs,
               const GradcheckOptions& options = {});
// Single-output convenience.
bool gradcheck(const std::function<Tensor(const std::vector<Tensor>&)>& fn,
               const std::vector<Tensor>& inputs, const GradcheckOptions& options = {});

// Second order: gradchecks the map (inputs, v) -> d<outputs, v>/d(inputs) built with
// create_graph, for a fixed random v.
bool gradgradcheck(const GradcheckFn& fn, const std::vector<Tensor>& inputs,
                   const GradcheckOptions& options = {});
bool gradgradcheck(const std::function<Tensor(const std::vector<Tensor>&)>& fn,
                   const std::vector<Tensor>& inputs, const GradcheckOptions& options = {});

}  // namespace tg
