#pragma once
// Per-batch transforms: standardization and the augmentations of the seed notebooks (small
// rotations and shifts of 28x28 digits, horizontal flips for Fashion-MNIST). One-hot targets are
// the op tg::one_hot(labels, 10, kFloat32) (ops/indexing.h).
//
// Image functions take float32/float64 batches shaped [N, H*W] (H = W inferred for a square
// count, e.g. 784 -> 28x28) or [..., H, W]; they return a new tensor of the same shape and dtype,
// with zeros wherever a pixel moves in from outside the image. Random ones draw every parameter
// serially from the Generator you pass, so a seed repeats regardless of the thread count.
#include <cstdint>

#include "tapegrad/core/random.h"
#include "tapegrad/core/tensor.h"

namespace tg::datasets {

// (x - mean) / std. The tensor overload broadcasts per-feature statistics, e.g. [784].
Tensor standardize(const Tensor& x, double mean, double std);
Tensor standardize(const Tensor& x, const Tensor& mean, const Tensor& std);

struct MeanStd {
  double mean;
  double std;  // population standard deviation
};
MeanStd mean_std(const Tensor& x);  // over every element, computed in double

// Deterministic image transforms.
Tensor shift(const Tensor& images, std::int64_t dx, std::int64_t dy);  // +dx right, +dy down
Tensor rotate(const Tensor& images,
              double degrees);       // counter-clockwise about the centre, bilinear
Tensor hflip(const Tensor& images);  // mirror left-right

struct AugmentOptions {
  double max_degrees = 0.0;    // rotate by U(-max, max) degrees
  std::int64_t max_shift = 0;  // shift by whole pixels in [-max, max], independently in x and y
  double hflip_prob = 0.0;     // mirror with this probability (Fashion-MNIST: 0.5)
  std::int64_t height = 0, width = 0;  // for [N, H*W] input; 0 infers a square
};

// One random flip, rotation and shift per image, fused into a single bilinear resampling pass.
Tensor augment(const Tensor& images, const AugmentOptions& options, Generator& gen);
Tensor random_rotation(const Tensor& images, double max_degrees, Generator& gen);
Tensor random_shift(const Tensor& images, std::int64_t max_shift, Generator& gen);
Tensor random_hflip(const Tensor& images, double prob, Generator& gen);

}  // namespace tg::datasets
