#include "volt/core/svg_plot.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <iterator>
#include <utility>

#include "volt/core/atomic_file.h"
#include "volt/core/check.h"

namespace volt {
namespace {

constexpr double kWidth = 900;
constexpr double kHeight = 540;
constexpr double kTop = 50;     // room for the title
constexpr double kBottom = 62;  // x tick labels and the x label
constexpr double kRight = 20;
constexpr double kCharWidth = 7;  // rough advance of a 12 px sans-serif glyph, for layout only
constexpr size_t kMaxMarkedPoints = 30;
constexpr size_t kMaxValuedBars = 24;
constexpr size_t kMaxBarLabelChars = 24;  // longer ones are cut; the bar's tooltip has them whole
constexpr double kValueCharWidth = 6;     // advance of a 10 px glyph, for the values on the bars
// Least horizontal distance between 45-degree labels: 12 px text needs ~13 px between baselines.
constexpr double kRotatedLabelPitch = 19;
// matplotlib's tab10: distinct, colour-blind-friendlier than pure RGB.
const char* const kPalette[] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
                                "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"};

struct Point {
  double x, y;
};

// The plot area in pixels and the data window it shows (first to last tick on each axis).
struct Frame {
  double left, top, width, height;
  std::vector<double> xticks, yticks;

  double px(double x) const {
    return left + (x - xticks.front()) / (xticks.back() - xticks.front()) * width;
  }
  double py(double y) const {
    return top + height - (y - yticks.front()) / (yticks.back() - yticks.front()) * height;
  }
};

std::string num(double v) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.1f", v);
  return buf;
}

std::string escape_xml(const std::string& text) {
  std::string out;
  for (char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&apos;"; break;
      default: out += c;
    }
  }
  return out;
}

std::vector<Point> finite_points(const Series& s) {
  VOLT_CHECK(s.x.empty() || s.x.size() == s.y.size(), "[svg] series '", s.name, "': ", s.x.size(),
             " x values but ", s.y.size(), " y values");
  std::vector<Point> points;
  points.reserve(s.y.size());
  for (size_t i = 0; i < s.y.size(); ++i) {
    const double x = s.x.empty() ? static_cast<double>(i) : s.x[i];
    if (std::isfinite(x) && std::isfinite(s.y[i])) points.push_back({x, s.y[i]});
  }
  return points;
}

size_t widest_label(const std::vector<double>& ticks) {
  const double step = ticks[1] - ticks[0];
  size_t widest = 0;
  for (double t : ticks) widest = std::max(widest, format_tick(t, step).size());
  return widest;
}

size_t widest_name(const std::vector<Series>& series) {
  size_t widest = 0;
  for (const auto& s : series) widest = std::max(widest, s.name.size());
  return widest;
}

// min_left and bottom are the margins the x axis labels need (below the plot, and to the left
// of it for rotated ones); right_extra is the legend's room.
Frame layout_frame(std::vector<double> xticks, std::vector<double> yticks, double min_left,
                   double right_extra, double bottom) {
  Frame f{};
  f.xticks = std::move(xticks);
  f.yticks = std::move(yticks);
  // The y label sits at the far left, the tick labels right-aligned against the plot.
  f.left = std::max(min_left, 40 + kCharWidth * static_cast<double>(widest_label(f.yticks)));
  f.top = kTop;
  f.width = std::max(200.0, kWidth - f.left - kRight - right_extra);
  f.height = kHeight - kTop - bottom;
  return f;
}

Frame make_frame(const std::vector<std::vector<Point>>& all, double legend_width) {
  double x0 = INFINITY, x1 = -INFINITY, y0 = INFINITY, y1 = -INFINITY;
  for (const auto& points : all) {
    for (const Point& p : points) {
      x0 = std::min(x0, p.x), x1 = std::max(x1, p.x);
      y0 = std::min(y0, p.y), y1 = std::max(y1, p.y);
    }
  }
  // No points: infinite bounds, which nice_ticks maps to [0, 1].
  return layout_frame(nice_ticks(x0, x1), nice_ticks(y0, y1), 60, legend_width, kBottom);
}

std::string open_svg() {
  const std::string w = num(kWidth), h = num(kHeight);
  return "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" + w + "\" height=\"" + h +
         "\" viewBox=\"0 0 " + w + " " + h + "\" font-family=\"sans-serif\" font-size=\"12\">\n" +
         "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n";
}

// Gridlines and tick labels, the x ones only for a numeric x axis.
void append_grid_and_ticks(std::string& svg, const Frame& f, bool numeric_x) {
  const double xstep = f.xticks[1] - f.xticks[0], ystep = f.yticks[1] - f.yticks[0];
  const std::string bottom = num(f.top + f.height), right = num(f.left + f.width);
  svg += "<g stroke=\"#e6e6e6\" stroke-width=\"1\">\n";
  // A bar chart's x axis is its bars: no numeric gridlines or ticks.
  const std::vector<double> xticks = numeric_x ? f.xticks : std::vector<double>{};
  for (double t : xticks) {
    const std::string x = num(f.px(t));
    svg += "<line x1=\"" + x + "\" y1=\"" + num(f.top) + "\" x2=\"" + x + "\" y2=\"" + bottom +
           "\"/>\n";
  }
  for (double t : f.yticks) {
    const std::string y = num(f.py(t));
    svg += "<line x1=\"" + num(f.left) + "\" y1=\"" + y + "\" x2=\"" + right + "\" y2=\"" + y +
           "\"/>\n";
  }
  svg += "</g>\n<g fill=\"#333\">\n";
  for (double t : xticks) {
    svg += "<text class=\"xtick\" x=\"" + num(f.px(t)) + "\" y=\"" + num(f.top + f.height + 18) +
           "\" text-anchor=\"middle\">" + format_tick(t, xstep) + "</text>\n";
  }
  for (double t : f.yticks) {
    svg += "<text class=\"ytick\" x=\"" + num(f.left - 8) + "\" y=\"" + num(f.py(t) + 4) +
           "\" text-anchor=\"end\">" + format_tick(t, ystep) + "</text>\n";
  }
  svg += "</g>\n";
}

void append_border(std::string& svg, const Frame& f) {
  svg += "<rect x=\"" + num(f.left) + "\" y=\"" + num(f.top) + "\" width=\"" + num(f.width) +
         "\" height=\"" + num(f.height) + "\" fill=\"none\" stroke=\"#444\" stroke-width=\"1\"/>\n";
}

void append_labels(std::string& svg, const Frame& f, const std::string& title,
                   const std::string& xlabel, const std::string& ylabel) {
  const std::string cx = num(f.left + f.width / 2), cy = num(f.top + f.height / 2);
  svg += "<text x=\"" + cx + "\" y=\"30\" text-anchor=\"middle\" font-size=\"16\" " +
         "font-weight=\"bold\">" + escape_xml(title) + "</text>\n";
  svg += "<text x=\"" + cx + "\" y=\"" + num(kHeight - 16) + "\" text-anchor=\"middle\">" +
         escape_xml(xlabel) + "</text>\n";
  svg += "<text x=\"20\" y=\"" + cy + "\" text-anchor=\"middle\" transform=\"rotate(-90 20 " + cy +
         ")\">" + escape_xml(ylabel) + "</text>\n";
}

void append_no_data(std::string& svg, const Frame& f) {
  svg += "<text x=\"" + num(f.left + f.width / 2) + "\" y=\"" + num(f.top + f.height / 2) +
         "\" text-anchor=\"middle\" fill=\"#888\">no data</text>\n";
}

// A polyline with far more points than pixel columns only bloats the file. Keep, per column,
// the first, lowest, highest and last point (in order): the drawn envelope stays identical.
std::vector<Point> decimate(const std::vector<Point>& pixels) {
  std::vector<Point> kept;
  size_t begin = 0;
  while (begin < pixels.size()) {
    const double column = std::floor(pixels[begin].x);
    size_t end = begin, lo = begin, hi = begin;
    for (; end < pixels.size() && std::floor(pixels[end].x) == column; ++end) {
      if (pixels[end].y < pixels[lo].y) lo = end;
      if (pixels[end].y > pixels[hi].y) hi = end;
    }
    size_t picks[] = {begin, lo, hi, end - 1};
    std::sort(std::begin(picks), std::end(picks));
    for (size_t i = 0; i < 4; ++i) {
      if (i == 0 || picks[i] != picks[i - 1]) kept.push_back(pixels[picks[i]]);
    }
    begin = end;
  }
  return kept;
}

void append_series(std::string& svg, const Frame& f, const std::vector<Point>& points,
                   const std::string& color) {
  std::vector<Point> pixels;
  pixels.reserve(points.size());
  for (const Point& p : points) pixels.push_back({f.px(p.x), f.py(p.y)});
  if (pixels.size() > 4 * static_cast<size_t>(f.width)) pixels = decimate(pixels);
  svg += "<polyline fill=\"none\" stroke=\"" + color +
         "\" stroke-width=\"1.8\" stroke-linejoin=\"round\" stroke-linecap=\"round\" points=\"";
  for (size_t i = 0; i < pixels.size(); ++i) {
    svg += (i ? " " : "") + num(pixels[i].x) + "," + num(pixels[i].y);
  }
  svg += "\"/>\n";
  if (points.size() > kMaxMarkedPoints) return;
  for (const Point& p : pixels) {
    svg += "<circle cx=\"" + num(p.x) + "\" cy=\"" + num(p.y) + "\" r=\"3\" fill=\"" + color +
           "\"/>\n";
  }
}

void append_legend(std::string& svg, const Frame& f, const std::vector<Series>& series,
                   const std::vector<std::vector<Point>>& points) {
  const double x = f.left + f.width + 16;
  svg += "<g class=\"legend\">\n";
  for (size_t i = 0; i < series.size(); ++i) {
    const std::string color = kPalette[i % std::size(kPalette)];
    const double y = f.top + 12 + 20 * static_cast<double>(i);
    svg += "<line x1=\"" + num(x) + "\" y1=\"" + num(y) + "\" x2=\"" + num(x + 22) + "\" y2=\"" +
           num(y) + "\" stroke=\"" + color + "\" stroke-width=\"2.5\"/>\n";
    if (!points[i].empty() && points[i].size() <= kMaxMarkedPoints) {
      svg += "<circle cx=\"" + num(x + 11) + "\" cy=\"" + num(y) + "\" r=\"3\" fill=\"" + color +
             "\"/>\n";
    }
    svg += "<text x=\"" + num(x + 28) + "\" y=\"" + num(y + 4) + "\">" +
           escape_xml(series[i].name) + "</text>\n";
  }
  svg += "</g>\n";
}

// Layout counts characters, not bytes, so a UTF-8 label is not taken for a wider one.
size_t glyphs(const std::string& text) {
  size_t n = 0;
  for (char c : text) n += (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  return n;
}

// At most max_glyphs characters, the last one an ellipsis when cut; never splits a character.
std::string shorten(const std::string& text, size_t max_glyphs) {
  if (glyphs(text) <= max_glyphs) return text;
  size_t kept = 0, end = 0;
  for (; end < text.size(); ++end) {
    if ((static_cast<unsigned char>(text[end]) & 0xC0) != 0x80 && kept++ == max_glyphs - 1) break;
  }
  return text.substr(0, end) + "\xE2\x80\xA6";
}

// Bar values: counts exactly, other values to about three significant digits and, for ordinary
// magnitudes, without an exponent.
std::string format_value(double v) {
  char buf[48];
  if (v == std::floor(v) && v < 1e15) {
    std::snprintf(buf, sizeof(buf), "%.0f", v);
  } else if (v >= 1e15 || v < 1e-3) {
    std::snprintf(buf, sizeof(buf), "%.3g", v);
  } else {
    const int decimals = static_cast<int>(std::clamp(2 - std::floor(std::log10(v)), 0.0, 5.0));
    std::snprintf(buf, sizeof(buf), "%.*f", decimals, v);
    std::string text = buf;
    if (decimals > 0) {
      text.erase(text.find_last_not_of('0') + 1);
      if (text.back() == '.') text.pop_back();
    }
    return text;
  }
  return buf;
}

}  // namespace

std::vector<double> nice_ticks(double lo, double hi, int target_intervals) {
  if (!std::isfinite(lo) || !std::isfinite(hi) || !std::isfinite(hi - lo)) lo = 0, hi = 1;
  if (lo > hi) std::swap(lo, hi);
  if (lo == hi) {
    // A constant still gets a window around it rather than a zero-height axis.
    const double pad = lo == 0 ? 1 : std::fabs(lo) * 0.1;
    lo -= pad, hi += pad;
  }
  // A step below ~1e-12 of the values is float noise, and would overflow the tick index below.
  const double scale = std::max(std::fabs(lo), std::fabs(hi));
  const double raw = std::max((hi - lo) / std::max(1, target_intervals), scale * 1e-12);
  const double magnitude = std::pow(10, std::floor(std::log10(raw)));
  const double fraction = raw / magnitude;
  const double step = (fraction <= 1 ? 1 : fraction <= 2 ? 2 : fraction <= 5 ? 5 : 10) * magnitude;
  // Ticks are integer multiples of the step, so 0.1 * 3 never shows up as 0.30000000000000004.
  const auto first = static_cast<int64_t>(std::floor(lo / step));
  const auto last = std::max(first + 1, static_cast<int64_t>(std::ceil(hi / step)));
  std::vector<double> ticks;
  for (int64_t i = first; i <= last; ++i) ticks.push_back(static_cast<double>(i) * step);
  return ticks;
}

std::string format_tick(double value, double step) {
  if (std::fabs(value) < std::fabs(step) * 1e-9) value = 0;  // rounding noise, and "-0"
  char buf[48];
  const double step_exp = std::floor(std::log10(std::fabs(step)) + 1e-9);
  if (std::fabs(step) >= 1e-3 && std::fabs(value) < 1e7) {
    const int decimals = static_cast<int>(std::max(0.0, -step_exp));
    std::snprintf(buf, sizeof(buf), "%.*f", decimals, value);
  } else {
    // Very small or large: scientific, with the digits that distinguish neighbouring ticks.
    const double value_exp = value == 0 ? step_exp : std::floor(std::log10(std::fabs(value)));
    const int digits = static_cast<int>(std::clamp(value_exp - step_exp + 1, 1.0, 15.0));
    std::snprintf(buf, sizeof(buf), "%.*g", digits, value);
  }
  return buf;
}

std::string render_line_plot_svg(const std::vector<Series>& series, const std::string& title,
                                 const std::string& xlabel, const std::string& ylabel) {
  std::vector<std::vector<Point>> points;
  bool any_point = false;
  for (const auto& s : series) {
    points.push_back(finite_points(s));
    any_point = any_point || !points.back().empty();
  }
  const double name_width = kCharWidth * static_cast<double>(widest_name(series));
  const double legend_width = series.empty() ? 0 : std::min(280.0, 60 + name_width);
  const Frame f = make_frame(points, legend_width);

  std::string svg = open_svg();
  append_grid_and_ticks(svg, f, /*numeric_x=*/true);
  append_border(svg, f);
  append_labels(svg, f, title, xlabel, ylabel);
  if (!any_point) append_no_data(svg, f);
  for (size_t i = 0; i < series.size(); ++i) {
    if (!points[i].empty()) append_series(svg, f, points[i], kPalette[i % std::size(kPalette)]);
  }
  if (!series.empty()) append_legend(svg, f, series, points);
  return svg + "</svg>\n";
}

void write_line_plot_svg(const std::string& path, const std::vector<Series>& series,
                         const std::string& title, const std::string& xlabel,
                         const std::string& ylabel) {
  write_file_atomic(path, render_line_plot_svg(series, title, xlabel, ylabel));
}

std::string render_bar_chart_svg(const std::vector<Bar>& bars, const std::string& title,
                                 const std::string& xlabel, const std::string& ylabel) {
  double highest = 0;
  std::vector<std::string> labels;
  size_t widest = 0;
  for (size_t i = 0; i < bars.size(); ++i) {
    const Bar& b = bars[i];
    VOLT_CHECK(std::isfinite(b.value) && b.value >= 0, "[svg] bar '", b.label, "' (#", i,
               "): value ", b.value, " is not a finite non-negative number");
    highest = std::max(highest, b.value);
    labels.push_back(shorten(b.label, kMaxBarLabelChars));
    widest = std::max(widest, glyphs(labels.back()));
  }
  // Bar i fills the slot [i, i + 1] of the x axis. The y axis starts at 0, as a bar's length is
  // its value; all-zero or no bars still get a [0, 1] axis rather than one around 0.
  const double slots = static_cast<double>(std::max<size_t>(bars.size(), 1));
  std::vector<double> yticks = nice_ticks(0, highest > 0 ? highest : 1);
  Frame f = layout_frame({0, slots}, yticks, 60, 0, kBottom);
  double slot = f.width / slots;

  // Labels wider than their slot are turned 45 degrees, hanging down-left from the bar: the
  // plot shrinks from below and, for the first labels, moves right to keep them on the canvas.
  // Where even those would overlap, only every stride-th bar is labelled.
  const double label_width = kCharWidth * static_cast<double>(widest);
  const bool rotate = label_width + 6 > slot;
  const double drop = rotate ? label_width * std::sqrt(0.5) : 0;  // both across and down
  size_t stride = 1;
  if (rotate) {
    f = layout_frame({0, slots}, std::move(yticks), std::max(60.0, drop + 8 - slot / 2), 0,
                     std::max(kBottom, drop + 48));
    slot = f.width / slots;
    stride = static_cast<size_t>(std::ceil(kRotatedLabelPitch / slot));
  }

  std::vector<std::string> values;
  bool show_values = !bars.empty() && bars.size() <= kMaxValuedBars;
  for (const Bar& b : bars) {
    values.push_back(format_value(b.value));
    const double width = kValueCharWidth * static_cast<double>(glyphs(values.back()));
    show_values = show_values && width <= slot;
  }

  std::string svg = open_svg();
  append_grid_and_ticks(svg, f, /*numeric_x=*/false);
  // Gaps between bars would only alias once the bars are a few pixels wide.
  const double gap = slot < 4 ? 0 : 0.1;
  const double base = f.py(0);
  svg += "<g fill=\"" + std::string(kPalette[0]) + "\">\n";
  for (size_t i = 0; i < bars.size(); ++i) {
    const double x = f.px(static_cast<double>(i) + gap), top = f.py(bars[i].value);
    svg += "<rect class=\"bar\" x=\"" + num(x) + "\" y=\"" + num(top) + "\" width=\"" +
           num(slot * (1 - 2 * gap)) + "\" height=\"" + num(base - top) + "\"><title>" +
           escape_xml(bars[i].label) + ": " + values[i] + "</title></rect>\n";
  }
  svg += "</g>\n";
  append_border(svg, f);  // after the bars, so the x axis line runs over their feet
  append_labels(svg, f, title, xlabel, ylabel);
  if (bars.empty()) append_no_data(svg, f);

  svg += "<g fill=\"#333\">\n";
  for (size_t i = 0; i < bars.size(); i += stride) {
    const double cx = f.px(static_cast<double>(i) + 0.5);
    if (!rotate) {
      svg += "<text class=\"xtick\" x=\"" + num(cx) + "\" y=\"" + num(base + 18) +
             "\" text-anchor=\"middle\">" + escape_xml(labels[i]) + "</text>\n";
      continue;
    }
    // Nudged right so that the rotated text's middle, not its baseline, ends under the bar.
    const std::string x = num(cx + 4), y = num(base + 12);
    svg += "<text class=\"xtick\" x=\"" + x + "\" y=\"" + y +
           "\" text-anchor=\"end\" transform=\"rotate(-45 " + x + " " + y + ")\">" +
           escape_xml(labels[i]) + "</text>\n";
  }
  for (size_t i = 0; show_values && i < bars.size(); ++i) {
    svg += "<text class=\"value\" x=\"" + num(f.px(static_cast<double>(i) + 0.5)) + "\" y=\"" +
           num(f.py(bars[i].value) - 4) + "\" text-anchor=\"middle\" font-size=\"10\">" +
           values[i] + "</text>\n";
  }
  svg += "</g>\n";
  return svg + "</svg>\n";
}

void write_bar_chart_svg(const std::string& path, const std::vector<Bar>& bars,
                         const std::string& title, const std::string& xlabel,
                         const std::string& ylabel) {
  write_file_atomic(path, render_bar_chart_svg(bars, title, xlabel, ylabel));
}

}  // namespace volt
