// A naive reference of every layer and of the deconvnet, written with plain loops
// straight from the definitions (not from src/model), on plain Tensors: activations
// (N, C, H, W) or (N, C), conv weights (O, I, kh, kw), fc weights (O, I) with I over the
// flattened (C, H, W), biases (O). Slow on purpose; only for tests on tiny shapes.
// Leaves out: anything oneDNN-specific (layouts, workspaces), dropout in training
// (its mask is tested by its properties, not by a reference).
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <vector>

#include "deconvscope/config/layer_spec.hpp"
#include "deconvscope/core/tensor.hpp"
#include "deconvscope/io/snapshot.hpp"

namespace ds::naive {

using Pair = std::array<int, 2>;  // (height, width)

// Output size of a window of `kernel` with `stride` over `in` padded by `pad` each side.
int window_out(int in, int kernel, int stride, int pad);

// --- convolution (cross-correlation, as in every CNN library) -----------------------
// dst[n][o][y][x] = b[o] + sum_{c,i,j} src[n][c][y*s+i-p][x*s+j-p] * w[o][c][i][j],
// with src = 0 outside the image. bias may be empty (no bias).
Tensor conv_forward(const Tensor& src, const Tensor& w, const Tensor& bias, Pair stride, Pair pad);
// d loss / d src: every dst position scatters diff_dst * w back over its window (the
// "transposed filter" of the deconvnet). src_dims: (N, C, H, W).
Tensor conv_backward_data(const Tensor& diff_dst, const Tensor& w, const std::vector<int64_t>& src_dims,
                          Pair stride, Pair pad);
// d loss / d w and d loss / d b.
void conv_backward_weights(const Tensor& src, const Tensor& diff_dst, const std::vector<int64_t>& w_dims,
                           Pair stride, Pair pad, Tensor& diff_w, Tensor& diff_b);

// --- relu ----------------------------------------------------------------------------
Tensor relu_forward(const Tensor& src);
// diff_src = diff_dst where src > 0, else 0.
Tensor relu_backward(const Tensor& src, const Tensor& diff_dst);

// --- max pooling -----------------------------------------------------------------------
// Padded cells never win (they are -inf). switches[k] is the flat index into src of the
// maximum of dst element k; the first maximum in row-major window order wins ties.
struct PoolResult {
  Tensor dst;
  std::vector<int64_t> switches;
};
PoolResult maxpool_forward(const Tensor& src, Pair kernel, Pair stride, Pair pad);
// diff_src[switch[k]] += diff_dst[k]: windows that share a switch add up. This is also
// the deconvnet's "unpool".
Tensor maxpool_backward(const Tensor& diff_dst, const std::vector<int64_t>& switches,
                        const std::vector<int64_t>& src_dims);

// --- local response normalisation across channels -------------------------------------
// dst[c] = src[c] / (k + alpha/size * sum_{c' in [c - (size-1)/2, c + size/2]} src[c']^2)^beta,
// the window clipped to the existing channels.
Tensor lrn_forward(const Tensor& src, int size, float alpha, float beta, float k);
// With D_c the denominator base above and W(c) its window:
//   diff_src[j] = diff_dst[j] * D_j^-beta
//               - 2 beta alpha/size * src[j] * sum_{c : j in W(c)} diff_dst[c] * src[c] * D_c^(-beta-1)
Tensor lrn_backward(const Tensor& src, const Tensor& diff_dst, int size, float alpha, float beta, float k);

// --- fully connected ------------------------------------------------------------------
// dst[n][o] = b[o] + sum_i w[o][i] * src[n][i], src flattened to (N, I).
Tensor fc_forward(const Tensor& src, const Tensor& w, const Tensor& bias);
// diff_src has src's dims.
void fc_backward(const Tensor& src, const Tensor& w, const Tensor& diff_dst, Tensor& diff_src, Tensor& diff_w,
                 Tensor& diff_b);

// --- loss -----------------------------------------------------------------------------
// Mean over rows with label >= 0 of -log softmax(logits)[label], in double. If diff is
// given it gets (softmax - onehot) / valid rows, zero on ignored rows. Returns 0 when no
// row is valid.
double softmax_cross_entropy(const Tensor& logits, const std::vector<int32_t>& labels, Tensor* diff = nullptr);

// --- a whole network --------------------------------------------------------------------
// Evaluation forward (dropout is the identity) recording every layer's output and every
// pooling layer's switches (empty for the other layers).
struct Trace {
  std::vector<Tensor> outputs;                 // outputs[i]: output of layer i
  std::vector<std::vector<int64_t>> switches;  // switches[i]: maxpool layers only
};
// Where a reduced-precision network stores a tensor, so a test can round it there (the
// bf16 emulation of tests/train/precision_test.cpp): a conv or fc layer's src and weights,
// a layer's output, the gradient a layer receives from above.
enum class Stored { src, weights, output, diff };
using Rounding = std::function<void(Tensor&, Stored, const LayerSpec&)>;

// With `round`, every stored tensor goes through it (the arithmetic stays float/double).
Trace forward(const std::vector<LayerSpec>& specs, const std::vector<LayerParams>& params, const Tensor& input,
              const Rounding& round = {});

// Backward through the whole network from d loss / d logits, with the evaluation
// forward's semantics (dropout is the identity): the gradient of every layer with
// parameters (empty LayerParams elsewhere) and of the input.
struct Gradients {
  std::vector<LayerParams> params;
  Tensor input;
};
// With `round`, as forward; `diffs`, if given, gets d loss / d (output of layer i) for
// every i, as each layer received it (before rounding).
Gradients backward(const std::vector<LayerSpec>& specs, const std::vector<LayerParams>& params,
                   const Trace& trace, const Tensor& input, const Tensor& diff_logits, const Rounding& round = {},
                   std::vector<Tensor>* diffs = nullptr);

// The Zeiler & Fergus deconvnet: `signal` has the dims of trace.outputs[top]; walking
// from layer `top` down to layer 0: relu -> rectify (max(0, x) of the signal itself),
// conv -> transposed filter (conv_backward_data, no bias), maxpool -> unpool with this
// trace's switches, lrn and dropout -> identity. Returns pixels with the input's dims.
Tensor deconvnet(const std::vector<LayerSpec>& specs, const std::vector<LayerParams>& params,
                 const Trace& trace, const Tensor& input, int top, const Tensor& signal);

}  // namespace ds::naive
