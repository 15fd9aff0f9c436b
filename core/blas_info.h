#pragma once
// Which BLAS kernels run, and why. At the first matrix product tapegrad reads the kernel set
// OpenBLAS picked (openblas_get_corename) and the CPU's features (cpuid). When OpenBLAS fell
// back to older kernels than the CPU can run (Debian's 0.3.21 does so on CPUs newer than it,
// e.g. Intel model 207 gets its SSE3 "Prescott" kernels), tapegrad switches the library to the
// best matching set it ships. A set is used only after a small product matched a
// double-accumulated reference; otherwise OpenBLAS's own choice is kept and one line on stderr
// says so. A value of OPENBLAS_CORETYPE set in the environment is always kept.
#include <string>

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

}  // namespace tg
