// The numbers behind the paper's Fig. 4 reading ("features jump, then settle"): per
// followed feature, whether its strongest image changes between consecutive snapshots
// and how different the two projections are (jumps); per layer, how close each epoch's
// filters already are to the final ones (convergence). Both read what the deconvnet scan
// left in an AnalysisResult plus the layer's conv weights at every analysed epoch.
// Left out: anything about the fc layers, and any smoothing over epochs.
//
// Definitions (also in docs/analysis-format.md). cos(a, b) is the cosine similarity of two
// flattened vectors, with cos = 1 if both are all zero and cos = 0 if exactly one is.
// A feature is inactive at an epoch when it fired on no probe image (strongest image -1).
// Jumps, rows e = 1..E-1, per followed feature f (filter o = evolution.features[f]):
//   image_changed         = active at e and e-1, and strongest image at e != at e-1
//   projection_similarity = cos(projection[e][f], projection[e-1][f] shifted so that the two
//                           receptive fields coincide): the appearance, wherever it sits.
//                           The shift lines up the windows' starts, or their ends on an
//                           axis where one window was clipped at the image's start edge.
//                           Without windows, no shift.
//   filter_change         = ||w_e[o] - w_{e-1}[o]|| / max(||w_{e-1}[o]||, 1e-12)
//   jump                  = image_changed && projection_similarity < jump_threshold
//   went_silent           = active at e-1 and inactive at e; came_back = the reverse
// Convergence, per layer and epoch index e (final = the last analysed epoch):
//   filter_similarity = mean over all filters o of cos(w_e[o], w_final[o]); exactly 1 at the
//                       final epoch
//   weight_change     = ||W_e - W_{e-1}|| / max(||W_{e-1}||, 1e-12) over the whole layer; 0 at e = 0
//   final_image_share = share of followed features whose strongest image at e is the one at
//                       the final epoch, inactive (-1) at both included (0 if none is followed)
//   converged_at      = the first epoch (a value of r.epochs, not an index) from which
//                       filter_similarity stays >= convergence_threshold through the final
//                       epoch; -1 if never (only when the threshold is above 1)
//   weight_progress   = 1 - ||W_e - W_final|| / ||W_first - W_final|| (1 throughout if the
//                       weights never moved); progress_converged_at as converged_at
#pragma once

#include <cstddef>
#include <vector>

#include "deconvscope/analysis/results.hpp"
#include "deconvscope/core/tensor.hpp"

namespace ds {

// Cosine similarity of a and b (n values each), accumulated in double, with the zero
// conventions above. Non-finite input gives a non-finite result.
float cosine_similarity(const float* a, const float* b, size_t n);

// The projection similarity above: a and b are (C, H, W) projections, wa and wb the
// receptive-field windows of their activations.
float aligned_cosine(const float* a, const Window& wa, const float* b, const Window& wb, int64_t C, int64_t H,
                     int64_t W);

// filters[l][e]: conv weights (O, I, kh, kw) of analysed layer r.layers[l] at epoch
// r.epochs[e]. Both require r.evolution to be filled (aligned with r.layers, strongest
// [E * F], projections (E, F, C, H, W)) and the weights to keep one shape across epochs.
// They throw ds::Error(internal) naming the layer otherwise (a caller's bug), and leave r unchanged.

// Fills r.jumps (aligned with r.layers); each LayerJumps holds [(E-1) * F] values, row-major.
void compute_jumps(AnalysisResult& r, const std::vector<std::vector<Tensor>>& filters);

// Fills r.convergence (aligned with r.layers); each vector holds [E] values.
void compute_convergence(AnalysisResult& r, const std::vector<std::vector<Tensor>>& filters);

}  // namespace ds
