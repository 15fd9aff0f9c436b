#pragma once
// Evaluation metrics. Classification helpers accept either logits/probabilities [N, C] (the
// prediction is the row's argmax) or predicted class indices [N]; targets are class indices [N]
// or one-hot/probability rows [N, C].
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "tapegrad/core/tensor.h"

namespace tg::data {
class DataLoader;
}

namespace tg::metrics {

// Class indices [N] (int64): argmax of each row of [N, C] scores (first maximum on ties), or the
// input itself when it already holds integer indices [N].
Tensor predictions(const Tensor& logits_or_preds);

// Fraction of samples whose prediction equals the target; 0 for an empty batch.
double accuracy(const Tensor& logits_or_preds, const Tensor& targets);
// Number of correct predictions (for summing over batches).
std::int64_t correct(const Tensor& logits_or_preds, const Tensor& targets);

// [C, C] int64 counts: row = true class, column = predicted class.
Tensor confusion_matrix(const Tensor& logits_or_preds, const Tensor& targets,
                        std::int64_t num_classes);
// Recall of each class (correct / samples of that class) from a confusion matrix; NaN for a
// class without samples.
std::vector<double> per_class_accuracy(const Tensor& confusion);
std::vector<double> per_class_accuracy(const Tensor& logits_or_preds, const Tensor& targets,
                                       std::int64_t num_classes);
// The confusion matrix as an aligned text table, with optional class names.
std::string format_confusion_matrix(const Tensor& confusion,
                                    const std::vector<std::string_view>& class_names = {});

// Regression errors over all elements; shapes must match.
double mae(const Tensor& prediction, const Tensor& target);
double rmse(const Tensor& prediction, const Tensor& target);

struct Evaluation {
  double loss = 0.0;      // sample-weighted mean of the batch losses (0 without a loss_fn)
  double accuracy = 0.0;  // over all samples
  std::int64_t samples = 0;
};

// Runs `forward` over every batch of `loader` under no_grad and aggregates loss and accuracy.
// Put the model in eval mode first (dropout/batch norm) and back to train mode after.
Evaluation evaluate(data::DataLoader& loader, const std::function<Tensor(const Tensor&)>& forward,
                    const std::function<Tensor(const Tensor&, const Tensor&)>& loss_fn = {});

}  // namespace tg::metrics
