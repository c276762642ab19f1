// Spearman's rank correlation by the textbook, for tests of the sanity baseline:
// rank_i = 1 + #{j: v_j < v_i} + (#{j: v_j == v_i} - 1) / 2 (ties share their average
// rank), then Pearson's r of the two rank vectors about their own means. O(n^2) on
// purpose: nothing shared with src/analysis/sanity_baseline.cpp.
#pragma once

#include <cmath>
#include <cstddef>
#include <vector>

namespace ds::testutil {

inline double naive_spearman(const std::vector<float>& a, const std::vector<float>& b) {
  const size_t n = a.size();
  auto ranks = [n](const std::vector<float>& v) {
    std::vector<double> r(n);
    for (size_t i = 0; i < n; ++i) {
      double below = 0, equal = 0;
      for (size_t j = 0; j < n; ++j) {
        if (v[j] < v[i]) ++below;
        if (v[j] == v[i]) ++equal;
      }
      r[i] = 1 + below + (equal - 1) / 2;
    }
    return r;
  };
  const std::vector<double> ra = ranks(a), rb = ranks(b);
  double ma = 0, mb = 0;
  for (size_t i = 0; i < n; ++i) ma += ra[i] / double(n), mb += rb[i] / double(n);
  double sab = 0, saa = 0, sbb = 0;
  for (size_t i = 0; i < n; ++i) {
    sab += (ra[i] - ma) * (rb[i] - mb);
    saa += (ra[i] - ma) * (ra[i] - ma);
    sbb += (rb[i] - mb) * (rb[i] - mb);
  }
  return sab / std::sqrt(saa * sbb);  // NaN (0/0) for a constant input
}

}  // namespace ds::testutil
