// Sweeps the op table: every sample is gradchecked (and gradgradchecked where marked), and every
// node name recorded anywhere in ops/ must be reached by some sample's graph.
#define BOOST_TEST_MODULE gradcheck_sweep
#include <boost/test/unit_test.hpp>

#include <filesystem>
#include <fstream>
#include <iostream>
#include <regex>
#include <set>
#include <sstream>

#include "sweep/op_table.h"

using namespace tg;

namespace {

// Node names in the graph below `roots`.
void collect_names(const std::vector<Tensor>& roots, std::set<std::string>& names) {
  std::vector<autograd::Node*> stack;
  std::set<autograd::Node*> seen;
  for (const auto& r : roots)
    if (r.defined() && r.grad_fn() && seen.insert(r.grad_fn().get()).second)
      stack.push_back(r.grad_fn().get());
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
      } catch (const std::exception& e) {
        ++failures;
        BOOST_ERROR(what << ": " << e.what());
      }
    }
  }
  std::vector<std::string> missing;
  for (const auto& name : recorded_names())
    if (!covered.count(name)) missing.push_back(name);
  for (const auto& m : missing) BOOST_ERROR("node '" << m << "' is recorded in ops/ but no sample reaches it");
  BOOST_TEST(samples > 0);
  if (failures == 0 && missing.empty())
    std::cout << "gradcheck sweep: " << covered.size() << " ops, " << samples
              << " samples, all passed\n";
  else
    std::cout << "gradcheck sweep: " << covered.size() << " ops, " << samples << " samples, "
              << failures << " failed, " << missing.size() << " nodes without samples\n";
}
