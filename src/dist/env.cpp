#include "volt/dist/env.h"

#include <cstdlib>

#include "volt/core/check.h"

namespace volt::dist {

namespace {

int64_t int_var(const GetEnv& get, const char* name, int64_t fallback) {
  const char* v = get(name);
  if (v == nullptr || *v == '\0') return fallback;
  char* end = nullptr;
  const long long x = std::strtoll(v, &end, 10);
  VOLT_CHECK(end != v && *end == '\0' && x >= 0, "[dist] environment variable ", name, "='", v,
             "' is not a non-negative integer");
  return static_cast<int64_t>(x);
}

// "node[01-04],other" -> "node01"; "a,b" -> "a": the first host of a SLURM node list.
std::string first_host(const std::string& list) {
  std::string host;
  for (size_t i = 0; i < list.size(); ++i) {
    const char c = list[i];
    if (c == ',') break;
    if (c == '[') {
      size_t j = i + 1;
      while (j < list.size() && list[j] != '-' && list[j] != ',' && list[j] != ']') host += list[j++];
      break;
    }
    host += c;
  }
  return host;
}

}  // namespace

DistEnv env_from(const GetEnv& get_in) {
  const GetEnv get = get_in ? get_in : [](const char* n) { return static_cast<const char*>(std::getenv(n)); };
  DistEnv e;
  if (get("WORLD_SIZE") != nullptr || get("RANK") != nullptr) {
    e.source = "torchrun";
    e.world_size = int_var(get, "WORLD_SIZE", 1);
    e.rank = int_var(get, "RANK", 0);
    e.local_rank = int_var(get, "LOCAL_RANK", e.rank);
    e.local_world_size = int_var(get, "LOCAL_WORLD_SIZE", e.world_size);
  } else if (get("SLURM_PROCID") != nullptr && get("SLURM_NTASKS") != nullptr) {
    e.source = "slurm";
    e.world_size = int_var(get, "SLURM_NTASKS", 1);
    e.rank = int_var(get, "SLURM_PROCID", 0);
    e.local_rank = int_var(get, "SLURM_LOCALID", 0);
    e.local_world_size = int_var(get, "SLURM_NTASKS_PER_NODE", e.world_size);
    if (const char* nodes = get("SLURM_JOB_NODELIST"); nodes != nullptr && *nodes != '\0') e.master_addr = first_host(nodes);
  } else {
    return e;
  }
  if (const char* a = get("MASTER_ADDR"); a != nullptr && *a != '\0') e.master_addr = a;
  e.master_port = static_cast<int>(int_var(get, "MASTER_PORT", e.master_port));
  VOLT_CHECK(e.world_size >= 1, "[dist] WORLD_SIZE must be at least 1");
  VOLT_CHECK(e.rank < e.world_size, "[dist] rank ", e.rank, " is outside a world of ", e.world_size,
             " (", e.source == "slurm" ? "SLURM_PROCID / SLURM_NTASKS" : "RANK / WORLD_SIZE", ")");
  VOLT_CHECK(e.local_rank < e.local_world_size, "[dist] local rank ", e.local_rank, " is outside ",
             e.local_world_size, " processes on this node");
  VOLT_CHECK(e.master_port > 0 && e.master_port < 65536, "[dist] MASTER_PORT ", e.master_port, " is not a port");
  return e;
}

std::map<std::string, std::string> worker_env(int64_t node_rank, int64_t nnodes, int64_t local_rank,
                                              int64_t nproc, const std::string& addr, int port) {
  return {{"RANK", std::to_string(node_rank * nproc + local_rank)},
          {"LOCAL_RANK", std::to_string(local_rank)},
          {"GROUP_RANK", std::to_string(node_rank)},
          {"WORLD_SIZE", std::to_string(nnodes * nproc)},
          {"LOCAL_WORLD_SIZE", std::to_string(nproc)},
          {"MASTER_ADDR", addr},
          {"MASTER_PORT", std::to_string(port)},
          {"OMP_NUM_THREADS", "1"}};  // torchrun's default: N workers must not oversubscribe the cores
}

}  // namespace volt::dist
