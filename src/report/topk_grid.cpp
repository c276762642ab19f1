// The top-k grid of one layer at one epoch (the paper's Fig. 2): for each feature, its k
// strongest activations over the probe set projected to pixels (a sqrt(k) x sqrt(k)
// block, cropped to the receptive fields) beside the same block of image patches;
// features kGridColumns to a row, each with its index. Activations that are missing or
// zero are light tiles, since their images would be arbitrary. Left out: feature selection
// beyond "the first max_features".
#include <cmath>

#include <opencv2/imgproc.hpp>

#include "deconvscope/core/error.hpp"
#include "deconvscope/report/png.hpp"
#include "deconvscope/report/render.hpp"
#include "draw.hpp"

namespace ds {

using namespace report_layout;

namespace {
constexpr int kTileGap = 1;        // between tiles of a block
constexpr int kBlockGap = 6;       // between the projection block and the patch block
constexpr int kFeatureGapX = 24;   // between features side by side
constexpr int kFeatureGapY = 14;   // between rows of features
constexpr int kFeatureLabel = 18;  // label line above each feature
constexpr int kTitle = 34;
}  // namespace

cv::Mat render_topk_grid_image(const LayerTopK& t, const AnalysisResult& r, const Dataset& probe, int max_features) {
  const std::string where = "analysis: layer " + t.layer + ": top-k";
  const auto& d = t.projections.dims;  // (features, k, C, H, W)
  if (t.features <= 0 || t.k <= 0 || d.size() != 5 || d[0] != t.features || d[1] != t.k || d[2] <= 0 || d[3] <= 0 ||
      d[4] <= 0 || t.projections.size() != Tensor::count(d))
    throw Error(ErrorKind::snapshot, where,
                expected_found("projections (features=" + std::to_string(t.features) + ", k=" + std::to_string(t.k) +
                                   ", C, H, W) with features, k > 0",
                               shape_str(d)),
                "re-run the analysis");
  const size_t n = size_t(t.features) * t.k;
  if (t.acts.size() != n || t.windows.size() != n)
    throw Error(ErrorKind::snapshot, where,
                expected_found(std::to_string(n) + " activations and windows",
                               std::to_string(t.acts.size()) + " and " + std::to_string(t.windows.size())),
                "re-run the analysis");

  const int C = int(d[2]), H = int(d[3]), W = int(d[4]);
  const size_t chw = size_t(C) * H * W;
  const int shown = std::max(1, std::min(t.features, max_features));
  const int kc = int(std::ceil(std::sqrt(double(t.k))));  // tiles per block row
  const int kr = (t.k + kc - 1) / kc;
  const cv::Size tile = display_size(H, W, kGridTileMaxSide);
  const cv::Size block(kc * tile.width + (kc - 1) * kTileGap, kr * tile.height + (kr - 1) * kTileGap);
  const cv::Size feature(2 * block.width + kBlockGap, kFeatureLabel + block.height);
  const int cols = std::min(kGridColumns, shown);
  const int rows = (shown + cols - 1) / cols;
  cv::Mat out(kTitle + rows * (feature.height + kFeatureGapY) - kFeatureGapY + kMargin + 4,
              2 * kMargin + cols * (feature.width + kFeatureGapX) - kFeatureGapX, CV_8UC3, draw::kWhite);

  // The epoch this grid belongs to is the key it is stored under in r.topk.
  std::string epoch_text;
  for (const auto& [epoch, layers] : r.topk)
    for (const auto& l : layers)
      if (&l == &t) epoch_text = ", epoch " + std::to_string(epoch);
  std::string title = t.layer + epoch_text + ": top " + std::to_string(t.k) + " per feature";
  if (shown < t.features) title += " (first " + std::to_string(shown) + " of " + std::to_string(t.features) + ")";
  draw::text(out, title, cv::Point(kMargin, 22), draw::kTitleScale, draw::kInk, 1);
  const std::string legend = "left: projections   right: image patches";
  const int legend_x = kMargin + draw::text_size(title, draw::kTitleScale, 1).width + 24;
  if (legend_x + draw::text_size(legend, 0.4).width < out.cols - kMargin)
    draw::text(out, legend, cv::Point(legend_x, 22), 0.4, draw::kMutedInk);

  for (int fi = 0; fi < shown; ++fi) {
    const cv::Point origin(kMargin + (fi % cols) * (feature.width + kFeatureGapX),
                           kTitle + (fi / cols) * (feature.height + kFeatureGapY));
    // A feature with no positive activation over the probe set has arbitrary "top" images.
    bool active = false;
    for (int j = 0; j < t.k; ++j)
      active = active || (t.acts[size_t(fi) * t.k + j].image >= 0 && t.acts[size_t(fi) * t.k + j].value > 0.f);
    const cv::Point label_at(origin.x, origin.y + kFeatureLabel - 6);
    const std::string label = "feature " + std::to_string(fi);
    draw::text(out, label, label_at);
    if (!active)
      draw::text(out, "inactive on the probe set",
                 cv::Point(label_at.x + draw::text_size(label, draw::kTextScale).width + 8, label_at.y), 0.38,
                 draw::kRed);
    for (int j = 0; j < t.k; ++j) {
      const size_t i = size_t(fi) * t.k + j;
      const cv::Point at(origin.x + (j % kc) * (tile.width + kTileGap),
                         origin.y + kFeatureLabel + (j / kc) * (tile.height + kTileGap));
      const cv::Point at_patch(at.x + block.width + kBlockGap, at.y);
      // Missing (fewer images than k) or zero (nothing fired): the image would be arbitrary.
      if (t.acts[i].image < 0 || !(t.acts[i].value > 0.f)) {
        draw::paste(out, draw::empty_tile(tile, "-"), at);
        draw::paste(out, draw::empty_tile(tile, "-"), at_patch);
        continue;
      }
      const cv::Mat proj = projection_to_image(t.projections.ptr() + i * chw, C, H, W);
      draw::paste(out, crop_to_window(proj, t.windows[i], tile.height, tile.width), at);
      draw::paste(out, patch_image(probe, t.acts[i].image, t.windows[i], tile.height, tile.width), at_patch);
    }
  }
  return out;
}

void render_topk_grid(const LayerTopK& t, const AnalysisResult& r, const Dataset& probe, const std::string& png_path,
                      int max_features) {
  write_png(render_topk_grid_image(t, r, probe, max_features), png_path);
}

}  // namespace ds
