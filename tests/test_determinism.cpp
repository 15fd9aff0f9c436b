// Determinism: a small training run (MLP with dropout, Adam, a shuffling DataLoader) repeats
// bit for bit with the same seed, and gives bit-identical losses and weights on 1 and 2 threads.
// The sizes are above the parallel grain (a 256 x 512 hidden activation is 131072 elements, four
// chunks of kElementwiseGrain), so the 2-thread run really splits its kernels.
#define BOOST_TEST_MODULE determinism
#include <boost/test/unit_test.hpp>

#include <sys/wait.h>
#include <tapegrad/tapegrad.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <functional>
#include <optional>
#include <string>
#include <thread>
#include <vector>

using namespace tg;
namespace F = tg::nn::functional;

namespace {

struct Mlp : nn::Module {
  nn::Linear fc1{64, 512}, fc2{512, 512}, fc3{512, 10};
  nn::Dropout drop{0.3};
  Mlp() { register_modules({{"fc1", fc1}, {"fc2", fc2}, {"fc3", fc3}, {"drop", drop}}); }
  Tensor forward(const Tensor& x) override {
    Tensor h = drop(relu(fc1(x)));
    return fc3(drop(relu(fc2(h))));
  }
};

struct Run {
  std::vector<float> losses;
  std::vector<std::uint32_t> weight_bits;  // every parameter element, as raw bits
};

std::vector<std::uint32_t> bits_of(const nn::Module& m) {
  std::vector<std::uint32_t> out;
  for (const auto& p : m.parameters())
    for (float v : p.to_vector<float>()) {
      std::uint32_t b;
      std::memcpy(&b, &v, 4);
      out.push_back(b);
    }
  return out;
}

// Everything random (data, init, dropout masks, shuffles) flows from `seed`.
Run train(std::uint64_t seed, int threads, int epochs = 2) {
  set_num_threads(threads);
  manual_seed(seed);
  const Tensor inputs = randn({1024, 64});
  const Tensor targets = randint(0, 10, {1024});
  Mlp net;
  optim::Adam opt(net.parameters(), {.lr = 1e-3});
  data::DataLoader loader(inputs, targets,
                          {.batch_size = 256, .shuffle = true, .progress = ProgressMode::Off});
  Run run;
  for (int e = 0; e < epochs; ++e)
    for (auto& [x, y] : loader) {
      Tensor loss = F::cross_entropy(net(x), y);
      opt.zero_grad();
      loss.backward();
      opt.step();
      run.losses.push_back(loss.item<float>());
    }
  run.weight_bits = bits_of(net);
  return run;
}

// Index of the first difference, or -1.
template <typename T>
long first_difference(const std::vector<T>& a, const std::vector<T>& b) {
  if (a.size() != b.size()) return 0;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (std::memcmp(&a[i], &b[i], sizeof(T)) != 0) return static_cast<long>(i);
  return -1;
}

struct RestoreThreads {
  int n = get_num_threads();
  ~RestoreThreads() { set_num_threads(n); }
};

}  // namespace

BOOST_AUTO_TEST_CASE(same_seed_same_losses) {
  RestoreThreads restore;
  const Run a = train(7, 2), b = train(7, 2);
  BOOST_REQUIRE_EQUAL(a.losses.size(), 8u);
  BOOST_TEST(first_difference(a.losses, b.losses) == -1);
  BOOST_TEST(first_difference(a.weight_bits, b.weight_bits) == -1);
  // The losses are real training losses (about ln 10 at the start) and the run is seed-driven.
  BOOST_TEST(a.losses.front() > 1.5f);
  BOOST_TEST(a.losses.front() < 3.5f);
  const Run c = train(8, 2);
  BOOST_TEST(first_difference(a.losses, c.losses) != -1);
}

// GEMMs included: tapegrad cuts a product into panels whose edges depend on the product alone
// (ops/kernels/gemm.cpp), so every kernel set gives the same bits on 1 and 2 threads. CTest runs
// this suite with OPENBLAS_CORETYPE=Haswell (whose kernels round panel edges differently from
// their main loop, the case that once broke this) and with the kernels tapegrad selects.
void check_same(bool same, const std::string& what) {
  BOOST_TEST(same,
             what << " differs between 1 and 2 threads (BLAS: " << blas_info().kernels << ")");
}

// Losses and trained weights of two runs, bit for bit; `what` prefixes the messages.
void check_runs_agree(const Run& one, const Run& two, const std::string& what) {
  const long loss = first_difference(one.losses, two.losses);
  const long weight = first_difference(one.weight_bits, two.weight_bits);
  check_same(loss == -1, what + "training loss " + std::to_string(loss));
  check_same(weight == -1, what + "trained weight element " + std::to_string(weight));
}

BOOST_AUTO_TEST_CASE(one_and_two_threads_agree_bit_for_bit) {
  RestoreThreads restore;
  check_runs_agree(train(11, 1), train(11, 2), "");
}

// Large single ops on 1 vs 2 threads: names the kernel when the end-to-end check above fails.
BOOST_AUTO_TEST_CASE(kernels_agree_on_one_and_two_threads) {
  RestoreThreads restore;
  manual_seed(3);
  const Tensor a = randn({256, 512}), b = randn({512, 512}), v = randn({512});
  const Tensor labels = randint(0, 512, {256});
  const Tensor wide_in = randn({128, 784}), wide_w = randn({784, 1024});
  struct Op {
    const char* name;
    std::function<Tensor()> f;
  };
  const std::vector<Op> ops = {
      {"matmul", [&] { return matmul(a, b); }},
      {"matmul (transposed operand)", [&] { return matmul(a, b.t()); }},
      {"matmul 128x784x1024 (the flagship's first layer)", [&] { return matmul(wide_in, wide_w); }},
      {"matmul float64", [&] { return matmul(a.to(kFloat64), b.to(kFloat64)); }},
      {"add (broadcast)", [&] { return a + v; }},
      {"mul", [&] { return a * a; }},
      {"relu", [&] { return relu(a); }},
      {"exp", [&] { return exp(a); }},
      {"tanh", [&] { return tanh(a); }},
      {"sum (all)", [&] { return a.sum(); }},
      {"sum (dim 0)", [&] { return a.sum({0}); }},
      {"sum (dim 1)", [&] { return a.sum({1}); }},
      {"mean (all)", [&] { return a.mean(); }},
      {"var (dim 0)", [&] { return var(a, {0}); }},
      {"amax (dim 1)", [&] { return amax(a, {1}); }},
      {"softmax", [&] { return F::softmax(a, 1); }},
      {"log_softmax", [&] { return F::log_softmax(a, 1); }},
      {"cross_entropy", [&] { return F::cross_entropy(a, labels); }},
      {"sum_to (bias gradient)", [&] { return a.sum_to({512}); }},
      {"dropout (seeded)",
       [&] {
         manual_seed(9);
         return F::dropout(a, 0.3, true);
       }},
  };
  for (const auto& op : ops) {
    set_num_threads(1);
    const Tensor r1 = op.f();
    set_num_threads(2);
    const Tensor r2 = op.f();
    check_same(equal(r1, r2), op.name);
  }
}

// The two checks above again in fresh processes of this program, one per kernel set: OpenBLAS
// reads OPENBLAS_CORETYPE when it loads, and each set rounds panel edges its own way. Haswell is
// what CI's environment sets, unset is what tapegrad selects, Prescott the slow SSE3 set (on
// which more products are split).
BOOST_AUTO_TEST_CASE(every_kernel_set_agrees_on_one_and_two_threads) {
  if (std::getenv("TAPEGRAD_DETERMINISM_CHILD")) return;  // already one of the runs below
  for (const std::optional<std::string>& kernels :
       {std::optional<std::string>("Haswell"), std::optional<std::string>(),
        std::optional<std::string>("Prescott")}) {
    std::fflush(nullptr);
    const pid_t pid = ::fork();
    BOOST_REQUIRE(pid >= 0);
    if (pid == 0) {
      ::setenv("TAPEGRAD_DETERMINISM_CHILD", "1", 1);
      kernels ? ::setenv("OPENBLAS_CORETYPE", kernels->c_str(), 1)
              : ::unsetenv("OPENBLAS_CORETYPE");
      ::execl(
          "/proc/self/exe", "test_determinism",
          "--run_test=one_and_two_threads_agree_bit_for_bit,kernels_agree_on_one_and_two_threads",
          static_cast<char*>(nullptr));
      ::_exit(127);
    }
    int status = 0;
    ::waitpid(pid, &status, 0);
    BOOST_TEST((WIFEXITED(status) && WEXITSTATUS(status) == 0),
               "1 vs 2 threads with OPENBLAS_CORETYPE=" << kernels.value_or("(unset)")
                                                        << ": the run above failed");
  }
}

// A network without randomness in its forward pass, for the thread test below.
struct Plain : nn::Module {
  nn::Linear fc1{64, 256}, fc2{256, 10};
  Plain() { register_modules({{"fc1", fc1}, {"fc2", fc2}}); }
  Tensor forward(const Tensor& x) override { return fc2(relu(fc1(x))); }
};

std::vector<float> plain_steps(Plain& net, const Tensor& x, const Tensor& y, bool eval_between) {
  optim::SGD opt(net.parameters(), {.lr = 0.05, .momentum = 0.9});
  std::vector<float> losses;
  for (int i = 0; i < 6; ++i) {
    Tensor loss = F::cross_entropy(net(x), y);
    opt.zero_grad();
    loss.backward();
    opt.step();
    losses.push_back(loss.item<float>());
    if (eval_between) {  // grad mode is per thread: this must not disturb the other thread
      NoGradGuard no_grad;
      net(x).sum();
    }
  }
  return losses;
}

// Two user threads train their own copies of one network at the same time (one of them also
// evaluating under no_grad between steps): each gets exactly the single-threaded losses. Under
// ThreadSanitizer (.ci/sanitize.sh) this drives the library's shared state (grad mode, autograd
// nodes, the storage cache and counters, TBB and BLAS) from several threads at once.
BOOST_AUTO_TEST_CASE(independent_user_threads) {
  RestoreThreads restore;
  set_num_threads(2);
  manual_seed(21);
  const Tensor x = randn({256, 64});
  const Tensor y = randint(0, 10, {256});
  Plain reference, a, b;  // all initialized here, on one thread: no RNG use inside the threads
  a.load_state_dict(reference.state_dict());
  b.load_state_dict(reference.state_dict());
  const std::vector<float> expected = plain_steps(reference, x, y, false);
  std::vector<float> got_a, got_b;
  std::thread ta([&] { got_a = plain_steps(a, x, y, true); });
  std::thread tb([&] { got_b = plain_steps(b, x, y, false); });
  ta.join();
  tb.join();
  BOOST_TEST(first_difference(got_a, expected) == -1);
  BOOST_TEST(first_difference(got_b, expected) == -1);
}

// The same run frees what it allocated: no tensor or storage outlives it.
BOOST_AUTO_TEST_CASE(training_run_frees_everything) {
  const MemoryStats before = memory_stats();
  train(5, 2, 1);
  const MemoryStats after = memory_stats();
  BOOST_TEST(after.live_tensors == before.live_tensors);
  BOOST_TEST(after.live_storages == before.live_storages);
  BOOST_TEST(after.live_bytes == before.live_bytes);
}

namespace {
// A small CNN with every convolutional-network kernel: conv2d (im2col + GEMM panels), batch norm
// over [N, C, H, W], max pooling, channel dropout, average pooling. The first activation,
// [64, 8, 16, 16], is 131072 elements: the 2-thread run splits its kernels.
Run train_cnn(std::uint64_t seed, int threads) {
  set_num_threads(threads);
  manual_seed(seed);
  const Tensor inputs = randn({128, 1, 16, 16});
  const Tensor targets = randint(0, 10, {128});
  nn::Sequential net{nn::Conv2d(1, 8, 3, {.padding = 1}),
                     nn::BatchNorm2d(8),
                     nn::ReLU(),
                     nn::MaxPool2d(2),
                     nn::Conv2d(8, 16, 3, {.padding = 1}),
                     nn::BatchNorm2d(16),
                     nn::ReLU(),
                     nn::Dropout2d(0.2),
                     nn::AvgPool2d(2),
                     nn::Flatten(),
                     nn::Linear(16 * 4 * 4, 10)};
  optim::Adam opt(net.parameters(), {.lr = 1e-3});
  data::DataLoader loader(inputs, targets,
                          {.batch_size = 64, .shuffle = true, .progress = ProgressMode::Off});
  Run run;
  for (int e = 0; e < 2; ++e)
    for (auto& [x, y] : loader) {
      Tensor loss = F::cross_entropy(net(x), y);
      opt.zero_grad();
      loss.backward();
      opt.step();
      run.losses.push_back(loss.item<float>());
    }
  run.weight_bits = bits_of(net);
  return run;
}
}  // namespace

BOOST_AUTO_TEST_CASE(cnn_training_agrees_on_one_and_two_threads) {
  RestoreThreads restore;
  const Run one = train_cnn(13, 1), two = train_cnn(13, 2);
  BOOST_REQUIRE_EQUAL(one.losses.size(), 4u);
  check_runs_agree(one, two, "CNN ");
}

// The char_lm LSTM's layer op (ops/lstm_sequence.cpp) at a size whose GEMMs split into panels
// and whose gate kernels split into row tasks: outputs and every gradient, bit for bit.
BOOST_AUTO_TEST_CASE(lstm_layer_agrees_on_one_and_two_threads) {
  RestoreThreads restore;
  manual_seed(17);
  const Tensor x = randn({4, 64, 128}).requires_grad_();
  const Tensor wi = randn({1024, 128}).requires_grad_(), wh = randn({1024, 256}).requires_grad_();
  const Tensor b = randn({1024}).requires_grad_(), wy = randn({4, 64, 256});
  auto run = [&](int threads, bool reverse) {
    set_num_threads(threads);
    const LSTMSequence r = lstm_layer(x, {}, wi, wh * 0.05, b, b, reverse);
    std::vector<Tensor> out = grad({(r.output * wy).sum() + r.state.c.sum()}, {x, wi, wh, b});
    out.push_back(r.output);
    return out;
  };
  const char* names[] = {"lstm_layer dx", "lstm_layer dW_ih", "lstm_layer dW_hh",
                         "lstm_layer dbias", "lstm_layer output"};
  for (bool reverse : {false, true}) {
    const auto one = run(1, reverse), two = run(2, reverse);
    for (std::size_t k = 0; k < one.size(); ++k) check_same(equal(one[k], two[k]), names[k]);
  }
}
