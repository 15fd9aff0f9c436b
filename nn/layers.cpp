#include "tapegrad/nn/layers.h"

#include <cmath>
#include <sstream>

#include "tapegrad/core/error.h"
#include "tapegrad/core/grad_mode.h"
#include "tapegrad/nn/init.h"
#include "tapegrad/ops/nn_functional.h"
#include "tapegrad/ops/shape.h"

namespace tg::nn {

// ---- Linear ----

Linear::Linear(std::int64_t in, std::int64_t out, const LinearOptions& options)
    : in_features(in), out_features(out) {
  TG_CHECK(in >= 0 && out >= 0, "Linear: feature counts must be non-negative, got in_features=", in,
           ", out_features=", out);
  weight = register_parameter("weight", empty({out, in}));
  if (options.bias) bias = register_parameter("bias", empty({out}));
  reset_parameters();
}

void Linear::reset_parameters() {
  if (in_features > 0 && out_features > 0) {
    init::kaiming_uniform_(weight, {.a = std::sqrt(5.0)});
  } else {
    init::zeros_(weight);
  }
  if (bias.defined()) {
    const double bound = in_features > 0 ? 1.0 / std::sqrt(static_cast<double>(in_features)) : 0.0;
    init::uniform_(bias, -bound, bound);
  }
}

Tensor Linear::forward(const Tensor& x) {
  TG_CHECK(x.defined(), "Linear: input is undefined");
  TG_CHECK(x.dim() >= 1 && x.size(-1) == in_features, "Linear(in_features=", in_features,
           ", out_features=", out_features, "): expected input of shape [..., ", in_features,
           "], got ", shape_str(x.shape()));
  return functional::linear(x, weight, bias);
}

std::string Linear::extra_repr() const {
  std::ostringstream os;
  os << "in_features=" << in_features << ", out_features=" << out_features
     << ", bias=" << (bias.defined() ? "true" : "false");
  return os.str();
}

// ---- Dropout ----

Dropout::Dropout(double p_) : p(p_) {
  TG_CHECK(p >= 0.0 && p <= 1.0, "Dropout: probability must be in [0, 1], got ", p);
}

Tensor Dropout::forward(const Tensor& x) { return functional::dropout(x, p, is_training()); }

std::string Dropout::extra_repr() const {
  std::ostringstream os;
  os << "p=" << p;
  return os.str();
}

// ---- Dropout2d ----

Dropout2d::Dropout2d(double p_) : p(p_) {
  TG_CHECK(p >= 0.0 && p <= 1.0, "Dropout2d: probability must be in [0, 1], got ", p);
}

Tensor Dropout2d::forward(const Tensor& x) { return functional::dropout2d(x, p, is_training()); }

std::string Dropout2d::extra_repr() const {
  std::ostringstream os;
  os << "p=" << p;
  return os.str();
}

// ---- BatchNorm1d, BatchNorm2d ----

BatchNorm::BatchNorm(const char* type, std::int64_t n, const BatchNormOptions& o)
    : num_features(n), options(o), type_(type) {
  TG_CHECK(n > 0, type, ": num_features must be positive, got ", n);
  TG_CHECK(o.eps > 0.0, type, ": eps must be positive, got ", o.eps);
  TG_CHECK(!o.momentum || (*o.momentum >= 0.0 && *o.momentum <= 1.0), type,
           ": momentum must be in [0, 1], got ", o.momentum.value_or(0.0));
  if (o.affine) {
    weight = register_parameter("weight", ones({n}));
    bias = register_parameter("bias", zeros({n}));
  }
  if (o.track_running_stats) {
    running_mean = register_buffer("running_mean", zeros({n}));
    running_var = register_buffer("running_var", ones({n}));
    num_batches_tracked = register_buffer("num_batches_tracked", zeros({}, kInt64));
  }
}

void BatchNorm::reset_running_stats() {
  if (!options.track_running_stats) return;
  NoGradGuard guard;
  running_mean.zero_();
  running_var.fill_(1.0);
  num_batches_tracked.zero_();
}

void BatchNorm::reset_parameters() {
  reset_running_stats();
  if (options.affine) {
    init::ones_(weight);
    init::zeros_(bias);
  }
}

void BatchNorm1d::check_input(const Tensor& x) const {
  TG_CHECK((x.dim() == 2 || x.dim() == 3) && x.size(1) == num_features, "BatchNorm1d(",
           num_features, "): expected input of shape [N, ", num_features, "] or [N, ", num_features,
           ", L], got ", shape_str(x.shape()));
}

void BatchNorm2d::check_input(const Tensor& x) const {
  TG_CHECK(x.dim() == 4 && x.size(1) == num_features, "BatchNorm2d(", num_features,
           "): expected input of shape [N, ", num_features, ", H, W], got ", shape_str(x.shape()));
}

Tensor BatchNorm::forward(const Tensor& x) {
  TG_CHECK(x.defined(), type_, ": input is undefined");
  check_input(x);
  double factor = options.momentum.value_or(0.0);
  const bool tracking = options.track_running_stats;
  if (is_training() && tracking) {
    {
      NoGradGuard guard;
      num_batches_tracked.add_(1.0);
    }
    if (!options.momentum)  // cumulative moving average
      factor = 1.0 / static_cast<double>(num_batches_tracked.item<std::int64_t>());
  }
  // Batch statistics in training, or always when no running statistics are kept.
  const bool use_batch_stats = is_training() || !tracking;
  return functional::batch_norm(x, tracking ? running_mean : Tensor(),
                                tracking ? running_var : Tensor(), weight, bias, use_batch_stats,
                                factor, options.eps);
}

std::string BatchNorm::extra_repr() const {
  std::ostringstream os;
  os << num_features << ", eps=" << options.eps << ", momentum=";
  if (options.momentum)
    os << *options.momentum;
  else
    os << "None";
  os << ", affine=" << (options.affine ? "true" : "false")
     << ", track_running_stats=" << (options.track_running_stats ? "true" : "false");
  return os.str();
}

// ---- Flatten ----

Flatten::Flatten(std::int64_t s, std::int64_t e) : start_dim(s), end_dim(e) {}

Tensor Flatten::forward(const Tensor& x) { return tg::flatten(x, start_dim, end_dim); }

std::string Flatten::extra_repr() const {
  std::ostringstream os;
  os << "start_dim=" << start_dim << ", end_dim=" << end_dim;
  return os.str();
}

// ---- Unflatten ----

Unflatten::Unflatten(std::int64_t d, Shape s) : dim(d), sizes(std::move(s)) {
  TG_CHECK(!sizes.empty(), "Unflatten: sizes must not be empty");
}

Tensor Unflatten::forward(const Tensor& x) {
  TG_CHECK(x.defined(), "Unflatten: input is undefined");
  const std::int64_t n = x.dim();
  TG_CHECK(dim >= -n && dim < n, "Unflatten: dim ", dim, " is out of range for input of shape ",
           shape_str(x.shape()));
  const std::int64_t d = dim < 0 ? dim + n : dim;
  Shape shape(x.shape().begin(), x.shape().begin() + d);
  for (auto v : sizes) shape.push_back(v);
  for (std::int64_t i = d + 1; i < n; ++i) shape.push_back(x.size(i));
  return x.reshape(shape);
}

std::string Unflatten::extra_repr() const {
  std::ostringstream os;
  os << "dim=" << dim << ", unflattened_size=(";
  for (std::size_t i = 0; i < sizes.size(); ++i) os << (i ? ", " : "") << sizes[i];
  os << ")";
  return os.str();
}

}  // namespace tg::nn
