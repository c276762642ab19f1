// A ZFNet-like network on oneDNN, built from a list of LayerSpec for a fixed batch
// size: forward (train / deconv / infer), backward with parameter gradients, and the
// Zeiler & Fergus deconvnet from any layer's output down to pixels. The softmax
// cross-entropy after the last fc is in model/loss.hpp.
//
// Buffers and primitives are created once in the constructor; a step allocates nothing.
// Everything that crosses the network's boundary is plain (nchw, nc, oihw, oi).
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "deconvscope/model/layer.hpp"

namespace ds {

// The layer whose output is conv layer `conv`'s rectified output: the ReLU directly
// after it, or the conv itself when none follows. "The activation of a feature" and
// "a feature that fired" are read there.
int rectified_output_layer(const std::vector<LayerSpec>& specs, int conv);

// How the network computes; the defaults are the exact float32 direct convolution, as
// the config's (model.conv_algorithm = direct, train.precision = f32).
struct NetworkOptions {
  ConvAlgorithm conv_algorithm = ConvAlgorithm::direct;
  Precision precision = Precision::f32;
  // Fixed choices for the listed conv layers (a run's model.conv_algorithms), taken over
  // conv_algorithm; a listed winograd that oneDNN cannot build here is a config error.
  std::vector<ResolvedConv> resolved_convs;
};

// Whether this CPU runs oneDNN's bf16 kernels natively (AVX512_BF16 or later); without it
// oneDNN 2.6 has either no bf16 kernels at all (AVX2) or only slow emulation (AVX-512).
bool cpu_has_bf16();
// The instruction set oneDNN uses on this CPU, e.g. "avx2", "avx512_core_bf16".
std::string cpu_isa_name();

class Network {
 public:
  // Throws ds::Error(shape) naming the layer when shapes do not fit, or when oneDNN cannot
  // create a layer's primitives (with its message and status), ds::Error(config) when the
  // last layer is not fc or precision is bf16 on a CPU without cpu_has_bf16(), and
  // ds::Error(internal) when a layer's dst disagrees with infer_shapes (a bug).
  Network(const std::vector<LayerSpec>& specs, const InputShape& input, int batch, uint64_t seed = 0,
          const NetworkOptions& options = {});

  int batch() const { return batch_; }
  const NetworkOptions& options() const { return options_; }
  const InputShape& input() const { return input_; }
  int num_classes() const { return shapes_.back().channels; }
  size_t size() const { return layers_.size(); }
  Layer& layer(size_t i) { return *layers_[i]; }
  const Layer& layer(size_t i) const { return *layers_[i]; }
  const std::vector<LayerSpec>& specs() const { return specs_; }
  const std::vector<LayerShape>& shapes() const { return shapes_; }  // output of each layer
  int find(const std::string& name) const;  // layer index, -1 if none

  // input: (N, C, H, W) plain, N = batch(). Runs layers 0..last (all when last < 0).
  void forward(const float* input, Mode mode, int last = -1);
  // (N, classes) plain, valid after a full forward.
  const float* logits() const;
  // diff_logits: (N, classes) plain. Fills every layer's grads(). Requires the preceding
  // forward(train) of the same batch (dropout reuses its masks). on_grads (if any) is
  // called with layer i as soon as layer i's grads() are final, top layer first, while
  // the layers below are still to run (data-parallel training starts their sums there).
  void backward(const float* diff_logits, const std::function<void(size_t)>& on_grads = {});
  // Dropout masks are drawn from (seed, step): set before forward(train).
  void set_step(uint64_t step) { ctx_.step = step; }
  // The batch is images [first, first + batch()) of a global batch split across ranks:
  // dropout masks are then those one process would draw for these images (0: whole batch).
  void set_image_offset(uint64_t first) { ctx_.image_offset = first; }

  // Output of layer i, reordered to plain (N, C, H, W) (or (N, C) for fc).
  void read_output(int i, Tensor& out);
  // Per image b < n and channel c of layer i's 4-d output, read where oneDNN left it
  // (plain, or channels blocked by 8/16; no reorder, as this runs over whole probe sets):
  // the largest value, best[b * C + c], and its first position in row-major order,
  // where[b * C + c] = y * W + x. ds::Error(internal) for a layout it does not know.
  void channel_maxima(int i, int n, float* best, int32_t* where) const;
  // The deconvnet: signal is plain (N, C, H, W) at the output of layer `top` (usually
  // a ReLU, "the rectified output of a conv layer"); walks down to pixels and writes
  // the reconstruction, plain (N, C, H, W) in network-input units, to `out`. Requires
  // forward(mode = deconv or train) of the same images up to at least `top`.
  void project(int top, const float* signal, float* out);

  // Plain parameter copies, aligned with layers (empty for layers without params).
  std::vector<LayerParams> export_params() const;
  // Throws ds::Error(shape) naming the layer if a shape differs.
  void import_params(const std::vector<LayerParams>& params);
  // Must be called after params() of any layer changed.
  void sync_params();
  // Each conv layer's algorithm per pass as built (what `auto` chose), in layer order.
  std::vector<ResolvedConv> resolved_convs() const;

  // Per-layer timing (waits for each layer, so only for `bench --profile`).
  struct LayerTime {
    double forward = 0, backward = 0, deconv = 0;  // seconds, summed
    int64_t calls = 0;                             // forward calls
  };
  void set_profiling(bool on);
  const std::vector<LayerTime>& layer_times() const { return times_; }

 private:
  const dnnl::memory& src_of(size_t i) const { return i == 0 ? input_mem_ : layers_[i - 1]->dst(); }
  // A dnnl::error from running layer i's `pass`, as ds::Error(internal) naming the layer.
  Error run_error(size_t i, const dnnl::error& e, const std::string& pass) const;

  std::vector<LayerSpec> specs_;
  std::vector<LayerShape> shapes_;
  InputShape input_;
  int batch_;
  NetworkOptions options_;
  Ctx ctx_;
  std::vector<std::unique_ptr<Layer>> layers_;
  dnnl::memory input_mem_, diff_logits_mem_, signal_mem_;
  dnnl::memory::desc input_md_;
  bool profiling_ = false;
  std::vector<LayerTime> times_;
};

}  // namespace ds
