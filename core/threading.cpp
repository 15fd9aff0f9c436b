#include "tapegrad/core/threading.h"

#include <cblas.h>

#include <tbb/blocked_range.h>
#include <tbb/global_control.h>
#include <tbb/parallel_for.h>
#include <atomic>
#include <memory>
#include <mutex>

#include "tapegrad/core/error.h"

namespace tg {
namespace {
std::mutex g_mutex;
std::unique_ptr<tbb::global_control> g_control;
std::atomic<int> g_threads{0};  // 0: not set yet
std::atomic<bool> g_blas_pinned{false};

// TBB's own default: the CPUs this process may run on (its affinity mask), not all of them.
int default_threads() {
  return static_cast<int>(
      tbb::global_control::active_value(tbb::global_control::max_allowed_parallelism));
}
}  // namespace

void set_num_threads(int n) {
  TG_CHECK(n >= 1, "set_num_threads: expected a positive thread count, got ", n);
  std::lock_guard lock(g_mutex);
  g_control = std::make_unique<tbb::global_control>(tbb::global_control::max_allowed_parallelism,
                                                    static_cast<std::size_t>(n));
  g_threads = n;
  g_blas_pinned = false;
}

int get_num_threads() {
  const int n = g_threads.load(std::memory_order_relaxed);
  return n == 0 ? default_threads() : n;
}

namespace detail {
void use_blas_single_threaded() {
  if (g_blas_pinned.load(std::memory_order_acquire)) return;
  std::lock_guard lock(g_mutex);
  openblas_set_num_threads(1);
  g_blas_pinned.store(true, std::memory_order_release);
}

void parallel_for_chunks(std::int64_t n, std::int64_t grain,
                         const std::function<void(std::int64_t, std::int64_t)>& body) {
  grain = std::max<std::int64_t>(grain, 1);
  const std::int64_t chunks = (n + grain - 1) / grain;
  // simple_partitioner with grain 1 over fixed chunks: boundaries never depend on thread count.
  tbb::parallel_for(
      tbb::blocked_range<std::int64_t>(0, chunks, 1),
      [&](const tbb::blocked_range<std::int64_t>& r) {
        for (std::int64_t c = r.begin(); c != r.end(); ++c)
          body(c * grain, std::min(n, (c + 1) * grain));
      },
      tbb::simple_partitioner());
}
}  // namespace detail

}  // namespace tg
