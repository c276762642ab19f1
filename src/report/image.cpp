// Turning projections and dataset images into OpenCV pictures, and cropping them to a
// receptive field: the building blocks of the strip and the grid. Left out: layout.
#include <algorithm>
#include <cmath>
#include <vector>

#include <opencv2/imgproc.hpp>

#include "deconvscope/core/error.hpp"
#include "deconvscope/data/streaming_folder.hpp"
#include "deconvscope/report/render.hpp"

namespace ds {

namespace {

// 0 -> 128, +m -> 255, -m -> 0, beyond m clipped, rounded, so the test of exact values holds.
uint8_t stretch(float v, float m) {
  if (!(m > 0.f) || !std::isfinite(v)) return 128;
  const float s = v / m;
  const float p = s >= 0.f ? 128.f + 127.f * s : 128.f + 128.f * s;
  return static_cast<uint8_t>(std::clamp(std::floor(p + 0.5f), 0.f, 255.f));
}

}  // namespace

cv::Size display_size(int H, int W, int max_side) {
  using namespace report_layout;
  const int side = std::max(1, std::max(H, W));
  double s = 1.0;
  if (side < kMinSide)
    s = std::ceil(double(kMinSide) / side);  // whole factor: crisp pixels
  else if (side > max_side)
    s = double(max_side) / side;
  return cv::Size(std::max(1, int(std::lround(W * s))), std::max(1, int(std::lround(H * s))));
}

float robust_scale(const float* values, size_t n, float percentile) {
  std::vector<float> mag;
  mag.reserve(n);
  for (size_t i = 0; i < n; ++i)
    if (std::isfinite(values[i]) && values[i] != 0.f) mag.push_back(std::fabs(values[i]));
  if (mag.empty()) return 0.f;
  // Nearest rank: the smallest value with at least percentile % of the values at or below it.
  const double p = std::clamp(double(percentile), 0.0, 100.0) / 100.0;
  const size_t rank = std::clamp<size_t>(size_t(std::ceil(p * double(mag.size()))), 1, mag.size());
  std::nth_element(mag.begin(), mag.begin() + (rank - 1), mag.end());
  return mag[rank - 1];
}

cv::Mat projection_to_image(const float* proj, int C, int H, int W, float percentile) {
  if (!proj || C <= 0 || H <= 0 || W <= 0)
    throw Error(ErrorKind::shape, "projection picture",
                expected_found("a non-empty (C, H, W) projection",
                               "(" + std::to_string(C) + ", " + std::to_string(H) + ", " + std::to_string(W) + ")"));
  const size_t plane = size_t(H) * W;
  if (C == 3) {
    // One scale for all three channels keeps the colours' balance.
    const float m = robust_scale(proj, 3 * plane, percentile);
    cv::Mat out(H, W, CV_8UC3);
    for (int y = 0; y < H; ++y) {
      auto* row = out.ptr<cv::Vec3b>(y);
      for (int x = 0; x < W; ++x) {
        const size_t i = size_t(y) * W + x;
        // (C, H, W) RGB -> interleaved BGR
        row[x] = cv::Vec3b(stretch(proj[2 * plane + i], m), stretch(proj[plane + i], m), stretch(proj[i], m));
      }
    }
    return out;
  }
  std::vector<float> mean(plane, 0.f);  // (H, W)
  for (int c = 0; c < C; ++c)
    for (size_t i = 0; i < plane; ++i) mean[i] += proj[c * plane + i] / float(C);
  const float m = robust_scale(mean.data(), plane, percentile);
  cv::Mat out(H, W, CV_8UC1);
  for (int y = 0; y < H; ++y) {
    auto* row = out.ptr<uint8_t>(y);
    for (int x = 0; x < W; ++x) row[x] = stretch(mean[size_t(y) * W + x], m);
  }
  return out;
}

cv::Mat dataset_image(const Dataset& d, int64_t image) {
  const size_t n = d.image_bytes();
  if (image < 0 || size_t(image) >= d.size() || (!d.stream && d.pixels.size() < (size_t(image) + 1) * n) || n == 0)
    throw Error(ErrorKind::data, d.source.empty() ? "probe dataset" : d.source,
                "image index " + expected_found("in [0, " + std::to_string(d.size()) + ")", std::to_string(image)),
                "the analysis may have been made on another dataset or probe split");
  const int H = d.height, W = d.width, C = d.channels;
  const size_t plane = size_t(H) * W;
  std::vector<uint8_t> decoded;  // a streamed folder's image, read now
  if (d.stream) {
    decoded.resize(n);
    d.stream->decode(image, decoded.data());
  }
  const uint8_t* src = d.stream ? decoded.data() : d.image(size_t(image));  // (C, H, W)
  if (C == 3) {
    cv::Mat out(H, W, CV_8UC3);
    for (int y = 0; y < H; ++y) {
      auto* row = out.ptr<cv::Vec3b>(y);
      for (int x = 0; x < W; ++x) {
        const size_t i = size_t(y) * W + x;
        row[x] = cv::Vec3b(src[2 * plane + i], src[plane + i], src[i]);  // RGB planes -> BGR
      }
    }
    return out;
  }
  cv::Mat out(H, W, CV_8UC1);
  for (int y = 0; y < H; ++y) {
    auto* row = out.ptr<uint8_t>(y);
    for (int x = 0; x < W; ++x) {
      int sum = 0;
      for (int c = 0; c < C; ++c) sum += src[c * plane + size_t(y) * W + x];
      row[x] = static_cast<uint8_t>((sum + C / 2) / C);
    }
  }
  return out;
}

cv::Mat crop_to_window(const cv::Mat& picture, Window w, int H, int W) {
  cv::Mat canvas(std::max(1, H), std::max(1, W), picture.type(), cv::Scalar::all(128));
  if (picture.empty()) return canvas;
  cv::Rect roi = cv::Rect(cv::Point(w.x0, w.y0), cv::Point(w.x1, w.y1)) & cv::Rect(0, 0, picture.cols, picture.rows);
  if (roi.empty()) roi = cv::Rect(0, 0, picture.cols, picture.rows);
  // Fit, aspect kept: a window clipped at the image border is not stretched.
  const double s = std::min(double(canvas.cols) / roi.width, double(canvas.rows) / roi.height);
  const cv::Size size(std::clamp(int(std::lround(roi.width * s)), 1, canvas.cols),
                      std::clamp(int(std::lround(roi.height * s)), 1, canvas.rows));
  cv::Mat scaled;
  cv::resize(picture(roi), scaled, size, 0, 0, s >= 1.0 ? cv::INTER_NEAREST : cv::INTER_AREA);
  scaled.copyTo(
      canvas(cv::Rect((canvas.cols - size.width) / 2, (canvas.rows - size.height) / 2, size.width, size.height)));
  return canvas;
}

cv::Mat patch_image(const Dataset& d, int64_t image, Window w, int H, int W) {
  return crop_to_window(dataset_image(d, image), w, H, W);
}

}  // namespace ds
