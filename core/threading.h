#pragma once
// One thread policy for the whole library: every parallel loop runs on oneTBB, GEMMs included.
// OpenBLAS is kept single-threaded and big products are cut into panels that TBB runs side by
// side (ops/kernels/gemm.cpp). Two pools on the same cores would fight: OpenBLAS's idle workers
// spin in sched_yield for a while after each call, just when TBB starts the next elementwise op.
#include <cstdint>
#include <functional>

namespace tg {

void set_num_threads(int n);  // n >= 1
int get_num_threads();

namespace detail {
// Sets OpenBLAS to one thread once per process (and again after set_num_threads, in case
// another library in the process changed it).
void use_blas_single_threaded();

// Runs body(begin, end) over [0, n) in chunks of at least `grain` elements; serial when n is
// below `grain` or one thread is set. Chunk boundaries depend only on n and grain, never on the
// thread count, so ordered reductions give identical results on 1 or many threads.
void parallel_for_chunks(std::int64_t n, std::int64_t grain,
                         const std::function<void(std::int64_t, std::int64_t)>& body);
template <typename F>
void parallel_for(std::int64_t n, std::int64_t grain, F&& body) {
  if (n <= 0) return;
  if (n <= grain) {
    body(std::int64_t{0}, n);  // small work runs inline: no std::function, no task
    return;
  }
  parallel_for_chunks(n, grain, body);
}
// Elements per task for cheap elementwise work: tiny ops made parallel get slower.
inline constexpr std::int64_t kElementwiseGrain = 32768;
}  // namespace detail

}  // namespace tg
