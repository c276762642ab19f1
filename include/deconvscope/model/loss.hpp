// Softmax cross-entropy over the logits of the last fc layer.
#pragma once

#include <cstdint>

namespace ds {

struct LossResult {
  double loss_sum = 0;  // sum over the batch of -log p(label)
  int correct = 0;      // argmax == label
};

// logits, diff: (n, k) plain. diff = (softmax - onehot) / n (the gradient of the mean
// loss); pass diff = nullptr for evaluation only. Rows with label < 0 are ignored
// (padding of a last partial batch) and count neither in loss nor in n. mean_over > 0
// divides by it instead of n: a rank's slice of a global batch divides by the global batch.
LossResult softmax_cross_entropy(const float* logits, const int32_t* labels, int n, int k, float* diff,
                                 int mean_over = 0);

}  // namespace ds
