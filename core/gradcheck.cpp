#include "tapegrad/core/gradcheck.h"

#include <cmath>
#include <sstream>

#include "tapegrad/core/autograd.h"
#include "tapegrad/core/detail/tensor_impl.h"
#include "tapegrad/core/random.h"

namespace tg {
namespace {

// Storage offset of the k-th element (row-major order) of t.
std::int64_t element_offset(const Tensor& t, std::int64_t k) {
  std::int64_t off = t.offset();
  for (auto d = t.dim() - 1; d >= 0; --d) {
    off += (k % t.shape()[d]) * t.strides()[d];
    k /= t.shape()[d];
  }
  return off;
}

double& element(const Tensor& t, std::int64_t k) {
  return static_cast<double*>(t.impl()->storage->data())[element_offset(t, k)];
}

std::vector<Tensor> float_outputs(const GradcheckFn& fn, const std::vector<Tensor>& inputs) {
  std::vector<Tensor> outs;
  for (auto& o : fn(inputs))
    if (o.defined() && o.is_floating_point()) outs.push_back(o);
  return outs;
}

}  // namespace

bool gradcheck(const GradcheckFn& fn, const std::vector<Tensor>& inputs,
               const GradcheckOptions& opt) {
  std::vector<std::size_t> diff;  // indices of inputs that require grad
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    const Tensor& x = inputs[i];
    if (!x.defined() || !x.requires_grad()) continue;
    TG_CHECK(x.dtype() == kFloat64, "gradcheck: input ", i, " has dtype ", x.dtype(),
             "; finite differences need float64 inputs");
    for (std::int64_t d = 0; d < x.dim(); ++d)
      TG_CHECK(x.strides()[d] != 0 || x.shape()[d] <= 1, "gradcheck: input ", i,
               " has overlapping memory (an expanded view); pass a contiguous copy");
    diff.push_back(i);
  }
  TG_CHECK(!diff.empty(), "gradcheck: no input requires grad");
  std::vector<Tensor> diff_inputs;
  for (auto i : diff) diff_inputs.push_back(inputs[i]);

  const std::vector<Tensor> outputs = float_outputs(fn, inputs);
  auto fail = [&](const std::string& msg) {
    if (opt.raise_exception) throw Error("gradcheck: " + msg);
    return false;
  };

  for (std::size_t o = 0; o < outputs.size(); ++o) {
    const Tensor& out = outputs[o];
    const std::int64_t n_out = out.numel();
    // Analytic Jacobian, one row per output element: analytic[r][input][k].
    std::vector<std::vector<std::vector<double>>> analytic(static_cast<std::size_t>(n_out));
    for (std::int64_t r = 0; r < n_out; ++r) {
      auto& row = analytic[r];
      row.resize(diff.size());
      if (!out.requires_grad()) {
        for (std::size_t j = 0; j < diff.size(); ++j)
          row[j].assign(static_cast<std::size_t>(diff_inputs[j].numel()), 0.0);
        continue;
      }
      std::vector<double> one(static_cast<std::size_t>(n_out), 0.0);
      one[r] = 1.0;
      const Tensor v = from_vector(one).reshape(out.shape()).to(out.dtype());
      auto g = grad({out}, diff_inputs, {v}, /*retain_graph=*/true, false, /*allow_unused=*/true);
      for (std::size_t j = 0; j < diff.size(); ++j)
        row[j] = g[j].defined()
                     ? g[j].to_vector<double>()
                     : std::vector<double>(static_cast<std::size_t>(diff_inputs[j].numel()), 0.0);
    }
    // Numeric Jacobian, column by column.
    for (std::size_t j = 0; j < diff.size(); ++j) {
      const Tensor& x = diff_inputs[j];
      for (std::int64_t k = 0; k < x.numel(); ++k) {
        std::vector<double> plus, minus;
        {
          NoGradGuard guard;
          double& e = element(x, k);
          const double orig = e;
          e = orig + opt.eps;
          plus = float_outputs(fn, inputs)[o].to_vector<double>();
          e = orig - opt.eps;
          minus = float_outputs(fn, inputs)[o].to_vector<double>();
          e = orig;
        }
        for (std::int64_t r = 0; r < n_out; ++r) {
          const double numeric = (plus[r] - minus[r]) / (2.0 * opt.eps);
          const double a = analytic[r][j][k];
          if (!(std::abs(a - numeric) <= opt.atol + opt.rtol * std::abs(numeric))) {
            std::ostringstream os;
            os.precision(10);
            os << "Jacobian mismatch for output " << o << " element " << r << " w.r.t. input "
               << diff[j] << " element " << k << " (input shape " << shape_str(x.shape())
               << "): analytic=" << a << " numeric=" << numeric;
            return fail(os.str());
          }
        }
      }
    }
  }
  return true;
}

bool gradcheck(const std::function<Tensor(const std::vector<Tensor>&)>& fn,
               const std::vector<Tensor>& inputs, const GradcheckOptions& options) {
  return gradcheck(
      GradcheckFn([&](const std::vector<Tensor>& in) { return std::vector<Tensor>{fn(in)}; }),
      inputs, options);
}

bool gradgradcheck(const GradcheckFn& fn, const std::vector<Tensor>& inputs,
                   const GradcheckOptions& options) {
  std::vector<std::size_t> diff;
  for (std::size_t i = 0; i < inputs.size(); ++i)
    if (inputs[i].defined() && inputs[i].requires_grad()) diff.push_back(i);
  TG_CHECK(!diff.empty(), "gradgradcheck: no input requires grad");
  // Fixed random weights v for the outputs (own generator: the global stream is untouched).
  Generator gen(1234);
  std::vector<Tensor> vs;
  for (const auto& o : float_outputs(fn, inputs)) {
    std::vector<double> vals(static_cast<std::size_t>(o.numel()));
    for (auto& v : vals) v = gen.normal();
    vs.push_back(from_vector(vals).reshape(o.shape()).requires_grad_());
  }
  const std::size_t n_in = inputs.size();
  std::vector<Tensor> all = inputs;
  all.insert(all.end(), vs.begin(), vs.end());
  GradcheckFn first_order = [&](const std::vector<Tensor>& args) {
    EnableGradGuard enable;  // gradcheck evaluates numeric columns under no_grad
    std::vector<Tensor> in(args.begin(), args.begin() + static_cast<std::ptrdiff_t>(n_in));
    std::vector<Tensor> v(args.begin() + static_cast<std::ptrdiff_t>(n_in), args.end());
    std::vector<Tensor> outs = float_outputs(fn, in);
    std::vector<Tensor> used_outs, used_v, diff_in;
    for (std::size_t i = 0; i < outs.size(); ++i)
      if (outs[i].requires_grad()) {
        used_outs.push_back(outs[i]);
        used_v.push_back(v[i]);
      }
    for (auto i : diff) diff_in.push_back(in[i]);
    if (used_outs.empty()) {
      std::vector<Tensor> z;
      for (auto& x : diff_in) z.push_back(zeros_like(x));
      return z;
    }
    auto g = grad(used_outs, diff_in, used_v, true, /*create_graph=*/true, /*allow_unused=*/true);
    for (std::size_t i = 0; i < g.size(); ++i)
      if (!g[i].defined()) g[i] = zeros_like(diff_in[i]);
    return g;
  };
  return gradcheck(first_order, all, options);
}

bool gradgradcheck(const std::function<Tensor(const std::vector<Tensor>&)>& fn,
                   const std::vector<Tensor>& inputs, const GradcheckOptions& options) {
  return gradgradcheck(
      GradcheckFn([&](const std::vector<Tensor>& in) { return std::vector<Tensor>{fn(in)}; }),
      inputs, options);
}

}  // namespace tg
