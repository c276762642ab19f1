// Text, paste and frame helpers for the report's pictures; see draw.hpp.
#include "draw.hpp"

#include <opencv2/imgproc.hpp>

namespace ds::draw {

namespace {
constexpr int kFont = cv::FONT_HERSHEY_SIMPLEX;
}

cv::Size text_size(const std::string& s, double scale, int thickness, int* baseline) {
  int b = 0;
  cv::Size sz = cv::getTextSize(s, kFont, scale, thickness, &b);
  if (baseline) *baseline = b;
  return sz;
}

void text(cv::Mat& img, const std::string& s, cv::Point org, double scale, const cv::Scalar& color, int thickness) {
  cv::putText(img, s, org, kFont, scale, color, thickness, cv::LINE_AA);
}

void text_centered(cv::Mat& img, const std::string& s, int cx, int y, double scale, const cv::Scalar& color,
                   int thickness) {
  const cv::Size sz = text_size(s, scale, thickness);
  text(img, s, cv::Point(cx - sz.width / 2, y), scale, color, thickness);
}

cv::Mat to_bgr(const cv::Mat& m) {
  cv::Mat out;
  if (m.channels() == 1)
    cv::cvtColor(m, out, cv::COLOR_GRAY2BGR);
  else
    out = m.clone();
  return out;
}

void paste(cv::Mat& canvas, const cv::Mat& tile, cv::Point at) {
  const cv::Rect dst = cv::Rect(at, tile.size()) & cv::Rect(0, 0, canvas.cols, canvas.rows);
  if (dst.empty()) return;
  const cv::Rect src(dst.x - at.x, dst.y - at.y, dst.width, dst.height);
  to_bgr(tile(src)).copyTo(canvas(dst));
}

void frame(cv::Mat& canvas, const cv::Rect& outer, int thickness, const cv::Scalar& color) {
  const int t = thickness;
  // Four filled bars, so the frame stays exactly inside `outer` (cv::rectangle centres
  // thick lines on the border).
  cv::rectangle(canvas, cv::Rect(outer.x, outer.y, outer.width, t), color, cv::FILLED);
  cv::rectangle(canvas, cv::Rect(outer.x, outer.y + outer.height - t, outer.width, t), color, cv::FILLED);
  cv::rectangle(canvas, cv::Rect(outer.x, outer.y, t, outer.height), color, cv::FILLED);
  cv::rectangle(canvas, cv::Rect(outer.x + outer.width - t, outer.y, t, outer.height), color, cv::FILLED);
}

cv::Mat empty_tile(cv::Size size, const std::string& note) {
  cv::Mat t(size, CV_8UC3, kEmpty);
  double scale = 0.35;
  if (text_size(note, scale).width > size.width - 4) scale = 0.25;
  text_centered(t, note, size.width / 2, size.height / 2 + 4, scale, kMutedInk);
  return t;
}

}  // namespace ds::draw
