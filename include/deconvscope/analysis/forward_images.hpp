// Running many independent images through one snapshot's network, batch by batch: the
// transformed images of the invariance sweeps, the occluded images of the occlusion maps,
// the probe images of the linear probes. The images are already in network-input units
// (normalised), as the deconvnet's projections are.
#pragma once

#include <cstdint>
#include <functional>

#include "deconvscope/model/network.hpp"

namespace ds {

// Runs images (count, C, H, W) plain, network-input units, through net in batches of
// net.batch() (the last one padded with zeros), Mode::infer, up to layer `last` (all when
// last < 0). After each batch calls on_batch(first, n): net.logits() (after a full pass)
// and net.read_output() hold the batch, its rows 0..n-1 being images first..first+n-1.
void forward_images(Network& net, const float* images, int64_t count, int last,
                    const std::function<void(int64_t first, int n)>& on_batch);

// Row-wise softmax of logits (n, classes): probabilities (n, classes) and, if given, the
// most probable class of each row (the first one on ties).
void softmax_rows(const float* logits, int n, int classes, float* probabilities, int32_t* predicted = nullptr);

}  // namespace ds
