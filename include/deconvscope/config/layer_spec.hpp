// What one layer of the network is, as read from a config line such as
//   layer = conv1 conv out=32 kernel=5 stride=1 pad=2
// and as stored in a snapshot's /layers/<name> group. Plain data; the oneDNN
// primitives that run it live in model/network.hpp.
#pragma once

#include <array>
#include <string>
#include <vector>

namespace ds {

enum class LayerType { conv, relu, maxpool, lrn, fc, dropout };

// "conv", "relu", ... as in configs and snapshots.
const char* layer_type_name(LayerType t);
// Throws ds::Error(config) naming `where` if `s` is not a layer type.
LayerType parse_layer_type(const std::string& s, const std::string& where);

// How a conv layer computes its three passes (forward, backward data, which is also the
// deconvnet's filter step, and backward weights). Winograd (F(4x4, 3x3)) needs 3x3
// stride-1 filters and a CPU oneDNN has a kernel for (avx512_core in oneDNN 2.6); where
// it has none, a layer falls back to direct. `automatic` times both on the layer's own
// shapes when the network is built and keeps the faster, pass by pass.
enum class ConvAlgorithm { automatic, direct, winograd };
// The compute precision: bf16 = bfloat16 activations, weights and data gradients inside
// the network, with f32 master weights, weight gradients, input, logits and everything
// that leaves the network (oneDNN's mixed precision recipe).
enum class Precision { f32, bf16 };

const char* conv_algorithm_name(ConvAlgorithm a);  // "auto" | "direct" | "winograd"
const char* precision_name(Precision p);           // "f32" | "bf16"

// One conv layer's algorithm for each pass, as `auto` resolved it when the run started:
// written to the run's config.cfg (model.conv_algorithms), so that a resume, and the
// analyses of the run, compute exactly as the first start did instead of timing again.
struct ResolvedConv {
  std::string layer;
  ConvAlgorithm forward = ConvAlgorithm::direct, backward_data = ConvAlgorithm::direct,
                backward_weights = ConvAlgorithm::direct;
};
// "conv1=direct,conv3=winograd/winograd/direct": one entry per layer, a single algorithm
// when the three passes agree, else forward/backward_data/backward_weights.
std::string format_resolved_convs(const std::vector<ResolvedConv>& convs);
// Reads that text back (empty = none); throws ds::Error(config) naming `where` and the entry.
std::vector<ResolvedConv> parse_resolved_convs(const std::string& text, const std::string& where);

struct LayerSpec {
  std::string name;
  LayerType type = LayerType::relu;
  int out = 0;                      // conv: out_channels; fc: out_features
  std::array<int, 2> kernel{1, 1};  // conv, maxpool: (height, width)
  std::array<int, 2> stride{1, 1};
  std::array<int, 2> pad{0, 0};     // symmetric padding
  int size = 5;                     // lrn: channels in the window
  float alpha = 1e-4f;              // lrn: dst = src / (k + alpha/size * sum src^2)^beta
  float beta = 0.75f;
  float k = 2.f;
  float rate = 0.5f;                // dropout: probability of dropping

  bool has_params() const { return type == LayerType::conv || type == LayerType::fc; }
};

struct InputShape {
  int channels = 1;
  int height = 28;
  int width = 28;
};

// Shape (C, H, W) of every layer's output, in order; throws ds::Error(shape) naming the
// layer when a layer leaves no output or is placed where it cannot be (conv after fc).
struct LayerShape {
  int channels = 0, height = 0, width = 0;  // fc: channels = features, height = width = 1
};
std::vector<LayerShape> infer_shapes(const std::vector<LayerSpec>& layers, const InputShape& in);

}  // namespace ds
