// Fully connected layer (oneDNN inner product). Its weights are (O, I) with I running
// over the flattened input in (C, H, W) order, which is oneDNN's oihw for a 4-D input.
// Its output is kept plain (N, O): the loss and the next fc read it directly.
#include "deconvscope/model/layer.hpp"
#include "deconvscope/core/error.hpp"

namespace ds {

using dnnl::memory;
using tag = memory::format_tag;
using dt = memory::data_type;

namespace {

class FcLayer final : public Layer {
 public:
  using Layer::Layer;

  bool accept_relu_post_op() override { return relu_post_op_ = true; }

  memory::desc init(Ctx& ctx, const memory::desc& src_md, const LayerShape&) override {
    in_md_ = src_md;
    const memory::dims sd = src_md.dims();  // (N, C, H, W) or (N, C)
    const int64_t N = sd[0], O = spec_.out;
    memory::dims wdims{O};
    int64_t I = 1;
    for (size_t i = 1; i < sd.size(); ++i) { wdims.push_back(sd[i]); I *= sd[i]; }
    auto any_src = memory::desc(sd, dt::f32, tag::any);
    auto any_w = memory::desc(wdims, dt::f32, tag::any);
    auto bias_md = memory::desc({O}, dt::f32, tag::x);
    auto dst_md = memory::desc({N, O}, dt::f32, tag::nc);
    fwd_pd_ = dnnl::inner_product_forward::primitive_desc(
        dnnl::inner_product_forward::desc(dnnl::prop_kind::forward_training, any_src, any_w, bias_md, dst_md),
        relu_attr(), ctx.eng);
    bwd_data_pd_ = dnnl::inner_product_backward_data::primitive_desc(
        dnnl::inner_product_backward_data::desc(fwd_pd_.src_desc(), any_w, dst_md), ctx.eng, fwd_pd_);
    bwd_w_pd_ = dnnl::inner_product_backward_weights::primitive_desc(
        dnnl::inner_product_backward_weights::desc(fwd_pd_.src_desc(), any_w, bias_md, dst_md), ctx.eng,
        fwd_pd_);
    fwd_ = dnnl::inner_product_forward(fwd_pd_);
    bwd_data_ = dnnl::inner_product_backward_data(bwd_data_pd_);
    bwd_w_ = dnnl::inner_product_backward_weights(bwd_w_pd_);

    plain_w_md_ = memory::desc(wdims, dt::f32, sd.size() == 4 ? tag::oihw : tag::oi);
    weights_ = memory(fwd_pd_.weights_desc(), ctx.eng);
    weights_bwd_ = bwd_data_pd_.weights_desc() == fwd_pd_.weights_desc()
                       ? weights_ : memory(bwd_data_pd_.weights_desc(), ctx.eng);
    bias_ = memory(bias_md, ctx.eng);
    diff_w_ = memory(bwd_w_pd_.diff_weights_desc(), ctx.eng);
    dst_ = memory(dst_md, ctx.eng);
    diff_src_ = memory(in_md_, ctx.eng);

    params_.weights = Tensor({O, I});  // (O, C*H*W)
    params_.bias = Tensor({O});
    grads_.weights = Tensor({O, I});
    grads_.bias = Tensor({O});
    return dst_md;
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

  void backward(Ctx& ctx, const memory&, const memory& diff_dst, bool need_diff_src) override {
    memory diff_bias(bwd_w_pd_.diff_bias_desc(), ctx.eng, grads_.bias.ptr());
    bwd_w_.execute(ctx.strm, {{DNNL_ARG_SRC, src_used_}, {DNNL_ARG_DIFF_DST, diff_dst},
                              {DNNL_ARG_DIFF_WEIGHTS, diff_w_}, {DNNL_ARG_DIFF_BIAS, diff_bias}});
    if (need_diff_src) {
      if (bwd_data_pd_.diff_src_desc() == in_md_) {
        bwd_data_.execute(ctx.strm, {{DNNL_ARG_DIFF_DST, diff_dst}, {DNNL_ARG_WEIGHTS, weights_bwd_},
                                     {DNNL_ARG_DIFF_SRC, diff_src_}});
      } else {
        if (!diff_src_inner_) diff_src_inner_ = memory(bwd_data_pd_.diff_src_desc(), ctx.eng);
        bwd_data_.execute(ctx.strm, {{DNNL_ARG_DIFF_DST, diff_dst}, {DNNL_ARG_WEIGHTS, weights_bwd_},
                                     {DNNL_ARG_DIFF_SRC, diff_src_inner_}});
        dnnl::reorder(diff_src_inner_, diff_src_).execute(ctx.strm, diff_src_inner_, diff_src_);
      }
    }
    read_plain(ctx, diff_w_, plain_w_md_, grads_.weights);
  }

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

std::unique_ptr<Layer> make_fc_layer(const LayerSpec& spec) { return std::make_unique<FcLayer>(spec); }

}  // namespace ds
