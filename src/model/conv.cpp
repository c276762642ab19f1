// Convolution layer on oneDNN: forward, backward (data and weights), and the
// deconvnet's "filter" step, which is the backward-data convolution with the same
// weights and no bias (the transposed, i.e. flipped, filters of Zeiler & Fergus).
#include "deconvscope/model/layer.hpp"

namespace ds {

using dnnl::memory;
using tag = memory::format_tag;
using dt = memory::data_type;

namespace {

class ConvLayer final : public Layer {
 public:
  using Layer::Layer;

  bool accept_relu_post_op() override { return relu_post_op_ = true; }

  memory::desc init(Ctx& ctx, const memory::desc& src_md, const LayerShape& out) override {
    in_md_ = src_md;
    const memory::dims sd = src_md.dims();            // (N, C, H, W)
    const int64_t N = sd[0], C = sd[1], H = sd[2], W = sd[3];
    const int64_t O = spec_.out, kh = spec_.kernel[0], kw = spec_.kernel[1];
    const memory::dims strides{spec_.stride[0], spec_.stride[1]};
    const memory::dims pad_l{spec_.pad[0], spec_.pad[1]};
    // oneDNN wants the right padding that makes floor((H + 2p - k) / s) + 1 exact.
    const memory::dims pad_r{(out.height - 1) * spec_.stride[0] + kh - H - spec_.pad[0],
                             (out.width - 1) * spec_.stride[1] + kw - W - spec_.pad[1]};
    const memory::dims wdims{O, C, kh, kw};
    auto any_src = memory::desc({N, C, H, W}, dt::f32, tag::any);
    auto any_w = memory::desc(wdims, dt::f32, tag::any);
    auto bias_md = memory::desc({O}, dt::f32, tag::x);
    auto any_dst = memory::desc({N, O, out.height, out.width}, dt::f32, tag::any);

    fwd_pd_ = dnnl::convolution_forward::primitive_desc(
        dnnl::convolution_forward::desc(dnnl::prop_kind::forward_training, dnnl::algorithm::convolution_direct,
                                        any_src, any_w, bias_md, any_dst, strides, pad_l, pad_r),
        relu_attr(), ctx.eng);
    bwd_data_pd_ = dnnl::convolution_backward_data::primitive_desc(
        // diff_src any: with one input channel the plain layout has only oneDNN's slow
        // reference kernel; a blocked one and a reorder are far faster.
        dnnl::convolution_backward_data::desc(dnnl::algorithm::convolution_direct, any_src, any_w,
                                              fwd_pd_.dst_desc(), strides, pad_l, pad_r),
        ctx.eng, fwd_pd_);
    bwd_w_pd_ = dnnl::convolution_backward_weights::primitive_desc(
        dnnl::convolution_backward_weights::desc(dnnl::algorithm::convolution_direct, fwd_pd_.src_desc(), any_w,
                                                 bias_md, fwd_pd_.dst_desc(), strides, pad_l, pad_r),
        ctx.eng, fwd_pd_);
    fwd_ = dnnl::convolution_forward(fwd_pd_);
    bwd_data_ = dnnl::convolution_backward_data(bwd_data_pd_);
    bwd_w_ = dnnl::convolution_backward_weights(bwd_w_pd_);

    plain_w_md_ = memory::desc(wdims, dt::f32, tag::oihw);
    weights_ = memory(fwd_pd_.weights_desc(), ctx.eng);
    weights_bwd_ = bwd_data_pd_.weights_desc() == fwd_pd_.weights_desc()
                       ? weights_ : memory(bwd_data_pd_.weights_desc(), ctx.eng);
    bias_ = memory(bias_md, ctx.eng);
    diff_w_ = memory(bwd_w_pd_.diff_weights_desc(), ctx.eng);
    dst_ = memory(fwd_pd_.dst_desc(), ctx.eng);
    diff_src_ = memory(in_md_, ctx.eng);

    params_.weights = Tensor({O, C, kh, kw});   // (O, I, kh, kw)
    params_.bias = Tensor({O});
    grads_.weights = Tensor({O, C, kh, kw});
    grads_.bias = Tensor({O});
    return fwd_pd_.dst_desc();
  }

  void sync_params(Ctx& ctx) override {
    write_plain(ctx, params_.weights, plain_w_md_, weights_);
    if (weights_bwd_ != weights_) write_plain(ctx, params_.weights, plain_w_md_, weights_bwd_);
    std::copy(params_.bias.data.begin(), params_.bias.data.end(), static_cast<float*>(bias_.get_data_handle()));
  }

  void forward(Ctx& ctx, const memory& src, Mode) override {
    src_used_ = reorder_if_needed(ctx, src, fwd_pd_.src_desc(), src_scratch_);
    fwd_.execute(ctx.strm, {{DNNL_ARG_SRC, src_used_}, {DNNL_ARG_WEIGHTS, weights_},
                            {DNNL_ARG_BIAS, bias_}, {DNNL_ARG_DST, dst_}});
  }

  void backward(Ctx& ctx, const memory& src, const memory& diff_dst, bool need_diff_src) override {
    (void)src;  // forward() kept the (possibly reordered) src in src_used_
    bwd_w_.execute(ctx.strm, {{DNNL_ARG_SRC, src_used_}, {DNNL_ARG_DIFF_DST, diff_dst},
                              {DNNL_ARG_DIFF_WEIGHTS, diff_w_}, {DNNL_ARG_DIFF_BIAS, diff_bias_mem(ctx)}});
    if (need_diff_src) backward_data(ctx, diff_dst);
    // Gradients leave the network in plain oihw, where the optimizer keeps its state.
    read_plain(ctx, diff_w_, plain_w_md_, grads_.weights);
  }

  // Zeiler & Fergus "filter": the same filters transposed, no bias.
  void deconvnet(Ctx& ctx, const memory& signal) override { backward_data(ctx, signal); }

 private:
  void backward_data(Ctx& ctx, const memory& diff_dst) {
    if (bwd_data_pd_.diff_src_desc() == in_md_) {
      bwd_data_.execute(ctx.strm, {{DNNL_ARG_DIFF_DST, diff_dst}, {DNNL_ARG_WEIGHTS, weights_bwd_},
                                   {DNNL_ARG_DIFF_SRC, diff_src_}});
      return;
    }
    if (!diff_src_inner_) diff_src_inner_ = memory(bwd_data_pd_.diff_src_desc(), ctx.eng);
    bwd_data_.execute(ctx.strm, {{DNNL_ARG_DIFF_DST, diff_dst}, {DNNL_ARG_WEIGHTS, weights_bwd_},
                                 {DNNL_ARG_DIFF_SRC, diff_src_inner_}});
    dnnl::reorder(diff_src_inner_, diff_src_).execute(ctx.strm, diff_src_inner_, diff_src_);
  }

  // The bias gradient is written straight into the plain gradient tensor.
  memory diff_bias_mem(Ctx& ctx) {
    return memory(bwd_w_pd_.diff_bias_desc(), ctx.eng, grads_.bias.ptr());
  }

  dnnl::convolution_forward::primitive_desc fwd_pd_;
  dnnl::convolution_backward_data::primitive_desc bwd_data_pd_;
  dnnl::convolution_backward_weights::primitive_desc bwd_w_pd_;
  dnnl::convolution_forward fwd_;
  dnnl::convolution_backward_data bwd_data_;
  dnnl::convolution_backward_weights bwd_w_;
  // The ReLU above, fused as a post-op when the network asked for it.
  dnnl::primitive_attr relu_attr() const {
    dnnl::primitive_attr attr;
    if (!relu_post_op_) return attr;
    dnnl::post_ops ops;
    ops.append_eltwise(1.f, dnnl::algorithm::eltwise_relu, 0.f, 0.f);
    attr.set_post_ops(ops);
    return attr;
  }

  bool relu_post_op_ = false;
  memory::desc in_md_, plain_w_md_;
  memory weights_, weights_bwd_, bias_, diff_w_;
  memory src_used_, src_scratch_, diff_src_inner_;
};

}  // namespace

std::unique_ptr<Layer> make_conv_layer(const LayerSpec& spec) { return std::make_unique<ConvLayer>(spec); }

}  // namespace ds
