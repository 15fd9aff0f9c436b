#pragma once
// tg::distributed: processes started by `mpirun -np N ./program` that train one model together
// (PyTorch's torch.distributed, on MPI). Part of the optional tapegrad::distributed library
// (built when CMake finds OpenMPI); no MPI header is included here.
//
//   tg::distributed::ProcessGroup world;   // joins the job mpirun started (or a job of one)
//   tg::distributed::all_reduce(t, tg::distributed::ReduceOp::Avg);
//
// Determinism: sums and averages are combined in rank order, never in the order messages
// arrive (two ranks swap their tensors and each adds x0 + x1; from three ranks on, each rank
// reduces one slice of the tensor over ranks 0, 1, ..., N-1, then the slices are gathered), so
// a result is bit-identical on every rank and from run to run, and equal to one process adding
// the same N tensors in rank order.
//
// Collectives are not recorded by autograd; they take tensors of any dtype, contiguous or not,
// and write results back in place like PyTorch's. Every rank must call the same collectives in
// the same order (MPI's rule); a rank that throws ends the whole job (see ProcessGroup).
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "tapegrad/core/tensor.h"

namespace tg::distributed {

enum class ReduceOp { Sum, Avg, Max, Min };

// The world of processes mpirun started. Constructing the first ProcessGroup initialises MPI;
// when the last one is destroyed MPI is finalised. If it is destroyed while an exception is
// propagating, the whole job is aborted instead (MPI_Abort), so the other ranks never wait
// forever in a collective for this one; an exception that leaves main aborts the job too.
// A program started without mpirun is a world of one process.
//
// Threads: with several ranks on one machine each rank defaults to its share of the cores
// (cores / local ranks, at least 1) so ranks do not oversubscribe; set_num_threads after
// construction overrides it.
class ProcessGroup {
 public:
  ProcessGroup();
  ~ProcessGroup();
  ProcessGroup(const ProcessGroup&);
  ProcessGroup& operator=(const ProcessGroup&);

  int rank() const;
  int world_size() const;
  int local_rank() const;  // rank among the processes on this machine
  int local_size() const;  // processes on this machine

  struct State;  // defined where MPI is

 private:
  std::shared_ptr<State> state_;
};

bool is_initialized();  // a ProcessGroup is alive
// The alive world's figures (0 / 1 when none is).
int rank();
int world_size();
int local_rank();
int local_size();
void barrier();

// A collective in flight; wait() finishes it (and writes its result). Destroying an unfinished
// Work waits for it: buffers must outlive the transfer.
class Work {
 public:
  struct Impl;
  Work();
  explicit Work(std::unique_ptr<Impl> impl);
  Work(Work&&) noexcept;
  Work& operator=(Work&&) noexcept;
  ~Work();
  void wait();
  // Never blocks, and never starts a collective (every rank must start them in the same order,
  // which the timing of a poll would break): polling lets the first step progress, but an
  // all_reduce's second step starts in wait(), so it reports completion only after wait(). On
  // two ranks an all_reduce is point to point, and a poll also starts and completes its second
  // step.
  bool is_completed() const;
  // The output of all_gather_async / reduce_scatter_async (after wait()).
  Tensor result() const;

 private:
  std::unique_ptr<Impl> impl_;
};

// In place: every rank ends with op(tensor over all ranks). Avg needs a floating dtype.
void all_reduce(Tensor& tensor, ReduceOp op = ReduceOp::Sum);
Work all_reduce_async(Tensor tensor, ReduceOp op = ReduceOp::Sum);
// `out` (contiguous, 1-D) ends with op over ranks of `tensors` laid end to end, which are read
// and left as they are: one reduction for many gradients. With two ranks they are sent from
// where they are, without being packed into `out` first. They must not change until wait().
Work all_reduce_coalesced_async(const std::vector<Tensor>& tensors, Tensor out,
                                ReduceOp op = ReduceOp::Sum);
// The shards of a coalesced reduction of n elements over `world` ranks: rank r's [begin, end),
// n / world elements each and one more for the first n % world ranks, in rank order.
std::pair<std::int64_t, std::int64_t> shard_range(std::int64_t n, int rank, int world);
// all_reduce_coalesced_async's first half: only this rank's shard_range(out.numel(), rank(),
// world_size()) of `out` holds the result (the rest is scratch). ZeRO-style optimizers step
// that shard, then all_gather_coalesced_async shares the result.
Work reduce_scatter_coalesced_async(const std::vector<Tensor>& tensors, Tensor out,
                                    ReduceOp op = ReduceOp::Sum);
// In place over `tensors` (contiguous, one dtype) laid end to end: every rank ends with rank j's
// values in rank j's shard_range of the whole, for every j.
Work all_gather_coalesced_async(const std::vector<Tensor>& tensors);
// In place: every rank ends with rank `src`'s values (shapes and dtypes must match).
void broadcast(Tensor& tensor, int src = 0);
Work broadcast_async(Tensor tensor, int src = 0);
// [world_size, *shape]: row r holds rank r's tensor.
Tensor all_gather(const Tensor& tensor);
Work all_gather_async(const Tensor& tensor);
// input [world_size * k, ...] on every rank; rank r gets op over ranks of rows [r*k, (r+1)*k).
Tensor reduce_scatter(const Tensor& input, ReduceOp op = ReduceOp::Sum);
Work reduce_scatter_async(const Tensor& input, ReduceOp op = ReduceOp::Sum);

// Every rank passes its own string and gets everyone's, in rank order (agreement checks).
std::vector<std::string> all_gather_string(const std::string& value);

}  // namespace tg::distributed
