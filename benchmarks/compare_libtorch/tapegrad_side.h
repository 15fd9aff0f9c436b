#pragma once
// tapegrad side of the comparison.
#include <memory>

#include "nets.h"

Data load_fashion_mnist(std::int64_t limit);
std::unique_ptr<Trainer> make_tapegrad_trainer(const NetSpec& spec, int threads);
void tapegrad_set_threads(int n);
double tapegrad_op_overhead_us();
// Median seconds of one `op` (see elementwise_ops) on n floats in [-2, 2], as a user writes it
// (`tg::exp(x)`, a fresh result each call).
double tapegrad_elementwise_s(const std::string& op, std::int64_t n);
