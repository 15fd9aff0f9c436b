#include "tapegrad/nn/init.h"

#include <cmath>
#include <vector>

#include "tapegrad/core/error.h"
#include "tapegrad/core/grad_mode.h"
#include "tapegrad/core/random.h"

namespace tg::nn::init {
namespace {

// Writes one draw per element, in row-major order, into t (any strides, float dtypes).
template <typename Draw>
Tensor fill_with(const char* op, Tensor& t, Draw draw) {
  TG_CHECK(t.defined(), op, ": tensor is undefined");
  TG_CHECK(t.is_floating_point(), op, ": expected a floating-point tensor, got ", t.dtype());
  std::vector<double> values(static_cast<std::size_t>(t.numel()));
  for (auto& v : values) v = draw();
  NoGradGuard guard;
  t.copy_(from_vector(values, t.shape()).to(t.dtype()));
  return t;
}

double fan_of(const char* op, const Tensor& t, FanMode mode) {
  const auto [fan_in, fan_out] = calculate_fan_in_and_fan_out(t);
  const auto fan = mode == FanMode::FanIn ? fan_in : fan_out;
  TG_CHECK(fan > 0, op, ": cannot initialize a tensor of shape ", shape_str(t.shape()),
           " with a zero fan");
  return static_cast<double>(fan);
}

}  // namespace

double calculate_gain(Nonlinearity nonlinearity, std::optional<double> param) {
  switch (nonlinearity) {
    case Nonlinearity::Linear:
    case Nonlinearity::Conv1d:
    case Nonlinearity::Conv2d:
    case Nonlinearity::Conv3d:
    case Nonlinearity::Sigmoid:
      return 1.0;
    case Nonlinearity::Tanh:
      return 5.0 / 3.0;
    case Nonlinearity::ReLU:
      return std::sqrt(2.0);
    case Nonlinearity::LeakyReLU: {
      const double slope = param.value_or(0.01);
      TG_CHECK(std::isfinite(slope), "calculate_gain: negative slope must be finite, got ", slope);
      return std::sqrt(2.0 / (1.0 + slope * slope));
    }
    case Nonlinearity::SELU:
      return 3.0 / 4.0;
  }
  throw Error("calculate_gain: unknown nonlinearity");
}

std::pair<std::int64_t, std::int64_t> calculate_fan_in_and_fan_out(const Tensor& t) {
  TG_CHECK(t.defined(), "calculate_fan_in_and_fan_out: tensor is undefined");
  TG_CHECK(t.dim() >= 2, "calculate_fan_in_and_fan_out: fans need a tensor of at least 2 dims, ",
           "got shape ", shape_str(t.shape()));
  std::int64_t receptive = 1;
  for (std::int64_t d = 2; d < t.dim(); ++d) receptive *= t.size(d);
  return {t.size(1) * receptive, t.size(0) * receptive};
}

Tensor uniform_(Tensor t, double a, double b) {
  TG_CHECK(a <= b, "uniform_: lower bound ", a, " exceeds upper bound ", b);
  auto& gen = default_generator();
  return fill_with("uniform_", t, [&] { return a + (b - a) * gen.uniform(); });
}

Tensor normal_(Tensor t, double mean, double std) {
  TG_CHECK(std >= 0.0, "normal_: std must be non-negative, got ", std);
  auto& gen = default_generator();
  return fill_with("normal_", t, [&] { return mean + std * gen.normal(); });
}

Tensor constant_(Tensor t, double value) {
  TG_CHECK(t.defined(), "constant_: tensor is undefined");
  NoGradGuard guard;
  t.fill_(value);
  return t;
}

Tensor zeros_(Tensor t) { return constant_(std::move(t), 0.0); }
Tensor ones_(Tensor t) { return constant_(std::move(t), 1.0); }

Tensor xavier_uniform_(Tensor t, double gain) {
  const auto [fan_in, fan_out] = calculate_fan_in_and_fan_out(t);
  TG_CHECK(fan_in + fan_out > 0, "xavier_uniform_: tensor of shape ", shape_str(t.shape()),
           " has zero fans");
  const double a = gain * std::sqrt(6.0 / static_cast<double>(fan_in + fan_out));
  return uniform_(std::move(t), -a, a);
}

Tensor xavier_normal_(Tensor t, double gain) {
  const auto [fan_in, fan_out] = calculate_fan_in_and_fan_out(t);
  TG_CHECK(fan_in + fan_out > 0, "xavier_normal_: tensor of shape ", shape_str(t.shape()),
           " has zero fans");
  const double std = gain * std::sqrt(2.0 / static_cast<double>(fan_in + fan_out));
  return normal_(std::move(t), 0.0, std);
}

Tensor kaiming_uniform_(Tensor t, const KaimingOptions& o) {
  const double std =
      calculate_gain(o.nonlinearity, o.a) / std::sqrt(fan_of("kaiming_uniform_", t, o.mode));
  const double bound = std::sqrt(3.0) * std;
  return uniform_(std::move(t), -bound, bound);
}

Tensor kaiming_normal_(Tensor t, const KaimingOptions& o) {
  const double std =
      calculate_gain(o.nonlinearity, o.a) / std::sqrt(fan_of("kaiming_normal_", t, o.mode));
  return normal_(std::move(t), 0.0, std);
}

}  // namespace tg::nn::init
