// The spellings a PyTorch user types: Tensor methods (x.abs(), x.argmax(1), x.max(),
// x.sum(1), (a == b).all(), .item<float>()), both names of the ops PyTorch offers as torch.X and
// torch.nn.functional.X, and grad_fn names. Expected values are PyTorch 1.13's.
#define BOOST_TEST_MODULE tensor_api
#include <boost/test/unit_test.hpp>

#include <tapegrad/tapegrad.h>
#include <cmath>
#include <sstream>
#include <vector>
#include "error_text.h"

using namespace tg;
using namespace tg::test;

namespace {
namespace F = tg::nn::functional;

// x = [[1.5, -2, 3], [-0.5, 4, -6]] (float32), the input of every PyTorch number below.
Tensor x23() { return tensor({{1.5f, -2.0f, 3.0f}, {-0.5f, 4.0f, -6.0f}}); }

void check(const Tensor& got, const std::vector<double>& want, const Shape& shape,
           double tol = 1e-6) {
  BOOST_TEST(got.shape() == shape, "shape " << shape_str(got.shape()));
  const auto v = got.to_vector<double>();
  BOOST_TEST_REQUIRE(v.size() == want.size());
  for (std::size_t i = 0; i < v.size(); ++i)
    BOOST_TEST(std::abs(v[i] - want[i]) <= tol * (1 + std::abs(want[i])),
               "element " << i << ": got " << v[i] << ", want " << want[i]);
}
}  // namespace

BOOST_AUTO_TEST_CASE(the_issue_spellings) {
  const Tensor x = x23();
  check(x.abs(), {1.5, 2, 3, 0.5, 4, 6}, {2, 3});
  check(x.argmax(1), {2, 1}, {2});
  BOOST_TEST(x.argmax(1).dtype() == kInt64);
  BOOST_TEST(x.argmax().item<std::int64_t>() == 4);
  check(x.argmin(0, true), {1, 0, 1}, {1, 3});
  BOOST_TEST(x.max().item<float>() == 4.0f);
  BOOST_TEST(x.min().item<float>() == -6.0f);
  check(x.sum(1), {2.5, -2.5}, {2});
  check(x.sum(0, true), {1, 2, -3}, {1, 3});
  check(x.sum({0, 1}), {0}, {});
  check(x.t().sum({}), {0}, {});  // a braced empty list still means every dim
  check(x.mean(1), {0.8333333134651184, -0.8333333134651184}, {2});

  const Tensor a = tensor({1.0f, 2.0f, 3.0f}), b = tensor({1.0f, 5.0f, 3.0f});
  BOOST_TEST((a == b).all().item<float>() == 0.0f);
  BOOST_TEST((a == a).all().item<float>() == 1.0f);
  BOOST_TEST((a == b).any().item<int>() == 1);
  BOOST_TEST((a == b).all().dtype() == (a == b).dtype());  // all/any return a comparison's dtype
  BOOST_TEST(!(a == b).all().item<bool>());

  // The README's example, as PyTorch prints it.
  std::ostringstream os;
  os << x.abs().sum(1) << ' ' << x.argmax(1);
  BOOST_TEST(os.str() == "tensor([ 6.5000, 10.5000]) tensor([2, 1])");
}

BOOST_AUTO_TEST_CASE(max_min_along_a_dim_return_values_and_indices) {
  const Tensor x = x23();
  auto [values, indices] = x.max(1);
  check(values, {3, 4}, {2});
  check(indices, {2, 1}, {2});
  BOOST_TEST(indices.dtype() == kInt64);
  const auto m = x.min(0, true);
  check(m.values, {-0.5, -2, -6}, {1, 3});
  check(m.indices, {1, 0, 1}, {1, 3});
  check(x.max(zeros({1})), {1.5, 0, 3, 0, 4, 0}, {2, 3});  // x.max(other) is maximum
}

BOOST_AUTO_TEST_CASE(reductions_with_a_dim) {
  const Tensor x = x23();
  check(x.prod(1), {-9, 12}, {2});
  check(x.prod(), {-108}, {});
  check(x.amax(1), {3, 4}, {2});
  check(x.amin(0), {-0.5, -2, -6}, {3});
  check(x.std(1), {2.565800666809082, 5.008326530456543}, {2});
  check(x.std(1, false), {2.0949676036834717, 4.0892815589904785}, {2});  // unbiased=False
  check(x.var(0), {2, 18, 40.5}, {3});
  check(x.logsumexp(1), {3.206907033920288, 4.011092662811279}, {2});
  check(x.norm(), {8.215838432312012}, {});
  check(x.norm(1, 1), {6.5, 10.5}, {2});
  check(x.cumsum(1), {1.5, -0.5, 2.5, -0.5, 3.5, -2.5}, {2, 3});
}

BOOST_AUTO_TEST_CASE(all_and_any) {
  const Tensor x = x23();
  check((x > -1).all(1), {0, 0}, {2});
  check((x > 3).any(0), {0, 1, 0}, {3});
  check((x > 3).any(0, true), {0, 1, 0}, {1, 3});
  BOOST_TEST(zeros({0}).all().item<int>() == 1);  // PyTorch: empty all is True, any False
  BOOST_TEST(zeros({0}).any().item<int>() == 0);
  BOOST_TEST(tensor({NAN}).all().item<int>() == 1);  // NaN is non-zero
  BOOST_TEST(!(x23() > 0).requires_grad());
  const std::string msg = error_of([&] { x.all(2); });
  BOOST_TEST((contains(msg, "all") && contains(msg, "out of range")), msg);
}

BOOST_AUTO_TEST_CASE(unary_and_binary_methods) {
  const Tensor x = x23();
  const Tensor a = tensor({1.0f, 2.0f, 3.0f}), b = tensor({1.0f, 5.0f, 3.0f});
  check(x.clamp(-1, 2), {1.5, -1, 2, -0.5, 2, -1}, {2, 3});
  check(x.clamp(std::nullopt, 0), {0, -2, 0, -0.5, 0, -6}, {2, 3});
  check(x.clamp_min(0), {1.5, 0, 3, 0, 4, 0}, {2, 3});
  check(x.clamp_max(0), {0, -2, 0, -0.5, 0, -6}, {2, 3});
  check(a.pow(2), {1, 4, 9}, {3});
  check(a.pow(b), {1, 32, 27}, {3});
  check(a.rsqrt(), {1, 0.7071067690849304, 0.5773502588272095}, {3});
  check(x.sign(), {1, -1, 1, -1, 1, -1}, {2, 3});
  check(tensor({0.5f, 1.5f, -2.5f}).round(), {0, 2, -2}, {3});
  check(a.add(b, 2), {3, 12, 9}, {3});
  check(a.sub(1), {0, 1, 2}, {3});
  check(a.mul(b).div(2), {0.5, 5, 4.5}, {3});
  check(a.neg().exp().log(), {-1, -2, -3}, {3});
  check(a.square().sqrt(), {1, 2, 3}, {3});
  check(a.eq(b), {1, 0, 1}, {3});
  check(a.lt(b), {0, 1, 0}, {3});
  check(a.ge(2), {0, 1, 1}, {3});
  check(a.gt(b).logical_or(a.eq(1)), {1, 0, 0}, {3});
  check(a.ne(b).logical_not(), {1, 0, 1}, {3});
  check(x.matmul(x.t()), {15.25, -26.75, -26.75, 52.25}, {2, 2});
  check(x.mm(x.t()), {15.25, -26.75, -26.75, 52.25}, {2, 2});
  check(a.dot(b), {20}, {});
}

BOOST_AUTO_TEST_CASE(softmax_and_indexing_methods) {
  const Tensor x = x23();
  check(x.softmax(1),
        {0.18142607808113098, 0.0054785930551588535, 0.8130952715873718, 0.010986448265612125,
         0.9889686107635498, 4.4899104977957904e-05},
        {2, 3});
  check(x.log_softmax(1),
        {-1.706907033920288, -5.206906795501709, -0.2069069892168045, -4.511092662811279,
         -0.011092661879956722, -10.011092185974121},
        {2, 3});
  check(x.where(x > 0, zeros({1})), {1.5, 0, 3, 0, 4, 0}, {2, 3});
  check(x.where(x > 0, 0.0), {1.5, 0, 3, 0, 4, 0}, {2, 3});
  check(x.masked_fill(x < 0, 0), {1.5, 0, 3, 0, 4, 0}, {2, 3});
  check(x.index_select(1, tensor({2.0, 0.0}, kInt64)), {3, 1.5, -6, -0.5}, {2, 2});
  check(x.gather(1, tensor({2.0, 1.0}, kInt64).view({2, 1})), {3, 4}, {2, 1});
  const auto chunks = arange(0.0, 5.0, 1.0, kFloat32).chunk(2);
  BOOST_TEST_REQUIRE(chunks.size() == 2u);
  check(chunks[1], {3, 4}, {2});
  const auto pieces = arange(0.0, 5.0, 1.0, kFloat32).split(2);
  BOOST_TEST_REQUIRE(pieces.size() == 3u);
  check(pieces[2], {4}, {1});
  check(tensor({1.0f, 2.0f}).expand_as(zeros({2, 2})), {1, 2, 1, 2}, {2, 2});
  check(x.view_as(zeros({3, 2})), {1.5, -2, 3, -0.5, 4, -6}, {3, 2});
  check(tensor({1.0f, 2.0f}).repeat({2}), {1, 2, 1, 2}, {4});
}

BOOST_AUTO_TEST_CASE(methods_are_the_ops_themselves) {
  // A method records the same node as its free function and differentiates the same way.
  const Tensor x = x23().requires_grad_();
  const Tensor y = x.abs().sum(1).max();
  y.backward();
  check(x.grad(), {0, 0, 0, -1, 1, -1}, {2, 3});
  BOOST_TEST(x.abs().grad_fn_name() == tg::abs(x).grad_fn_name());
}

BOOST_AUTO_TEST_CASE(grad_fn_names_are_pytorchs) {
  const Tensor x = ones({2, 3}).requires_grad_();
  BOOST_TEST(x.grad_fn_name().empty());  // a leaf has no grad_fn
  BOOST_TEST(ones({2}).grad_fn_name().empty());
  BOOST_TEST((x * x).grad_fn_name() == "MulBackward0");
  BOOST_TEST((x * 2.0).grad_fn_name() == "MulBackward0");
  BOOST_TEST((x + 1.0).grad_fn_name() == "AddBackward0");
  BOOST_TEST((1.0 - x).grad_fn_name() == "RsubBackward1");
  BOOST_TEST(x.sum().grad_fn_name() == "SumBackward0");
  BOOST_TEST(x.log_softmax(1).grad_fn_name() == "LogSoftmaxBackward0");
  BOOST_TEST(x.log1p().grad_fn_name() == "Log1PBackward0");
  BOOST_TEST(x.index_select(0, tensor({0.0}, kInt64)).grad_fn_name() == "IndexSelectBackward0");
  BOOST_TEST(x.pow(x).grad_fn_name() == "PowBackward1");
  BOOST_TEST(x.max(1).values.grad_fn_name() == "MaxBackward0");
  BOOST_TEST(x.amax(1).grad_fn_name() == "AmaxBackward0");
  BOOST_TEST(x.view({6}).grad_fn_name() == "ViewBackward0");
  BOOST_TEST(x.permute({1, 0}).grad_fn_name() == "PermuteBackward0");
}

BOOST_AUTO_TEST_CASE(torch_and_functional_spellings_are_one_function) {
  const Tensor x = x23();
  // torch.softmax / F.softmax, torch.relu / F.relu, ...: the same function under two names.
  BOOST_TEST(equal(tg::softmax(x, 1), F::softmax(x, 1)));
  BOOST_TEST(equal(tg::log_softmax(x, 0), F::log_softmax(x, 0)));
  BOOST_TEST(equal(tg::relu(x), F::relu(x)));
  BOOST_TEST(equal(tg::sigmoid(x), F::sigmoid(x)));
  BOOST_TEST(equal(tg::tanh(x), F::tanh(x)));
  BOOST_TEST(equal(tg::gelu(x), F::gelu(x)));
  BOOST_TEST(equal(tg::elu(x), F::elu(x)));
  BOOST_TEST(equal(tg::silu(x), F::silu(x)));
  BOOST_TEST(equal(tg::leaky_relu(x, 0.2), F::leaky_relu(x, 0.2)));
  BOOST_TEST(equal(tg::relu6(x), F::relu6(x)));
  BOOST_TEST(equal(tg::hardtanh(x), F::hardtanh(x)));
  BOOST_TEST(equal(tg::softplus(x), F::softplus(x)));
  BOOST_TEST(equal(tg::pad(x, {1, 1}), F::pad(x, {1, 1})));
  const Tensor idx = tensor({0.0, 2.0}, kInt64);
  BOOST_TEST(equal(tg::one_hot(idx, 3), F::one_hot(idx, 3)));
  BOOST_TEST(equal(tg::dropout(x, 0.5, false), F::dropout(x, 0.5, false)));
  const Tensor t = tensor({{1.0f, 0.0f, 1.0f}, {0.0f, 1.0f, 0.0f}});
  BOOST_TEST(
      equal(tg::binary_cross_entropy_with_logits(x, t), F::binary_cross_entropy_with_logits(x, t)));
  BOOST_TEST(
      equal(tg::batch_norm(x, {}, {}, {}, {}, true), F::batch_norm(x, {}, {}, {}, {}, true)));
  // Same address: one definition, two names.
  BOOST_TEST((&tg::gelu == &F::gelu));
  Tensor (*sm)(const Tensor&, std::int64_t) = &tg::softmax;
  Tensor (*fsm)(const Tensor&, std::int64_t) = &F::softmax;
  BOOST_TEST((sm == fsm));
  check(F::gelu(x),
        {1.3997890949249268, -0.045500099658966064, 2.995950222015381, -0.1542687863111496,
         3.999873161315918, 0.0},
        {2, 3});
  // With both namespaces in scope an unqualified call is not ambiguous.
  using namespace tg::nn::functional;
  BOOST_TEST(equal(relu(x), tg::relu(x)));
  BOOST_TEST(equal(softmax(x, 1), tg::softmax(x, 1)));
}
