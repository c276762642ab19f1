// See include/deconvscope/analysis/convergence_measure.hpp.
#include "deconvscope/analysis/convergence_measure.hpp"

#include <algorithm>

namespace ds {

int first_epoch_staying_at_or_above(const std::vector<int>& epochs, const std::vector<float>& v, double threshold) {
  int at = -1;
  // Walk back from the last epoch while the value holds.
  for (size_t e = std::min(epochs.size(), v.size()); e-- > 0;) {
    if (!(double(v[e]) >= threshold)) break;
    at = epochs[e];
  }
  return at;
}

}  // namespace ds
