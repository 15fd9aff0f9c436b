#include "sweep/op_table.h"
#include "tapegrad/core/random.h"
#include "tapegrad/ops/elementwise.h"
#include "tapegrad/ops/shape.h"

namespace tg::sweep {

std::vector<SampleFactory>& factories() {
  static std::vector<SampleFactory> all;
  return all;
}

int register_factory(SampleFactory f) {
  factories().push_back(f);
  return static_cast<int>(factories().size());
}

std::vector<EdgeFactory>& edge_factories() {
  static std::vector<EdgeFactory> all;
  return all;
}

int register_edge_factory(EdgeFactory f) {
  edge_factories().push_back(f);
  return static_cast<int>(edge_factories().size());
}

namespace {
Generator& sample_gen() {
  static Generator gen(2024);
  return gen;
}
Tensor fill(const Shape& shape, const std::function<double(Generator&)>& draw) {
  std::vector<double> v(static_cast<std::size_t>(numel_of(shape)));
  for (auto& e : v) e = draw(sample_gen());
  return from_vector(v).reshape(shape).detach();
}
}  // namespace

Tensor rnd(const Shape& shape) {
  return fill(shape, [](Generator& g) { return g.normal(); }).requires_grad_();
}
Tensor positive(const Shape& shape) {
  return fill(shape, [](Generator& g) { return 0.5 + 1.5 * g.uniform(); }).requires_grad_();
}
Tensor away_from_zero(const Shape& shape) {
  return fill(shape,
              [](Generator& g) {
                const double m = 0.2 + g.uniform();
                return g.uniform() < 0.5 ? -m : m;
              })
      .requires_grad_();
}
Tensor noncontig(const Shape& shape) {
  TG_CHECK(shape.size() >= 2, "noncontig: needs at least 2 dims");
  Shape swapped = shape;
  std::swap(swapped[0], swapped[1]);
  Tensor base = fill(swapped, [](Generator& g) { return g.normal(); });
  Tensor t = base.transpose(0, 1).detach();
  return t.requires_grad_();
}
Tensor constant(const Shape& shape) {
  return fill(shape, [](Generator& g) { return g.normal(); });
}

}  // namespace tg::sweep
