// tg::distributed's collectives: each runs as a Work::Impl, and reductions add in rank order.
#include <algorithm>
#include <climits>
#include <cmath>
#include <utility>

#include "mpi_world.h"
#include "tapegrad/core/grad_mode.h"

namespace tg::distributed {

using internal::current;
using internal::mpi_mutex;

namespace {

enum class Kind { AllReduce, Broadcast, AllGather, ReduceScatter, AllGatherCoalesced };

const char* kind_name(Kind k) {
  switch (k) {
    case Kind::AllReduce:
      return "all_reduce";
    case Kind::Broadcast:
      return "broadcast";
    case Kind::AllGather:
      return "all_gather";
    case Kind::ReduceScatter:
      return "reduce_scatter";
    case Kind::AllGatherCoalesced:
      return "all_gather_coalesced";
  }
  return "collective";
}

int checked_count(Kind kind, std::int64_t n) {
  TG_CHECK(n <= INT_MAX, kind_name(kind), ": ", n, " elements exceed MPI's count limit (", INT_MAX,
           "); split the tensor");
  return static_cast<int>(n);
}

// dst[k] = op(a[k], b[k]) for n elements of dtype d (dst may be a or b), for a sum then divided
// by `divide_by` (Avg's last step, in the same pass). The order of a and b matters even for a
// sum: it decides which NaN payload survives, and max(+0, -0) keeps a.
void combine(Dtype d, ReduceOp op, void* dst, const void* a_, const void* b_, std::int64_t n,
             int divide_by = 1) {
  dispatch(d, [&]<typename T>() {
    T* out = static_cast<T*>(dst);
    const T* a = static_cast<const T*>(a_);
    const T* b = static_cast<const T*>(b_);
    switch (op) {
      case ReduceOp::Sum:
      case ReduceOp::Avg:
        if constexpr (std::is_integral_v<T> && std::is_signed_v<T>) {
          using U = std::make_unsigned_t<T>;  // wraps like PyTorch's integer sum, without UB
          for (std::int64_t k = 0; k < n; ++k)
            out[k] = static_cast<T>(static_cast<U>(a[k]) + static_cast<U>(b[k]));
        } else if (divide_by == 1) {
          for (std::int64_t k = 0; k < n; ++k) out[k] = static_cast<T>(a[k] + b[k]);
        } else {
          const T div = static_cast<T>(divide_by);
          for (std::int64_t k = 0; k < n; ++k)
            out[k] = static_cast<T>(static_cast<T>(a[k] + b[k]) / div);
        }
        break;
      case ReduceOp::Max:
        for (std::int64_t k = 0; k < n; ++k) {
          if constexpr (std::is_floating_point_v<T>) {
            if (std::isnan(a[k]) || std::isnan(b[k])) {  // NaN wins, as torch.maximum
              out[k] = std::numeric_limits<T>::quiet_NaN();
              continue;
            }
          }
          out[k] = std::max(a[k], b[k]);
        }
        break;
      case ReduceOp::Min:
        for (std::int64_t k = 0; k < n; ++k) {
          if constexpr (std::is_floating_point_v<T>) {
            if (std::isnan(a[k]) || std::isnan(b[k])) {
              out[k] = std::numeric_limits<T>::quiet_NaN();
              continue;
            }
          }
          out[k] = std::min(a[k], b[k]);
        }
        break;
    }
  });
}

}  // namespace

struct Work::Impl {
  Kind kind;
  ReduceOp op = ReduceOp::Sum;
  std::shared_ptr<ProcessGroup::State> state;
  Tensor target;  // the caller's tensor, written back when buf is a copy
  Tensor buf;     // contiguous data sent / gathered in place
  Tensor recv;    // the slices of every rank (reductions)
  Tensor out;     // all_gather / reduce_scatter result
  // Two ranks' all_reduce sends these (buf's pieces laid end to end) without packing them into
  // buf first; empty: buf itself is the one piece.
  std::vector<Tensor> pieces;
  // One collective, or (two ranks' all_reduce) a send and a receive per piece.
  std::vector<MPI_Request> reqs{MPI_REQUEST_NULL};
  // reduce_scatter_coalesced: an all_reduce that stops once this rank's shard is reduced.
  bool scatter_only = false;
  int phase = 0;            // 0: first transfer in flight, 1: second, 2: done
  bool first_done = false;  // a poll saw the first transfer complete
  std::vector<int> counts, displs, recv_counts, recv_displs;
  std::int64_t chunk = 0;

  // An all_reduce over two ranks runs point to point: each rank sends the half of the pieces
  // that the other reduces, adds its own half in rank order, and the halves are swapped back.
  // Every such all_reduce has its own pair of tags (both ranks start them in the same order),
  // so its second step may start whenever its first is done, in a poll too.
  bool pair_exchange() const {
    return (kind == Kind::AllReduce || kind == Kind::AllGatherCoalesced) && state->size == 2;
  }
  int tag = 0;
  // Elements [begin, end) of the tensor that rank j reduces.
  std::pair<std::int64_t, std::int64_t> half_of(int j) const {
    return shard_range(buf.numel(), j, 2);
  }
  // Calls f(piece, offset, begin, end) for the elements [begin, end) of each piece that fall
  // in [lo, hi) (positions in the whole tensor; the piece holds [offset, offset + numel)).
  template <typename F>
  void for_each_overlap(std::int64_t lo, std::int64_t hi, F&& f) const {
    std::int64_t offset = 0;
    for (const Tensor& piece : pieces) {
      const std::int64_t b = std::max(offset, lo), e = std::min(offset + piece.numel(), hi);
      if (e > b) f(piece, offset, b, e);
      offset += piece.numel();
    }
  }

  // Posts, for each piece's part in [lo, hi), a send of it to `peer` (or a receive into it).
  void post_pieces(bool send, int peer, std::int64_t lo, std::int64_t hi) {
    const std::size_t es = element_size(buf.dtype());
    for_each_overlap(lo, hi,
                     [&](const Tensor& piece, std::int64_t offset, std::int64_t b, std::int64_t e) {
                       reqs.emplace_back();
                       char* at = bytes(piece) + (b - offset) * es;
                       const int n = checked_count(kind, e - b);
                       if (send)
                         MPI_Isend(at, n, type(), peer, tag, state->comm, &reqs.back());
                       else
                         MPI_Irecv(at, n, type(), peer, tag, state->comm, &reqs.back());
                     });
  }
  // counts / displs: every rank's shard_range of n elements.
  void shard_counts(std::int64_t n) {
    const int W = state->size;
    counts.resize(W);
    displs.resize(W);
    for (int j = 0; j < W; ++j) {
      const auto [b, e] = shard_range(n, j, W);
      counts[j] = static_cast<int>(e - b);
      displs[j] = static_cast<int>(b);
    }
  }

  MPI_Datatype type() const { return state->element_type(element_size(buf.dtype())); }
  char* bytes(const Tensor& t) const { return static_cast<char*>(t.raw_data()); }

  void start() {
    std::lock_guard lock(mpi_mutex());
    const int W = state->size, r = state->rank;
    const std::int64_t n = buf.numel();
    const int count = checked_count(kind, n);
    switch (kind) {
      case Kind::AllReduce: {
        if (pair_exchange()) {
          const int peer = 1 - r;
          const std::size_t es = element_size(buf.dtype());
          tag = 2 * (state->pair_works++ % 8192);
          if (pieces.empty()) pieces.push_back(buf);
          const auto [lo, hi] = half_of(r);
          const auto [plo, phi] = half_of(peer);
          recv = empty({hi - lo}, buf.dtype());
          reqs.clear();
          // The peer's pieces lie as mine do: what it sends me covers my half as mine cover it.
          for_each_overlap(lo, hi,
                           [&](const Tensor&, std::int64_t, std::int64_t b, std::int64_t e) {
                             reqs.emplace_back();
                             MPI_Irecv(bytes(recv) + (b - lo) * es, checked_count(kind, e - b),
                                       type(), peer, tag, state->comm, &reqs.back());
                           });
          post_pieces(true, peer, plo, phi);
          if (reqs.empty()) reqs.push_back(MPI_REQUEST_NULL);
          break;
        }
        // Slice j of the tensor goes to rank j, which reduces it over ranks in order.
        shard_counts(count);
        recv = empty({std::int64_t{W} * counts[r]}, buf.dtype());
        recv_counts.assign(W, counts[r]);
        recv_displs.resize(W);
        for (int i = 0; i < W; ++i) recv_displs[i] = i * counts[r];
        MPI_Ialltoallv(buf.raw_data(), counts.data(), displs.data(), type(), recv.raw_data(),
                       recv_counts.data(), recv_displs.data(), type(), state->comm, &reqs[0]);
        break;
      }
      case Kind::AllGatherCoalesced: {
        if (pair_exchange()) {
          // Straight from and into the pieces: my shard out, the peer's in.
          const int peer = 1 - r;
          tag = 2 * (state->pair_works++ % 8192);
          const auto [lo, hi] = half_of(r);
          const auto [plo, phi] = half_of(peer);
          reqs.clear();
          post_pieces(false, peer, plo, phi);
          post_pieces(true, peer, lo, hi);
          if (reqs.empty()) reqs.push_back(MPI_REQUEST_NULL);
          break;
        }
        // buf already holds this rank's shard in place (packed by the caller); gather the rest.
        shard_counts(n);
        MPI_Iallgatherv(MPI_IN_PLACE, 0, type(), buf.raw_data(), counts.data(), displs.data(),
                        type(), state->comm, &reqs[0]);
        break;
      }
      case Kind::ReduceScatter: {
        chunk = n / W;
        recv = empty({n}, buf.dtype());
        const int c = checked_count(kind, chunk);
        MPI_Ialltoall(buf.raw_data(), c, type(), recv.raw_data(), c, type(), state->comm, &reqs[0]);
        break;
      }
      case Kind::Broadcast:
        MPI_Ibcast(buf.raw_data(), count, type(), src_, state->comm, &reqs[0]);
        break;
      case Kind::AllGather:
        MPI_Iallgather(buf.raw_data(), count, type(), out.raw_data(), count, type(), state->comm,
                       &reqs[0]);
        break;
    }
  }

  // Never starts a collective: ranks must start collectives in the same order, and the moment a
  // poll sees the first step done differs between ranks. So an all_reduce's second step (the
  // gather) starts in wait(), called in program order on every rank; only the two-rank
  // all_reduce, whose messages carry their own tags, starts its second step here.
  bool test() {
    if (phase == 2) return true;
    if (first_done) return false;
    int done = 0;
    {
      std::lock_guard lock(mpi_mutex());
      MPI_Testall(static_cast<int>(reqs.size()), reqs.data(), &done, MPI_STATUSES_IGNORE);
    }
    if (!done) return false;
    if (phase == 0 && kind == Kind::AllReduce && !pair_exchange() && !scatter_only) {
      first_done = true;
      return false;
    }
    if (phase == 0) {
      reduce_or_finish();  // local work only for the one-step collectives
    } else {
      phase = 2;
      finish();
    }
    return phase == 2;
  }

  void wait() {
    if (phase == 0) {
      if (!first_done) {
        std::lock_guard lock(mpi_mutex());
        MPI_Waitall(static_cast<int>(reqs.size()), reqs.data(), MPI_STATUSES_IGNORE);
      }
      reduce_or_finish();
    }
    if (phase == 1) {
      {
        std::lock_guard lock(mpi_mutex());
        MPI_Waitall(static_cast<int>(reqs.size()), reqs.data(), MPI_STATUSES_IGNORE);
      }
      phase = 2;
      finish();
    }
  }

  // dst = op over ranks of rows[0], rows[1], ... (count elements each), in rank order whatever
  // order they arrived in: ((x0 + x1) + x2) + ...
  void reduce_rows(char* dst, const std::vector<const char*>& rows, std::int64_t count) {
    const Dtype d = buf.dtype();
    const int W = static_cast<int>(rows.size());
    const int divide_by = op == ReduceOp::Avg ? W : 1;
    if (W == 1) {
      std::copy_n(rows[0], static_cast<std::size_t>(count) * element_size(d), dst);
      return;
    }
    for (int i = 1; i < W; ++i)
      combine(d, op, dst, i == 1 ? rows[0] : dst, rows[i], count, i == W - 1 ? divide_by : 1);
  }
  // The W rows of `count` elements in recv.
  std::vector<const char*> received_rows(std::int64_t count) const {
    std::vector<const char*> rows;
    const std::size_t row = static_cast<std::size_t>(count) * element_size(buf.dtype());
    for (int i = 0; i < state->size; ++i) rows.push_back(bytes(recv) + i * row);
    return rows;
  }

  // The first transfer has completed: reduce, then start the gather (all_reduce) or finish.
  void reduce_or_finish() {
    if (kind == Kind::AllGatherCoalesced) {
      if (!pair_exchange()) unpack_gathered();
    } else if (pair_exchange()) {
      const int r = state->rank, peer = 1 - r;
      const std::size_t es = element_size(buf.dtype());
      const auto [lo, hi] = half_of(r);
      const auto [plo, phi] = half_of(peer);
      for_each_overlap(
          lo, hi, [&](const Tensor& piece, std::int64_t offset, std::int64_t b, std::int64_t e) {
            const char* mine = bytes(piece) + (b - offset) * es;
            const char* other = bytes(recv) + (b - lo) * es;
            reduce_rows(bytes(buf) + b * es,
                        r == 0 ? std::vector{mine, other} : std::vector{other, mine}, e - b);
          });
      pieces.clear();
      recv = Tensor();
      if (!scatter_only) {
        // The second step: swap the reduced halves, straight into place.
        std::lock_guard lock(mpi_mutex());
        reqs.assign(2, MPI_REQUEST_NULL);
        MPI_Irecv(bytes(buf) + plo * es, checked_count(kind, phi - plo), type(), peer, tag + 1,
                  state->comm, &reqs[0]);
        MPI_Isend(bytes(buf) + lo * es, checked_count(kind, hi - lo), type(), peer, tag + 1,
                  state->comm, &reqs[1]);
        phase = 1;
        return;
      }
    } else if (kind == Kind::AllReduce) {
      const int r = state->rank;
      reduce_rows(bytes(buf) + static_cast<std::size_t>(displs[r]) * element_size(buf.dtype()),
                  received_rows(counts[r]), counts[r]);
      recv = Tensor();
      if (!scatter_only) {
        std::lock_guard lock(mpi_mutex());
        MPI_Iallgatherv(MPI_IN_PLACE, 0, type(), buf.raw_data(), counts.data(), displs.data(),
                        type(), state->comm, &reqs[0]);
        phase = 1;
        return;
      }
    } else if (kind == Kind::ReduceScatter) {
      reduce_rows(bytes(out), received_rows(chunk), chunk);
      recv = Tensor();
    }
    phase = 2;
    finish();
  }

  // all_gather_coalesced over 3+ ranks: copy the other ranks' shards from buf into the pieces.
  void unpack_gathered() {
    const int W = state->size, r = state->rank;
    const std::size_t es = element_size(buf.dtype());
    NoGradGuard guard;
    for (int j = 0; j < W; ++j) {
      if (j == r) continue;
      const auto [lo, hi] = shard_range(buf.numel(), j, W);
      for_each_overlap(
          lo, hi, [&](const Tensor& piece, std::int64_t offset, std::int64_t b, std::int64_t e) {
            std::copy_n(bytes(buf) + b * es, static_cast<std::size_t>(e - b) * es,
                        bytes(piece) + (b - offset) * es);
          });
    }
    pieces.clear();
  }

  void finish() {
    if (target.defined() && !target.is_same(buf)) {
      NoGradGuard guard;
      Tensor t = target.detach();
      t.copy_(buf);
    }
    buf = Tensor();
    target = Tensor();
  }

  int src_ = 0;
};

Work::Work() = default;
Work::Work(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Work::Work(Work&&) noexcept = default;
Work& Work::operator=(Work&& other) noexcept {
  if (this != &other) {
    if (impl_) impl_->wait();
    impl_ = std::move(other.impl_);
  }
  return *this;
}
Work::~Work() {
  if (impl_ && impl_->phase != 2) impl_->wait();
}
void Work::wait() {
  if (impl_) impl_->wait();
}
bool Work::is_completed() const { return !impl_ || impl_->test(); }
Tensor Work::result() const {
  TG_CHECK(impl_ && impl_->phase == 2, "Work::result: call wait() first");
  return impl_->out;
}

namespace {

// A contiguous buffer for `t`: t itself when it is contiguous (results land in place).
std::unique_ptr<Work::Impl> make_work(Kind kind, const Tensor& t, ReduceOp op) {
  TG_CHECK(t.defined(), kind_name(kind), ": undefined tensor");
  auto w = std::make_unique<Work::Impl>();
  w->kind = kind;
  w->op = op;
  w->state = current(kind_name(kind));
  if (op == ReduceOp::Avg)
    TG_CHECK(is_floating(t.dtype()), kind_name(kind),
             ": ReduceOp::Avg needs a floating-point tensor, got ", t.dtype());
  Tensor d = t.detach();
  w->buf = d.is_contiguous() ? d : d.contiguous();
  return w;
}

}  // namespace

Work all_reduce_async(Tensor tensor, ReduceOp op) {
  auto w = make_work(Kind::AllReduce, tensor, op);
  w->target = tensor.detach();
  if (w->target.is_contiguous()) w->buf = w->target;
  w->start();
  return Work(std::move(w));
}

void all_reduce(Tensor& tensor, ReduceOp op) { all_reduce_async(tensor, op).wait(); }

namespace {

// all_reduce_coalesced / reduce_scatter_coalesced: `tensors` laid end to end, reduced into out.
Work coalesced_reduction(const char* name, const std::vector<Tensor>& tensors, Tensor out,
                         ReduceOp op, bool scatter_only) {
  auto w = make_work(Kind::AllReduce, out, op);
  w->scatter_only = scatter_only;
  TG_CHECK(out.dim() == 1 && out.is_contiguous(), name,
           ": the output must be a contiguous 1-D tensor, got ", shape_str(out.shape()));
  std::int64_t total = 0;
  for (const Tensor& t : tensors) {
    TG_CHECK(t.defined(), name, ": undefined tensor");
    TG_CHECK(t.dtype() == out.dtype(), name, ": every tensor must be ", out.dtype(),
             " like the output, got ", t.dtype());
    total += t.numel();
  }
  TG_CHECK(total == out.numel(), name, ": the tensors hold ", total, " elements but the output ",
           out.numel());
  w->buf = out.detach();
  std::int64_t offset = 0;
  for (const Tensor& t : tensors) {
    Tensor piece = t.detach().reshape({t.numel()});  // a copy only when t is not contiguous
    Tensor slot = w->buf.narrow(0, offset, t.numel());
    offset += t.numel();
    if (piece.raw_data() == slot.raw_data() && t.numel() > 0) {
      w->pieces.push_back(slot);  // already in place
    } else if (w->state->size == 2) {
      w->pieces.push_back(piece);
    } else {
      NoGradGuard guard;
      slot.copy_(piece);
      w->pieces.push_back(slot);
    }
  }
  if (w->state->size != 2) w->pieces.clear();  // packed: buf is the one piece
  w->start();
  return Work(std::move(w));
}

}  // namespace

std::pair<std::int64_t, std::int64_t> shard_range(std::int64_t n, int rank, int world) {
  TG_CHECK(n >= 0 && world >= 1 && rank >= 0 && rank < world, "shard_range: rank ", rank,
           " of a world of ", world, " over ", n, " elements");
  const std::int64_t base = n / world, extra = n % world;
  const std::int64_t begin = rank * base + std::min<std::int64_t>(rank, extra);
  return {begin, begin + base + (rank < extra ? 1 : 0)};
}

Work all_reduce_coalesced_async(const std::vector<Tensor>& tensors, Tensor out, ReduceOp op) {
  return coalesced_reduction("all_reduce_coalesced", tensors, std::move(out), op, false);
}

Work reduce_scatter_coalesced_async(const std::vector<Tensor>& tensors, Tensor out, ReduceOp op) {
  return coalesced_reduction("reduce_scatter_coalesced", tensors, std::move(out), op, true);
}

Work all_gather_coalesced_async(const std::vector<Tensor>& tensors) {
  const char* name = "all_gather_coalesced";
  TG_CHECK(!tensors.empty(), name, ": no tensors");
  const Dtype dtype = tensors.front().defined() ? tensors.front().dtype() : kFloat32;
  std::int64_t total = 0;
  for (const Tensor& t : tensors) {
    TG_CHECK(t.defined(), name, ": undefined tensor");
    TG_CHECK(t.dtype() == dtype, name, ": every tensor must be ", dtype, ", got ", t.dtype());
    TG_CHECK(t.is_contiguous(), name,
             ": the tensors are written in place and must be "
             "contiguous, got one of shape ",
             shape_str(t.shape()), " that is not");
    total += t.numel();
  }
  auto w = std::make_unique<Work::Impl>();
  w->kind = Kind::AllGatherCoalesced;
  w->state = current(name);
  for (const Tensor& t : tensors) w->pieces.push_back(t.detach().reshape({t.numel()}));
  if (w->state->size == 2) {
    w->buf = empty({total}, dtype);  // only its size and dtype are used
  } else {
    // Packed: this rank's shard is copied into buf, which gathers the others' around it.
    w->buf = empty({total}, dtype);
    const auto [lo, hi] = shard_range(total, w->state->rank, w->state->size);
    const std::size_t es = element_size(dtype);
    w->for_each_overlap(
        lo, hi, [&](const Tensor& piece, std::int64_t offset, std::int64_t b, std::int64_t e) {
          std::copy_n(w->bytes(piece) + (b - offset) * es, static_cast<std::size_t>(e - b) * es,
                      w->bytes(w->buf) + b * es);
        });
  }
  w->start();
  return Work(std::move(w));
}

Work broadcast_async(Tensor tensor, int src) {
  auto w = make_work(Kind::Broadcast, tensor, ReduceOp::Sum);
  TG_CHECK(src >= 0 && src < w->state->size, "broadcast: source rank ", src,
           " is outside the world of ", w->state->size, " processes");
  w->src_ = src;
  w->target = tensor.detach();
  if (w->target.is_contiguous()) w->buf = w->target;
  w->start();
  return Work(std::move(w));
}

void broadcast(Tensor& tensor, int src) { broadcast_async(tensor, src).wait(); }

Work all_gather_async(const Tensor& tensor) {
  auto w = make_work(Kind::AllGather, tensor, ReduceOp::Sum);
  Shape shape = tensor.shape();
  shape.insert(shape.begin(), w->state->size);
  w->out = empty(shape, tensor.dtype());
  w->start();
  return Work(std::move(w));
}

Tensor all_gather(const Tensor& tensor) {
  Work w = all_gather_async(tensor);
  w.wait();
  return w.result();
}

Work reduce_scatter_async(const Tensor& input, ReduceOp op) {
  auto w = make_work(Kind::ReduceScatter, input, op);
  const int W = w->state->size;
  TG_CHECK(input.dim() >= 1 && input.size(0) % W == 0, "reduce_scatter: the first dimension of ",
           shape_str(input.shape()), " must be a multiple of the world size ", W);
  Shape shape = input.shape();
  shape[0] /= W;
  w->out = empty(shape, input.dtype());
  w->start();
  return Work(std::move(w));
}

Tensor reduce_scatter(const Tensor& input, ReduceOp op) {
  Work w = reduce_scatter_async(input, op);
  w.wait();
  return w.result();
}

std::vector<std::string> all_gather_string(const std::string& value) {
  auto s = current("all_gather_string");
  std::lock_guard lock(mpi_mutex());
  const int len = checked_count(Kind::AllGather, static_cast<std::int64_t>(value.size()));
  std::vector<int> lens(s->size), displs(s->size);
  MPI_Allgather(&len, 1, MPI_INT, lens.data(), 1, MPI_INT, s->comm);
  int total = 0;
  for (int i = 0; i < s->size; ++i) {
    displs[i] = total;
    total += lens[i];
  }
  std::string all(static_cast<std::size_t>(total), '\0');
  MPI_Allgatherv(value.data(), len, MPI_CHAR, all.data(), lens.data(), displs.data(), MPI_CHAR,
                 s->comm);
  std::vector<std::string> out;
  for (int i = 0; i < s->size; ++i) out.push_back(all.substr(displs[i], lens[i]));
  return out;
}

}  // namespace tg::distributed
