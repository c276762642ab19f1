// The analysis stage; see include/deconvscope/analysis/analyze.hpp. One network (the
// run's architecture at analysis.batch) serves every snapshot: its weights are swapped
// per epoch. Per snapshot: one forward scan of the probe set for the top-k of every
// feature of every analysed layer, then batched projections of the followed features'
// strongest activations, and of every feature's top-k at the top-k epochs. The last
// snapshot is scanned first when its live features choose the followed ones. Last, the
// sanity baseline: every followed feature's picture projected again with the first
// snapshot's weights (analysis/sanity_baseline.hpp).
#include "deconvscope/analysis/analyze.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <numeric>

#include "deconvscope/analysis/analysis_file.hpp"
#include "deconvscope/analysis/deconvnet.hpp"
#include "deconvscope/analysis/evolution_metrics.hpp"
#include "deconvscope/analysis/sanity_baseline.hpp"
#include "deconvscope/core/error.hpp"
#include "deconvscope/core/progress.hpp"
#include "deconvscope/io/run_folder.hpp"
#include "deconvscope/io/snapshot.hpp"
#include "deconvscope/model/network.hpp"

namespace fs = std::filesystem;

namespace ds {

namespace {

std::vector<ScanRequest> scan_requests(const std::vector<int>& convs, int k) {
  std::vector<ScanRequest> req;
  for (int c : convs) req.push_back(ScanRequest{c, k});
  return req;
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

std::vector<int32_t> choose_followed(const std::vector<Activation>& tops, int k, int wanted) {
  const int channels = k > 0 ? int(tops.size() / size_t(k)) : 0;
  std::vector<int32_t> all(static_cast<size_t>(channels)), alive;
  std::iota(all.begin(), all.end(), 0);
  for (int32_t c : all)
    if (tops[size_t(c) * size_t(k)].image >= 0) alive.push_back(c);
  if (wanted < 0) return all;
  // A layer with no live feature still gets rows, which then read "inactive" throughout.
  const std::vector<int32_t>& pool = alive.empty() ? all : alive;
  if (size_t(wanted) >= pool.size()) return pool;
  std::vector<int32_t> picked;
  for (size_t i = 0; i < size_t(wanted); ++i) picked.push_back(pool[i * pool.size() / size_t(wanted)]);
  return picked;
}

SnapshotAnalysis analyse_snapshot(Network& net, const Dataset& probe, const Normalization& norm,
                                  const std::vector<int>& convs, const std::vector<LayerEvolution>& followed, int k,
                                  bool want_topk, Progress* bar, Comm* comm) {
  return project_snapshot(net, probe, norm, convs, followed, k, want_topk,
                          scan_topk(net, probe, norm, 0, scan_requests(convs, k), bar, comm));
}

SnapshotAnalysis project_snapshot(Network& net, const Dataset& probe, const Normalization& norm,
                                  const std::vector<int>& convs, const std::vector<LayerEvolution>& followed, int k,
                                  bool want_topk, const std::vector<std::vector<Activation>>& tops, Progress* bar) {
  const InputShape& in = net.input();
  const size_t image_size = size_t(in.channels) * in.height * in.width;
  SnapshotAnalysis a;
  a.strongest.resize(convs.size());
  a.projections.resize(convs.size());
  for (size_t l = 0; l < convs.size(); ++l) {
    const std::vector<int32_t>& feats = followed[l].features;
    for (int32_t f : feats) a.strongest[l].push_back(tops[l][size_t(f) * size_t(k)]);
    a.projections[l].resize(feats.size() * image_size);
    project_activations(net, probe, norm, convs[l], feats, a.strongest[l], a.projections[l].data());
    if (want_topk) {
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
    if (bar) bar->update(int64_t(l) + 1);
  }
  return a;
}

AnalysisPlan plan_analysis(const Run& run) {
  const Config& cfg = run.config();
  AnalysisPlan p;
  p.snapshots = run.snapshots();
  p.first = run.first();
  const Snapshot& first = p.first;

  // Analysed layers: analysis.layers, or every conv layer.
  std::vector<std::string> names = cfg.analysis.layers;
  if (names.empty())
    for (const LayerSpec& s : first.layers)
      if (s.type == LayerType::conv) names.push_back(s.name);
  const std::vector<LayerShape> shapes = infer_shapes(first.layers, first.input);
  for (const std::string& n : names) {
    const int i = run.layer_index(n, "analysis.layers", LayerKinds::conv);
    p.convs.push_back(i);
    LayerEvolution ev;
    ev.layer = n;
    const int channels = shapes[size_t(i)].channels;
    for (int f : cfg.analysis.feature_list)
      if (f >= channels)
        throw Error(ErrorKind::config, "analysis.features",
                    "feature " + std::to_string(f) + " of layer " + n + ": " +
                        expected_found("an index below its " + std::to_string(channels) + " channels (0.." +
                                           std::to_string(channels - 1) + ")",
                                       std::to_string(f)),
                    "list features every analysed layer has, or choose the layers with analysis.layers");
    if (!cfg.analysis.feature_list.empty()) ev.features.assign(cfg.analysis.feature_list.begin(), cfg.analysis.feature_list.end());
    else if (cfg.analysis.features < 0) {
      ev.features.resize(size_t(channels));
      std::iota(ev.features.begin(), ev.features.end(), 0);
    }
    p.followed.push_back(std::move(ev));
  }
  p.follow_alive = cfg.analysis.feature_list.empty() && cfg.analysis.features >= 0;
  if (p.convs.empty()) throw Error(ErrorKind::config, "analysis.layers", "the run has no conv layer to analyse");
  p.names = names;
  p.k = std::max(1, cfg.analysis.topk);
  // The keys are checked before the images are loaded, which may take long.
  p.images = run.probe();
  return p;
}

namespace {

// The steps of run_analysis, in order. What they share: the plan, the network whose
// weights are swapped per snapshot, and the result being filled.
struct AnalysisJob {
  const Run& run;
  const AnalyzeOptions& opt;
  AnalysisPlan plan;
  std::unique_ptr<Network> net;
  AnalyzeSummary summary{};
  std::vector<int> topk_epochs{};
  std::vector<std::vector<Activation>> last_tops{};  // the last snapshot's scan, when it chose the features
  AnalysisResult old{};                            // an earlier analysis.h5
  bool reuse = false;                              // ... whose epochs may be kept
  std::vector<long> reused_from{};                 // per analysed epoch: its index in old, or -1
  std::vector<std::vector<Tensor>> filters{};      // [layer][epoch]: the analysed layers' weights
  int rank = 0;                                    // this process in opt.comm (0 alone)
  AnalysisResult& result() { return summary.result; }
};

// The result's header (probe, layers, input), and the top-k epochs, said when one has no
// snapshot: load_config has checked them against snapshot.epochs, but a run that stopped
// early, or one still training (live analysis), lacks the later snapshots.
void start_result(AnalysisJob& job) {
  const Config& cfg = job.run.config();
  const auto& snaps = job.plan.snapshots;
  AnalysisResult& r = job.result();
  r.split = cfg.analysis.probe;
  r.dataset_path = job.plan.images.path();
  r.probe_count = int64_t(job.plan.probe().size());
  r.layers = job.plan.names;
  r.input = job.plan.first.input;
  r.input_mean = job.plan.first.input_mean;
  r.input_std = job.plan.first.input_std;
  r.evolution = job.plan.followed;
  job.topk_epochs = cfg.analysis.topk_epochs;
  if (job.topk_epochs.empty()) job.topk_epochs.push_back(snaps.back().first);
  for (int e : job.topk_epochs)
    if (!job.opt.quiet && std::none_of(snaps.begin(), snaps.end(), [&](const auto& s) { return s.first == e; }))
      std::fprintf(stderr, "warning: analysis.topk_epochs: epoch %d has no snapshot in %s (the newest is epoch %d); no top-k for it\n",
                   e, job.run.paths().snapshots.c_str(), snaps.back().first);
}

// The followed features: by default those alive in the last snapshot, which is scanned
// first for it; its scan is kept for its own projections.
void choose_live_features(AnalysisJob& job) {
  if (!job.plan.follow_alive) return;
  const auto& convs = job.plan.convs;
  const Snapshot s = job.run.read(job.plan.snapshots.size() - 1);
  job.net->import_params(s.params);
  std::unique_ptr<Progress> bar;
  if (!job.opt.quiet)
    bar = std::make_unique<Progress>("scan epoch " + std::to_string(s.epoch) + " for live features",
                                     int64_t(job.plan.probe().size()));
  job.last_tops = scan_topk(*job.net, job.plan.probe(), Normalization{s.input_mean, s.input_std}, 0,
                            scan_requests(convs, job.plan.k), bar.get(), job.opt.comm);
  if (bar) bar->finish();
  for (size_t l = 0; l < convs.size(); ++l)
    job.result().evolution[l].features = choose_followed(job.last_tops[l], job.plan.k, job.run.config().analysis.features);
}

// Reuse what an earlier analysis with the same settings computed.
void read_earlier(AnalysisJob& job) {
  const std::string& file = job.run.paths().analysis_file;
  if (!job.opt.force && fs::exists(file)) {
    try {
      job.old = read_analysis(file);
      if (!job.old.sealed) {
        // Ours alone to write: without our seal it was edited or made elsewhere.
        std::fprintf(stderr, "%s carries no deconvscope checksum (edited, or another program's): recomputing every epoch\n",
                     printable(file, 400).c_str());
      } else {
        job.reuse = compatible(job.old, job.result(), job.plan.k);
        if (!job.reuse)
          std::fprintf(stderr, "analysis settings changed: recomputing every epoch of %s\n", job.run.dir().c_str());
      }
    } catch (const Error& e) {
      std::fprintf(stderr, "warning: %s; recomputing it\n", e.what());
    }
  }
  // Under mpirun every rank has read the old file before rank 0 may replace it.
  if (job.opt.comm && job.opt.comm->distributed()) job.opt.comm->barrier();
}

// Every snapshot: its epoch kept from the earlier file when its content is the same, else
// scanned and projected. strongest/projections: [layer][E * F], [layer][E * F * image].
void analyse_snapshots(AnalysisJob& job, std::vector<std::vector<Activation>>& strongest,
                       std::vector<std::vector<float>>& projections) {
  const auto& snaps = job.plan.snapshots;
  const auto& convs = job.plan.convs;
  const Dataset& probe = job.plan.probe();
  const InputShape& in = job.plan.first.input;
  const size_t image_size = size_t(in.channels) * in.height * in.width;
  const int k = job.plan.k;
  AnalysisResult& r = job.result();
  const AnalysisResult& old = job.old;
  int first_conv = -1;
  for (size_t i = 0; i < job.plan.first.layers.size() && first_conv < 0; ++i)
    if (job.plan.first.layers[i].type == LayerType::conv) first_conv = int(i);
  if (first_conv >= 0) job.summary.first_conv = job.plan.first.layers[size_t(first_conv)].name;
  for (size_t i = 0; i < snaps.size(); ++i) {
    const int epoch = snaps[i].first;
    const Snapshot s = job.run.read(i);
    if (first_conv >= 0) job.summary.first_filters.emplace_back(epoch, s.params[size_t(first_conv)].weights);
    for (size_t l = 0; l < convs.size(); ++l) job.filters[l].push_back(s.params[size_t(convs[l])].weights);
    r.epochs.push_back(epoch);
    r.snapshot_sha256.push_back(s.content_sha256);
    job.summary.epochs.push_back(epoch);
    const bool want_topk = std::count(job.topk_epochs.begin(), job.topk_epochs.end(), epoch) > 0;
    const auto old_e = std::find(old.epochs.begin(), old.epochs.end(), epoch);
    const size_t e = size_t(old_e - old.epochs.begin());
    // Keyed on the snapshot's content: a snapshot changed since (or an old file without
    // checksums) is analysed again.
    const bool same_snapshot = job.reuse && old_e != old.epochs.end() && e < old.snapshot_sha256.size() &&
                               old.snapshot_sha256[e] == s.content_sha256;
    if (same_snapshot && (!want_topk || old.topk.count(epoch))) {
      for (size_t l = 0; l < convs.size(); ++l) {
        const LayerEvolution& ev = old.evolution[l];
        const size_t F = ev.features.size();
        strongest[l].insert(strongest[l].end(), ev.strongest.begin() + long(e * F), ev.strongest.begin() + long((e + 1) * F));
        projections[l].insert(projections[l].end(), ev.projections.data.begin() + long(e * F * image_size),
                              ev.projections.data.begin() + long((e + 1) * F * image_size));
      }
      if (want_topk) r.topk[epoch] = old.topk.at(epoch);
      job.reused_from.push_back(long(e));
      continue;
    }
    job.reused_from.push_back(-1);

    // A snapshot's weights and its own normalisation (the same for every epoch of a run).
    Network& net = *job.net;
    net.import_params(s.params);
    const Normalization norm{s.input_mean, s.input_std};
    const bool scanned = !job.last_tops.empty() && epoch == snaps.back().first;
    std::unique_ptr<Progress> bar;
    // Counted by the snapshot's place in the run, so the last one reads N/N; the snapshot
    // scanned first (for the live features) still has its projections to make.
    const std::string label = "analyse epoch " + std::to_string(epoch) + " (" + std::to_string(i + 1) + "/" +
                              std::to_string(snaps.size()) + ")";
    if (!job.opt.quiet)
      bar = scanned ? std::make_unique<Progress>(label + ": projections, scanned above", int64_t(convs.size()), "layer")
                    : std::make_unique<Progress>(label, int64_t(probe.size()));
    SnapshotAnalysis a =
        scanned ? project_snapshot(net, probe, norm, convs, r.evolution, k, want_topk, job.last_tops, bar.get())
                : analyse_snapshot(net, probe, norm, convs, r.evolution, k, want_topk, bar.get(), job.opt.comm);
    for (size_t l = 0; l < convs.size(); ++l) {
      strongest[l].insert(strongest[l].end(), a.strongest[l].begin(), a.strongest[l].end());
      projections[l].insert(projections[l].end(), a.projections[l].begin(), a.projections[l].end());
    }
    if (want_topk) r.topk[epoch] = std::move(a.topk);
    if (bar) bar->finish();
    job.summary.computed.push_back(epoch);
  }
}

// The evolution's tensors from the per-snapshot rows, then the jump and convergence figures.
void assemble_evolution(AnalysisJob& job, std::vector<std::vector<Activation>>& strongest,
                        std::vector<std::vector<float>>& projections) {
  AnalysisResult& r = job.result();
  const InputShape& in = job.plan.first.input;
  const int64_t E = int64_t(r.epochs.size());
  for (size_t l = 0; l < job.plan.convs.size(); ++l) {
    LayerEvolution& ev = r.evolution[l];
    const int64_t F = int64_t(ev.features.size());
    ev.strongest = std::move(strongest[l]);
    ev.windows = windows_of(*job.net, job.plan.convs[l], ev.strongest);
    ev.projections.dims = {E, F, in.channels, in.height, in.width};
    ev.projections.data = std::move(projections[l]);
  }
  compute_jumps(r, job.filters);
  compute_convergence(r, job.filters);
}

// The sanity baseline. An epoch reused above keeps its figures when the old file has them
// and was made against the same first snapshot (whose weights they depend on too).
void sanity_baseline(AnalysisJob& job) {
  AnalysisResult& r = job.result();
  const AnalysisResult& old = job.old;
  const size_t E = r.epochs.size();
  std::vector<bool> todo(E, true);
  const bool same_first = job.reuse && !old.epochs.empty() && old.epochs[0] == r.epochs[0] &&
                          !old.snapshot_sha256.empty() && old.snapshot_sha256[0] == r.snapshot_sha256[0] &&
                          std::all_of(old.evolution.begin(), old.evolution.end(),
                                      [](const LayerEvolution& ev) { return !ev.init_rank_correlation.empty(); });
  for (size_t e = 0; e < E; ++e) {
    const long from = job.reused_from[e];
    if (!same_first || from < 0) continue;
    todo[e] = false;
    for (size_t l = 0; l < r.evolution.size(); ++l) {
      LayerEvolution& ev = r.evolution[l];
      const size_t F = ev.features.size();
      const std::vector<float>& was = old.evolution[l].init_rank_correlation;
      ev.init_rank_correlation.resize(E * F);
      std::copy(was.begin() + long(size_t(from) * F), was.begin() + long(size_t(from + 1) * F),
                ev.init_rank_correlation.begin() + long(e * F));
    }
  }
  if (std::none_of(todo.begin(), todo.end(), [](bool b) { return b; })) {
    summarise_init_rank_correlation(r);
    return;
  }
  for (LayerEvolution& ev : r.evolution) ev.init_rank_correlation.resize(ev.strongest.size());
  const auto start = std::chrono::steady_clock::now();
  const Snapshot& first = job.plan.first;
  job.net->import_params(first.params);
  compute_init_rank_correlation(*job.net, job.plan.probe(), Normalization{first.input_mean, first.input_std},
                                job.plan.convs, r, todo, !job.opt.quiet, job.opt.comm);
  job.summary.baseline_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  for (size_t e = 1; e < E; ++e)
    for (const LayerEvolution& ev : r.evolution)
      for (size_t f = 0; todo[e] && f < ev.features.size(); ++f)
        job.summary.baseline_projections += ev.strongest[e * ev.features.size() + f].image >= 0 ? 1 : 0;
}

// analysis.h5 and its CSV files: every rank holds the same result; the job's writer writes it.
void write_result(AnalysisJob& job) {
  const RunPaths& paths = job.run.paths();
  if (job.rank == 0) {
    create_folder(paths.analysis);
    write_analysis(paths.analysis_file, job.result());
    write_analysis_csv(paths.analysis, job.result(),
                       job.opt.convergence ? job.opt.convergence() : std::vector<ConvergenceMeasure>{});
  }
  job.summary.analysis_file = paths.analysis_file;
}

}  // namespace

AnalyzeSummary run_analysis(const Run& run, const AnalyzeOptions& opt) {
  AnalysisJob job{run, opt, plan_analysis(run), run.network(run.config().analysis.batch)};
  job.rank = opt.comm ? opt.comm->rank() : 0;
  job.filters.resize(job.plan.convs.size());
  start_result(job);
  choose_live_features(job);
  read_earlier(job);
  std::vector<std::vector<Activation>> strongest(job.plan.convs.size());
  std::vector<std::vector<float>> projections(job.plan.convs.size());
  analyse_snapshots(job, strongest, projections);
  assemble_evolution(job, strongest, projections);
  sanity_baseline(job);
  write_result(job);
  job.summary.probe = std::move(job.plan.images);
  return std::move(job.summary);
}

}  // namespace ds
