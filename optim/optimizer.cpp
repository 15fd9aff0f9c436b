#include "tapegrad/optim/optimizer.h"

#include <algorithm>
#include <sstream>

#include "tapegrad/core/error.h"

namespace tg::optim {

Tensor Optimizer::step(const std::function<Tensor()>& closure) {
  TG_CHECK(static_cast<bool>(closure), "Optimizer::step: the closure is empty");
  Tensor loss;
  {
    EnableGradGuard guard;
    loss = closure();
  }
  step();
  return loss;
}

void Optimizer::zero_grad(bool set_to_none) {
  for (std::size_t g = 0; g < num_param_groups(); ++g) {
    for (const auto& p : params(g)) {
      Tensor grad = p.grad();
      if (!grad.defined()) continue;
      if (set_to_none) {
        p.zero_grad();
      } else if (grad.grad_fn()) {
        p.set_grad(zeros_like(grad));  // a create_graph gradient: leave its history alone
      } else {
        NoGradGuard guard;
        grad.zero_();
      }
    }
  }
}

std::vector<Tensor> Optimizer::parameters() const {
  std::vector<Tensor> out;
  for (std::size_t g = 0; g < num_param_groups(); ++g)
    out.insert(out.end(), params(g).begin(), params(g).end());
  return out;
}

void Optimizer::set_lr(double lr) {
  for (std::size_t g = 0; g < num_param_groups(); ++g) set_lr(g, lr);
}

namespace detail {

void check_params(const std::vector<Tensor>& existing, const std::vector<Tensor>& added) {
  // Pairwise is_same (once per group added, so quadratic cost only at construction).
  auto listed = [](const std::vector<Tensor>& list, std::size_t n, const Tensor& p) {
    return std::any_of(list.begin(), list.begin() + static_cast<std::ptrdiff_t>(n),
                       [&](const Tensor& q) { return q.is_same(p); });
  };
  for (std::size_t i = 0; i < added.size(); ++i) {
    const Tensor& p = added[i];
    TG_CHECK(p.defined(), "optimizer: parameter ", i, " of the group is undefined");
    TG_CHECK(p.is_floating_point(), "optimizer: parameter ", i, " has dtype ", p.dtype(),
             "; only floating-point tensors can be optimized");
    TG_CHECK(p.is_leaf(), "optimizer: parameter ", i, " of shape ", shape_str(p.shape()),
             " is not a leaf tensor (it was computed by an op); optimize leaves only");
    TG_CHECK(!listed(existing, existing.size(), p) && !listed(added, i, p), "optimizer: parameter ",
             i, " of shape ", shape_str(p.shape()),
             " appears more than once across parameter groups");
  }
}

Tensor scalar_of(double v) { return scalar_tensor(v, kFloat64); }
Tensor scalar_of(bool v) { return scalar_tensor(v ? 1.0 : 0.0, kUInt8); }
Tensor scalar_of(std::int64_t v) { return from_blob(&v, {}, kInt64); }

namespace {
void check_scalar(const std::string& key, const Tensor& t, Dtype want) {
  TG_CHECK(t.defined() && t.numel() == 1 && t.dim() == 0 && t.dtype() == want, "load_state_dict: '",
           key, "' must be a 0-dim ", want, " tensor, got ",
           t.defined() ? tg::detail::concat(t.dtype(), " of shape ", shape_str(t.shape()))
                       : std::string("an undefined tensor"));
}
}  // namespace

void read_scalar(const std::string& key, const Tensor& t, double& v) {
  check_scalar(key, t, kFloat64);
  v = t.item<double>();
}
void read_scalar(const std::string& key, const Tensor& t, bool& v) {
  check_scalar(key, t, kUInt8);
  const auto b = t.item<std::uint8_t>();
  TG_CHECK(b <= 1, "load_state_dict: '", key, "' must be 0 or 1, got ", int(b));
  v = b == 1;
}
void read_scalar(const std::string& key, const Tensor& t, std::int64_t& v) {
  check_scalar(key, t, kInt64);
  v = t.item<std::int64_t>();
}

Tensor read_state_tensor(const std::string& key, const Tensor& t, const Tensor& param) {
  TG_CHECK(t.defined(), "load_state_dict: '", key, "' is undefined");
  TG_CHECK(t.shape() == param.shape(), "load_state_dict: '", key, "' has shape ",
           shape_str(t.shape()), " but its parameter has shape ", shape_str(param.shape()));
  TG_CHECK(t.is_floating_point(), "load_state_dict: '", key, "' has dtype ", t.dtype(),
           "; optimizer state is floating-point");
  NoGradGuard guard;
  return t.detach().to(param.dtype()).contiguous().clone();  // never aliases the caller's
}

Tensor grad_of(const char* op, const Tensor& p) {
  Tensor g = p.grad();
  if (!g.defined()) return g;
  TG_CHECK(g.shape() == p.shape() && g.dtype() == p.dtype(), op, ": gradient of shape ",
           shape_str(g.shape()), " (", g.dtype(), ") does not match its parameter of shape ",
           shape_str(p.shape()), " (", p.dtype(), ")");
  return g.is_contiguous() ? g.detach() : g.detach().contiguous();
}

void check_state(const char* op, const Tensor& p, std::initializer_list<Tensor> state) {
  for (const auto& t : state)
    TG_CHECK(!t.defined() || (t.dtype() == p.dtype() && t.shape() == p.shape()), op,
             ": the optimizer state of a parameter is ", t.dtype(), " ", shape_str(t.shape()),
             " but the parameter is now ", p.dtype(), " ", shape_str(p.shape()),
             " (convert the module with to() before creating the optimizer)");
}

void throw_bad_keys(const char* op, const std::vector<std::string>& missing,
                    const std::vector<std::string>& unexpected) {
  std::ostringstream msg;
  msg << op << ": the state dict does not match this optimizer:";
  auto list = [&](const char* what, const std::vector<std::string>& keys) {
    if (keys.empty()) return;
    msg << "\n  " << what << ": ";
    for (std::size_t i = 0; i < keys.size(); ++i) msg << (i ? ", " : "") << keys[i];
  };
  list("missing keys", missing);
  list("unexpected keys", unexpected);
  throw Error(msg.str());
}

}  // namespace detail
}  // namespace tg::optim
