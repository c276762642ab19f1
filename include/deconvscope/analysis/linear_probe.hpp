// Linear probes (Alain and Bengio, 2016; Zeiler & Fergus Sec. 5 on the final model only):
// at every snapshot, a linear classifier on each chosen layer's features, fitted on the
// first linear_probe.train training images and scored on the first linear_probe.test
// test images, so that the report can show when each layer's features become useful.
// Also the same probe on the input pixels (the floor) and the network's own accuracy.
//
// Features: a conv layer's rectified output average-pooled to at most grid x grid cells
// per channel (analysis/pooled_features.hpp), a fc layer's output after its ReLU as it
// is, pooled as each batch is computed (full-size features are never held). Fit: standardised features (the training
// features' mean and std), an L2-regularised least-squares (ridge) classifier onto
// one-hot targets with an unpenalised bias, solved by Cholesky on the normal equations
// (cv::solve); its strength chosen per fit on a validation split of the training
// features. docs/linear-probes-format.md says it all in detail, and defines
// analysis/linear_probes.h5.
// Left out: nonlinear probes, data augmentation, the probes' weights (only accuracies are kept).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "deconvscope/analysis/convergence_measure.hpp"
#include "deconvscope/analysis/pooled_features.hpp"
#include "deconvscope/analysis/run.hpp"
#include "deconvscope/config/config.hpp"

namespace ds {

inline constexpr const char* kLinearProbeFormat = "deconvscope.linear_probes";
inline constexpr int kLinearProbeFormatVersion = 1;

// Its files, named once (RunPaths::in_analysis, in_report): what it writes, what its page,
// its command's outputs, the report and `compare` read.
inline constexpr const char* kLinearProbesFile = "linear_probes.h5";                        // analysis/
inline constexpr const char* kLinearProbesCsv = "linear_probes.csv";                        // analysis/
inline constexpr const char* kLinearProbeConvergenceCsv = "linear_probe_convergence.csv";  // analysis/
inline constexpr const char* kLinearProbesPage = "linear_probes.html";                      // report/

// [linear_probe]: a linear classifier on each layer's pooled features at each snapshot.
struct LinearProbeConfig {
  std::vector<std::string> layers;  // empty = every conv layer and every hidden fc layer
  int64_t train = 10000;            // first N training images the probes are fitted on
  int64_t test = 10000;             // first N test images they are scored on
  int grid = 2;                     // conv outputs average-pooled to at most grid x grid cells per channel
  bool in_analyze = false;          // `analyze` (and analysis.live) runs them too
};

// The [linear_probe] section of cfg: what it sets, else the defaults above. The second form
// is for changing it (cfg holds the section from then on).
const LinearProbeConfig& linear_probe_config(const Config& cfg);
LinearProbeConfig& linear_probe_config(Config& cfg);
// Adds [linear_probe] and its keys to the config key table (config/config_section.hpp), so that
// a config naming them reads: called before any such config is read (cli_run calls
// register_analysis_sections first); a second call does nothing.
void register_linear_probe_section();

// The two reference rows among the probed layers; no layer can be called so (layer names
// are letters, digits, '_' and '-').
inline constexpr const char* kPixelsRow = "(pixels)";    // the probe on the input pixels: the floor
inline constexpr const char* kNetworkRow = "(network)";  // the network's own accuracy (its argmax)

// The input pixels are probed as they are up to this many values per image; a larger
// input is average-pooled to the largest square grid that fits (a D x D fit must stay small).
inline constexpr int kMaxPixelFeatures = 3072;

// --- The probe ---------------------------------------------------------------------------

// The ridge strengths tried, as multiples of trace(Z'Z) / D of the standardised features
// Z (about the number of images): the one with the best validation accuracy wins (the
// larger one on ties).
const std::vector<double>& ridge_alphas();
// The strength used when the training features are too few to hold out a validation split.
inline constexpr double kDefaultRidgeAlpha = 1e-2;

struct ProbeFit {
  double train_accuracy = 0;  // of the final fit on every training row
  double alpha = 0;           // the chosen ridge_alphas() entry
  std::vector<float> mean, inv_std;  // (D) standardisation: z = (x - mean) * inv_std
  std::vector<double> weights;       // (D + 1, K) row-major; the last row is the bias
  int64_t dim = 0;
  int classes = 0;
  // Scores images x (n, D) row-major and counts those whose argmax is the label.
  int64_t correct(const float* x, const int32_t* labels, int64_t n) const;
};

// Fits the probe on training features x (n, D) row-major with labels in [0, classes).
// The last n / 5 rows are the validation split that chooses alpha (none below 50 rows:
// kDefaultRidgeAlpha); the final fit uses every row. Throws ds::Error(shape) on a size
// mismatch. Standardising: a feature with zero variance keeps inv_std 1 (it is 0 after
// centring, and the ridge term gives it no weight).
ProbeFit fit_linear_probe(const std::vector<float>& x, const std::vector<int32_t>& labels, int64_t n, int64_t dim,
                          int classes);

// --- A run's probes -----------------------------------------------------------------------

// One row per probed "layer" (kPixelsRow, the chosen layers in forward order, kNetworkRow)
// and snapshot. Arrays [E * L] are epoch-major: [e * L + l].
struct LinearProbeResult {
  std::vector<int> epochs;           // snapshot epochs, ascending
  std::vector<std::string> layers;   // row names
  int64_t train_count = 0, test_count = 0;
  int grid = 2;
  std::vector<float> train_accuracy, test_accuracy;  // [E * L]
  std::vector<int32_t> feature_dim;                   // [L] (the network row: its classes)
  // Not in the file (the CSV has alpha): the chosen ridge strength ([E * L], NaN for the
  // network row), the wall-clock seconds each snapshot took ([E]), and of those the
  // network's forward passes' and the fits' ([E] each; the rest is reading the outputs,
  // pooling and scoring).
  std::vector<float> alpha;
  std::vector<double> seconds, forward_seconds, fit_seconds;

  size_t index(size_t e, size_t l) const { return e * layers.size() + l; }
};

// The layers `linear_probe.layers` names (empty: every conv layer and every fc layer but
// the last), as layer indices in forward order. ds::Error(config) naming the key for an
// unknown layer or one that is neither conv nor fc (Run::layer_indices).
std::vector<int> linear_probe_layers(const Run& run, const LinearProbeConfig& cfg);

// The probes of every snapshot of the run. Throws ds::Error(config) naming the key when
// linear_probe.train or .test asks for more images than the split has, or a layer is
// unknown; show_progress: a progress bar counting the images of every snapshot.
LinearProbeResult compute_linear_probes(const Run& run, const LinearProbeConfig& cfg, bool show_progress = true);

// The first epoch at which accuracy (per epoch, ascending epochs) reaches `share` of its
// value at the last epoch; -1 if there are no epochs or the final value is not positive.
int convergence_epoch(const std::vector<int>& epochs, const std::vector<float>& accuracy, double share = 0.95);
// Test accuracy of row l over the epochs.
std::vector<float> probe_test_curve(const LinearProbeResult& r, size_t l);
// Row l's test accuracy measured against the pixel floor, per epoch: (acc - floor) /
// (final - floor), the share of its final gain over the floor; all NaN when the probes
// have no pixel row or the final accuracy is not above the floor (no gain to share).
std::vector<float> probe_gain_curve(const LinearProbeResult& r, size_t l);
// The first epoch from which row l's gain (probe_gain_curve) stays >= share through the
// last snapshot ("features become useful at"); -1 when it has no gain over the floor.
int probe_useful_at(const LinearProbeResult& r, size_t l, double share = 0.9);
// The pixel row's test accuracy (the floor; the same at every snapshot), NaN without one.
float probe_floor(const LinearProbeResult& r);

// --- Files ------------------------------------------------------------------------------

// analysis/linear_probes.h5, written atomically; the reader checks format, version and
// every dataset's shape and type (ds::Error(snapshot) "<file>: <object>: expected X, found Y").
void write_linear_probes(const std::string& path, const LinearProbeResult& r);
LinearProbeResult read_linear_probes(const std::string& path);
// The run's analysis/linear_probes.h5 when it has a readable one, else null: a missing or
// damaged file costs the probe columns of convergence.csv and the report, nothing else.
std::shared_ptr<const LinearProbeResult> read_run_linear_probes(const RunPaths& paths);
// <dir>/linear_probes.csv (a row per layer and epoch) and <dir>/linear_probe_convergence.csv
// (a row per layer: final test accuracy and the epoch it reaches 95% of it).
void write_linear_probe_csv(const std::string& dir, const LinearProbeResult& r);
// The probes' columns of convergence.csv (ConvergenceMeasure's CSV half; the report's
// linear_probe_page.hpp adds the headline's): per analysed layer and epoch the test
// accuracy, the epoch it reaches 95% of its final value, the gain over the pixel floor and
// the epoch from which that stays >= 90% of the final gain; blank for a layer or epoch the
// probes lack, and everywhere when `probes` is null (the run has none).
ConvergenceMeasure linear_probe_convergence_columns(std::shared_ptr<const LinearProbeResult> probes);

}  // namespace ds
