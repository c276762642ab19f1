// Warnings about layers that stopped learning; see include/deconvscope/train/layer_warnings.hpp.
#include "deconvscope/train/layer_warnings.hpp"

#include <cmath>
#include <cstdio>

namespace ds {

std::vector<std::string> LayerWarnings::check(const Network& net, int epoch, const std::vector<UpdateStats>& stats,
                                              const std::vector<double>& dead, int64_t probe) {
  std::vector<std::string> out;
  vanishing_.resize(net.size(), false);
  dead_.resize(net.size(), false);
  char buf[512];
  for (size_t i = 0; i < net.size(); ++i) {
    const LayerSpec& spec = net.specs()[i];
    if (!spec.has_params()) continue;
    if (i < stats.size() && stats[i].weight_rms > 0) {
      const double ratio = stats[i].grad_rms / stats[i].weight_rms;
      const bool vanishing = ratio < t_.vanishing_gradient_ratio;
      if (vanishing && !vanishing_[i]) {
        std::snprintf(buf, sizeof buf,
                      "epoch %d: %s's gradients vanish: gradient RMS %.3g is %.2g of its weight RMS %.3g "
                      "(warning below %.0e), so it barely learns (train.init = he or a higher train.lr may help)",
                      epoch, spec.name.c_str(), stats[i].grad_rms, ratio, stats[i].weight_rms,
                      t_.vanishing_gradient_ratio);
        out.push_back(buf);
      }
      vanishing_[i] = vanishing;
    }
    if (spec.type == LayerType::conv && i < dead.size()) {
      const bool over = dead[i] >= t_.dead_fraction;
      if (over && !dead_[i]) {
        const int C = net.shapes()[i].channels;
        std::snprintf(buf, sizeof buf,
                      "epoch %d: %s has %lld of %d features dead (%.0f%%; warning at %.0f%%): they never fired on "
                      "the %lld-image probe batch and no longer learn (a lower train.lr may help; deconvscope health "
                      "tells more)",
                      epoch, spec.name.c_str(), (long long)std::llround(dead[i] * C), C, 100 * dead[i],
                      100 * t_.dead_fraction, (long long)probe);
        out.push_back(buf);
      }
      dead_[i] = over;
    }
  }
  return out;
}

std::string dead_feature_summary(const Network& net, const std::vector<double>& dead) {
  std::string s;
  for (size_t i = 0; i < net.size() && i < dead.size(); ++i) {
    if (net.specs()[i].type != LayerType::conv) continue;
    const int C = net.shapes()[i].channels;
    s += (s.empty() ? "" : ", ") + net.specs()[i].name + " " + std::to_string(std::llround(dead[i] * C)) + "/" +
         std::to_string(C);
  }
  return s;
}

}  // namespace ds
