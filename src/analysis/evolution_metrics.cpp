// Jump and convergence figures of the analysed conv layers; the definitions are in
// include/deconvscope/analysis/evolution_metrics.hpp. Pure arithmetic over the scan's
// results and the snapshot weights: no network, no I/O.
#include "deconvscope/analysis/evolution_metrics.hpp"

#include <algorithm>
#include <cmath>
#include <string>

#include "deconvscope/core/error.hpp"

namespace ds {

namespace {

// Guards relative changes against a zero reference (a filter that starts at zero).
constexpr double kMinNorm = 1e-12;

double norm_of_difference(const float* a, const float* b, size_t n) {
  double s = 0.0;
  for (size_t i = 0; i < n; ++i) {
    double d = static_cast<double>(a[i]) - static_cast<double>(b[i]);
    s += d * d;
  }
  return std::sqrt(s);
}

double norm_of(const float* a, size_t n) {
  double s = 0.0;
  for (size_t i = 0; i < n; ++i) s += static_cast<double>(a[i]) * a[i];
  return std::sqrt(s);
}

[[noreturn]] void fail(const std::string& layer, const std::string& problem) {
  throw Error(ErrorKind::internal, "layer " + layer, problem,
              "a deconvscope bug: the analysis results and the snapshot weights disagree");
}

// Checks everything both metrics read for layer l; returns F (followed features).
size_t check_layer(const AnalysisResult& r, const std::vector<std::vector<Tensor>>& filters, size_t l) {
  const std::string& name = r.layers[l];
  const size_t E = r.epochs.size();
  if (filters[l].size() != E)
    fail(name,
         "weights for " + expected_found(std::to_string(E) + " epochs", std::to_string(filters[l].size())));
  for (size_t e = 0; e < E; ++e) {
    const Tensor& w = filters[l][e];
    if (w.dims.size() != 4 || w.size() != Tensor::count(w.dims))
      fail(name, "weights at epoch " + std::to_string(r.epochs[e]) + ": " +
                     expected_found("(O, I, kh, kw)", shape_str(w.dims)));
    if (w.dims != filters[l][0].dims)
      fail(name,
           "weights at epoch " + std::to_string(r.epochs[e]) + ": " +
               expected_found(shape_str(filters[l][0].dims) + " as at epoch " + std::to_string(r.epochs[0]),
                              shape_str(w.dims)));
  }
  const LayerEvolution& ev = r.evolution[l];
  const size_t F = ev.features.size();
  if (ev.strongest.size() != E * F)
    fail(name, "strongest activations: " +
                   expected_found(std::to_string(E * F) + " (E * F)", std::to_string(ev.strongest.size())));
  const int64_t O = E > 0 ? filters[l][0].dims[0] : 0;
  for (int32_t o : ev.features)
    if (o < 0 || o >= O)
      fail(name, "followed feature: " +
                     expected_found("a filter index in [0, " + std::to_string(O) + ")", std::to_string(o)));
  return F;
}

void check_result(const AnalysisResult& r, const std::vector<std::vector<Tensor>>& filters) {
  const std::string where = "analysis results";
  if (filters.size() != r.layers.size())
    throw Error(ErrorKind::internal, where,
                "weights for " +
                    expected_found(std::to_string(r.layers.size()) + " layers", std::to_string(filters.size())),
                "a deconvscope bug");
  if (r.evolution.size() != r.layers.size())
    throw Error(ErrorKind::internal, where,
                "evolution for " + expected_found(std::to_string(r.layers.size()) + " layers",
                                                  std::to_string(r.evolution.size())),
                "a deconvscope bug");
}

}  // namespace

float cosine_similarity(const float* a, const float* b, size_t n) {
  double dot = 0.0, na = 0.0, nb = 0.0;
  for (size_t i = 0; i < n; ++i) {
    dot += static_cast<double>(a[i]) * b[i];
    na += static_cast<double>(a[i]) * a[i];
    nb += static_cast<double>(b[i]) * b[i];
  }
  // An all-zero projection (a feature that never fired) is identical to another all-zero
  // one and unrelated to anything else.
  if (na == 0.0 && nb == 0.0) return 1.f;
  if (na == 0.0 || nb == 0.0) return 0.f;
  return static_cast<float>(dot / (std::sqrt(na) * std::sqrt(nb)));
}

namespace {

// Shift along one axis that lays window b's receptive field over window a's: starts
// align, except where one window was clipped at the image's start edge (its true start
// lies outside), then the ends align.
int64_t window_shift(int32_t a0, int32_t a1, int32_t b0, int32_t b1) {
  if (a1 - a0 != b1 - b0 && (a0 == 0 || b0 == 0)) return int64_t(a1) - b1;
  return int64_t(a0) - b0;
}

}  // namespace

float aligned_cosine(const float* a, const Window& wa, const float* b, const Window& wb, int64_t C, int64_t H,
                     int64_t W) {
  // A projection is zero outside its receptive field, so the shifted dot product over
  // the overlap, divided by the full norms, is the cosine of the aligned pictures.
  const int64_t dy = window_shift(wa.y0, wa.y1, wb.y0, wb.y1), dx = window_shift(wa.x0, wa.x1, wb.x0, wb.x1);
  const size_t n = size_t(C * H * W);
  const double na = norm_of(a, n), nb = norm_of(b, n);
  if (na == 0 && nb == 0) return 1.f;
  if (na == 0 || nb == 0) return 0.f;
  double dot = 0;
  for (int64_t c = 0; c < C; ++c)
    for (int64_t y = std::max<int64_t>(0, dy); y < std::min(H, H + dy); ++y)
      for (int64_t x = std::max<int64_t>(0, dx); x < std::min(W, W + dx); ++x)
        dot += double(a[(c * H + y) * W + x]) * b[(c * H + y - dy) * W + x - dx];
  return float(dot / (na * nb));
}

void compute_jumps(AnalysisResult& r, const std::vector<std::vector<Tensor>>& filters) {
  check_result(r, filters);
  const size_t E = r.epochs.size();
  std::vector<LayerJumps> out(r.layers.size());
  for (size_t l = 0; l < r.layers.size(); ++l) {
    const size_t F = check_layer(r, filters, l);
    const LayerEvolution& ev = r.evolution[l];
    const Tensor& p = ev.projections;  // (E, F, C, H, W)
    if (p.dims.size() != 5 || p.dims[0] != static_cast<int64_t>(E) || p.dims[1] != static_cast<int64_t>(F) ||
        p.size() != Tensor::count(p.dims))
      fail(r.layers[l], "evolution projections: " +
                            expected_found("(" + std::to_string(E) + ", " + std::to_string(F) + ", C, H, W)",
                                           shape_str(p.dims)));
    const size_t plane = E * F > 0 ? p.size() / (E * F) : 0;  // C * H * W

    LayerJumps& j = out[l];
    const size_t rows = E > 0 ? (E - 1) * F : 0;
    j.image_changed.assign(rows, 0);
    j.projection_similarity.assign(rows, 0.f);
    j.filter_change.assign(rows, 0.f);
    j.jump.assign(rows, 0);
    j.went_silent.assign(rows, 0);
    j.came_back.assign(rows, 0);
    if (F == 0) continue;
    // Every filter (O, I, kh, kw) is contiguous: I * kh * kw values.
    const size_t filter_size = filters[l][0].size() / static_cast<size_t>(filters[l][0].dims[0]);
    for (size_t e = 1; e < E; ++e) {
      for (size_t f = 0; f < F; ++f) {
        const size_t row = (e - 1) * F + f;
        const size_t now = e * F + f, before = (e - 1) * F + f;
        const bool active_now = ev.strongest[now].image >= 0, active_before = ev.strongest[before].image >= 0;
        // Falling silent or coming back is not a new strongest image: counted apart.
        const bool changed = active_now && active_before && ev.strongest[now].image != ev.strongest[before].image;
        const bool have_windows = ev.windows.size() == E * F;
        const float sim = aligned_cosine(p.ptr() + now * plane, have_windows ? ev.windows[now] : Window{},
                                         p.ptr() + before * plane, have_windows ? ev.windows[before] : Window{},
                                         p.dims[2], p.dims[3], p.dims[4]);
        const float* w_now = filters[l][e].ptr() + static_cast<size_t>(ev.features[f]) * filter_size;
        const float* w_before = filters[l][e - 1].ptr() + static_cast<size_t>(ev.features[f]) * filter_size;
        const double change = norm_of_difference(w_now, w_before, filter_size) /
                              std::max(norm_of(w_before, filter_size), kMinNorm);
        j.image_changed[row] = changed ? 1 : 0;
        j.projection_similarity[row] = sim;
        j.filter_change[row] = static_cast<float>(change);
        j.jump[row] = changed && sim < r.jump_threshold ? 1 : 0;
        j.went_silent[row] = active_before && !active_now ? 1 : 0;
        j.came_back[row] = !active_before && active_now ? 1 : 0;
      }
    }
  }
  r.jumps = std::move(out);
}

void compute_convergence(AnalysisResult& r, const std::vector<std::vector<Tensor>>& filters) {
  check_result(r, filters);
  const size_t E = r.epochs.size();
  std::vector<LayerConvergence> out(r.layers.size());
  for (size_t l = 0; l < r.layers.size(); ++l) {
    const size_t F = check_layer(r, filters, l);
    LayerConvergence& c = out[l];
    c.filter_similarity.assign(E, 0.f);
    c.weight_change.assign(E, 0.f);
    c.final_image_share.assign(E, 0.f);
    c.converged_at = -1;
    if (E == 0) continue;

    const Tensor& w_final = filters[l][E - 1];
    const size_t O = static_cast<size_t>(w_final.dims[0]);
    const size_t filter_size = O > 0 ? w_final.size() / O : 0;
    const LayerEvolution& ev = r.evolution[l];
    for (size_t e = 0; e < E; ++e) {
      const Tensor& w = filters[l][e];
      if (e + 1 == E) {
        // By definition, so that converged_at is at worst the final epoch despite rounding.
        c.filter_similarity[e] = 1.f;
      } else {
        double sum = 0.0;
        for (size_t o = 0; o < O; ++o)
          sum += cosine_similarity(w.ptr() + o * filter_size, w_final.ptr() + o * filter_size, filter_size);
        c.filter_similarity[e] = O > 0 ? static_cast<float>(sum / static_cast<double>(O)) : 1.f;
      }
      if (e > 0) {
        const Tensor& w_before = filters[l][e - 1];
        c.weight_change[e] = static_cast<float>(norm_of_difference(w.ptr(), w_before.ptr(), w.size()) /
                                                std::max(norm_of(w_before.ptr(), w_before.size()), kMinNorm));
      }
      if (F > 0) {
        size_t same = 0;
        for (size_t f = 0; f < F; ++f)
          if (ev.strongest[e * F + f].image == ev.strongest[(E - 1) * F + f].image) ++same;
        c.final_image_share[e] = static_cast<float>(same) / static_cast<float>(F);
      }
    }
    // Walk back from the final epoch while the similarity holds.
    for (size_t e = E; e-- > 0;) {
      if (!(c.filter_similarity[e] >= r.convergence_threshold)) break;
      c.converged_at = r.epochs[e];
    }
    const double path = norm_of_difference(filters[l][0].ptr(), w_final.ptr(), w_final.size());
    c.weight_progress.assign(E, 1.f);
    for (size_t e = 0; e + 1 < E && path > 0; ++e)
      c.weight_progress[e] =
          static_cast<float>(1.0 - norm_of_difference(filters[l][e].ptr(), w_final.ptr(), w_final.size()) / path);
    c.progress_converged_at = -1;
    for (size_t e = E; e-- > 0;) {
      if (!(c.weight_progress[e] >= r.convergence_threshold)) break;
      c.progress_converged_at = r.epochs[e];
    }
  }
  r.convergence = std::move(out);
}

}  // namespace ds
