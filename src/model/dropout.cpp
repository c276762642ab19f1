// Dropout (inverted: kept values are scaled by 1/(1-rate) in training, identity in
// evaluation). The mask is a pure function of (seed, step, layer, element), so a resumed
// run draws exactly the masks the uninterrupted run drew, with no RNG state to save; the
// element is counted in the global batch, so MPI ranks draw one process's masks.
#include <cstring>
#include <vector>

#include "deconvscope/core/error.hpp"
#include "deconvscope/model/layer.hpp"

namespace ds {

using dnnl::memory;

namespace {

uint64_t splitmix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

uint64_t hash_name(const std::string& s) {
  uint64_t h = 1469598103934665603ull;  // FNV-1a
  for (unsigned char c : s) h = (h ^ c) * 1099511628211ull;
  return h;
}

// bfloat16 is the upper half of a float32; rounding to nearest even on the way down.
float bf16_to_f32(uint16_t h) {
  const uint32_t u = uint32_t(h) << 16;
  float f;
  std::memcpy(&f, &u, sizeof f);
  return f;
}
uint16_t f32_to_bf16(float f) {
  uint32_t u;
  std::memcpy(&u, &f, sizeof u);
  u += 0x7fffu + ((u >> 16) & 1u);
  return uint16_t(u >> 16);
}

// out[i] = in[i] * mask[i] over the raw buffers of an f32 or bf16 memory (same layout).
void scale_by_mask(const memory& in, const std::vector<float>& mask, memory& out) {
  const int64_t n = static_cast<int64_t>(mask.size());
  if (in.get_desc().data_type() == memory::data_type::bf16) {
    const uint16_t* x = static_cast<const uint16_t*>(in.get_data_handle());
    uint16_t* y = static_cast<uint16_t*>(out.get_data_handle());
#pragma omp parallel for
    for (int64_t i = 0; i < n; ++i) y[i] = f32_to_bf16(bf16_to_f32(x[i]) * mask[size_t(i)]);
    return;
  }
  const float* x = static_cast<const float*>(in.get_data_handle());
  float* y = static_cast<float*>(out.get_data_handle());
#pragma omp parallel for
  for (int64_t i = 0; i < n; ++i) y[i] = x[i] * mask[size_t(i)];
}

class DropoutLayer final : public Layer {
 public:
  using Layer::Layer;

  memory::desc init(Ctx& ctx, const memory::desc& src_md, const LayerShape&) override {
    own_dst_ = memory(src_md, ctx.eng);
    grad_ = memory(src_md, ctx.eng);
    // Elements of the buffer (padding of a blocked layout included: the mask is positional).
    const size_t elem = src_md.data_type() == memory::data_type::bf16 ? 2 : 4;
    mask_.assign(src_md.get_size() / elem, 0.f);
    // Under MPI a mask index is offset by the images of the ranks before: that needs the
    // images one after another in the buffer (batch outermost, not blocked), as in nc/nchw.
    const auto& blk = src_md.data.format_desc.blocking;
    const int64_t batch = src_md.dims()[0];
    per_image_ = mask_.size() / size_t(batch);
    batch_outermost_ = src_md.data.format_kind == dnnl_blocked && blk.strides[0] == int64_t(per_image_);
    for (int b = 0; b < blk.inner_nblks; ++b) batch_outermost_ = batch_outermost_ && blk.inner_idxs[b] != 0;
    return src_md;
  }

  void forward(Ctx& ctx, const memory& src, Mode mode) override {
    if (mode != Mode::train || spec_.rate <= 0.f) {
      dst_ = src;  // identity in evaluation
      return;
    }
    ctx.strm.wait();
    dst_ = own_dst_;
    float* m = mask_.data();
    const float keep = 1.f - spec_.rate, scale = 1.f / keep;
    const uint64_t base = splitmix64(ctx.seed ^ splitmix64(ctx.step ^ hash_name(spec_.name)));
    // keep * 2^64 as an integer. A rate so small that 1 - rate is 1 would overflow the
    // conversion (undefined; on x86 it gave 0 and dropped everything): saturate instead.
    const double two64 = 18446744073709551616.0, keep_scaled = (1.0 - double(spec_.rate)) * two64;
    const uint64_t threshold = keep_scaled >= two64 ? UINT64_MAX : static_cast<uint64_t>(keep_scaled);
    const int64_t n = static_cast<int64_t>(mask_.size());
    if (ctx.image_offset != 0 && !batch_outermost_)
      throw Error(ErrorKind::shape, "layer " + spec_.name,
                  "dropout over a batch split across MPI ranks needs the images one after another in its input's "
                  "layout, and oneDNN chose a batch-blocked one",
                  "place dropout after an fc layer, or train in one process");
    // The element's index in the global batch (the same as in the buffer in one process).
    const uint64_t first = base + ctx.image_offset * uint64_t(per_image_);
#pragma omp parallel for
    for (int64_t i = 0; i < n; ++i) m[i] = splitmix64(first + static_cast<uint64_t>(i)) < threshold ? scale : 0.f;
    scale_by_mask(src, mask_, dst_);
  }

  void backward(Ctx& ctx, const memory&, const memory& diff_dst, bool) override {
    if (spec_.rate <= 0.f) {
      diff_src_ = diff_dst;
      return;
    }
    ctx.strm.wait();
    diff_src_ = grad_;
    scale_by_mask(diff_dst, mask_, diff_src_);
  }

  void deconvnet(Ctx&, const memory& signal) override { diff_src_ = signal; }

 private:
  memory own_dst_, grad_;
  std::vector<float> mask_;  // 0 or 1/(1-rate) per element of the buffer
  size_t per_image_ = 0;     // mask elements per image
  bool batch_outermost_ = false;
};

}  // namespace

std::unique_ptr<Layer> make_dropout_layer(const LayerSpec& spec) { return std::make_unique<DropoutLayer>(spec); }

}  // namespace ds
