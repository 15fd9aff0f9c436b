#pragma once
// What tg::distributed's two files share: the world's MPI state, and the lock every MPI call
// holds. Private to tapegrad::distributed (not installed): only here and in its .cpp files does
// mpi.h appear.
#include <mpi.h>

#include <memory>
#include <mutex>
#include <string_view>
#include <vector>

#include "tapegrad/nn/parallel/process_group.h"

namespace tg::distributed {

struct ProcessGroup::State {
  State();   // initialises MPI if nobody has
  ~State();  // finalises it (aborts the job when leaving with an exception in flight)
  // The MPI type of one element of `bytes` bytes (collectives move raw elements).
  MPI_Datatype element_type(std::size_t bytes) const;

  MPI_Comm comm = MPI_COMM_NULL;
  MPI_Comm local = MPI_COMM_NULL;
  int rank = 0, size = 1, local_rank = 0, local_size = 1;
  bool owns_mpi = false;
  std::vector<MPI_Datatype> element_types;
  int pair_works = 0;  // two-rank all_reduces started: their message tags
};

namespace internal {
// MPI runs MPI_THREAD_SERIALIZED: every MPI call holds this lock.
std::mutex& mpi_mutex();
// The alive world, or an error naming `op` when there is none.
std::shared_ptr<ProcessGroup::State> current(std::string_view op);
}  // namespace internal

}  // namespace tg::distributed
