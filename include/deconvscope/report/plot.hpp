// A small line-plot renderer on OpenCV: axes with round-number ticks, light grid, axis
// titles, markers, dashed lines, and a legend placed in the emptiest corner, or right of
// the axes when every corner would hide data. Enough for training curves and
// convergence figures; no log axes, no bars.
#pragma once

#include <limits>
#include <string>
#include <vector>

#include <opencv2/core.hpp>

namespace ds {

struct PlotSeries {
  std::string label;          // shown in the legend; "" = not listed
  std::vector<double> x, y;   // same length; a non-finite y leaves a gap
  cv::Scalar color{0, 0, 0};  // BGR
  bool dashed = false;
  bool markers = true;  // a dot at every point
};

struct PlotSpec {
  std::string title, x_label, y_label;
  std::vector<PlotSeries> series;
  cv::Size size{600, 400};
  bool integer_x = true;        // x ticks at whole numbers (epochs)
  bool legend_outside = false;  // legend right of the axes (many series) instead of in a corner
  // Fixed y range; NaN = from the data (widened to round ticks).
  double y_min = std::numeric_limits<double>::quiet_NaN();
  double y_max = std::numeric_limits<double>::quiet_NaN();
};

// Returns a BGR picture of spec.size. Series without finite points are skipped; with no
// data at all, the axes are drawn with a "no data" note.
cv::Mat plot_lines(const PlotSpec& spec);

// Colours for series, after matplotlib's "tab10" (BGR), cycling.
cv::Scalar plot_color(size_t i);

}  // namespace ds
