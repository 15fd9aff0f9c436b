#include "tapegrad/datasets/mnist.h"

#include <string>
#include <vector>

#include "tapegrad/core/threading.h"
#include "tapegrad/datasets/idx.h"

namespace tg::datasets {

namespace {

namespace fs = std::filesystem;

struct Source {
  const char* name;  // for messages: "MNIST", "FashionMNIST"
  double mean, std;  // training-set pixel statistics in [0, 1] units
  std::string (*how_to_get)(const fs::path& root);
};

std::string mnist_hint(const fs::path& root) {
  return detail::concat(
      "download the four MNIST files (train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, "
      "t10k-images-idx3-ubyte.gz, t10k-labels-idx1-ubyte.gz, e.g. from "
      "https://ossci-datasets.s3.amazonaws.com/mnist/) into ",
      root.string(), " (plain or .gz)");
}

std::string fashion_hint(const fs::path& root) {
  if (root == FashionMNIST::default_root())
    return "install the Debian package: sudo apt-get install dataset-fashion-mnist";
  return detail::concat(
      "put the four Fashion-MNIST IDX files (train-images-idx3-ubyte.gz, ...) in ", root.string(),
      ", or install the Debian package "
      "(sudo apt-get install dataset-fashion-mnist) and use its default root ",
      FashionMNIST::default_root().string());
}

// The file for `base`, trying the usual spellings: plain, .gz, and the "-idx" -> ".idx" variant
// some mirrors use.
fs::path find_file(const Source& src, const fs::path& root, const std::string& base) {
  std::string dotted = base;
  if (auto p = dotted.find("-idx"); p != std::string::npos) dotted[p] = '.';
  for (const auto& name : {base, base + ".gz", dotted, dotted + ".gz"}) {
    std::error_code ec;
    if (fs::is_regular_file(root / name, ec)) return root / name;
  }
  std::error_code ec;  // the non-throwing overload: a too-long root is a tg::Error like the rest
  throw Error(detail::concat(src.name, ": cannot find ", (root / base).string(), "[.gz]",
                             fs::is_directory(root, ec) ? "" : " (the directory does not exist)",
                             "; ", src.how_to_get(root)));
}

data::TensorDataset load(const Source& src, const fs::path& root, Split split,
                         const MNISTOptions& o) {
  TG_CHECK(o.limit >= -1, src.name, ": limit must be -1 (all) or a sample count, got ", o.limit);
  const std::string prefix = split == Split::Train ? "train" : "t10k";
  const fs::path image_path = find_file(src, root, prefix + "-images-idx3-ubyte");
  const fs::path label_path = find_file(src, root, prefix + "-labels-idx1-ubyte");
  Tensor images = read_idx(image_path);
  Tensor labels = read_idx(label_path);

  TG_CHECK(images.dtype() == kUInt8 && images.dim() == 3, src.name, ": ", image_path.string(),
           " should hold uint8 images [N, rows, cols], got ", images.dtype(), " ",
           shape_str(images.shape()));
  TG_CHECK(labels.dtype() == kUInt8 && labels.dim() == 1, src.name, ": ", label_path.string(),
           " should hold uint8 labels [N], got ", labels.dtype(), " ", shape_str(labels.shape()));
  TG_CHECK(images.size(0) == labels.size(0), src.name, ": ", image_path.string(), " holds ",
           images.size(0), " images but ", label_path.string(), " holds ", labels.size(0),
           " labels");
  std::int64_t n = images.size(0);
  if (o.limit >= 0 && o.limit < n) n = o.limit;

  const std::uint8_t* lab = labels.data_ptr<std::uint8_t>();
  Tensor targets = empty({n}, kInt64);
  auto* t = targets.data_ptr<std::int64_t>();
  for (std::int64_t i = 0; i < n; ++i) {
    TG_CHECK(lab[i] <= 9, src.name, ": ", label_path.string(), ": label ", int(lab[i]),
             " at index ", i, " is outside 0..9");
    t[i] = lab[i];
  }

  const std::int64_t rows = images.size(1), cols = images.size(2);
  const Shape shape = o.flatten ? Shape{n, rows * cols} : Shape{n, rows, cols};
  Tensor inputs;
  if (!o.scale && !o.standardize) {
    inputs = from_blob(images.data_ptr<std::uint8_t>(), shape, kUInt8);
  } else {
    // Every pixel is one of 256 values: convert through a table, which is exact and fast.
    const double unit = o.scale ? 255.0 : 1.0;
    const double mean = o.standardize ? o.mean.value_or(src.mean * 255.0 / unit) : 0.0;
    const double std = o.standardize ? o.stddev.value_or(src.std * 255.0 / unit) : 1.0;
    TG_CHECK(std > 0.0, src.name, ": standardize needs std > 0, got ", std);
    float table[256];
    for (int p = 0; p < 256; ++p)
      table[p] = static_cast<float>((static_cast<double>(p) / unit - mean) / std);
    inputs = empty(shape, kFloat32);
    const std::uint8_t* in = images.data_ptr<std::uint8_t>();
    float* out = inputs.data_ptr<float>();
    detail::parallel_for(inputs.numel(), detail::kElementwiseGrain,
                         [&](std::int64_t b, std::int64_t e) {
                           for (std::int64_t i = b; i < e; ++i) out[i] = table[in[i]];
                         });
  }
  return data::TensorDataset(inputs, targets);
}

const Source kMnist{"MNIST", 0.1307, 0.3081, mnist_hint};
const Source kFashion{"FashionMNIST", 0.2860, 0.3530, fashion_hint};

}  // namespace

MNIST::MNIST(const fs::path& root, Split split, const MNISTOptions& options)
    : data::TensorDataset(load(kMnist, root, split, options)) {}

const std::array<std::string_view, 10>& MNIST::classes() {
  static const std::array<std::string_view, 10> names{"0", "1", "2", "3", "4",
                                                      "5", "6", "7", "8", "9"};
  return names;
}

FashionMNIST::FashionMNIST(Split split, const MNISTOptions& options)
    : FashionMNIST(default_root(), split, options) {}

FashionMNIST::FashionMNIST(const fs::path& root, Split split, const MNISTOptions& options)
    : data::TensorDataset(load(kFashion, root, split, options)) {}

fs::path FashionMNIST::default_root() { return "/usr/share/datasets/fashion-mnist"; }

const std::array<std::string_view, 10>& FashionMNIST::classes() {
  static const std::array<std::string_view, 10> names{
      "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
      "Sandal",      "Shirt",   "Sneaker",  "Bag",   "Ankle boot"};
  return names;
}

}  // namespace tg::datasets
