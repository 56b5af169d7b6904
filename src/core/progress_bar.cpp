#include "volt/core/progress_bar.h"

#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cinttypes>
#include <cmath>
#include <cstdlib>

#include "volt/core/check.h"

namespace volt {
namespace {

// tqdm redraws at most every 0.1 s; faster only burns CPU on terminal I/O.
constexpr double kMinRedrawSeconds = 0.1;

double steady_seconds() {
  using std::chrono::duration;
  using std::chrono::steady_clock;
  return duration<double>(steady_clock::now().time_since_epoch()).count();
}

// About twenty lines per run; with no known length, a line every 50 rather than every step.
int64_t default_log_every(int64_t total) {
  return total > 0 ? std::max<int64_t>(1, total / 20) : 50;
}

std::string printf_string(const char* format, double value) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), format, value);
  return buf;
}

// Items per second since timing started; 0 while unknown (no time or no progress yet).
double rate_of(const ProgressBar::Snapshot& s) {
  const int64_t done = s.current - s.initial;
  return (s.elapsed > 0 && done > 0) ? static_cast<double>(done) / s.elapsed : 0.0;
}

std::string eta_of(const ProgressBar::Snapshot& s) {
  const double rate = rate_of(s);
  if (s.total <= 0 || rate <= 0) return "?";
  return ProgressBar::format_duration(std::max<double>(0, s.total - s.current) / rate);
}

// tqdm switches to seconds per item below one item a second, which reads better for slow steps.
std::string rate_text(double rate) {
  if (rate <= 0) return "?it/s";
  if (rate < 1) return ProgressBar::format_si(1.0 / rate) + "s/it";
  return ProgressBar::format_si(rate) + "it/s";
}

// Whole percent, rounded down so "100%" only ever means done.
int64_t percent_of(const ProgressBar::Snapshot& s) {
  return static_cast<int64_t>(std::floor(100.0 * s.current / s.total));
}

// Unicode block characters give the bar eighth-of-a-cell resolution.
std::string bar_cells(double fraction, int width) {
  static const char* const kEighths[] = {" ", "▏", "▎", "▍", "▌", "▋", "▊", "▉"};
  const double cells = std::clamp(fraction, 0.0, 1.0) * width;
  const int full = static_cast<int>(cells);
  std::string bar;
  for (int i = 0; i < full; ++i) bar += "█";
  if (full < width) {
    bar += kEighths[static_cast<int>((cells - full) * 8)];
    bar.append(static_cast<size_t>(width - full - 1), ' ');
  }
  return bar;
}

std::string join_fields(const ProgressBar::Fields& fields, const char* separator) {
  std::string out;
  for (const auto& [key, value] : fields) {
    if (!out.empty()) out += separator;
    out += key + "=" + value;
  }
  return out;
}

// Columns of the terminal behind `out`, or 0 when it is not a terminal (e.g. forced live mode).
int terminal_columns(std::FILE* out) {
  winsize ws{};
  if (ioctl(fileno(out), TIOCGWINSZ, &ws) != 0) return 0;
  return ws.ws_col;
}

}  // namespace

ProgressBar::ProgressBar(int64_t total, std::string description, std::FILE* out)
    : out_(out), mode_(Mode::kOff), clock_(steady_seconds), log_every_(default_log_every(total)) {
  VOLT_CHECK(out_ != nullptr, "[progress] '", description, "': output stream is null");
  mode_ = resolve_mode(out_);
  state_.description = std::move(description);
  state_.total = total;
  start_ = now();
}

ProgressBar::~ProgressBar() {
  if (!finished_ && mode_ == Mode::kLive && drawn_) {
    std::fputc('\n', out_);
    std::fflush(out_);
  }
}

void ProgressBar::set_log_every(int64_t n) {
  VOLT_CHECK(n >= 1, "[progress] '", state_.description, "': log_every must be >= 1, got ", n);
  log_every_ = n;
}

void ProgressBar::set_clock(Clock clock) {
  VOLT_CHECK(clock != nullptr, "[progress] '", state_.description, "': clock is empty");
  clock_ = std::move(clock);
  start_ = now();
}

void ProgressBar::set_initial(int64_t initial) {
  state_.initial = initial;
  state_.current = initial;
}

void ProgressBar::set_bar_width(int width) {
  VOLT_CHECK(width >= 1, "[progress] '", state_.description, "': bar width must be >= 1, got ",
             width);
  bar_width_ = width;
}

double ProgressBar::now() const { return clock_(); }

void ProgressBar::update(int64_t current, const Fields& fields) {
  if (finished_) return;
  state_.current = current;
  state_.fields = fields;
  updated_ = true;
  const bool done = state_.total > 0 && current >= state_.total;
  if (mode_ == Mode::kLive) {
    if (!drawn_ || done || now() - last_draw_ >= kMinRedrawSeconds) draw_live();
  } else if (mode_ == Mode::kPlain) {
    const bool due = current > 0 && (current % log_every_ == 0 || done);
    if (due && current != last_printed_) print_plain();
  }
}

void ProgressBar::write_line(const std::string& line) {
  if (mode_ == Mode::kLive && drawn_) {
    // Clear the bar, print the message where it was, then put the bar back underneath.
    std::fprintf(out_, "\r\033[K%s\n", line.c_str());
    draw_live();
    return;
  }
  std::fprintf(out_, "%s\n", line.c_str());
  std::fflush(out_);
}

void ProgressBar::finish() {
  if (finished_) return;
  finished_ = true;
  if (mode_ == Mode::kLive) {
    if (updated_) draw_live();
    if (drawn_) std::fputc('\n', out_);
    drawn_ = false;
    std::fflush(out_);
  } else if (mode_ == Mode::kPlain && updated_ && state_.current != last_printed_) {
    print_plain();
  }
}

void ProgressBar::draw_live() {
  const double t = now();
  state_.elapsed = t - start_;
  std::string line = render_live(state_, bar_width_);
  // A line wider than the terminal wraps, and '\r' then only returns to the last row: every
  // redraw would add a row. Leave the last column free too, as some terminals wrap on it.
  const int columns = terminal_columns(out_);
  if (columns > 1) line = truncate_columns(line, columns - 1);
  // Overwrite first, then clear what is left of a longer previous line: no visible flicker.
  std::fprintf(out_, "\r%s\033[K", line.c_str());
  std::fflush(out_);
  last_draw_ = t;
  drawn_ = true;
}

void ProgressBar::print_plain() {
  state_.elapsed = now() - start_;
  std::fprintf(out_, "%s\n", render_plain(state_).c_str());
  std::fflush(out_);
  last_printed_ = state_.current;
}

std::string ProgressBar::format_duration(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) return "?";
  const auto total = static_cast<int64_t>(seconds);  // truncates, like tqdm
  const int64_t hours = total / 3600;
  const int minutes = static_cast<int>(total % 3600 / 60);
  const int secs = static_cast<int>(total % 60);
  char buf[48];
  if (hours > 0) {
    std::snprintf(buf, sizeof(buf), "%" PRId64 ":%02d:%02d", hours, minutes, secs);
  } else {
    std::snprintf(buf, sizeof(buf), "%02d:%02d", minutes, secs);
  }
  return buf;
}

std::string ProgressBar::format_si(double value) {
  if (!std::isfinite(value)) return printf_string("%g", value);
  static const char* const kSuffixes[] = {"", "k", "M", "G", "T", "P", "E"};
  // The thresholds sit half a unit of the last printed digit below each boundary, so 9.999
  // prints "10.0" rather than "10.00" and 999.9 moves up to "1.00k".
  for (const char* suffix : kSuffixes) {
    const double magnitude = std::fabs(value);
    if (magnitude < 999.5) {
      const char* format = magnitude < 9.995 ? "%.2f" : magnitude < 99.95 ? "%.1f" : "%.0f";
      return printf_string(format, value) + suffix;
    }
    value /= 1000;
  }
  return printf_string("%.1f", value) + "Z";
}

std::string ProgressBar::render_live(const Snapshot& s, int bar_width) {
  std::string line = s.description.empty() ? "" : s.description + " ";
  const std::string elapsed = format_duration(s.elapsed);
  if (s.total > 0) {
    char head[64];
    std::snprintf(head, sizeof(head), "%3" PRId64 "%%|", percent_of(s));
    line += head;
    line += bar_cells(static_cast<double>(s.current) / s.total, bar_width);
    line += "| " + std::to_string(s.current) + "/" + std::to_string(s.total);
    line += " [" + elapsed + "<" + eta_of(s);
  } else {
    // Unknown length: a counter, like tqdm without total.
    line += std::to_string(s.current) + "it [" + elapsed;
  }
  line += ", " + rate_text(rate_of(s));
  if (!s.fields.empty()) line += ", " + join_fields(s.fields, ", ");
  return line + "]";
}

std::string ProgressBar::render_plain(const Snapshot& s) {
  std::string line = s.description.empty() ? "" : s.description + ": ";
  line += "step " + std::to_string(s.current);
  if (s.total > 0) {
    line += "/" + std::to_string(s.total) + " (" + std::to_string(percent_of(s)) + "%)";
  }
  line += " elapsed " + format_duration(s.elapsed);
  if (s.total > 0) line += " eta " + eta_of(s);
  if (!s.fields.empty()) line += " | " + join_fields(s.fields, " ");
  return line;
}

std::string ProgressBar::truncate_columns(const std::string& text, int columns) {
  int seen = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    const bool starts_code_point = (static_cast<unsigned char>(text[i]) & 0xC0) != 0x80;
    if (starts_code_point && seen++ == columns) return text.substr(0, i);
  }
  return text;
}

ProgressBar::Mode ProgressBar::resolve_mode(std::FILE* out) {
  const char* env = std::getenv("VOLT_PROGRESS");
  const std::string forced = env ? env : "";
  if (forced == "live") return Mode::kLive;
  if (forced == "plain") return Mode::kPlain;
  if (forced == "off") return Mode::kOff;
  VOLT_CHECK(forced.empty(), "[progress] VOLT_PROGRESS='", forced,
             "': expected live, plain or off");
  return isatty(fileno(out)) ? Mode::kLive : Mode::kPlain;
}

}  // namespace volt
