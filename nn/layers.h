#pragma once
// The basic layers: Linear, Dropout, Dropout2d, BatchNorm1d, BatchNorm2d, Flatten, Unflatten,
// Identity. Each is a movable
// OwningModule, so it can be a member of a network or be moved into a Sequential.
#include <cstdint>
#include <optional>
#include <string>

#include "tapegrad/nn/module.h"

namespace tg::nn {

struct LinearOptions {
  bool bias = true;
};

// y = x W^T + b for x of shape [..., in_features]. PyTorch's default init: W by
// kaiming_uniform_(a = sqrt(5)), i.e. U(-1/sqrt(in), 1/sqrt(in)), and b by the same bound.
class Linear : public OwningModule {
 public:
  Linear(std::int64_t in_features, std::int64_t out_features, const LinearOptions& options = {});
  Tensor forward(const Tensor& input) override;
  // Draws fresh weights (and bias) from the default init.
  void reset_parameters();
  std::string extra_repr() const override;

  std::int64_t in_features, out_features;
  Tensor weight;  // [out_features, in_features]
  Tensor bias;    // [out_features], undefined without bias
};

// Inverted dropout: in training zeroes each element with probability p and scales the rest by
// 1 / (1 - p); identity in eval mode.
class Dropout : public OwningModule {
 public:
  explicit Dropout(double p = 0.5);
  Tensor forward(const Tensor& input) override;
  std::string extra_repr() const override;

  double p;
};

// Channel dropout on [N, C, H, W] (or unbatched [C, H, W]): in training zeroes whole channels
// with probability p and scales the others by 1 / (1 - p); identity in eval mode.
class Dropout2d : public OwningModule {
 public:
  explicit Dropout2d(double p = 0.5);
  Tensor forward(const Tensor& input) override;
  std::string extra_repr() const override;

  double p;
};

struct BatchNormOptions {
  double eps = 1e-5;
  // Weight of the newest batch in the running statistics; nullopt = cumulative average.
  std::optional<double> momentum = 0.1;
  bool affine = true;               // learnable weight (gamma) and bias (beta)
  bool track_running_stats = true;  // keep running_mean/var for eval mode
};

// Batch normalization per channel (dim 1). Training normalizes by the batch statistics and
// updates running_mean / running_var (unbiased) and num_batches_tracked; eval normalizes by the
// running statistics. BatchNorm1d takes [N, C] or [N, C, L], BatchNorm2d [N, C, H, W]; state-dict
// names as PyTorch's (weight, bias, running_mean, running_var, num_batches_tracked).
class BatchNorm : public OwningModule {
 public:
  Tensor forward(const Tensor& input) override;
  void reset_running_stats();
  void reset_parameters();  // running stats, then weight = 1, bias = 0
  std::string extra_repr() const override;

  std::int64_t num_features;
  BatchNormOptions options;
  Tensor weight, bias;               // [C], undefined unless affine
  Tensor running_mean, running_var;  // [C], undefined unless tracking
  Tensor num_batches_tracked;        // int64 scalar, undefined unless tracking

 protected:
  BatchNorm(const char* type, std::int64_t num_features, const BatchNormOptions& options);
  virtual void check_input(const Tensor& input) const = 0;
  const char* type_;
};

class BatchNorm1d : public BatchNorm {
 public:
  explicit BatchNorm1d(std::int64_t num_features, const BatchNormOptions& options = {})
      : BatchNorm("BatchNorm1d", num_features, options) {}

 protected:
  void check_input(const Tensor& input) const override;
};

class BatchNorm2d : public BatchNorm {
 public:
  explicit BatchNorm2d(std::int64_t num_features, const BatchNormOptions& options = {})
      : BatchNorm("BatchNorm2d", num_features, options) {}

 protected:
  void check_input(const Tensor& input) const override;
};

// Flattens dims start_dim..end_dim into one (by default all but the batch dim).
class Flatten : public OwningModule {
 public:
  explicit Flatten(std::int64_t start_dim = 1, std::int64_t end_dim = -1);
  Tensor forward(const Tensor& input) override;
  std::string extra_repr() const override;

  std::int64_t start_dim, end_dim;
};

// Unflattens dim `dim` into `sizes` (one entry may be -1), e.g. [N, 784] -> [N, 1, 28, 28].
class Unflatten : public OwningModule {
 public:
  Unflatten(std::int64_t dim, Shape sizes);
  Tensor forward(const Tensor& input) override;
  std::string extra_repr() const override;

  std::int64_t dim;
  Shape sizes;
};

// Returns its input (a placeholder, e.g. to switch a layer off).
class Identity : public OwningModule {
 public:
  Identity() = default;
  Tensor forward(const Tensor& input) override { return input; }
};

}  // namespace tg::nn
