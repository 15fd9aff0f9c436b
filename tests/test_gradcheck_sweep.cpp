// Sweeps the op table: every sample is gradchecked (and gradgradchecked where marked), and every
// node name recorded anywhere in ops/ must be reached by some sample's graph.
#define BOOST_TEST_MODULE gradcheck_sweep
#include <boost/test/unit_test.hpp>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <regex>
#include <set>
#include <sstream>

#include <tapegrad/tapegrad.h>

#include "sweep/op_table.h"
#include "tapegrad/core/detail/autograd.h"  // walks the recorded graph (Node::next_edges)

using namespace tg;

namespace {

// Node names in the graph below `roots`.
void collect_names(const std::vector<Tensor>& roots, std::set<std::string>& names) {
  std::vector<autograd::Node*> stack;
  std::set<autograd::Node*> seen;
  for (const auto& r : roots)
    if (r.defined() && tg::detail::grad_fn(r) && seen.insert(tg::detail::grad_fn(r).get()).second)
      stack.push_back(tg::detail::grad_fn(r).get());
  while (!stack.empty()) {
    auto* n = stack.back();
    stack.pop_back();
    names.insert(std::string(n->name()));
    for (const auto& e : n->next_edges)
      if (e.node && seen.insert(e.node.get()).second) stack.push_back(e.node.get());
  }
}

// Every `record("name"` and `record_multi("name"` in ops/*.cpp.
std::set<std::string> recorded_names() {
  std::set<std::string> names;
  const std::regex pattern(R"re(record(?:_multi)?\(\s*"([A-Za-z0-9_]+)")re");
  for (const auto& entry :
       std::filesystem::recursive_directory_iterator(std::string(TAPEGRAD_SOURCE_DIR) + "/ops")) {
    if (entry.path().extension() != ".cpp") continue;
    std::ifstream in(entry.path());
    std::stringstream text;
    text << in.rdbuf();
    const std::string s = text.str();
    for (std::sregex_iterator it(s.begin(), s.end(), pattern), end; it != end; ++it)
      names.insert((*it)[1].str());
  }
  return names;
}

// Runs one sample's checks: the graph it records (first and second order), gradcheck and
// gradgradcheck. Returns how many tensors are still alive once all of it is gone: a backward
// closure that captures a Tensor (instead of saving it through record's saved list) forms a
// cycle node -> closure -> tensor -> node whenever that tensor is the op's output or holds it,
// and the whole graph leaks.
std::int64_t check_sample(const sweep::OpSample& s, std::set<std::string>& covered) {
  const std::int64_t before = memory_stats().live_tensors;
  {
    const auto inputs = s.make_inputs();
    // Record which nodes the sample's first- and second-order graphs contain.
    const Tensor out = s.fn(inputs);
    collect_names({out}, covered);
    std::vector<Tensor> diff;
    for (const auto& x : inputs)
      if (x.requires_grad()) diff.push_back(x);
    if (out.requires_grad() && s.gradgrad) {
      // A grad_output that requires grad makes backward-of-backward nodes appear too.
      const auto g = grad({out}, diff, {ones_like(out).requires_grad_()}, true, true, true);
      collect_names(g, covered);
    }
    GradcheckOptions opt;
    opt.eps = s.eps;
    gradcheck(s.fn, inputs, opt);
    if (s.gradgrad) gradgradcheck(s.fn, inputs, opt);
  }
  return memory_stats().live_tensors - before;
}

std::string leak_message(const std::string& what, std::int64_t leaked) {
  return what + ": " + std::to_string(leaked) +
         " tensors are still alive after the sample's graphs were freed: a backward closure of "
         "this op captures a Tensor (pass it through record's saved list instead)";
}

}  // namespace

BOOST_AUTO_TEST_CASE(every_op_sample_passes_gradcheck_and_every_node_is_covered) {
  std::set<std::string> covered, ops;
  int samples = 0, failures = 0;
  for (auto factory : sweep::factories()) {
    for (const auto& s : factory()) {
      ++samples;
      ops.insert(s.op);
      const std::string what = s.op + " [" + s.label + "]";
      try {
        if (const std::int64_t leaked = check_sample(s, covered); leaked != 0) {
          ++failures;
          BOOST_ERROR(leak_message(what, leaked));
        }
      } catch (const std::exception& e) {
        ++failures;
        BOOST_ERROR(what << ": " << e.what());
      }
    }
  }
  std::vector<std::string> missing;
  for (const auto& name : recorded_names())
    if (!covered.count(name)) missing.push_back(name);
  for (const auto& m : missing)
    BOOST_ERROR("node '" << m << "' is recorded in ops/ but no sample reaches it");
  BOOST_TEST(samples > 0);
  if (failures == 0 && missing.empty())
    std::cout << "gradcheck sweep: " << covered.size() << " ops, " << samples
              << " samples, all passed\n";
  else
    std::cout << "gradcheck sweep: " << covered.size() << " ops, " << samples << " samples, "
              << failures << " failed, " << missing.size() << " nodes without samples\n";
}

namespace {
// Ops whose table samples need no edge-value case: shape and indexing ops only move, copy or
// select values (a NaN or inf goes where any value goes; their gradients are routed, never
// computed from values); dropout draws random numbers; matmul/addmm/linear are GEMMs (IEEE
// arithmetic of BLAS) and batch_norm a layer, outside the elementwise/reduction/loss families.
const std::set<std::string> kNoEdgeCases = {
    "cat", "chunk", "clone", "contiguous", "expand", "gather", "index_select", "pad", "permute",
    "repeat", "scatter_add", "select", "slice", "split", "stack", "tile", "to_dtype", "unsqueeze",
    "view", "dropout", "masked_fill", "matmul", "addmm", "linear", "batch_norm", "batch_norm_eval",
    "as_strided",
    "CopySlices",  // views and the region write of an in-place op on a view: data movement
    "dropout2d",   // random channel mask times x (a mul, whose edge values are checked)
    // Sequence ops: embedding moves rows; the attention modules are compositions of ops
    // (scaled_dot_product_attention, layer_norm, linear) that have their own edge cases.
    "embedding", "multihead_attention", "transformer_encoder_layer",
    "unbind",  // data movement
    "LSTM",    // the layers compose the cells' nodes, whose edge cases are checked
    "GRU", "RNN"};

// NaN matches NaN, infinities match exactly, finite values to 1e-12 relative.
bool same_value(double got, double want) {
  if (std::isnan(want)) return std::isnan(got);
  if (std::isinf(want)) return got == want;
  return std::abs(got - want) <= 1e-12 * std::max(1.0, std::abs(want));
}

std::string list(const std::vector<double>& v) {
  std::ostringstream s;
  s << "[";
  for (std::size_t i = 0; i < v.size(); ++i) s << (i ? ", " : "") << v[i];
  return s.str() + "]";
}

void expect_values(const std::string& what, const Tensor& got_t, const std::vector<double>& want) {
  const auto got = got_t.to(kFloat64).contiguous().to_vector<double>();
  bool ok = got.size() == want.size();
  for (std::size_t i = 0; ok && i < got.size(); ++i) ok = same_value(got[i], want[i]);
  if (!ok) BOOST_ERROR(what << ": got " << list(got) << ", PyTorch gives " << list(want));
}
}  // namespace

// The leak check above must catch an op that breaks the rule: this one captures its own output
// in its backward closure (the node then owns the tensor that owns the node).
BOOST_AUTO_TEST_CASE(the_sweep_catches_a_backward_closure_that_captures_a_tensor) {
  // The closure reaches its own output through `holder`: a cycle the test breaks at the end,
  // so that LeakSanitizer sees no leak.
  auto holder = std::make_shared<Tensor>();
  auto leaky_square = [holder](const Tensor& x) {
    Tensor y = x.detach() * x.detach();
    Tensor out = autograd::record("leaky_square", {x}, y, {x},
                                  [holder](const Tensor& g, const autograd::Saved& s) {
                                    return grads{g * 2.0 * s[0] + 0.0 * holder->sum()};
                                  });
    *holder = out;
    return out;
  };
  sweep::OpSample leaky{"leaky_square", "captures its output",
                        [&](const sweep::In& in) { return leaky_square(in[0]); },
                        [] { return sweep::In{sweep::rnd({3})}; }, false};
  std::set<std::string> covered;
  const std::int64_t leaked = check_sample(leaky, covered);
  BOOST_TEST(leaked > 0);
  BOOST_TEST(leak_message("leaky_square [captures its output]", leaked)
                 .find("leaky_square [captures its output]: ") == 0u);
  *holder = Tensor();  // breaks the cycle

  // The same op saving its tensor the right way leaks nothing.
  sweep::OpSample clean{
      "square", "saved through record",
      [](const sweep::In& in) {
        return autograd::record(
            "square_ok", {in[0]}, in[0].detach() * in[0].detach(), {in[0]},
            [](const Tensor& g, const autograd::Saved& s) { return grads{g * 2.0 * s[0]}; });
      },
      [] { return sweep::In{sweep::rnd({3})}; }, false};
  BOOST_TEST(check_sample(clean, covered) == 0);
}

BOOST_AUTO_TEST_CASE(every_op_matches_pytorch_at_nan_inf_and_zero) {
  std::set<std::string> sampled, edged;
  for (auto factory : sweep::factories())
    for (const auto& s : factory()) sampled.insert(s.op);
  int cases = 0;
  for (auto factory : sweep::edge_factories()) {
    for (const auto& c : factory()) {
      ++cases;
      edged.insert(c.op);
      const std::string what = c.op + " [" + c.label + "]";
      try {
        sweep::In inputs;
        std::vector<Tensor> diff;
        for (const auto& in : c.inputs) {
          Tensor t = from_vector(in.values).reshape(in.shape);
          if (in.requires_grad) {
            t.requires_grad_();
            diff.push_back(t);
          }
          inputs.push_back(t);
        }
        const Tensor out = c.fn(inputs);
        expect_values(what + " value", out, c.value);
        if (diff.empty()) continue;
        BOOST_REQUIRE_MESSAGE(out.requires_grad(), what << ": the result does not require grad");
        const auto g = grad({out}, diff, {ones_like(out)}, false, false, true);
        std::size_t k = 0;
        for (std::size_t i = 0; i < c.inputs.size(); ++i) {
          if (!c.inputs[i].requires_grad) continue;
          const Tensor gi = g[k++];
          expect_values(what + " gradient of input " + std::to_string(i),
                        gi.defined() ? gi : zeros_like(inputs[i]), c.grads.at(i));
        }
      } catch (const std::exception& e) {
        BOOST_ERROR(what << ": " << e.what());
      }
    }
  }
  for (const auto& op : sampled)
    if (!edged.count(op) && !kNoEdgeCases.count(op))
      BOOST_ERROR("op '" << op << "' has table samples but no NaN/inf/0 edge case");
  std::cout << "edge-value sweep: " << edged.size() << " ops, " << cases
            << " cases against PyTorch 1.13\n";
}
