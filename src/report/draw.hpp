// Drawing helpers shared by the report's pictures (internal to src/report): one font,
// anti-aliased text, a palette, pasting grey or colour tiles into a BGR canvas.
#pragma once

#include <string>

#include <opencv2/core.hpp>

namespace ds::draw {

const cv::Scalar kWhite(255, 255, 255);
const cv::Scalar kInk(40, 40, 40);          // text
const cv::Scalar kMutedInk(110, 110, 110);  // secondary text, tick labels
const cv::Scalar kRed(0, 0, 255);           // jumps
const cv::Scalar kAmber(0, 170, 255);       // new image, similar projection
const cv::Scalar kEmpty(225, 225, 225);     // a cell without an activation

constexpr double kTextScale = 0.45;
constexpr double kTitleScale = 0.62;

cv::Size text_size(const std::string& s, double scale, int thickness = 1, int* baseline = nullptr);
// org is the left end of the baseline, as in cv::putText.
void text(cv::Mat& img, const std::string& s, cv::Point org, double scale = kTextScale, const cv::Scalar& color = kInk,
          int thickness = 1);
// Centred horizontally on cx, baseline at y.
void text_centered(cv::Mat& img, const std::string& s, int cx, int y, double scale = kTextScale,
                   const cv::Scalar& color = kInk, int thickness = 1);

// Converts grey to BGR (a copy of BGR input otherwise).
cv::Mat to_bgr(const cv::Mat& m);
// Copies `tile` (grey or BGR) into the BGR canvas at `at`, clipped to the canvas.
void paste(cv::Mat& canvas, const cv::Mat& tile, cv::Point at);
// A frame of `thickness` pixels inside `outer`.
void frame(cv::Mat& canvas, const cv::Rect& outer, int thickness, const cv::Scalar& color);
// A light tile with a short note, for a missing activation.
cv::Mat empty_tile(cv::Size size, const std::string& note);

}  // namespace ds::draw
