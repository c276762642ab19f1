// Representation similarity across snapshots: linear centred kernel alignment (Kornblith
// et al., "Similarity of Neural Network Representations Revisited", ICML 2019) of each
// chosen layer's features at every snapshot with the same layer at the last snapshot
// (to_final), at the previous snapshot (to_previous), and with every other chosen layer
// at the same snapshot (layer_by_layer), so that the report can say when each layer's
// representation settles.
//
// Features: the first similarity.images training images; a conv layer read at its
// rectified output and average-pooled by the linear probes' cell rule (pool_features) to
// at most grid x grid cells per channel; a fc layer after its ReLU. The measure is
// computed from centred Gram matrices (oneDNN's sgemm), which equals the feature-space formula
// |Yc' Xc|_F^2 / (|Xc' Xc|_F |Yc' Yc|_F). docs/similarity-format.md says it all and
// defines analysis/similarity.h5.
// Left out: kernel (RBF) CKA, SVCCA, and comparing two runs' representations.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "deconvscope/analysis/convergence_measure.hpp"
#include "deconvscope/analysis/run.hpp"
#include "deconvscope/config/config.hpp"

namespace ds {

inline constexpr const char* kSimilarityFormat = "deconvscope.similarity";
inline constexpr int kSimilarityFormatVersion = 1;

// Its files, named once (RunPaths::in_analysis, in_report): what it writes, what its page,
// its command's outputs, the report and `compare` read.
inline constexpr const char* kSimilarityFile = "similarity.h5";    // analysis/
inline constexpr const char* kSimilarityCsv = "similarity.csv";    // analysis/
inline constexpr const char* kSimilarityPage = "similarity.html";  // report/

// [similarity]: linear CKA of each layer's pooled features with the final snapshot's, the
// previous one's, and the other layers'.
struct SimilarityConfig {
  std::vector<std::string> layers;  // empty = every conv layer and every hidden fc layer
  int64_t images = 2000;            // the first N training images
  int grid = 4;                     // conv outputs average-pooled to at most grid x grid cells per channel
  float settle_threshold = 0.9f;    // the report's "representation settles at": CKA to final stays >= this
  bool in_analyze = false;          // `analyze` (and analysis.live) runs it too
};

// The [similarity] section of cfg: what it sets, else the defaults above. The second form
// is for changing it (cfg holds the section from then on).
const SimilarityConfig& similarity_config(const Config& cfg);
SimilarityConfig& similarity_config(Config& cfg);
// Adds [similarity] and its keys to the config key table (config/config_section.hpp), so that
// a config naming them reads: called before any such config is read (cli_run calls
// register_analysis_sections first); a second call does nothing.
void register_similarity_section();

// --- The measure ------------------------------------------------------------------------

// The centred Gram matrix Kc = Xc Xc' (n, n) row-major of features x (n, D) row-major:
// the columns are centred first (float64 means), then one sgemm in float32 (model/gemm.hpp).
std::vector<float> centred_gram(const float* x, int64_t n, int64_t dim);

// Linear CKA from two centred Gram matrices of the same n images:
// <Kc, Lc>_F / (|Kc|_F |Lc|_F), the sums in float64. NaN when either is all zero (a
// layer whose features are the same on every image has no representation to compare).
double cka_from_grams(const std::vector<float>& k, const std::vector<float>& l);

// Linear CKA of x (n, dx) and y (n, dy), both row-major: cka_from_grams of their grams.
double linear_cka(const float* x, int64_t dx, const float* y, int64_t dy, int64_t n);

// --- A run's similarity -----------------------------------------------------------------

// Arrays are epoch-major: to_final[e * L + l], layer_by_layer[(e * L + a) * L + b].
struct SimilarityResult {
  std::vector<int> epochs;          // snapshot epochs, ascending
  std::vector<std::string> layers;  // the chosen layers, forward order
  int64_t image_count = 0;
  int grid = 4;
  std::vector<float> to_final;        // [E * L]; 1 at the last snapshot
  std::vector<float> to_previous;     // [E * L]; NaN at the first snapshot
  std::vector<float> layer_by_layer;  // [E * L * L]; symmetric, 1 on the diagonal
  // Not in the file: each layer's pooled feature length ([L]) and the wall-clock seconds
  // each snapshot took ([E], of which forward_seconds in the network's forward passes).
  std::vector<int64_t> feature_dim;
  std::vector<double> seconds, forward_seconds;

  size_t index(size_t e, size_t l) const { return e * layers.size() + l; }
  std::vector<float> to_final_curve(size_t l) const;     // [E]
  std::vector<float> to_previous_curve(size_t l) const;  // [E]
};

// The layers `similarity.layers` names (empty: every conv and every hidden fc layer), as
// layer indices in forward order; ds::Error(config) naming the key otherwise.
std::vector<int> similarity_layers(const Run& run, const SimilarityConfig& cfg);

// CKA of every snapshot of the run. Throws ds::Error(config) naming the key when
// similarity.images asks for more images than the training split has (or fewer than
// 2), the grid is below 1, or a layer is unknown. One forward pass of the images through
// each snapshot; the final snapshot is read first (every to_final needs it).
SimilarityResult compute_similarity(const Run& run, const SimilarityConfig& cfg, bool show_progress = true);

// The first epoch from which layer l's CKA to the final snapshot stays >= threshold
// through the last ("representation settles at"); -1 never (a NaN breaks it).
int cka_settles_at(const SimilarityResult& r, size_t l, double threshold);

// --- Files ------------------------------------------------------------------------------

// analysis/similarity.h5, written atomically; the reader checks format, version and
// every dataset's shape (ds::Error(snapshot) "<file>: <object>: expected X, found Y").
void write_similarity(const std::string& path, const SimilarityResult& r);
SimilarityResult read_similarity(const std::string& path);
// The run's analysis/similarity.h5 when it has a readable one, else null (with the reason
// in *problem when given): the report says how to get it.
std::shared_ptr<const SimilarityResult> read_run_similarity(const RunPaths& paths, std::string* problem = nullptr);
// <dir>/similarity.csv: a row per layer and epoch, to_final, to_previous, and the layer's
// row of layer_by_layer as one column per layer (with_<layer>).
void write_similarity_csv(const std::string& dir, const SimilarityResult& r);
// The similarity's columns of convergence.csv (ConvergenceMeasure's CSV half; the
// report's similarity_page.hpp adds the headline's): per analysed layer and epoch the CKA
// to the final snapshot and the epoch from which it stays >= settle_threshold; blank for
// a layer or epoch it lacks, and everywhere when `similarity` is null (the run has none).
ConvergenceMeasure similarity_convergence_columns(std::shared_ptr<const SimilarityResult> similarity,
                                                  double settle_threshold);

}  // namespace ds
