#include "volt/dist/launch.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <thread>

#include "volt/core/check.h"
#include "volt/dist/env.h"

namespace volt::dist {

namespace {

volatile sig_atomic_t received_signal = 0;
extern "C" void on_launcher_signal(int sig) { received_signal = sig; }

std::string describe(int status) {
  if (WIFEXITED(status)) return "exited with code " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) {
    const int s = WTERMSIG(status);
    return "was killed by signal " + std::to_string(s) + " (" + (strsignal(s) ? strsignal(s) : "?") + ")";
  }
  return "stopped";
}

std::chrono::steady_clock::duration seconds(double s) {
  return std::chrono::duration_cast<std::chrono::steady_clock::duration>(std::chrono::duration<double>(s));
}

}  // namespace

int free_port() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  VOLT_CHECK(fd >= 0, "[launch] cannot open a socket: ", std::strerror(errno));
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = 0;
  socklen_t len = sizeof a;
  const bool ok = bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 &&
                  getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0;
  close(fd);
  VOLT_CHECK(ok, "[launch] cannot find a free port: ", std::strerror(errno));
  return ntohs(a.sin_port);
}

int launch(const LaunchOptions& o, const std::vector<std::string>& command) {
  VOLT_CHECK(!command.empty(), "[launch] no command to run (volt launch --nproc-per-node N -- volt fit ...)");
  VOLT_CHECK(o.nproc_per_node >= 1 && o.nnodes >= 1 && o.node_rank >= 0 && o.node_rank < o.nnodes,
             "[launch] --nproc-per-node ", o.nproc_per_node, ", --nnodes ", o.nnodes, ", --node-rank ", o.node_rank,
             ": need nproc >= 1 and 0 <= node-rank < nnodes");
  struct sigaction sa {};
  sa.sa_handler = on_launcher_signal;
  sigemptyset(&sa.sa_mask);
  struct sigaction old_int {}, old_term {};
  sigaction(SIGINT, &sa, &old_int);
  sigaction(SIGTERM, &sa, &old_term);
  received_signal = 0;

  std::vector<pid_t> pids;
  for (int64_t local = 0; local < o.nproc_per_node; ++local) {
    const auto env = worker_env(o.node_rank, o.nnodes, local, o.nproc_per_node, o.master_addr, o.master_port);
    const pid_t pid = fork();
    VOLT_CHECK(pid >= 0, "[launch] fork failed: ", std::strerror(errno));
    if (pid == 0) {
      signal(SIGINT, SIG_DFL);
      signal(SIGTERM, SIG_DFL);
      for (const auto& [k, v] : env) {
        if (k == "OMP_NUM_THREADS" && std::getenv(k.c_str()) != nullptr) continue;
        setenv(k.c_str(), v.c_str(), 1);
      }
      std::vector<char*> argv;
      for (const auto& a : command) argv.push_back(const_cast<char*>(a.c_str()));
      argv.push_back(nullptr);
      execvp(argv[0], argv.data());
      std::fprintf(stderr, "[launch] cannot run %s: %s\n", argv[0], std::strerror(errno));
      _exit(127);
    }
    pids.push_back(pid);
    std::fprintf(stderr, "[launch] rank %lld: pid %d\n", static_cast<long long>(o.node_rank * o.nproc_per_node + local),
                 static_cast<int>(pid));
  }
  std::fflush(stderr);

  const auto n = pids.size();
  std::vector<bool> alive(n, true);
  size_t running = n;
  int failed_rank = -1;
  std::string failure;
  int forwarded = 0;
  std::chrono::steady_clock::time_point kill_at{};
  bool stopping = false;
  auto stop_all = [&](int sig) {
    for (size_t i = 0; i < n; ++i) {
      if (alive[i]) kill(pids[i], sig);
    }
  };
  while (running > 0) {
    if (received_signal != 0 && forwarded == 0) {
      forwarded = received_signal;
      stop_all(forwarded);  // the workers save and stop (SIGINT / SIGTERM), as under torchrun
      stopping = true;
      kill_at = std::chrono::steady_clock::now() + seconds(o.grace_seconds * 6);
    }
    int status = 0;
    const pid_t pid = waitpid(-1, &status, WNOHANG);
    if (pid > 0) {
      for (size_t i = 0; i < n; ++i) {
        if (pids[i] != pid || !alive[i]) continue;
        alive[i] = false;
        --running;
        const bool ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
        if (!ok && failed_rank < 0 && forwarded == 0) {
          failed_rank = static_cast<int>(o.node_rank * o.nproc_per_node + static_cast<int64_t>(i));
          failure = describe(status);
          std::fprintf(stderr, "[launch] rank %d (pid %d) %s; stopping the other workers\n", failed_rank,
                       static_cast<int>(pid), failure.c_str());
          std::fflush(stderr);
          stop_all(SIGTERM);
          stopping = true;
          kill_at = std::chrono::steady_clock::now() + seconds(o.grace_seconds);
        }
      }
      continue;
    }
    if (stopping && std::chrono::steady_clock::now() >= kill_at) {
      stop_all(SIGKILL);  // a worker blocked on its dead peer does not get to its signal check
      kill_at = std::chrono::steady_clock::now() + std::chrono::hours(1);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  sigaction(SIGINT, &old_int, nullptr);
  sigaction(SIGTERM, &old_term, nullptr);
  if (forwarded != 0) return 128 + forwarded;
  if (failed_rank >= 0) {
    throw Error(str("[launch] worker rank ", failed_rank, " ", failure, "; the group of ",
                    o.nnodes * o.nproc_per_node, " was stopped"), 1);
  }
  return 0;
}

}  // namespace volt::dist
