// ReLU on oneDNN, in place on the layer below's output (backward then uses dst, which
// is all ReLU needs); after a conv or fc it is fused into that layer as a post-op. In the deconvnet it is the "rectify" step: a ReLU applied to the
// reconstruction itself, not a gradient mask from the forward pass.
#include "deconvscope/model/layer.hpp"

namespace ds {

using dnnl::memory;

namespace {

class ReluLayer final : public Layer {
 public:
  using Layer::Layer;

  memory::desc init(Ctx& ctx, const memory::desc& src_md, const LayerShape&) override {
    fwd_pd_ = dnnl::eltwise_forward::primitive_desc(
        dnnl::eltwise_forward::desc(dnnl::prop_kind::forward_training,
                                    dnnl::algorithm::eltwise_relu_use_dst_for_bwd, src_md, 0.f),
        ctx.eng);
    bwd_pd_ = dnnl::eltwise_backward::primitive_desc(
        dnnl::eltwise_backward::desc(dnnl::algorithm::eltwise_relu_use_dst_for_bwd, src_md, src_md, 0.f),
        ctx.eng, fwd_pd_);
    fwd_ = dnnl::eltwise_forward(fwd_pd_);
    bwd_ = dnnl::eltwise_backward(bwd_pd_);
    return src_md;
  }

  void set_fused(bool fused) override { fused_ = fused; }
  std::string impl() const override { return fused_ ? "fused" : fwd_pd_.impl_info_str(); }

  void forward(Ctx& ctx, const memory& src, Mode) override {
    dst_ = src;  // in place
    if (!fused_) fwd_.execute(ctx.strm, {{DNNL_ARG_SRC, src}, {DNNL_ARG_DST, dst_}});
  }

  void backward(Ctx& ctx, const memory&, const memory& diff_dst, bool) override {
    diff_src_ = diff_dst;  // in place
    bwd_.execute(ctx.strm, {{DNNL_ARG_DST, dst_}, {DNNL_ARG_DIFF_DST, diff_dst}, {DNNL_ARG_DIFF_SRC, diff_src_}});
  }

  // Zeiler & Fergus "rectify": the reconstruction goes through a ReLU of its own.
  void deconvnet(Ctx& ctx, const memory& signal) override {
    diff_src_ = signal;
    fwd_.execute(ctx.strm, {{DNNL_ARG_SRC, signal}, {DNNL_ARG_DST, diff_src_}});
  }

 private:
  dnnl::eltwise_forward::primitive_desc fwd_pd_;
  dnnl::eltwise_backward::primitive_desc bwd_pd_;
  dnnl::eltwise_forward fwd_;
  dnnl::eltwise_backward bwd_;
  bool fused_ = false;  // the layer below already rectified its output
};

}  // namespace

std::unique_ptr<Layer> make_relu_layer(const LayerSpec& spec) { return std::make_unique<ReluLayer>(spec); }

}  // namespace ds
