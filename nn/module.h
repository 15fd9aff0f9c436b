#pragma once
// nn::Module: the base of every layer and network. A module registers its parameters, buffers
// and submodules by name, so parameters(), state_dict(), train()/eval(), to(dtype) and printing
// need no per-class code and no macros:
//
//   struct Net : nn::Module {
//     nn::Linear fc1{784, 128}, fc2{128, 10};
//     Net() { register_modules({{"fc1", fc1}, {"fc2", fc2}}); }
//     Tensor forward(const Tensor& x) { return fc2(relu(fc1(x))); }
//   };
//
// Ownership. Submodules held by value as members are registered by reference; the parent keeps
// a pointer to them. Such a parent must therefore stay where it is: Module is neither copyable
// nor movable, so `Net a = std::move(b)` does not compile (hold networks in place or by
// std::shared_ptr). Layers that own everything they register (every layer in nn/, Sequential and
// ModuleList included) derive from OwningModule, which is movable: that is what lets
// `Sequential{Linear(2, 8), ReLU(), Linear(8, 1)}` take layers by value. An OwningModule owns
// its submodules through std::shared_ptr and may not register members by reference.
//
// Parameters are Tensors (shared handles): the module, its owner's parameters() list and an
// optimizer all hold the same tensors, so in-place updates are seen everywhere.
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <iosfwd>
#include <memory>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "tapegrad/core/state_dict.h"
#include "tapegrad/core/tensor.h"

namespace tg::nn {

using NamedTensors = std::vector<std::pair<std::string, Tensor>>;

// What a non-strict load_state_dict skipped.
struct LoadResult {
  std::vector<std::string> missing_keys;
  std::vector<std::string> unexpected_keys;
};

class OwningModule;

class Module {
 public:
  Module() = default;
  virtual ~Module() = default;
  Module(const Module&) = delete;
  Module& operator=(const Module&) = delete;
  Module& operator=(Module&&) = delete;

  // The computation. Modules with one tensor input override this (a plain
  // `Tensor forward(const Tensor&)` in a derived struct does); modules with other signatures
  // define their own forward and operator() instead.
  virtual Tensor forward(const Tensor& input);
  // Runs forward. Called inside another module's call, this module must be registered under
  // that module (or one of its registered descendants), or have been made during that call:
  // otherwise it is a tg::Error naming both, since its parameters would be left out of
  // parameters(), the optimizer and state_dict() without a word. Calling `net.forward(x)`
  // directly skips the check for `net`'s children: call `net(x)`, as in PyTorch.
  Tensor operator()(const Tensor& input);

  // Marks this module as running for the registration check above; a module whose call
  // operator takes other arguments (a loss taking input and target) holds one while it runs:
  //   Tensor operator()(const Tensor& a, const Tensor& b) { CallScope scope(*this); ... }
  class CallScope {
   public:
    explicit CallScope(Module& module);
    ~CallScope();
    CallScope(const CallScope&) = delete;
    CallScope& operator=(const CallScope&) = delete;
  };

  // ---- registration (names: non-empty, no '.', unique within this module) ----
  // Stores `value` as a parameter (a leaf; requires grad unless told otherwise) and returns the
  // same tensor handle, to keep as a member: `w = register_parameter("w", randn({3, 4}));`.
  Tensor register_parameter(std::string name, Tensor value, bool requires_grad = true);
  // Buffers are state that is not trained (running statistics). Non-persistent buffers are
  // left out of state_dict().
  Tensor register_buffer(std::string name, Tensor value, bool persistent = true);
  // Registers a submodule held by this module as a member (by reference; see the note above).
  Module& register_module(std::string name, Module& child);
  // Registers a submodule this module owns.
  template <typename M>
  std::shared_ptr<M> register_module(std::string name, std::shared_ptr<M> child) {
    static_assert(std::is_base_of_v<Module, M>, "register_module: not an nn::Module");
    register_owned(std::move(name), child);
    return child;
  }
  struct NamedChild {
    std::string name;
    Module& module;
  };
  void register_modules(std::initializer_list<NamedChild> children);

  // Replaces the value of an already registered parameter or buffer in place (same handle, so
  // optimizers keep seeing it): the tensor adopts `value`'s storage, shape and dtype and drops
  // its gradient.
  static void set_data(Tensor& target, const Tensor& value);

  // ---- traversal (registration order; shared tensors and modules listed once) ----
  std::vector<Tensor> parameters(bool recurse = true) const;
  NamedTensors named_parameters(bool recurse = true) const;
  std::vector<Tensor> buffers(bool recurse = true) const;
  NamedTensors named_buffers(bool recurse = true) const;
  std::vector<Module*> children() const;
  std::vector<std::pair<std::string, Module*>> named_children() const;
  // This module first, then every descendant depth-first (names "" for self, then "fc1", ...).
  std::vector<Module*> modules();
  std::vector<std::pair<std::string, Module*>> named_modules();
  // Total number of parameter elements (each shared tensor counted once).
  std::int64_t num_parameters(bool trainable_only = false) const;

  // ---- mode and state ----
  // Sets training mode here and in every descendant (dropout and batch norm read it).
  virtual void train(bool on = true);
  void eval() { train(false); }
  bool is_training() const { return training_; }
  // Drops every parameter's .grad (set_to_none), or zeroes it in place.
  void zero_grad(bool set_to_none = true);
  // Calls fn on every descendant, then on this module (PyTorch's order).
  Module& apply(const std::function<void(Module&)>& fn);
  // Converts floating-point parameters and buffers to `dtype` in place (same handles; call it
  // before building an optimizer, whose state would not follow).
  Module& to(Dtype dtype);

  // Parameters and persistent buffers by dotted name. The tensors share storage with the
  // module's (detached): clone them to keep a snapshot.
  StateDict state_dict() const;
  // Copies values into the registered tensors (converting between float dtypes). Checks
  // everything before changing anything. strict: missing and unexpected keys are errors; shape
  // or dtype mismatches always are. The error lists every offending key.
  LoadResult load_state_dict(const StateDict& state, bool strict = true);

  // ---- printing ----
  // Type name shown when printing ("Linear"); defaults to the demangled class name.
  virtual std::string name() const;
  // Layer settings shown in parentheses ("in_features=2, out_features=3, bias=true").
  virtual std::string extra_repr() const { return {}; }
  void pretty_print(std::ostream& os, int indent = 0) const;

 private:
  friend class OwningModule;
  // Moves the registry; only OwningModule (which registers nothing by reference) exposes it.
  Module(Module&& other) noexcept;

  struct Child {
    std::string name;
    Module* module;
    std::shared_ptr<Module> owned;  // null when registered by reference
  };
  struct Buffer {
    std::string name;
    Tensor value;
    bool persistent;
  };
  void register_owned(std::string name, std::shared_ptr<Module> child);
  void check_new_name(const char* op, const std::string& name) const;
  template <typename F>
  void walk(const std::string& prefix, F&& f) const;

  NamedTensors params_;
  std::vector<Buffer> buffers_;
  std::vector<Child> children_;
  bool training_ = true;
  bool owning_ = false;
  // Construction order (a global count): a module made after its caller's call began is a
  // local of that forward, which needs no registration.
  std::uint64_t birth_ = next_birth();
  static std::uint64_t next_birth();
  bool is_registered_under(const Module* ancestor) const;
};

// A module that owns everything it registers, and so can be moved (see the note at the top).
class OwningModule : public Module {
 protected:
  OwningModule() { owning_ = true; }
  OwningModule(OwningModule&& other) noexcept : Module(std::move(other)) {}
  OwningModule& operator=(OwningModule&&) = delete;
};

// The module tree with parameter counts, e.g.
//   Net(
//     (fc1): Linear(in_features=784, out_features=128, bias=true)  [100,480 params]
//     (fc2): Linear(in_features=128, out_features=10, bias=true)  [1,290 params]
//   )  [101,770 params]
std::ostream& operator<<(std::ostream& os, const Module& module);

}  // namespace tg::nn
