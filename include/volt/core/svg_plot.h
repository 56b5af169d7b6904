// Line and bar charts as standalone SVG files (loss curves in run reports, histograms such as a
// corpus's document lengths), with no plotting dependency: "nice" axis ticks (1/2/5 x 10^k),
// gridlines and a title. Line charts draw one coloured polyline per series, markers on short
// series and a legend; NaN and infinite points are skipped.
#pragma once

#include <string>
#include <vector>

namespace volt {

struct Series {
  std::string name;
  std::vector<double> x, y;  // same length; an empty x means 0, 1, 2, ...
};

struct Bar {
  std::string label;  // shown under the x axis (e.g. a histogram bin, "<64")
  double value;
};

/// Evenly spaced round tick values (step 1, 2 or 5 x 10^k) from at or below lo to at or above
/// hi, with the smallest such step of at least (hi - lo) / target_intervals. lo == hi is widened
/// around the value, non-finite input gives the ticks of [0, 1]; always at least two ticks.
std::vector<double> nice_ticks(double lo, double hi, int target_intervals = 6);

/// A tick label with as many decimals as the step needs ("0.5", "2000", "2.5e-05"); never "-0".
std::string format_tick(double value, double step);

/// The SVG document (starts with "<svg"). A series whose x and y lengths differ is a volt::Error.
std::string render_line_plot_svg(const std::vector<Series>& series, const std::string& title,
                                 const std::string& xlabel, const std::string& ylabel);

/// Renders and writes to path atomically (path + ".tmp", then rename).
void write_line_plot_svg(const std::string& path, const std::vector<Series>& series,
                         const std::string& title, const std::string& xlabel,
                         const std::string& ylabel);

/// Vertical bars, one per entry in order, labelled under the x axis (rotated when they would
/// overlap; only every k-th label when even rotated ones would, and cut to 24 characters). The y
/// axis runs from 0 with nice ticks; with at most 24 bars each bar carries its value on top when
/// the values fit the bar's width. Every bar has a tooltip with its full label and value. An
/// empty list gives empty axes. A non-finite or negative value is a volt::Error naming the bar.
std::string render_bar_chart_svg(const std::vector<Bar>& bars, const std::string& title,
                                 const std::string& xlabel, const std::string& ylabel);

/// Renders and writes to path atomically (path + ".tmp", then rename).
void write_bar_chart_svg(const std::string& path, const std::vector<Bar>& bars,
                         const std::string& title, const std::string& xlabel,
                         const std::string& ylabel);

}  // namespace volt
