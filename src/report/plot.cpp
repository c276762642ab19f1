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

// Draws the plot with the legend right of the axes when `want_outside` and there is room
// (`placed_outside` says), else in the corner covering the fewest drawn points;
// `legend_hits` is how many it covers there.
cv::Mat draw_plot(const PlotSpec& spec, bool want_outside, bool& placed_outside, size_t& legend_hits) {
  placed_outside = false;
  legend_hits = 0;
  const cv::Size size(std::max(spec.size.width, kLeft + kRight + 100), std::max(spec.size.height, kTop + kBottom + 80));
  cv::Mat img(size, CV_8UC3, draw::kWhite);

  // The legend's entries and size come first: outside the axes it takes their room.
  constexpr int kRow = 20, kSample = 26;
  std::vector<const PlotSeries*> listed;
  int text_w = 0;
  for (const auto& s : spec.series)
    if (!s.label.empty()) {
      listed.push_back(&s);
      text_w = std::max(text_w, draw::text_size(s.label, 0.42).width);
    }
  const cv::Size box(text_w + kSample + 24, int(listed.size()) * kRow + 10);
  const bool outside = want_outside && !listed.empty() && size.width - box.width - 12 - kLeft - kRight > 100;
  const int right = kRight + (outside ? box.width + 12 : 0);
  const cv::Rect area(kLeft, kTop, size.width - kLeft - right, size.height - kTop - kBottom);

  // Data ranges over finite points.
  double xmin = INFINITY, xmax = -INFINITY, ymin = INFINITY, ymax = -INFINITY;
  for (const auto& s : spec.series)
    for (size_t i = 0; i < std::min(s.x.size(), s.y.size()); ++i)
      if (std::isfinite(s.x[i]) && std::isfinite(s.y[i])) {
        xmin = std::min(xmin, s.x[i]), xmax = std::max(xmax, s.x[i]);
        ymin = std::min(ymin, s.y[i]), ymax = std::max(ymax, s.y[i]);
      }
  const bool no_data = !(xmin <= xmax);
  if (no_data) xmin = 0, xmax = 1, ymin = 0, ymax = 1;
  const bool fix_lo = std::isfinite(spec.y_min), fix_hi = std::isfinite(spec.y_max);
  if (fix_lo) ymin = spec.y_min;
  if (fix_hi) ymax = spec.y_max;
  const Axis ax = make_axis(xmin, xmax, false, false, spec.integer_x);
  const Axis ay = make_axis(ymin, ymax, fix_lo, fix_hi, false);
  auto to_px = [&](double x, double y) {
    return cv::Point2d(area.x + (x - ax.lo) / (ax.hi - ax.lo) * (area.width - 1),
                       area.y + (ay.hi - y) / (ay.hi - ay.lo) * (area.height - 1));
  };

  // Grid and ticks.
  const double eps = 1e-9;
  for (double v = std::ceil(ay.lo / ay.step - eps) * ay.step; v <= ay.hi + ay.step * 1e-6; v += ay.step) {
    const double y = to_px(ax.lo, v).y;
    line(img, {double(area.x), y}, {double(area.br().x - 1), y}, kGrid, 1);
    line(img, {area.x - 5.0, y}, {double(area.x), y}, kAxis, 1);
    const std::string t = tick_text(v, ay.step);
    const cv::Size ts = draw::text_size(t, 0.4);
    draw::text(img, t, cv::Point(area.x - 8 - ts.width, int(y) + ts.height / 2), 0.4, draw::kMutedInk);
  }
  for (double v = std::ceil(ax.lo / ax.step - eps) * ax.step; v <= ax.hi + ax.step * 1e-6; v += ax.step) {
    const double x = to_px(v, ay.lo).x;
    line(img, {x, double(area.y)}, {x, double(area.br().y - 1)}, kGrid, 1);
    line(img, {x, double(area.br().y - 1)}, {x, area.br().y + 4.0}, kAxis, 1);
    draw::text_centered(img, tick_text(v, ax.step), int(x), area.br().y + 18, 0.4, draw::kMutedInk);
  }
  cv::rectangle(img, area, kAxis, 1);

  // Titles: plot title on top, x label below, y label turned on its side.
  draw::text_centered(img, spec.title, area.x + area.width / 2, 24, draw::kTitleScale, draw::kInk, 1);
  draw::text_centered(img, spec.x_label, area.x + area.width / 2, size.height - 10, draw::kTextScale);
  if (!spec.y_label.empty()) {
    int base = 0;
    const cv::Size ts = draw::text_size(spec.y_label, draw::kTextScale, 1, &base);
    cv::Mat label(ts.height + base + 4, ts.width + 4, CV_8UC3, draw::kWhite);
    draw::text(label, spec.y_label, cv::Point(2, ts.height + 2), draw::kTextScale);
    cv::rotate(label, label, cv::ROTATE_90_COUNTERCLOCKWISE);
    draw::paste(img, label, cv::Point(6, area.y + area.height / 2 - label.rows / 2));
  }
  if (no_data)
    draw::text_centered(img, "no data", area.x + area.width / 2, area.y + area.height / 2, 0.6, draw::kMutedInk);

  // Series: segments between consecutive finite points, clipped to the axes box.
  std::vector<cv::Point2d> drawn;  // for the legend's placement
  for (const auto& s : spec.series) {
    double phase = 0;
    bool have_prev = false;
    cv::Point2d prev;
    for (size_t i = 0; i < std::min(s.x.size(), s.y.size()); ++i) {
      if (!std::isfinite(s.x[i]) || !std::isfinite(s.y[i])) {
        have_prev = false;
        continue;
      }
      const cv::Point2d p = to_px(s.x[i], s.y[i]);
      if (have_prev) {
        cv::Point a(prev), b(p);
        if (cv::clipLine(area, a, b)) {
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
      const cv::Point2d p = to_px(s.x[i], s.y[i]);
      if (area.contains(cv::Point(p))) {
        cv::circle(img, sub(p), 3 << kShift, s.color, cv::FILLED, cv::LINE_AA, kShift);
        cv::circle(img, sub(p), 3 << kShift, draw::kWhite, 1, cv::LINE_AA, kShift);
      }
    }
  }

  // Legend right of the axes, or in the corner that covers the fewest drawn points.
  if (listed.empty()) return img;
  cv::Rect best(area.br().x + 12, area.y, box.width, box.height);
  if (!outside) {
    const int inset = 8;
    const std::array<cv::Point, 4> corners = {
        cv::Point(area.br().x - inset - box.width, area.y + inset),
        cv::Point(area.br().x - inset - box.width, area.br().y - inset - box.height),
        cv::Point(area.x + inset, area.y + inset), cv::Point(area.x + inset, area.br().y - inset - box.height)};
    size_t best_hits = SIZE_MAX;
    for (const auto& c : corners) {
      const cv::Rect r(c, box);
      size_t hits = 0;
      for (const auto& p : drawn) hits += r.contains(cv::Point(p)) ? 1 : 0;
      if (hits < best_hits) best_hits = hits, best = r;
    }
    legend_hits = best_hits;
  }
  placed_outside = outside;
  cv::rectangle(img, best, draw::kWhite, cv::FILLED);
  cv::rectangle(img, best, cv::Scalar(200, 200, 200), 1);
  for (size_t i = 0; i < listed.size(); ++i) {
    const PlotSeries& s = *listed[i];
    const double y = best.y + 5 + kRow * (i + 0.5);
    const cv::Point2d a(best.x + 8, y), b(best.x + 8 + kSample, y);
    double phase = 0;
    draw_series_line(img, a, b, s, phase);
    if (s.markers) cv::circle(img, sub((a + b) * 0.5), 3 << kShift, s.color, cv::FILLED, cv::LINE_AA, kShift);
    draw::text(img, s.label, cv::Point(best.x + kSample + 16, int(y) + 5), 0.42);
  }
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
