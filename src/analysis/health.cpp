// compute_health(): the filter-health metrics over every snapshot of a run. One Network of
// the run's architecture scans the probe images once per snapshot for fire rates (Mode::
// infer, up to the last conv layer's ReLU); the weights give RMS, redundancy and, for the
// first conv layer, frequency content; the analysis file, when there is one, gives the
// second conv layer's projections for stride aliasing.
// Left out: writing anything (health_file.cpp) and fc layers.
#include "deconvscope/analysis/health.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <limits>
#include <memory>

#include "deconvscope/analysis/analysis_file.hpp"
#include "deconvscope/analysis/deconvnet.hpp"
#include "deconvscope/core/error.hpp"
#include "deconvscope/core/progress.hpp"
#include "deconvscope/io/h5_checksum.hpp"
#include "deconvscope/io/run_folder.hpp"
#include "deconvscope/io/run_lock.hpp"
#include "deconvscope/io/snapshot.hpp"
#include "deconvscope/model/evaluate.hpp"
#include "deconvscope/model/network.hpp"

namespace fs = std::filesystem;

namespace ds {

namespace {

constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();

// Aliasing of the second conv layer from analysis.h5: per analysed epoch, every feature's
// mean share over its top-k projections where the epoch has top-k, else the followed
// features' strongest projection. Fills l.aliasing_*; returns a note if it cannot.
std::string measure_aliasing(const RunPaths& paths, const AnalysisResult* analysis, const std::string& problem,
                             const std::vector<int>& epochs, LayerHealth& l, std::array<int, 2> stride) {
  const std::string& file = paths.analysis_file;
  if (stride[0] == 1 && stride[1] == 1) return "the first conv layer has stride 1: there is no stride to alias";
  if (!analysis) return problem;
  const AnalysisResult& r = *analysis;
  const auto it = std::find(r.layers.begin(), r.layers.end(), l.layer);
  if (it == r.layers.end())
    return "the analysis in " + file + " does not include layer " + l.layer + " (see analysis.layers)";
  const size_t li = size_t(it - r.layers.begin());
  const int C = r.input.channels, H = r.input.height, W = r.input.width;
  const size_t image = size_t(C) * H * W, O = size_t(l.filters), E = epochs.size();
  l.aliasing_share.assign(E * O, kNaN);
  l.aliasing_mean.assign(E, kNaN);
  l.aliasing_noise.assign(E, kNaN);
  std::vector<float> noise(O);  // per feature, averaged like its share
  size_t measured = 0;
  for (size_t e = 0; e < E; ++e) {
    const auto ae = std::find(r.epochs.begin(), r.epochs.end(), epochs[e]);
    if (ae == r.epochs.end()) continue;
    const size_t ai = size_t(ae - r.epochs.begin());
    std::fill(noise.begin(), noise.end(), kNaN);
    const auto top = r.topk.find(epochs[e]);
    if (top != r.topk.end() && li < top->second.size() && top->second[li].features == int(O)) {
      const LayerTopK& t = top->second[li];
      for (size_t f = 0; f < O; ++f) {
        double sum = 0, floor = 0;
        int n = 0;
        for (int k = 0; k < t.k; ++k) {
          const size_t i = f * size_t(t.k) + size_t(k);
          if (t.acts[i].image < 0) continue;
          const float s =
              stride_periodic_share(t.projections.ptr() + i * image, C, H, W, t.windows[i], stride[0], stride[1]);
          if (!std::isfinite(s)) continue;
          sum += s;
          floor += stride_noise_share(H, W, t.windows[i], stride[0], stride[1]);
          ++n;
        }
        if (n > 0) l.aliasing_share[e * O + f] = float(sum / n), noise[f] = float(floor / n);
      }
    } else {
      const LayerEvolution& ev = r.evolution[li];
      const size_t F = ev.features.size();
      for (size_t f = 0; f < F; ++f) {
        const size_t i = ai * F + f;
        if (ev.strongest[i].image < 0 || size_t(ev.features[f]) >= O) continue;
        const size_t o = size_t(ev.features[f]);
        l.aliasing_share[e * O + o] =
            stride_periodic_share(ev.projections.ptr() + i * image, C, H, W, ev.windows[i], stride[0], stride[1]);
        if (std::isfinite(l.aliasing_share[e * O + o]))
          noise[o] = stride_noise_share(H, W, ev.windows[i], stride[0], stride[1]);
      }
    }
    double sum = 0, floor = 0;
    size_t n = 0;
    for (size_t f = 0; f < O; ++f)
      if (std::isfinite(l.aliasing_share[e * O + f])) sum += l.aliasing_share[e * O + f], floor += noise[f], ++n;
    if (n > 0) {
      l.aliasing_mean[e] = float(sum / double(n));
      l.aliasing_noise[e] = float(floor / double(n));
      ++measured;
    }
  }
  if (measured == 0) {
    l.aliasing_share.clear();
    l.aliasing_mean.clear();
    l.aliasing_noise.clear();
    return "the analysis in " + file + " holds no projections of " + l.layer + " at the snapshot epochs";
  }
  return {};
}

}  // namespace

ProbeSet health_probe(const Config& cfg, const HealthOptions& opt, const AnalysisResult* analysis) {
  ProbeSet p;
  if (opt.probe_limit >= 0) {
    p.split = cfg.analysis.probe;
    p.limit = opt.probe_limit;
    p.source = "health.probe = " + std::to_string(opt.probe_limit) + (opt.probe_limit == 0 ? " (the whole split)" : "");
    return p;
  }
  if (analysis && analysis->probe_count > 0) {
    p.split = analysis->split;
    p.limit = analysis->probe_count;
    p.source = "the images deconvscope analyze searched (analysis/analysis.h5)";
    return p;
  }
  // No analysis yet: the rule analyze follows, so that a later analysis searches these.
  p.split = cfg.analysis.probe;
  bool on_train = true;
  switch (p.split) {
    case ProbeSplit::train: on_train = true; break;
    case ProbeSplit::test: on_train = false; break;
  }
  const int64_t own = on_train ? cfg.data.train_limit : cfg.data.test_limit;
  if (cfg.analysis.probe_limit > 0) {
    p.limit = cfg.analysis.probe_limit;
    p.source = "analysis.probe_limit = " + std::to_string(p.limit);
  } else if (own > 0) {
    p.limit = own;
    p.source = std::string(on_train ? "the run's training images (data.train_limit = "
                                    : "the run's test images (data.test_limit = ") +
               std::to_string(own) + ")";
  } else {
    p.source = on_train ? "the run's training images (all of the split)" : "the run's test images (all of the split)";
  }
  p.source += "; the run has no readable analysis.h5 to take the images from";
  return p;
}

namespace {

// The run's conv layers (indices into its layers), each with an empty LayerHealth in h.
std::vector<int> health_layers(const Run& run, HealthResult& h) {
  const Snapshot& first = run.first();
  std::vector<int> convs;
  for (size_t i = 0; i < first.layers.size(); ++i)
    if (first.layers[i].type == LayerType::conv) convs.push_back(int(i));
  if (convs.empty())
    throw Error(ErrorKind::snapshot, run.snapshots().front().second, "the network has no conv layer",
                "health looks at conv filters only");
  const std::vector<LayerShape> shapes = infer_shapes(first.layers, first.input);
  for (size_t l = 0; l < convs.size(); ++l) {
    const LayerSpec& s = first.layers[size_t(convs[l])];
    LayerHealth lh;
    lh.layer = s.name;
    lh.conv_index = int(l);
    lh.filters = s.out;
    lh.in_channels = l == 0 ? first.input.channels : shapes[size_t(convs[l]) - 1].channels;
    lh.kernel = s.kernel;
    lh.stride = s.stride;
    lh.chance_correlation = chance_redundancy(lh.filters, lh.in_channels * s.kernel[0] * s.kernel[1]);
    h.layers.push_back(std::move(lh));
  }
  return convs;
}

// The probe images (health_probe: those the analysis searched, else the first of the
// split), and where they come from in h.
RunImages health_images(const Run& run, const HealthOptions& opt, const AnalysisResult* analysis, HealthResult& h) {
  const ProbeSet ps = health_probe(run.config(), opt, analysis);
  RunImages images = run.images(ps.split == ProbeSplit::train, ps.limit);
  h.split = to_string(ps.split);
  h.dataset_path = images.path();
  h.probe_count = int64_t(images.images().size());
  h.probe_source = ps.source;
  if (ps.limit > h.probe_count)
    h.probe_source += " (the split holds only " + std::to_string(h.probe_count) + " images)";
  if (analysis && !analysis->dataset_path.empty() && analysis->dataset_path != images.path())
    h.probe_source += "; note: the analysis read " + analysis->dataset_path + ", the config names " + images.path();
  return images;
}

// One snapshot's figures of one conv layer's filters w (O, I, kh, kw) firing at `rates`,
// appended to lh; frequency content for the first conv layer only.
void add_layer_figures(LayerHealth& lh, const Tensor& w, const std::vector<float>& rates, const HealthThresholds& t) {
  const std::vector<float> rms = filter_rms(w);
  const float med = median_of(rms);
  const std::vector<Redundancy> red = filter_redundancy(w);
  lh.median_rms.push_back(med);
  for (size_t o = 0; o < rms.size(); ++o) {
    const bool never = rates[o] == 0.f;
    const bool collapsed = rms[o] == 0.f || rms[o] < t.collapsed_ratio * med;
    lh.rms.push_back(rms[o]);
    lh.fire_rate.push_back(rates[o]);
    lh.never_fires.push_back(never);
    lh.collapsed.push_back(collapsed);
    lh.dominating.push_back(med > 0 && rms[o] > t.dominating_ratio * med);
    lh.dead.push_back(never || collapsed);
    lh.max_correlation.push_back(red[o].max_correlation);
    lh.partner.push_back(red[o].partner);
  }
  if (lh.conv_index != 0) return;
  const std::vector<FrequencyShares> fs_ = frequency_shares(w, t);
  size_t live = 0, mid = 0;
  const size_t base = lh.dead.size() - fs_.size();
  for (size_t o = 0; o < fs_.size(); ++o) {
    lh.low_share.push_back(fs_[o].low);
    lh.mid_share.push_back(fs_[o].mid);
    lh.high_share.push_back(fs_[o].high);
    lh.peak_frequency.push_back(fs_[o].peak);
    if (lh.dead[base + o] || !std::isfinite(fs_[o].peak)) continue;
    ++live;
    mid += fs_[o].peak >= t.low_band && fs_[o].peak < t.mid_band ? 1 : 0;
  }
  lh.mid_coverage.push_back(live ? float(double(mid) / double(live)) : kNaN);
}

// Filters that died and stayed dead: the first epoch of their final dead streak.
void mark_dead_since(HealthResult& h) {
  const size_t E = h.epochs.size();
  for (LayerHealth& lh : h.layers) {
    const size_t O = size_t(lh.filters);
    lh.dead_since.assign(O, -1);
    for (size_t o = 0; o < O; ++o)
      for (size_t e = E; e-- > 0 && lh.dead[e * O + o];) lh.dead_since[o] = h.epochs[e];
  }
}

}  // namespace

HealthResult compute_health(const Run& run, const HealthOptions& opt) {
  HealthResult h;
  h.thresholds = opt.thresholds;
  h.input = run.input();
  const std::vector<int> convs = health_layers(run, h);

  std::string analysis_problem;
  const std::unique_ptr<AnalysisResult> analysis = read_run_analysis(run.paths(), &analysis_problem);
  if (analysis) h.analysis_sha256 = analysis->content_sha256;
  const RunImages images = health_images(run, opt, analysis.get(), h);

  const std::unique_ptr<Network> net = run.network(run.config().analysis.batch);
  for (size_t si = 0; si < run.snapshots().size(); ++si) {
    const int epoch = run.snapshots()[si].first;
    const Snapshot s = run.read(si);
    h.epochs.push_back(epoch);
    h.snapshot_sha256.push_back(s.content_sha256);
    net->import_params(s.params);
    std::unique_ptr<Progress> bar;
    if (!opt.quiet) bar = std::make_unique<Progress>("health epoch " + std::to_string(epoch), h.probe_count);
    const auto rates = fire_rates(*net, images.images(), Normalization{s.input_mean, s.input_std}, h.probe_count,
                                  convs, bar.get());
    if (bar) bar->finish();
    for (size_t l = 0; l < convs.size(); ++l)
      add_layer_figures(h.layers[l], s.params[size_t(convs[l])].weights, rates[l], opt.thresholds);
  }
  mark_dead_since(h);

  if (h.layers.size() < 2) {
    h.aliasing_note = "the network has one conv layer: there is no second layer to alias";
  } else {
    h.aliasing_layer = h.layers[1].layer;
    h.aliasing_stride = h.layers[0].stride;
    h.aliasing_note =
        measure_aliasing(run.paths(), analysis.get(), analysis_problem, h.epochs, h.layers[1], h.aliasing_stride);
  }
  return h;
}

namespace {

// The content SHA-256 of a file, or "" if it cannot be read: a mismatch either way.
std::string content_key(const std::string& path) {
  try {
    return h5::content_sha256_of(path);
  } catch (const Error&) {
    return "";
  }
}

}  // namespace

HealthResult current_health(const std::string& dir, const HealthOptions& opt, bool recompute, bool* computed) {
  const RunPaths paths = RunPaths::of(dir);
  const auto snaps = run_snapshots(paths);
  if (snaps.empty())
    throw Error(ErrorKind::snapshot, paths.snapshots, "no snapshots: not a trained run",
                "train it first: deconvscope train --config <file> --run.dir " + dir);
  *computed = false;
  if (!recompute && fs::exists(paths.health_file)) {
    try {
      HealthResult h = read_health(paths.health_file);
      // Reused only if computed from exactly these snapshots and this analysis.h5 (content,
      // not file times), and sealed: a health.h5 without our checksum was edited.
      std::vector<int> epochs;
      std::vector<std::string> sums;
      for (const auto& s : snaps) {
        epochs.push_back(s.first);
        sums.push_back(h.sealed && h.epochs.size() == snaps.size() ? content_key(s.second) : "");
      }
      std::error_code ec;
      const std::string analysis_sum = fs::exists(paths.analysis_file, ec) ? content_key(paths.analysis_file) : "";
      const bool current = h.sealed && h.epochs == epochs && h.snapshot_sha256 == sums &&
                           h.analysis_sha256 == analysis_sum;
      if (current) return h;
    } catch (const Error& e) {
      if (e.kind() != ErrorKind::snapshot) throw;  // unreadable: recompute it below
    }
  }
  if (!fs::exists(paths.config))
    throw Error(ErrorKind::usage, paths.config, "not a run folder: it has no config.cfg", "check the path");
  const Config cfg = load_config({"--config", paths.config});
  const RunLock lock(dir);  // health.h5 is written into the run: one writer at a time
  HealthResult h = compute_health(Run::open(dir, cfg, "measure"), opt);
  std::error_code ec;
  fs::create_directories(paths.analysis, ec);
  write_health(paths.health_file, h);
  write_health_csv(paths.analysis, h);
  *computed = true;
  return h;
}

}  // namespace ds
