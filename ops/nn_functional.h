#pragma once
// The fused kernels the seed networks need, spelled like torch.nn.functional. Each has its own
// forward kernel and backward; where the backward is a fused kernel (softmax cross entropy,
// batch norm) that backward is itself an op with a derivative.
#include <cstdint>

#include "tapegrad/core/tensor.h"
#include "tapegrad/ops/activation.h"
#include "tapegrad/ops/elementwise.h"
#include "tapegrad/ops/indexing.h"

namespace tg::nn::functional {

enum class Reduction { None, Mean, Sum };

// y = x @ weight^T + bias, one GEMM with the bias folded in. weight: [out, in], bias: [out].
Tensor linear(const Tensor& input, const Tensor& weight, const Tensor& bias = {});

// Numerically stable along any dim.
Tensor softmax(const Tensor& x, std::int64_t dim);
Tensor log_softmax(const Tensor& x, std::int64_t dim);

struct CrossEntropyOptions {
  Reduction reduction = Reduction::Mean;
  std::int64_t ignore_index = -100;  // class-index targets equal to it add nothing
  double label_smoothing = 0.0;
  Tensor weight = {};  // optional per-class weights [C] (the initializer keeps -Wextra quiet
                       // about designated initializers that leave it out)
};
// logits: [N, C] (or [N, C, d...]); target: int64 class indices [N] (or [N, d...]), or
// float probabilities / one-hot with the logits' shape. Fused log-softmax + NLL.
Tensor cross_entropy(const Tensor& logits, const Tensor& target,
                     const CrossEntropyOptions& options = {});
Tensor nll_loss(const Tensor& log_probs, const Tensor& target,
                Reduction reduction = Reduction::Mean, std::int64_t ignore_index = -100,
                const Tensor& weight = {});

Tensor mse_loss(const Tensor& input, const Tensor& target, Reduction reduction = Reduction::Mean);
Tensor l1_loss(const Tensor& input, const Tensor& target, Reduction reduction = Reduction::Mean);
Tensor huber_loss(const Tensor& input, const Tensor& target, Reduction reduction = Reduction::Mean,
                  double delta = 1.0);
// input: probabilities in [0, 1].
Tensor binary_cross_entropy(const Tensor& input, const Tensor& target,
                            Reduction reduction = Reduction::Mean, const Tensor& weight = {});
Tensor binary_cross_entropy_with_logits(const Tensor& logits, const Tensor& target,
                                        Reduction reduction = Reduction::Mean,
                                        const Tensor& pos_weight = {});

// Inverted dropout: in training, zeroes each element with probability p and scales the rest by
// 1/(1-p); identity in eval. Draws from the global generator.
Tensor dropout(const Tensor& x, double p, bool training);
// Channel dropout on [N, C, H, W] (or unbatched [C, H, W]): zeroes whole channels with
// probability p and scales the rest by 1/(1-p) in training; identity in eval. The channel mask
// comes from the global generator.
Tensor dropout2d(const Tensor& x, double p, bool training);

// x: [N, C], [N, C, L] or [N, C, H, W] (statistics per channel C). In training uses batch
// statistics and, when running_mean/var are defined, updates them in place (running =
// (1-momentum)*running + momentum*batch, unbiased var); in eval uses the running statistics.
// weight/bias ([C]) are optional.
Tensor batch_norm(const Tensor& x, const Tensor& running_mean, const Tensor& running_var,
                  const Tensor& weight, const Tensor& bias, bool training, double momentum = 0.1,
                  double eps = 1e-5);

}  // namespace tg::nn::functional

// One definition, two names: what PyTorch offers as both torch.X and torch.nn.functional.X is
// reachable as both tg::X and tg::nn::functional::X (and F-only activations as
// nn::functional::X too, next to their tg::X).
namespace tg {
using nn::functional::batch_norm;
using nn::functional::binary_cross_entropy_with_logits;
using nn::functional::dropout;
using nn::functional::log_softmax;
using nn::functional::softmax;
}  // namespace tg

namespace tg::nn::functional {
using tg::elu;
using tg::gelu;
using tg::hardtanh;
using tg::leaky_relu;
using tg::one_hot;
using tg::pad;
using tg::relu;
using tg::relu6;
using tg::sigmoid;
using tg::silu;
using tg::softplus;
using tg::tanh;
}  // namespace tg::nn::functional
