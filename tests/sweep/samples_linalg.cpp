// Samples for the matrix products beyond matmul: mm, bmm, addmm, outer, dot.
#include "sweep/op_table.h"
#include "tapegrad/ops/elementwise.h"
#include "tapegrad/ops/linalg.h"
#include "tapegrad/ops/shape.h"

namespace tg::sweep {

TG_OP_SAMPLES(linalg_products) {
  // One sample per line reads as a table.
  // clang-format off
  return {
      {"matmul", "mm", [](const In& x) { return mm(x[0], x[1]); }, [] { return In{rnd({3, 4}), rnd({4, 2})}; }},
      {"matmul", "mm with k = 0", [](const In& x) { return mm(x[0], x[1]); }, [] { return In{rnd({3, 0}), rnd({0, 2})}; }},
      {"matmul", "bmm", [](const In& x) { return bmm(x[0], x[1]); }, [] { return In{rnd({2, 3, 4}), rnd({2, 4, 5})}; }},
      {"matmul", "bmm transposed views", [](const In& x) { return bmm(x[0].transpose(1, 2), x[1]); }, [] { return In{rnd({3, 4, 2}), rnd({3, 4, 3})}; }},
      {"matmul", "bmm batch of 1", [](const In& x) { return bmm(x[0], x[1]); }, [] { return In{rnd({1, 2, 3}), noncontig({1, 3, 2})}; }},
      {"addmm", "bias row broadcast", [](const In& x) { return addmm(x[0], x[1], x[2]); }, [] { return In{rnd({4}), rnd({3, 2}), rnd({2, 4})}; }},
      {"addmm", "full input, beta and alpha", [](const In& x) { return addmm(x[0], x[1], x[2], 0.5, -2.0); }, [] { return In{rnd({3, 4}), rnd({3, 2}), rnd({2, 4})}; }},
      {"addmm", "transposed operands", [](const In& x) { return addmm(x[0], x[1].t(), x[2].t()); }, [] { return In{rnd({3, 1}), rnd({5, 3}), rnd({2, 5})}; }},
      {"addmm", "0-dim input, non-contiguous", [](const In& x) { return addmm(x[0], x[1], x[2], 2.0); }, [] { return In{rnd({}), noncontig({2, 3}), noncontig({3, 2})}; }},
      {"addmm", "beta 0", [](const In& x) { return addmm(x[0], x[1], x[2], 0.0); }, [] { return In{rnd({2, 2}), rnd({2, 3}), rnd({3, 2})}; }},
      {"matmul", "outer", [](const In& x) { return outer(x[0], x[1]); }, [] { return In{rnd({3}), rnd({4})}; }},
      {"matmul", "outer of strided", [](const In& x) { return outer(x[0].slice(0, 0, 6, 2), x[1]); }, [] { return In{rnd({6}), rnd({2})}; }},
      {"matmul", "dot", [](const In& x) { return dot(x[0], x[1]); }, [] { return In{rnd({5}), rnd({5})}; }},
      {"matmul", "dot of strided", [](const In& x) { return dot(x[0].select(1, 0), x[1]); }, [] { return In{rnd({4, 2}), rnd({4})}; }},
  };
  // clang-format on
}

}  // namespace tg::sweep
