// An outside program built against the INSTALLED headers only (run.sh): the user API must be
// complete without any internal header, and the internals must stay out of reach.
#include <tapegrad/tapegrad.h>

#include <iostream>
#include <type_traits>

namespace {

template <typename T>
concept complete = requires {
  sizeof(T);
};
// The engine's types are declared, never defined, for users: their fields are not API.
static_assert(!complete<tg::TensorImpl>, "TensorImpl's fields leaked into the public headers");
static_assert(!complete<tg::autograd::Node>, "autograd::Node leaked into the public headers");

// The public extension API: a custom op.
struct Cube : tg::Function<Cube> {
  static constexpr const char* name = "cube";
  static tg::Tensor forward(tg::AutogradContext& ctx, const tg::Tensor& x) {
    ctx.save_for_backward({x});
    return x * x * x;
  }
  static tg::grads backward(tg::AutogradContext& ctx, const tg::grads& g) {
    const tg::Tensor x = ctx.saved()[0];
    return {g[0] * 3.0 * x * x};
  }
};

struct Net : tg::nn::Module {
  tg::nn::Linear fc1{3, 4}, fc2{4, 1};
  Net() { register_modules({{"fc1", fc1}, {"fc2", fc2}}); }
  tg::Tensor forward(const tg::Tensor& x) override { return fc2(tg::relu(fc1(x))); }
};

int fail(const char* what) {
  std::cerr << "install consumer: " << what << '\n';
  return 1;
}

}  // namespace

int main() {
  auto x = tg::tensor({1.0, 2.0, 3.0}, tg::kFloat64).requires_grad_();
  auto y = x * x;
  if (y.grad_fn()->name() != "mul") return fail("grad_fn()->name() is not 'mul'");
  int hook_calls = 0;
  x.register_hook([&](const tg::Tensor&) {
    ++hook_calls;
    return tg::Tensor();
  });
  y.sum().backward();
  // d/dx sum(x^2) = 2x
  if (!tg::allclose(x.grad(), x.detach() * 2.0)) return fail("wrong gradient of sum(x^2)");
  if (hook_calls != 1) return fail("the gradient hook did not run once");
  auto fn = [](const std::vector<tg::Tensor>& in) { return Cube::apply(in[0]); };
  if (!tg::gradcheck(fn, {tg::randn({3}, tg::kFloat64).requires_grad_()}))
    return fail("gradcheck of the custom op failed");
  if (Cube::apply(x).grad_fn()->name() != "cube") return fail("custom op node name");

  Net net;
  tg::optim::SGD opt(net.parameters(), {.lr = 0.1});
  const tg::StateDict before = net.state_dict();
  auto loss = net(tg::ones({2, 3})).sum();
  opt.zero_grad();
  loss.backward();
  opt.step();
  if (opt.state(net.parameters()[0]) != nullptr) return fail("plain SGD keeps no state");
  if (before.size() != 4u) return fail("state_dict() does not hold 4 tensors");
  if (tg::memory_stats().live_tensors <= 0) return fail("memory_stats() counts no tensor");
  std::cout << "install consumer: public API works\n";
  return 0;
}
