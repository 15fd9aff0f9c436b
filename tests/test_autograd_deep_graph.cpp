// Very long graphs (issue 16, item 6): building, running and dropping a chain of a million nodes
// must not overflow the stack. Nodes and the tensors they save are freed by a loop, not by
// recursion through each node's destructor.
#define BOOST_TEST_MODULE autograd_deep_graph
#include <boost/test/unit_test.hpp>

#include <tapegrad/tapegrad.h>

using namespace tg;

namespace {
#if defined(__SANITIZE_ADDRESS__)
#define TG_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define TG_ASAN 1
#endif
#endif
// A million nodes take ~0.6 GB; under ASan (whose frames are larger: the old recursive
// destructor overflowed there from ~100k nodes) 300k keep the CI job's time and memory modest.
#ifdef TG_ASAN
constexpr int kMillion = 300'000;
#else
constexpr int kMillion = 1'000'000;
#endif

Tensor chain(const Tensor& x, int n) {
  Tensor y = x;
  for (int i = 0; i < n; ++i) y = y * 1.0;
  return y;
}

std::int64_t live_tensors() { return memory_stats().live_tensors; }
}  // namespace

BOOST_AUTO_TEST_CASE(dropping_a_million_node_chain_without_backward) {
  auto x = tensor({1.0f, 2.0f}).requires_grad_();
  const auto before = live_tensors();
  {
    Tensor y = chain(x, kMillion);
    BOOST_TEST(y.grad_fn() != nullptr);
  }  // the whole graph goes here
  BOOST_TEST(live_tensors() == before);
}

BOOST_AUTO_TEST_CASE(a_million_node_chain_with_backward) {
  auto x = tensor({1.0f, 2.0f}).requires_grad_();
  const auto before = live_tensors();
  {
    Tensor y = chain(x, kMillion);
    y.sum().backward();
  }
  BOOST_TEST(x.grad().to_vector<float>() == std::vector<float>({1.0f, 1.0f}));
  x.zero_grad();
  BOOST_TEST(live_tensors() == before);
}

// Here each node also saves its input, whose grad_fn is the previous node: the graph is held
// through saved tensors as well as through edges.
BOOST_AUTO_TEST_CASE(a_long_chain_held_through_saved_tensors) {
  constexpr int n = 200'000;  // deeper than the old recursive destructor survived
  auto x = tensor({1.0f, 2.0f}).requires_grad_();
  auto w = tensor({1.0f}).requires_grad_();
  const auto before = live_tensors();
  {
    Tensor y = x;
    for (int i = 0; i < n; ++i) y = y * w;  // mul saves both operands
    BOOST_TEST(y.grad_fn()->name() == "mul");
    y.sum().backward(Tensor(), /*retain_graph=*/true);  // the saved tensors stay alive
  }
  // y = x * w^n: dy/dx = w^n = 1, d(sum y)/dw = n * w^(n-1) * (1 + 2) (exact in float32).
  BOOST_TEST(x.grad().to_vector<float>() == std::vector<float>({1.0f, 1.0f}));
  BOOST_TEST(w.grad().item<float>() == 3.0f * n);
  x.zero_grad();
  w.zero_grad();
  BOOST_TEST(live_tensors() == before);
}

// A deep graph whose last reference is a hook closure or a custom op's context still frees.
BOOST_AUTO_TEST_CASE(a_long_chain_held_by_a_hook_closure) {
  auto x = tensor({3.0f}).requires_grad_();
  const auto before = live_tensors();
  {
    Tensor y = chain(x, 200'000);
    Tensor z = x * 2.0;
    z.register_hook([y](const Tensor&) { return Tensor(); });  // z's node keeps y's graph
  }
  BOOST_TEST(live_tensors() == before);
}
