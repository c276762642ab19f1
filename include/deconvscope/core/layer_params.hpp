// The learnable parameters of one layer in plain layouts: what the model trains, the
// optimizer keeps momentum for, and a snapshot stores.
#pragma once

#include "deconvscope/core/tensor.hpp"

namespace ds {

// Empty tensors for layers without parameters.
struct LayerParams {
  Tensor weights;  // conv (O, I, kh, kw); fc (O, I) with I over the flattened (C, H, W)
  Tensor bias;     // (O)
};

}  // namespace ds
