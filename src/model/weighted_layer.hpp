// What conv and fc share (private to src/model): weights kept plain (f32) as the master
// copy and reordered into the layouts and data type (f32 or bf16) their primitives chose, an optional ReLU post-op, and
// the data and weight passes of forward and backward around whichever primitives the
// subclass built.
#pragma once

#include "deconvscope/model/layer.hpp"

namespace ds {

class WeightedLayer : public Layer {
 public:
  using Layer::Layer;

  bool accept_relu_post_op() override { return relu_post_op_ = true; }
  void sync_params(Ctx& ctx) override;

 protected:
  // The ReLU above, fused as a post-op when the network asked for it.
  dnnl::primitive_attr relu_attr() const;

  // Called by init() once the primitive descriptors exist: allocates every buffer and the
  // plain parameter tensors (weights of `weight_dims`, bias of `out`).
  void allocate(Ctx& ctx, const dnnl::memory::desc& in_md, const dnnl::memory::desc& fwd_weights_md,
                const dnnl::memory::desc& bwd_data_weights_md, const dnnl::memory::desc& diff_weights_md,
                const dnnl::memory::desc& dst_md, const dnnl::memory::desc& plain_weights_md,
                const std::vector<int64_t>& weight_dims, int64_t out);

  // dst = fwd(src reordered to src_md if it came in another layout, weights, bias).
  void run_forward(Ctx& ctx, const dnnl::primitive& fwd, const dnnl::memory::desc& src_md, const dnnl::memory& src);
  // Parameter gradients into grads() (plain) from diff_dst and the src of run_forward
  // (reordered to src_md if the backward-weights primitive chose another layout).
  void run_backward_weights(Ctx& ctx, const dnnl::primitive& bwd_w, const dnnl::memory::desc& src_md,
                            const dnnl::memory::desc& diff_bias_md, const dnnl::memory& diff_dst);
  // diff_dst in the descriptor the backward primitives want (in bf16, fc receives f32
  // gradients from the loss or dropout above and computes with bf16 ones).
  dnnl::memory diff_dst_as(Ctx& ctx, const dnnl::memory& diff_dst, const dnnl::memory::desc& want);
  // diff_src (in the layout the layer below produced) = bwd_data(diff_dst, weights).
  void run_backward_data(Ctx& ctx, const dnnl::primitive& bwd_data, const dnnl::memory::desc& diff_src_md,
                         const dnnl::memory& diff_dst);

 private:
  bool relu_post_op_ = false;
  dnnl::memory::desc in_md_, plain_w_md_;
  dnnl::memory weights_, weights_bwd_, bias_, diff_w_;
  dnnl::memory src_used_, src_scratch_, diff_src_inner_, diff_dst_scratch_, bwd_src_scratch_;
};

}  // namespace ds
