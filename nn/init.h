#pragma once
// Weight initialization, spelled like torch.nn.init. Every function fills its tensor in place
// under no_grad (so it works on parameters that require grad), draws from
// tg::default_generator() (repeatable after manual_seed) and returns the tensor.
//
// Fans follow PyTorch: for a weight of shape [out, in, k...], fan_in = in * prod(k) and
// fan_out = out * prod(k); tensors with fewer than 2 dims have no fans.
#include <cstdint>
#include <optional>
#include <utility>

#include "tapegrad/core/tensor.h"

namespace tg::nn::init {

enum class Nonlinearity { Linear, Conv1d, Conv2d, Conv3d, Sigmoid, Tanh, ReLU, LeakyReLU, SELU };
enum class FanMode { FanIn, FanOut };

// The recommended gain for a nonlinearity: 1 for linear/conv/sigmoid, 5/3 for tanh, sqrt(2) for
// ReLU, sqrt(2 / (1 + slope^2)) for leaky ReLU (param = the negative slope, any sign; 0.01 when
// not given, as PyTorch's None), 3/4 for SELU. param is ignored by the others, as in PyTorch.
double calculate_gain(Nonlinearity nonlinearity, std::optional<double> param = std::nullopt);
// {fan_in, fan_out}.
std::pair<std::int64_t, std::int64_t> calculate_fan_in_and_fan_out(const Tensor& t);

Tensor uniform_(Tensor t, double a = 0.0, double b = 1.0);      // U[a, b)
Tensor normal_(Tensor t, double mean = 0.0, double std = 1.0);  // N(mean, std^2)
Tensor constant_(Tensor t, double value);
Tensor zeros_(Tensor t);
Tensor ones_(Tensor t);

// Glorot: U(-a, a) with a = gain * sqrt(6 / (fan_in + fan_out)), or N(0, std^2) with
// std = gain * sqrt(2 / (fan_in + fan_out)).
Tensor xavier_uniform_(Tensor t, double gain = 1.0);
Tensor xavier_normal_(Tensor t, double gain = 1.0);

struct KaimingOptions {
  double a = 0.0;  // negative slope of the leaky ReLU that follows (used by LeakyReLU only;
                   // any sign, passed to calculate_gain as given)
  FanMode mode = FanMode::FanIn;
  Nonlinearity nonlinearity = Nonlinearity::LeakyReLU;
};
// He: std = gain / sqrt(fan); uniform bound = sqrt(3) * std.
Tensor kaiming_uniform_(Tensor t, const KaimingOptions& options = {});
Tensor kaiming_normal_(Tensor t, const KaimingOptions& options = {});

}  // namespace tg::nn::init
