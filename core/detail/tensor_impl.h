#pragma once
// TensorImpl: the state behind a Tensor handle. Internal: the library's .cpp files read and write
// these fields; users go through Tensor's methods.
#include <atomic>
#include <cstdint>
#include <memory>
#include <utility>
#include <vector>

#include "tapegrad/core/detail/storage.h"
#include "tapegrad/core/tensor.h"

namespace tg {
namespace autograd {
class Node;
}

struct TensorImpl {
  TensorImpl(std::shared_ptr<Storage> storage, Shape shape, Shape strides, std::int64_t offset,
             Dtype dtype);
  ~TensorImpl();
  TensorImpl(const TensorImpl&) = delete;
  TensorImpl& operator=(const TensorImpl&) = delete;

  std::shared_ptr<Storage> storage;
  Shape shape;
  Shape strides;        // in elements
  std::int64_t offset;  // in elements
  Dtype dtype;

  // Autograd state.
  bool requires_grad = false;                      // meaningful for leaves
  std::shared_ptr<autograd::Node> grad_fn;         // set on results of recorded ops
  std::uint32_t output_nr = 0;                     // which output of grad_fn this is
  std::shared_ptr<TensorImpl> grad;                // accumulated gradient (leaves, retain_grad)
  std::weak_ptr<autograd::Node> grad_accumulator;  // leaves: the node that fills .grad
  bool retains_grad = false;
  // Leaf hooks (non-leaf hooks live on grad_fn), shared so a backward pass can run a snapshot.
  std::vector<std::pair<int, std::shared_ptr<GradHook>>> hooks;
  int next_hook_id = 0;
  std::vector<std::pair<int, std::shared_ptr<PostAccumulateGradHook>>> post_accumulate_hooks;

  // View tracking (core/view_tracking.h). A view made by a view op keeps its base (the
  // tensor that owns the memory, never itself a view) so that an in-place op on the view can
  // rewrite the base's history, and a view whose memory changed re-derives its grad_fn from the
  // base. view_version is the storage version at which grad_fn was last derived.
  std::shared_ptr<TensorImpl> view_base;
  std::atomic<std::uint32_t> view_version{0};
  std::uint8_t view_creation = 0;  // detail::ViewCreation
  const char* view_op = nullptr;   // the op that made a multi-output view, for messages
};

}  // namespace tg
