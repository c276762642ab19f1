// Plain-loop reference layers and deconvnet; see naive.hpp. Every loop follows the
// formula in the header, in double where sums are long, so that the reference is the
// more accurate side of every comparison.
#include "model/naive.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>

namespace ds::naive {

namespace {

// Flat index of (a, b, c, d) in a 4-D row-major tensor with dims (A, B, C, D).
inline size_t at4(const std::vector<int64_t>& d, int64_t a, int64_t b, int64_t c, int64_t e) {
  return size_t(((a * d[1] + b) * d[2] + c) * d[3] + e);
}

void require(bool ok, const char* what) {
  if (!ok) throw std::invalid_argument(std::string("naive reference: ") + what);
}

// Features per image of an activation tensor (C*H*W or C).
int64_t per_image(const Tensor& t) { return int64_t(t.size()) / t.dims[0]; }

// LRN window of channel c: [c - (size-1)/2, c + size/2], clipped to [0, C).
void lrn_window(int64_t c, int size, int64_t C, int64_t& lo, int64_t& hi) {
  lo = std::max<int64_t>(0, c - (size - 1) / 2);
  hi = std::min<int64_t>(C - 1, c + size / 2);
}

}  // namespace

int window_out(int in, int kernel, int stride, int pad) { return (in + 2 * pad - kernel) / stride + 1; }

Tensor conv_forward(const Tensor& src, const Tensor& w, const Tensor& bias, Pair stride, Pair pad) {
  require(src.dims.size() == 4 && w.dims.size() == 4 && w.dims[1] == src.dims[1], "conv shapes");
  const int64_t N = src.dims[0], C = src.dims[1], H = src.dims[2], W = src.dims[3];
  const int64_t O = w.dims[0], KH = w.dims[2], KW = w.dims[3];
  const int64_t OH = window_out(int(H), int(KH), stride[0], pad[0]);
  const int64_t OW = window_out(int(W), int(KW), stride[1], pad[1]);
  Tensor dst({N, O, OH, OW});
  for (int64_t n = 0; n < N; ++n)
    for (int64_t o = 0; o < O; ++o)
      for (int64_t y = 0; y < OH; ++y)
        for (int64_t x = 0; x < OW; ++x) {
          double acc = bias.empty() ? 0.0 : bias.data[size_t(o)];
          for (int64_t c = 0; c < C; ++c)
            for (int64_t i = 0; i < KH; ++i)
              for (int64_t j = 0; j < KW; ++j) {
                const int64_t sy = y * stride[0] + i - pad[0], sx = x * stride[1] + j - pad[1];
                if (sy < 0 || sy >= H || sx < 0 || sx >= W) continue;  // zero padding
                acc += double(src.data[at4(src.dims, n, c, sy, sx)]) * w.data[at4(w.dims, o, c, i, j)];
              }
          dst.data[at4(dst.dims, n, o, y, x)] = float(acc);
        }
  return dst;
}

Tensor conv_backward_data(const Tensor& diff_dst, const Tensor& w, const std::vector<int64_t>& src_dims,
                          Pair stride, Pair pad) {
  require(diff_dst.dims.size() == 4 && src_dims.size() == 4 && w.dims[0] == diff_dst.dims[1], "conv bwd data shapes");
  const int64_t N = src_dims[0], C = src_dims[1], H = src_dims[2], W = src_dims[3];
  const int64_t O = w.dims[0], KH = w.dims[2], KW = w.dims[3];
  const int64_t OH = diff_dst.dims[2], OW = diff_dst.dims[3];
  std::vector<double> acc(Tensor::count(src_dims), 0.0);
  for (int64_t n = 0; n < N; ++n)
    for (int64_t o = 0; o < O; ++o)
      for (int64_t y = 0; y < OH; ++y)
        for (int64_t x = 0; x < OW; ++x) {
          const double g = diff_dst.data[at4(diff_dst.dims, n, o, y, x)];
          for (int64_t c = 0; c < C; ++c)
            for (int64_t i = 0; i < KH; ++i)
              for (int64_t j = 0; j < KW; ++j) {
                const int64_t sy = y * stride[0] + i - pad[0], sx = x * stride[1] + j - pad[1];
                if (sy < 0 || sy >= H || sx < 0 || sx >= W) continue;
                acc[at4(src_dims, n, c, sy, sx)] += g * w.data[at4(w.dims, o, c, i, j)];
              }
        }
  Tensor diff_src(src_dims);
  std::copy(acc.begin(), acc.end(), diff_src.data.begin());
  return diff_src;
}

void conv_backward_weights(const Tensor& src, const Tensor& diff_dst, const std::vector<int64_t>& w_dims,
                           Pair stride, Pair pad, Tensor& diff_w, Tensor& diff_b) {
  const int64_t N = src.dims[0], C = src.dims[1], H = src.dims[2], W = src.dims[3];
  const int64_t O = w_dims[0], KH = w_dims[2], KW = w_dims[3];
  const int64_t OH = diff_dst.dims[2], OW = diff_dst.dims[3];
  std::vector<double> dw(Tensor::count(w_dims), 0.0), db(size_t(O), 0.0);
  for (int64_t n = 0; n < N; ++n)
    for (int64_t o = 0; o < O; ++o)
      for (int64_t y = 0; y < OH; ++y)
        for (int64_t x = 0; x < OW; ++x) {
          const double g = diff_dst.data[at4(diff_dst.dims, n, o, y, x)];
          db[size_t(o)] += g;
          for (int64_t c = 0; c < C; ++c)
            for (int64_t i = 0; i < KH; ++i)
              for (int64_t j = 0; j < KW; ++j) {
                const int64_t sy = y * stride[0] + i - pad[0], sx = x * stride[1] + j - pad[1];
                if (sy < 0 || sy >= H || sx < 0 || sx >= W) continue;
                dw[at4(w_dims, o, c, i, j)] += g * src.data[at4(src.dims, n, c, sy, sx)];
              }
        }
  diff_w = Tensor(w_dims);
  std::copy(dw.begin(), dw.end(), diff_w.data.begin());
  diff_b = Tensor({O});
  std::copy(db.begin(), db.end(), diff_b.data.begin());
}

Tensor relu_forward(const Tensor& src) {
  Tensor dst = src;
  for (float& v : dst.data) v = std::max(v, 0.f);
  return dst;
}

Tensor relu_backward(const Tensor& src, const Tensor& diff_dst) {
  Tensor diff_src = diff_dst;
  for (size_t i = 0; i < src.size(); ++i)
    if (!(src.data[i] > 0.f)) diff_src.data[i] = 0.f;
  return diff_src;
}

PoolResult maxpool_forward(const Tensor& src, Pair kernel, Pair stride, Pair pad) {
  require(src.dims.size() == 4, "maxpool wants (N, C, H, W)");
  const int64_t N = src.dims[0], C = src.dims[1], H = src.dims[2], W = src.dims[3];
  const int64_t OH = window_out(int(H), kernel[0], stride[0], pad[0]);
  const int64_t OW = window_out(int(W), kernel[1], stride[1], pad[1]);
  PoolResult r{Tensor({N, C, OH, OW}), {}};
  r.switches.resize(r.dst.size());
  for (int64_t n = 0; n < N; ++n)
    for (int64_t c = 0; c < C; ++c)
      for (int64_t y = 0; y < OH; ++y)
        for (int64_t x = 0; x < OW; ++x) {
          float best = -std::numeric_limits<float>::infinity();
          int64_t arg = -1;
          for (int64_t i = 0; i < kernel[0]; ++i)
            for (int64_t j = 0; j < kernel[1]; ++j) {
              const int64_t sy = y * stride[0] + i - pad[0], sx = x * stride[1] + j - pad[1];
              if (sy < 0 || sy >= H || sx < 0 || sx >= W) continue;  // padding is -inf
              const size_t k = at4(src.dims, n, c, sy, sx);
              if (arg < 0 || src.data[k] > best) {  // strict: the first maximum wins
                best = src.data[k];
                arg = int64_t(k);
              }
            }
          require(arg >= 0, "a pooling window made only of padding");
          const size_t d = at4(r.dst.dims, n, c, y, x);
          r.dst.data[d] = best;
          r.switches[d] = arg;
        }
  return r;
}

Tensor maxpool_backward(const Tensor& diff_dst, const std::vector<int64_t>& switches,
                        const std::vector<int64_t>& src_dims) {
  require(switches.size() == diff_dst.size(), "one switch per pooled value");
  std::vector<double> acc(Tensor::count(src_dims), 0.0);
  for (size_t k = 0; k < switches.size(); ++k) acc[size_t(switches[k])] += diff_dst.data[k];
  Tensor diff_src(src_dims);
  std::copy(acc.begin(), acc.end(), diff_src.data.begin());
  return diff_src;
}

Tensor lrn_forward(const Tensor& src, int size, float alpha, float beta, float k) {
  require(src.dims.size() == 4, "lrn wants (N, C, H, W)");
  const int64_t N = src.dims[0], C = src.dims[1], H = src.dims[2], W = src.dims[3];
  Tensor dst(src.dims);
  for (int64_t n = 0; n < N; ++n)
    for (int64_t c = 0; c < C; ++c)
      for (int64_t y = 0; y < H; ++y)
        for (int64_t x = 0; x < W; ++x) {
          int64_t lo, hi;
          lrn_window(c, size, C, lo, hi);
          double sum = 0;
          for (int64_t q = lo; q <= hi; ++q) {
            const double v = src.data[at4(src.dims, n, q, y, x)];
            sum += v * v;
          }
          const double d = k + double(alpha) / size * sum;
          dst.data[at4(src.dims, n, c, y, x)] = float(src.data[at4(src.dims, n, c, y, x)] * std::pow(d, -double(beta)));
        }
  return dst;
}

Tensor lrn_backward(const Tensor& src, const Tensor& diff_dst, int size, float alpha, float beta, float k) {
  const int64_t N = src.dims[0], C = src.dims[1], H = src.dims[2], W = src.dims[3];
  const double a = double(alpha) / size, b = beta;
  Tensor diff_src(src.dims);
  std::vector<double> D(static_cast<size_t>(C));
  for (int64_t n = 0; n < N; ++n)
    for (int64_t y = 0; y < H; ++y)
      for (int64_t x = 0; x < W; ++x) {
        auto s = [&](int64_t c) { return double(src.data[at4(src.dims, n, c, y, x)]); };
        auto g = [&](int64_t c) { return double(diff_dst.data[at4(src.dims, n, c, y, x)]); };
        for (int64_t c = 0; c < C; ++c) {
          int64_t lo, hi;
          lrn_window(c, size, C, lo, hi);
          double sum = 0;
          for (int64_t q = lo; q <= hi; ++q) sum += s(q) * s(q);
          D[size_t(c)] = k + a * sum;
        }
        std::vector<double> acc(size_t(C), 0.0);
        for (int64_t c = 0; c < C; ++c) {
          acc[size_t(c)] += g(c) * std::pow(D[size_t(c)], -b);
          // y_c depends on every src[j] with j in W(c) through D_c.
          int64_t lo, hi;
          lrn_window(c, size, C, lo, hi);
          const double common = g(c) * s(c) * std::pow(D[size_t(c)], -b - 1.0);
          for (int64_t j = lo; j <= hi; ++j) acc[size_t(j)] -= 2.0 * b * a * s(j) * common;
        }
        for (int64_t c = 0; c < C; ++c) diff_src.data[at4(src.dims, n, c, y, x)] = float(acc[size_t(c)]);
      }
  return diff_src;
}

Tensor fc_forward(const Tensor& src, const Tensor& w, const Tensor& bias) {
  const int64_t N = src.dims[0], I = per_image(src), O = w.dims[0];
  require(w.dims.size() == 2 && w.dims[1] == I, "fc weights must be (O, C*H*W)");
  Tensor dst({N, O});
  for (int64_t n = 0; n < N; ++n)
    for (int64_t o = 0; o < O; ++o) {
      double acc = bias.empty() ? 0.0 : bias.data[size_t(o)];
      for (int64_t i = 0; i < I; ++i) acc += double(w.data[size_t(o * I + i)]) * src.data[size_t(n * I + i)];
      dst.data[size_t(n * O + o)] = float(acc);
    }
  return dst;
}

void fc_backward(const Tensor& src, const Tensor& w, const Tensor& diff_dst, Tensor& diff_src, Tensor& diff_w,
                 Tensor& diff_b) {
  const int64_t N = src.dims[0], I = per_image(src), O = w.dims[0];
  std::vector<double> ds(src.size(), 0.0), dw(w.size(), 0.0), db(size_t(O), 0.0);
  for (int64_t n = 0; n < N; ++n)
    for (int64_t o = 0; o < O; ++o) {
      const double g = diff_dst.data[size_t(n * O + o)];
      db[size_t(o)] += g;
      for (int64_t i = 0; i < I; ++i) {
        ds[size_t(n * I + i)] += g * w.data[size_t(o * I + i)];
        dw[size_t(o * I + i)] += g * src.data[size_t(n * I + i)];
      }
    }
  diff_src = Tensor(src.dims);
  std::copy(ds.begin(), ds.end(), diff_src.data.begin());
  diff_w = Tensor(w.dims);
  std::copy(dw.begin(), dw.end(), diff_w.data.begin());
  diff_b = Tensor({O});
  std::copy(db.begin(), db.end(), diff_b.data.begin());
}

double softmax_cross_entropy(const Tensor& logits, const std::vector<int32_t>& labels, Tensor* diff) {
  const int64_t N = logits.dims[0], K = logits.dims[1];
  require(int64_t(labels.size()) == N, "one label per row");
  int valid = 0;
  for (int32_t l : labels) valid += l >= 0;
  if (diff) *diff = Tensor(logits.dims);
  double total = 0;
  for (int64_t n = 0; n < N; ++n) {
    if (labels[size_t(n)] < 0) continue;
    double m = -std::numeric_limits<double>::infinity();
    for (int64_t j = 0; j < K; ++j) m = std::max(m, double(logits.data[size_t(n * K + j)]));
    double z = 0;
    for (int64_t j = 0; j < K; ++j) z += std::exp(double(logits.data[size_t(n * K + j)]) - m);
    const double log_z = m + std::log(z);
    total += log_z - logits.data[size_t(n * K + labels[size_t(n)])];
    if (diff)
      for (int64_t j = 0; j < K; ++j) {
        const double p = std::exp(double(logits.data[size_t(n * K + j)]) - log_z);
        diff->data[size_t(n * K + j)] = float((p - (j == labels[size_t(n)] ? 1.0 : 0.0)) / valid);
      }
  }
  return valid > 0 ? total / valid : 0.0;
}

namespace {

// t, or a copy of it through round when there is one.
Tensor stored(const Tensor& t, const Rounding& round, Stored what, const LayerSpec& spec) {
  Tensor out = t;
  if (round) round(out, what, spec);
  return out;
}

}  // namespace

Trace forward(const std::vector<LayerSpec>& specs, const std::vector<LayerParams>& params, const Tensor& input,
              const Rounding& round) {
  require(params.size() == specs.size(), "one LayerParams per layer");
  Trace t;
  const Tensor* x = &input;
  for (size_t i = 0; i < specs.size(); ++i) {
    const LayerSpec& s = specs[i];
    std::vector<int64_t> sw;
    Tensor y;
    switch (s.type) {
      case LayerType::conv:
        y = conv_forward(stored(*x, round, Stored::src, s), stored(params[i].weights, round, Stored::weights, s),
                         params[i].bias, s.stride, s.pad);
        break;
      case LayerType::relu: y = relu_forward(*x); break;
      case LayerType::maxpool: {
        PoolResult r = maxpool_forward(*x, s.kernel, s.stride, s.pad);
        y = std::move(r.dst);
        sw = std::move(r.switches);
        break;
      }
      case LayerType::lrn: y = lrn_forward(*x, s.size, s.alpha, s.beta, s.k); break;
      case LayerType::fc:
        y = fc_forward(stored(*x, round, Stored::src, s), stored(params[i].weights, round, Stored::weights, s),
                       params[i].bias);
        break;
      case LayerType::dropout: y = *x; break;  // evaluation
    }
    if (round) round(y, Stored::output, s);
    t.outputs.push_back(std::move(y));
    t.switches.push_back(std::move(sw));
    x = &t.outputs.back();
  }
  return t;
}

Gradients backward(const std::vector<LayerSpec>& specs, const std::vector<LayerParams>& params,
                   const Trace& trace, const Tensor& input, const Tensor& diff_logits, const Rounding& round,
                   std::vector<Tensor>* diffs) {
  require(diff_logits.dims == trace.outputs.back().dims, "diff_logits has the dims of the logits");
  Gradients g;
  g.params.resize(specs.size());
  if (diffs) diffs->assign(specs.size(), Tensor{});
  Tensor diff = diff_logits;  // d loss / d (output of layer i)
  for (size_t i = specs.size(); i-- > 0;) {
    const LayerSpec& s = specs[i];
    if (diffs) (*diffs)[i] = diff;
    if (round) round(diff, Stored::diff, s);
    const Tensor& src = i == 0 ? input : trace.outputs[i - 1];
    switch (s.type) {
      case LayerType::conv: {
        const Tensor x = stored(src, round, Stored::src, s), w = stored(params[i].weights, round, Stored::weights, s);
        conv_backward_weights(x, diff, params[i].weights.dims, s.stride, s.pad, g.params[i].weights, g.params[i].bias);
        diff = conv_backward_data(diff, w, src.dims, s.stride, s.pad);
        break;
      }
      case LayerType::relu: diff = relu_backward(src, diff); break;
      case LayerType::maxpool: diff = maxpool_backward(diff, trace.switches[i], src.dims); break;
      case LayerType::lrn: diff = lrn_backward(src, diff, s.size, s.alpha, s.beta, s.k); break;
      case LayerType::fc: {
        Tensor diff_src;
        fc_backward(stored(src, round, Stored::src, s), stored(params[i].weights, round, Stored::weights, s), diff,
                    diff_src, g.params[i].weights, g.params[i].bias);
        diff = std::move(diff_src);
        break;
      }
      case LayerType::dropout: break;  // evaluation: the identity
    }
  }
  g.input = std::move(diff);
  return g;
}

Tensor deconvnet(const std::vector<LayerSpec>& specs, const std::vector<LayerParams>& params,
                 const Trace& trace, const Tensor& input, int top, const Tensor& signal) {
  require(top >= 0 && size_t(top) < specs.size(), "top is a layer index");
  require(signal.dims == trace.outputs[size_t(top)].dims, "the signal has the dims of the top layer's output");
  Tensor r = signal;
  for (int i = top; i >= 0; --i) {
    const LayerSpec& s = specs[size_t(i)];
    const std::vector<int64_t>& below = i == 0 ? input.dims : trace.outputs[size_t(i) - 1].dims;
    switch (s.type) {
      case LayerType::relu: r = relu_forward(r); break;  // rectify
      case LayerType::conv:                                // transposed filter, no bias
        r = conv_backward_data(r, params[size_t(i)].weights, below, s.stride, s.pad);
        break;
      case LayerType::maxpool: r = maxpool_backward(r, trace.switches[size_t(i)], below); break;  // unpool
      case LayerType::lrn:
      case LayerType::dropout: break;  // pass through
      case LayerType::fc: require(false, "the deconvnet does not pass through fc"); break;
    }
  }
  return r;
}

}  // namespace ds::naive
