// What the analysis stage computes for a run, in memory: the strongest activations of
// each analysed conv layer's features and their deconvnet projections across the
// snapshots (the paper's Fig. 4), the top-k per feature at chosen epochs (Fig. 2), and
// the jump and convergence figures. analysis/analysis_file.hpp writes and reads it as
// analysis.h5 (docs/analysis-format.md); report/ renders it.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "deconvscope/config/config.hpp"
#include "deconvscope/config/layer_spec.hpp"
#include "deconvscope/core/tensor.hpp"

namespace ds {

// One activation of one feature: where it is and how strong.
struct Activation {
  int64_t image = -1;  // index into the probe split; -1: none (the feature fired on fewer images than k)
  int32_t y = 0, x = 0;  // position in the layer's output
  float value = 0.f;     // the ReLU output there
};

// The input pixels an output position sees: rows [y0, y1), columns [x0, x1), clipped
// to the image.
struct Window {
  int32_t y0 = 0, x0 = 0, y1 = 0, x1 = 0;
};

// One conv layer at one epoch, every feature: the k strongest activations over the
// probe set (each image at most once, at its best position), strongest first.
struct LayerTopK {
  std::string layer;
  int features = 0, k = 0;
  std::vector<Activation> acts;  // [features * k]
  std::vector<Window> windows;   // [features * k], receptive field of each
  Tensor projections;            // (features, k, C, H, W), network-input units
};

// One conv layer across epochs, for the followed features.
struct LayerEvolution {
  std::string layer;
  std::vector<int32_t> features;      // (F) feature indices
  std::vector<Activation> strongest;  // [E * F]
  std::vector<Window> windows;        // [E * F]
  Tensor projections;                 // (E, F, C, H, W)
  // The sanity baseline (analysis/sanity_baseline.hpp): Spearman rank correlation of each
  // projection with the same activation projected through the first snapshot's weights.
  // NaN where inactive, 1 at the first epoch; empty when not computed (an older file).
  std::vector<float> init_rank_correlation;  // [E * F]
};

// Between consecutive epochs e-1 and e (rows e = 1..E-1), for each followed feature.
// A feature is inactive at an epoch when it fired on no probe image (strongest image -1).
// Each row is at most one of: image changed, went silent, came back.
struct LayerJumps {
  std::vector<uint8_t> image_changed;         // [(E-1) * F] active at both, and the strongest image differs
  std::vector<float> projection_similarity;   // [(E-1) * F] cosine of the two projections
  std::vector<float> filter_change;           // [(E-1) * F] ||w_e - w_{e-1}|| / ||w_{e-1}|| of that filter
  std::vector<uint8_t> jump;                  // [(E-1) * F] image_changed && similarity < threshold
  std::vector<uint8_t> went_silent;           // [(E-1) * F] active at e-1, inactive at e
  std::vector<uint8_t> came_back;             // [(E-1) * F] inactive at e-1, active at e
};

// Per epoch of the layer.
struct LayerConvergence {
  std::vector<float> filter_similarity;  // [E] mean cosine of filters to the final snapshot's
  std::vector<float> weight_change;      // [E] ||W_e - W_{e-1}|| / ||W_{e-1}|| (0 for the first)
  std::vector<float> final_image_share;  // [E] share of followed features whose strongest image is the final one (or inactive at both)
  int converged_at = -1;                 // first epoch from which filter_similarity stays >= threshold; -1 never
  // Share of the way from the first analysed snapshot's weights to the final ones:
  // 1 - ||W_e - W_final|| / ||W_first - W_final||. Free of the random initialisation,
  // which dominates filter_similarity in short runs.
  std::vector<float> weight_progress;    // [E], 0 at the first epoch, 1 at the final one
  int progress_converged_at = -1;        // first epoch from which weight_progress stays >= threshold
  // Median of LayerEvolution::init_rank_correlation over the followed features with a
  // figure (NaN ones left out: inactive, or a flat picture): how much of the layer's
  // pictures the first snapshot's weights already draw (NaN where no feature has a figure;
  // empty when not computed).
  std::vector<float> init_rank_correlation;  // [E]
};

struct AnalysisResult {
  ProbeSplit split = ProbeSplit::train;  // stored as "train" | "test"
  std::string dataset_path;
  int64_t probe_count = 0;    // the first probe_count images of the split, in file order
  std::vector<int> epochs;    // analysed snapshots, ascending
  std::vector<std::string> layers;  // analysed conv layers, forward order
  InputShape input;
  std::vector<float> input_mean, input_std;  // to turn projections back into pixels
  // SHA-256 of each analysed snapshot's content, aligned with epochs (empty in files
  // written before it was recorded): the key under which analyze reuses an epoch.
  std::vector<std::string> snapshot_sha256;
  // Read back only (read_analysis): did the file carry deconvscope's checksum, and the
  // SHA-256 of its content, the key under which health reuses its aliasing figures.
  bool sealed = false;
  std::string content_sha256;

  std::vector<LayerEvolution> evolution;        // aligned with layers
  std::map<int, std::vector<LayerTopK>> topk;   // epoch -> aligned with layers
  std::vector<LayerJumps> jumps;                // aligned with layers
  std::vector<LayerConvergence> convergence;    // aligned with layers
  float jump_threshold = 0.5f;                  // projection cosine below which a changed image is a jump
  float convergence_threshold = 0.9f;
};

}  // namespace ds
