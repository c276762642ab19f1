// Builds the layers, runs them in order, and walks back down for gradients or for the
// deconvnet. See include/deconvscope/model/network.hpp.
#include "deconvscope/model/network.hpp"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <limits>
#include <utility>

#include "deconvscope/core/error.hpp"

namespace ds {

using dnnl::memory;
using tag = memory::format_tag;
using dt = memory::data_type;

namespace {

std::unique_ptr<Layer> make_layer(const LayerSpec& spec) {
  switch (spec.type) {
    case LayerType::conv: return make_conv_layer(spec);
    case LayerType::relu: return make_relu_layer(spec);
    case LayerType::maxpool: return make_maxpool_layer(spec);
    case LayerType::lrn: return make_lrn_layer(spec);
    case LayerType::fc: return make_fc_layer(spec);
    case LayerType::dropout: return make_dropout_layer(spec);
  }
  throw Error(ErrorKind::internal, "layer " + spec.name,
              "unknown layer type " + std::to_string(int(spec.type)) + " (not an enumerator of LayerType)");
}

// The dims a layer's dst must have: infer_shapes' (C, H, W) with the batch in front, or
// (N, C) from an fc layer on.
memory::dims expected_dst(const LayerSpec& spec, const memory::desc& src_md, const LayerShape& s, int64_t batch) {
  return to_dims(s, batch, /*flat =*/spec.type == LayerType::fc || src_md.dims().size() == 2);
}

memory::desc plain_md(const LayerShape& s, int64_t batch, bool flat) {
  return flat ? memory::desc({batch, s.channels}, dt::f32, tag::nc)
              : memory::desc({batch, s.channels, s.height, s.width}, dt::f32, tag::nchw);
}

}  // namespace

bool cpu_has_bf16() {
  // cpu_isa values are bit sets, each containing the sets of the ISAs below it.
  const auto isa = unsigned(dnnl::get_effective_cpu_isa()), bf16 = unsigned(dnnl::cpu_isa::avx512_core_bf16);
  return (isa & bf16) == bf16;
}

std::string cpu_isa_name() {
  using dnnl::cpu_isa;
  const std::pair<cpu_isa, const char*> names[] = {
      {cpu_isa::avx512_core_amx, "avx512_core_amx"}, {cpu_isa::avx512_core_bf16, "avx512_core_bf16"},
      {cpu_isa::avx512_core_vnni, "avx512_core_vnni"}, {cpu_isa::avx512_core, "avx512_core"},
      {cpu_isa::avx2_vnni, "avx2_vnni"}, {cpu_isa::avx2, "avx2"}, {cpu_isa::avx, "avx"}, {cpu_isa::sse41, "sse41"}};
  const cpu_isa isa = dnnl::get_effective_cpu_isa();
  for (const auto& [value, name] : names)
    if (isa == value) return name;
  char hex[32];
  std::snprintf(hex, sizeof hex, "isa 0x%x", unsigned(isa));
  return hex;
}

Network::Network(const std::vector<LayerSpec>& specs, const InputShape& input, int batch, uint64_t seed,
                 const NetworkOptions& options)
    : specs_(specs), shapes_(infer_shapes(specs, input)), input_(input), batch_(batch), options_(options) {
  if (options_.precision == Precision::bf16 && !cpu_has_bf16())
    throw Error(ErrorKind::config, "train.precision",
                expected_found("a CPU with AVX512_BF16 for bf16 (oneDNN " + std::to_string(dnnl_version()->major) + "." +
                                   std::to_string(dnnl_version()->minor) + " has native bf16 kernels only there)",
                               "this CPU's " + cpu_isa_name()),
                "use train.precision = f32 on this machine");
  if (specs_.empty() || specs_.back().type != LayerType::fc)
    throw Error(ErrorKind::config, specs_.empty() ? "model" : "layer " + specs_.back().name,
                "the last layer must be fc (its out is the number of classes; softmax cross-entropy follows)");
  if (batch < 1) throw Error(ErrorKind::config, "train.batch", expected_found("a batch of at least 1", std::to_string(batch)));
  ctx_.eng = dnnl::engine(dnnl::engine::kind::cpu, 0);
  ctx_.strm = dnnl::stream(ctx_.eng);
  ctx_.seed = seed;
  ctx_.conv_algorithm = options_.conv_algorithm;
  ctx_.resolved_convs = &options_.resolved_convs;
  for (const ResolvedConv& r : options_.resolved_convs) {
    const auto it = std::find_if(specs_.begin(), specs_.end(), [&](const LayerSpec& s) { return s.name == r.layer; });
    if (it == specs_.end() || it->type != LayerType::conv)
      throw Error(ErrorKind::config, "model.conv_algorithms",
                  expected_found("conv layers of this network", "'" + r.layer + "'" +
                                                                    (it == specs_.end() ? " (no such layer)"
                                                                                        : " (a " + std::string(layer_type_name(it->type)) + " layer)")),
                  "leave it empty to let model.conv_algorithm decide");
  }
  ctx_.dt = options_.precision == Precision::bf16 ? dt::bf16 : dt::f32;

  input_md_ = memory::desc({batch, input.channels, input.height, input.width}, dt::f32, tag::nchw);
  input_mem_ = memory(input_md_, ctx_.eng);
  memory::desc md = input_md_;
  for (const LayerSpec& spec : specs_) layers_.push_back(make_layer(spec));
  for (size_t i = 0; i + 1 < layers_.size(); ++i)
    if (specs_[i + 1].type == LayerType::relu && layers_[i]->accept_relu_post_op()) layers_[i + 1]->set_fused(true);
  for (size_t i = 0; i < specs_.size(); ++i) {
    const memory::dims want = expected_dst(specs_[i], md, shapes_[i], batch);
    const memory::desc dst_md = layers_[i]->build(ctx_, md, shapes_[i]);
    // The primitives and the shape walk (infer_shapes, which the snapshot and analysis
    // code rely on) must agree; if they do not, the walk has a bug.
    if (dst_md.dims() != want)
      throw Error(ErrorKind::internal, "layer " + specs_[i].name + " (" + layer_type_name(specs_[i].type) + ")",
                  "oneDNN's dst " + expected_found(shape_str(want) + " as infer_shapes says", shape_str(dst_md.dims())),
                  "a deconvscope bug: please report it with the config");
    md = dst_md;
  }
  diff_logits_mem_ = memory(md, ctx_.eng);  // plain (N, classes): fc output is nc
  // The network is defined the moment it is built: every primitive's weights and bias,
  // in whatever layout and type oneDNN chose (a reordered bcda or blocked copy on AVX-512,
  // the plain one on AVX2), hold the master parameters (zeros until init or import)
  // before the first forward. Without this a freshly allocated reordered copy is read
  // unwritten (seen as nan logits on AVX-512 only).
  sync_params();
}

Error Network::run_error(size_t i, const dnnl::error& e, const std::string& pass) const {
  // Primitives that were created for these very shapes and then fail to run: ours or oneDNN's bug.
  return layer_dnnl_error(specs_[i], e, "in " + pass, src_of(i).get_desc().dims(),
                          layers_[i]->dst().get_desc().dims(), ErrorKind::internal,
                          "a deconvscope or oneDNN bug: please report it with the config");
}

int rectified_output_layer(const std::vector<LayerSpec>& specs, int conv) {
  const size_t next = size_t(conv) + 1;
  return next < specs.size() && specs[next].type == LayerType::relu ? int(next) : conv;
}

int Network::find(const std::string& name) const {
  for (size_t i = 0; i < specs_.size(); ++i)
    if (specs_[i].name == name) return static_cast<int>(i);
  return -1;
}

void Network::forward(const float* input, Mode mode, int last) {
  std::memcpy(input_mem_.get_data_handle(), input, input_md_.get_size());
  const size_t end = last < 0 ? layers_.size() : size_t(last) + 1;
  for (size_t i = 0; i < end; ++i) {
    if (!profiling_) {
      try {
        layers_[i]->forward(ctx_, src_of(i), mode);
      } catch (const dnnl::error& e) {
        throw run_error(i, e, "forward");
      }
      continue;
    }
    const auto t0 = std::chrono::steady_clock::now();
    try {
      layers_[i]->forward(ctx_, src_of(i), mode);
      ctx_.strm.wait();
    } catch (const dnnl::error& e) {
      throw run_error(i, e, "forward");
    }
    times_[i].forward += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    ++times_[i].calls;
  }
  ctx_.strm.wait();
}

const float* Network::logits() const { return static_cast<const float*>(layers_.back()->dst().get_data_handle()); }

void Network::backward(const float* diff_logits, const std::function<void(size_t)>& on_grads) {
  std::memcpy(diff_logits_mem_.get_data_handle(), diff_logits, diff_logits_mem_.get_desc().get_size());
  memory diff = diff_logits_mem_;
  for (size_t i = layers_.size(); i-- > 0;) {
    const auto t0 = std::chrono::steady_clock::now();
    try {
      layers_[i]->backward(ctx_, src_of(i), diff, /*need_diff_src =*/i > 0);
    } catch (const dnnl::error& e) {
      throw run_error(i, e, "backward");
    }
    if (profiling_) {
      ctx_.strm.wait();
      times_[i].backward += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    }
    diff = layers_[i]->diff_src();
    if (on_grads) on_grads(i);  // grads() land synchronously (read_plain waits)
  }
  ctx_.strm.wait();
}

void Network::read_output(int i, Tensor& out) {
  const LayerShape& s = shapes_.at(size_t(i));
  const bool flat = layers_[size_t(i)]->dst().get_desc().dims().size() == 2;
  out.dims = flat ? std::vector<int64_t>{batch_, s.channels} : std::vector<int64_t>{batch_, s.channels, s.height, s.width};
  out.data.resize(Tensor::count(out.dims));
  read_plain(ctx_, layers_[size_t(i)]->dst(), plain_md(s, batch_, flat), out);
}

void Network::channel_maxima(int i, int n, float* best, int32_t* where) const {
  const memory& mem = layers_.at(size_t(i))->dst();
  const memory::desc md = mem.get_desc();
  const auto& blk = md.data.format_desc.blocking;
  const memory::dims d = md.dims();  // (N, C, H, W)
  if (md.data.format_kind != dnnl_blocked || d.size() != 4 || md.data_type() != memory::data_type::f32 ||
      blk.inner_nblks > 1 || (blk.inner_nblks == 1 && blk.inner_idxs[0] != 1))
    throw Error(ErrorKind::usage, "layer " + specs_[size_t(i)].name,
                "channel_maxima: an output layout other than plain or channel-blocked float32");
  const int64_t C = d[1], H = d[2], W = d[3];
  const int64_t B = blk.inner_nblks == 1 ? blk.inner_blks[0] : 1;  // channels per block
  const int64_t s_n = blk.strides[0], s_cb = blk.strides[1], s_h = blk.strides[2], s_w = blk.strides[3];
  const float* base = static_cast<const float*>(mem.get_data_handle()) + md.data.offset0;
  const int64_t blocks = (C + B - 1) / B;
#pragma omp parallel for schedule(static)
  for (int64_t cb = 0; cb < blocks; ++cb) {
    const int64_t c0 = cb * B, width = std::min(B, C - c0);
    for (int b = 0; b < n; ++b) {
      float* bb = best + b * C + c0;
      int32_t* wb = where + b * C + c0;
      std::fill(bb, bb + width, -std::numeric_limits<float>::infinity());
      std::fill(wb, wb + width, 0);
      const float* p = base + b * s_n + cb * s_cb;
      for (int64_t y = 0; y < H; ++y)
        for (int64_t x = 0; x < W; ++x) {
          const float* q = p + y * s_h + x * s_w;
          for (int64_t j = 0; j < width; ++j)
            if (q[j] > bb[j]) {  // strict: the first maximum in row-major order wins
              bb[j] = q[j];
              wb[j] = int32_t(y * W + x);
            }
        }
    }
  }
}

void Network::project(int top, const float* signal, float* out) {
  if (top < 0 || size_t(top) >= layers_.size())
    throw Error(ErrorKind::usage, "deconvnet",
                expected_found("a layer index below " + std::to_string(layers_.size()), std::to_string(top)));
  // Checked before the signal is reordered: an fc output is 2-D and the reorder from the
  // plain (N, C, H, W) signal would fail with a bare dnnl::error.
  for (int i = 0; i <= top; ++i)
    if (specs_[size_t(i)].type == LayerType::fc)
      throw Error(ErrorKind::usage, "layer " + specs_[size_t(i)].name,
                  "the deconvnet projects conv-layer activations; it does not pass through fc layers",
                  "choose a layer below the first fc layer");
  const Layer& t = *layers_[size_t(top)];
  // The signal enters in the layout the layer produced its output in.
  const memory::desc top_md = t.dst().get_desc();
  if (!signal_mem_ || signal_mem_.get_desc() != top_md) signal_mem_ = memory(top_md, ctx_.eng);
  memory plain(plain_md(shapes_[size_t(top)], batch_, false), ctx_.eng, const_cast<float*>(signal));
  dnnl::reorder(plain, signal_mem_).execute(ctx_.strm, plain, signal_mem_);
  memory sig = signal_mem_;
  for (int i = top; i >= 0; --i) {
    try {
      layers_[size_t(i)]->deconvnet(ctx_, sig);
    } catch (const dnnl::error& e) {
      throw run_error(size_t(i), e, "the deconvnet step");
    }
    sig = layers_[size_t(i)]->diff_src();
  }
  memory result(input_md_, ctx_.eng, out);
  dnnl::reorder(sig, result).execute(ctx_.strm, sig, result);
  ctx_.strm.wait();
}

std::vector<LayerParams> Network::export_params() const {
  std::vector<LayerParams> out;
  for (const auto& l : layers_) out.push_back(l->params());
  return out;
}

void Network::import_params(const std::vector<LayerParams>& params) {
  if (params.size() != layers_.size())
    throw Error(ErrorKind::shape, "network", expected_found(std::to_string(layers_.size()) + " layers",
                                                            std::to_string(params.size())));
  for (size_t i = 0; i < layers_.size(); ++i) {
    LayerParams& mine = layers_[i]->params();
    const LayerParams& theirs = params[i];
    if (mine.weights.dims != theirs.weights.dims || mine.bias.dims != theirs.bias.dims)
      throw Error(ErrorKind::shape, "layer " + specs_[i].name,
                  "weights " + expected_found(shape_str(mine.weights.dims), shape_str(theirs.weights.dims)));
    mine = theirs;
  }
  sync_params();
}

std::vector<ResolvedConv> Network::resolved_convs() const {
  std::string text;
  for (size_t i = 0; i < specs_.size(); ++i)
    if (specs_[i].type == LayerType::conv)
      text += (text.empty() ? "" : ",") + specs_[i].name + "=" + layers_[i]->algorithm();
  return parse_resolved_convs(text, "the network's conv algorithms");
}

void Network::set_profiling(bool on) {
  profiling_ = on;
  times_.assign(layers_.size(), LayerTime{});
}

void Network::sync_params() {
  for (auto& l : layers_) l->sync_params(ctx_);
  ctx_.strm.wait();
}

}  // namespace ds
