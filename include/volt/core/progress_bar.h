// A tqdm-style progress bar for training loops. On a terminal it redraws one line in place:
//   Epoch/Training  42%|████▏     | 840/2000 [00:12<00:17, 68.2it/s, loss=1.93, lr=9.1e-04]
// Elsewhere (a log file, CI, nohup) it prints one plain line every log_every steps instead, so a
// log never fills with carriage returns:
//   step 840/2000 (42%) elapsed 00:12 eta 00:17 | loss=1.93 lr=9.1e-04
// VOLT_PROGRESS=live|plain|off overrides the choice. Rendering is pure and the clock injectable,
// so tests need neither a TTY nor sleeping.
#pragma once

#include <cstdint>
#include <cstdio>
#include <functional>
#include <string>
#include <utility>
#include <vector>

namespace volt {

class ProgressBar {
 public:
  enum class Mode { kLive, kPlain, kOff };
  /// Caller-formatted key=value pairs shown after the timing, in the caller's order.
  using Fields = std::vector<std::pair<std::string, std::string>>;
  /// Seconds on any monotonic scale; only differences matter.
  using Clock = std::function<double()>;

  /// Everything one rendered line depends on.
  struct Snapshot {
    std::string description;
    int64_t current = 0;
    int64_t total = 0;    // <= 0: unknown length (no percent, bar or ETA)
    int64_t initial = 0;  // count when timing started; the rate is (current - initial) / elapsed
    double elapsed = 0;   // seconds
    Fields fields;
  };

  /// The mode comes from VOLT_PROGRESS when set, else live when out is a terminal, else plain.
  /// An unknown VOLT_PROGRESS value is a volt::Error.
  ProgressBar(int64_t total, std::string description, std::FILE* out = stdout);
  /// Ends a live line that finish() did not, so the shell prompt does not land on the bar.
  ~ProgressBar();
  ProgressBar(const ProgressBar&) = delete;
  ProgressBar& operator=(const ProgressBar&) = delete;

  /// Plain mode prints when current is a multiple of n (default max(1, total / 20), or 50 when
  /// the total is unknown).
  void set_log_every(int64_t n);
  /// Replaces the clock (tests) and restarts timing from now on that clock.
  void set_clock(Clock clock);
  /// The count progress starts from (e.g. the step a resumed run continues at), so the rate and
  /// ETA only count work done by this run.
  void set_initial(int64_t initial);
  void set_mode(Mode mode) { mode_ = mode; }
  /// Live-mode bar width in cells (default 10, like tqdm without a known width).
  void set_bar_width(int width);

  Mode mode() const { return mode_; }
  int64_t log_every() const { return log_every_; }

  /// Records progress. Live: redraws at most ~10 times a second (always on reaching total).
  /// Plain: prints when current is a multiple of log_every or equals total, once per count.
  void update(int64_t current, const Fields& fields);
  /// Prints a message on its own line; in live mode above the bar, which is then redrawn.
  void write_line(const std::string& line);
  /// Draws the final state and ends the line (live) or prints the last plain line if it has
  /// not been printed yet. Later calls do nothing.
  void finish();

  /// "mm:ss", or "h:mm:ss" from one hour on; "?" for negative or non-finite input.
  static std::string format_duration(double seconds);
  /// Three significant digits with a k/M/G/T suffix: 52400 -> "52.4k", 0.5 -> "0.50".
  static std::string format_si(double value);
  /// The live line, without '\r' or terminal control codes.
  static std::string render_live(const Snapshot& snapshot, int bar_width = 10);
  /// The plain line, without a trailing newline.
  static std::string render_plain(const Snapshot& snapshot);
  /// Cuts a UTF-8 string to at most `columns` code points (each of ours is one column wide).
  static std::string truncate_columns(const std::string& text, int columns);
  /// The mode VOLT_PROGRESS asks for, or the TTY-based default when it is unset or empty.
  static Mode resolve_mode(std::FILE* out);

 private:
  double now() const;
  void draw_live();
  void print_plain();

  std::FILE* out_;
  Mode mode_;
  Clock clock_;
  double start_ = 0;
  double last_draw_ = 0;
  int64_t log_every_;
  int64_t last_printed_ = -1;  // plain mode: the count last printed, to print each count once
  int bar_width_ = 10;
  bool drawn_ = false;  // live mode: a bar is on screen (write_line must clear it)
  bool updated_ = false;
  bool finished_ = false;
  Snapshot state_;
};

}  // namespace volt
