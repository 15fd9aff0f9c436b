#pragma once
// The one strided-iteration helper behind every elementwise kernel.
//
// map_kernel<Out, In...>(out, {in...}, f) writes out[i] = f(in[i]...) for tensors that already
// have out's shape (broadcast inputs are passed as expand()ed views with stride 0). Adjacent
// dims are coalesced; when every operand is contiguous the loop is a flat, vectorizable one;
// above a grain size the work is split over oneTBB threads.
#include <array>
#include <cstddef>
#include <cstdint>
#include <tuple>
#include <utility>

#include "tapegrad/core/detail/tensor_impl.h"
#include "tapegrad/core/threading.h"

namespace tg::detail {

// A view of t with `shape` (t's shape broadcast to it: stride 0 on new or size-1 dims), sharing
// storage and recording nothing. Kernels use it to feed broadcast operands to map_kernel.
inline Tensor broadcast_view(const Tensor& t, const Shape& shape) {
  if (t.shape() == shape) return t;
  const std::size_t n = shape.size(), k = t.shape().size();
  Shape strides(n, 0);
  for (std::size_t i = 0; i < k; ++i) {
    const std::size_t d = n - k + i;
    strides[d] = t.shape()[i] == 1 && shape[d] != 1 ? 0 : t.strides()[i];
  }
  const auto* impl = t.impl();
  return Tensor(std::make_shared<TensorImpl>(impl->storage, shape, std::move(strides), impl->offset,
                                             impl->dtype));
}

template <std::size_t N>
struct LoopPlan {
  Shape shape;                          // coalesced, innermost last
  std::array<Shape, N> strides;         // in elements, per operand
  std::array<std::byte*, N> base{};     // first element of each operand
  std::array<std::int64_t, N> esize{};  // element sizes in bytes
};

template <std::size_t N>
LoopPlan<N> make_plan(const std::array<const Tensor*, N>& ops) {
  LoopPlan<N> p;
  const Shape& shape = ops[0]->shape();
  for (std::size_t k = 0; k < N; ++k) {
    p.base[k] = static_cast<std::byte*>(ops[k]->raw_data());
    p.esize[k] = static_cast<std::int64_t>(element_size(ops[k]->dtype()));
  }
  // Drop size-1 dims, then merge dim i into i+1 where every operand is contiguous across them.
  for (std::size_t d = 0; d < shape.size(); ++d) {
    if (shape[d] == 1) continue;
    if (!p.shape.empty()) {
      bool mergeable = true;
      for (std::size_t k = 0; k < N; ++k)
        mergeable = mergeable && p.strides[k].back() == ops[k]->strides()[d] * shape[d];
      if (mergeable) {
        p.shape.back() *= shape[d];
        for (std::size_t k = 0; k < N; ++k) p.strides[k].back() = ops[k]->strides()[d];
        continue;
      }
    }
    p.shape.push_back(shape[d]);
    for (std::size_t k = 0; k < N; ++k) p.strides[k].push_back(ops[k]->strides()[d]);
  }
  if (p.shape.empty()) {
    p.shape.push_back(1);
    for (std::size_t k = 0; k < N; ++k) p.strides[k].push_back(0);
  }
  return p;
}

// Calls inner(ptrs, inner_strides_in_elements, count) over contiguous runs of the innermost dim.
template <std::size_t N, typename Inner>
void for_each_run(const LoopPlan<N>& p, std::int64_t grain, Inner&& inner) {
  const std::int64_t nd = static_cast<std::int64_t>(p.shape.size());
  const std::int64_t inner_n = p.shape.back();
  std::int64_t total = 1;
  for (auto s : p.shape) total *= s;
  std::array<std::int64_t, N> istride{};
  for (std::size_t k = 0; k < N; ++k) istride[k] = p.strides[k].back();

  parallel_for(total, grain, [&](std::int64_t begin, std::int64_t end) {
    // Multi-index of `begin`.
    Shape idx(nd, 0);
    std::int64_t rem = begin;
    for (std::int64_t d = nd - 1; d >= 0; --d) {
      idx[d] = rem % p.shape[d];
      rem /= p.shape[d];
    }
    std::int64_t pos = begin;
    while (pos < end) {
      std::array<std::byte*, N> ptr;
      for (std::size_t k = 0; k < N; ++k) {
        std::int64_t off = 0;
        for (std::int64_t d = 0; d < nd; ++d) off += idx[d] * p.strides[k][d];
        ptr[k] = p.base[k] + off * p.esize[k];
      }
      const std::int64_t count = std::min(end - pos, inner_n - idx[nd - 1]);
      inner(ptr, istride, count);
      pos += count;
      idx[nd - 1] += count;
      for (std::int64_t d = nd - 1; d > 0 && idx[d] == p.shape[d]; --d) {
        idx[d] = 0;
        ++idx[d - 1];
      }
    }
  });
}

template <typename Out, typename... In, typename F, std::size_t... I>
void map_kernel_impl(const Tensor& out, const std::array<const Tensor*, sizeof...(In)>& ins, F& f,
                     std::int64_t grain, std::index_sequence<I...>) {
  constexpr std::size_t N = sizeof...(In) + 1;
  std::array<const Tensor*, N> ops{&out, ins[I]...};
  const auto plan = make_plan<N>(ops);
  for_each_run<N>(plan, grain,
                  [&](const std::array<std::byte*, N>& ptr, const std::array<std::int64_t, N>& st,
                      std::int64_t n) {
                    Out* o = reinterpret_cast<Out*>(ptr[0]);
                    const std::tuple<const In*...> in{reinterpret_cast<const In*>(ptr[I + 1])...};
                    const bool contiguous = st[0] == 1 && ((st[I + 1] == 1) && ...);
                    if (contiguous) {
                      // The fast path: plain pointers, vectorizable.
                      for (std::int64_t i = 0; i < n; ++i) o[i] = f(std::get<I>(in)[i]...);
                    } else {
                      for (std::int64_t i = 0; i < n; ++i)
                        o[i * st[0]] = f(std::get<I>(in)[i * st[I + 1]]...);
                    }
                  });
}

// out must be allocated with the result shape; inputs must already have that shape (expand).
template <typename Out, typename... In, typename F>
void map_kernel(const Tensor& out, std::array<const Tensor*, sizeof...(In)> ins, F f,
                std::int64_t grain = kElementwiseGrain) {
  if (out.numel() == 0) return;
  map_kernel_impl<Out, In...>(out, ins, f, grain, std::index_sequence_for<In...>{});
}

}  // namespace tg::detail
