#pragma once
// Containers that own their submodules: Sequential (chains forward) and ModuleList (holds).
//
//   nn::Sequential mlp{nn::Linear(2, 16), nn::ReLU(), nn::Linear(16, 1)};
//   mlp.push_back(nn::Sigmoid());
//   auto y = mlp(x);
//   mlp.at<nn::Linear>(0).weight;  // typed access
//
// Modules are taken by value (moved in; every layer of nn/ is movable) or as std::shared_ptr
// (to share one with other code). Children are named "0", "1", ... unless named explicitly.
#include <cstddef>
#include <memory>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "tapegrad/core/error.h"
#include "tapegrad/nn/module.h"

namespace tg::nn {

namespace detail {
// A std::shared_ptr<Module subclass> for a module value (moved into place) or a shared_ptr.
template <typename M>
auto to_shared(M&& m) {
  using D = std::decay_t<M>;
  if constexpr (std::is_base_of_v<Module, D>) {
    static_assert(!std::is_lvalue_reference_v<M>,
                  "containers take modules by value: std::move the module, or pass a shared_ptr");
    return std::make_shared<D>(std::forward<M>(m));
  } else {
    static_assert(std::is_base_of_v<Module, typename D::element_type>,
                  "containers hold nn::Module subclasses");
    return D(std::forward<M>(m));
  }
}
}  // namespace detail

// Holds submodules in order and gives indexed, typed access; has no forward of its own.
class ModuleList : public OwningModule {
 public:
  ModuleList() = default;
  template <typename... Ms>
  requires(sizeof...(Ms) > 0) explicit ModuleList(Ms&&... modules) {
    (push_back(std::forward<Ms>(modules)), ...);
  }

  // Appends a module (by value or shared_ptr); returns a reference to the stored one.
  template <typename M>
  auto& push_back(M&& module) {
    return push_back(std::to_string(items_.size()), std::forward<M>(module));
  }
  template <typename M>
  auto& push_back(std::string name, M&& module) {
    auto ptr = detail::to_shared(std::forward<M>(module));
    register_module(std::move(name), ptr);
    items_.push_back(ptr);
    return *ptr;
  }

  std::size_t size() const { return items_.size(); }
  bool empty() const { return items_.empty(); }
  Module& operator[](std::size_t i) const { return *ptr(i); }
  std::shared_ptr<Module> ptr(std::size_t i) const {
    TG_CHECK(i < items_.size(), name(), ": index ", i, " is out of range for ", items_.size(),
             " modules");
    return items_[i];
  }
  // The i-th module as an M, or an error naming the type it is.
  template <typename M>
  M& at(std::size_t i) const {
    auto* m = dynamic_cast<M*>(ptr(i).get());
    TG_CHECK(m != nullptr, name(), ": module ", i, " is a ", items_[i]->name(),
             ", not the requested type");
    return *m;
  }
  auto begin() const { return items_.begin(); }
  auto end() const { return items_.end(); }

 protected:
  std::vector<std::shared_ptr<Module>> items_;
};

// Chains its modules: forward(x) = m_n(...m_1(m_0(x))).
class Sequential : public ModuleList {
 public:
  Sequential() = default;
  template <typename... Ms>
  requires(sizeof...(Ms) > 0) explicit Sequential(Ms&&... modules)
      : ModuleList(std::forward<Ms>(modules)...) {}

  Tensor forward(const Tensor& input) override;
};

}  // namespace tg::nn
