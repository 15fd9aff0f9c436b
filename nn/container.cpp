#include "tapegrad/nn/container.h"

namespace tg::nn {

Tensor Sequential::forward(const Tensor& input) {
  Tensor x = input;
  for (const auto& m : items_) x = m->forward(x);
  return x;
}

}  // namespace tg::nn
