#include "tapegrad/datasets/metrics.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>

#include "tapegrad/core/grad_mode.h"
#include "tapegrad/datasets/dataloader.h"

namespace tg::metrics {

namespace {

std::string describe(const Tensor& t) {
  return t.defined() ? detail::concat(dtype_name(t.dtype()), " ", shape_str(t.shape()))
                     : std::string("an undefined tensor");
}

// Class indices for either a [N] integer tensor or [N, C] scores.
std::vector<std::int64_t> labels_of(const char* op, const char* what, const Tensor& t) {
  TG_CHECK(t.defined() && (t.dim() == 1 || t.dim() == 2), op, ": ", what,
           " must be class indices [N] or scores [N, C], got ", describe(t));
  if (t.dim() == 1) {
    TG_CHECK(!t.is_floating_point(), op, ": ", what,
             " of shape [N] must hold integer class indices, got ", describe(t));
    return t.to_vector<std::int64_t>();
  }
  const std::int64_t n = t.size(0), c = t.size(1);
  TG_CHECK(c > 0 || n == 0, op, ": ", what, " scores need at least one class, got ", describe(t));
  const std::vector<double> v = t.to_vector<double>();
  std::vector<std::int64_t> out(static_cast<std::size_t>(n));
  for (std::int64_t i = 0; i < n; ++i) {
    const double* row = v.data() + i * c;
    out[i] = std::max_element(row, row + c) - row;
  }
  return out;
}

struct Pairs {
  std::vector<std::int64_t> pred, target;
};

Pairs pairs(const char* op, const Tensor& preds, const Tensor& targets) {
  Pairs p{labels_of(op, "predictions", preds), labels_of(op, "targets", targets)};
  TG_CHECK(p.pred.size() == p.target.size(), op, ": ", p.pred.size(), " predictions (",
           describe(preds), ") but ", p.target.size(), " targets (", describe(targets), ")");
  return p;
}

std::vector<double> values(const char* op, const Tensor& prediction, const Tensor& target,
                           std::vector<double>& other) {
  TG_CHECK(prediction.defined() && target.defined() && prediction.shape() == target.shape(), op,
           ": prediction and target must have the same shape, got ", describe(prediction), " and ",
           describe(target));
  other = target.to_vector<double>();
  return prediction.to_vector<double>();
}

}  // namespace

Tensor predictions(const Tensor& logits_or_preds) {
  return from_vector(labels_of("predictions", "input", logits_or_preds));
}

std::int64_t correct(const Tensor& logits_or_preds, const Tensor& targets) {
  const Pairs p = pairs("accuracy", logits_or_preds, targets);
  std::int64_t n = 0;
  for (std::size_t i = 0; i < p.pred.size(); ++i) n += p.pred[i] == p.target[i];
  return n;
}

double accuracy(const Tensor& logits_or_preds, const Tensor& targets) {
  const std::int64_t n = correct(logits_or_preds, targets);
  const std::int64_t total = targets.size(0);
  return total ? static_cast<double>(n) / static_cast<double>(total) : 0.0;
}

Tensor confusion_matrix(const Tensor& logits_or_preds, const Tensor& targets,
                        std::int64_t num_classes) {
  TG_CHECK(num_classes > 0, "confusion_matrix: num_classes must be positive, got ", num_classes);
  const Pairs p = pairs("confusion_matrix", logits_or_preds, targets);
  Tensor m = zeros({num_classes, num_classes}, kInt64);
  auto* d = m.data_ptr<std::int64_t>();
  for (std::size_t i = 0; i < p.pred.size(); ++i) {
    const std::int64_t t = p.target[i], q = p.pred[i];
    TG_CHECK(t >= 0 && t < num_classes && q >= 0 && q < num_classes, "confusion_matrix: sample ", i,
             " has target ", t, " and prediction ", q, ", outside [0, ", num_classes, ")");
    ++d[t * num_classes + q];
  }
  return m;
}

std::vector<double> per_class_accuracy(const Tensor& confusion) {
  TG_CHECK(confusion.defined() && confusion.dim() == 2 && confusion.size(0) == confusion.size(1),
           "per_class_accuracy: expected a square confusion matrix, got ", describe(confusion));
  const std::int64_t c = confusion.size(0);
  const std::vector<double> m = confusion.to_vector<double>();
  std::vector<double> out(static_cast<std::size_t>(c));
  for (std::int64_t i = 0; i < c; ++i) {
    double row = 0;
    for (std::int64_t j = 0; j < c; ++j) row += m[i * c + j];
    out[i] = row > 0 ? m[i * c + i] / row : std::numeric_limits<double>::quiet_NaN();
  }
  return out;
}

std::vector<double> per_class_accuracy(const Tensor& logits_or_preds, const Tensor& targets,
                                       std::int64_t num_classes) {
  return per_class_accuracy(confusion_matrix(logits_or_preds, targets, num_classes));
}

std::string format_confusion_matrix(const Tensor& confusion,
                                    const std::vector<std::string_view>& class_names) {
  const std::vector<double> acc = per_class_accuracy(confusion);
  const std::int64_t c = confusion.size(0);
  TG_CHECK(class_names.empty() || static_cast<std::int64_t>(class_names.size()) == c,
           "format_confusion_matrix: ", class_names.size(), " class names for ", c, " classes");
  const std::vector<std::int64_t> m = confusion.to_vector<std::int64_t>();
  std::size_t name_w = 5;  // "true\\"
  for (auto n : class_names) name_w = std::max(name_w, n.size());
  std::size_t cell_w = 3;
  for (auto v : m) cell_w = std::max(cell_w, std::to_string(v).size());
  auto pad = [](std::string s, std::size_t w) {
    return std::string(w > s.size() ? w - s.size() : 0, ' ') + s;
  };
  auto name = [&](std::int64_t i) {
    return class_names.empty() ? std::to_string(i) : std::string(class_names[i]);
  };
  std::string out = pad("true\\", name_w);
  // Appending piecewise: `" " + std::string` trips a false -Wrestrict in g++ 12.
  for (std::int64_t j = 0; j < c; ++j) out.append(" ").append(pad(std::to_string(j), cell_w));
  out += "  recall\n";
  for (std::int64_t i = 0; i < c; ++i) {
    out += pad(name(i), name_w);
    for (std::int64_t j = 0; j < c; ++j)
      out.append(" ").append(pad(std::to_string(m[i * c + j]), cell_w));
    char buf[32];
    std::snprintf(buf, sizeof buf, "  %.4f\n", acc[i]);
    out += buf;
  }
  return out;
}

double mae(const Tensor& prediction, const Tensor& target) {
  std::vector<double> t;
  const std::vector<double> p = values("mae", prediction, target, t);
  if (p.empty()) return 0.0;
  double s = 0;
  for (std::size_t i = 0; i < p.size(); ++i) s += std::abs(p[i] - t[i]);
  return s / static_cast<double>(p.size());
}

double rmse(const Tensor& prediction, const Tensor& target) {
  std::vector<double> t;
  const std::vector<double> p = values("rmse", prediction, target, t);
  if (p.empty()) return 0.0;
  double s = 0;
  for (std::size_t i = 0; i < p.size(); ++i) s += (p[i] - t[i]) * (p[i] - t[i]);
  return std::sqrt(s / static_cast<double>(p.size()));
}

Evaluation evaluate(data::DataLoader& loader, const std::function<Tensor(const Tensor&)>& forward,
                    const std::function<Tensor(const Tensor&, const Tensor&)>& loss_fn) {
  TG_CHECK(static_cast<bool>(forward), "evaluate: forward function is empty");
  NoGradGuard no_grad;
  Evaluation r;
  double loss_sum = 0.0;
  std::int64_t hits = 0;
  for (auto& [x, y] : loader) {
    const Tensor out = forward(x);
    const std::int64_t n = y.size(0);
    hits += correct(out, y);
    if (loss_fn) loss_sum += loss_fn(out, y).item<double>() * static_cast<double>(n);
    r.samples += n;
  }
  if (r.samples > 0) {
    r.accuracy = static_cast<double>(hits) / static_cast<double>(r.samples);
    r.loss = loss_fn ? loss_sum / static_cast<double>(r.samples) : 0.0;
  }
  return r;
}

}  // namespace tg::metrics
