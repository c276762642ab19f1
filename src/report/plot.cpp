// A line-plot renderer on OpenCV (see report/plot.hpp): round-number ticks, light grid,
// anti-aliased sub-pixel lines, dashes, markers, a legend in the emptiest corner (or right of
// the axes when every corner would hide data).
#include "deconvscope/report/plot.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>

#include <opencv2/imgproc.hpp>

#include "draw.hpp"

namespace ds {

namespace {

constexpr int kLeft = 70, kRight = 18, kTop = 38, kBottom = 50;  // room for labels around the axes
constexpr int kShift = 4;                                        // sub-pixel bits for cv::line
const cv::Scalar kGrid(236, 236, 236);
const cv::Scalar kAxis(150, 150, 150);

// 1, 2 or 5 times a power of ten, near span/target.
double nice_step(double span, int target) {
  const double raw = span / std::max(1, target);
  const double p = std::pow(10.0, std::floor(std::log10(raw)));
  const double f = raw / p;
  return (f < 1.5 ? 1 : f < 3.5 ? 2 : f < 7.5 ? 5 : 10) * p;
}

std::string tick_text(double v, double step) {
  const int decimals = std::max(0, int(std::ceil(-std::log10(step) - 1e-9)));
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, std::fabs(v) < step * 1e-6 ? 0.0 : v);
  return buf;
}

struct Axis {
  double lo = 0, hi = 1, step = 0.2;
};

// Widens [lo, hi] to whole steps, except at ends the caller fixed.
Axis make_axis(double lo, double hi, bool fixed_lo, bool fixed_hi, bool integer) {
  // A spread that is float rounding around the values (1.0 and 1.0000001) counts as none:
  // ticks at that resolution would be unreadable digits of noise.
  if (!fixed_lo && !fixed_hi && hi > lo && hi - lo <= 1e-6 * std::max(std::fabs(lo), std::fabs(hi))) hi = lo;
  if (!(hi > lo) && lo == 0) {
    // Every value 0 (no dead features, 0 %): 0 to 1, not -1 to 1, which would show a
    // negative range the quantity cannot take.
    if (!fixed_hi || !(hi > lo)) hi = 1;
  } else if (!(hi > lo)) {
    const double pad = std::fabs(lo) * 0.1;
    if (!fixed_lo) lo -= pad;
    if (!fixed_hi || !(hi > lo)) hi = lo + 2 * pad;
  }
  Axis a;
  a.step = nice_step(hi - lo, 5);
  if (integer) a.step = std::max(1.0, std::round(a.step));
  a.lo = fixed_lo ? lo : std::floor(lo / a.step + 1e-9) * a.step;
  a.hi = fixed_hi ? hi : std::ceil(hi / a.step - 1e-9) * a.step;
  return a;
}

cv::Point sub(cv::Point2d p) {
  return cv::Point(int(std::lround(p.x * (1 << kShift))), int(std::lround(p.y * (1 << kShift))));
}

void line(cv::Mat& img, cv::Point2d a, cv::Point2d b, const cv::Scalar& c, int thickness) {
  cv::line(img, sub(a), sub(b), c, thickness, cv::LINE_AA, kShift);
}

// Dashes continue across segment joints: `phase` carries the position in the pattern.
void dashed_line(cv::Mat& img, cv::Point2d a, cv::Point2d b, const cv::Scalar& c, int thickness, double& phase) {
  constexpr double kOn = 8, kOff = 5;
  const double len = cv::norm(b - a);
  if (len <= 0) return;
  const cv::Point2d dir = (b - a) / len;
  double t = 0;
  while (t < len) {
    const double in = std::fmod(phase, kOn + kOff);
    const double run = in < kOn ? kOn - in : kOn + kOff - in;
    const double t1 = std::min(len, t + run);
    if (in < kOn) line(img, a + dir * t, a + dir * t1, c, thickness);
    phase += t1 - t;
    t = t1;
  }
}

void draw_series_line(cv::Mat& img, cv::Point2d a, cv::Point2d b, const PlotSeries& s, double& phase) {
  if (s.dashed)
    dashed_line(img, a, b, s.color, 2, phase);
  else
    line(img, a, b, s.color, 2);
}

}  // namespace

cv::Scalar plot_color(size_t i) {
  static const std::array<cv::Scalar, 10> kTab10 = {
      cv::Scalar(180, 119, 31),  cv::Scalar(14, 127, 255), cv::Scalar(44, 160, 44),   cv::Scalar(40, 39, 214),
      cv::Scalar(189, 103, 148), cv::Scalar(75, 86, 140),  cv::Scalar(194, 119, 227), cv::Scalar(127, 127, 127),
      cv::Scalar(34, 189, 188),  cv::Scalar(207, 190, 23)};
  return kTab10[i % kTab10.size()];
}

namespace {

constexpr int kLegendRow = 20, kLegendSample = 26;  // a legend entry's height; its line sample's length

// The legend's entries (the labelled series) and its box; outside the axes it takes their room.
struct Legend {
  std::vector<const PlotSeries*> listed;
  cv::Size box;
  bool outside = false;
};

Legend plan_legend(const PlotSpec& spec, const cv::Size& size, bool want_outside) {
  Legend g;
  int text_w = 0;
  for (const auto& s : spec.series)
    if (!s.label.empty()) {
      g.listed.push_back(&s);
      text_w = std::max(text_w, draw::text_size(s.label, 0.42).width);
    }
  g.box = cv::Size(text_w + kLegendSample + 24, int(g.listed.size()) * kLegendRow + 10);
  g.outside = want_outside && !g.listed.empty() && size.width - g.box.width - 12 - kLeft - kRight > 100;
  return g;
}

// The axes box in pixels and the data ranges it shows.
struct Axes {
  cv::Rect area;
  Axis x, y;
  bool no_data = false;

  cv::Point2d to_px(double vx, double vy) const {
    return cv::Point2d(area.x + (vx - x.lo) / (x.hi - x.lo) * (area.width - 1),
                       area.y + (y.hi - vy) / (y.hi - y.lo) * (area.height - 1));
  }
};

// Ranges over the finite points, widened to round ticks except where the spec fixes y.
Axes make_axes(const PlotSpec& spec, const cv::Rect& area) {
  double xmin = INFINITY, xmax = -INFINITY, ymin = INFINITY, ymax = -INFINITY;
  for (const auto& s : spec.series)
    for (size_t i = 0; i < std::min(s.x.size(), s.y.size()); ++i)
      if (std::isfinite(s.x[i]) && std::isfinite(s.y[i])) {
        xmin = std::min(xmin, s.x[i]), xmax = std::max(xmax, s.x[i]);
        ymin = std::min(ymin, s.y[i]), ymax = std::max(ymax, s.y[i]);
      }
  Axes a;
  a.area = area;
  a.no_data = !(xmin <= xmax);
  if (a.no_data) xmin = 0, xmax = 1, ymin = 0, ymax = 1;
  const bool fix_lo = std::isfinite(spec.y_min), fix_hi = std::isfinite(spec.y_max);
  if (fix_lo) ymin = spec.y_min;
  if (fix_hi) ymax = spec.y_max;
  a.x = make_axis(xmin, xmax, false, false, spec.integer_x);
  a.y = make_axis(ymin, ymax, fix_lo, fix_hi, false);
  return a;
}

void draw_grid(cv::Mat& img, const Axes& a) {
  const cv::Rect& area = a.area;
  const double eps = 1e-9;
  for (double v = std::ceil(a.y.lo / a.y.step - eps) * a.y.step; v <= a.y.hi + a.y.step * 1e-6; v += a.y.step) {
    const double y = a.to_px(a.x.lo, v).y;
    line(img, {double(area.x), y}, {double(area.br().x - 1), y}, kGrid, 1);
    line(img, {area.x - 5.0, y}, {double(area.x), y}, kAxis, 1);
    const std::string t = tick_text(v, a.y.step);
    const cv::Size ts = draw::text_size(t, 0.4);
    draw::text(img, t, cv::Point(area.x - 8 - ts.width, int(y) + ts.height / 2), 0.4, draw::kMutedInk);
  }
  for (double v = std::ceil(a.x.lo / a.x.step - eps) * a.x.step; v <= a.x.hi + a.x.step * 1e-6; v += a.x.step) {
    const double x = a.to_px(v, a.y.lo).x;
    line(img, {x, double(area.y)}, {x, double(area.br().y - 1)}, kGrid, 1);
    line(img, {x, double(area.br().y - 1)}, {x, area.br().y + 4.0}, kAxis, 1);
    draw::text_centered(img, tick_text(v, a.x.step), int(x), area.br().y + 18, 0.4, draw::kMutedInk);
  }
  cv::rectangle(img, area, kAxis, 1);
}

// Plot title on top, x label below, y label turned on its side; "no data" in an empty plot.
void draw_titles(cv::Mat& img, const PlotSpec& spec, const Axes& a) {
  const cv::Rect& area = a.area;
  draw::text_centered(img, spec.title, area.x + area.width / 2, 24, draw::kTitleScale, draw::kInk, 1);
  draw::text_centered(img, spec.x_label, area.x + area.width / 2, img.rows - 10, draw::kTextScale);
  if (!spec.y_label.empty()) {
    int base = 0;
    const cv::Size ts = draw::text_size(spec.y_label, draw::kTextScale, 1, &base);
    cv::Mat label(ts.height + base + 4, ts.width + 4, CV_8UC3, draw::kWhite);
    draw::text(label, spec.y_label, cv::Point(2, ts.height + 2), draw::kTextScale);
    cv::rotate(label, label, cv::ROTATE_90_COUNTERCLOCKWISE);
    draw::paste(img, label, cv::Point(6, area.y + area.height / 2 - label.rows / 2));
  }
  if (a.no_data)
    draw::text_centered(img, "no data", area.x + area.width / 2, area.y + area.height / 2, 0.6, draw::kMutedInk);
}

// Segments between consecutive finite points, clipped to the axes box, and the markers.
// Returns points along everything drawn, for the legend's placement.
std::vector<cv::Point2d> draw_series(cv::Mat& img, const PlotSpec& spec, const Axes& a) {
  std::vector<cv::Point2d> drawn;
  for (const auto& s : spec.series) {
    double phase = 0;
    bool have_prev = false;
    cv::Point2d prev;
    for (size_t i = 0; i < std::min(s.x.size(), s.y.size()); ++i) {
      if (!std::isfinite(s.x[i]) || !std::isfinite(s.y[i])) {
        have_prev = false;
        continue;
      }
      const cv::Point2d p = a.to_px(s.x[i], s.y[i]);
      if (have_prev) {
        cv::Point from(prev), to(p);
        if (cv::clipLine(a.area, from, to)) {
          draw_series_line(img, prev, p, s, phase);
          // A sample every 3 px or closer, so that no line slips between samples under a legend.
          const int n = std::max(16, int(cv::norm(p - prev) / 3));
          for (int k = 0; k <= n; ++k) drawn.push_back(prev + (p - prev) * (double(k) / n));
        }
      }
      drawn.push_back(p);
      prev = p;
      have_prev = true;
    }
    if (!s.markers) continue;
    for (size_t i = 0; i < std::min(s.x.size(), s.y.size()); ++i) {
      if (!std::isfinite(s.x[i]) || !std::isfinite(s.y[i])) continue;
      const cv::Point2d p = a.to_px(s.x[i], s.y[i]);
      if (a.area.contains(cv::Point(p))) {
        cv::circle(img, sub(p), 3 << kShift, s.color, cv::FILLED, cv::LINE_AA, kShift);
        cv::circle(img, sub(p), 3 << kShift, draw::kWhite, 1, cv::LINE_AA, kShift);
      }
    }
  }
  return drawn;
}

// The legend right of the axes, or in the corner that covers the fewest drawn points.
// Returns how many it covers (0 outside).
size_t draw_legend(cv::Mat& img, const Legend& g, const cv::Rect& area, const std::vector<cv::Point2d>& drawn) {
  cv::Rect best(area.br().x + 12, area.y, g.box.width, g.box.height);
  size_t hits = 0;
  if (!g.outside) {
    const int inset = 8;
    const std::array<cv::Point, 4> corners = {
        cv::Point(area.br().x - inset - g.box.width, area.y + inset),
        cv::Point(area.br().x - inset - g.box.width, area.br().y - inset - g.box.height),
        cv::Point(area.x + inset, area.y + inset), cv::Point(area.x + inset, area.br().y - inset - g.box.height)};
    hits = SIZE_MAX;
    for (const auto& c : corners) {
      const cv::Rect r(c, g.box);
      size_t n = 0;
      for (const auto& p : drawn) n += r.contains(cv::Point(p)) ? 1 : 0;
      if (n < hits) hits = n, best = r;
    }
  }
  cv::rectangle(img, best, draw::kWhite, cv::FILLED);
  cv::rectangle(img, best, cv::Scalar(200, 200, 200), 1);
  for (size_t i = 0; i < g.listed.size(); ++i) {
    const PlotSeries& s = *g.listed[i];
    const double y = best.y + 5 + kLegendRow * (i + 0.5);
    const cv::Point2d a(best.x + 8, y), b(best.x + 8 + kLegendSample, y);
    double phase = 0;
    draw_series_line(img, a, b, s, phase);
    if (s.markers) cv::circle(img, sub((a + b) * 0.5), 3 << kShift, s.color, cv::FILLED, cv::LINE_AA, kShift);
    draw::text(img, s.label, cv::Point(best.x + kLegendSample + 16, int(y) + 5), 0.42);
  }
  return hits;
}

// Draws the plot with the legend right of the axes when `want_outside` and there is room
// (`placed_outside` says), else in the corner covering the fewest drawn points;
// `legend_hits` is how many it covers there.
cv::Mat draw_plot(const PlotSpec& spec, bool want_outside, bool& placed_outside, size_t& legend_hits) {
  placed_outside = false;
  legend_hits = 0;
  const cv::Size size(std::max(spec.size.width, kLeft + kRight + 100), std::max(spec.size.height, kTop + kBottom + 80));
  cv::Mat img(size, CV_8UC3, draw::kWhite);
  const Legend legend = plan_legend(spec, size, want_outside);
  const int right = kRight + (legend.outside ? legend.box.width + 12 : 0);
  const Axes axes = make_axes(spec, cv::Rect(kLeft, kTop, size.width - kLeft - right, size.height - kTop - kBottom));
  draw_grid(img, axes);
  draw_titles(img, spec, axes);
  const std::vector<cv::Point2d> drawn = draw_series(img, spec, axes);
  if (legend.listed.empty()) return img;
  legend_hits = draw_legend(img, legend, axes.area, drawn);
  placed_outside = legend.outside;
  return img;
}

}  // namespace

cv::Mat plot_lines(const PlotSpec& spec) {
  bool outside = false;
  size_t hits = 0;
  cv::Mat img = draw_plot(spec, spec.legend_outside, outside, hits);
  if (outside || hits == 0) return img;
  // Every corner of the axes covers data: the legend goes right of them if it fits,
  // narrowing the axes, rather than hide a line.
  cv::Mat beside = draw_plot(spec, true, outside, hits);
  return outside ? beside : img;
}

}  // namespace ds
