// multinomial: category draws from unnormalized weights by inverse-CDF sampling, one uniform
// from the global generator per draw, rows in order (a seeded run repeats on any thread count).
// Not differentiable: the result is int64.
#include <cmath>
#include <vector>

#include "tapegrad/core/random.h"
#include "tapegrad/ops/sequence.h"

namespace tg {

Tensor multinomial(const Tensor& probs, std::int64_t num_samples, bool replacement) {
  TG_CHECK(probs.defined(), "multinomial: probs is undefined");
  TG_CHECK(probs.dim() == 1 || probs.dim() == 2,
           "multinomial: probs must be 1-D or 2-D, got shape ", shape_str(probs.shape()));
  TG_CHECK(probs.is_floating_point(), "multinomial: probs must be floating point, got ",
           probs.dtype());
  TG_CHECK(num_samples > 0, "multinomial: num_samples must be positive, got ", num_samples);
  const std::int64_t rows = probs.dim() == 2 ? probs.size(0) : 1;
  const std::int64_t C = probs.size(-1);
  TG_CHECK(C > 0, "multinomial: probs has no categories (shape ", shape_str(probs.shape()), ")");
  TG_CHECK(replacement || num_samples <= C, "multinomial: cannot draw ", num_samples,
           " samples without replacement from ", C, " categories");
  const std::vector<double> p = probs.detach().contiguous().to_vector<double>();
  std::vector<std::int64_t> out(static_cast<std::size_t>(rows * num_samples));
  Generator& gen = default_generator();
  std::vector<double> w(static_cast<std::size_t>(C));
  for (std::int64_t r = 0; r < rows; ++r) {
    std::int64_t nonzero = 0;
    for (std::int64_t c = 0; c < C; ++c) {
      const double v = p[static_cast<std::size_t>(r * C + c)];
      TG_CHECK(std::isfinite(v) && v >= 0.0, "multinomial: probs must be finite and ",
               "non-negative, got ", v, " at row ", r, ", category ", c);
      w[static_cast<std::size_t>(c)] = v;
      nonzero += v > 0.0;
    }
    TG_CHECK(nonzero > 0, "multinomial: row ", r, " of probs sums to zero");
    TG_CHECK(replacement || num_samples <= nonzero, "multinomial: cannot draw ", num_samples,
             " samples without replacement from row ", r, ", which has ", nonzero,
             " non-zero categories");
    for (std::int64_t s = 0; s < num_samples; ++s) {
      double total = 0.0;
      for (const double v : w) total += v;
      const double u = gen.uniform() * total;
      // The first category whose running sum passes u; a zero weight is never picked.
      std::int64_t pick = -1;
      double run = 0.0;
      for (std::int64_t c = 0; c < C; ++c) {
        const double v = w[static_cast<std::size_t>(c)];
        if (v <= 0.0) continue;
        pick = c;  // rounding may leave u just above the last running sum: take the last one
        run += v;
        if (u < run) break;
      }
      out[static_cast<std::size_t>(r * num_samples + s)] = pick;
      if (!replacement) w[static_cast<std::size_t>(pick)] = 0.0;
    }
  }
  Shape shape = probs.dim() == 2 ? Shape{rows, num_samples} : Shape{num_samples};
  return from_vector(out, shape);
}

}  // namespace tg
