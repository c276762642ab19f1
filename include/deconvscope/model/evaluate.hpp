// Running a network over a dataset in fixed-size batches: the last partial batch is
// padded (label -1, ignored) so one network of one batch size serves every pass.
#pragma once

#include <functional>

#include "deconvscope/core/progress.hpp"
#include "deconvscope/data/dataset.hpp"
#include "deconvscope/model/network.hpp"

namespace ds {

struct EvalResult {
  double loss = 0;      // mean cross-entropy
  double accuracy = 0;  // fraction correct
  int64_t count = 0;
};

// Fills `input` (batch, C, H, W) with images [first, first + n) of d (n <= batch) and
// labels (padding rows: zero image, label -1). No augmentation.
void fill_batch(const Dataset& d, int64_t first, int n, const Normalization& norm, int batch,
                std::vector<float>& input, std::vector<int32_t>& labels);

// Per conv layer in `convs`, how many of images [first, first + count) of `probe` make each
// feature's rectified output positive somewhere: (O) per layer. One rank's share of a
// probe split across an MPI job; the counts of all shares add up to one process's.
std::vector<std::vector<int64_t>> fire_counts(Network& net, const Dataset& probe, const Normalization& norm,
                                              int64_t first, int64_t count, const std::vector<int>& convs,
                                              Progress* bar = nullptr);

// Per conv layer in `convs` (layer indices), the share of the first `total` images of
// `probe` on which each feature's rectified output is positive somewhere: (O) per layer,
// NaN when total is 0. A feature with rate 0 never fired.
std::vector<std::vector<float>> fire_rates(Network& net, const Dataset& probe, const Normalization& norm,
                                           int64_t total, const std::vector<int>& convs, Progress* bar = nullptr);

struct EvalSums {
  double loss_sum = 0;  // summed cross-entropy
  int64_t correct = 0, count = 0;
};
// Sums over images [first, first + count) of d, evaluation mode: one rank's share of a set
// split across an MPI job. `bar` (if any) counts images of the share.
EvalSums evaluate_sums(Network& net, const Dataset& d, const Normalization& norm, int64_t first, int64_t count,
                       Progress* bar = nullptr);

// Loss and accuracy over the first `limit` images of d (0 = all), evaluation mode; `bar`
// (if any) counts images.
// Weights read from a file are input: finite weights of 1e30, or an input_std of 1e-45,
// overflow the network, and that is the file's fault, not a deconvscope bug. Runs the
// first min(count, batch) images of d forward (inference) and throws
// ds::Error(snapshot) naming "<file>: layer <name>" for the first layer, in forward order,
// whose output holds a non-finite value; with `deconvnet`, then the first conv layer whose
// deconvnet projection to pixels does (the analyses project through the same filters
// again). `what` says what was loaded ("its weights", "its weights after the next step").
void check_network_finite(Network& net, const Dataset& d, const Normalization& norm, int64_t count,
                          const std::string& file, const std::string& what = "its weights", bool deconvnet = true);

EvalResult evaluate(Network& net, const Dataset& d, const Normalization& norm, int64_t limit = 0,
                    Progress* bar = nullptr);

}  // namespace ds
