#pragma once
// MNIST digits and Fashion-MNIST: 28x28 grey images in the four standard IDX files
//   train-images-idx3-ubyte  train-labels-idx1-ubyte  t10k-images-idx3-ubyte t10k-labels-idx1-ubyte
// each plain or with a .gz suffix. Fashion-MNIST defaults to the Debian package's directory
// (`apt-get install dataset-fashion-mnist`); MNIST reads from any directory you give it.
//
//   auto train = datasets::FashionMNIST(datasets::Split::Train);        // [60000, 784] float32
//   auto test = datasets::MNIST("data/mnist", datasets::Split::Test, {.limit = 1000});
#include <array>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string_view>

#include "tapegrad/datasets/tensor_dataset.h"

namespace tg::datasets {

enum class Split { Train, Test };

struct MNISTOptions {
  bool scale = true;         // float32 in [0, 1]; false keeps the raw uint8 pixels 0..255
  bool standardize = false;  // (x - mean) / std, in float32, after scaling
  // Standardization statistics in the units of the (scaled or raw) pixels; when unset, the
  // training set's well-known values are used (MNIST 0.1307/0.3081, Fashion 0.2860/0.3530),
  // so train and test are standardized alike.
  std::optional<double> mean = std::nullopt, stddev = std::nullopt;
  bool flatten = true;      // images [N, 784]; false keeps [N, 28, 28]
  std::int64_t limit = -1;  // keep only the first `limit` samples; -1 keeps all
};

// inputs(): images as configured by MNISTOptions; targets(): int64 labels [N] in 0..9.
class MNIST : public data::TensorDataset {
 public:
  MNIST(const std::filesystem::path& root, Split split, const MNISTOptions& options = {});
  static const std::array<std::string_view, 10>& classes();  // "0" .. "9"
};

class FashionMNIST : public data::TensorDataset {
 public:
  explicit FashionMNIST(Split split, const MNISTOptions& options = {});
  FashionMNIST(const std::filesystem::path& root, Split split, const MNISTOptions& options = {});
  static std::filesystem::path default_root();               // /usr/share/datasets/fashion-mnist
  static const std::array<std::string_view, 10>& classes();  // "T-shirt/top" .. "Ankle boot"
};

}  // namespace tg::datasets
