// The filter-health metrics on plain tensors (see include/deconvscope/analysis/health.hpp):
// RMS, frequency bands of a zero-padded DFT (cv::dft), redundancy as |cosine|, and the
// stride-periodic share of a projection. Plain loops elsewhere: kernels are at most a few
// hundred weights and layers a few hundred filters.
// Left out: what the figures mean for a run (health.cpp) and across runs (report/).
#include <algorithm>
#include <cmath>
#include <limits>
#include <random>

#include <opencv2/core.hpp>

#include "deconvscope/analysis/health.hpp"
#include "deconvscope/core/error.hpp"

namespace ds {

namespace {

constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();

void check_weights(const Tensor& w, const char* what) {
  const auto& d = w.dims;
  if (d.size() != 4 || d[0] < 0 || d[1] <= 0 || d[2] <= 0 || d[3] <= 0 || w.size() != Tensor::count(d))
    throw Error(ErrorKind::shape, what, expected_found("conv weights (O, I, kh, kw) with matching data", shape_str(d)));
}

}  // namespace

std::vector<float> filter_rms(const Tensor& w) {
  check_weights(w, "filter_rms");
  const size_t O = size_t(w.dims[0]), per = w.size() / std::max<size_t>(1, O);
  std::vector<float> out(O);
  for (size_t o = 0; o < O; ++o) {
    double s = 0;
    for (size_t j = 0; j < per; ++j) s += double(w.data[o * per + j]) * w.data[o * per + j];
    out[o] = float(std::sqrt(s / double(per)));
  }
  return out;
}

float median_of(std::vector<float> v) {
  if (v.empty()) return 0.f;
  const size_t mid = v.size() / 2;
  std::nth_element(v.begin(), v.begin() + long(mid), v.end());
  if (v.size() % 2) return v[mid];
  const float upper = v[mid];
  const float lower = *std::max_element(v.begin(), v.begin() + long(mid));
  return 0.5f * (lower + upper);
}

std::vector<FrequencyShares> frequency_shares(const Tensor& w, const HealthThresholds& t) {
  check_weights(w, "frequency_shares");
  const int O = int(w.dims[0]), I = int(w.dims[1]), kh = int(w.dims[2]), kw = int(w.dims[3]);
  // Zero padding samples the kernel's continuous spectrum finely, so that 7x7 and 11x11
  // kernels are measured on the same frequency grid.
  const int N = std::max({t.spectrum_size, kh, kw});
  // The band and radius of every bin, shared by all filters.
  std::vector<float> rho(size_t(N) * N);
  std::vector<int> band(size_t(N) * N);
  for (int u = 0; u < N; ++u)
    for (int v = 0; v < N; ++v) {
      const double fu = double(std::min(u, N - u)) / N, fv = double(std::min(v, N - v)) / N;
      const float r = float(std::sqrt(fu * fu + fv * fv) / 0.5);
      rho[size_t(u) * N + v] = r;
      band[size_t(u) * N + v] = r < t.low_band ? 0 : (r < t.mid_band ? 1 : 2);
    }

  std::vector<FrequencyShares> out(static_cast<size_t>(O));
  std::vector<double> energy(size_t(N) * N);
  cv::Mat padded(N, N, CV_64F), spectrum;  // (N, N): one kernel zero-padded; (N, N, 2): its DFT
  for (int o = 0; o < O; ++o) {
    std::fill(energy.begin(), energy.end(), 0.0);
    for (int c = 0; c < I; ++c) {
      const float* k = w.ptr() + (size_t(o) * I + c) * kh * kw;  // (kh, kw)
      padded.setTo(0.0);
      for (int i = 0; i < kh; ++i)
        for (int j = 0; j < kw; ++j) padded.at<double>(i, j) = k[i * kw + j];
      cv::dft(padded, spectrum, cv::DFT_COMPLEX_OUTPUT);
      for (int u = 0; u < N; ++u) {
        const cv::Vec2d* row = spectrum.ptr<cv::Vec2d>(u);
        for (int v = 0; v < N; ++v) energy[size_t(u) * N + v] += row[v][0] * row[v][0] + row[v][1] * row[v][1];
      }
    }
    double bands[3] = {0, 0, 0}, total = 0, best = -1;
    float peak = kNaN;
    for (size_t b = 0; b < energy.size(); ++b) {
      bands[band[b]] += energy[b];
      total += energy[b];
      // Ties (a symmetric spectrum has pairs) go to the lower frequency.
      if (energy[b] > best * (1 + 1e-9) || (energy[b] >= best * (1 - 1e-9) && rho[b] < peak)) {
        best = energy[b];
        peak = rho[b];
      }
    }
    FrequencyShares& s = out[size_t(o)];
    if (!(total > 0)) {
      s = FrequencyShares{kNaN, kNaN, kNaN, kNaN};
      continue;
    }
    s.low = float(bands[0] / total);
    s.mid = float(bands[1] / total);
    s.high = float(bands[2] / total);
    s.peak = peak;
  }
  return out;
}

std::vector<Redundancy> filter_redundancy(const Tensor& w) {
  check_weights(w, "filter_redundancy");
  const size_t O = size_t(w.dims[0]), per = w.size() / std::max<size_t>(1, O);
  std::vector<double> norm(O);
  for (size_t o = 0; o < O; ++o) {
    double s = 0;
    for (size_t j = 0; j < per; ++j) s += double(w.data[o * per + j]) * w.data[o * per + j];
    norm[o] = std::sqrt(s);
  }
  std::vector<Redundancy> out(O);
  for (size_t a = 0; a < O; ++a) {
    if (!(norm[a] > 0)) continue;
    for (size_t b = a + 1; b < O; ++b) {
      if (!(norm[b] > 0)) continue;
      double dot = 0;
      for (size_t j = 0; j < per; ++j) dot += double(w.data[a * per + j]) * w.data[b * per + j];
      const float c = float(std::min(1.0, std::fabs(dot) / (norm[a] * norm[b])));
      if (c > out[a].max_correlation || out[a].partner < 0) out[a] = Redundancy{c, int32_t(b)};
      if (c > out[b].max_correlation || out[b].partner < 0) out[b] = Redundancy{c, int32_t(a)};
    }
  }
  return out;
}

float chance_redundancy(int filters, int size) {
  if (filters < 2 || size < 1) return 0.f;
  constexpr int kTrials = 8;
  std::mt19937_64 rng(0x5eed);  // fixed: the same layer shape always gets the same figure
  std::normal_distribution<float> normal(0.f, 1.f);
  double sum = 0;
  Tensor w({filters, 1, 1, size});
  for (int t = 0; t < kTrials; ++t) {
    for (float& v : w.data) v = normal(rng);
    for (const Redundancy& r : filter_redundancy(w)) sum += r.max_correlation;
  }
  return float(sum / (double(kTrials) * filters));
}

float stride_periodic_share(const float* proj, int C, int H, int W, const Window& w, int sy, int sx) {
  if (sy < 1 || sx < 1 || (sy == 1 && sx == 1)) return kNaN;
  const int y0 = std::max(0, w.y0), x0 = std::max(0, w.x0);
  const int y1 = std::min(H, w.y1), x1 = std::min(W, w.x1);
  if (y1 <= y0 || x1 <= x0) return kNaN;
  double periodic = 0, total = 0;
  std::vector<double> sum(size_t(sy) * sx);
  std::vector<int64_t> count(size_t(sy) * sx);
  for (int c = 0; c < C; ++c) {
    const float* p = proj + size_t(c) * H * W;  // (H, W)
    std::fill(sum.begin(), sum.end(), 0.0);
    std::fill(count.begin(), count.end(), 0);
    double all = 0;
    for (int y = y0; y < y1; ++y)
      for (int x = x0; x < x1; ++x) {
        const size_t phase = size_t(y % sy) * sx + size_t(x % sx);
        sum[phase] += p[size_t(y) * W + x];
        ++count[phase];
        all += p[size_t(y) * W + x];
      }
    const double n = double(y1 - y0) * double(x1 - x0);
    const double mean = all / n;
    for (int y = y0; y < y1; ++y)
      for (int x = x0; x < x1; ++x) {
        const double d = p[size_t(y) * W + x] - mean;
        total += d * d;
      }
    for (size_t ph = 0; ph < sum.size(); ++ph)
      if (count[ph] > 0) {
        const double d = sum[ph] / double(count[ph]) - mean;
        periodic += double(count[ph]) * d * d;  // every pixel of that phase carries the phase mean
      }
  }
  if (!(total > 0)) return kNaN;
  return float(std::min(1.0, periodic / total));
}

float stride_noise_share(int H, int W, const Window& w, int sy, int sx) {
  if (sy < 1 || sx < 1 || (sy == 1 && sx == 1)) return kNaN;
  const int64_t h = std::min(H, w.y1) - std::max(0, w.y0), wd = std::min(W, w.x1) - std::max(0, w.x0);
  if (h <= 0 || wd <= 0 || h * wd < 2) return kNaN;
  const int64_t phases = int64_t(std::min<int64_t>(sy, h)) * std::min<int64_t>(sx, wd);
  return float(double(phases - 1) / double(h * wd - 1));
}

LayerEpochSummary summarize(const LayerHealth& l, const HealthThresholds& t, size_t e) {
  LayerEpochSummary s;
  const size_t O = size_t(l.filters);
  s.filters = l.filters;
  if (O == 0) return s;
  const size_t base = e * O;
  s.median_rms = e < l.median_rms.size() ? l.median_rms[e] : 0.f;
  auto frac = [&](const std::vector<uint8_t>& flags) {
    if (flags.size() < base + O) return kNaN;
    size_t n = 0;
    for (size_t o = 0; o < O; ++o) n += flags[base + o] ? 1 : 0;
    return float(double(n) / double(O));
  };
  s.dead = frac(l.dead);
  s.never_fires = frac(l.never_fires);
  s.collapsed = frac(l.collapsed);
  s.dominating = frac(l.dominating);
  double corr = 0;
  size_t redundant = 0;
  float max_rms = 0;
  for (size_t o = 0; o < O && base + o < l.max_correlation.size(); ++o) {
    corr += l.max_correlation[base + o];
    redundant += l.max_correlation[base + o] >= t.redundant_correlation ? 1 : 0;
  }
  for (size_t o = 0; o < O && base + o < l.rms.size(); ++o) max_rms = std::max(max_rms, l.rms[base + o]);
  s.mean_max_correlation = float(corr / double(O));
  s.chance_correlation = l.chance_correlation;
  s.redundant = float(double(redundant) / double(O));
  s.max_rms_ratio = s.median_rms > 0 ? max_rms / s.median_rms : kNaN;
  if (l.is_first() && l.low_share.size() >= base + O) {
    // Mean shares over the live filters: dead ones carry no information about the layer.
    double lo = 0, mi = 0, hi = 0;
    size_t n = 0;
    for (size_t o = 0; o < O; ++o) {
      if ((l.dead.size() >= base + O && l.dead[base + o]) || !std::isfinite(l.low_share[base + o])) continue;
      lo += l.low_share[base + o];
      mi += l.mid_share[base + o];
      hi += l.high_share[base + o];
      ++n;
    }
    if (n > 0) {
      s.low = float(lo / double(n));
      s.mid = float(mi / double(n));
      s.high = float(hi / double(n));
    }
    s.mid_coverage = e < l.mid_coverage.size() ? l.mid_coverage[e] : kNaN;
  }
  if (l.has_aliasing() && e < l.aliasing_mean.size()) s.aliasing = l.aliasing_mean[e];
  if (l.has_aliasing() && e < l.aliasing_noise.size()) s.aliasing_noise = l.aliasing_noise[e];
  return s;
}

}  // namespace ds
