#include "volt/core/svg_plot.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "volt/core/check.h"

namespace volt {
namespace {

size_t count(const std::string& haystack, const std::string& needle) {
  size_t n = 0;
  for (size_t at = haystack.find(needle); at != std::string::npos;
       at = haystack.find(needle, at + needle.size())) {
    ++n;
  }
  return n;
}

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

// The structural checks every chart must pass, whatever its data.
void expect_well_formed(const std::string& svg) {
  EXPECT_EQ(svg.rfind("<svg xmlns=\"http://www.w3.org/2000/svg\"", 0), 0u);
  EXPECT_EQ(svg.substr(svg.size() - 7), "</svg>\n");
  EXPECT_EQ(count(svg, "<svg"), 1u);
  EXPECT_EQ(count(svg, "<g"), count(svg, "</g>"));
  EXPECT_EQ(count(svg, "<text"), count(svg, "</text>"));
  // Division by zero or a skipped NaN leaking into coordinates would show up as one of these.
  EXPECT_FALSE(contains(svg, "nan")) << svg;
  EXPECT_FALSE(contains(svg, "inf")) << svg;
}

std::string read_all(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

Series ramp(const std::string& name, int n, double scale) {
  Series s{name, {}, {}};
  for (int i = 0; i < n; ++i) {
    s.x.push_back(10.0 * i);
    s.y.push_back(scale / (1 + i));
  }
  return s;
}

TEST(SvgPlotTest, NiceTicksUseRoundSteps) {
  EXPECT_EQ(nice_ticks(0, 2000), (std::vector<double>{0, 500, 1000, 1500, 2000}));
  EXPECT_EQ(nice_ticks(1.9, 10.9), (std::vector<double>{0, 2, 4, 6, 8, 10, 12}));
  const std::vector<double> small = nice_ticks(0.013, 0.087);
  ASSERT_EQ(small.size(), 6u);
  EXPECT_DOUBLE_EQ(small[1] - small[0], 0.02);
  EXPECT_DOUBLE_EQ(small.front(), 0.0);
  EXPECT_DOUBLE_EQ(small.back(), 0.1);
  for (double lo : {-3.7, 0.0, 12.5, 1e6}) {
    const std::vector<double> ticks = nice_ticks(lo, lo * 2 + 7.3);
    ASSERT_GE(ticks.size(), 2u);
    const double step = ticks[1] - ticks[0];
    const double mantissa = step / std::pow(10, std::floor(std::log10(step)));
    EXPECT_TRUE(std::fabs(mantissa - 1) < 1e-9 || std::fabs(mantissa - 2) < 1e-9 ||
                std::fabs(mantissa - 5) < 1e-9)
        << "step " << step;
    EXPECT_LE(ticks.front(), lo);
    EXPECT_GE(ticks.back(), lo * 2 + 7.3);
  }
}

TEST(SvgPlotTest, NiceTicksHandleDegenerateRanges) {
  const std::vector<double> constant = nice_ticks(5, 5);
  ASSERT_GE(constant.size(), 2u);
  EXPECT_LT(constant.front(), 5);
  EXPECT_GT(constant.back(), 5);
  EXPECT_GE(nice_ticks(0, 0).size(), 2u);
  EXPECT_EQ(nice_ticks(NAN, 3).front(), 0);
  EXPECT_EQ(nice_ticks(NAN, 3).back(), 1);
  EXPECT_EQ(nice_ticks(10, 0), nice_ticks(0, 10));
}

TEST(SvgPlotTest, FormatTick) {
  EXPECT_EQ(format_tick(0.1 * 3, 0.1), "0.3");
  EXPECT_EQ(format_tick(-1e-17, 0.1), "0.0");
  EXPECT_EQ(format_tick(2000, 500), "2000");
  EXPECT_EQ(format_tick(2.5, 0.5), "2.5");
  EXPECT_EQ(format_tick(0.06, 0.02), "0.06");
  EXPECT_EQ(format_tick(2.5e-5, 5e-6), "2.5e-05");
  EXPECT_EQ(format_tick(1.2e8, 2e7), "1.2e+08");
}

TEST(SvgPlotTest, OnePolylinePerSeriesWithLegendAndTicks) {
  const std::vector<Series> series = {ramp("train_loss", 200, 10), ramp("val_loss", 5, 11)};
  const std::string svg = render_line_plot_svg(series, "Loss <BabyGPT>", "step", "loss");
  expect_well_formed(svg);
  EXPECT_EQ(count(svg, "<polyline"), 2u);
  EXPECT_TRUE(contains(svg, ">train_loss</text>"));
  EXPECT_TRUE(contains(svg, ">val_loss</text>"));
  EXPECT_TRUE(contains(svg, ">Loss &lt;BabyGPT&gt;</text>"));  // escaped
  EXPECT_TRUE(contains(svg, ">step</text>"));
  EXPECT_TRUE(contains(svg, ">loss</text>"));
  // x runs 0..1990: ticks every 500; y 0.05..11: ticks every 2.
  for (const char* tick : {">0</text>", ">500</text>", ">2000</text>", ">10</text>"}) {
    EXPECT_TRUE(contains(svg, tick)) << tick;
  }
  EXPECT_EQ(count(svg, "class=\"xtick\""), 5u);
  // Markers only on the short series: 5 points plus its legend sample.
  EXPECT_EQ(count(svg, "<circle"), 6u);
  EXPECT_TRUE(contains(svg, "stroke=\"#1f77b4\""));
  EXPECT_TRUE(contains(svg, "stroke=\"#ff7f0e\""));
}

TEST(SvgPlotTest, SkipsNanAndEmptySeries) {
  Series gappy{"gappy", {0, 1, 2, 3}, {1, NAN, 3, INFINITY}};
  Series all_nan{"unmeasured", {0, 1}, {NAN, NAN}};
  Series empty{"empty", {}, {}};
  const std::string svg = render_line_plot_svg({gappy, all_nan, empty}, "t", "x", "y");
  expect_well_formed(svg);
  EXPECT_EQ(count(svg, "<polyline"), 1u);
  EXPECT_EQ(count(svg, "<circle"), 3u);              // two finite points and one legend sample
  EXPECT_TRUE(contains(svg, ">unmeasured</text>"));  // still listed, in its own colour
  EXPECT_TRUE(contains(svg, ">empty</text>"));
}

TEST(SvgPlotTest, NoDataStillDrawsAxes) {
  const std::string svg = render_line_plot_svg({}, "nothing yet", "step", "loss");
  expect_well_formed(svg);
  EXPECT_EQ(count(svg, "<polyline"), 0u);
  EXPECT_TRUE(contains(svg, ">no data</text>"));
  EXPECT_TRUE(contains(svg, ">nothing yet</text>"));
}

TEST(SvgPlotTest, SinglePointAndConstantSeries) {
  const std::string one = render_line_plot_svg({{"one", {7}, {3.5}}}, "t", "x", "y");
  expect_well_formed(one);
  EXPECT_EQ(count(one, "<polyline"), 1u);
  EXPECT_EQ(count(one, "<circle"), 2u);

  const std::string flat =
      render_line_plot_svg({{"flat", {0, 1, 2}, {0, 0, 0}}, {"flat2", {}, {4, 4}}}, "t", "x", "y");
  expect_well_formed(flat);
  EXPECT_EQ(count(flat, "<polyline"), 2u);
}

TEST(SvgPlotTest, MismatchedLengthsAreAnError) {
  try {
    render_line_plot_svg({{"bad", {1, 2, 3}, {1, 2}}}, "t", "x", "y");
    FAIL() << "expected volt::Error";
  } catch (const volt::Error& e) {
    EXPECT_TRUE(contains(e.what(), "'bad'")) << e.what();
  }
}

TEST(SvgPlotTest, LongSeriesAreThinnedToThePixelGrid) {
  Series noisy{"noisy", {}, {}};
  for (int i = 0; i < 200000; ++i) noisy.y.push_back(std::sin(i * 0.01) + (i % 7) * 0.01);
  const std::string svg = render_line_plot_svg({noisy}, "t", "x", "y");
  expect_well_formed(svg);
  EXPECT_EQ(count(svg, "<polyline"), 1u);
  EXPECT_LT(svg.size(), 200000u);  // ~4 points per pixel column, not 200k points
  EXPECT_EQ(count(svg, "<circle"), 0u);
}

TEST(SvgPlotTest, WritesAtomically) {
  const std::string path = ::testing::TempDir() + "volt_svg_" + std::to_string(getpid()) + ".svg";
  const std::vector<Series> series = {ramp("loss", 20, 4)};
  write_line_plot_svg(path, series, "Loss", "step", "loss");
  EXPECT_EQ(read_all(path), render_line_plot_svg(series, "Loss", "step", "loss"));
  EXPECT_NE(access(path.c_str(), F_OK), -1);
  EXPECT_EQ(access((path + ".tmp").c_str(), F_OK), -1);
  std::remove(path.c_str());
  EXPECT_THROW(write_line_plot_svg("/nonexistent-dir/x.svg", series, "t", "x", "y"), volt::Error);
}

}  // namespace
}  // namespace volt
