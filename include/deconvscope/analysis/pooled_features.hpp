// What the analyses of a layer's pooled features share (the linear probes and the
// representation similarity): which layers they read by default, and the adaptive
// average pooling of a conv layer's output to at most grid x grid cells per channel.
// Left out: reading the features (analysis/forward_images.hpp) and what each analysis
// computes from them.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "deconvscope/analysis/run.hpp"

namespace ds {

// Cells per side of the adaptive average pooling of a side of `size` to at most `grid`.
inline int pooled_cells(int size, int grid) { return size < grid ? size : grid; }
// Length of one image's pooled features: C * pooled_cells(H) * pooled_cells(W).
int64_t pooled_dim(int C, int H, int W, int grid);

// Adaptive average pooling of n images (n, C, H, W) plain to (n, C, gh, gw), gh =
// pooled_cells(H, grid): cell i of a side of `size` averages positions
// [floor(i * size / g), ceil((i + 1) * size / g)), so the cells cover every position and
// overlap by at most one when g does not divide size. out: (n, pooled_dim) row-major.
void pool_features(const float* act, int n, int C, int H, int W, int grid, float* out);

// The layers `names` lists, or every conv and hidden fc layer when empty, as layer
// indices in forward order; ds::Error(config) naming `key` for an unknown layer or one
// that is neither conv nor fc (Run::layer_indices).
std::vector<int> conv_and_hidden_fc_layers(const Run& run, const std::vector<std::string>& names,
                                           const std::string& key);

}  // namespace ds
