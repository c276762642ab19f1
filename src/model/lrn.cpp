// Local response normalisation across channels on oneDNN:
//   dst = src / (k + alpha / size * sum of src^2 over `size` neighbouring channels)^beta
// The deconvnet passes the signal through it unchanged (the paper is silent; this is
// the common practice, see docs/deconvnet.md).
#include "deconvscope/model/layer.hpp"

namespace ds {

using dnnl::memory;

namespace {

class LrnLayer final : public Layer {
 public:
  using Layer::Layer;

  memory::desc init(Ctx& ctx, const memory::desc& src_md, const LayerShape&) override {
    const auto alg = dnnl::algorithm::lrn_across_channels;
    train_pd_ = dnnl::lrn_forward::primitive_desc(
        dnnl::lrn_forward::desc(dnnl::prop_kind::forward_training, alg, src_md, spec_.size, spec_.alpha,
                                spec_.beta, spec_.k),
        ctx.eng);
    infer_pd_ = dnnl::lrn_forward::primitive_desc(
        dnnl::lrn_forward::desc(dnnl::prop_kind::forward_inference, alg, src_md, spec_.size, spec_.alpha,
                                spec_.beta, spec_.k),
        ctx.eng);
    bwd_pd_ = dnnl::lrn_backward::primitive_desc(
        dnnl::lrn_backward::desc(alg, src_md, src_md, spec_.size, spec_.alpha, spec_.beta, spec_.k), ctx.eng,
        train_pd_);
    train_ = dnnl::lrn_forward(train_pd_);
    infer_ = dnnl::lrn_forward(infer_pd_);
    bwd_ = dnnl::lrn_backward(bwd_pd_);
    dst_ = memory(train_pd_.dst_desc(), ctx.eng);
    workspace_ = memory(train_pd_.workspace_desc(), ctx.eng);
    grad_ = memory(src_md, ctx.eng);
    return train_pd_.dst_desc();
  }

  void forward(Ctx& ctx, const memory& src, Mode mode) override {
    if (mode == Mode::train) {
      train_.execute(ctx.strm, {{DNNL_ARG_SRC, src}, {DNNL_ARG_DST, dst_}, {DNNL_ARG_WORKSPACE, workspace_}});
    } else {
      infer_.execute(ctx.strm, {{DNNL_ARG_SRC, src}, {DNNL_ARG_DST, dst_}});
    }
  }

  void backward(Ctx& ctx, const memory& src, const memory& diff_dst, bool) override {
    diff_src_ = grad_;
    bwd_.execute(ctx.strm, {{DNNL_ARG_SRC, src}, {DNNL_ARG_DIFF_DST, diff_dst},
                            {DNNL_ARG_WORKSPACE, workspace_}, {DNNL_ARG_DIFF_SRC, diff_src_}});
  }

  void deconvnet(Ctx&, const memory& signal) override { diff_src_ = signal; }
  std::string impl() const override { return train_pd_.impl_info_str(); }

 private:
  dnnl::lrn_forward::primitive_desc train_pd_, infer_pd_;
  dnnl::lrn_backward::primitive_desc bwd_pd_;
  dnnl::lrn_forward train_, infer_;
  dnnl::lrn_backward bwd_;
  memory workspace_, grad_;
};

}  // namespace

std::unique_ptr<Layer> make_lrn_layer(const LayerSpec& spec) { return std::make_unique<LrnLayer>(spec); }

}  // namespace ds
