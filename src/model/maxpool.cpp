// Max pooling on oneDNN. The forward pass in train or deconv mode keeps oneDNN's
// workspace: these are the "switches" of Zeiler & Fergus, the location of each
// pooling region's maximum in this image. Backward and the deconvnet's "unpool" are
// the same max-pool backward: each value goes to its switch, and where overlapping
// windows share a switch the values add.
#include "deconvscope/model/layer.hpp"

namespace ds {

using dnnl::memory;

namespace {

class MaxPoolLayer final : public Layer {
 public:
  using Layer::Layer;

  memory::desc init(Ctx& ctx, const memory::desc& src_md, const LayerShape& out) override {
    const memory::dims sd = src_md.dims();  // (N, C, H, W)
    const memory::dims kernel{spec_.kernel[0], spec_.kernel[1]};
    const memory::dims strides{spec_.stride[0], spec_.stride[1]};
    const memory::dims pad_l{spec_.pad[0], spec_.pad[1]};
    const memory::dims pad_r{(out.height - 1) * spec_.stride[0] + spec_.kernel[0] - sd[2] - spec_.pad[0],
                             (out.width - 1) * spec_.stride[1] + spec_.kernel[1] - sd[3] - spec_.pad[1]};
    auto dst_any = memory::desc({sd[0], sd[1], out.height, out.width}, src_md.data_type(),  // f32 or bf16
                                memory::format_tag::any);
    train_pd_ = dnnl::pooling_forward::primitive_desc(
        dnnl::pooling_forward::desc(dnnl::prop_kind::forward_training, dnnl::algorithm::pooling_max, src_md,
                                    dst_any, strides, kernel, pad_l, pad_r),
        ctx.eng);
    infer_pd_ = dnnl::pooling_forward::primitive_desc(
        dnnl::pooling_forward::desc(dnnl::prop_kind::forward_inference, dnnl::algorithm::pooling_max, src_md,
                                    train_pd_.dst_desc(), strides, kernel, pad_l, pad_r),
        ctx.eng);
    bwd_pd_ = dnnl::pooling_backward::primitive_desc(
        dnnl::pooling_backward::desc(dnnl::algorithm::pooling_max, src_md, train_pd_.dst_desc(), strides,
                                     kernel, pad_l, pad_r),
        ctx.eng, train_pd_);
    train_ = dnnl::pooling_forward(train_pd_);
    infer_ = dnnl::pooling_forward(infer_pd_);
    bwd_ = dnnl::pooling_backward(bwd_pd_);
    dst_ = memory(train_pd_.dst_desc(), ctx.eng);
    switches_ = memory(train_pd_.workspace_desc(), ctx.eng);
    diff_src_ = memory(src_md, ctx.eng);
    return train_pd_.dst_desc();
  }

  void forward(Ctx& ctx, const memory& src, Mode mode) override {
    if (mode == Mode::infer) {
      infer_.execute(ctx.strm, {{DNNL_ARG_SRC, src}, {DNNL_ARG_DST, dst_}});
      return;
    }
    train_.execute(ctx.strm, {{DNNL_ARG_SRC, src}, {DNNL_ARG_DST, dst_}, {DNNL_ARG_WORKSPACE, switches_}});
  }

  void backward(Ctx& ctx, const memory&, const memory& diff_dst, bool) override { unpool(ctx, diff_dst); }
  std::string impl() const override { return train_pd_.impl_info_str(); }

  void deconvnet(Ctx& ctx, const memory& signal) override { unpool(ctx, signal); }

 private:
  // Every value goes back to the position its switch recorded; shared switches add.
  void unpool(Ctx& ctx, const memory& diff_dst) {
    bwd_.execute(ctx.strm, {{DNNL_ARG_DIFF_DST, diff_dst}, {DNNL_ARG_WORKSPACE, switches_},
                            {DNNL_ARG_DIFF_SRC, diff_src_}});
  }

  dnnl::pooling_forward::primitive_desc train_pd_, infer_pd_;
  dnnl::pooling_backward::primitive_desc bwd_pd_;
  dnnl::pooling_forward train_, infer_;
  dnnl::pooling_backward bwd_;
  memory switches_;
};

}  // namespace

std::unique_ptr<Layer> make_maxpool_layer(const LayerSpec& spec) { return std::make_unique<MaxPoolLayer>(spec); }

}  // namespace ds
