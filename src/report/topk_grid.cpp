// The top-k grid of one layer at one epoch (the paper's Fig. 2): for each feature, its k
// strongest activations over the probe set projected to pixels (a sqrt(k) x sqrt(k)
// block, cropped to the receptive fields) beside the same block of image patches;
// features kGridColumns to a row, each with its index. A layer's features are split into
// pages of at most kGridPageFeatures (one picture each), so that every feature is shown.
// Activations that are missing or zero are light tiles, since their images would be
// arbitrary. Left out: choosing features (every one is drawn, in index order).
#include <algorithm>
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

cv::Rect TopkGridLayout::feature_box(int i) const {
  return cv::Rect(kMargin + (i % columns) * (feature.width + kFeatureGapX),
                  kTitle + (i / columns) * (feature.height + kFeatureGapY), feature.width, feature.height);
}

TopkGridLayout topk_grid_layout(int k, int H, int W, int first, int count) {
  TopkGridLayout g;
  g.first = std::max(0, first);
  g.count = std::max(1, count);
  const int kc = int(std::ceil(std::sqrt(double(std::max(1, k)))));  // tiles per block row
  const int kr = (std::max(1, k) + kc - 1) / kc;
  g.tile = display_size(H, W, kGridTileMaxSide);
  g.block = cv::Size(kc * g.tile.width + (kc - 1) * kTileGap, kr * g.tile.height + (kr - 1) * kTileGap);
  g.feature = cv::Size(2 * g.block.width + kBlockGap, kFeatureLabel + g.block.height);
  g.columns = std::min(kGridColumns, g.count);
  const int rows = (g.count + g.columns - 1) / g.columns;
  g.size = cv::Size(2 * kMargin + g.columns * (g.feature.width + kFeatureGapX) - kFeatureGapX,
                    kTitle + rows * (g.feature.height + kFeatureGapY) - kFeatureGapY + kMargin + 4);
  return g;
}

std::vector<std::pair<int, int>> topk_grid_pages(int features) {
  std::vector<std::pair<int, int>> pages;
  if (features <= 0) return pages;
  const int n = (features + kGridPageFeatures - 1) / kGridPageFeatures;
  const int per = (features + n - 1) / n;  // balanced: 96 features are 48 + 48, not 64 + 32
  for (int first = 0; first < features; first += per) pages.emplace_back(first, std::min(per, features - first));
  return pages;
}

cv::Mat render_topk_grid_image(const LayerTopK& t, const AnalysisResult& r, const Dataset& probe, int first,
                               int count) {
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
  if (first < 0 || first >= t.features || count <= 0)
    throw Error(ErrorKind::usage, where,
                "feature range " + expected_found("first in [0, " + std::to_string(t.features) + ") and count > 0",
                                                  std::to_string(first) + " and " + std::to_string(count)));
  count = std::min(count, t.features - first);

  const int C = int(d[2]), H = int(d[3]), W = int(d[4]);
  const size_t chw = size_t(C) * H * W;
  const TopkGridLayout g = topk_grid_layout(t.k, H, W, first, count);
  const int kc = int(std::ceil(std::sqrt(double(t.k))));
  cv::Mat out(g.size, CV_8UC3, draw::kWhite);

  // The epoch this grid belongs to is the key it is stored under in r.topk.
  std::string epoch_text;
  for (const auto& [epoch, layers] : r.topk)
    for (const auto& l : layers)
      if (&l == &t) epoch_text = ", epoch " + std::to_string(epoch);
  std::string title = t.layer + epoch_text + ": top " + std::to_string(t.k) + " per feature";
  if (count < t.features)
    title += ", features " + std::to_string(first) + "-" + std::to_string(first + count - 1) + " of " +
             std::to_string(t.features);
  draw::text(out, title, cv::Point(kMargin, 22), draw::kTitleScale, draw::kInk, 1);
  const std::string legend = "left: projections   right: image patches";
  const int legend_x = kMargin + draw::text_size(title, draw::kTitleScale, 1).width + 24;
  if (legend_x + draw::text_size(legend, 0.4).width < out.cols - kMargin)
    draw::text(out, legend, cv::Point(legend_x, 22), 0.4, draw::kMutedInk);

  for (int fi = 0; fi < count; ++fi) {
    const int feature = first + fi;
    const cv::Point origin = g.feature_box(fi).tl();
    // A feature with no positive activation over the probe set has arbitrary "top" images.
    bool active = false;
    for (int j = 0; j < t.k; ++j) active = active || !inactive(t.acts[size_t(feature) * t.k + j]);
    const cv::Point label_at(origin.x, origin.y + kFeatureLabel - 6);
    const std::string label = "feature " + std::to_string(feature);
    draw::text(out, label, label_at);
    if (!active)
      draw::text(out, "inactive on the probe set",
                 cv::Point(label_at.x + draw::text_size(label, draw::kTextScale).width + 8, label_at.y), 0.38,
                 draw::kRed);
    for (int j = 0; j < t.k; ++j) {
      const size_t i = size_t(feature) * t.k + j;
      const cv::Point at(origin.x + (j % kc) * (g.tile.width + kTileGap),
                         origin.y + kFeatureLabel + (j / kc) * (g.tile.height + kTileGap));
      const cv::Point at_patch(at.x + g.block.width + kBlockGap, at.y);
      // Missing (fewer images than k) or zero (nothing fired): the image would be arbitrary.
      if (inactive(t.acts[i])) {
        draw::paste(out, draw::empty_tile(g.tile, "-"), at);
        draw::paste(out, draw::empty_tile(g.tile, "-"), at_patch);
        continue;
      }
      const cv::Mat proj = projection_to_image(t.projections.ptr() + i * chw, C, H, W, kProjectionPercentile);
      draw::paste(out, crop_to_window(proj, t.windows[i], g.tile.height, g.tile.width), at);
      draw::paste(out, patch_image(probe, t.acts[i].image, t.windows[i], g.tile.height, g.tile.width), at_patch);
    }
  }
  return out;
}

void render_topk_grid(const LayerTopK& t, const AnalysisResult& r, const Dataset& probe, const std::string& png_path,
                      int first, int count) {
  write_png(render_topk_grid_image(t, r, probe, first, count), png_path);
}

}  // namespace ds
