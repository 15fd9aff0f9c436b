// Autograd from several user threads (issue 16, item 7), as PyTorch allows: one model shared by
// threads that each build and run their own graphs with grad mode on. Gradient accumulation into
// a shared leaf is serialised per leaf, the leaf's accumulator node is created once, hook and
// retain_grad lists may change while other threads run backward, grad mode is per thread.
// Sums are of small integers, so every lost or doubled update shows exactly. CI runs this suite
// under ThreadSanitizer (.ci/sanitize.sh); the loop counts keep that run to seconds.
#define BOOST_TEST_MODULE autograd_threads
#include <boost/test/unit_test.hpp>

#include <tapegrad/tapegrad.h>
#include <atomic>
#include <barrier>
#include <functional>
#include <thread>
#include <vector>

using namespace tg;

namespace {
constexpr int kThreads = 4;

// Runs body(thread_index) on kThreads threads started together; rethrows the first error.
void run_threads(const std::function<void(int)>& body) {
  std::vector<std::thread> threads;
  std::vector<std::exception_ptr> errors(kThreads);
  for (int t = 0; t < kThreads; ++t)
    threads.emplace_back([&, t] {
      try {
        body(t);
      } catch (...) {
        errors[static_cast<std::size_t>(t)] = std::current_exception();
      }
    });
  for (auto& th : threads) th.join();
  for (auto& e : errors)
    if (e) std::rethrow_exception(e);
}

bool all_equal(const Tensor& t, float value) {
  for (float v : t.to_vector<float>())
    if (v != value) return false;
  return true;
}

struct ThreadSetup {
  ThreadSetup() { set_num_threads(1); }  // kernels serial: the threads here are the user's
};
}  // namespace

BOOST_GLOBAL_FIXTURE(ThreadSetup);

BOOST_AUTO_TEST_CASE(shared_linear_forward_with_grad_mode_on) {
  nn::Linear fc(8, 4);
  const Tensor x = ones({2, 8});
  std::atomic<int> recorded{0};
  run_threads([&](int) {
    for (int i = 0; i < 300; ++i) {
      Tensor y = fc(x);  // records a node whose edges lead to fc's leaves
      if (y.grad_fn()) ++recorded;
    }
  });
  BOOST_TEST(recorded.load() == kThreads * 300);
}

BOOST_AUTO_TEST_CASE(shared_linear_backward_loses_no_update) {
  nn::Linear fc(8, 4);
  const Tensor x = ones({2, 8});
  constexpr int steps = 250;
  run_threads([&](int) {
    for (int i = 0; i < steps; ++i) fc(x).sum().backward();
  });
  // Per step d(sum)/dW[i][j] = sum over the batch of x = 2, d/db = 2.
  const float expected = 2.0f * kThreads * steps;
  BOOST_TEST(all_equal(fc.weight.grad(), expected));
  BOOST_TEST(all_equal(fc.bias.grad(), expected));
}

BOOST_AUTO_TEST_CASE(first_use_of_a_leaf_from_several_threads_at_once) {
  // Each round a fresh leaf: its accumulator node is created lazily by whichever thread gets
  // there first, while the others race for it.
  constexpr int rounds = 60;
  for (int r = 0; r < rounds; ++r) {
    auto p = zeros({3}).requires_grad_();
    std::barrier start(kThreads);
    run_threads([&](int) {
      start.arrive_and_wait();
      (p * 2.0).sum().backward();
    });
    BOOST_REQUIRE(all_equal(p.grad(), 2.0f * kThreads));
  }
}

BOOST_AUTO_TEST_CASE(backward_through_a_shared_graph_with_retain_graph) {
  // The node of y is shared: every thread's backward runs its hook, its retain_grad and its
  // backward closure.
  auto x = full({2}, 3.0).requires_grad_();
  auto y = x * x;  // saves x twice
  y.retain_grad();
  std::atomic<int> hook_runs{0};
  y.register_hook([&](const Tensor&) {
    ++hook_runs;
    return Tensor();
  });
  constexpr int steps = 100;
  run_threads([&](int) {
    for (int i = 0; i < steps; ++i) (y * 1.0).sum().backward(Tensor(), /*retain_graph=*/true);
  });
  BOOST_TEST(hook_runs.load() == kThreads * steps);
  BOOST_TEST(all_equal(x.grad(), 6.0f * kThreads * steps));  // d(x^2)/dx = 2x = 6
  BOOST_TEST(all_equal(y.grad(), 1.0f * kThreads * steps));
}

BOOST_AUTO_TEST_CASE(hooks_registered_while_other_threads_run_backward) {
  auto p = zeros({2}).requires_grad_();
  auto y = p * 1.0;
  std::atomic<int> leaf_runs{0}, non_leaf_runs{0};
  constexpr int hooks = 50;
  run_threads([&](int t) {
    if (t == 0) {  // one thread registers (and removes) hooks on a leaf and a non-leaf
      for (int i = 0; i < hooks; ++i) {
        p.register_hook([&](const Tensor&) {
          ++leaf_runs;
          return Tensor();
        });
        y.register_hook([&](const Tensor&) {
          ++non_leaf_runs;
          return Tensor();
        });
        const int extra = p.register_hook([](const Tensor& g) { return g; });
        p.remove_hook(extra);
      }
    } else {
      for (int i = 0; i < 50; ++i) (y * 1.0).sum().backward(Tensor(), true);
    }
  });
  leaf_runs = 0;
  non_leaf_runs = 0;
  p.zero_grad();
  (y * 1.0).sum().backward();
  BOOST_TEST(leaf_runs.load() == hooks);
  BOOST_TEST(non_leaf_runs.load() == hooks);
  BOOST_TEST(all_equal(p.grad(), 1.0f));
}

BOOST_AUTO_TEST_CASE(grad_mode_is_per_thread) {
  auto x = ones({2}).requires_grad_();
  NoGradGuard off;  // this thread only
  BOOST_TEST(!(x * 2.0).requires_grad());
  bool other_enabled = false, other_records = false, inner_off = false;
  std::thread([&] {
    other_enabled = GradMode::is_enabled();
    other_records = (x * 2.0).requires_grad();
    NoGradGuard inner;
    inner_off = !GradMode::is_enabled();
  }).join();
  BOOST_TEST(other_enabled);
  BOOST_TEST(other_records);
  BOOST_TEST(inner_off);
  BOOST_TEST(!GradMode::is_enabled());  // the other thread's guard did not touch this one
}

BOOST_AUTO_TEST_CASE(version_counter_counts_every_in_place_write_of_every_thread) {
  // Threads write disjoint rows of one storage: each write bumps the shared version counter.
  auto t = zeros({kThreads, 4});
  const auto v0 = t.version();
  constexpr int writes = 2000;
  run_threads([&](int r) {
    Tensor row = t.select(0, r);
    for (int i = 0; i < writes; ++i) row.add_(1.0);
  });
  BOOST_TEST(t.version() == v0 + kThreads * writes);
  BOOST_TEST(all_equal(t, static_cast<float>(writes)));
}
