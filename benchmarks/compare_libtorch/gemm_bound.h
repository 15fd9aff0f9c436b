#pragma once
#include <cstdint>

#include "nets.h"

// Seconds for the GEMMs of one epoch of `spec` over n samples.
double gemm_bound_epoch(const NetSpec& spec, std::int64_t n);
