// A sanity baseline for every evolution picture (Adebayo et al., "Sanity Checks for
// Saliency Maps", NeurIPS 2018): how much of a stored deconvnet projection the network's
// architecture alone (its switches and rectification) would have drawn with the run's
// first weights. For each followed feature f at analysed epoch e, the same image is
// forwarded through the first snapshot's network for that network's own switches, and a
// unit signal (1.0) at the same feature and position is projected down. The figure is the
// Spearman rank correlation between |stored projection| and |baseline projection| over
// the stored receptive-field window (all channels).
//
// Definitions (also in docs/analysis-format.md, for an independent implementation):
// - spearman(a, b): the Pearson correlation of the ranks of a and of b, each value ranked
//   1..n in ascending order with tied values sharing the average of their ranks; NaN when
//   n < 2 or either a or b is constant (all its values tied);
// - init_rank_correlation[e, f] = spearman(|P_e|, |B_e|) over the values (c, y, x) of the
//   window windows[e, f], c < C, y0 <= y < y1, x0 <= x < x1 (n = C (y1-y0) (x1-x0)), with
//   P_e the stored projection and B_e the baseline; NaN where the feature is inactive
//   (image -1); exactly 1 at the first analysed epoch (e = 0) where it is active, since
//   there the two networks are the same;
// - the per-layer summary at epoch e is the median of the finite values over the followed
//   features (the mean of the two middle ones for an even count); NaN if there is none.
// Left out: baselines with other weights than the first snapshot's (e.g. a re-randomised
// network per layer, Adebayo's cascading test).
#pragma once

#include <cstddef>
#include <vector>

#include "deconvscope/analysis/results.hpp"
#include "deconvscope/core/comm.hpp"
#include "deconvscope/data/dataset.hpp"
#include "deconvscope/model/network.hpp"

namespace ds {

// Ranks of v (1-based, ascending), tied values sharing the average of their ranks.
std::vector<double> average_ranks(const std::vector<float>& v);

// The rank correlation above, accumulated in double. Non-finite input gives NaN.
double spearman(const std::vector<float>& a, const std::vector<float>& b);

// spearman(|p|, |q|) over window w of two (C, H, W) arrays; the window is clipped to the
// array (a stored window always lies inside it).
float window_rank_correlation(const float* p, const float* q, const Window& w, int64_t C, int64_t H, int64_t W);

// Median of the finite values of v (mean of the two middle ones for an even count); NaN
// when v has none.
float median_of_finite(std::vector<float> v);

// Fills r.evolution[l].init_rank_correlation ([E * F]) and the per-layer medians
// r.convergence[l].init_rank_correlation ([E]) of every analysed layer. first_net holds
// the weights of the run's first snapshot (the one of r.epochs[0]) and norm its input
// normalisation; convs[l] is the conv layer of r.layers[l]; probe the images r indexes.
// Requires r.evolution (strongest, windows, projections) and r.convergence filled.
// Epoch e is computed when `todo` is empty or todo[e]; the other epochs keep the values
// r.evolution[l].init_rank_correlation already holds (it must then be sized [E * F]).
// With a group `comm` of several ranks (mpirun) every rank must call it: each projects a
// share (in whole batches) of the activations and the figures are summed across ranks, so
// every rank holds one process's result; comm null: this process alone. progress: a bar
// on stderr counting the activations projected.
void compute_init_rank_correlation(Network& first_net, const Dataset& probe, const Normalization& norm,
                                   const std::vector<int>& convs, AnalysisResult& r,
                                   const std::vector<bool>& todo = {}, bool progress = false, Comm* comm = nullptr);

// The per-layer medians of r.evolution[l].init_rank_correlation into
// r.convergence[l].init_rank_correlation (empty where the evolution's is).
void summarise_init_rank_correlation(AnalysisResult& r);

}  // namespace ds
