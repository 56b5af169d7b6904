// volt launch --nproc-per-node N [--nnodes M --node-rank R --master-addr A --master-port P] -- CMD ...
//   torchrun's semantics: N workers of CMD on this node, each with RANK, LOCAL_RANK, WORLD_SIZE,
//   LOCAL_WORLD_SIZE, MASTER_ADDR, MASTER_PORT; signals forwarded; when one worker fails the rest
//   are stopped and the exit code is non-zero, naming the failed rank.
#include "commands.h"
#include "volt/dist/launch.h"

namespace volt::cli {

Action add_launch(CLI::App& app) {
  struct Args {
    dist::LaunchOptions o;
    std::vector<std::string> command;
  };
  auto a = std::make_shared<Args>();
  app.add_option("--nproc-per-node,--nproc_per_node", a->o.nproc_per_node, "workers on this node")
      ->capture_default_str();
  app.add_option("--nnodes", a->o.nnodes, "nodes in the job")->capture_default_str();
  app.add_option("--node-rank,--node_rank", a->o.node_rank, "this node's index")->capture_default_str();
  app.add_option("--master-addr,--master_addr", a->o.master_addr, "rank 0's host (the TCPStore rendezvous)")
      ->capture_default_str();
  app.add_option("--master-port,--master_port", a->o.master_port, "rank 0's port")->capture_default_str();
  app.add_option("--grace", a->o.grace_seconds, "seconds between SIGTERM and SIGKILL when a worker fails")
      ->capture_default_str();
  app.add_option("command", a->command, "the command to run (after --), e.g. volt fit --config X")->required();
  app.footer("Example: volt launch --nproc-per-node 2 -- volt fit --config configs/babygpt-shakespeare-char.yaml "
             "--trainer.strategy=ddp");
  return [a]() { return dist::launch(a->o, a->command); };
}

}  // namespace volt::cli
