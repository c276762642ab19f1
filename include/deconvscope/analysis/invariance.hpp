// Invariance across training: the paper's Fig. 5 (Zeiler & Fergus Sec. 5) for every
// snapshot. A few images are translated vertically and horizontally, scaled and rotated
// over a sweep of values; for each snapshot, image and value the analysis records how far
// the chosen layers' rectified outputs move, |f(Tx) - f(x)| / |f(x)| (relative, so layers
// of different sizes compare), the probability of the true class and the most probable
// class. docs/invariance-format.md defines the file analysis/invariance.h5.
//
// The transformations work on images in network-input units (normalised), where the
// dataset mean is 0: pixels that come from outside the image are 0, i.e. the mean.
// Left out: other transformations (flips, colour), and anything across runs
// (report/invariance_page.hpp adds the figure to `compare`).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "deconvscope/analysis/run.hpp"
#include "deconvscope/config/config.hpp"

namespace ds {

class Network;

inline constexpr const char* kInvarianceFormat = "deconvscope.invariance";
inline constexpr int kInvarianceFormatVersion = 1;

// Its files, named once (RunPaths::in_analysis, in_report): what it writes, what its page,
// its command's outputs and `compare` read.
inline constexpr const char* kInvarianceFile = "invariance.h5";    // analysis/
inline constexpr const char* kInvarianceCsv = "invariance.csv";    // analysis/
inline constexpr const char* kInvariancePage = "invariance.html";  // report/

// [invariance]: the paper's Fig. 5 over the snapshots.
struct InvarianceConfig {
  std::string images = "test:0-4";      // split:indices (analysis/image_selection.hpp)
  std::vector<int> epochs;              // snapshot epochs to measure; empty = all
  std::vector<std::string> layers;      // empty = the first conv layer and the last hidden fc layer
  std::string translate = "auto";       // pixels, vertical and horizontal (config/sweep.hpp)
  std::string scale = "auto";           // factor about the image centre
  std::string rotate = "auto";          // degrees, counter-clockwise
  bool in_analyze = false;              // `analyze` runs it too
};

// The [invariance] section of cfg: what it sets, else the defaults above. The second form
// is for changing it (cfg holds the section from then on).
const InvarianceConfig& invariance_config(const Config& cfg);
InvarianceConfig& invariance_config(Config& cfg);
// Adds [invariance] and its keys to the config key table (config/config_section.hpp), so that
// a config naming them reads: called before any such config is read (cli_run calls
// register_analysis_sections first); a second call does nothing.
void register_invariance_section();

enum class Transform { translate_y, translate_x, scale, rotate };
inline constexpr Transform kTransforms[] = {Transform::translate_y, Transform::translate_x, Transform::scale,
                                            Transform::rotate};
// "translate_y", "translate_x", "scale", "rotate": the groups of invariance.h5.
const char* transform_name(Transform t);
// The config key its sweep comes from ("invariance.translate", ...).
const char* transform_key(Transform t);
// Axis title for figures: "vertical translation (pixels)", ...
const char* transform_axis(Transform t);
// The value that leaves an image as it is (0 or 1).
double identity_value(Transform t);

// Transforms one image src (C, H, W), plain, network-input units, into dst (C, H, W):
//   translate_y by v: the content moves v pixels down (up when v < 0);
//   translate_x by v: v pixels right;
//   scale by v: enlarged v times about the image centre ((W-1)/2, (H-1)/2), cropped or
//     padded back to H x W;
//   rotate by v: v degrees counter-clockwise about the centre (exact for multiples of 90).
// Bilinear interpolation (OpenCV warpAffine), so whole-pixel translations copy pixels
// exactly; pixels from outside the image are 0, the dataset mean in these units.
void transform_image(const float* src, int C, int H, int W, Transform t, double value, float* dst);

// The sweep of one transformation: the config key's values, or for "auto" a default for
// an H x W input (translations: about a quarter of the side each way, at most 13 values;
// scale 0.6 to 1.4 by 0.1; rotation 0 to 360 by 15 degrees). ds::Error(config) naming
// the key as config/sweep.hpp says.
std::vector<double> sweep_values(Transform t, const InvarianceConfig& cfg, int H, int W);

// One transformation's sweep and what it did at every measured snapshot.
struct InvarianceSweep {
  Transform transform = Transform::translate_y;
  std::vector<double> values;  // [S]
  std::vector<float> inputs;   // [I, S, C, H, W] transformed images, network-input units
  // Per measured layer [L], then [E, I, S]: |f(Tx) - f(x)| / |f(x)|; NaN where f(x) is 0.
  std::vector<std::vector<float>> distance;
  std::vector<float> probability;  // [E, I, S] of the image's true class
  std::vector<int32_t> predicted;  // [E, I, S] the most probable class

  const char* name() const { return transform_name(transform); }
  size_t at(size_t e, size_t i, size_t s, size_t I) const { return (e * I + i) * values.size() + s; }
};

struct InvarianceResult {
  std::vector<int> epochs;          // [E] measured snapshot epochs, ascending
  std::vector<std::string> layers;  // [L] the layers named in invariance.layers (or the defaults)
  std::vector<std::string> outputs; // [L] the layers read: each one's ReLU when one follows
  std::string split;                // train | test
  std::vector<int64_t> images;      // [I] indices into the split
  std::vector<int32_t> labels;      // [I]
  InputShape input;
  std::vector<float> input_mean, input_std;  // [C] the normalisation, to show inputs as pictures
  std::vector<std::string> class_names;      // of the dataset, for the page
  std::vector<float> originals;              // [I, C, H, W] the untransformed images, network-input units
  std::vector<InvarianceSweep> sweeps;       // one per transformation, in kTransforms order
  std::vector<double> seconds;               // [E] time spent measuring each snapshot (not written)

  size_t image_size() const { return size_t(input.channels) * size_t(input.height) * size_t(input.width); }
};

// The layers invariance.layers names (conv or fc; any other name is ds::Error(config)
// naming the key and listing them), or by default the first conv layer and the last fc
// layer before the classifier (the paper's layers 1 and 7); the last conv layer when the
// network has no hidden fc layer. Indices into specs.
std::vector<int> invariance_layers(const std::vector<LayerSpec>& specs, const std::vector<std::string>& names,
                                   const std::string& key = "invariance.layers");

// The sweeps of every transformation for `originals` (I images of `input`): values and
// transformed inputs; measurement arrays sized for `epochs` snapshots and `layers` layers
// and filled with NaN / -1.
std::vector<InvarianceSweep> make_sweeps(const InvarianceConfig& cfg, const InputShape& input,
                                         const std::vector<float>& originals, size_t epochs, size_t layers);

// Measures slot `e` of every sweep with `net` (weights loaded): runs the originals and the
// transformed inputs through it in batches (forward_images) and reads the rectified
// outputs of the layers `outputs` (indices of the layers read) and the logits.
void measure_invariance(Network& net, const std::vector<int>& outputs, const std::vector<float>& originals,
                        const std::vector<int32_t>& labels, size_t e, std::vector<InvarianceSweep>& sweeps);

// The whole analysis over the run's snapshots, with the run's config: invariance.images
// (ds::Error(config) naming the key for a bad selection or an index beyond the split),
// invariance.epochs (each must have a snapshot), invariance.layers and the sweeps;
// batches of analysis.batch images.
InvarianceResult compute_invariance(const Run& run, bool quiet = false);

// invariance.h5 (docs/invariance-format.md), written atomically; read back with schema
// checks (ds::Error(snapshot) "<file>: <object>: expected X, found Y").
void write_invariance(const std::string& path, const InvarianceResult& r);
InvarianceResult read_invariance(const std::string& path);

// invariance.csv: a row per epoch, transformation, image and value, a column per layer's
// distance, then probability and predicted class; written atomically.
void write_invariance_csv(const std::string& path, const InvarianceResult& r);

// Summary of one layer's (or, layer < 0, the probability's) sweep at slot e: the mean
// over images and sweep values of the distance (or of the true-class probability),
// leaving NaN out. What the "invariance against epoch" figure plots.
double invariance_summary(const InvarianceSweep& s, int layer, size_t e, size_t images);

}  // namespace ds
