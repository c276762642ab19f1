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

// Per conv layer in `convs` (layer indices), the share of the first `total` images of
// `probe` on which each feature's rectified output is positive somewhere: (O) per layer,
// NaN when total is 0. A feature with rate 0 never fired.
std::vector<std::vector<float>> fire_rates(Network& net, const Dataset& probe, const Normalization& norm,
                                           int64_t total, const std::vector<int>& convs, Progress* bar = nullptr);

// Loss and accuracy over the first `limit` images of d (0 = all), evaluation mode; `bar`
// (if any) counts images.
EvalResult evaluate(Network& net, const Dataset& d, const Normalization& norm, int64_t limit = 0,
                    Progress* bar = nullptr);

}  // namespace ds
