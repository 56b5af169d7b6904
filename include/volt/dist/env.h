// Where this process sits in a distributed job, read from the environment the way torchrun sets
// it (RANK, LOCAL_RANK, WORLD_SIZE, LOCAL_WORLD_SIZE, MASTER_ADDR, MASTER_PORT), else as SLURM's
// srun sets it (SLURM_PROCID, SLURM_LOCALID, SLURM_NTASKS, SLURM_NTASKS_PER_NODE, the first host
// of SLURM_JOB_NODELIST), else one process alone. No LibTorch here.
#pragma once

#include <functional>
#include <map>
#include <string>

namespace volt::dist {

struct DistEnv {
  int64_t rank = 0, local_rank = 0, world_size = 1, local_world_size = 1;
  std::string master_addr = "127.0.0.1";
  int master_port = 29500;
  std::string source = "single";  // torchrun | slurm | single
  bool distributed() const { return world_size > 1; }
};

using GetEnv = std::function<const char*(const char*)>;
/// Reads the variables through `get` (std::getenv by default); inconsistent values (a rank
/// outside the world, a bad number) are a volt::Error naming the variable.
DistEnv env_from(const GetEnv& get = nullptr);

/// The environment a launcher gives worker `local_rank` of node `node_rank`.
std::map<std::string, std::string> worker_env(int64_t node_rank, int64_t nnodes, int64_t local_rank,
                                              int64_t nproc_per_node, const std::string& master_addr, int master_port);

}  // namespace volt::dist
