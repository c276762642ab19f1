// Pictures of an analysis, drawn with OpenCV (core, imgproc, imgcodecs; no GUI): deconvnet
// projections beside the image patches they came from, as in the paper's Fig. 2 (top-k
// per feature) and Fig. 4 (a feature's strongest activation across epochs), training and
// convergence plots, and a mosaic of first-layer filters. Every PNG is written through a
// temporary file and renamed into place (report/png.hpp).
// Left out: the HTML page (report/html_report.hpp) and anything interactive.
#pragma once

#include <cstdint>
#include <string>

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
constexpr int kGridColumns = 4;       // features per row of a top-k grid
constexpr int kGridTileMaxSide = 64;  // top-k tiles are 3x3 blocks, so kept smaller
}  // namespace report_layout

// Size a projection or patch of an H x W input is shown at: enlarged by the smallest
// whole factor that reaches kMinSide (nearest neighbour keeps pixels visible), or shrunk
// to max_side, aspect kept.
cv::Size display_size(int H, int W, int max_side = report_layout::kMaxSide);

// A projection (C, H, W) in network-input units as an 8-bit picture: 0 is grey 128, the
// largest |value| of this projection maps to 255 (positive) or 0 (negative), the paper's
// contrast enhancement. C=3 is RGB and comes back BGR (CV_8UC3); C=1 grey (CV_8UC1);
// other C are averaged to grey.
cv::Mat projection_to_image(const float* proj, int C, int H, int W);

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

// --- Evolution strip (Fig. 4): a row per followed feature, a column per epoch, each cell
// the projection of the strongest activation (cropped to its receptive field) beside the
// image patch. A red frame marks a jump arriving at that epoch (r.jumps), a thin amber
// one a new strongest image whose projection stayed similar.
cv::Size evolution_strip_size(int epochs, int features, int H, int W);
// The content (projection + gap + patch) of the cell at epoch index e, feature row f.
cv::Rect evolution_cell_rect(int e, int f, int H, int W);
cv::Mat render_evolution_strip_image(const AnalysisResult& r, size_t layer, const Dataset& probe);
void render_evolution_strip(const AnalysisResult& r, size_t layer, const Dataset& probe, const std::string& png_path);

// --- Top-k grid (Fig. 2): per feature, a sqrt(k) x sqrt(k) block of projections beside
// the same block of patches, features laid out kGridColumns to a row with their index.
cv::Mat render_topk_grid_image(const LayerTopK& t, const AnalysisResult& r, const Dataset& probe,
                               int max_features = 64);
void render_topk_grid(const LayerTopK& t, const AnalysisResult& r, const Dataset& probe, const std::string& png_path,
                      int max_features = 64);

// --- Plots, drawn with OpenCV lines and text.
// Loss and accuracy vs epoch, train and val, from a run's metrics.csv. Throws
// ds::Error(data) naming the file if it is missing, malformed or lacks a column.
void plot_training_curves(const std::string& metrics_csv, const std::string& png_path);
// Mean cosine of each layer's filters to the final snapshot's, vs epoch, one line per
// layer, with the convergence threshold dashed.
void plot_convergence(const AnalysisResult& r, const std::string& png_path);

}  // namespace ds
