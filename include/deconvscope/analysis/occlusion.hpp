// Occlusion sensitivity across training, the paper's Fig. 7 at every snapshot: a square
// filled with the dataset mean is slid over an image, and at each position the network
// is asked how much the feature map that is strongest on the whole image still fires,
// how probable the true class still is, and which class now wins. The deconvnet
// projection of that feature's strongest activation is kept beside it, so the maps can
// be checked against what the feature looks at. docs/occlusion-format.md defines the
// grid, every figure and the file analysis/occlusion.h5.
//
// The occluded images are independent inputs and go through the network in batches
// (analysis/forward_images.hpp). Left out: other fill values (grey in the paper means
// the dataset mean after normalisation, i.e. 0 in network-input units) and fc layers
// (a feature *map* needs a conv layer).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "deconvscope/analysis/run.hpp"
#include "deconvscope/config/config.hpp"
#include "deconvscope/data/dataset.hpp"
#include "deconvscope/model/network.hpp"

namespace ds {

inline constexpr const char* kOcclusionFormat = "deconvscope.occlusion";
inline constexpr int kOcclusionFormatVersion = 1;

// Its files, named once (RunPaths::in_analysis, in_report): what it writes, what its page
// and its command's outputs read.
inline constexpr const char* kOcclusionFile = "occlusion.h5";    // analysis/
inline constexpr const char* kOcclusionCsv = "occlusion.csv";    // analysis/
inline constexpr const char* kOcclusionPage = "occlusion.html";  // report/

// [occlusion]: `deconvscope occlusion` (Zeiler & Fergus Fig. 7 at every snapshot; docs/occlusion-format.md).
struct OcclusionConfig {
  std::string images = "test:0-4";  // split:indices, e.g. test:0-4 or train:3,7,9
  std::vector<int> epochs;          // empty = every snapshot
  std::string layer;                // conv layer; empty = the last conv layer
  int size = 8;                     // side of the grey square, pixels
  int stride = 2;                   // step of the square, pixels
  bool in_analyze = false;          // `analyze` runs it too
};

// The [occlusion] section of cfg: what it sets, else the defaults above. The second form
// is for changing it (cfg holds the section from then on).
const OcclusionConfig& occlusion_config(const Config& cfg);
OcclusionConfig& occlusion_config(Config& cfg);
// Adds [occlusion] and its keys to the config key table (config/config_section.hpp), so that
// a config naming them reads: called before any such config is read (cli_run calls
// register_analysis_sections first); a second call does nothing.
void register_occlusion_section();

// Where the square goes: its top-left corner runs from -(size / 2) to H - size + size / 2
// in steps of stride (the same across), so the square overhangs each border by up to half
// its side and every pixel is covered near the square's middle at some position.
struct OcclusionGrid {
  int rows = 0, cols = 0;
  std::vector<int32_t> positions;  // (rows * cols, 2): top-left (y, x), row-major; may be negative
};

// ds::Error(config) naming occlusion.size when the square is larger than the H x W input
// (or occlusion.stride when it is < 1).
OcclusionGrid occlusion_grid(int height, int width, int size, int stride);

// out = image (C, H, W) with the size x size square at top-left (y0, x0), clipped to the
// image, set to 0: the dataset mean in network-input units.
void occlude(const float* image, int C, int H, int W, int y0, int x0, int size, float* out);

// One snapshot's occlusion of I images over a grid of P positions.
struct SnapshotOcclusion {
  std::vector<int32_t> feature;     // (I) strongest feature map of the layer on the whole image; -1: none fired
  std::vector<float> strongest;     // (I) its largest value on the whole image (0 when feature is -1)
  std::vector<float> activation;    // (I, P) the feature map's total (sum over positions) with the square in place
  std::vector<float> probability;   // (I, P) softmax probability of the image's label
  std::vector<int32_t> predicted;   // (I, P) most probable class (first on ties)
  std::vector<float> projection;    // (I, C, H, W) deconvnet projection of the strongest activation
};

// Occludes images `images` of d (indices; normalised with norm) with the snapshot already
// loaded into net, following conv layer `conv`'s rectified output. net must have been built
// for d's image shape; any batch size.
SnapshotOcclusion occlude_snapshot(Network& net, const Dataset& d, const Normalization& norm,
                                   const std::vector<int64_t>& images, int conv, int size, const OcclusionGrid& grid);

// A run's occlusion: every chosen snapshot, every chosen image. Arrays are epoch-major.
struct OcclusionResult {
  std::vector<int> epochs;       // (E)
  std::string split;             // train | test
  std::vector<int64_t> images;   // (I) indices into the split
  std::vector<int32_t> labels;   // (I)
  std::string layer;             // conv layer followed
  int size = 0, stride = 0;
  InputShape input;              // C, H, W of the network's input
  OcclusionGrid grid;
  std::vector<int32_t> feature;      // (E, I)
  std::vector<float> activation;     // (E, I, rows, cols)
  std::vector<float> probability;    // (E, I, rows, cols)
  std::vector<int32_t> predicted;    // (E, I, rows, cols)
  std::vector<float> projection;     // (E, I, C, H, W)
  // Not in the file: for the command's summary and the page.
  std::vector<float> strongest;      // (E, I) the feature's largest value on the whole image
  std::vector<double> seconds;       // (E) time taken per snapshot

  size_t positions() const { return size_t(grid.rows) * size_t(grid.cols); }
  size_t image_size() const { return size_t(input.channels) * size_t(input.height) * size_t(input.width); }
};

// What compute_occlusion needs besides the run: the config's [occlusion] section and
// whether to draw progress bars.
struct OcclusionRequest {
  OcclusionConfig config;
  bool quiet = false;
};

// The run's occlusion with `request.config`: the images of occlusion.images (ds::Error(config)
// naming it for a bad or out-of-range selection), the snapshots of occlusion.epochs (every
// one when empty; ds::Error(config) naming it for an epoch without a snapshot), the conv
// layer occlusion.layer (the last conv layer when empty; ds::Error(config) naming it when
// the run has no such conv layer), batches of analysis.batch images.
OcclusionResult compute_occlusion(const Run& run, const OcclusionRequest& request);

// analysis/occlusion.h5 (docs/occlusion-format.md), written atomically; read back with
// schema checks (ds::Error(snapshot) "<file>: <object>: expected X, found Y").
void write_occlusion(const std::string& path, const OcclusionResult& r);
OcclusionResult read_occlusion(const std::string& path);

// occlusion.csv: a row per epoch, image and square position (written atomically).
void write_occlusion_csv(const std::string& path, const OcclusionResult& r);

}  // namespace ds
