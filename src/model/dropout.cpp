// Dropout (inverted: kept values are scaled by 1/(1-rate) in training, identity in
// evaluation). The mask is a pure function of (seed, step, layer, element), so a resumed
// run draws exactly the masks the uninterrupted run drew, with no RNG state to save.
#include <cstring>

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

class DropoutLayer final : public Layer {
 public:
  using Layer::Layer;

  memory::desc init(Ctx& ctx, const memory::desc& src_md, const LayerShape&) override {
    own_dst_ = memory(src_md, ctx.eng);
    mask_ = memory(src_md, ctx.eng);
    grad_ = memory(src_md, ctx.eng);
    count_ = src_md.get_size() / sizeof(float);
    return src_md;
  }

  void forward(Ctx& ctx, const memory& src, Mode mode) override {
    if (mode != Mode::train || spec_.rate <= 0.f) {
      dst_ = src;  // identity in evaluation
      return;
    }
    ctx.strm.wait();
    dst_ = own_dst_;
    const float* x = static_cast<const float*>(src.get_data_handle());
    float* y = static_cast<float*>(dst_.get_data_handle());
    float* m = static_cast<float*>(mask_.get_data_handle());
    const float keep = 1.f - spec_.rate, scale = 1.f / keep;
    const uint64_t base = splitmix64(ctx.seed ^ splitmix64(ctx.step ^ hash_name(spec_.name)));
    // keep * 2^64 as an integer. A rate so small that 1 - rate is 1 would overflow the
    // conversion (undefined; on x86 it gave 0 and dropped everything): saturate instead.
    const double two64 = 18446744073709551616.0, keep_scaled = (1.0 - double(spec_.rate)) * two64;
    const uint64_t threshold = keep_scaled >= two64 ? UINT64_MAX : static_cast<uint64_t>(keep_scaled);
    const int64_t n = static_cast<int64_t>(count_);
#pragma omp parallel for
    for (int64_t i = 0; i < n; ++i) {
      m[i] = splitmix64(base + static_cast<uint64_t>(i)) < threshold ? scale : 0.f;
      y[i] = x[i] * m[i];
    }
  }

  void backward(Ctx& ctx, const memory&, const memory& diff_dst, bool) override {
    if (spec_.rate <= 0.f) {
      diff_src_ = diff_dst;
      return;
    }
    ctx.strm.wait();
    diff_src_ = grad_;
    const float* g = static_cast<const float*>(diff_dst.get_data_handle());
    const float* m = static_cast<const float*>(mask_.get_data_handle());
    float* d = static_cast<float*>(diff_src_.get_data_handle());
    const int64_t n = static_cast<int64_t>(count_);
#pragma omp parallel for
    for (int64_t i = 0; i < n; ++i) d[i] = g[i] * m[i];
  }

  void deconvnet(Ctx&, const memory& signal) override { diff_src_ = signal; }

 private:
  memory own_dst_, mask_, grad_;
  size_t count_ = 0;
};

}  // namespace

std::unique_ptr<Layer> make_dropout_layer(const LayerSpec& spec) { return std::make_unique<DropoutLayer>(spec); }

}  // namespace ds
