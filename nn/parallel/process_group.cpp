// tg::distributed's world: MPI's initialisation and the process group's figures (the
// collectives are in collectives.cpp).
#include <algorithm>
#include <exception>
#include <iostream>
#include <mutex>
#include <thread>

#include "mpi_world.h"
#include "tapegrad/core/threading.h"

namespace tg::distributed {

ProcessGroup::State::State() {
  int initialized = 0;
  MPI_Initialized(&initialized);
  if (!initialized) {
    int provided = 0;
    // Serialized: collectives may start from a backward pass's thread, never concurrently
    // (every MPI call below holds mpi_mutex()).
    MPI_Init_thread(nullptr, nullptr, MPI_THREAD_SERIALIZED, &provided);
    owns_mpi = true;
  }
  MPI_Comm_dup(MPI_COMM_WORLD, &comm);
  MPI_Comm_rank(comm, &rank);
  MPI_Comm_size(comm, &size);
  MPI_Comm_split_type(comm, MPI_COMM_TYPE_SHARED, rank, MPI_INFO_NULL, &local);
  MPI_Comm_rank(local, &local_rank);
  MPI_Comm_size(local, &local_size);
  for (int bytes : {1, 2, 4, 8}) {
    MPI_Datatype t;
    MPI_Type_contiguous(bytes, MPI_BYTE, &t);
    MPI_Type_commit(&t);
    element_types.push_back(t);
  }
  // Ranks sharing a machine share its cores.
  const int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  const int share = std::max(1, cores / local_size);
  if (local_size > 1 && get_num_threads() > share) set_num_threads(share);
}

ProcessGroup::State::~State() {
  if (std::uncaught_exceptions() > 0) {
    // Finalising now would leave the other ranks waiting in a collective for this one.
    std::cerr << "tapegrad: rank " << rank
              << " is leaving with an exception in flight; aborting the MPI job\n";
    MPI_Abort(comm, 1);
  }
  for (auto& t : element_types) MPI_Type_free(&t);
  MPI_Comm_free(&local);
  MPI_Comm_free(&comm);
  if (owns_mpi) MPI_Finalize();
}

MPI_Datatype ProcessGroup::State::element_type(std::size_t bytes) const {
  switch (bytes) {
    case 1:
      return element_types[0];
    case 2:
      return element_types[1];
    case 4:
      return element_types[2];
    case 8:
      return element_types[3];
  }
  throw Error(detail::concat("distributed: unsupported element size ", bytes));
}

namespace {
std::mutex g_state_mutex;
std::weak_ptr<ProcessGroup::State> g_state;
}  // namespace

namespace internal {
std::mutex& mpi_mutex() {
  static std::mutex m;
  return m;
}

std::shared_ptr<ProcessGroup::State> current(std::string_view op) {
  std::lock_guard lock(g_state_mutex);
  auto s = g_state.lock();
  TG_CHECK(s, op, ": no process group; create a tg::distributed::ProcessGroup first");
  return s;
}
}  // namespace internal

using internal::current;
using internal::mpi_mutex;

ProcessGroup::ProcessGroup() {
  std::lock_guard lock(g_state_mutex);
  state_ = g_state.lock();
  if (!state_) {
    state_ = std::make_shared<State>();
    g_state = state_;
  }
}
ProcessGroup::~ProcessGroup() = default;
ProcessGroup::ProcessGroup(const ProcessGroup&) = default;
ProcessGroup& ProcessGroup::operator=(const ProcessGroup&) = default;
int ProcessGroup::rank() const { return state_->rank; }
int ProcessGroup::world_size() const { return state_->size; }
int ProcessGroup::local_rank() const { return state_->local_rank; }
int ProcessGroup::local_size() const { return state_->local_size; }

bool is_initialized() {
  std::lock_guard lock(g_state_mutex);
  return !g_state.expired();
}
int rank() { return is_initialized() ? current("rank")->rank : 0; }
int world_size() { return is_initialized() ? current("world_size")->size : 1; }
int local_rank() { return is_initialized() ? current("local_rank")->local_rank : 0; }
int local_size() { return is_initialized() ? current("local_size")->local_size : 1; }

void barrier() {
  auto s = current("barrier");
  std::lock_guard lock(mpi_mutex());
  MPI_Barrier(s->comm);
}

}  // namespace tg::distributed
