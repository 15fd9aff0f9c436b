#pragma once
// The four seed networks and the CNN example's network of the side-by-side comparison, trained for
// one epoch by either framework on the same data in the same batch order.
#include <cstdint>
#include <string>
#include <vector>

struct NetSpec {
  std::string name;         // mlp1024_dropout_adam, ...
  std::vector<int> hidden;  // hidden layer widths
  std::string activation;   // relu, tanh, sigmoid
  bool batch_norm = false;
  std::vector<double> dropout;  // per hidden layer, probability of dropping (0 = none)
  std::string optimizer;        // adam or momentum
  double lr = 0.0;
  int batch = 0;
  // The CNN of examples/cnn_fashion instead of an MLP: conv 1->32 3x3 pad 1, BN, ReLU,
  // max-pool 2, conv 32->64 (same), flatten, Linear(3136, 128), ReLU, dropout, Linear(128, 10).
  bool cnn = false;
};

std::vector<NetSpec> comparison_nets();

// The data both sides train on: images [n, 784] float32 in [0, 1], labels in [0, 10).
struct Data {
  std::vector<float> images;
  std::vector<std::int64_t> labels;
  std::int64_t n = 0;
};

// One epoch's batch order: a permutation of [0, n).
using Order = std::vector<std::int64_t>;

// Seconds for one training epoch of `spec` (a freshly built model when `fresh`).
class Trainer {
 public:
  virtual ~Trainer() = default;
  virtual double train_epoch(const Data& data, const Order& order) = 0;
  virtual double last_loss() const = 0;
};

// The elementwise ops compared on large float32 vectors: binary (add, mul) read two inputs,
// the rest one; all write one output.
inline const std::vector<std::string>& elementwise_ops() {
  static const std::vector<std::string> ops{"add", "mul", "relu", "tanh", "exp", "sigmoid"};
  return ops;
}
inline bool is_binary(const std::string& op) { return op == "add" || op == "mul"; }
