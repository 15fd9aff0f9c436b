#pragma once
// User-defined ops in the shape of torch::autograd::Function:
//
//   struct SmoothStep : tg::Function<SmoothStep> {
//     static constexpr const char* name = "smooth_step";        // optional, for messages
//     static tg::Tensor forward(tg::AutogradContext& ctx, const tg::Tensor& x) {
//       ctx.save_for_backward({x});
//       return x * x * (3.0 - 2.0 * x);
//     }
//     static tg::grads backward(tg::AutogradContext& ctx, const tg::grads& g) {
//       auto x = ctx.saved()[0];
//       return {g[0] * 6.0 * x * (1.0 - x)};
//     }
//   };
//   tg::Tensor y = SmoothStep::apply(x);
//
// forward runs without recording; backward gets one gradient per output and returns one per
// Tensor argument of forward (undefined for none: a zero gradient). Written with tapegrad ops,
// backward is itself differentiable, so gradgradcheck works too.
// As in PyTorch, returning more gradients is allowed only if the extra ones are undefined; a
// wrong count or a gradient that does not reduce to its input's shape is an error, and one of
// another dtype is converted. Unlike PyTorch, non-Tensor arguments get no slot (PyTorch wants a
// None for each); the extra undefined slots a PyTorch-style backward returns are accepted.
#include <algorithm>
#include <any>
#include <map>
#include <memory>
#include <string>
#include <type_traits>
#include <vector>

#include "tapegrad/core/autograd.h"

namespace tg {

class AutogradContext {
 public:
  void save_for_backward(std::vector<Tensor> tensors) { to_save_ = std::move(tensors); }
  // The saved tensors (valid inside backward); checked against in-place changes.
  const std::vector<Tensor>& saved() const { return saved_; }
  // Non-tensor values for backward, e.g. ctx.data["alpha"] = 0.5.
  std::map<std::string, std::any> data;
  bool needs_input_grad(std::size_t i) const { return i < needs_.size() && needs_[i]; }

 private:
  template <typename>
  friend struct Function;
  std::vector<Tensor> to_save_;
  std::vector<Tensor> saved_;
  std::vector<bool> needs_;
};

template <typename Derived>
struct Function {
  template <typename... Args>
  static auto apply(Args&&... args) {
    std::vector<Tensor> inputs;
    (collect(inputs, args), ...);
    auto ctx = std::make_shared<AutogradContext>();
    for (const auto& in : inputs) ctx->needs_.push_back(in.defined() && in.requires_grad());

    using Result = decltype(Derived::forward(*ctx, std::forward<Args>(args)...));
    Result result = [&] {
      NoGradGuard guard;
      return Derived::forward(*ctx, std::forward<Args>(args)...);
    }();
    std::vector<Tensor> outputs;
    if constexpr (std::is_same_v<Result, Tensor>)
      outputs = {result};
    else
      outputs = result;
    // An output that is an input handle must become its own tensor before it gets a grad_fn.
    for (auto& out : outputs)
      for (const auto& in : inputs)
        if (out.is_same(in)) out = out.detach();

    std::vector<Tensor> to_save = std::move(ctx->to_save_);
    ctx->to_save_.clear();
    auto recorded = autograd::record_multi(
        op_name(), inputs, std::move(outputs), to_save,
        [ctx](const grads& grad_outputs, const autograd::Saved& saved) {
          ctx->saved_.clear();
          for (std::size_t i = 0; i < saved.size(); ++i) ctx->saved_.push_back(saved[i]);
          grads g = Derived::backward(*ctx, grad_outputs);
          ctx->saved_.clear();
          const std::size_t expected = ctx->needs_.size();
          if (g.size() > expected &&
              std::all_of(g.begin() + static_cast<std::ptrdiff_t>(expected), g.end(),
                          [](const Tensor& t) { return !t.defined(); }))
            g.resize(expected);
          TG_CHECK(g.size() == expected, op_name(),
                   ": backward returned an incorrect number of gradients (expected ", expected,
                   ", one per Tensor argument of forward; got ", g.size(), ")");
          return g;
        });
    if constexpr (std::is_same_v<Result, Tensor>)
      return recorded[0];
    else
      return recorded;
  }

 private:
  static std::string op_name() {
    if constexpr (requires { Derived::name; })
      return std::string(Derived::name);
    else
      return "custom_op";
  }
  template <typename A>
  static void collect(std::vector<Tensor>& inputs, const A& a) {
    if constexpr (std::is_convertible_v<const A&, const Tensor&>) inputs.push_back(a);
  }
};

}  // namespace tg
