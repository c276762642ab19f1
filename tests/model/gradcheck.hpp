// One finite-difference gradient checker for every layer test (Caffe's
// test_gradient_check_util idea): the loss is the mean softmax cross-entropy of the
// network's logits; the analytic gradients are what Network::backward() leaves in each
// layer's grads() (and the input gradient, see below); the numeric ones are central
// differences (L(p + eps) - L(p - eps)) / 2 eps on a random sample of entries.
//
// Every forward is Mode::train after set_step(options.step), so dropout draws the same
// mask each time. ReLU and max pool have kinks; random continuous data and a small eps
// make crossing one unlikely; an entry whose one-sided differences disagree (a kink
// within +-eps) is skipped and counted, not failed.
//
// The input gradient: Network::backward() does not compute the gradient of layer 0's
// input (nobody below needs it). A network whose layer 0 is a dropout with rate 0 (the
// identity, whose backward passes diff_dst through) exposes it as layer(0).diff_src(),
// the gradient of layer 1's input; check_input = true reads it there.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "deconvscope/core/tensor.hpp"
#include "deconvscope/model/network.hpp"

namespace ds::gradcheck {

struct Options {
  float eps = 1e-3f;
  float rtol = 2e-2f;        // |analytic - numeric| <= max(atol, rtol * max(|analytic|, |numeric|))
  float atol = 2e-4f;        // absolute floor: float noise of the loss divided by 2 eps
  int samples = 30;          // entries per tensor (all of them when the tensor is smaller)
  uint64_t step = 1;         // dropout step for every forward
  unsigned seed = 1;         // which entries are sampled
  bool check_input = false;  // requires layer 0 = dropout with rate 0 (see above)
};

struct Result {
  int checked = 0;
  int skipped = 0;                    // a kink within +-eps: one-sided differences disagree
  std::vector<std::string> failures;  // "layer conv1 weights[17]: analytic 0.1, numeric 0.2"
  double worst_ratio = 0;             // max |a - n| / tolerance over all checked entries
  // No failure, something checked, and at most one entry skipped per five checked (more
  // would mean the check saw too little to be worth anything).
  bool ok() const;
  std::string summary() const;        // counts, worst ratio, the first failures
};

// The mean softmax cross-entropy of one Mode::train forward at options.step, in double.
double loss_at(Network& net, const Tensor& input, const std::vector<int32_t>& labels, uint64_t step);

// Runs forward + backward once, then compares the gradients of every layer with
// parameters (weights and bias) and, if asked, of the input. Leaves the network's
// parameters as it found them.
Result check(Network& net, const Tensor& input, const std::vector<int32_t>& labels, const Options& options);

}  // namespace ds::gradcheck
