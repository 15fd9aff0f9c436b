// nn::Module: registration, traversal with dotted names, modes, zero_grad, apply, to(dtype),
// state dicts (strict loading and its errors), printing, ownership rules; and nn::init.
#define BOOST_TEST_MODULE nn_module
#include <boost/test/unit_test.hpp>

#include <tapegrad/tapegrad.h>
#include <cmath>
#include <sstream>
#include <type_traits>
#include "error_text.h"

using namespace tg;
using namespace tg::test;

namespace {

// A leaf module written by hand, with a parameter and a buffer.
struct Scale : nn::Module {
  Tensor w = register_parameter("w", ones({3}));
  Tensor count = register_buffer("count", zeros({}, kInt64));
  Tensor scratch = register_buffer("scratch", zeros({2}), /*persistent=*/false);
  Tensor forward(const Tensor& x) override { return x * w; }
};

// The DESIGN.md shape: layers as members, registered by reference.
struct Net : nn::Module {
  nn::Linear fc1{4, 8}, fc2{8, 3};
  nn::Dropout drop{0.25};
  Scale scale;
  Net() { register_modules({{"fc1", fc1}, {"fc2", fc2}, {"drop", drop}, {"scale", scale}}); }
  Tensor forward(const Tensor& x) { return scale(fc2(drop(relu(fc1(x))))); }
};

std::vector<std::string> names_of(const nn::NamedTensors& named) {
  std::vector<std::string> out;
  for (const auto& [n, t] : named) out.push_back(n);
  return out;
}
}  // namespace

// The ownership rule in types: networks that hold members by reference cannot move; layers can.
static_assert(!std::is_move_constructible_v<Net>);
static_assert(!std::is_copy_constructible_v<Net>);
static_assert(std::is_move_constructible_v<nn::Linear>);
static_assert(std::is_move_constructible_v<nn::Sequential>);
static_assert(!std::is_copy_constructible_v<nn::Linear>);

BOOST_AUTO_TEST_CASE(named_parameters_use_dotted_names_in_registration_order) {
  Net net;
  const std::vector<std::string> want = {"fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias",
                                         "scale.w"};
  BOOST_TEST(names_of(net.named_parameters()) == want, boost::test_tools::per_element());
  BOOST_TEST(net.parameters().size() == 5u);
  // The very same tensors (handles), not copies.
  BOOST_TEST(net.parameters()[0].is_same(net.fc1.weight));
  BOOST_TEST(net.parameters()[4].is_same(net.scale.w));
  BOOST_TEST(net.named_parameters(/*recurse=*/false).empty());
  BOOST_TEST(net.num_parameters() == 4 * 8 + 8 + 8 * 3 + 3 + 3);
  for (const auto& p : net.parameters()) BOOST_TEST(p.requires_grad());

  const std::vector<std::string> bufs = {"scale.count", "scale.scratch"};
  BOOST_TEST(names_of(net.named_buffers()) == bufs, boost::test_tools::per_element());

  std::vector<std::string> kids;
  for (auto& [n, m] : net.named_children()) kids.push_back(n + ":" + m->name());
  const std::vector<std::string> want_kids = {"fc1:Linear", "fc2:Linear", "drop:Dropout",
                                              "scale:Scale"};
  BOOST_TEST(kids == want_kids, boost::test_tools::per_element());
  auto mods = net.named_modules();
  BOOST_TEST(mods.size() == 5u);
  BOOST_TEST(mods[0].first == "");
  BOOST_TEST(mods[0].second == &net);
  BOOST_TEST(mods[1].second == &net.fc1);
}

BOOST_AUTO_TEST_CASE(shared_modules_and_parameters_are_listed_once) {
  struct Tied : nn::Module {
    std::shared_ptr<nn::Linear> a = std::make_shared<nn::Linear>(2, 2);
    Tied() {
      register_module("first", a);
      register_module("second", a);  // the same module under two names
    }
  } tied;
  BOOST_TEST(tied.parameters().size() == 2u);
  BOOST_TEST(names_of(tied.named_parameters())[0] == "first.weight");
  BOOST_TEST(tied.modules().size() == 2u);
}

BOOST_AUTO_TEST_CASE(registration_errors_name_the_problem) {
  Scale s;
  BOOST_TEST(contains(error_of([&] { s.register_parameter("w", ones({1})); }),
                      "'w' is already registered in Scale"));
  BOOST_TEST(
      contains(error_of([&] { s.register_parameter("a.b", ones({1})); }), "must not contain '.'"));
  BOOST_TEST(contains(error_of([&] { s.register_parameter("", ones({1})); }), "empty"));
  BOOST_TEST(contains(error_of([&] { s.register_parameter("i", zeros({2}, kInt64)); }),
                      "only floating-point parameters can require grad"));
  BOOST_TEST(
      contains(error_of([&] { s.register_buffer("count", ones({1})); }), "already registered"));
  BOOST_TEST(contains(error_of([&] { s.register_module("self", s); }), "cannot contain itself"));
  // A movable layer may not point at members.
  nn::Linear other(2, 2);
  struct Probe : nn::Linear {
    using nn::Linear::Linear;
  };
  Probe p(1, 1);
  BOOST_TEST(contains(error_of([&] { p.register_module("x", other); }), "OwningModule"));
  // A parameter computed by an op is detached into a leaf.
  auto src = ones({2}).requires_grad_();
  auto made = s.register_parameter("made", src * 2.0);
  BOOST_TEST(made.is_leaf());
  BOOST_TEST(made.requires_grad());
  BOOST_TEST(made.at({1}) == 2.0);
}

BOOST_AUTO_TEST_CASE(train_and_eval_propagate_to_every_descendant) {
  Net net;
  BOOST_TEST(net.is_training());
  net.eval();
  for (auto* m : net.modules()) BOOST_TEST(!m->is_training());
  net.train();
  for (auto* m : net.modules()) BOOST_TEST(m->is_training());
  net.fc2.eval();  // one child only
  BOOST_TEST(!net.fc2.is_training());
  BOOST_TEST(net.fc1.is_training());
  // Dropout obeys the mode: identity in eval.
  net.eval();
  auto x = ones({2, 8});
  BOOST_TEST(equal(net.drop(x), x));
}

BOOST_AUTO_TEST_CASE(zero_grad_drops_or_zeroes_gradients) {
  Net net;
  auto loss = net.forward(randn({5, 4})).sum();
  loss.backward();
  for (const auto& p : net.parameters()) BOOST_TEST(p.grad().defined());
  net.zero_grad(/*set_to_none=*/false);
  for (const auto& p : net.parameters()) {
    BOOST_TEST(p.grad().defined());
    BOOST_TEST(sum(abs(p.grad())).item() == 0.0);
  }
  net.zero_grad();
  for (const auto& p : net.parameters()) BOOST_TEST(!p.grad().defined());
}

BOOST_AUTO_TEST_CASE(apply_visits_children_before_parents) {
  Net net;
  std::vector<std::string> order;
  net.apply([&](nn::Module& m) { order.push_back(m.name()); });
  const std::vector<std::string> want = {"Linear", "Linear", "Dropout", "Scale", "Net"};
  BOOST_TEST(order == want, boost::test_tools::per_element());
  // A typical use: re-initialize every Linear.
  net.apply([](nn::Module& m) {
    if (auto* lin = dynamic_cast<nn::Linear*>(&m)) nn::init::zeros_(lin->weight);
  });
  BOOST_TEST(sum(abs(net.fc1.weight)).item() == 0.0);
  BOOST_TEST(sum(abs(net.fc2.weight)).item() == 0.0);
}

BOOST_AUTO_TEST_CASE(to_dtype_converts_in_place_keeping_handles) {
  Net net;
  Tensor w = net.fc1.weight;  // a handle an optimizer would hold
  const auto before = w.to_vector<float>();
  net.to(kFloat64);
  BOOST_TEST(w.dtype() == kFloat64);
  BOOST_TEST(net.fc1.weight.dtype() == kFloat64);
  BOOST_TEST(w.requires_grad());
  BOOST_TEST(net.scale.count.dtype() == kInt64);  // integer buffers stay
  const auto after = w.to_vector<double>();
  for (std::size_t i = 0; i < before.size(); ++i) BOOST_TEST(after[i] == double(before[i]));
  auto y = net.forward(randn({2, 4}, kFloat64));
  BOOST_TEST(y.dtype() == kFloat64);
  y.sum().backward();
  BOOST_TEST(w.grad().dtype() == kFloat64);
  BOOST_TEST(contains(error_of([&] { net.to(kInt64); }), "float32 or float64"));
}

BOOST_AUTO_TEST_CASE(state_dict_round_trip_restores_outputs_exactly) {
  manual_seed(1);
  Net a;
  manual_seed(2);
  Net b;
  a.eval();
  b.eval();
  auto x = randn({3, 4});
  BOOST_TEST(!equal(a.forward(x), b.forward(x)));
  auto sd = a.state_dict();
  // Params plus persistent buffers; the non-persistent scratch buffer is left out.
  BOOST_TEST(sd.size() == 6u);
  BOOST_TEST(sd.count("scale.count") == 1u);
  BOOST_TEST(sd.count("scale.scratch") == 0u);
  BOOST_TEST(!sd.at("fc1.weight").requires_grad());
  auto result = b.load_state_dict(sd);
  BOOST_TEST(result.missing_keys.empty());
  BOOST_TEST(equal(a.forward(x), b.forward(x)));
  // Loading copies values: b's tensors stay its own.
  BOOST_TEST(!b.fc1.weight.is_same(a.fc1.weight));
  BOOST_TEST(b.fc1.weight.requires_grad());
}

BOOST_AUTO_TEST_CASE(strict_load_lists_missing_unexpected_and_mismatched_keys) {
  Net net;
  auto sd = net.state_dict();
  const auto w_before = net.fc2.weight.clone();
  sd.erase("fc1.bias");
  sd.erase("scale.w");
  sd["fc9.weight"] = zeros({1});
  sd["fc2.weight"] = zeros({3, 7});         // wrong shape
  sd["scale.count"] = zeros({}, kFloat32);  // float into an int64 buffer
  const auto msg = error_of([&] { net.load_state_dict(sd); });
  BOOST_TEST(contains(msg, "missing keys: fc1.bias, scale.w"));
  BOOST_TEST(contains(msg, "unexpected keys: fc9.weight"));
  BOOST_TEST(contains(msg, "fc2.weight: expected shape [3, 8], got [3, 7]"));
  BOOST_TEST(contains(msg, "scale.count: expected dtype int64, got float32"));
  BOOST_TEST(contains(msg, "into Net"));
  // Nothing changed.
  BOOST_TEST(equal(net.fc2.weight, w_before));

  // Non-strict: missing/unexpected are reported, shape errors still refused.
  auto ok = net.state_dict();
  ok.erase("fc1.bias");
  ok["extra"] = zeros({1});
  auto r = net.load_state_dict(ok, /*strict=*/false);
  BOOST_TEST(r.missing_keys == std::vector<std::string>{"fc1.bias"});
  BOOST_TEST(r.unexpected_keys == std::vector<std::string>{"extra"});
  ok["fc2.weight"] = zeros({1});
  BOOST_TEST(contains(error_of([&] { net.load_state_dict(ok, false); }), "fc2.weight"));
  // Float dtypes convert.
  auto f64 = net.state_dict();
  f64["fc1.weight"] = full({8, 4}, 0.5, kFloat64);
  net.load_state_dict(f64);
  BOOST_TEST(net.fc1.weight.dtype() == kFloat32);
  BOOST_TEST(net.fc1.weight.at({3, 2}) == 0.5);
}

BOOST_AUTO_TEST_CASE(printing_shows_the_tree_with_parameter_counts) {
  Net net;
  std::ostringstream os;
  os << net;
  const std::string want =
      "Net(\n"
      "  (fc1): Linear(in_features=4, out_features=8, bias=true)  [40 params]\n"
      "  (fc2): Linear(in_features=8, out_features=3, bias=true)  [27 params]\n"
      "  (drop): Dropout(p=0.25)\n"
      "  (scale): Scale()  [3 params]\n"
      ")  [70 params]";
  BOOST_TEST(os.str() == want);
  nn::Sequential seq{nn::Linear(1000, 1000), nn::ReLU()};
  std::ostringstream s2;
  s2 << seq;
  BOOST_TEST(contains(s2.str(),
                      "(0): Linear(in_features=1000, out_features=1000, bias=true)  "
                      "[1,001,000 params]"));
  BOOST_TEST(contains(s2.str(), "(1): ReLU()\n"));
}

BOOST_AUTO_TEST_CASE(a_module_without_forward_says_so) {
  struct Bare : nn::Module {
  } bare;
  BOOST_TEST(contains(error_of([&] { bare(ones({1})); }), "forward(const Tensor&) is not"));
}

// ---- init ----

namespace {
double mean_of(const Tensor& t) { return t.to(kFloat64).mean().item(); }
double var_of(const Tensor& t) {
  const double m = mean_of(t);
  return ((t.to(kFloat64) - m) * (t.to(kFloat64) - m)).mean().item();
}
double max_abs(const Tensor& t) { return max(abs(t)).item(); }
}  // namespace

BOOST_AUTO_TEST_CASE(calculate_gain_matches_pytorch) {
  using nn::init::Nonlinearity;
  BOOST_TEST(nn::init::calculate_gain(Nonlinearity::Linear) == 1.0);
  BOOST_TEST(nn::init::calculate_gain(Nonlinearity::Sigmoid) == 1.0);
  BOOST_TEST(nn::init::calculate_gain(Nonlinearity::Tanh) == 5.0 / 3.0);
  BOOST_TEST(nn::init::calculate_gain(Nonlinearity::ReLU) == std::sqrt(2.0));
  BOOST_TEST(nn::init::calculate_gain(Nonlinearity::LeakyReLU) ==
             std::sqrt(2.0 / (1.0 + 0.01 * 0.01)));
  BOOST_TEST(nn::init::calculate_gain(Nonlinearity::LeakyReLU, 0.2) == std::sqrt(2.0 / 1.04));
  BOOST_TEST(nn::init::calculate_gain(Nonlinearity::SELU) == 0.75);
  // A negative slope is a value, not "use the default" (PyTorch: calculate_gain('leaky_relu',
  // -0.2) = 1.3867504905630728, 0 -> sqrt(2), -1 -> 1.0).
  BOOST_TEST(nn::init::calculate_gain(Nonlinearity::LeakyReLU, -0.2) == 1.3867504905630728,
             boost::test_tools::tolerance(1e-15));
  BOOST_TEST(nn::init::calculate_gain(Nonlinearity::LeakyReLU, 0.0) == std::sqrt(2.0));
  BOOST_TEST(nn::init::calculate_gain(Nonlinearity::LeakyReLU, -1.0) == 1.0);
  auto [fi, fo] = nn::init::calculate_fan_in_and_fan_out(zeros({6, 4, 3, 3}));
  BOOST_TEST(fi == 36);
  BOOST_TEST(fo == 54);
  BOOST_TEST(contains(error_of([] { nn::init::calculate_fan_in_and_fan_out(zeros({5})); }),
                      "at least 2 dims"));
}

BOOST_AUTO_TEST_CASE(init_distributions_have_the_documented_bounds_and_variances) {
  manual_seed(7);
  const std::int64_t out = 400, in = 300;
  auto w = zeros({out, in});
  const double n = double(out * in);
  nn::init::xavier_uniform_(w);
  const double a = std::sqrt(6.0 / (in + out));
  BOOST_TEST(max_abs(w) <= a);
  BOOST_TEST(max_abs(w) > 0.99 * a);
  BOOST_TEST(std::abs(var_of(w) - a * a / 3.0) < 0.03 * a * a / 3.0);

  nn::init::xavier_normal_(w, 2.0);
  const double sx = 2.0 * std::sqrt(2.0 / (in + out));
  BOOST_TEST(std::abs(var_of(w) - sx * sx) < 0.03 * sx * sx);
  BOOST_TEST(std::abs(mean_of(w)) < 4 * sx / std::sqrt(n));

  nn::init::kaiming_uniform_(w, {.nonlinearity = nn::init::Nonlinearity::ReLU});
  const double bound = std::sqrt(3.0) * std::sqrt(2.0) / std::sqrt(double(in));
  BOOST_TEST(max_abs(w) <= bound);
  BOOST_TEST(max_abs(w) > 0.99 * bound);

  nn::init::kaiming_normal_(
      w, {.mode = nn::init::FanMode::FanOut, .nonlinearity = nn::init::Nonlinearity::ReLU});
  const double sk = std::sqrt(2.0 / out);
  BOOST_TEST(std::abs(var_of(w) - sk * sk) < 0.03 * sk * sk);

  nn::init::uniform_(w, 2.0, 3.0);
  BOOST_TEST(min(w).item() >= 2.0);
  BOOST_TEST(max(w).item() < 3.0);
  BOOST_TEST(std::abs(mean_of(w) - 2.5) < 0.01);
  nn::init::normal_(w, -1.0, 0.5);
  BOOST_TEST(std::abs(mean_of(w) + 1.0) < 0.01);
  BOOST_TEST(std::abs(var_of(w) - 0.25) < 0.01);
  nn::init::constant_(w, 0.25);
  BOOST_TEST(min(w).item() == 0.25);
  BOOST_TEST(max(w).item() == 0.25);
  nn::init::ones_(w);
  BOOST_TEST(mean_of(w) == 1.0);
  nn::init::zeros_(w);
  BOOST_TEST(max_abs(w) == 0.0);
}

BOOST_AUTO_TEST_CASE(init_works_on_parameters_views_and_repeats_after_seeding) {
  auto p = zeros({4, 5}).requires_grad_();
  manual_seed(3);
  nn::init::normal_(p);
  BOOST_TEST(p.is_leaf());
  BOOST_TEST(!p.grad_fn());
  manual_seed(3);
  auto q = zeros({4, 5});
  nn::init::normal_(q);
  BOOST_TEST(equal(p.detach(), q));
  // In place through a transposed view: the base sees it.
  auto base = zeros({3, 2}, kFloat64);
  nn::init::constant_(base.t(), 4.0);
  BOOST_TEST(base.sum().item() == 24.0);
  nn::init::uniform_(base.t(), -1.0, 1.0);
  BOOST_TEST(max_abs(base) <= 1.0);
  BOOST_TEST(contains(error_of([] { nn::init::normal_(zeros({2}, kInt64)); }), "floating-point"));
  BOOST_TEST(contains(error_of([] { nn::init::kaiming_uniform_(zeros({3, 0})); }), "zero fan"));
}

// Issue 12 item 3: a submodule the parent forgot to register is a clear error at its first
// call, not a layer that silently never trains and is never saved.
namespace {
struct ForgotFc2 : nn::Module {
  nn::Linear fc1{4, 8}, fc2{8, 3};
  ForgotFc2() { register_module("fc1", fc1); }  // fc2 is not registered
  Tensor forward(const Tensor& x) override { return fc2(relu(fc1(x))); }
};

// Registered one level down (in a Sequential) and a module made inside forward: both fine.
struct Nested : nn::Module {
  std::shared_ptr<nn::Sequential> body =
      register_module("body", std::make_shared<nn::Sequential>(nn::Linear(4, 8), nn::ReLU()));
  nn::Linear head{8, 2};
  Nested() { register_module("head", head); }
  Tensor forward(const Tensor& x) override {
    nn::Tanh local;  // a local of this forward: not state, needs no registration
    return head(local((*body)(x)));
  }
};

// Ties a layer registered at the top into a child's forward (weight sharing).
struct UsesSibling : nn::Module {
  nn::Linear* shared = nullptr;
  Tensor forward(const Tensor& x) override { return (*shared)(x); }
};
struct Tied : nn::Module {
  nn::Linear lin{4, 4};
  UsesSibling child;
  Tied() {
    child.shared = &lin;
    register_modules({{"lin", lin}, {"child", child}});
  }
  Tensor forward(const Tensor& x) override { return child(x); }
};
}  // namespace

BOOST_AUTO_TEST_CASE(an_unregistered_submodule_called_in_forward_is_a_clear_error) {
  ForgotFc2 net;
  const std::string e = error_of([&] { net(ones({2, 4})); });
  BOOST_TEST(contains(e, "ForgotFc2: its forward called a Linear that is not registered under it"));
  BOOST_TEST(contains(e, "left out of parameters(), the optimizer, state_dict()"));
  BOOST_TEST(contains(e, "register_module(\"name\", member)"));
  // The training loop of the issue fails at its first step instead of never updating fc2.
  optim::SGD opt(net.parameters(), {.lr = 0.1});
  BOOST_TEST(net.parameters().size() == 2u);  // fc1 only: why the error is needed
  bool trained = false;
  BOOST_CHECK_THROW(
      {
        auto loss = net(ones({2, 4})).sum();
        opt.zero_grad();
        loss.backward();
        opt.step();
        trained = true;
      },
      tg::Error);
  BOOST_TEST(!trained);
  // An error inside forward leaves no stale call frame behind: a correct model still runs.
  Net ok;
  BOOST_TEST(ok(ones({2, 4})).shape() == Shape({2, 3}));
  // Registering fc2 fixes it.
  net.register_module("fc2", net.fc2);
  BOOST_TEST(net(ones({2, 4})).shape() == Shape({2, 3}));
  BOOST_TEST(net.parameters().size() == 4u);
}

BOOST_AUTO_TEST_CASE(registered_descendants_locals_and_tied_layers_need_nothing_more) {
  Nested nested;
  BOOST_TEST(nested(ones({2, 4})).shape() == Shape({2, 2}));
  nn::Sequential seq{nn::Linear(4, 3), nn::ReLU(), nn::Linear(3, 1)};
  BOOST_TEST(seq(ones({5, 4})).shape() == Shape({5, 1}));
  Tied tied;
  BOOST_TEST(tied(ones({1, 4})).shape() == Shape({1, 4}));
  // A standalone module called outside any other module's call is not checked.
  nn::Linear alone{4, 2};
  BOOST_TEST(alone(ones({1, 4})).shape() == Shape({1, 2}));
}
