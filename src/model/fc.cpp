// Fully connected layer (oneDNN inner product). Its weights are (O, I) with I running
// over the flattened input in (C, H, W) order, which is oneDNN's oihw for a 4-D input.
// Its output is kept plain (N, O) and f32 in both precisions: the loss, dropout and the
// next fc read it directly, and oneDNN's bf16 inner product writes f32 natively.
#include "deconvscope/core/error.hpp"
#include "weighted_layer.hpp"

namespace ds {

using dnnl::memory;
using tag = memory::format_tag;
using dt = memory::data_type;

namespace {

class FcLayer final : public WeightedLayer {
 public:
  using WeightedLayer::WeightedLayer;

  memory::desc init(Ctx& ctx, const memory::desc& src_md, const LayerShape&) override {
    const memory::dims sd = src_md.dims();  // (N, C, H, W) or (N, C)
    const int64_t N = sd[0], O = spec_.out;
    memory::dims wdims{O};
    int64_t I = 1;
    for (size_t i = 1; i < sd.size(); ++i) { wdims.push_back(sd[i]); I *= sd[i]; }
    auto any_src = memory::desc(sd, ctx.dt, tag::any);
    auto any_w = memory::desc(wdims, ctx.dt, tag::any);
    auto any_diff_w = memory::desc(wdims, dt::f32, tag::any);  // f32 gradients for the f32 master weights
    auto bias_md = memory::desc({O}, dt::f32, tag::x);
    auto dst_md = memory::desc({N, O}, dt::f32, tag::nc);
    // Backward computes in ctx.dt: in bf16 the f32 gradient from above is reordered to it.
    auto diff_dst_md = memory::desc({N, O}, ctx.dt, tag::nc);
    fwd_pd_ = dnnl::inner_product_forward::primitive_desc(
        dnnl::inner_product_forward::desc(dnnl::prop_kind::forward_training, any_src, any_w, bias_md, dst_md),
        relu_attr(), ctx.eng);
    bwd_data_pd_ = dnnl::inner_product_backward_data::primitive_desc(
        dnnl::inner_product_backward_data::desc(fwd_pd_.src_desc(), any_w, diff_dst_md), ctx.eng, fwd_pd_);
    bwd_w_pd_ = dnnl::inner_product_backward_weights::primitive_desc(
        dnnl::inner_product_backward_weights::desc(fwd_pd_.src_desc(), any_diff_w, bias_md, diff_dst_md), ctx.eng,
        fwd_pd_);
    fwd_ = dnnl::inner_product_forward(fwd_pd_);
    bwd_data_ = dnnl::inner_product_backward_data(bwd_data_pd_);
    bwd_w_ = dnnl::inner_product_backward_weights(bwd_w_pd_);
    allocate(ctx, src_md, fwd_pd_.weights_desc(), bwd_data_pd_.weights_desc(), bwd_w_pd_.diff_weights_desc(), dst_md,
             memory::desc(wdims, dt::f32, sd.size() == 4 ? tag::oihw : tag::oi), {O, I} /* (O, C*H*W) */, O);
    return dst_md;
  }

  void forward(Ctx& ctx, const memory& src, Mode) override { run_forward(ctx, fwd_, fwd_pd_.src_desc(), src); }

  void backward(Ctx& ctx, const memory&, const memory& diff_dst, bool need_diff_src) override {
    const memory dd = diff_dst_as(ctx, diff_dst, bwd_w_pd_.diff_dst_desc());
    run_backward_weights(ctx, bwd_w_, bwd_w_pd_.src_desc(), bwd_w_pd_.diff_bias_desc(), dd);
    if (need_diff_src) run_backward_data(ctx, bwd_data_, bwd_data_pd_.diff_src_desc(), dd);
  }

  std::string impl() const override { return fwd_pd_.impl_info_str(); }

  void deconvnet(Ctx&, const memory&) override {
    throw Error(ErrorKind::usage, "layer " + spec_.name,
                "the deconvnet projects conv-layer activations; it does not pass through fc layers");
  }

 private:
  dnnl::inner_product_forward::primitive_desc fwd_pd_;
  dnnl::inner_product_backward_data::primitive_desc bwd_data_pd_;
  dnnl::inner_product_backward_weights::primitive_desc bwd_w_pd_;
  dnnl::inner_product_forward fwd_;
  dnnl::inner_product_backward_data bwd_data_;
  dnnl::inner_product_backward_weights bwd_w_;
};

}  // namespace

std::unique_ptr<Layer> make_fc_layer(const LayerSpec& spec) { return std::make_unique<FcLayer>(spec); }

}  // namespace ds
