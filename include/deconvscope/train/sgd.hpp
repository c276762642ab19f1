// SGD with momentum and weight decay, the paper's filter renormalisation, weight
// initialisation and the learning-rate schedule. All on the plain parameter copies.
#pragma once

#include <random>
#include <vector>

#include "deconvscope/config/config.hpp"
#include "deconvscope/io/snapshot.hpp"

namespace ds {

class Network;

// Gaussian (std cfg.init_std) or He (std sqrt(2 / fan_in)) weights, zero biases, drawn
// from rng in layer order.
void init_params(Network& net, const TrainConfig& cfg, std::mt19937_64& rng);

struct UpdateStats {
  double weight_rms = 0, grad_rms = 0, update_rms = 0;  // over weights (not bias)
};

// One step on every layer with parameters, PyTorch's form:
//   v = momentum * v + (g + weight_decay * w)   (decay on weights, not biases)
//   w = w - lr * v
// momentum is resized (zero) on first use. If stats is non-null it receives, per
// layer, the RMS of weights, gradients and of the update lr * v.
void sgd_step(Network& net, std::vector<LayerParams>& momentum, float lr, float momentum_factor,
              float weight_decay, std::vector<UpdateStats>* stats);

// Zeiler & Fergus renormalisation: each conv filter whose RMS exceeds radius is scaled
// back to it. Returns the number of filters scaled. radius <= 0 does nothing.
int renormalize_filters(Network& net, float radius);

// Learning rate for `epoch` (1-based) under the step schedule, or the plateau
// schedule's update after an epoch's validation loss.
float step_schedule_lr(const TrainConfig& cfg, int epoch);
void plateau_update(const TrainConfig& cfg, float val_loss, OptimizerState& state);

double rms(const std::vector<float>& v);

}  // namespace ds
