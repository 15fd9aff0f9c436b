// Joining, splitting and indexing ops: values against hand-worked cases, views versus copies,
// gradients (repeated indices accumulate, cropped padding gets zeros), no gradient for one_hot,
// and errors that name the op, the index and the size.
#define BOOST_TEST_MODULE ops_indexing
#include <boost/test/unit_test.hpp>

#include <tapegrad/tapegrad.h>
#include "error_text.h"

using namespace tg;
using namespace tg::test;

namespace {
Tensor f64(std::initializer_list<double> v, const Shape& shape = {}) {
  Tensor t = tensor(v, kFloat64);
  return shape.empty() ? t : t.reshape(shape);
}
Tensor leaf(std::initializer_list<double> v, const Shape& shape = {}) {
  return f64(v, shape).detach().requires_grad_();
}
Tensor ids(std::vector<std::int64_t> v, const Shape& shape = {}) { return from_vector(v, shape); }
std::vector<double> vec(const Tensor& t) { return t.to_vector<double>(); }
using V = std::vector<double>;
}  // namespace

BOOST_AUTO_TEST_CASE(cat_and_stack) {
  const Tensor a = leaf({1, 2, 3, 4}, {2, 2}), b = leaf({5, 6}, {1, 2});
  const Tensor c = cat({a, b});
  BOOST_TEST(c.shape() == Shape({3, 2}));
  BOOST_TEST(vec(c) == V({1, 2, 3, 4, 5, 6}));
  BOOST_TEST(vec(cat({a, a.t()}, 1)) == V({1, 2, 1, 3, 3, 4, 2, 4}));
  BOOST_TEST(cat({a, zeros({0, 2}, kFloat64)}).shape() == Shape({2, 2}));
  (c * f64({1, 2, 3, 4, 5, 6}, {3, 2})).sum().backward();
  BOOST_TEST(vec(a.grad()) == V({1, 2, 3, 4}));
  BOOST_TEST(vec(b.grad()) == V({5, 6}));
  BOOST_TEST(vec(cat({ids({1, 2}), ids({3})})) == V({1, 2, 3}));  // integer tensors too

  const Tensor s = stack({f64({1, 2}), f64({3, 4}), f64({5, 6})}, 1);
  BOOST_TEST(s.shape() == Shape({2, 3}));
  BOOST_TEST(vec(s) == V({1, 3, 5, 2, 4, 6}));

  std::string e = error_of([&] { cat({a, zeros({2, 3}, kFloat64)}); });
  BOOST_TEST((contains(e, "cat") && contains(e, "[2, 3]") && contains(e, "[2, 2]")));
  // Mixed dtypes promote as in torch.cat (float64 with float32 -> float64).
  BOOST_TEST(cat({a, zeros({1, 2})}).dtype() == kFloat64);
  BOOST_TEST(contains(error_of([] { cat({}); }), "cat"));
  e = error_of([&] { stack({a, b}); });
  BOOST_TEST((contains(e, "stack") && contains(e, "[1, 2]")));
}

BOOST_AUTO_TEST_CASE(split_and_chunk_are_views_with_pytorch_sizes) {
  const Tensor x = arange(0.0, 10.0, 1.0, kFloat64).reshape({2, 5});
  const auto parts = split(x, 2, 1);
  BOOST_TEST(parts.size() == 3u);
  BOOST_TEST(parts[2].shape() == Shape({2, 1}));
  BOOST_TEST(vec(parts[1]) == V({2, 3, 7, 8}));
  BOOST_TEST(parts[1].raw_data() == static_cast<double*>(x.raw_data()) + 2);  // a view
  // torch.chunk: ceil(n / chunks) each, possibly fewer chunks.
  BOOST_TEST(chunk(arange(6.0), 4).size() == 3u);
  BOOST_TEST(chunk(arange(5.0), 2)[1].numel() == 2);
  BOOST_TEST(chunk(zeros({0, 3}), 3).size() == 3u);
  const auto sized = split_with_sizes(x, {1, 4}, -1);
  BOOST_TEST(vec(sized[1]) == V({1, 2, 3, 4, 6, 7, 8, 9}));
  BOOST_TEST(contains(error_of([&] { split_with_sizes(x, {1, 2}, 1); }), "add up to 3"));
  BOOST_TEST(contains(error_of([&] { split(x, 0, 1); }), "split_size"));
  BOOST_TEST(contains(error_of([&] { chunk(x, 0); }), "chunk"));
}

BOOST_AUTO_TEST_CASE(index_select_values_gradient_and_errors) {
  const Tensor x = leaf({1, 2, 3, 4, 5, 6}, {3, 2});
  const Tensor y = index_select(x, 0, ids({2, 0, 2}));
  BOOST_TEST(vec(y) == V({5, 6, 1, 2, 5, 6}));
  BOOST_TEST(vec(index_select(x.detach(), 1, ids({1}))) == V({2, 4, 6}));
  y.sum().backward();
  BOOST_TEST(vec(x.grad()) == V({1, 1, 0, 0, 2, 2}));  // row 2 picked twice
  std::string e = error_of([&] { index_select(x, 0, ids({0, 5})); });
  BOOST_TEST((contains(e, "index_select") && contains(e, "5") && contains(e, "size 3")));
  e = error_of([&] { index_select(x, 1, ids({-1})); });
  BOOST_TEST((contains(e, "index_select") && contains(e, "-1")));
  BOOST_TEST(contains(error_of([&] { index_select(x, 0, f64({0})); }), "int64"));
  BOOST_TEST(contains(error_of([&] { index_select(x, 0, ids({0, 1}, {1, 2})); }), "1-D"));
}

// Above 256 KB the copy is cut over threads; each slice must still land in its place.
BOOST_AUTO_TEST_CASE(index_select_of_a_large_middle_dim_on_one_and_two_threads) {
  manual_seed(4);
  const Tensor x = rand({3, 500, 100});
  std::vector<std::int64_t> pick(300);
  for (std::size_t j = 0; j < pick.size(); ++j)
    pick[j] = static_cast<std::int64_t>((j * 7919) % 500);
  const auto xs = x.to_vector<float>();
  const int before = get_num_threads();
  for (int threads : {1, 2}) {
    set_num_threads(threads);
    const Tensor y = index_select(x, 1, from_vector(pick));
    BOOST_TEST(y.shape() == (Shape{3, 300, 100}));
    const auto ys = y.to_vector<float>();
    std::size_t wrong = 0;
    for (std::size_t o = 0; o < 3; ++o)
      for (std::size_t j = 0; j < pick.size(); ++j)
        for (std::size_t i = 0; i < 100; ++i)
          wrong += ys[(o * 300 + j) * 100 + i] !=
                   xs[(o * 500 + static_cast<std::size_t>(pick[j])) * 100 + i];
    BOOST_TEST(wrong == 0u);
  }
  set_num_threads(before);
}

BOOST_AUTO_TEST_CASE(gather_and_scatter_add) {
  const Tensor x = leaf({1, 2, 3, 4}, {2, 2});
  const Tensor g = gather(x, 1, ids({0, 0, 1, 0}, {2, 2}));
  BOOST_TEST(vec(g) == V({1, 1, 4, 3}));
  BOOST_TEST(vec(gather(x.detach(), 0, ids({1, 0}, {1, 2}))) == V({3, 2}));
  g.sum().backward();
  BOOST_TEST(vec(x.grad()) == V({2, 0, 1, 1}));

  const Tensor s = scatter_add(zeros({3}, kFloat64), 0, ids({0, 1, 0, 2}), f64({1, 2, 3, 4}));
  BOOST_TEST(vec(s) == V({4, 2, 4}));
  // 2-D, dim 1, index smaller than src: src column 2 is never read and gets a zero gradient.
  const Tensor self = leaf({0, 0, 0, 0}, {2, 2});
  const Tensor src = leaf({1, 2, 9, 3, 4, 9}, {2, 3});
  const Tensor out = scatter_add(self, 1, ids({1, 1, 0, 1}, {2, 2}), src);
  BOOST_TEST(vec(out) == V({0, 3, 3, 4}));
  (out * f64({1, 2, 3, 4}, {2, 2})).sum().backward();
  BOOST_TEST(vec(self.grad()) == V({1, 2, 3, 4}));
  BOOST_TEST(vec(src.grad()) == V({2, 2, 0, 3, 4, 0}));
  BOOST_TEST(vec(scatter_add(ids({1, 1}), 0, ids({1}), ids({5}))) == V({1, 6}));

  std::string e = error_of([&] { gather(x, 1, ids({0, 2}, {1, 2})); });
  BOOST_TEST((contains(e, "gather") && contains(e, "index 2") && contains(e, "size 2")));
  e = error_of([&] { gather(x, 0, ids({0, 1})); });
  BOOST_TEST((contains(e, "gather") && contains(e, "dims")));
  e = error_of([&] { scatter_add(zeros({3}), 0, ids({3}), ones({1})); });
  BOOST_TEST((contains(e, "scatter_add") && contains(e, "index 3") && contains(e, "size 3")));
  e = error_of([&] { scatter_add(zeros({3}), 0, ids({0, 1}), ones({1})); });
  BOOST_TEST((contains(e, "scatter_add") && contains(e, "larger than src")));
  BOOST_TEST(contains(error_of([&] { scatter_add(zeros({3}), 0, ids({0}), ones({1}, kFloat64)); }),
                      "dtype"));
}

BOOST_AUTO_TEST_CASE(masked_fill_values_and_gradient) {
  const Tensor x = leaf({1, 2, 3, 4, 5, 6}, {2, 3});
  const Tensor m = from_vector(std::vector<std::uint8_t>{1, 0, 1});
  const Tensor y = masked_fill(x, m, -1.0);
  BOOST_TEST(vec(y) == V({-1, 2, -1, -1, 5, -1}));
  y.sum().backward();
  BOOST_TEST(vec(x.grad()) == V({0, 1, 0, 0, 1, 0}));
  BOOST_TEST(vec(masked_fill(ids({1, 2, 3}), m, 7)) == V({7, 2, 7}));
  BOOST_TEST(contains(error_of([&] { masked_fill(x, ids({1, 0, 1}), 0.0); }), "uint8"));
  BOOST_TEST(contains(error_of([&] {
                        masked_fill(x, from_vector(std::vector<std::uint8_t>{1, 0}), 0.0);
                      }),
                      "masked_fill"));
}

BOOST_AUTO_TEST_CASE(one_hot_is_a_constant) {
  const Tensor h = one_hot(ids({0, 2, 1}));
  BOOST_TEST(h.shape() == Shape({3, 3}));
  BOOST_TEST(h.dtype() == kInt64);
  BOOST_TEST(vec(h) == V({1, 0, 0, 0, 0, 1, 0, 1, 0}));
  const Tensor f = one_hot(ids({1, 0}, {2, 1}), 4, kFloat32);
  BOOST_TEST(f.shape() == Shape({2, 1, 4}));
  BOOST_TEST(f.dtype() == kFloat32);
  BOOST_TEST(vec(f) == V({0, 1, 0, 0, 1, 0, 0, 0}));
  BOOST_TEST(!f.requires_grad());
  std::string e = error_of([] { one_hot(ids({0, 5}), 3); });
  BOOST_TEST((contains(e, "one_hot") && contains(e, "5") && contains(e, "3 classes")));
  BOOST_TEST(contains(error_of([] { one_hot(ids({-1})); }), "negative"));
  BOOST_TEST(contains(error_of([] { one_hot(f64({1})); }), "int64"));
}

BOOST_AUTO_TEST_CASE(repeat_and_tile_copy_and_sum_gradients) {
  const Tensor x = leaf({1, 2});
  const Tensor r = repeat(x, {2, 2});
  BOOST_TEST(r.shape() == Shape({2, 4}));
  BOOST_TEST(vec(r) == V({1, 2, 1, 2, 1, 2, 1, 2}));
  r.sum().backward();
  BOOST_TEST(vec(x.grad()) == V({4, 4}));
  const Tensor t = tile(f64({1, 2, 3, 4}, {2, 2}), {2});
  BOOST_TEST(vec(t) == V({1, 2, 1, 2, 3, 4, 3, 4}));
  // repeat always copies, even with all counts 1.
  const Tensor src = f64({1, 2});
  Tensor same = repeat(src, {1});
  same.set({0}, 9.0);
  BOOST_TEST(src.at({0}) == 1.0);
  BOOST_TEST(contains(error_of([&] { repeat(f64({1, 2, 3, 4}, {2, 2}), {2}); }), "repeat"));
  BOOST_TEST(contains(error_of([&] { tile(src, {-1}); }), "tile"));
}

BOOST_AUTO_TEST_CASE(pad_constant_and_crop) {
  const Tensor x = leaf({1, 2, 3});
  const Tensor p = pad(x, {1, 2});
  BOOST_TEST(vec(p) == V({0, 1, 2, 3, 0, 0}));
  (p * f64({1, 2, 3, 4, 5, 6})).sum().backward();
  BOOST_TEST(vec(x.grad()) == V({2, 3, 4}));
  BOOST_TEST(vec(pad(x.detach(), {-1, 1}, 7.0)) == V({2, 3, 7}));
  const Tensor m = pad(f64({1, 2, 3, 4}, {2, 2}), {0, 1, 1, 0}, -1.0);
  BOOST_TEST(m.shape() == Shape({3, 3}));
  BOOST_TEST(vec(m) == V({-1, -1, -1, 1, 2, -1, 3, 4, -1}));
  // Cropped-away inputs get a zero gradient.
  const Tensor y = leaf({1, 2, 3, 4});
  pad(y, {-2, 0}).sum().backward();
  BOOST_TEST(vec(y.grad()) == V({0, 0, 1, 1}));
  BOOST_TEST(contains(error_of([&] { pad(x, {1}); }), "even"));
  BOOST_TEST(contains(error_of([&] { pad(x, {1, 1, 1, 1}); }), "pad"));
  BOOST_TEST(contains(error_of([&] { pad(x, {-2, -2}); }), "negative size"));
}
