#include "tapegrad/core/threading.h"

#include <cblas.h>

#include <memory>
#include <mutex>
#include <thread>
#include <tbb/blocked_range.h>
#include <tbb/global_control.h>
#include <tbb/parallel_for.h>

#include "tapegrad/core/error.h"

namespace tg {
namespace {
std::mutex g_mutex;
std::unique_ptr<tbb::global_control> g_control;
int g_threads = 0;  // 0: not set yet

int default_threads() {
  const unsigned hw = std::thread::hardware_concurrency();
  return hw == 0 ? 1 : static_cast<int>(hw);
}
}  // namespace

void set_num_threads(int n) {
  TG_CHECK(n >= 1, "set_num_threads: expected a positive thread count, got ", n);
  std::lock_guard lock(g_mutex);
  g_control = std::make_unique<tbb::global_control>(tbb::global_control::max_allowed_parallelism,
                                                    static_cast<std::size_t>(n));
  openblas_set_num_threads(n);
  g_threads = n;
}

int get_num_threads() {
  std::lock_guard lock(g_mutex);
  return g_threads == 0 ? default_threads() : g_threads;
}

namespace detail {
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
