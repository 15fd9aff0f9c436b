#pragma once
// tapegrad side of the comparison.
#include <memory>

#include "nets.h"

Data load_fashion_mnist(std::int64_t limit);
std::unique_ptr<Trainer> make_tapegrad_trainer(const NetSpec& spec, int threads);
void tapegrad_set_threads(int n);
double tapegrad_op_overhead_us();
