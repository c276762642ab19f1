// Convolution layer on oneDNN: forward, backward (data and weights), and the
// deconvnet's "filter" step, which is the backward-data convolution with the same
// weights and no bias (the transposed, i.e. flipped, filters of Zeiler & Fergus).
//
// Each of the three passes runs oneDNN's direct or Winograd algorithm (Ctx::conv_algorithm):
// Winograd where asked for and oneDNN has a kernel for this shape and CPU, and under
// `automatic` only where it timed faster on this layer's own shapes.
#include <chrono>
#include <cstring>
#include <optional>
#include <string>
#include <unordered_map>

#include "deconvscope/core/error.hpp"
#include "deconvscope/model/network.hpp"
#include "weighted_layer.hpp"

namespace ds {

using dnnl::memory;
using tag = memory::format_tag;
using dt = memory::data_type;
using dnnl::algorithm;

namespace {

// A primitive descriptor, or nothing when oneDNN has no implementation for it (the usual
// case for Winograd: wrong shape, or no kernel on this CPU).
template <class Make>
auto try_make(Make make) -> std::optional<decltype(make())> {
  try {
    return make();
  } catch (const dnnl::error&) {
    return std::nullopt;
  }
}

// Zero-filled buffers for each argument of pd, and the primitive, ready to time.
template <class PrimitiveDesc, class Primitive>
struct TimedPass {
  TimedPass(Ctx& ctx, const PrimitiveDesc& pd, std::initializer_list<int> args) : prim(pd) {
    for (int arg : args) {
      const memory::desc md = pd.query_md(dnnl::query::exec_arg_md, arg);
      memory m(md, ctx.eng);
      std::memset(m.get_data_handle(), 0, md.get_size());
      bufs.emplace(arg, m);
    }
  }
  double run(Ctx& ctx) {
    const auto t0 = std::chrono::steady_clock::now();
    prim.execute(ctx.strm, bufs);
    ctx.strm.wait();
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  }
  Primitive prim;
  std::unordered_map<int, memory> bufs;
};

// Whether Winograd runs a pass at most kWinogradMargin of direct's time: the best of five
// runs of each after a warm-up, the two alternating so that a burst of load on a shared
// machine falls on both. The least disturbed run, not the mean. A near tie keeps direct,
// whose rounding matches the plain convolution's.
constexpr double kWinogradMargin = 0.9;
template <class PrimitiveDesc, class Primitive>
bool winograd_wins(Ctx& ctx, const PrimitiveDesc& wino, const PrimitiveDesc& direct, std::initializer_list<int> args) {
  TimedPass<PrimitiveDesc, Primitive> w(ctx, wino, args), d(ctx, direct, args);
  double best_w = 1e30, best_d = 1e30;
  for (int i = 0; i < 6; ++i) {
    const double tw = w.run(ctx), td = d.run(ctx);
    if (i == 0) continue;  // warm-up: caches, page faults
    best_w = std::min(best_w, tw);
    best_d = std::min(best_d, td);
  }
  return best_w < kWinogradMargin * best_d;
}

// Builds one pass into pd: the run's fixed choice for this layer and pass when it has one
// (model.conv_algorithms), else direct, or Winograd when Ctx asks for it, oneDNN can
// build it (make throws otherwise) and, under `automatic`, it timed faster. Returns the
// algorithm.
template <class Primitive, class PrimitiveDesc, class Make>
algorithm pick_algorithm(Ctx& ctx, PrimitiveDesc& pd, Make make, std::initializer_list<int> args,
                         const ConvAlgorithm* fixed, const std::string& layer, const char* pass, bool wide) {
  pd = make(algorithm::convolution_direct);
  if (fixed && *fixed == ConvAlgorithm::direct) return algorithm::convolution_direct;
  if (fixed) {
    const std::optional<PrimitiveDesc> wino = try_make([&] { return make(algorithm::convolution_winograd); });
    if (!wino)
      throw Error(ErrorKind::config, "model.conv_algorithms",
                  "layer " + layer + "'s " + pass + " pass is winograd there, and oneDNN has no Winograd kernel for it "
                  "on this CPU (" + cpu_isa_name() + ")",
                  "to go on with direct, give --model.conv_algorithms with " + layer +
                      "=direct (the results then differ in the last digits from a Winograd run)");
    pd = *wino;
    return algorithm::convolution_winograd;
  }
  if (ctx.conv_algorithm == ConvAlgorithm::direct) return algorithm::convolution_direct;
  if (ctx.conv_algorithm == ConvAlgorithm::automatic && !wide) return algorithm::convolution_direct;
  const std::optional<PrimitiveDesc> wino = try_make([&] { return make(algorithm::convolution_winograd); });
  if (!wino) return algorithm::convolution_direct;
  if (ctx.conv_algorithm == ConvAlgorithm::automatic && !winograd_wins<PrimitiveDesc, Primitive>(ctx, *wino, pd, args))
    return algorithm::convolution_direct;
  pd = *wino;
  return algorithm::convolution_winograd;
}

class ConvLayer final : public WeightedLayer {
 public:
  using WeightedLayer::WeightedLayer;

  memory::desc init(Ctx& ctx, const memory::desc& src_md, const LayerShape& out) override {
    const ResolvedConv* fixed = nullptr;  // the run's own choice for this layer, if it has one
    if (ctx.resolved_convs)
      for (const ResolvedConv& r : *ctx.resolved_convs)
        if (r.layer == spec_.name) fixed = &r;
    const memory::dims sd = src_md.dims();            // (N, C, H, W)
    const int64_t N = sd[0], C = sd[1], H = sd[2], W = sd[3];
    const int64_t O = spec_.out, kh = spec_.kernel[0], kw = spec_.kernel[1];
    const bool wide = auto_times_winograd(C, O);
    const memory::dims strides{spec_.stride[0], spec_.stride[1]};
    const memory::dims pad_l{spec_.pad[0], spec_.pad[1]};
    // oneDNN wants the right padding that makes floor((H + 2p - k) / s) + 1 exact.
    const memory::dims pad_r{(out.height - 1) * spec_.stride[0] + kh - H - spec_.pad[0],
                             (out.width - 1) * spec_.stride[1] + kw - W - spec_.pad[1]};
    const memory::dims wdims{O, C, kh, kw};
    // Activations and weights in the compute type; bias and weight gradients stay f32
    // (the optimizer's master copies are f32).
    auto any_src = memory::desc({N, C, H, W}, ctx.dt, tag::any);
    auto any_w = memory::desc(wdims, ctx.dt, tag::any);
    auto any_diff_w = memory::desc(wdims, dt::f32, tag::any);
    auto bias_md = memory::desc({O}, dt::f32, tag::x);
    auto any_dst = memory::desc({N, O, out.height, out.width}, ctx.dt, tag::any);
    const auto plain_w = memory::desc(wdims, dt::f32, tag::oihw);
    // Winograd counts as available only if the master weights can be reordered into (and
    // the gradients out of) the layouts its kernels chose.
    auto reorders = [&](const memory::desc& from, const memory::desc& to) { dnnl::reorder::primitive_desc(ctx.eng, from, ctx.eng, to); };

    auto make_fwd = [&](dnnl::algorithm alg) {
      dnnl::convolution_forward::primitive_desc pd(
          dnnl::convolution_forward::desc(dnnl::prop_kind::forward_training, alg, any_src, any_w, bias_md, any_dst,
                                          strides, pad_l, pad_r),
          relu_attr(), ctx.eng);
      reorders(plain_w, pd.weights_desc());
      return pd;
    };
    fwd_alg_ = pick_algorithm<dnnl::convolution_forward>(
        ctx, fwd_pd_, make_fwd, {DNNL_ARG_SRC, DNNL_ARG_WEIGHTS, DNNL_ARG_BIAS, DNNL_ARG_DST},
        fixed ? &fixed->forward : nullptr, spec_.name, "forward", wide);

    auto make_bwd_data = [&](dnnl::algorithm alg) {
      // diff_src any: with one input channel the plain layout has only oneDNN's slow
      // reference kernel; a blocked one and a reorder are far faster.
      dnnl::convolution_backward_data::primitive_desc pd(
          dnnl::convolution_backward_data::desc(alg, any_src, any_w, fwd_pd_.dst_desc(), strides, pad_l, pad_r),
          ctx.eng, fwd_pd_);
      reorders(plain_w, pd.weights_desc());
      return pd;
    };
    bwd_data_alg_ = pick_algorithm<dnnl::convolution_backward_data>(
        ctx, bwd_data_pd_, make_bwd_data, {DNNL_ARG_DIFF_DST, DNNL_ARG_WEIGHTS, DNNL_ARG_DIFF_SRC},
        fixed ? &fixed->backward_data : nullptr, spec_.name, "backward-data", wide);

    auto make_bwd_w = [&](dnnl::algorithm alg) {
      // src as the forward pass left it; but with one input channel that plain layout has
      // only oneDNN's reference kernel on AVX2 (seconds per batch): then src any, reordered.
      auto make = [&](const memory::desc& src) {
        return dnnl::convolution_backward_weights::primitive_desc(
            dnnl::convolution_backward_weights::desc(alg, src, any_diff_w, bias_md, fwd_pd_.dst_desc(), strides, pad_l,
                                                     pad_r),
            ctx.eng, fwd_pd_);
      };
      auto pd = make(fwd_pd_.src_desc());
      if (std::string(pd.impl_info_str()).rfind("ref", 0) == 0) pd = make(any_src);
      reorders(pd.diff_weights_desc(), plain_w);
      return pd;
    };
    bwd_w_alg_ = pick_algorithm<dnnl::convolution_backward_weights>(
        ctx, bwd_w_pd_, make_bwd_w, {DNNL_ARG_SRC, DNNL_ARG_DIFF_DST, DNNL_ARG_DIFF_WEIGHTS, DNNL_ARG_DIFF_BIAS},
        fixed ? &fixed->backward_weights : nullptr, spec_.name, "backward-weights", wide);

    fwd_ = dnnl::convolution_forward(fwd_pd_);
    bwd_data_ = dnnl::convolution_backward_data(bwd_data_pd_);
    bwd_w_ = dnnl::convolution_backward_weights(bwd_w_pd_);
    allocate(ctx, src_md, fwd_pd_.weights_desc(), bwd_data_pd_.weights_desc(), bwd_w_pd_.diff_weights_desc(),
             fwd_pd_.dst_desc(), plain_w, {O, C, kh, kw} /* (O, I, kh, kw) */, O);
    return fwd_pd_.dst_desc();
  }

  void forward(Ctx& ctx, const memory& src, Mode) override { run_forward(ctx, fwd_, fwd_pd_.src_desc(), src); }

  void backward(Ctx& ctx, const memory&, const memory& diff_dst, bool need_diff_src) override {
    const memory dd = diff_dst_as(ctx, diff_dst, bwd_w_pd_.diff_dst_desc());
    run_backward_weights(ctx, bwd_w_, bwd_w_pd_.src_desc(), bwd_w_pd_.diff_bias_desc(), dd);
    if (need_diff_src) run_backward_data(ctx, bwd_data_, bwd_data_pd_.diff_src_desc(), dd);
  }

  // Zeiler & Fergus "filter": the same filters transposed, no bias.
  void deconvnet(Ctx& ctx, const memory& signal) override {
    run_backward_data(ctx, bwd_data_, bwd_data_pd_.diff_src_desc(), signal);
  }

  std::string algorithm() const override {
    auto name = [](dnnl::algorithm a) { return a == dnnl::algorithm::convolution_winograd ? "winograd" : "direct"; };
    if (fwd_alg_ == bwd_data_alg_ && fwd_alg_ == bwd_w_alg_) return name(fwd_alg_);
    return std::string(name(fwd_alg_)) + "/" + name(bwd_data_alg_) + "/" + name(bwd_w_alg_);
  }
  std::string impl() const override { return fwd_pd_.impl_info_str(); }

 private:
  dnnl::convolution_forward::primitive_desc fwd_pd_;
  dnnl::convolution_backward_data::primitive_desc bwd_data_pd_;
  dnnl::convolution_backward_weights::primitive_desc bwd_w_pd_;
  dnnl::convolution_forward fwd_;
  dnnl::convolution_backward_data bwd_data_;
  dnnl::convolution_backward_weights bwd_w_;
  dnnl::algorithm fwd_alg_ = dnnl::algorithm::convolution_direct;
  dnnl::algorithm bwd_data_alg_ = dnnl::algorithm::convolution_direct;
  dnnl::algorithm bwd_w_alg_ = dnnl::algorithm::convolution_direct;
};

}  // namespace

// On narrower layers Winograd's transforms cost more than the multiplications it saves
// (2-4x slower than direct at 16-32 channels on an AVX-512 EPYC, measured under load;
// docs/config.md), and a layer never timed always chooses alike.
bool auto_times_winograd(int64_t in_channels, int64_t out_channels) {
  constexpr int64_t kMinChannels = 32;
  return in_channels >= kMinChannels && out_channels >= kMinChannels;
}

std::unique_ptr<Layer> make_conv_layer(const LayerSpec& spec) { return std::make_unique<ConvLayer>(spec); }

}  // namespace ds
