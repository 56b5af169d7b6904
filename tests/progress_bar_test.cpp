#include "volt/core/progress_bar.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <optional>
#include <string>

#include "volt/core/check.h"

namespace volt {
namespace {

using Mode = ProgressBar::Mode;

// A tmpfile() that is closed however the test ends.
struct FileCloser {
  void operator()(std::FILE* f) const { std::fclose(f); }
};
using TempFile = std::unique_ptr<std::FILE, FileCloser>;

TempFile make_tmpfile() {
  TempFile f(std::tmpfile());
  EXPECT_NE(f, nullptr);
  return f;
}

std::string contents(std::FILE* f) {
  std::fflush(f);
  std::rewind(f);
  std::string out;
  char buf[4096];
  for (size_t n; (n = std::fread(buf, 1, sizeof(buf), f)) > 0;) out.append(buf, n);
  return out;
}

size_t count(const std::string& haystack, const std::string& needle) {
  size_t n = 0;
  for (size_t at = haystack.find(needle); at != std::string::npos;
       at = haystack.find(needle, at + needle.size())) {
    ++n;
  }
  return n;
}

// Sets (or unsets) VOLT_PROGRESS for one test and restores the caller's value afterwards.
class ScopedProgressEnv {
 public:
  explicit ScopedProgressEnv(const char* value) {
    if (const char* old = std::getenv("VOLT_PROGRESS")) saved_ = old;
    if (value) {
      setenv("VOLT_PROGRESS", value, 1);
    } else {
      unsetenv("VOLT_PROGRESS");
    }
  }
  ~ScopedProgressEnv() {
    if (saved_) {
      setenv("VOLT_PROGRESS", saved_->c_str(), 1);
    } else {
      unsetenv("VOLT_PROGRESS");
    }
  }

 private:
  std::optional<std::string> saved_;
};

ProgressBar::Snapshot example_snapshot() {
  ProgressBar::Snapshot s;
  s.description = "Epoch/Training";
  s.current = 840;
  s.total = 2000;
  s.elapsed = 12.32;  // 68.18 it/s, 17.0 s to go
  s.fields = {{"loss", "1.93"}, {"lr", "9.1e-04"}, {"tok/s", "52.4k"}};
  return s;
}

TEST(ProgressBarTest, FormatDuration) {
  EXPECT_EQ(ProgressBar::format_duration(0), "00:00");
  EXPECT_EQ(ProgressBar::format_duration(12.9), "00:12");
  EXPECT_EQ(ProgressBar::format_duration(61), "01:01");
  EXPECT_EQ(ProgressBar::format_duration(3599.99), "59:59");
  EXPECT_EQ(ProgressBar::format_duration(3600), "1:00:00");
  EXPECT_EQ(ProgressBar::format_duration(3725), "1:02:05");
  EXPECT_EQ(ProgressBar::format_duration(90000), "25:00:00");
  EXPECT_EQ(ProgressBar::format_duration(-1), "?");
  EXPECT_EQ(ProgressBar::format_duration(std::nan("")), "?");
  EXPECT_EQ(ProgressBar::format_duration(INFINITY), "?");
}

TEST(ProgressBarTest, FormatSi) {
  EXPECT_EQ(ProgressBar::format_si(52400), "52.4k");
  EXPECT_EQ(ProgressBar::format_si(68.18), "68.2");
  EXPECT_EQ(ProgressBar::format_si(5), "5.00");
  EXPECT_EQ(ProgressBar::format_si(999.7), "1.00k");
  EXPECT_EQ(ProgressBar::format_si(1.5e6), "1.50M");
  EXPECT_EQ(ProgressBar::format_si(-2500), "-2.50k");
}

TEST(ProgressBarTest, RenderLiveMatchesTqdmLayout) {
  EXPECT_EQ(ProgressBar::render_live(example_snapshot()),
            "Epoch/Training  42%|████▏     | 840/2000 [00:12<00:17, 68.2it/s, "
            "loss=1.93, lr=9.1e-04, tok/s=52.4k]");
}

TEST(ProgressBarTest, RenderLiveBarEnds) {
  ProgressBar::Snapshot s;
  s.total = 50;
  s.current = 0;
  EXPECT_EQ(ProgressBar::render_live(s, 4), "  0%|    | 0/50 [00:00<?, ?it/s]");
  s.current = 50;
  s.elapsed = 100;  // 0.5 it/s: slow steps read as seconds per item
  EXPECT_EQ(ProgressBar::render_live(s, 4), "100%|████| 50/50 [01:40<00:00, 2.00s/it]");
  s.current = 60;  // overshoot: the bar stays full instead of overflowing
  EXPECT_NE(ProgressBar::render_live(s, 4).find("|████|"), std::string::npos);
}

TEST(ProgressBarTest, RenderLiveUnknownTotalIsACounter) {
  ProgressBar::Snapshot s;
  s.description = "Validation";
  s.current = 30;
  s.elapsed = 3;
  s.fields = {{"val_loss", "2.10"}};
  EXPECT_EQ(ProgressBar::render_live(s), "Validation 30it [00:03, 10.0it/s, val_loss=2.10]");
}

TEST(ProgressBarTest, RateCountsOnlyThisRunsProgress) {
  ProgressBar::Snapshot s;
  s.total = 2000;
  s.initial = 1000;  // resumed at step 1000
  s.current = 1100;
  s.elapsed = 10;
  EXPECT_EQ(ProgressBar::render_plain(s), "step 1100/2000 (55%) elapsed 00:10 eta 01:30");
}

TEST(ProgressBarTest, RenderPlain) {
  ProgressBar::Snapshot s = example_snapshot();
  s.description.clear();
  EXPECT_EQ(ProgressBar::render_plain(s),
            "step 840/2000 (42%) elapsed 00:12 eta 00:17 | loss=1.93 lr=9.1e-04 tok/s=52.4k");
  s.description = "train";
  s.fields.clear();
  EXPECT_EQ(ProgressBar::render_plain(s), "train: step 840/2000 (42%) elapsed 00:12 eta 00:17");
}

TEST(ProgressBarTest, TruncateColumnsCountsCodePoints) {
  EXPECT_EQ(ProgressBar::truncate_columns("ab█▏cd", 3), "ab█");
  EXPECT_EQ(ProgressBar::truncate_columns("ab█▏cd", 4), "ab█▏");
  EXPECT_EQ(ProgressBar::truncate_columns("abc", 10), "abc");
  EXPECT_EQ(ProgressBar::truncate_columns("abc", 0), "");
}

TEST(ProgressBarTest, ModeFromTerminalAndEnvironment) {
  TempFile f = make_tmpfile();
  {
    ScopedProgressEnv env(nullptr);
    EXPECT_EQ(ProgressBar::resolve_mode(f.get()), Mode::kPlain);  // a file is not a terminal
    EXPECT_EQ(ProgressBar(10, "x", f.get()).mode(), Mode::kPlain);
  }
  {
    ScopedProgressEnv env("live");
    EXPECT_EQ(ProgressBar::resolve_mode(f.get()), Mode::kLive);
  }
  {
    ScopedProgressEnv env("off");
    EXPECT_EQ(ProgressBar::resolve_mode(f.get()), Mode::kOff);
  }
  {
    ScopedProgressEnv env("plain");
    EXPECT_EQ(ProgressBar::resolve_mode(f.get()), Mode::kPlain);
  }
  {
    ScopedProgressEnv env("fancy");
    EXPECT_THROW(ProgressBar::resolve_mode(f.get()), volt::Error);
  }
}

TEST(ProgressBarTest, DefaultLogEveryIsAboutTwentyLines) {
  TempFile f = make_tmpfile();
  EXPECT_EQ(ProgressBar(2000, "", f.get()).log_every(), 100);
  EXPECT_EQ(ProgressBar(5, "", f.get()).log_every(), 1);
  EXPECT_EQ(ProgressBar(0, "", f.get()).log_every(), 50);  // unknown length
  ProgressBar bar(10, "", f.get());
  EXPECT_THROW(bar.set_log_every(0), volt::Error);
  EXPECT_THROW(bar.set_bar_width(0), volt::Error);
}

TEST(ProgressBarTest, PlainModePrintsEveryLogEveryAndAtTheEnd) {
  TempFile f = make_tmpfile();
  double t = 0;
  {
    ProgressBar bar(100, "", f.get());
    bar.set_mode(Mode::kPlain);
    bar.set_clock([&t] { return t; });
    bar.set_log_every(25);
    for (int64_t step = 1; step <= 100; ++step) {
      t += 0.5;
      bar.update(step, {{"loss", std::to_string(step)}});
    }
    bar.update(100, {{"loss", "again"}});  // the same count twice prints once
    bar.finish();
    bar.finish();
  }
  const std::string out = contents(f.get());
  EXPECT_EQ(out,
            "step 25/100 (25%) elapsed 00:12 eta 00:37 | loss=25\n"
            "step 50/100 (50%) elapsed 00:25 eta 00:25 | loss=50\n"
            "step 75/100 (75%) elapsed 00:37 eta 00:12 | loss=75\n"
            "step 100/100 (100%) elapsed 00:50 eta 00:00 | loss=100\n");
  EXPECT_EQ(out.find('\r'), std::string::npos);
}

TEST(ProgressBarTest, PlainModeFinishPrintsAnEarlyStop) {
  TempFile f = make_tmpfile();
  double t = 0;
  ProgressBar bar(100, "", f.get());
  bar.set_mode(Mode::kPlain);
  bar.set_clock([&t] { return t; });
  bar.set_log_every(25);
  for (int64_t step = 1; step <= 37; ++step) {
    t += 1;
    bar.update(step, {});
  }
  bar.write_line("stopping early");
  bar.finish();
  bar.update(50, {});  // ignored after finish
  EXPECT_EQ(contents(f.get()),
            "step 25/100 (25%) elapsed 00:25 eta 01:15\n"
            "stopping early\n"
            "step 37/100 (37%) elapsed 00:37 eta 01:03\n");
}

TEST(ProgressBarTest, LiveModeRedrawsInPlaceAtMostTenTimesASecond) {
  TempFile f = make_tmpfile();
  double t = 0;
  ProgressBar bar(1000, "train", f.get());
  bar.set_mode(Mode::kLive);
  bar.set_clock([&t] { return t; });
  for (int64_t step = 1; step <= 1000; ++step) {
    t = static_cast<double>(step) / 500;  // 2 s in all: ~20 redraws allowed
    bar.update(step, {{"loss", "1.0"}});
  }
  bar.finish();
  const std::string out = contents(f.get());
  const size_t redraws = count(out, "\r");
  EXPECT_GE(redraws, 15u);
  EXPECT_LE(redraws, 25u);
  EXPECT_EQ(count(out, "\n"), 1u);  // one line in the end
  EXPECT_NE(out.find("\033[K"), std::string::npos);
  EXPECT_NE(out.find("train 100%|██████████| 1000/1000 [00:02<00:00, 500it/s, loss=1.0]"),
            std::string::npos);
  EXPECT_EQ(out.back(), '\n');
}

TEST(ProgressBarTest, LiveWriteLinePrintsAboveTheBar) {
  TempFile f = make_tmpfile();
  double t = 0;
  ProgressBar bar(10, "", f.get());
  bar.set_mode(Mode::kLive);
  bar.set_clock([&t] { return t; });
  bar.update(1, {});
  const std::string before = contents(f.get());
  std::fseek(f.get(), 0, SEEK_END);
  bar.write_line("val_loss=2.0");
  const std::string after = contents(f.get()).substr(before.size());
  // Clear the bar's line, print the message, then redraw the bar below it.
  EXPECT_EQ(after.rfind("\r\033[Kval_loss=2.0\n\r", 0), 0u) << after;
  EXPECT_NE(after.find(" 10%|"), std::string::npos);
}

TEST(ProgressBarTest, OffModeOnlyPrintsMessages) {
  TempFile f = make_tmpfile();
  ProgressBar bar(10, "", f.get());
  bar.set_mode(Mode::kOff);
  for (int64_t step = 1; step <= 10; ++step) bar.update(step, {});
  bar.write_line("done");
  bar.finish();
  EXPECT_EQ(contents(f.get()), "done\n");
}

}  // namespace
}  // namespace volt
