// A filter mosaic with health marks; see include/deconvscope/report/health_page.hpp. The
// tiles come from projection_to_image (one colour rule for filters and projections); the
// shared scale rescales each tile's contrast by its own largest |value| over the layer's.
#include <algorithm>
#include <cmath>
#include <opencv2/imgproc.hpp>

#include "deconvscope/core/error.hpp"
#include "deconvscope/report/health_page.hpp"
#include "deconvscope/report/render.hpp"
#include "draw.hpp"

namespace ds {

namespace {

// The largest |value| projection_to_image stretches a filter by: over all values for
// three channels, else over the mean of the channels.
float tile_scale(const float* f, int I, int kh, int kw) {
  const size_t plane = size_t(kh) * kw;
  float m = 0;
  if (I == 3) {
    for (size_t i = 0; i < 3 * plane; ++i) m = std::max(m, std::fabs(f[i]));
    return m;
  }
  for (size_t i = 0; i < plane; ++i) {
    float s = 0;
    for (int c = 0; c < I; ++c) s += f[c * plane + i] / float(I);
    m = std::max(m, std::fabs(s));
  }
  return m;
}

}  // namespace

int mosaic_cell(int kh, int kw) {
  const int k = std::max(1, std::max(kh, kw));
  return k * std::max(1, 40 / k);
}

cv::Mat health_mosaic(const Tensor& w, int cell, bool shared_scale, const LayerHealth* health, size_t e) {
  const auto& d = w.dims;
  if (d.size() != 4 || d[0] <= 0 || d[1] <= 0 || d[2] <= 0 || d[3] <= 0 || w.size() != Tensor::count(d))
    throw Error(ErrorKind::shape, "health mosaic",
                expected_found("conv weights (O, I, kh, kw) with matching data", shape_str(d)));
  const int O = int(d[0]), I = int(d[1]), kh = int(d[2]), kw = int(d[3]);
  if (health && (health->filters != O || health->dead.size() < (e + 1) * size_t(O)))
    throw Error(ErrorKind::shape, "health mosaic: layer " + health->layer,
                expected_found(
                    std::to_string(O) + " filters with health at epoch index " + std::to_string(e),
                    std::to_string(health->filters) + " filters, " + std::to_string(health->dead.size()) + " flags"));
  if (cell <= 0) throw Error(ErrorKind::usage, "health mosaic", expected_found("cell > 0", std::to_string(cell)));
  const size_t per = size_t(I) * kh * kw;
  std::vector<float> scale(static_cast<size_t>(O));
  for (int o = 0; o < O; ++o) scale[size_t(o)] = tile_scale(w.ptr() + o * per, I, kh, kw);
  const float layer_max = *std::max_element(scale.begin(), scale.end());

  const int cols = int(std::ceil(std::sqrt(double(O))));
  const int rows = (O + cols - 1) / cols;
  constexpr int kGap = 6;  // room for the 3-pixel frames of two marked neighbours
  cv::Mat out(rows * cell + (rows + 1) * kGap, cols * cell + (cols + 1) * kGap, CV_8UC3, draw::kWhite);
  for (int o = 0; o < O; ++o) {
    cv::Mat tile = draw::to_bgr(
        crop_to_window(projection_to_image(w.ptr() + o * per, I, kh, kw), Window{0, 0, kh, kw}, cell, cell));
    if (shared_scale) {
      const double ratio = layer_max > 0 ? double(scale[size_t(o)]) / layer_max : 0.0;
      tile.convertTo(tile, CV_8UC3, ratio, 128.0 * (1.0 - ratio));  // 128 + (v - 128) * ratio
    }
    const cv::Point at(kGap + (o % cols) * (cell + kGap), kGap + (o / cols) * (cell + kGap));
    draw::paste(out, tile, at);
    if (!health) continue;
    const cv::Rect outer(at.x - 3, at.y - 3, cell + 6, cell + 6);
    const size_t i = e * size_t(O) + size_t(o);
    if (health->dead[i]) {
      draw::frame(out, outer, 3, draw::kRed);
      cv::line(out, at, at + cv::Point(cell - 1, cell - 1), draw::kRed, 1, cv::LINE_AA);
      cv::line(out, at + cv::Point(cell - 1, 0), at + cv::Point(0, cell - 1), draw::kRed, 1, cv::LINE_AA);
    } else if (health->dominating[i]) {
      draw::frame(out, outer, 3, draw::kAmber);
    }
  }
  return out;
}

}  // namespace ds
