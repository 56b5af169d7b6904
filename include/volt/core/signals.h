// Graceful stops: while a SignalGuard lives, SIGINT (Ctrl-C) and SIGTERM (what schedulers and
// `kill` send) only set a flag, so the training loop can finish its step, save a checkpoint and
// exit with 128 + the signal (130, 143) as a shell expects. A second signal of either kind while
// the first is pending kills the process at once (the default action): the checkpoint on disk is
// replaced atomically, so even that leaves the previous one whole.
#pragma once

namespace volt {

class SignalGuard {
 public:
  SignalGuard();   // installs the handlers (nested guards share them)
  ~SignalGuard();  // restores what was there before the outermost guard
  SignalGuard(const SignalGuard&) = delete;
  SignalGuard& operator=(const SignalGuard&) = delete;

  /// The signal received since the outermost guard was installed (SIGINT or SIGTERM), or 0.
  static int pending();
  /// "SIGINT", "SIGTERM", ...
  static const char* name(int signal);
};

}  // namespace volt
