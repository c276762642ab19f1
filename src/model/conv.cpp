// Convolution layer on oneDNN: forward, backward (data and weights), and the
// deconvnet's "filter" step, which is the backward-data convolution with the same
// weights and no bias (the transposed, i.e. flipped, filters of Zeiler & Fergus).
#include "weighted_layer.hpp"

namespace ds {

using dnnl::memory;
using tag = memory::format_tag;
using dt = memory::data_type;

namespace {

class ConvLayer final : public WeightedLayer {
 public:
  using WeightedLayer::WeightedLayer;

  memory::desc init(Ctx& ctx, const memory::desc& src_md, const LayerShape& out) override {
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
    allocate(ctx, src_md, fwd_pd_.weights_desc(), bwd_data_pd_.weights_desc(), bwd_w_pd_.diff_weights_desc(),
             fwd_pd_.dst_desc(), memory::desc(wdims, dt::f32, tag::oihw), {O, C, kh, kw} /* (O, I, kh, kw) */, O);
    return fwd_pd_.dst_desc();
  }

  void forward(Ctx& ctx, const memory& src, Mode) override { run_forward(ctx, fwd_, fwd_pd_.src_desc(), src); }

  void backward(Ctx& ctx, const memory&, const memory& diff_dst, bool need_diff_src) override {
    run_backward_weights(ctx, bwd_w_, bwd_w_pd_.diff_bias_desc(), diff_dst);
    if (need_diff_src) run_backward_data(ctx, bwd_data_, bwd_data_pd_.diff_src_desc(), diff_dst);
  }

  // Zeiler & Fergus "filter": the same filters transposed, no bias.
  void deconvnet(Ctx& ctx, const memory& signal) override {
    run_backward_data(ctx, bwd_data_, bwd_data_pd_.diff_src_desc(), signal);
  }

 private:
  dnnl::convolution_forward::primitive_desc fwd_pd_;
  dnnl::convolution_backward_data::primitive_desc bwd_data_pd_;
  dnnl::convolution_backward_weights::primitive_desc bwd_w_pd_;
  dnnl::convolution_forward fwd_;
  dnnl::convolution_backward_data bwd_data_;
  dnnl::convolution_backward_weights bwd_w_;
};

}  // namespace

std::unique_ptr<Layer> make_conv_layer(const LayerSpec& spec) { return std::make_unique<ConvLayer>(spec); }

}  // namespace ds
