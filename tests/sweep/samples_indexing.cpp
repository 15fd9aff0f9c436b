// Samples for the joining, splitting and indexing ops. Index tensors and masks are constants.
#include "sweep/op_table.h"
#include "tapegrad/ops/elementwise.h"
#include "tapegrad/ops/indexing.h"
#include "tapegrad/ops/shape.h"

namespace tg::sweep {
// One sample per line, like samples_core.cpp: the table reads better unwrapped.
// clang-format off
namespace {
Tensor ids(std::vector<std::int64_t> v, Shape shape = {}) { return from_vector(v, shape); }
Tensor mask(std::vector<std::uint8_t> v, Shape shape = {}) { return from_vector(v, shape); }
// Joins the pieces of a split, each scaled differently so that mixing them up would show.
Tensor rejoin(const std::vector<Tensor>& parts, std::int64_t dim) {
  std::vector<Tensor> scaled;
  for (std::size_t i = 0; i < parts.size(); ++i) scaled.push_back(parts[i] * double(i + 1));
  return cat(scaled, dim);
}
}  // namespace

TG_OP_SAMPLES(indexing_join_split) {
  return {
      {"cat", "dim 0, three inputs", [](const In& x) { return cat({x[0], x[1], x[2]}); }, [] { return In{rnd({2, 3}), rnd({1, 3}), rnd({4, 3})}; }},
      {"cat", "dim 1, non-contiguous and empty", [](const In& x) { return cat({x[0], x[1], x[2]}, -1); }, [] { return In{noncontig({3, 2}), rnd({3, 0}), rnd({3, 1})}; }},
      {"cat", "same input twice, 3-d", [](const In& x) { return cat({x[0], x[0] * 2.0}, 1); }, [] { return In{rnd({2, 2, 3})}; }},
      {"stack", "dim 0", [](const In& x) { return stack({x[0], x[1]}); }, [] { return In{rnd({2, 3}), noncontig({2, 3})}; }},
      {"stack", "last dim", [](const In& x) { return stack({x[0], x[1], x[0]}, -1); }, [] { return In{rnd({3}), rnd({3})}; }},
      {"split", "by size, uneven", [](const In& x) { return rejoin(split(x[0], 2, 1), 1); }, [] { return In{rnd({3, 5})}; }},
      {"split", "with sizes, zero-size piece", [](const In& x) { return rejoin(split_with_sizes(x[0], {1, 0, 3}, 0), 0); }, [] { return In{noncontig({4, 2})}; }},
      {"stack", "middle dim of 3-d", [](const In& x) { return stack({x[0], x[1]}, 1); }, [] { return In{rnd({2, 1, 3}), noncontig({2, 1, 3})}; }},
      {"chunk", "dim 0 non-contiguous, more chunks than rows", [](const In& x) { return rejoin(chunk(x[0], 5, 0), 0); }, [] { return In{noncontig({3, 2})}; }},
      {"chunk", "3 chunks of 7", [](const In& x) { return rejoin(chunk(x[0], 3, -1), -1); }, [] { return In{rnd({2, 7})}; }},
  };
}

TG_OP_SAMPLES(indexing_select_gather) {
  return {
      {"index_select", "dim 0, repeated indices", [](const In& x) { return index_select(x[0], 0, ids({2, 0, 2})); }, [] { return In{rnd({4, 3})}; }},
      {"index_select", "dim 1, non-contiguous", [](const In& x) { return index_select(x[0], 1, ids({3, 1})); }, [] { return In{noncontig({3, 4})}; }},
      {"index_select", "middle dim of 3-d", [](const In& x) { return index_select(x[0], 1, ids({1, 1, 0, 2})); }, [] { return In{rnd({2, 3, 2})}; }},
      {"index_select", "empty index", [](const In& x) { return index_select(x[0], 0, ids({}, {0})); }, [] { return In{rnd({3, 2})}; }},
      {"gather", "dim 1", [](const In& x) { return gather(x[0], 1, ids({0, 3, 3, 1, 2, 2}, {3, 2})); }, [] { return In{rnd({3, 4})}; }},
      {"gather", "dim 0, smaller index, non-contiguous", [](const In& x) { return gather(x[0], 0, ids({3, 0, 1, 3}, {2, 2})); }, [] { return In{noncontig({4, 3})}; }},
      {"gather", "3-d last dim", [](const In& x) { return gather(x[0], -1, ids({1, 0, 1, 1, 0, 0, 1, 0}, {2, 2, 2})); }, [] { return In{rnd({2, 2, 3})}; }},
      {"scatter_add", "dim 0, duplicate targets", [](const In& x) { return scatter_add(x[0], 0, ids({0, 2, 2, 1, 0, 0, 1, 2}, {2, 4}), x[1]); }, [] { return In{rnd({3, 4}), rnd({2, 4})}; }},
      {"scatter_add", "dim 1, index smaller than src", [](const In& x) { return scatter_add(x[0], 1, ids({2, 0, 2, 1, 1, 0}, {2, 3}), x[1]); }, [] { return In{rnd({4, 3}), noncontig({3, 5})}; }},
      {"scatter_add", "constant self", [](const In& x) { return scatter_add(x[0], 0, ids({1, 1, 0}, {3}), x[1]); }, [] { return In{constant({2}), rnd({3})}; }},
      {"masked_fill", "plain", [](const In& x) { return masked_fill(x[0], mask({1, 0, 0, 1, 1, 0}, {2, 3}), -3.0); }, [] { return In{rnd({2, 3})}; }},
      {"masked_fill", "broadcast mask, non-contiguous", [](const In& x) { return masked_fill(x[0], mask({0, 1, 0, 1}), 2.0); }, [] { return In{noncontig({3, 4})}; }},
      {"masked_fill", "mask broadcasts input", [](const In& x) { return masked_fill(x[0], mask({1, 0, 0, 0, 1, 0}, {2, 3}), 0.5); }, [] { return In{rnd({3})}; }},
  };
}

TG_OP_SAMPLES(indexing_repeat_pad) {
  return {
      {"repeat", "2-d", [](const In& x) { return repeat(x[0], {2, 3}); }, [] { return In{rnd({2, 3})}; }},
      {"repeat", "new leading dims, non-contiguous", [](const In& x) { return repeat(x[0], {2, 1, 2}); }, [] { return In{noncontig({2, 3})}; }},
      {"repeat", "zero repeats", [](const In& x) { return repeat(x[0], {0, 2}); }, [] { return In{rnd({2, 2})}; }},
      {"tile", "more reps than dims", [](const In& x) { return tile(x[0], {2, 1, 2}); }, [] { return In{rnd({3})}; }},
      {"tile", "short reps", [](const In& x) { return tile(x[0], {3}); }, [] { return In{rnd({2, 2})}; }},
      {"pad", "last dim", [](const In& x) { return pad(x[0], {1, 2}); }, [] { return In{rnd({2, 3})}; }},
      {"pad", "two dims, value, crop", [](const In& x) { return pad(x[0], {-1, 2, 1, 0}, 1.5); }, [] { return In{noncontig({3, 4})}; }},
      {"pad", "3-d, middle dims", [](const In& x) { return pad(x[0], {0, 0, 2, -1, 1, 1}); }, [] { return In{rnd({2, 3, 2})}; }},
  };
}

// clang-format on
}  // namespace tg::sweep
