// The evolution strip of one layer (the paper's Fig. 4): a row per followed feature, a
// column per analysed epoch; each cell the deconvnet projection of the feature's strongest
// activation, cropped to its receptive field, beside the image patch it came from. A red
// frame marks a jump arriving at that epoch (new strongest image and a dissimilar
// projection), a thin amber frame a new image with a similar projection. A feature with
// no positive activation on the probe set (image -1) gets a light "inactive" cell: its
// image would be arbitrary. Cells grow to fill the report's width (StripLayout), and
// projections are stretched by a high percentile of |value| (kProjectionPercentile).
// Left out: activation values (they are in analysis.h5 and the report's tables).
#include <algorithm>

#include <opencv2/imgproc.hpp>

#include "deconvscope/core/error.hpp"
#include "deconvscope/report/png.hpp"
#include "deconvscope/report/render.hpp"
#include "draw.hpp"

namespace ds {

using namespace report_layout;

namespace {

Error bad(const AnalysisResult& r, size_t layer, const std::string& what, const std::string& expected,
          const std::string& found) {
  const std::string name = layer < r.layers.size() ? r.layers[layer] : std::to_string(layer);
  return Error(ErrorKind::snapshot, "analysis: layer " + name + ": " + what, expected_found(expected, found),
               "the analysis result is inconsistent; re-run the analysis");
}

}  // namespace

cv::Rect StripLayout::cell(int e, int f) const {
  const cv::Size c(2 * tile.width + kInnerGap, tile.height);
  return cv::Rect(kLabelWidth + e * (c.width + 2 * kPad) + kPad, kHeaderHeight + f * (c.height + 2 * kPad) + kPad,
                  c.width, c.height);
}

cv::Rect StripLayout::row(int f) const {
  return cv::Rect(0, kHeaderHeight + f * (tile.height + 2 * kPad), size.width, tile.height + 2 * kPad);
}

StripLayout evolution_strip_layout(int epochs, int features, int H, int W) {
  StripLayout s;
  s.epochs = std::max(0, epochs);
  s.features = std::max(0, features);
  // The largest side whose strip still fits the page, never below the plain display size
  // (many epochs then make a wider picture, which the page scales down).
  const cv::Size base = display_size(H, W);
  const int per_epoch = (kPageWidth - kLabelWidth - kMargin) / std::max(1, s.epochs) - 2 * kPad - kInnerGap;
  const int fit = std::min(per_epoch / 2, kStripMaxSide);
  const int base_side = std::max(base.width, base.height);
  if (fit > base_side) {
    const double grow = double(fit) / base_side;
    s.tile = cv::Size(std::max(1, int(base.width * grow)), std::max(1, int(base.height * grow)));
  } else {
    s.tile = base;
  }
  const int cell_w = 2 * s.tile.width + kInnerGap + 2 * kPad, cell_h = s.tile.height + 2 * kPad;
  s.size = cv::Size(kLabelWidth + s.epochs * cell_w + kMargin, kHeaderHeight + s.features * cell_h + kMargin);
  return s;
}

cv::Mat render_evolution_strip_image(const AnalysisResult& r, size_t layer, const Dataset& probe) {
  if (layer >= r.layers.size() || layer >= r.evolution.size())
    throw bad(r, layer, "evolution",
              "a layer index below " + std::to_string(std::min(r.layers.size(), r.evolution.size())),
              std::to_string(layer));
  const LayerEvolution& ev = r.evolution[layer];
  const int E = int(r.epochs.size()), F = int(ev.features.size());
  const auto& d = ev.projections.dims;  // (E, F, C, H, W)
  if (d.size() != 5 || d[0] != E || d[1] != F || d[2] <= 0 || d[3] <= 0 || d[4] <= 0 ||
      ev.projections.size() != Tensor::count(d))
    throw bad(r, layer, "evolution projections", "(E=" + std::to_string(E) + ", F=" + std::to_string(F) + ", C, H, W)",
              shape_str(d));
  if (ev.strongest.size() != size_t(E) * F || ev.windows.size() != size_t(E) * F)
    throw bad(r, layer, "evolution activations", std::to_string(E * F) + " activations and windows",
              std::to_string(ev.strongest.size()) + " and " + std::to_string(ev.windows.size()));
  const LayerJumps* jumps = layer < r.jumps.size() ? &r.jumps[layer] : nullptr;
  const size_t njump = E > 1 ? size_t(E - 1) * F : 0;
  if (jumps) {
    for (size_t n : {jumps->jump.size(), jumps->image_changed.size()})
      if (n != 0 && n != njump) throw bad(r, layer, "jumps", std::to_string(njump) + " entries", std::to_string(n));
  }

  const int C = int(d[2]), H = int(d[3]), W = int(d[4]);
  const size_t chw = size_t(C) * H * W;
  const StripLayout lay = evolution_strip_layout(E, F, H, W);
  const cv::Size disp = lay.tile;
  cv::Mat out(lay.size, CV_8UC3, draw::kWhite);

  // Header: title, a short legend if it fits, then the epoch of every column.
  const std::string title = ev.layer.empty() ? r.layers[layer] : ev.layer;
  draw::text(out, title, cv::Point(kMargin, 20), draw::kTitleScale, draw::kInk, 1);
  // Legend: a swatch of each frame colour, if it fits beside the title.
  const int jump_w = draw::text_size("jump", 0.4).width, image_w = draw::text_size("new image", 0.4).width;
  int lx = kMargin + draw::text_size(title, draw::kTitleScale, 1).width + 22;
  if (lx + 2 * 16 + jump_w + 14 + image_w < out.cols - kMargin) {
    draw::frame(out, cv::Rect(lx, 9, 12, 12), 3, draw::kRed);
    draw::text(out, "jump", cv::Point(lx + 16, 20), 0.4, draw::kMutedInk);
    lx += 16 + jump_w + 14;
    draw::frame(out, cv::Rect(lx, 9, 12, 12), 2, draw::kAmber);
    draw::text(out, "new image", cv::Point(lx + 16, 20), 0.4, draw::kMutedInk);
  }
  for (int e = 0; e < E; ++e) {
    const cv::Rect c = lay.cell(e, 0);
    draw::text_centered(out, "epoch " + std::to_string(r.epochs[e]), c.x + c.width / 2, kHeaderHeight - 8);
  }

  for (int f = 0; f < F; ++f) {
    const cv::Rect row0 = lay.cell(0, f);
    const std::string label = "#" + std::to_string(ev.features[f]);
    const cv::Size ls = draw::text_size(label, draw::kTextScale);
    draw::text(out, label, cv::Point(kLabelWidth - 6 - ls.width, row0.y + row0.height / 2 + ls.height / 2));
    for (int e = 0; e < E; ++e) {
      const cv::Rect c = lay.cell(e, f);
      const size_t i = size_t(e) * F + f;
      const Activation& a = ev.strongest[i];
      if (inactive(a)) {
        // No positive activation anywhere in the probe set: any "strongest" image would be arbitrary.
        draw::paste(out, draw::empty_tile(c.size(), "inactive"), c.tl());
      } else {
        const cv::Mat proj = projection_to_image(ev.projections.ptr() + i * chw, C, H, W, kProjectionPercentile);
        draw::paste(out, crop_to_window(proj, ev.windows[i], disp.height, disp.width), c.tl());
        draw::paste(out, patch_image(probe, a.image, ev.windows[i], disp.height, disp.width),
                    cv::Point(c.x + disp.width + kInnerGap, c.y));
      }
      if (e == 0 || !jumps) continue;
      const size_t j = size_t(e - 1) * F + f;  // the change arriving at epoch index e
      // Frames hug the cell and leave white outside, so frames of neighbours stay apart.
      const cv::Rect outer(c.x - kFrame, c.y - kFrame, c.width + 2 * kFrame, c.height + 2 * kFrame);
      if (!jumps->jump.empty() && jumps->jump[j])
        draw::frame(out, outer, kFrame, draw::kRed);
      else if (!jumps->image_changed.empty() && jumps->image_changed[j])
        draw::frame(out, outer, 2, draw::kAmber);
    }
  }
  return out;
}

void render_evolution_strip(const AnalysisResult& r, size_t layer, const Dataset& probe, const std::string& png_path) {
  write_png(render_evolution_strip_image(r, layer, probe), png_path);
}

}  // namespace ds
