#include "volt/core/signals.h"

#include <signal.h>

#include <mutex>

namespace volt {

namespace {

volatile sig_atomic_t g_pending = 0;
std::mutex g_mutex;
int g_depth = 0;
struct sigaction g_old_int, g_old_term;

void on_signal(int sig) {
  if (g_pending != 0) {  // the second one: stop now
    ::signal(sig, SIG_DFL);
    ::raise(sig);
    return;
  }
  g_pending = sig;
}

}  // namespace

SignalGuard::SignalGuard() {
  std::lock_guard<std::mutex> lock(g_mutex);
  if (g_depth++ > 0) return;
  g_pending = 0;
  struct sigaction sa {};
  sa.sa_handler = &on_signal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART;  // a read() or sleep in progress goes on; the loop checks the flag
  sigaction(SIGINT, &sa, &g_old_int);
  sigaction(SIGTERM, &sa, &g_old_term);
}

SignalGuard::~SignalGuard() {
  std::lock_guard<std::mutex> lock(g_mutex);
  if (--g_depth > 0) return;
  sigaction(SIGINT, &g_old_int, nullptr);
  sigaction(SIGTERM, &g_old_term, nullptr);
  g_pending = 0;
}

int SignalGuard::pending() { return g_pending; }

const char* SignalGuard::name(int signal) {
  switch (signal) {
    case SIGINT: return "SIGINT";
    case SIGTERM: return "SIGTERM";
    default: return "signal";
  }
}

}  // namespace volt
