// The Zeiler & Fergus deconvnet applied to a probe set: find each feature's strongest
// activations (a batched forward scan, no backward bookkeeping), then project chosen
// activations back to pixels through the network's own switches, rectification and
// transposed filters (Network::project), many at once.
//
// Conventions an independent implementation must follow to agree with us:
// - the activation of feature f of conv layer L is L's output after its ReLU (the ReLU
//   directly after L; L's raw output if none follows), before pooling or normalisation;
// - an image's best position for a feature is its maximum; on exact ties the first in
//   row-major order (y, then x);
// - top-k ranks images by that best value, descending; exact ties go to the lower image
//   index; each image appears at most once per feature; on a rectified output only images
//   where the feature fired (best value > 0) are ranked, so a feature that fired on fewer
//   than k images has empty ranks (image -1), and one that never fired is all -1;
// - a projection keeps that one value at (f, y, x), zeros elsewhere, and walks down.
#pragma once

#include <vector>

#include "deconvscope/analysis/results.hpp"
#include "deconvscope/core/comm.hpp"
#include "deconvscope/core/progress.hpp"
#include "deconvscope/data/dataset.hpp"
#include "deconvscope/model/network.hpp"

namespace ds {

// Input pixels seen by output position (y, x) of layer `layer`, clipped to the image.
Window receptive_field(const std::vector<LayerSpec>& specs, const InputShape& in, int layer, int y, int x);

struct ScanRequest {
  int conv = 0;  // index of a conv layer
  int k = 9;
};

// For each request, the k strongest activations of every feature over the first
// `count` images of `probe`: result[r] is [features * k], strongest first (image -1,
// value 0 where fewer than k images exist or, on a rectified output, fired). With a group
// `comm` of several ranks (mpirun, core/comm.hpp) every rank must call it: each scans its
// share of the images and the shares' top-k are merged exactly, so every rank returns one
// process's result; `bar` then counts the share's images. comm null: this process alone.
std::vector<std::vector<Activation>> scan_topk(Network& net, const Dataset& probe, const Normalization& norm,
                                               int64_t count, const std::vector<ScanRequest>& requests,
                                               Progress* bar = nullptr, Comm* comm = nullptr);

// Projects activations of conv layer `conv`'s rectified output to pixels: item i is
// feature features[i] at acts[i]. out: (n, C, H, W), network-input units; zeros for
// acts with image -1. Works in batches of net.batch() images.
void project_activations(Network& net, const Dataset& probe, const Normalization& norm, int conv,
                         const std::vector<int32_t>& features, const std::vector<Activation>& acts, float* out);

}  // namespace ds
