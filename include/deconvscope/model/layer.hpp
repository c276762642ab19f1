// The interface every layer of the network meets (dlib's layers_abstract.h idea): what
// it requires of its caller and what it guarantees. One implementation per file in
// src/model/ (conv.cpp, relu.cpp, maxpool.cpp, lrn.cpp, fc.cpp, dropout.cpp).
//
// Layouts: a layer receives its input in whatever layout the layer below produced
// (oneDNN's blocked layouts inside the network) and produces its output in a layout of
// its choosing; convolution and inner product let oneDNN choose (format_tag::any).
// Parameters are kept in plain layouts (oihw / oi / x) as the master copy that the
// optimizer, snapshots and renormalisation see; a layer reorders them into its
// primitives' layouts in sync_params(), once per update, never per image.
#pragma once

#include <memory>
#include <string>

#include <dnnl.hpp>

#include "deconvscope/config/layer_spec.hpp"
#include "deconvscope/core/error.hpp"
#include "deconvscope/core/layer_params.hpp"
#include "deconvscope/core/tensor.hpp"

namespace ds {

enum class Mode {
  train,     // dropout on; pooling and LRN keep their workspaces for backward
  deconv,    // evaluation values (dropout off) but keep pooling switches for the deconvnet
  infer,     // evaluation, nothing kept for backward
};

struct Ctx {
  dnnl::engine eng;
  dnnl::stream strm;
  uint64_t seed = 0;   // for dropout masks
  uint64_t step = 0;   // dropout masks are a pure function of (seed, step, layer, index)
  // Place of this batch's first image in the global batch (a rank's slice under MPI), so
  // that the index of a dropout mask element is its index in the global batch.
  uint64_t image_offset = 0;
  ConvAlgorithm conv_algorithm = ConvAlgorithm::direct;
  const std::vector<ResolvedConv>* resolved_convs = nullptr;  // per-layer choices over conv_algorithm
  // Data type of activations and weights in the compute (f32, or bf16 for Precision::bf16).
  dnnl::memory::data_type dt = dnnl::memory::data_type::f32;
};

class Layer {
 public:
  explicit Layer(LayerSpec spec) : spec_(std::move(spec)) {}
  virtual ~Layer() = default;
  Layer(const Layer&) = delete;
  Layer& operator=(const Layer&) = delete;

  const LayerSpec& spec() const { return spec_; }
  const std::string& name() const { return spec_.name; }

  // Requires: src_md is the full (N, C, H, W) or (N, C) descriptor of the input, out is
  // this layer's output shape per image. Creates every primitive and buffer this layer
  // needs (allocation happens here, once). Returns the descriptor of dst.
  virtual dnnl::memory::desc init(Ctx& ctx, const dnnl::memory::desc& src_md, const LayerShape& out) = 0;
  // init(), with a dnnl::error from creating the primitives rethrown as ds::Error(shape)
  // naming this layer, its type, src and dst dims and oneDNN's message and status
  // (layer_dnnl_error). What Network calls; oneDNN's own message names no layer.
  dnnl::memory::desc build(Ctx& ctx, const dnnl::memory::desc& src_md, const LayerShape& out);

  // Requires init(). Computes dst from src (same descriptor as given to init()).
  virtual void forward(Ctx& ctx, const dnnl::memory& src, Mode mode) = 0;

  // Requires forward(mode = train) on the same src. Computes the parameter gradients
  // (into grads()) and, if need_diff_src, diff_src() from diff_dst (dst's descriptor).
  virtual void backward(Ctx& ctx, const dnnl::memory& src, const dnnl::memory& diff_dst,
                        bool need_diff_src) = 0;

  // The deconvnet step down through this layer (Zeiler & Fergus Sec. 2.1): signal has
  // dst's descriptor; the result goes to diff_src(). Requires forward(mode = deconv or
  // train) on this batch (pooling switches). Conv: transposed filters (backward data,
  // no bias); maxpool: unpool with the switches; relu: rectify; lrn, dropout: pass.
  virtual void deconvnet(Ctx& ctx, const dnnl::memory& signal) = 0;

  const dnnl::memory& dst() const { return dst_; }
  const dnnl::memory& diff_src() const { return diff_src_; }

  // Parameters (plain master copies) and their gradients; empty unless has_params().
  LayerParams& params() { return params_; }
  const LayerParams& params() const { return params_; }
  LayerParams& grads() { return grads_; }
  // Must be called after params() change (optimizer step, load).
  virtual void sync_params(Ctx&) {}

  // Fusion of a ReLU into the layer below it (a oneDNN post-op), decided before init():
  // conv and fc accept (their dst is then already rectified); the ReLU then computes
  // nothing forward, and its backward and deconvnet steps are unchanged.
  virtual bool accept_relu_post_op() { return false; }
  virtual void set_fused(bool) {}

  // For `bench --profile`: the algorithm of each pass ("direct", "winograd", or
  // "fwd/bwd_data/bwd_weights" when they differ; "-" for layers without a choice) and the
  // oneDNN implementation of the forward primitive (e.g. "jit:avx512_core").
  virtual std::string algorithm() const { return "-"; }
  virtual std::string impl() const { return "-"; }
  // "bf16" or "f32": the data type of the output (bf16 inside a bf16 network, f32 where
  // it leaves it), for `bench --profile`.
  std::string output_type() const;

 protected:
  LayerSpec spec_;
  dnnl::memory dst_;
  dnnl::memory diff_src_;
  LayerParams params_;
  LayerParams grads_;
};

std::unique_ptr<Layer> make_conv_layer(const LayerSpec& spec);
// Whether model.conv_algorithm = auto times Winograd against direct for a conv layer of
// these channel counts (at least 32 each); a narrower layer runs direct, untimed.
bool auto_times_winograd(int64_t in_channels, int64_t out_channels);
std::unique_ptr<Layer> make_relu_layer(const LayerSpec& spec);
std::unique_ptr<Layer> make_maxpool_layer(const LayerSpec& spec);
std::unique_ptr<Layer> make_lrn_layer(const LayerSpec& spec);
std::unique_ptr<Layer> make_fc_layer(const LayerSpec& spec);
std::unique_ptr<Layer> make_dropout_layer(const LayerSpec& spec);

// Small helpers shared by the layer files.
dnnl::memory::dims to_dims(const LayerShape& s, int64_t batch, bool flat);
// Reorders src into dst if their descriptors differ; otherwise returns src itself.
dnnl::memory reorder_if_needed(Ctx& ctx, const dnnl::memory& src, const dnnl::memory::desc& want,
                               dnnl::memory& scratch);
// A dnnl::error raised while `spec`'s layer was `doing` something ("creating its
// primitives", "forward"), as a ds::Error of `kind` whose where names the layer, its type
// and its src and dst dims, and whose problem carries oneDNN's message and status: oneDNN's
// own message names neither the layer nor the shapes.
Error layer_dnnl_error(const LayerSpec& spec, const dnnl::error& e, const std::string& doing,
                       const dnnl::memory::dims& src, const dnnl::memory::dims& dst, ErrorKind kind,
                       const std::string& hint);

// Plain tensor <-> oneDNN memory of any layout (reorder through a plain view).
void write_plain(Ctx& ctx, const Tensor& t, const dnnl::memory::desc& plain_md, dnnl::memory& dst);
void read_plain(Ctx& ctx, const dnnl::memory& src, const dnnl::memory::desc& plain_md, Tensor& t);

}  // namespace ds
