// Warnings during training about layers that have stopped learning: gradients that
// vanish against the layer's weights, and conv layers with many dead features (never
// fired on the probe batch). The trainer says them on the console and in train.log;
// docs/reliability.md ("Warnings during training") has the thresholds and why.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "deconvscope/model/network.hpp"
#include "deconvscope/train/sgd.hpp"

namespace ds {

struct LayerWarningThresholds {
  // Gradient RMS / weight RMS at an epoch's last step below this: the layer barely moves.
  // The gaussian 0.01 init of the default network gives about 1e-6 in conv1; a learning
  // layer 1e-3 and more.
  double vanishing_gradient_ratio = 1e-5;
  // Share of a conv layer's features that never fired on the probe batch.
  double dead_fraction = 0.25;
};

// Remembers which layer was warned about, so that a state is said when it starts (and
// again if it comes back after it ended), not at every epoch it lasts.
class LayerWarnings {
 public:
  explicit LayerWarnings(LayerWarningThresholds t = {}) : t_(t) {}
  // stats: per layer (empty at epoch 0, before any step); dead: per layer, the share of
  // dead features (conv layers; others ignored); probe: the probe batch's image count.
  // Returns one line per new warning, naming the epoch and the layer.
  std::vector<std::string> check(const Network& net, int epoch, const std::vector<UpdateStats>& stats,
                                 const std::vector<double>& dead, int64_t probe);

 private:
  LayerWarningThresholds t_;
  std::vector<bool> vanishing_, dead_;
};

// "conv1 0/32, conv2 20/64, ...": dead features per conv layer.
std::string dead_feature_summary(const Network& net, const std::vector<double>& dead);

}  // namespace ds
