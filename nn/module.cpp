#include "tapegrad/nn/module.h"

#include <cxxabi.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <ostream>
#include <set>
#include <sstream>
#include <typeinfo>

#include "tapegrad/core/detail/tensor_impl.h"
#include "tapegrad/core/error.h"
#include "tapegrad/core/grad_mode.h"

namespace tg::nn {
namespace {

// "tg::nn::Linear" -> "Linear", "(anonymous namespace)::Net" -> "Net"; template arguments kept.
std::string short_type_name(const std::type_info& type) {
  int status = 0;
  std::unique_ptr<char, void (*)(void*)> demangled(
      abi::__cxa_demangle(type.name(), nullptr, nullptr, &status), std::free);
  std::string full = status == 0 && demangled ? demangled.get() : type.name();
  int depth = 0;
  std::size_t start = 0;
  for (std::size_t i = 0; i < full.size(); ++i) {
    if (full[i] == '<' || full[i] == '(') ++depth;
    if (full[i] == '>' || full[i] == ')') --depth;
    if (depth == 0 && full.compare(i, 2, "::") == 0) start = i + 2;
  }
  return full.substr(start);
}

std::string with_commas(std::int64_t n) {
  std::string digits = std::to_string(n), out;
  for (std::size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return out;
}

std::string join(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& s : items) out += (out.empty() ? "" : ", ") + s;
  return out;
}

bool dtypes_compatible(Dtype have, Dtype want) {
  return have == want || (is_floating(have) && is_floating(want));
}

}  // namespace

Module::Module(Module&& other) noexcept
    : params_(std::move(other.params_)),
      buffers_(std::move(other.buffers_)),
      children_(std::move(other.children_)),
      training_(other.training_),
      owning_(other.owning_),
      birth_(other.birth_) {}

// ---- the registration check of operator() ----
namespace {
struct Frame {
  const Module* module;
  std::uint64_t birth_limit;  // modules born after this are locals of the running call
};
thread_local std::vector<Frame> call_stack;
std::atomic<std::uint64_t> births{0};
}  // namespace

std::uint64_t Module::next_birth() { return births.fetch_add(1, std::memory_order_relaxed) + 1; }

// Whether `this` is `ancestor` or one of its registered descendants (depth-first; module trees
// are small, and this runs once per module call).
bool Module::is_registered_under(const Module* ancestor) const {
  if (ancestor == this) return true;
  std::vector<const Module*> todo{ancestor};
  std::set<const Module*> seen;
  while (!todo.empty()) {
    const Module* m = todo.back();
    todo.pop_back();
    if (!seen.insert(m).second) continue;
    for (const auto& c : m->children_) {
      if (c.module == this) return true;
      todo.push_back(c.module);
    }
  }
  return false;
}

Module::CallScope::CallScope(Module& module) {
  if (!call_stack.empty()) {
    const Frame& caller = call_stack.back();
    // Registered anywhere under the outermost running module (shared and tied modules are
    // often registered higher up than where they are called), or made during the call.
    const bool ok = module.birth_ > call_stack.front().birth_limit ||
                    module.is_registered_under(call_stack.front().module);
    TG_CHECK(ok, caller.module->name(), ": its forward called a ", module.name(),
             " that is not registered under it, so that ", module.name(),
             "'s parameters and buffers would be left out of parameters(), the optimizer, ",
             "state_dict() and train()/eval(). Register it in ", caller.module->name(),
             "'s constructor: register_module(\"name\", member) or register_modules({{\"name\", ",
             "member}, ...}) (or hold it in a registered nn::Sequential or nn::ModuleList)");
  }
  call_stack.push_back({&module, births.load(std::memory_order_relaxed)});
}

Module::CallScope::~CallScope() { call_stack.pop_back(); }

Tensor Module::operator()(const Tensor& input) {
  CallScope scope(*this);
  return forward(input);
}

Tensor Module::forward(const Tensor&) {
  throw Error(detail::concat(name(), ": forward(const Tensor&) is not implemented; define ",
                             "`Tensor forward(const Tensor& x)` in the module, or call its own ",
                             "forward overload"));
}

void Module::check_new_name(const char* op, const std::string& name) const {
  TG_CHECK(!name.empty(), op, ": name must not be empty (module ", this->name(), ")");
  TG_CHECK(name.find('.') == std::string::npos, op, ": name '", name,
           "' must not contain '.' (dots separate submodule names)");
  const bool taken =
      std::any_of(params_.begin(), params_.end(), [&](const auto& p) { return p.first == name; }) ||
      std::any_of(buffers_.begin(), buffers_.end(),
                  [&](const auto& b) { return b.name == name; }) ||
      std::any_of(children_.begin(), children_.end(),
                  [&](const auto& c) { return c.name == name; });
  TG_CHECK(!taken, op, ": '", name, "' is already registered in ", this->name());
}

Tensor Module::register_parameter(std::string name, Tensor value, bool requires_grad) {
  check_new_name("register_parameter", name);
  TG_CHECK(value.defined(), "register_parameter: tensor for '", name, "' is undefined");
  TG_CHECK(!requires_grad || value.is_floating_point(), "register_parameter: '", name,
           "' has dtype ", value.dtype(),
           "; only floating-point parameters can require grad (pass requires_grad=false)");
  // A parameter is a leaf: results of recorded ops are detached (sharing storage).
  if (!value.is_leaf()) value = value.detach();
  value.requires_grad_(requires_grad);
  params_.emplace_back(std::move(name), value);
  return value;
}

Tensor Module::register_buffer(std::string name, Tensor value, bool persistent) {
  check_new_name("register_buffer", name);
  TG_CHECK(value.defined(), "register_buffer: tensor for '", name, "' is undefined");
  if (!value.is_leaf()) value = value.detach();
  buffers_.push_back({std::move(name), value, persistent});
  return value;
}

Module& Module::register_module(std::string name, Module& child) {
  TG_CHECK(!owning_, "register_module: ", this->name(),
           " is a movable OwningModule, so it cannot hold submodules by reference; register '",
           name, "' as a std::shared_ptr");
  TG_CHECK(&child != this, "register_module: ", this->name(), " cannot contain itself");
  check_new_name("register_module", name);
  children_.push_back({std::move(name), &child, nullptr});
  return child;
}

void Module::register_owned(std::string name, std::shared_ptr<Module> child) {
  TG_CHECK(child != nullptr, "register_module: submodule '", name, "' is null");
  TG_CHECK(child.get() != this, "register_module: ", this->name(), " cannot contain itself");
  check_new_name("register_module", name);
  Module* raw = child.get();
  children_.push_back({std::move(name), raw, std::move(child)});
}

void Module::register_modules(std::initializer_list<NamedChild> children) {
  for (const auto& c : children) register_module(c.name, c.module);
}

void Module::set_data(Tensor& target, const Tensor& value) {
  TG_CHECK(target.defined() && value.defined(), "set_data: both tensors must be defined");
  TG_CHECK(target.is_leaf(), "set_data: the target must be a leaf tensor (a parameter or buffer)");
  TensorImpl& t = *target.impl();
  const TensorImpl& v = *value.impl();
  TG_CHECK(!t.requires_grad || is_floating(v.dtype), "set_data: a tensor that requires grad ",
           "cannot take dtype ", v.dtype);
  t.storage = v.storage;
  t.shape = v.shape;
  t.strides = v.strides;
  t.offset = v.offset;
  t.dtype = v.dtype;
  // The old gradient and its accumulator node describe the old shape and dtype.
  t.grad.reset();
  t.grad_accumulator.reset();
}

// Calls f(prefix, module) on this module and every descendant, each module once.
template <typename F>
void Module::walk(const std::string& prefix, F&& f) const {
  std::set<const Module*> seen;
  std::vector<std::pair<std::string, const Module*>> stack{{prefix, this}};
  while (!stack.empty()) {
    auto [p, m] = stack.back();
    stack.pop_back();
    if (!seen.insert(m).second) continue;
    f(p, *m);
    // Push in reverse so children are visited in registration order.
    for (auto it = m->children_.rbegin(); it != m->children_.rend(); ++it)
      stack.emplace_back(p.empty() ? it->name : p + "." + it->name, it->module);
  }
}

NamedTensors Module::named_parameters(bool recurse) const {
  NamedTensors out;
  std::set<const TensorImpl*> seen;
  auto add = [&](const std::string& prefix, const Module& m) {
    for (const auto& [n, t] : m.params_)
      if (seen.insert(t.impl()).second) out.emplace_back(prefix.empty() ? n : prefix + "." + n, t);
  };
  if (recurse)
    walk("", add);
  else
    add("", *this);
  return out;
}

std::vector<Tensor> Module::parameters(bool recurse) const {
  std::vector<Tensor> out;
  for (auto& [n, t] : named_parameters(recurse)) out.push_back(t);
  return out;
}

NamedTensors Module::named_buffers(bool recurse) const {
  NamedTensors out;
  std::set<const TensorImpl*> seen;
  auto add = [&](const std::string& prefix, const Module& m) {
    for (const auto& b : m.buffers_)
      if (seen.insert(b.value.impl()).second)
        out.emplace_back(prefix.empty() ? b.name : prefix + "." + b.name, b.value);
  };
  if (recurse)
    walk("", add);
  else
    add("", *this);
  return out;
}

std::vector<Tensor> Module::buffers(bool recurse) const {
  std::vector<Tensor> out;
  for (auto& [n, t] : named_buffers(recurse)) out.push_back(t);
  return out;
}

std::vector<std::pair<std::string, Module*>> Module::named_children() const {
  std::vector<std::pair<std::string, Module*>> out;
  for (const auto& c : children_) out.emplace_back(c.name, c.module);
  return out;
}

std::vector<Module*> Module::children() const {
  std::vector<Module*> out;
  for (const auto& c : children_) out.push_back(c.module);
  return out;
}

std::vector<std::pair<std::string, Module*>> Module::named_modules() {
  std::vector<std::pair<std::string, Module*>> out;
  walk("", [&](const std::string& p, const Module& m) {
    out.emplace_back(p, const_cast<Module*>(&m));  // walk is const; this overload is not
  });
  return out;
}

std::vector<Module*> Module::modules() {
  std::vector<Module*> out;
  for (auto& [n, m] : named_modules()) out.push_back(m);
  return out;
}

std::int64_t Module::num_parameters(bool trainable_only) const {
  std::int64_t n = 0;
  for (const auto& p : parameters())
    if (!trainable_only || p.requires_grad()) n += p.numel();
  return n;
}

void Module::train(bool on) {
  training_ = on;
  for (auto& c : children_) c.module->train(on);
}

void Module::zero_grad(bool set_to_none) {
  for (const auto& p : parameters()) {
    Tensor g = p.grad();
    if (!g.defined()) continue;
    if (set_to_none) {
      p.zero_grad();
    } else if (g.grad_fn()) {
      p.set_grad(zeros_like(g));  // a create_graph gradient: do not write into its history
    } else {
      NoGradGuard guard;
      g.zero_();
    }
  }
}

Module& Module::apply(const std::function<void(Module&)>& fn) {
  for (auto& c : children_) c.module->apply(fn);
  fn(*this);
  return *this;
}

Module& Module::to(Dtype dtype) {
  TG_CHECK(is_floating(dtype), "Module::to: target dtype must be float32 or float64, got ", dtype);
  NoGradGuard guard;
  auto convert = [&](Tensor t) {
    if (t.is_floating_point() && t.dtype() != dtype) set_data(t, t.detach().to(dtype));
  };
  for (const auto& p : parameters()) convert(p);
  for (const auto& b : buffers()) convert(b);
  return *this;
}

StateDict Module::state_dict() const {
  StateDict out;
  for (const auto& [n, t] : named_parameters()) out.emplace(n, t.detach());
  std::set<const TensorImpl*> seen;
  walk("", [&](const std::string& prefix, const Module& m) {
    for (const auto& b : m.buffers_)
      if (b.persistent && seen.insert(b.value.impl()).second)
        out.emplace(prefix.empty() ? b.name : prefix + "." + b.name, b.value.detach());
  });
  return out;
}

LoadResult Module::load_state_dict(const StateDict& state, bool strict) {
  const StateDict expected = state_dict();  // handles that share storage with ours
  LoadResult result;
  std::vector<std::string> mismatched;
  for (const auto& [key, dst] : expected) {
    const auto it = state.find(key);
    if (it == state.end()) {
      result.missing_keys.push_back(key);
      continue;
    }
    const Tensor& src = it->second;
    if (!src.defined()) {
      mismatched.push_back(key + ": tensor is undefined");
    } else if (src.shape() != dst.shape()) {
      mismatched.push_back(key + ": expected shape " + shape_str(dst.shape()) + ", got " +
                           shape_str(src.shape()));
    } else if (!dtypes_compatible(src.dtype(), dst.dtype())) {
      mismatched.push_back(
          detail::concat(key, ": expected dtype ", dst.dtype(), ", got ", src.dtype()));
    }
  }
  for (const auto& [key, t] : state)
    if (!expected.count(key)) result.unexpected_keys.push_back(key);

  const bool key_errors =
      strict && (!result.missing_keys.empty() || !result.unexpected_keys.empty());
  if (key_errors || !mismatched.empty()) {
    std::ostringstream msg;
    msg << "load_state_dict: error(s) loading state dict into " << name() << ":";
    if (strict && !result.missing_keys.empty())
      msg << "\n  missing keys: " << join(result.missing_keys);
    if (strict && !result.unexpected_keys.empty())
      msg << "\n  unexpected keys: " << join(result.unexpected_keys);
    if (!mismatched.empty()) msg << "\n  mismatched: " << join(mismatched);
    throw Error(msg.str());
  }

  NoGradGuard guard;
  for (const auto& [key, dst] : expected) {
    const auto it = state.find(key);
    if (it == state.end()) continue;
    Tensor target = dst;
    target.copy_(it->second);
  }
  return result;
}

std::string Module::name() const { return short_type_name(typeid(*this)); }

void Module::pretty_print(std::ostream& os, int indent) const {
  const std::int64_t count = num_parameters();
  const std::string extra = extra_repr();
  const std::string pad(static_cast<std::size_t>(indent) + 2, ' ');
  os << name() << '(';
  if (children_.empty()) {
    os << extra << ')';
  } else {
    os << '\n';
    if (!extra.empty()) os << pad << extra << '\n';
    for (const auto& c : children_) {
      os << pad << '(' << c.name << "): ";
      c.module->pretty_print(os, indent + 2);
      os << '\n';
    }
    os << std::string(static_cast<std::size_t>(indent), ' ') << ')';
  }
  if (count > 0) os << "  [" << with_commas(count) << (count == 1 ? " param]" : " params]");
}

std::ostream& operator<<(std::ostream& os, const Module& module) {
  module.pretty_print(os);
  return os;
}

}  // namespace tg::nn
