// torchrun's job, in C++: start nproc_per_node workers of a command on this node with RANK,
// LOCAL_RANK, WORLD_SIZE, LOCAL_WORLD_SIZE, GROUP_RANK, MASTER_ADDR and MASTER_PORT set (and
// OMP_NUM_THREADS=1 unless set), forward SIGINT / SIGTERM to them, and when one fails stop the
// whole group (SIGTERM, then SIGKILL after a grace period), so nothing hangs on a dead peer.
#pragma once

#include <string>
#include <vector>

namespace volt::dist {

struct LaunchOptions {
  int64_t nproc_per_node = 1, nnodes = 1, node_rank = 0;
  std::string master_addr = "127.0.0.1";
  int master_port = 29500;
  double grace_seconds = 5.0;  // between SIGTERM and SIGKILL for the survivors of a failure
};

/// Runs the workers to the end. 0 when every worker exits 0; otherwise the failure is described
/// on stderr, naming the first rank that failed and how, and the result is 1 (or 128 + signal
/// when the launcher itself was interrupted).
int launch(const LaunchOptions& options, const std::vector<std::string>& command);

/// A TCP port nothing listens on now (for a launcher that picks its own rendezvous port).
int free_port();

}  // namespace volt::dist
