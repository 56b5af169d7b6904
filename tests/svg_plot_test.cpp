#include "volt/core/svg_plot.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "test_util.h"
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

// The drawn bars, in order, parsed back from the SVG.
struct DrawnBar {
  double x, y, width, height;
};

std::vector<DrawnBar> drawn_bars(const std::string& svg) {
  static const std::regex bar(R"re(<rect class="bar" x="([-0-9.]+)" y="([-0-9.]+)" )re"
                              R"re(width="([-0-9.]+)" height="([-0-9.]+)")re");
  std::vector<DrawnBar> bars;
  for (std::sregex_iterator it(svg.begin(), svg.end(), bar), end; it != end; ++it) {
    bars.push_back(
        {std::stod((*it)[1]), std::stod((*it)[2]), std::stod((*it)[3]), std::stod((*it)[4])});
  }
  return bars;
}

std::vector<Bar> numbered_bars(int n, const std::string& prefix) {
  std::vector<Bar> bars;
  for (int i = 0; i < n; ++i) bars.push_back({prefix + std::to_string(i), 1.0 + i % 5});
  return bars;
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

TEST(SvgPlotTest, BarChartHeightsAreProportionalToValues) {
  const std::vector<Bar> bars = {{"<64", 10}, {"64-127", 40}, {"128+", 25}, {"empty", 0}};
  const std::string svg = render_bar_chart_svg(bars, "Lengths <train>", "tokens", "documents");
  expect_well_formed(svg);
  const std::vector<DrawnBar> drawn = drawn_bars(svg);
  ASSERT_EQ(drawn.size(), bars.size());
  EXPECT_EQ(count(svg, "<rect"), bars.size() + 2);  // plus the background and the plot border
  const double px_per_unit = drawn[1].height / 40;
  EXPECT_GT(px_per_unit, 5);  // the tallest bar fills most of the ~430 px plot
  for (size_t i = 0; i < bars.size(); ++i) {
    EXPECT_NEAR(drawn[i].height, bars[i].value * px_per_unit, 0.2) << bars[i].label;
    EXPECT_NEAR(drawn[i].y + drawn[i].height, drawn[0].y + drawn[0].height, 0.2);  // one baseline
    EXPECT_NEAR(drawn[i].width, drawn[0].width, 0.1);
    if (i > 0) {
      EXPECT_GT(drawn[i].x, drawn[i - 1].x + drawn[i - 1].width);  // in order, apart
    }
  }
  // Labels and the title escaped; short labels stay horizontal.
  EXPECT_TRUE(contains(svg, ">&lt;64</text>"));
  EXPECT_FALSE(contains(svg, "<64"));
  EXPECT_TRUE(contains(svg, ">Lengths &lt;train&gt;</text>"));
  EXPECT_TRUE(contains(svg, ">128+</text>"));
  EXPECT_EQ(count(svg, "class=\"xtick\""), bars.size());
  EXPECT_FALSE(contains(svg, "rotate(-45"));
  // The y axis starts at 0 with round ticks up to at least the tallest bar.
  EXPECT_TRUE(contains(svg, "text-anchor=\"end\">0</text>"));
  EXPECT_TRUE(contains(svg, "text-anchor=\"end\">40</text>"));
  // Few bars: each carries its value.
  EXPECT_EQ(count(svg, "class=\"value\""), bars.size());
  EXPECT_TRUE(contains(svg, "font-size=\"10\">25</text>"));
  EXPECT_TRUE(contains(svg, "<title>&lt;64: 10</title>"));
}

TEST(SvgPlotTest, BarChartRotatesAndThinsCrowdedLabels) {
  const std::vector<Bar> some = numbered_bars(30, "1024-");
  const std::string svg = render_bar_chart_svg(some, "t", "x", "y");
  expect_well_formed(svg);
  EXPECT_EQ(drawn_bars(svg).size(), 30u);
  EXPECT_EQ(count(svg, "class=\"xtick\""), 30u);
  EXPECT_EQ(count(svg, "rotate(-45"), 30u);
  EXPECT_EQ(count(svg, "class=\"value\""), 0u);  // more than 24 bars

  // Hundreds of bins: too dense even turned, so only every k-th one is labelled.
  const std::vector<Bar> many = numbered_bars(400, "bin ");
  const std::string dense = render_bar_chart_svg(many, "t", "x", "y");
  expect_well_formed(dense);
  EXPECT_EQ(drawn_bars(dense).size(), 400u);
  EXPECT_GT(count(dense, "class=\"xtick\""), 10u);
  EXPECT_LT(count(dense, "class=\"xtick\""), 60u);
  EXPECT_TRUE(contains(dense, ">bin 0</text>"));

  // A long label is cut for the axis but kept whole in the tooltip.
  const std::string long_label(80, 'w');
  const std::string cut = render_bar_chart_svg({{long_label, 1}, {"b", 2}}, "t", "x", "y");
  expect_well_formed(cut);
  EXPECT_TRUE(contains(cut, ">" + std::string(23, 'w') + "\xE2\x80\xA6</text>"));
  EXPECT_TRUE(contains(cut, "<title>" + long_label + ": 1</title>"));
}

TEST(SvgPlotTest, BarChartValuesOnlyForAtMost24Bars) {
  const std::string few = render_bar_chart_svg(numbered_bars(24, "b"), "t", "x", "y");
  EXPECT_EQ(count(few, "class=\"value\""), 24u);
  const std::string more = render_bar_chart_svg(numbered_bars(25, "b"), "t", "x", "y");
  EXPECT_EQ(count(more, "class=\"value\""), 0u);
  const std::string fractions = render_bar_chart_svg({{"a", 0.125}, {"b", 1234.5}}, "t", "x", "y");
  EXPECT_TRUE(contains(fractions, ">0.125</text>"));
  EXPECT_TRUE(contains(fractions, ">1234</text>") || contains(fractions, ">1235</text>"));
}

TEST(SvgPlotTest, BarChartRejectsNonFiniteAndNegativeValues) {
  for (double bad : {static_cast<double>(NAN), static_cast<double>(INFINITY), -1.0}) {
    const std::string error = test::error_of([&] {
      render_bar_chart_svg({{"ok", 3}, {"bad-bin", bad}}, "t", "x", "y");
    });
    EXPECT_TRUE(contains(error, "'bad-bin'")) << error;
  }
  EXPECT_THROW(
      write_bar_chart_svg(::testing::TempDir() + "never.svg", {{"neg", -0.5}}, "t", "x", "y"),
      volt::Error);
}

TEST(SvgPlotTest, BarChartWithoutBarsOrHeightStillDrawsAxes) {
  const std::string empty = render_bar_chart_svg({}, "no corpus yet", "tokens", "documents");
  expect_well_formed(empty);
  EXPECT_TRUE(drawn_bars(empty).empty());
  EXPECT_TRUE(contains(empty, ">no data</text>"));
  EXPECT_TRUE(contains(empty, ">no corpus yet</text>"));
  EXPECT_GE(count(empty, "class=\"ytick\""), 2u);
  EXPECT_TRUE(contains(empty, "stroke=\"#444\""));  // the plot border

  // All zero: flat bars on a [0, 1] axis, not an axis centred on 0.
  const std::string zeros = render_bar_chart_svg({{"a", 0}, {"b", 0}}, "t", "x", "y");
  expect_well_formed(zeros);
  const std::vector<DrawnBar> drawn = drawn_bars(zeros);
  ASSERT_EQ(drawn.size(), 2u);
  EXPECT_EQ(drawn[0].height, 0);
  EXPECT_EQ(drawn[1].height, 0);
  EXPECT_TRUE(contains(zeros, "text-anchor=\"end\">0.0</text>"));
  EXPECT_TRUE(contains(zeros, "text-anchor=\"end\">1.0</text>"));
  EXPECT_FALSE(contains(zeros, "-0."));
}

TEST(SvgPlotTest, BarChartWritesAtomically) {
  test::ScopedTempDir dir;
  const std::string path = dir / "lengths.svg";
  const std::vector<Bar> bars = {{"<64", 3}, {"64+", 5}};
  write_bar_chart_svg(path, bars, "Lengths", "tokens", "documents");
  EXPECT_EQ(read_all(path), render_bar_chart_svg(bars, "Lengths", "tokens", "documents"));
  EXPECT_EQ(access((path + ".tmp").c_str(), F_OK), -1);
  EXPECT_THROW(write_bar_chart_svg(dir / "missing/x.svg", bars, "t", "x", "y"), volt::Error);
}

}  // namespace
}  // namespace volt
