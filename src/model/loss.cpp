// Softmax cross-entropy, numerically stable (max subtracted), with its gradient.
#include "deconvscope/model/loss.hpp"

#include <algorithm>
#include <cmath>

namespace ds {

LossResult softmax_cross_entropy(const float* logits, const int32_t* labels, int n, int k, float* diff,
                                 int mean_over) {
  LossResult r;
  int valid = 0;
  for (int i = 0; i < n; ++i) valid += labels[i] >= 0;
  if (mean_over > 0) valid = mean_over;
  const float inv_n = valid > 0 ? 1.f / float(valid) : 0.f;
  for (int i = 0; i < n; ++i) {
    const float* z = logits + size_t(i) * k;
    float* d = diff ? diff + size_t(i) * k : nullptr;
    if (labels[i] < 0) {
      if (d) std::fill(d, d + k, 0.f);
      continue;
    }
    const int best = int(std::max_element(z, z + k) - z);
    const float zmax = z[best];
    double sum = 0;
    for (int j = 0; j < k; ++j) sum += std::exp(double(z[j] - zmax));
    const double log_sum = std::log(sum);
    r.loss_sum += log_sum - double(z[labels[i]] - zmax);
    r.correct += best == labels[i];
    if (d)
      for (int j = 0; j < k; ++j)
        d[j] = float(std::exp(double(z[j] - zmax) - log_sum) - (j == labels[i] ? 1.0 : 0.0)) * inv_n;
  }
  return r;
}

}  // namespace ds
