#include "nets.h"

std::vector<NetSpec> comparison_nets() {
  return {
      {"mlp1024_dropout_adam", {1024, 512}, "relu", false, {0.4, 0.25}, "adam", 1e-3, 128},
      {"mlp1024_bn_adam", {1024, 512}, "relu", true, {0.4, 0.25}, "adam", 1e-3, 128},
      {"mlp89_tanh_momentum", {89}, "tanh", false, {}, "momentum", 0.05, 64},
      {"mlp30_sigmoid_momentum", {30}, "sigmoid", false, {}, "momentum", 0.1, 100},
      {"cnn_fashion", {}, "relu", true, {0.25}, "adam", 1e-3, 128, true},
  };
}
