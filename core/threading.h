#pragma once
// One thread policy for the whole library: tapegrad's kernels run on oneTBB, GEMMs on OpenBLAS's
// own threads, and set_num_threads governs both. BLAS is never called from inside a TBB task, so
// the two pools never multiply each other's threads.
#include <cstdint>
#include <functional>

namespace tg {

void set_num_threads(int n);  // n >= 1
int get_num_threads();

namespace detail {
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
