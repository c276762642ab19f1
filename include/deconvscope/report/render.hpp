// Pictures of an analysis, drawn with OpenCV (core, imgproc, imgcodecs; no GUI): deconvnet
// projections beside the image patches they came from, as in the paper's Fig. 2 (top-k
// per feature) and Fig. 4 (a feature's strongest activation across epochs), training and
// convergence plots, and a mosaic of first-layer filters. Every PNG is written through a
// temporary file and renamed into place (report/png.hpp).
// Left out: the HTML page (report/html_report.hpp) and anything interactive.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include <opencv2/core.hpp>

#include "deconvscope/analysis/results.hpp"
#include "deconvscope/core/tensor.hpp"
#include "deconvscope/data/dataset.hpp"

namespace ds {

// Layout of the evolution strip and the top-k grid, in pixels. Public so that tests and
// other pictures can find a cell without guessing.
namespace report_layout {
constexpr int kPad = 5;               // white border around every cell; frames are drawn in it
constexpr int kFrame = 3;             // a jump frame: the kFrame pixels of the border next to the cell
constexpr int kInnerGap = 2;          // between a projection and its patch
constexpr int kLabelWidth = 56;       // left column of the strip: feature indices
constexpr int kHeaderHeight = 50;     // top of the strip: title line, then epoch labels
constexpr int kMargin = 8;            // right and bottom edge
constexpr int kMinSide = 56;          // small inputs (28x28) are enlarged by a whole factor to at least this
constexpr int kMaxSide = 112;         // large inputs are shrunk to at most this
constexpr int kPageWidth = 1480;      // the report's content width: strips grow their cells to fill it
constexpr int kStripMaxSide = 160;    // ... up to this side per projection or patch
constexpr int kGridColumns = 4;       // features per row of a top-k grid
constexpr int kGridTileMaxSide = 64;  // top-k tiles are 3x3 blocks, so kept smaller
constexpr int kGridPageFeatures = 64; // at most this many features per top-k grid picture
// Projections are stretched by this percentile of their non-zero |values|, not by the
// largest: one extreme pixel would otherwise flatten the rest to grey. Values beyond it
// are clipped (to 0 or 255).
constexpr float kProjectionPercentile = 99.5f;
}  // namespace report_layout

// Size a projection or patch of an H x W input is shown at: enlarged by the smallest
// whole factor that reaches kMinSide (nearest neighbour keeps pixels visible), or shrunk
// to max_side, aspect kept.
cv::Size display_size(int H, int W, int max_side = report_layout::kMaxSide);

// The scale a picture of `values` is stretched by: the `percentile` (0, 100] of the
// finite non-zero |values| by nearest rank (100 = the largest |value|); 0 if there are
// none. Zeros are left out because a projection is zero outside its receptive field.
float robust_scale(const float* values, size_t n, float percentile);

// A projection (C, H, W) in network-input units as an 8-bit picture: 0 is grey 128, the
// scale (robust_scale at `percentile`) maps to 255 (positive) or 0 (negative), values
// beyond it clipped: the paper's contrast enhancement. The report's projections use
// report_layout::kProjectionPercentile; 100 (the default) stretches by the largest |value|,
// as filters are shown. C=3 is RGB and comes back BGR (CV_8UC3), one scale over the three
// channels; C=1 grey (CV_8UC1); other C are averaged to grey.
cv::Mat projection_to_image(const float* proj, int C, int H, int W, float percentile = 100.f);

// Dataset image `image` ((C, H, W) planar bytes, RGB) as an OpenCV picture: BGR for C=3,
// grey otherwise (mean over channels). Throws ds::Error(data) naming d.source if `image`
// is out of range.
cv::Mat dataset_image(const Dataset& d, int64_t image);

// The window [y0, y1) x [x0, x1) of `picture`, clipped to it, scaled to fit H x W with its
// aspect kept and centred on grey 128 (nearest neighbour when enlarging, area when
// shrinking). An empty window after clipping means the whole picture.
cv::Mat crop_to_window(const cv::Mat& picture, Window w, int H, int W);

// The receptive-field patch of `image`, cropped and scaled to H x W (the paper shows the
// cropped patch). BGR for colour datasets, grey otherwise.
cv::Mat patch_image(const Dataset& d, int64_t image, Window w, int H, int W);

// Filters (O, I, kh, kw) as a grid of cells of `cell` x `cell` pixels, each filter
// contrast-stretched around 0 by its own largest |value|; I=3 colour (RGB -> BGR), I=1
// grey, other I averaged over I. Always BGR (CV_8UC3). Throws ds::Error(shape) if the
// tensor is not 4-d.
cv::Mat filter_mosaic(const Tensor& weights, int cell);

// An activation the pictures show as "inactive": no image (the analysis stores -1 for a
// feature that never fires on the probe set) or no positive value, where any image
// would be arbitrary.
// metrics.csv's per-layer columns are "<layer>" + one of these suffixes (written by the
// trainer, docs/config.md); the report's curves and tables find the layers by them.
inline const std::string kWeightRmsSuffix = "_weight_rms";
inline const std::string kGradRmsSuffix = "_grad_rms";
inline const std::string kUpdateRatioSuffix = "_update_ratio";
inline const std::string kDeadFractionSuffix = "_dead_fraction";

inline bool inactive(const Activation& a) { return a.image < 0 || !(a.value > 0.f); }

// --- Evolution strip (Fig. 4): a row per followed feature, a column per epoch, each cell
// the projection of the strongest activation (cropped to its receptive field) beside the
// image patch. A red frame marks a jump arriving at that epoch (r.jumps), a thin amber
// one a new strongest image whose projection stayed similar. The cells grow with the
// page: as large as fits kPageWidth for this many epochs, between display_size and
// kStripMaxSide.
struct StripLayout {
  int epochs = 0, features = 0;
  cv::Size tile;  // one projection or one patch
  cv::Size size;  // the whole picture
  // The content (projection + gap + patch) of the cell at epoch index e, feature row f.
  cv::Rect cell(int e, int f) const;
  // Feature row f across the whole picture, its label included.
  cv::Rect row(int f) const;
};
StripLayout evolution_strip_layout(int epochs, int features, int H, int W);
cv::Mat render_evolution_strip_image(const AnalysisResult& r, size_t layer, const Dataset& probe);
void render_evolution_strip(const AnalysisResult& r, size_t layer, const Dataset& probe, const std::string& png_path);

// --- Top-k grid (Fig. 2): per feature, a sqrt(k) x sqrt(k) block of projections beside
// the same block of patches, features laid out kGridColumns to a row with their index.
// A layer's features are split into pages of at most kGridPageFeatures, one picture each,
// so that every feature is shown.
struct TopkGridLayout {
  int first = 0, count = 0, columns = 0;  // features [first, first + count) of the layer
  cv::Size tile, block, feature, size;
  // The box of feature first + i (its label line and both blocks).
  cv::Rect feature_box(int i) const;
};
TopkGridLayout topk_grid_layout(int k, int H, int W, int first, int count);
// Pages of a layer with `features` features: [first, count) of each, balanced.
std::vector<std::pair<int, int>> topk_grid_pages(int features);
// Features [first, first + count) of t (clipped to t.features); throws ds::Error(snapshot)
// naming the layer if t is inconsistent.
cv::Mat render_topk_grid_image(const LayerTopK& t, const AnalysisResult& r, const Dataset& probe, int first = 0,
                               int count = report_layout::kGridPageFeatures);
void render_topk_grid(const LayerTopK& t, const AnalysisResult& r, const Dataset& probe, const std::string& png_path,
                      int first = 0, int count = report_layout::kGridPageFeatures);

// --- Plots, drawn with OpenCV lines and text.
// Loss and accuracy vs epoch, train and val, from a run's metrics.csv. Throws
// ds::Error(data) naming the file if it is missing, malformed or lacks a column.
void plot_training_curves(const std::string& metrics_csv, const std::string& png_path);
// Per-layer training health from metrics.csv, three small plots side by side with a line
// per layer and the legend beside the axes: log10 of the gradient RMS, log10 of the
// update-to-weight ratio, and the share of dead feature maps (conv layers). Returns false
// (and writes nothing) if the file has no per-layer columns; throws ds::Error(data)
// naming the file if a value is malformed.
bool plot_layer_stats(const std::string& metrics_csv, const std::string& png_path);
// Two panels, a line per layer against epoch: the mean cosine of each layer's filters to
// the final snapshot's, and its weight progress (results.hpp). No threshold: these say
// how the weights moved, not when a layer settled.
void plot_convergence(const AnalysisResult& r, const std::string& png_path);

}  // namespace ds
