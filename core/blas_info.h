#pragma once
// Which BLAS kernels run, and why. At the first matrix product tapegrad reads the kernel set
// OpenBLAS picked (openblas_get_corename) and the CPU's features (cpuid). When OpenBLAS fell
// back to older kernels than the CPU can run (Debian's 0.3.21 does so on CPUs newer than it,
// e.g. Intel model 207 gets its SSE3 "Prescott" kernels), tapegrad switches the library to the
// best matching set it ships. A set is used only after a small product matched a
// double-accumulated reference; otherwise OpenBLAS's own choice is kept and one line on stderr
// says so. A value of OPENBLAS_CORETYPE set in the environment is always kept.
#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace tg {

struct BlasInfo {
  std::string library;  // "OpenBLAS"
  std::string version;  // "0.3.21"
  std::string kernels;  // the kernel set in use, as OpenBLAS names it ("Cooperlake")
  std::string reason;   // why that set
  int threads = 1;      // tapegrad threads that run GEMM panels; OpenBLAS itself runs on one
  std::string to_string() const;  // one line, for program headers
};

// Selects the kernels on first call (as the first matrix product does).
BlasInfo blas_info();

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
