#pragma once
// The BLAS kernel selection behind blas_info() (core/blas_info.h): CPU features, the decision as
// a pure function, and the one-time set-up. Internal.
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "tapegrad/core/blas_info.h"

namespace tg {

namespace detail {

struct CpuFeatures {
  bool sse3 = false, avx = false, avx2 = false, fma = false;
  bool avx512f = false, avx512bw = false, avx512vl = false, avx512dq = false, avx512bf16 = false;
};
// This CPU's features, each only if the OS also saves the registers it needs (XCR0).
CpuFeatures cpu_features();

// Vector width class of an OpenBLAS kernel set: 0 SSE, 1 AVX, 2 AVX2+FMA, 3 AVX-512;
// -1 for a name it does not know.
int kernel_level(std::string_view corename);

struct KernelChoice {
  std::string kernels;  // the set to run
  std::string reason;
  bool switch_needed = false;  // kernels differs from what OpenBLAS runs now
};
// The decision alone, as a pure function: `openblas_core` is what OpenBLAS picked, `user_env`
// the value of OPENBLAS_CORETYPE if the user set one, `available(name)` whether the library
// ships that set (and can be switched to it).
KernelChoice choose_kernels(const CpuFeatures& cpu, std::string_view openblas_core,
                            std::optional<std::string_view> user_env,
                            const std::function<bool(std::string_view)>& available);

// Once per process, before the first BLAS call: choose, switch, self-check, and keep OpenBLAS
// on one thread (again after set_num_threads).
void ensure_blas_ready();

// Estimated single-core speed of the kernel set in use, in float32 multiply-adds per ns. A fixed
// figure per kernel class (measured on one machine), not a timing at start-up: panel boundaries
// follow from it, and a measured figure would move them, and so the results' last bits,
// between runs.
double blas_macs_per_ns();

// Test seams (environment, read once at selection):
//   TAPEGRAD_TEST_BLAS_AUTOCORE=Prescott   act as if OpenBLAS's own detection had picked it
//   TAPEGRAD_TEST_BLAS_SELFCHECK_FAIL=Name  make the self-check of that set ("all": every set)
//                                           see a wrong element
}  // namespace detail

}  // namespace tg
