// The analysis stage; see include/deconvscope/analysis/analyze.hpp. One network (the
// run's architecture at analysis.batch) serves every snapshot: its weights are swapped
// per epoch. Per snapshot: one forward scan of the probe set for the top-k of every
// feature of every analysed layer, then batched projections of the followed features'
// strongest activations, and of every feature's top-k at the top-k epochs.
#include "deconvscope/analysis/analyze.hpp"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <numeric>
#include <random>

#include "deconvscope/analysis/analysis_file.hpp"
#include "deconvscope/analysis/deconvnet.hpp"
#include "deconvscope/analysis/evolution_metrics.hpp"
#include "deconvscope/core/error.hpp"
#include "deconvscope/io/snapshot.hpp"
#include "deconvscope/model/network.hpp"
#include "deconvscope/report/html_report.hpp"
#include "deconvscope/train/progress.hpp"
#include "deconvscope/train/trainer.hpp"

namespace fs = std::filesystem;

namespace ds {

namespace {

std::vector<int32_t> followed_features(int channels, int wanted, uint64_t seed, const std::string& layer) {
  std::vector<int32_t> all(static_cast<size_t>(channels));
  std::iota(all.begin(), all.end(), 0);
  if (wanted < 0 || wanted >= channels) return all;
  uint64_t h = seed;
  for (unsigned char c : layer) h = h * 1099511628211ull + c;
  std::mt19937_64 rng(h);
  std::shuffle(all.begin(), all.end(), rng);
  all.resize(size_t(wanted));
  std::sort(all.begin(), all.end());
  return all;
}

std::vector<Window> windows_of(const Network& net, int conv, const std::vector<Activation>& acts) {
  const int top = rectified_output_layer(net.specs(), conv);
  std::vector<Window> w;
  w.reserve(acts.size());
  for (const Activation& a : acts) w.push_back(receptive_field(net.specs(), net.input(), top, a.y, a.x));
  return w;
}

// Can an existing analysis file be extended, or was it made with other settings?
bool compatible(const AnalysisResult& old, const AnalysisResult& now, int topk) {
  if (old.split != now.split || old.dataset_path != now.dataset_path || old.probe_count != now.probe_count ||
      old.layers != now.layers || old.evolution.size() != now.evolution.size())
    return false;
  for (size_t l = 0; l < old.evolution.size(); ++l)
    if (old.evolution[l].features != now.evolution[l].features) return false;
  for (const auto& [epoch, layers] : old.topk)
    for (const LayerTopK& t : layers)
      if (t.k != topk) return false;
  return true;
}

}  // namespace

SnapshotAnalysis analyse_snapshot(Network& net, const Dataset& probe, const Normalization& norm,
                                  const std::vector<int>& convs, const std::vector<LayerEvolution>& followed, int k,
                                  bool want_topk, Progress* bar) {
  const InputShape& in = net.input();
  const size_t image_size = size_t(in.channels) * in.height * in.width;
  std::vector<ScanRequest> req;
  for (int c : convs) req.push_back(ScanRequest{c, k});
  const auto tops = scan_topk(net, probe, norm, 0, req, bar);
  SnapshotAnalysis a;
  a.strongest.resize(convs.size());
  a.projections.resize(convs.size());
  for (size_t l = 0; l < convs.size(); ++l) {
    const std::vector<int32_t>& feats = followed[l].features;
    for (int32_t f : feats) a.strongest[l].push_back(tops[l][size_t(f) * size_t(k)]);
    a.projections[l].resize(feats.size() * image_size);
    project_activations(net, probe, norm, convs[l], feats, a.strongest[l], a.projections[l].data());
    if (!want_topk) continue;
    LayerTopK t;
    t.layer = followed[l].layer;
    t.features = net.shapes()[size_t(convs[l])].channels;
    t.k = k;
    t.acts = tops[l];
    t.windows = windows_of(net, convs[l], t.acts);
    std::vector<int32_t> which;
    for (int f = 0; f < t.features; ++f) which.insert(which.end(), size_t(k), f);
    t.projections = Tensor({t.features, k, in.channels, in.height, in.width});
    project_activations(net, probe, norm, convs[l], which, t.acts, t.projections.ptr());
    a.topk.push_back(std::move(t));
  }
  return a;
}

AnalysisPlan plan_analysis(const Config& cfg, const std::string& dir) {
  set_threads(cfg.run.threads);
  AnalysisPlan p;
  const RunPaths paths = RunPaths::of(dir);
  if (fs::exists(paths.snapshots)) p.snapshots = list_snapshots(paths.snapshots);
  if (p.snapshots.empty())
    throw Error(ErrorKind::snapshot, paths.snapshots, "no snapshots to analyse",
                "train first: deconvscope train --config <file> (snapshots land in " + paths.snapshots + ")");
  p.first = read_snapshot(p.snapshots.front().second);
  const Snapshot& first = p.first;

  // The probe: the first probe_limit images of the chosen split, as the run's data.
  DataConfig data = cfg.data;
  p.on_train = cfg.analysis.probe == "train";
  (p.on_train ? data.train_limit : data.test_limit) = cfg.analysis.probe_limit;
  (p.on_train ? data.test_limit : data.train_limit) = 1;  // the other split is not needed
  p.splits = load_dataset(data);
  const Dataset& probe = p.probe();
  if (probe.channels != first.input.channels || probe.height != first.input.height ||
      probe.width != first.input.width)
    throw Error(ErrorKind::data, p.splits.path,
                "probe images do not fit the network: " +
                    expected_found(std::to_string(first.input.channels) + "x" + std::to_string(first.input.height) +
                                       "x" + std::to_string(first.input.width),
                                   std::to_string(probe.channels) + "x" + std::to_string(probe.height) + "x" +
                                       std::to_string(probe.width)));

  // Analysed layers: analysis.layers, or every conv layer.
  std::vector<std::string> names = cfg.analysis.layers;
  if (names.empty())
    for (const LayerSpec& s : first.layers)
      if (s.type == LayerType::conv) names.push_back(s.name);
  const std::vector<LayerShape> shapes = infer_shapes(first.layers, first.input);
  for (const std::string& n : names) {
    const auto it = std::find_if(first.layers.begin(), first.layers.end(), [&](const LayerSpec& s) { return s.name == n; });
    if (it == first.layers.end() || it->type != LayerType::conv)
      throw Error(ErrorKind::config, "analysis.layers", "'" + n + "' is not a conv layer of the run in " + dir);
    const int i = int(it - first.layers.begin());
    p.convs.push_back(i);
    LayerEvolution ev;
    ev.layer = n;
    ev.features = followed_features(shapes[size_t(i)].channels, cfg.analysis.features, cfg.run.seed, n);
    p.followed.push_back(std::move(ev));
  }
  if (p.convs.empty()) throw Error(ErrorKind::config, "analysis.layers", "the run has no conv layer to analyse");
  p.names = names;
  p.k = std::max(1, cfg.analysis.topk);
  return p;
}

AnalyzeSummary run_analysis(const Config& cfg, const std::string& dir, const AnalyzeOptions& opt) {
  const RunPaths paths = RunPaths::of(dir);
  AnalysisPlan plan = plan_analysis(cfg, dir);
  const auto& snaps = plan.snapshots;
  const Snapshot& first = plan.first;
  const DataSplits& splits = plan.splits;
  const Dataset& probe = plan.probe();
  const std::vector<int>& convs = plan.convs;
  const std::vector<std::string>& names = plan.names;
  Network net(first.layers, first.input, std::max(1, cfg.analysis.batch), cfg.run.seed,
              NetworkOptions{cfg.conv_algorithm, Precision::f32});  // the analysis stays f32

  AnalysisResult r;
  r.split = cfg.analysis.probe;
  r.dataset_path = splits.path;
  r.probe_count = int64_t(probe.size());
  r.layers = names;
  r.input = first.input;
  r.input_mean = first.input_mean;
  r.input_std = first.input_std;
  const int k = plan.k;
  r.evolution = plan.followed;
  std::vector<int> topk_epochs = cfg.analysis.topk_epochs;
  if (topk_epochs.empty()) topk_epochs.push_back(snaps.back().first);

  // Reuse what an earlier analysis with the same settings computed.
  const std::string file = (fs::path(paths.analysis) / "analysis.h5").string();
  AnalysisResult old;
  bool reuse = false;
  if (!opt.force && fs::exists(file)) {
    try {
      old = read_analysis(file);
      reuse = compatible(old, r, k);
      if (!reuse) std::fprintf(stderr, "analysis settings changed: recomputing every epoch of %s\n", dir.c_str());
    } catch (const Error& e) {
      std::fprintf(stderr, "warning: %s; recomputing it\n", e.what());
    }
  }

  const InputShape& in = first.input;
  const size_t image_size = size_t(in.channels) * in.height * in.width;
  Normalization norm{first.input_mean, first.input_std};
  std::vector<std::vector<Tensor>> filters(convs.size());
  std::vector<std::vector<Activation>> strongest(convs.size());  // [layer][E * F]
  std::vector<std::vector<float>> projections(convs.size());     // [layer][E * F * image]
  AnalyzeSummary summary;
  size_t done = 0;
  for (const auto& [epoch, path] : snaps) {
    const Snapshot s = read_snapshot(path);
    if (s.layers.size() != first.layers.size())
      throw Error(ErrorKind::snapshot, path, "its layers differ from " + snaps.front().second + "'s");
    for (size_t l = 0; l < convs.size(); ++l) filters[l].push_back(s.params[size_t(convs[l])].weights);
    r.epochs.push_back(epoch);
    summary.epochs.push_back(epoch);
    const bool want_topk = std::count(topk_epochs.begin(), topk_epochs.end(), epoch) > 0;
    const auto old_e = std::find(old.epochs.begin(), old.epochs.end(), epoch);
    if (reuse && old_e != old.epochs.end() && (!want_topk || old.topk.count(epoch))) {
      const size_t e = size_t(old_e - old.epochs.begin());
      for (size_t l = 0; l < convs.size(); ++l) {
        const LayerEvolution& ev = old.evolution[l];
        const size_t F = ev.features.size();
        strongest[l].insert(strongest[l].end(), ev.strongest.begin() + long(e * F), ev.strongest.begin() + long((e + 1) * F));
        projections[l].insert(projections[l].end(), ev.projections.data.begin() + long(e * F * image_size),
                              ev.projections.data.begin() + long((e + 1) * F * image_size));
      }
      if (want_topk) r.topk[epoch] = old.topk[epoch];
      continue;
    }

    // A snapshot's weights and its own normalisation (the same for every epoch of a run).
    net.import_params(s.params);
    norm = Normalization{s.input_mean, s.input_std};
    std::unique_ptr<Progress> bar;
    if (!opt.quiet)
      bar = std::make_unique<Progress>("analyse epoch " + std::to_string(epoch) + " (" + std::to_string(++done) + "/" +
                                           std::to_string(snaps.size()) + ")",
                                       int64_t(probe.size()));
    SnapshotAnalysis a = analyse_snapshot(net, probe, norm, convs, r.evolution, k, want_topk, bar.get());
    for (size_t l = 0; l < convs.size(); ++l) {
      strongest[l].insert(strongest[l].end(), a.strongest[l].begin(), a.strongest[l].end());
      projections[l].insert(projections[l].end(), a.projections[l].begin(), a.projections[l].end());
    }
    if (want_topk) r.topk[epoch] = std::move(a.topk);
    if (bar) bar->finish();
    summary.computed.push_back(epoch);
  }

  const int64_t E = int64_t(r.epochs.size());
  for (size_t l = 0; l < convs.size(); ++l) {
    LayerEvolution& ev = r.evolution[l];
    const int64_t F = int64_t(ev.features.size());
    ev.strongest = std::move(strongest[l]);
    ev.windows = windows_of(net, convs[l], ev.strongest);
    ev.projections.dims = {E, F, in.channels, in.height, in.width};
    ev.projections.data = std::move(projections[l]);
  }
  compute_jumps(r, filters);
  compute_convergence(r, filters);
  fs::create_directories(paths.analysis);
  write_analysis(file, r);
  write_analysis_csv(paths.analysis, r);
  write_report(dir, r, probe);
  summary.analysis_file = file;
  summary.report = (fs::path(paths.report) / "index.html").string();
  return summary;
}

}  // namespace ds
