// See src/model/weighted_layer.hpp.
#include "weighted_layer.hpp"

#include <algorithm>

namespace ds {

using dnnl::memory;

dnnl::primitive_attr WeightedLayer::relu_attr() const {
  dnnl::primitive_attr attr;
  if (!relu_post_op_) return attr;
  dnnl::post_ops ops;
  ops.append_eltwise(1.f, dnnl::algorithm::eltwise_relu, 0.f, 0.f);
  attr.set_post_ops(ops);
  return attr;
}

void WeightedLayer::allocate(Ctx& ctx, const memory::desc& in_md, const memory::desc& fwd_weights_md,
                             const memory::desc& bwd_data_weights_md, const memory::desc& diff_weights_md,
                             const memory::desc& dst_md, const memory::desc& plain_weights_md,
                             const std::vector<int64_t>& weight_dims, int64_t out) {
  in_md_ = in_md;
  plain_w_md_ = plain_weights_md;
  weights_ = memory(fwd_weights_md, ctx.eng);
  weights_bwd_ = bwd_data_weights_md == fwd_weights_md ? weights_ : memory(bwd_data_weights_md, ctx.eng);
  bias_ = memory(memory::desc({out}, memory::data_type::f32, memory::format_tag::x), ctx.eng);
  diff_w_ = memory(diff_weights_md, ctx.eng);
  dst_ = memory(dst_md, ctx.eng);
  diff_src_ = memory(in_md_, ctx.eng);
  params_.weights = Tensor(weight_dims);
  params_.bias = Tensor({out});
  grads_.weights = Tensor(weight_dims);
  grads_.bias = Tensor({out});
}

void WeightedLayer::sync_params(Ctx& ctx) {
  write_plain(ctx, params_.weights, plain_w_md_, weights_);
  if (weights_bwd_ != weights_) write_plain(ctx, params_.weights, plain_w_md_, weights_bwd_);
  std::copy(params_.bias.data.begin(), params_.bias.data.end(), static_cast<float*>(bias_.get_data_handle()));
}

void WeightedLayer::run_forward(Ctx& ctx, const dnnl::primitive& fwd, const memory::desc& src_md, const memory& src) {
  src_used_ = reorder_if_needed(ctx, src, src_md, src_scratch_);
  fwd.execute(ctx.strm, {{DNNL_ARG_SRC, src_used_}, {DNNL_ARG_WEIGHTS, weights_}, {DNNL_ARG_BIAS, bias_},
                         {DNNL_ARG_DST, dst_}});
}

void WeightedLayer::run_backward_weights(Ctx& ctx, const dnnl::primitive& bwd_w, const memory::desc& src_md,
                                         const memory::desc& diff_bias_md, const memory& diff_dst) {
  // The bias gradient is written straight into the plain gradient tensor (f32 in both precisions).
  memory diff_bias(diff_bias_md, ctx.eng, grads_.bias.ptr());
  const memory src = reorder_if_needed(ctx, src_used_, src_md, bwd_src_scratch_);
  bwd_w.execute(ctx.strm, {{DNNL_ARG_SRC, src}, {DNNL_ARG_DIFF_DST, diff_dst},
                           {DNNL_ARG_DIFF_WEIGHTS, diff_w_}, {DNNL_ARG_DIFF_BIAS, diff_bias}});
  // Gradients leave the network in plain f32 layouts, where the optimizer keeps its state.
  read_plain(ctx, diff_w_, plain_w_md_, grads_.weights);
}

memory WeightedLayer::diff_dst_as(Ctx& ctx, const memory& diff_dst, const memory::desc& want) {
  return reorder_if_needed(ctx, diff_dst, want, diff_dst_scratch_);
}

void WeightedLayer::run_backward_data(Ctx& ctx, const dnnl::primitive& bwd_data, const memory::desc& diff_src_md,
                                      const memory& diff_dst) {
  if (diff_src_md == in_md_) {
    bwd_data.execute(ctx.strm, {{DNNL_ARG_DIFF_DST, diff_dst}, {DNNL_ARG_WEIGHTS, weights_bwd_},
                                {DNNL_ARG_DIFF_SRC, diff_src_}});
    return;
  }
  if (!diff_src_inner_) diff_src_inner_ = memory(diff_src_md, ctx.eng);
  bwd_data.execute(ctx.strm, {{DNNL_ARG_DIFF_DST, diff_dst}, {DNNL_ARG_WEIGHTS, weights_bwd_},
                              {DNNL_ARG_DIFF_SRC, diff_src_inner_}});
  dnnl::reorder(diff_src_inner_, diff_src_).execute(ctx.strm, diff_src_inner_, diff_src_);
}

}  // namespace ds
