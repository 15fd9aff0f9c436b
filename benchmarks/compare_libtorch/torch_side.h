#pragma once
// LibTorch side of the comparison (kept in its own translation unit so that torch and tapegrad
// headers never meet).
#include <memory>

#include "nets.h"

std::unique_ptr<Trainer> make_torch_trainer(const NetSpec& spec);
void torch_set_threads(int n);
double torch_op_overhead_us();  // forward+backward per op, chain of 100 scalar multiplications
// Median seconds of one `op` (see elementwise_ops) on n floats in [-2, 2]: a fresh result
// (`torch::exp(x)`) or written into a kept buffer (`torch::exp_out(out, x)`).
double torch_elementwise_s(const std::string& op, std::int64_t n, bool into_buffer);
