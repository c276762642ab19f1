// See include/deconvscope/analysis/pooled_features.hpp.
#include "deconvscope/analysis/pooled_features.hpp"

#include <algorithm>

namespace ds {

int64_t pooled_dim(int C, int H, int W, int grid) {
  return int64_t(C) * pooled_cells(H, grid) * pooled_cells(W, grid);
}

void pool_features(const float* act, int n, int C, int H, int W, int grid, float* out) {
  const int gh = pooled_cells(H, grid), gw = pooled_cells(W, grid);
  // Cell bounds along each side, computed once: [lo, hi).
  std::vector<int> ylo(static_cast<size_t>(gh)), yhi(ylo), xlo(static_cast<size_t>(gw)), xhi(xlo);
  for (int i = 0; i < gh; ++i) ylo[size_t(i)] = i * H / gh, yhi[size_t(i)] = ((i + 1) * H + gh - 1) / gh;
  for (int j = 0; j < gw; ++j) xlo[size_t(j)] = j * W / gw, xhi[size_t(j)] = ((j + 1) * W + gw - 1) / gw;
  const size_t plane = size_t(H) * size_t(W);
  for (int s = 0; s < n; ++s)
    for (int c = 0; c < C; ++c) {
      const float* a = act + (size_t(s) * size_t(C) + size_t(c)) * plane;  // (H, W)
      float* o = out + (size_t(s) * size_t(C) + size_t(c)) * size_t(gh) * size_t(gw);
      for (int i = 0; i < gh; ++i)
        for (int j = 0; j < gw; ++j) {
          double sum = 0;
          for (int y = ylo[size_t(i)]; y < yhi[size_t(i)]; ++y)
            for (int x = xlo[size_t(j)]; x < xhi[size_t(j)]; ++x) sum += a[size_t(y) * size_t(W) + size_t(x)];
          const int cells = (yhi[size_t(i)] - ylo[size_t(i)]) * (xhi[size_t(j)] - xlo[size_t(j)]);
          o[size_t(i) * size_t(gw) + size_t(j)] = float(sum / cells);
        }
    }
}

std::vector<int> conv_and_hidden_fc_layers(const Run& run, const std::vector<std::string>& names,
                                           const std::string& key) {
  const std::vector<LayerSpec>& specs = run.layers();
  std::vector<int> out;
  if (names.empty()) {
    for (size_t i = 0; i < specs.size(); ++i)
      if (specs[i].type == LayerType::conv || (specs[i].type == LayerType::fc && i + 1 < specs.size()))
        out.push_back(int(i));
    // The last layer is fc (checked when the config is read): only a later fc is hidden.
    while (!out.empty() && size_t(out.back()) == specs.size() - 1) out.pop_back();
    return out;
  }
  out = run.layer_indices(names, key, LayerKinds::conv_or_fc);
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace ds
