// The line plot's layout as a reader sees it (issue 9, from the browser test's
// screenshots): the legend never hides a data line, a quantity that is 0 throughout gets
// a 0..1 axis rather than -1..1, and float rounding is not drawn as a slope. Read off the
// pixels: the axes' frame is the only long vertical run of the frame grey, a series the
// only pixels of its colour.
// Leaves out: tick texts and fonts (looked at in the screenshots).
#include <gtest/gtest.h>

#include <vector>

#include "deconvscope/report/plot.hpp"

namespace ds {
namespace {

const cv::Vec3b kFrame(150, 150, 150);  // plot.cpp's axis colour

// The rightmost column where the frame grey runs down more than half the picture.
int right_frame_column(const cv::Mat& img) {
  for (int x = img.cols - 1; x >= 0; --x) {
    int n = 0;
    for (int y = 0; y < img.rows; ++y) n += img.at<cv::Vec3b>(y, x) == kFrame ? 1 : 0;
    if (n > img.rows / 2) return x;
  }
  return -1;
}

PlotSeries series(const std::string& label, std::vector<double> x, std::vector<double> y, size_t colour) {
  PlotSeries s;
  s.label = label;
  s.x = std::move(x);
  s.y = std::move(y);
  s.color = plot_color(colour);
  return s;
}

std::vector<double> steps(int n, double from, double by) {
  std::vector<double> v;
  for (int i = 0; i < n; ++i) v.push_back(from + by * i);
  return v;
}

TEST(Plot, LegendMovesBesideTheAxesWhenEveryCornerHoldsData) {
  // Two diagonals: every corner of the axes has a line through it.
  PlotSpec x_shape;
  x_shape.series.push_back(series("rising", steps(21, 0, 1), steps(21, 0, 1), 0));
  x_shape.series.push_back(series("falling", steps(21, 0, 1), steps(21, 20, -1), 1));
  const cv::Mat crossed = plot_lines(x_shape);
  ASSERT_EQ(crossed.size(), x_shape.size);
  EXPECT_LT(right_frame_column(crossed), x_shape.size.width - 60) << "the axes made room for the legend";

  // A line along the bottom leaves the top corners free: the legend stays inside.
  PlotSpec low;
  low.series.push_back(series("flat", steps(21, 0, 1), std::vector<double>(21, 0.0), 0));
  low.series.push_back(series("peak", {0, 10, 20}, {0, 1, 0}, 1));
  const cv::Mat inside = plot_lines(low);
  EXPECT_GT(right_frame_column(inside), low.size.width - 30) << "the axes keep the whole width";
}

TEST(Plot, AllZeroSeriesSitsOnTheBottomOfAZeroToOneAxis) {
  PlotSpec zeros;
  zeros.series.push_back(series("", steps(5, 0, 1), std::vector<double>(5, 0.0), 2));
  const cv::Mat img = plot_lines(zeros);
  const cv::Scalar c = plot_color(2);
  const cv::Vec3b colour{uchar(c[0]), uchar(c[1]), uchar(c[2])};
  int n = 0, lowest = 0;
  long sum = 0;
  for (int y = 0; y < img.rows; ++y)
    for (int x = 0; x < img.cols; ++x)
      if (img.at<cv::Vec3b>(y, x) == colour) ++n, sum += y, lowest = std::max(lowest, y);
  ASSERT_GT(n, 0) << "the series is drawn";
  // With -1..1 the line would run through the middle of the axes (row ~194 of 400).
  EXPECT_GT(double(sum) / n, 0.8 * img.rows) << "0 is the bottom of the axis, nothing below it";
}

TEST(Plot, FloatRoundingIsNoSpread) {
  // 1.0 and 1.0000001 (a ratio computed in float): one flat line mid-height, not a line
  // climbing across an axis labelled 1.00000000 ... 1.00000012.
  PlotSpec near_one;
  near_one.series.push_back(series("", {0, 1, 2}, {1.0, 1.0, 1.0000001}, 3));
  const cv::Mat img = plot_lines(near_one);
  const cv::Scalar c = plot_color(3);
  const cv::Vec3b colour{uchar(c[0]), uchar(c[1]), uchar(c[2])};
  int top = img.rows, bottom = -1;
  for (int y = 0; y < img.rows; ++y)
    for (int x = 0; x < img.cols; ++x)
      if (img.at<cv::Vec3b>(y, x) == colour) top = std::min(top, y), bottom = std::max(bottom, y);
  ASSERT_GE(bottom, 0) << "the series is drawn";
  EXPECT_LT(bottom - top, 12) << "flat, within a marker's height";
}

}  // namespace
}  // namespace ds
