// The sanity baseline of the evolution pictures; definitions in
// include/deconvscope/analysis/sanity_baseline.hpp. The baseline projections go through
// the same project_activations as the stored ones, with the first snapshot's network and a
// unit signal, so the two differ only by the weights.
#include "deconvscope/analysis/sanity_baseline.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <memory>
#include <numeric>
#include <string>

#include "deconvscope/analysis/deconvnet.hpp"
#include "deconvscope/core/comm.hpp"
#include "deconvscope/core/error.hpp"
#include "deconvscope/core/progress.hpp"

namespace ds {

namespace {

constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();

[[noreturn]] void fail(const std::string& layer, const std::string& problem) {
  throw Error(ErrorKind::internal, "layer " + layer, problem,
              "a deconvscope bug: the analysis results are inconsistent");
}

}  // namespace

std::vector<double> average_ranks(const std::vector<float>& v) {
  std::vector<size_t> order(v.size());
  std::iota(order.begin(), order.end(), size_t(0));
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return v[a] < v[b]; });
  std::vector<double> rank(v.size());
  for (size_t lo = 0; lo < order.size();) {
    size_t hi = lo + 1;
    while (hi < order.size() && v[order[hi]] == v[order[lo]]) ++hi;
    // Positions lo..hi-1 hold equal values: each gets the mean of ranks lo+1..hi.
    const double mean = 0.5 * double(lo + 1 + hi);
    for (size_t j = lo; j < hi; ++j) rank[order[j]] = mean;
    lo = hi;
  }
  return rank;
}

double spearman(const std::vector<float>& a, const std::vector<float>& b) {
  const size_t n = a.size();
  if (n != b.size() || n < 2) return std::nan("");
  for (size_t i = 0; i < n; ++i)
    if (!std::isfinite(a[i]) || !std::isfinite(b[i])) return std::nan("");
  const std::vector<double> ra = average_ranks(a), rb = average_ranks(b);
  // Both rank vectors have mean (n + 1) / 2 whatever the ties.
  const double mean = 0.5 * double(n + 1);
  double sab = 0, saa = 0, sbb = 0;
  for (size_t i = 0; i < n; ++i) {
    const double da = ra[i] - mean, db = rb[i] - mean;
    sab += da * db;
    saa += da * da;
    sbb += db * db;
  }
  // A constant input has no order to agree with.
  if (saa == 0 || sbb == 0) return std::nan("");
  return std::clamp(sab / std::sqrt(saa * sbb), -1.0, 1.0);
}

float window_rank_correlation(const float* p, const float* q, const Window& w, int64_t C, int64_t H, int64_t W) {
  const int64_t y0 = std::max<int64_t>(0, w.y0), y1 = std::min<int64_t>(H, w.y1);
  const int64_t x0 = std::max<int64_t>(0, w.x0), x1 = std::min<int64_t>(W, w.x1);
  std::vector<float> a, b;
  for (int64_t c = 0; c < C; ++c)
    for (int64_t y = y0; y < y1; ++y)
      for (int64_t x = x0; x < x1; ++x) {
        const size_t at = size_t((c * H + y) * W + x);
        a.push_back(std::abs(p[at]));
        b.push_back(std::abs(q[at]));
      }
  return float(spearman(a, b));
}

float median_of_finite(std::vector<float> v) {
  v.erase(std::remove_if(v.begin(), v.end(), [](float x) { return !std::isfinite(x); }), v.end());
  if (v.empty()) return kNaN;
  std::sort(v.begin(), v.end());
  const size_t m = v.size() / 2;
  return v.size() % 2 ? v[m] : float(0.5 * (double(v[m - 1]) + double(v[m])));
}

void summarise_init_rank_correlation(AnalysisResult& r) {
  const size_t E = r.epochs.size();
  if (r.convergence.size() != r.evolution.size())
    throw Error(ErrorKind::internal, "analysis results",
                "convergence for " + expected_found(std::to_string(r.evolution.size()) + " layers",
                                                    std::to_string(r.convergence.size())),
                "a deconvscope bug");
  for (size_t l = 0; l < r.evolution.size(); ++l) {
    const LayerEvolution& ev = r.evolution[l];
    std::vector<float>& out = r.convergence[l].init_rank_correlation;
    out.clear();
    if (ev.init_rank_correlation.empty()) continue;
    const size_t F = ev.features.size();
    if (ev.init_rank_correlation.size() != E * F)
      fail(ev.layer, "init_rank_correlation: " + expected_found(std::to_string(E * F) + " (E * F)",
                                                                std::to_string(ev.init_rank_correlation.size())));
    for (size_t e = 0; e < E; ++e)
      out.push_back(median_of_finite(std::vector<float>(ev.init_rank_correlation.begin() + long(e * F),
                                                        ev.init_rank_correlation.begin() + long((e + 1) * F))));
  }
}

void compute_init_rank_correlation(Network& first_net, const Dataset& probe, const Normalization& norm,
                                   const std::vector<int>& convs, AnalysisResult& r, const std::vector<bool>& todo,
                                   bool progress, Comm* comm) {
  const size_t E = r.epochs.size(), L = r.layers.size();
  if (convs.size() != L || r.evolution.size() != L)
    throw Error(ErrorKind::internal, "analysis results",
                expected_found(std::to_string(L) + " conv layers and evolutions",
                               std::to_string(convs.size()) + " and " + std::to_string(r.evolution.size())),
                "a deconvscope bug");
  if (!todo.empty() && todo.size() != E)
    throw Error(ErrorKind::internal, "analysis results",
                "epochs to compute: " + expected_found(std::to_string(E), std::to_string(todo.size())),
                "a deconvscope bug");
  const InputShape& in = first_net.input();
  const int64_t C = in.channels, H = in.height, W = in.width;
  const size_t image_size = size_t(C * H * W);

  // What to project: per layer, the entries i = e * F + f of the active followed features
  // at the epochs to compute after the first (where the figure is 1 by definition).
  std::vector<std::vector<size_t>> items(L);
  size_t total = 0;
  for (size_t l = 0; l < L; ++l) {
    LayerEvolution& ev = r.evolution[l];
    const size_t F = ev.features.size();
    const Tensor& p = ev.projections;
    if (ev.strongest.size() != E * F || ev.windows.size() != E * F ||
        p.dims != std::vector<int64_t>{int64_t(E), int64_t(F), C, H, W})
      fail(ev.layer, "evolution: " + expected_found("strongest, windows and projections of (" + std::to_string(E) +
                                                        ", " + std::to_string(F) + ", C, H, W)",
                                                    shape_str(p.dims)));
    if (todo.empty()) ev.init_rank_correlation.assign(E * F, kNaN);
    else if (ev.init_rank_correlation.size() != E * F)
      fail(ev.layer, "init_rank_correlation to keep: " +
                         expected_found(std::to_string(E * F) + " (E * F)", std::to_string(ev.init_rank_correlation.size())));
    for (size_t e = 0; e < E; ++e) {
      if (!todo.empty() && !todo[e]) continue;
      for (size_t f = 0; f < F; ++f) {
        const size_t i = e * F + f;
        const bool active = ev.strongest[i].image >= 0;
        ev.init_rank_correlation[i] = active && e == 0 ? 1.f : kNaN;
        if (active && e > 0) items[l].push_back(i);
      }
    }
    total += items[l].size();
  }

  // Under mpirun each rank takes a share of whole batches, so every activation sits in
  // the batch slot it has in one process; the figures are then summed (the other ranks
  // contribute 0, which leaves every value, NaN included, as computed).
  const int rank = comm ? comm->rank() : 0, ranks = comm ? comm->size() : 1;
  const int B = first_net.batch();
  std::unique_ptr<Progress> bar;
  if (progress && total > 0)
    bar = std::make_unique<Progress>("sanity baseline: projections with epoch " + std::to_string(r.epochs[0]) +
                                         "'s weights",
                                     int64_t(total), "proj");
  int64_t done = 0;
  std::vector<float> baseline(size_t(B) * image_size);
  for (size_t l = 0; l < L; ++l) {
    LayerEvolution& ev = r.evolution[l];
    const std::vector<size_t>& mine = items[l];
    const size_t F = ev.features.size();
    const Share share = share_of_batches(int64_t(mine.size()), B, rank, ranks);
    std::vector<float> figure(mine.size(), 0.f);
    for (int64_t first = share.first; first < share.first + share.count; first += B) {
      const size_t n = size_t(std::min<int64_t>(B, share.first + share.count - first));
      std::vector<int32_t> feats;
      std::vector<Activation> acts;
      for (size_t j = 0; j < n; ++j) {
        const size_t i = mine[size_t(first) + j];
        feats.push_back(ev.features[i % F]);
        Activation a = ev.strongest[i];
        a.value = 1.f;  // the unit signal: the deconvnet is positively homogeneous
        acts.push_back(a);
      }
      project_activations(first_net, probe, norm, convs[l], feats, acts, baseline.data());
      for (size_t j = 0; j < n; ++j) {
        const size_t i = mine[size_t(first) + j];
        figure[size_t(first) + j] = window_rank_correlation(ev.projections.ptr() + i * image_size,
                                                            baseline.data() + j * image_size, ev.windows[i], C, H, W);
      }
      done += int64_t(n);
      // Rank 0's bar counts for the job: every rank projects a share of about the same size.
      if (bar) bar->update(std::min<int64_t>(int64_t(total), done * ranks));
    }
    if (ranks > 1) comm->allreduce_sum(figure.data(), figure.size());
    for (size_t j = 0; j < mine.size(); ++j) ev.init_rank_correlation[mine[j]] = figure[j];
  }
  if (bar) bar->finish();
  summarise_init_rank_correlation(r);
}

}  // namespace ds
