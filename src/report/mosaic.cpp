// A mosaic of conv filters (O, I, kh, kw): each filter stretched around 0 by its own
// largest |value|, enlarged with nearest neighbour, in a near-square grid. Left out:
// labels (the caller knows the layer and epoch).
#include <cmath>

#include <opencv2/imgproc.hpp>

#include "deconvscope/core/error.hpp"
#include "deconvscope/report/render.hpp"
#include "draw.hpp"

namespace ds {

cv::Mat filter_mosaic(const Tensor& weights, int cell) {
  const auto& d = weights.dims;
  if (d.size() != 4 || d[0] <= 0 || d[1] <= 0 || d[2] <= 0 || d[3] <= 0 || weights.size() != Tensor::count(d))
    throw Error(ErrorKind::shape, "filter mosaic",
                expected_found("conv weights (O, I, kh, kw) with matching data", shape_str(d)));
  if (cell <= 0) throw Error(ErrorKind::usage, "filter mosaic", expected_found("cell > 0", std::to_string(cell)));
  const int O = int(d[0]), I = int(d[1]), kh = int(d[2]), kw = int(d[3]);
  const int cols = int(std::ceil(std::sqrt(double(O))));
  const int rows = (O + cols - 1) / cols;
  constexpr int kGap = 2;
  cv::Mat out(rows * cell + (rows + 1) * kGap, cols * cell + (cols + 1) * kGap, CV_8UC3, draw::kWhite);
  const size_t per_filter = size_t(I) * kh * kw;
  for (int o = 0; o < O; ++o) {
    // projection_to_image has exactly the wanted rules: I=3 colour, I=1 grey, else mean.
    cv::Mat f = projection_to_image(weights.ptr() + o * per_filter, I, kh, kw);
    cv::Mat tile = crop_to_window(f, Window{0, 0, kh, kw}, cell, cell);
    draw::paste(out, tile, cv::Point(kGap + (o % cols) * (cell + kGap), kGap + (o / cols) * (cell + kGap)));
  }
  return out;
}

}  // namespace ds
