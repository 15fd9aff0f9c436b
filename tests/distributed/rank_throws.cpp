// Rank 1 throws while the others wait in a barrier: the job must end with rank 1's message and
// a non-zero status within seconds (tests/distributed/failure_test.sh), never hang.
#include <tapegrad/nn/parallel/process_group.h>

int main() {
  tg::distributed::ProcessGroup world;
  if (world.rank() == 1) throw tg::Error("rank 1 failed on purpose");
  tg::distributed::barrier();  // never completes: rank 1 is gone
  return 0;
}
