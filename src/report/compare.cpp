// `deconvscope compare`: loads two or more runs (health, final snapshot, metrics.csv,
// analysis.h5), and writes <out>/index.html (self-contained: pictures are data URIs),
// <out>/compare.csv (every health figure of every conv layer at each run's final
// snapshot) and <out>/verdicts.csv. See include/deconvscope/report/compare.hpp.
// Left out: matching filters across runs (filter 3 of one run is unrelated to filter 3 of
// another), and significance (one run per setting).
#include "deconvscope/report/compare.hpp"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <iterator>
#include <set>
#include <sstream>

#include "compare_internal.hpp"
#include "deconvscope/analysis/analysis_file.hpp"
#include "deconvscope/core/error.hpp"
#include "deconvscope/io/csv.hpp"
#include "deconvscope/io/run_folder.hpp"
#include "deconvscope/io/snapshot.hpp"
#include "deconvscope/io/text_file.hpp"
#include "deconvscope/report/data_uri.hpp"
#include "deconvscope/report/health_page.hpp"
#include "deconvscope/report/html_escape.hpp"
#include "deconvscope/report/pages.hpp"
#include "deconvscope/report/plot.hpp"
#include "deconvscope/report/render.hpp"
#include "draw.hpp"
#include "health_html.hpp"

namespace fs = std::filesystem;

namespace ds {

using compare_detail::judge;
using compare_detail::RunData;
using compare_detail::Verdict;
using health_html::figures;
using health_html::num;
using health_html::pct;

namespace {

constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();

RunData load_run(const ComparedRun& run, const std::string& label) {
  RunData r;
  r.dir = run.dir;
  r.label = label;
  r.health = run.health;
  const std::string& dir = run.dir;
  const RunPaths paths = RunPaths::of(dir);
  try {
    const Config cfg = load_config({"--config", paths.config});
    r.name = cfg.run.name;
    r.config_text = cfg.text;
    r.train_limit = cfg.data.train_limit;
    r.dataset = to_string(cfg.data.dataset);
  } catch (const Error&) {
    // An unreadable config costs the settings check; the page says so.
  }
  r.final_epoch = r.health.epochs.back();
  const std::string& analysis = paths.analysis_file;
  if (fs::exists(analysis)) {
    try {
      r.analysis = read_analysis(analysis);
      r.has_analysis = true;
    } catch (const Error& e) {
      if (e.kind() != ErrorKind::snapshot) throw;
      r.analysis_problem = e.what();
    }
  } else {
    r.analysis_problem = "not analysed (run deconvscope analyze --run " + dir + ")";
  }
  if (!fs::exists(paths.metrics)) {
    r.metrics_problem = "no metrics.csv";
  } else {
    try {
      r.metrics = read_csv(paths.metrics);
    } catch (const Error& e) {
      if (e.kind() != ErrorKind::data) throw;
      r.metrics_problem = e.what();
    }
  }
  return r;
}

std::string join_epochs(const std::vector<int>& epochs) {
  std::string s;
  for (int e : epochs) s += (s.empty() ? "" : ", ") + std::to_string(e);
  return s;
}

// The snapshot epoch every run is judged at: opt.epoch if every run has it, the latest
// epoch all runs have a snapshot of by default, or each run's own last one.
void choose_epoch(std::vector<RunData>& runs, int wanted) {
  std::vector<int> common = runs[0].health.epochs;
  for (const RunData& r : runs) {
    std::vector<int> both;
    std::set_intersection(common.begin(), common.end(), r.health.epochs.begin(), r.health.epochs.end(),
                          std::back_inserter(both));
    common = both;
  }
  std::string each;
  for (const RunData& r : runs) each += (each.empty() ? "" : "; ") + r.label + ": " + join_epochs(r.health.epochs);
  if (wanted == CompareOptions::kLatestCommonEpoch && common.empty())
    throw Error(ErrorKind::usage, "compare",
                "the runs have no snapshot epoch in common (" + each + ")",
                "choose --epoch last to judge each run at its own last snapshot");
  if (wanted >= 0 && !std::binary_search(common.begin(), common.end(), wanted))
    throw Error(ErrorKind::usage, "compare --epoch",
                expected_found("an epoch every run has a snapshot of (" +
                                   (common.empty() ? std::string("none in common") : join_epochs(common)) + ")",
                               std::to_string(wanted)),
                "snapshot epochs: " + each);
  for (RunData& r : runs) {
    r.epoch = wanted >= 0 ? wanted : wanted == CompareOptions::kEachLastEpoch ? r.final_epoch : common.back();
    r.epoch_index =
        size_t(std::find(r.health.epochs.begin(), r.health.epochs.end(), r.epoch) - r.health.epochs.begin());
  }
}

// The conv weights of the run's snapshot at its compared epoch, aligned with health.layers.
void load_weights(RunData& r) {
  for (const auto& [epoch, path] : run_snapshots(RunPaths::of(r.dir))) {
    if (epoch != r.epoch) continue;
    const Snapshot s = read_snapshot(path);
    for (const LayerHealth& l : r.health.layers) {
      Tensor w;
      for (size_t i = 0; i < s.layers.size(); ++i)
        if (s.layers[i].name == l.layer) w = s.params[i].weights;
      r.weights.push_back(std::move(w));
    }
    return;
  }
}

// A column of metrics.csv as numbers (NaN where unreadable); empty if absent.
std::vector<double> metric_column(const CsvTable& t, const std::string& name) {
  std::vector<double> v;
  const int c = t.column(name);
  if (c < 0) return v;
  for (const auto& row : t.rows) {
    try {
      v.push_back(csv_number(row[size_t(c)], name));
    } catch (const Error&) {
      v.push_back(std::nan(""));
    }
  }
  return v;
}

// The second conv layer's strongest projection per feature at the compared epoch (from its
// top-k if the analysis has them there, else the followed features'), each cropped to its
// receptive field.
// `shown` says which features the tiles are (top-k grid or followed features), for the
// caption: the two sources hold different features.
cv::Mat top_projections(const RunData& r, const std::string& layer, std::string* problem, std::string* shown) {
  if (!r.has_analysis) {
    *problem = r.analysis_problem;
    return {};
  }
  const AnalysisResult& a = r.analysis;
  const auto it = std::find(a.layers.begin(), a.layers.end(), layer);
  if (it == a.layers.end()) {
    *problem = "the analysis does not include " + layer;
    return {};
  }
  const size_t li = size_t(it - a.layers.begin());
  const int C = a.input.channels, H = a.input.height, W = a.input.width;
  const size_t image = size_t(C) * H * W;
  std::vector<std::pair<const float*, Window>> tiles;
  std::vector<int> ids;
  const auto top = a.topk.find(r.epoch);
  const auto analysed = std::find(a.epochs.begin(), a.epochs.end(), r.epoch);
  if (top != a.topk.end() && li < top->second.size()) {
    const LayerTopK& t = top->second[li];
    const int n = std::min(t.features, 64);
    for (int f = 0; f < n; ++f) {
      const size_t i = size_t(f) * size_t(t.k);
      if (t.acts[i].image < 0) continue;
      tiles.push_back({t.projections.ptr() + i * image, t.windows[i]});
      ids.push_back(f);
    }
    *shown = "features 0-" + std::to_string(n - 1) + (n < t.features ? " of " + std::to_string(t.features) : "") +
             " that fired (" + std::to_string(tiles.size()) + " of " + std::to_string(n) + "), from the top-k grid";
  } else if (li < a.evolution.size() && analysed != a.epochs.end()) {
    const LayerEvolution& ev = a.evolution[li];
    const size_t e = size_t(analysed - a.epochs.begin()), F = ev.features.size();
    for (size_t f = 0; f < F; ++f) {
      const size_t i = e * F + f;
      if (ev.strongest[i].image < 0) continue;
      tiles.push_back({ev.projections.ptr() + i * image, ev.windows[i]});
      ids.push_back(ev.features[f]);
    }
    *shown = "the " + std::to_string(F) + " followed features that fired (" + std::to_string(tiles.size()) + " of " +
             std::to_string(F) + "; no top-k grid at this epoch, see analysis.topk_epochs)";
  }
  if (tiles.empty()) {
    *problem = "the analysis holds no projections of " + layer + " at epoch " + std::to_string(r.epoch) +
               " (analysed epochs: " + join_epochs(a.epochs) + ")";
    return {};
  }
  constexpr int kTile = 48, kGap = 4;
  const int cols = std::min<int>(8, int(tiles.size()));
  const int rows = (int(tiles.size()) + cols - 1) / cols;
  cv::Mat out(rows * (kTile + kGap) + kGap, cols * (kTile + kGap) + kGap, CV_8UC3, draw::kWhite);
  for (size_t i = 0; i < tiles.size(); ++i) {
    const cv::Mat p = crop_to_window(projection_to_image(tiles[i].first, C, H, W), tiles[i].second, kTile, kTile);
    draw::paste(
        out, draw::to_bgr(p),
        cv::Point(kGap + int(i % size_t(cols)) * (kTile + kGap), kGap + int(i / size_t(cols)) * (kTile + kGap)));
  }
  return out;
}

// Peak frequencies of the first layer's live filters as a distribution over rho bins.
cv::Mat peak_histogram(const std::vector<RunData>& runs) {
  constexpr int kBins = 15;  // width 0.1 over [0, 1.5): rho reaches sqrt(2)
  PlotSpec spec;
  spec.title = "First layer: where each filter's spectrum peaks";
  spec.x_label = "peak frequency, fraction of Nyquist";
  spec.y_label = "filters (%)";
  spec.integer_x = false;
  spec.size = cv::Size(560, 360);
  spec.legend_outside = true;  // never over the bars or lines
  for (size_t r = 0; r < runs.size(); ++r) {
    const HealthResult& h = runs[r].health;
    if (h.layers.empty() || !h.layers[0].is_first() || h.epochs.empty()) continue;
    const LayerHealth& l = h.layers[0];
    const size_t base = runs[r].epoch_index * size_t(l.filters);
    std::vector<double> count(kBins, 0.0);
    double n = 0;
    for (int o = 0; o < l.filters; ++o) {
      const float p = l.peak_frequency[base + size_t(o)];
      if (l.dead[base + size_t(o)] || !std::isfinite(p)) continue;
      count[size_t(std::min(kBins - 1, int(p / 0.1f)))] += 1;
      n += 1;
    }
    PlotSeries s;
    s.label = runs[r].label;
    s.color = plot_color(r);
    for (int b = 0; b < kBins; ++b) {
      s.x.push_back(0.1 * b + 0.05);
      s.y.push_back(n > 0 ? 100.0 * count[size_t(b)] / n : std::nan(""));
    }
    spec.series.push_back(std::move(s));
  }
  return plot_lines(spec);
}

// Each run's first-layer filter RMS over the layer median, sorted: a dominating filter
// is the spike at the right end.
cv::Mat rms_profile(const std::vector<RunData>& runs) {
  PlotSpec spec;
  spec.title = "First layer: filter RMS / median, sorted";
  spec.x_label = "filter rank (0 = weakest, 1 = strongest)";
  spec.y_label = "RMS / median RMS";
  spec.integer_x = false;
  spec.size = cv::Size(560, 360);
  spec.legend_outside = true;  // never over the bars or lines
  for (size_t r = 0; r < runs.size(); ++r) {
    const HealthResult& h = runs[r].health;
    if (h.layers.empty() || h.epochs.empty()) continue;
    const LayerHealth& l = h.layers[0];
    const size_t e = runs[r].epoch_index, O = size_t(l.filters);
    const float med = l.median_rms[e];
    if (!(med > 0) || O == 0) continue;
    std::vector<float> v(l.rms.begin() + long(e * O), l.rms.begin() + long((e + 1) * O));
    std::sort(v.begin(), v.end());
    PlotSeries s;
    s.label = runs[r].label;
    s.color = plot_color(r);
    s.markers = O <= 48;
    for (size_t i = 0; i < O; ++i) {
      s.x.push_back(O > 1 ? double(i) / double(O - 1) : 0.0);
      s.y.push_back(v[i] / med);
    }
    spec.series.push_back(std::move(s));
  }
  return plot_lines(spec);
}

std::string shape_text(const LayerHealth& l) {
  return std::to_string(l.filters) + " x " + std::to_string(l.kernel[0]) + "x" + std::to_string(l.kernel[1]) + " / " +
         std::to_string(l.stride[0]) + (l.stride[0] == l.stride[1] ? "" : "x" + std::to_string(l.stride[1]));
}

// Share of dead filters over every conv layer of a run at epoch index e.
float network_dead(const HealthResult& h, size_t e) {
  double dead = 0, all = 0;
  for (const LayerHealth& l : h.layers) {
    const size_t O = size_t(l.filters);
    for (size_t o = 0; o < O; ++o) dead += l.dead[e * O + o] ? 1 : 0;
    all += double(O);
  }
  return all > 0 ? float(dead / all) : kNaN;
}

void figure(std::ostringstream& p, const cv::Mat& picture, const std::string& alt, const std::string& caption) {
  p << "<figure><img src=\"" << png_data_uri(picture) << "\" alt=\"" << html_escape(alt) << "\">";
  if (!caption.empty()) p << "<figcaption>" << html_escape(caption) << "</figcaption>";
  p << "</figure>\n";
}

// A comparison in the making: the runs at their compared epoch and what is found.
struct Comparison {
  std::vector<RunData> runs;
  std::vector<std::string> labels;  // the runs' labels, in order
  std::string at_epoch;             // "at epoch 2", or each run's
  std::string epoch_rule;           // why that epoch
  bool one_epoch = true;            // every run judged at the same epoch
  size_t depth = 0;                 // conv positions of the deepest run
  std::vector<Verdict> verdicts;
  std::vector<float> acc;           // validation accuracy at the compared epoch, per run
  CompareSummary sum;
};

// A run's health figures at conv position k and its compared epoch.
LayerEpochSummary at(const RunData& r, size_t k) {
  return summarize(r.health.layers[k], r.health.thresholds, r.epoch_index);
}

// Whether a raw figure may be judged at conv position k: its docs call it incomparable
// across filter shapes (redundancy) or first-layer strides (aliasing).
bool comparable(const std::vector<RunData>& runs, const health_html::Figure& f, size_t k, std::string* why) {
  std::set<std::string> keys;
  for (const RunData& r : runs) {
    if (k >= r.health.layers.size()) continue;
    const LayerHealth& l = r.health.layers[k];
    if (f.across == health_html::Across::filter_shape)
      keys.insert(std::to_string(l.filters) + "x" + std::to_string(l.in_channels) + "x" +
                  std::to_string(l.kernel[0]) + "x" + std::to_string(l.kernel[1]));
    else if (f.across == health_html::Across::stride)
      keys.insert(std::to_string(r.health.aliasing_stride[0]) + "x" + std::to_string(r.health.aliasing_stride[1]));
  }
  if (keys.size() < 2) return true;
  *why = f.across == health_html::Across::filter_shape ? "the layers' filter shapes differ"
                                                       : "the first-layer strides differ";
  return false;
}

// The runs, labelled and loaded, at the epoch they are judged at.
Comparison gather(const std::vector<ComparedRun>& compared, const std::vector<std::string>& run_dirs,
                  const CompareOptions& opt) {
  Comparison c;
  std::set<std::string> labels_used;
  for (size_t i = 0; i < run_dirs.size(); ++i) {
    std::string label =
        opt.labels.empty() ? fs::path(run_dirs[i]).lexically_normal().filename().string() : opt.labels[i];
    if (label.empty() || label == ".") label = fs::weakly_canonical(run_dirs[i]).filename().string();
    if (!labels_used.insert(label).second) label += " (" + std::to_string(i + 1) + ")";
    labels_used.insert(label);
    c.runs.push_back(load_run(compared[i], label));
  }
  for (const RunData& r : c.runs) c.labels.push_back(r.label);
  choose_epoch(c.runs, opt.epoch);
  for (RunData& r : c.runs) {
    load_weights(r);
    c.sum.epochs.push_back(r.epoch);
  }
  c.one_epoch =
      std::all_of(c.runs.begin(), c.runs.end(), [&](const RunData& r) { return r.epoch == c.runs[0].epoch; });
  if (c.one_epoch) {
    c.at_epoch = "at epoch " + std::to_string(c.runs[0].epoch);
  } else {
    for (const RunData& r : c.runs)
      c.at_epoch += (c.at_epoch.empty() ? "at epoch " : ", ") + std::to_string(r.epoch) + " (" + r.label + ")";
  }
  if (opt.epoch >= 0)
    c.epoch_rule = "the epoch chosen with --epoch";
  else if (opt.epoch == CompareOptions::kEachLastEpoch)
    c.epoch_rule = "each run's own last snapshot (--epoch last)";
  else
    c.epoch_rule = "the latest epoch every run has a snapshot of";
  c.sum.at_epoch = c.at_epoch;
  c.sum.epoch_rule = c.epoch_rule;

  for (const RunData& r : c.runs) c.depth = std::max(c.depth, r.health.layers.size());
  return c;
}

// Settings that change results, and the images dead filters were counted on.
void note_differences(Comparison& c) {
  std::set<std::string> sets;
  std::string each;
  for (const RunData& r : c.runs) {
    const std::string set =
        r.dataset + ": " + (r.train_limit > 0 ? "first " + std::to_string(r.train_limit) : std::string("all"));
    sets.insert(set);
    each += (each.empty() ? "" : "; ") + r.label + " on " +
            (r.train_limit > 0 ? "the first " + std::to_string(r.train_limit) + " training images"
                               : std::string("every training image")) +
            " of " + r.dataset;
  }
  if (sets.size() > 1)
    c.sum.differences.push_back("Different training sets (data.train_limit / data.dataset): " + each +
                              ". A run that saw fewer images has taken fewer steps by the same epoch; its figures "
                              "differ for that reason too, not only for what the comparison is about.");
  std::vector<std::string> texts;
  bool all_read = true;
  for (const RunData& r : c.runs) {
    texts.push_back(r.config_text);
    all_read = all_read && !r.config_text.empty();
  }
  if (all_read) {
    for (const std::string& d : compare_detail::setting_differences(c.labels, texts)) c.sum.differences.push_back(d);
  } else {
    for (const RunData& r : c.runs)
      if (r.config_text.empty())
        c.sum.notes.push_back(r.label + ": its config.cfg could not be read, so its settings were not checked.");
  }
  std::set<std::string> probes;
  std::string probe_each;
  for (const RunData& r : c.runs) {
    probes.insert(r.health.split + " " + std::to_string(r.health.probe_count) + " " + r.health.dataset_path);
    probe_each += (probe_each.empty() ? "" : "; ") + r.label + " the first " + std::to_string(r.health.probe_count) +
                  " " + r.health.split + " images of " + r.health.dataset_path;
  }
  if (probes.size() > 1)
    c.sum.differences.push_back("Dead filters were counted on different probe images: " + probe_each +
                              ". A filter that fires rarely is more likely to look dead on fewer images.");
}

// What cannot be compared.
void note_limits(Comparison& c) {
  std::set<size_t> depths;
  std::set<int> finals;
  std::set<std::string> inputs;
  for (const RunData& r : c.runs) {
    depths.insert(r.health.layers.size());
    finals.insert(r.final_epoch);
    inputs.insert(std::to_string(r.health.input.channels) + "x" + std::to_string(r.health.input.height) + "x" +
                  std::to_string(r.health.input.width));
  }
  c.sum.notes.push_back(
      "Filters are not matched across runs: filter 3 of one run has nothing to do with filter 3 of "
      "another, so every figure is a share or a mean over a layer's filters.");
  if (depths.size() > 1) {
    std::string d;
    for (const RunData& r : c.runs) d += (d.empty() ? "" : ", ") + r.label + " " + std::to_string(r.health.layers.size());
    c.sum.notes.push_back("The runs differ in depth (conv layers: " + d +
                        "). Layers are matched by position; a position "
                        "only some runs have is compared among those.");
  }
  for (size_t k = 0; k < c.depth; ++k) {
    std::set<std::string> shapes;
    for (const RunData& r : c.runs)
      if (k < r.health.layers.size()) shapes.insert(shape_text(r.health.layers[k]));
    if (shapes.size() > 1)
      c.sum.notes.push_back("Conv position " + std::to_string(k + 1) + " has different shapes in different runs: " +
                          "its figures are compared as shares of each layer's own filters, not filter by filter.");
  }
  if (!c.one_epoch)
    c.sum.notes.push_back("The runs are judged at different epochs (" + c.at_epoch +
                        "): a run that trained longer has had more time to learn and to lose filters.");
  else if (finals.size() > 1)
    c.sum.notes.push_back("The runs end at different epochs; all are judged " + c.at_epoch +
                        ", the latest one they share. Choose another with --epoch N.");
  if (inputs.size() > 1)
    c.sum.notes.push_back(
        "The runs' inputs differ in size: frequencies are in cycles per input pixel of each run's own "
        "input, so the first layers' frequency figures describe different image scales.");
  for (const RunData& r : c.runs) {
    if (!r.health.aliasing_note.empty())
      c.sum.notes.push_back(r.label + ": stride aliasing not measured: " + r.health.aliasing_note + ".");
    if (!r.metrics_problem.empty()) c.sum.notes.push_back(r.label + ": no validation curve: " + r.metrics_problem + ".");
  }
}

// Verdicts at the compared epoch: the first two conv positions, where the paper's failures
// show, and the whole network.
void judge_runs(Comparison& c) {
  for (size_t k = 0; k < std::min<size_t>(c.depth, 2); ++k) {
    std::string names;
    for (const RunData& r : c.runs)
      names +=
          (names.empty() ? "" : " / ") + (k < r.health.layers.size() ? r.health.layers[k].layer : std::string("none"));
    const std::string scope = "conv position " + std::to_string(k + 1) + ": " + names;
    static const std::set<std::string> kFirst = {"dead_fraction", "dominating_fraction",
                                                 "max_rms_ratio", "correlation_above_chance",
                                                 "mid_coverage",  "mid_share"};
    static const std::set<std::string> kSecond = {"dead_fraction", "aliasing", "aliasing_excess",
                                                  "correlation_above_chance"};
    for (const auto& f : figures()) {
      if (f.better == 0 || !(k == 0 ? kFirst : kSecond).count(f.key)) continue;
      std::vector<float> v;
      for (const RunData& r : c.runs) v.push_back(k < r.health.layers.size() ? f.get(at(r, k)) : kNaN);
      std::string why;
      if (std::count_if(v.begin(), v.end(), [](float x) { return std::isfinite(x); }) > 1 && !comparable(c.runs, f, k, &why)) {
        Verdict nj;
        nj.scope = scope;
        nj.metric = f.key;
        nj.title = f.title;
        nj.better = f.better;
        nj.text = std::string(f.title) + " (" + scope + "): not judged: " + why +
                  ", and the raw figure depends on them (" + f.fair + " is the fair one).";
        c.verdicts.push_back(nj);
        continue;
      }
      c.verdicts.push_back(judge(scope, f.key, f.title, f.better, f.percent, c.labels, v));
    }
  }
  std::vector<float> dead_all;
  for (const RunData& r : c.runs) {
    dead_all.push_back(network_dead(r.health, r.epoch_index));
    const std::vector<double> ep = metric_column(r.metrics, "epoch"), va = metric_column(r.metrics, "val_accuracy");
    float a = kNaN;
    for (size_t j = 0; j < ep.size() && j < va.size(); ++j)
      if (ep[j] == r.epoch) a = float(va[j]);
    c.acc.push_back(a);
  }
  c.verdicts.push_back(judge("every conv layer", "dead_fraction", "dead filters", -1, true, c.labels, dead_all));
  c.verdicts.push_back(judge(c.at_epoch, "val_accuracy", "validation accuracy", +1, true, c.labels, c.acc));
  for (const Verdict& v : c.verdicts) c.sum.verdicts.push_back(v.text);
}

// compare.csv: every figure of every run's conv layers at its compared epoch.
void write_figures_csv(Comparison& c, const std::string& out_dir) {
  std::error_code ec;
  fs::create_directories(out_dir, ec);
  if (ec)
    throw Error(ErrorKind::io, out_dir, "cannot create folder: " + ec.message(), "check the folder's permissions");
  CsvWriter csv("run,run_dir,conv_position,layer,filters,kernel,stride,epoch,metric,value");
  for (const RunData& r : c.runs)
    for (size_t k = 0; k < r.health.layers.size(); ++k) {
      const LayerHealth& l = r.health.layers[k];
      const LayerEpochSummary s = at(r, k);
      const std::string kernel = std::to_string(l.kernel[0]) + 'x' + std::to_string(l.kernel[1]);
      const std::string stride = std::to_string(l.stride[0]) + 'x' + std::to_string(l.stride[1]);
      for (const auto& f : figures()) {
        const float v = f.get(s);
        if (!std::isfinite(v)) continue;
        csv.add(CsvRow()
                    .text(r.label)
                    .text(r.dir)
                    .integer(k + 1)
                    .text(l.layer)
                    .integer(l.filters)
                    .text(kernel)
                    .text(stride)
                    .integer(r.epoch)
                    .text(f.key)
                    .number(v));
      }
    }
  c.sum.csv = (fs::path(out_dir) / "compare.csv").string();
  csv.write(c.sum.csv);
}

// verdicts.csv: the verdicts as a table; a verdict ranks finite values only ("nan": no value).
void write_verdicts_csv(Comparison& c, const std::string& out_dir) {
  CsvWriter csv("scope,metric,healthier,best_run,best_value,worst_run,worst_value,verdict");
  for (const Verdict& v : c.verdicts)
    csv.add(CsvRow()
                .text(v.scope)
                .text(v.metric)
                .text(v.better < 0 ? "lower" : "higher")
                .text(v.leaders.empty() ? "" : v.leaders.front())
                .number(v.values.empty() ? kNaN : v.values.front())
                .text(v.leaders.empty() ? "" : v.runs.back())
                .number(v.values.empty() ? kNaN : v.values.back())
                .text(v.text));
  c.sum.verdicts_csv = (fs::path(out_dir) / "verdicts.csv").string();
  csv.write(c.sum.verdicts_csv);
}

// A folder for a table cell: escaped, with a break opportunity after each slash, so a long
// path wraps at its folders rather than inside a name.
std::string path_html(const std::string& path) {
  std::string out;
  size_t from = 0;
  for (size_t slash; (slash = path.find('/', from)) != std::string::npos; from = slash + 1)
    out += html_escape(path.substr(from, slash + 1 - from)) + "<wbr>";
  return out + html_escape(path.substr(from));
}

// index.html of the comparison. Its own layout rules (grids, wrapping tables) are inline:
// they are for this page only.
// First-layer mosaics in a grid: a column per run, a row per scale; the peak-frequency
// histogram and RMS profile beside them.
void section_filters(std::ostringstream& p, const Comparison& c) {
  p << "<h2 id=\"filters\">First-layer filters " << html_escape(c.at_epoch)
    << "</h2>\n<p class=\"hint\">Top row: each filter "
       "stretched by its own largest weight (shape and frequency). Bottom row: every filter on its layer's largest "
       "weight (strength; a dominating filter stands out, as in Fig. 6 a). Red: dead; amber: dominating.</p>\n"
       "<div class=\"mosaics\">\n";
  for (bool shared : {false, true}) {
    for (const RunData& r : c.runs) {
      if (r.health.layers.empty() || r.weights.empty() || r.weights[0].dims.size() != 4) {
        p << "<p class=\"missing\">" << html_escape(r.label) << ": no first-layer weights at epoch " << r.epoch
          << ".</p>\n";
        continue;
      }
      const LayerHealth& l = r.health.layers[0];
      figure(p, health_mosaic(r.weights[0], mosaic_cell(l.kernel[0], l.kernel[1]), shared, &l, r.epoch_index),
             r.label + " " + l.layer,
             r.label + ": " + l.layer + ", " + shape_text(l) + ", epoch " + std::to_string(r.epoch) +
                 (shared ? ", one scale" : ", each filter on its own scale"));
    }
  }
  p << "</div>\n<div class=\"row\">\n";
  figure(p, peak_histogram(c.runs), "peak frequencies",
         "Distribution of the live first-layer filters' spectral peaks. The mid band is between " +
             num("%.2f", c.runs[0].health.thresholds.low_band) + " and " +
             num("%.2f", c.runs[0].health.thresholds.mid_band) + " of Nyquist.");
  figure(p, rms_profile(c.runs), "RMS profile",
         "A flat curve: filters of similar strength; a spike at the right: dominating filters.");
  p << "</div>\n";
}

// Second-layer top projections side by side.
void section_projections(std::ostringstream& p, const Comparison& c) {
  p << "<h2 id=\"projections\">Second-layer projections " << html_escape(c.at_epoch)
    << "</h2>\n<p class=\"hint\">Each tile: a feature's strongest "
       "activation over the probe images, projected to pixels by the deconvnet and cropped to its receptive field "
       "(which features: under each run). Stride aliasing shows as a grid that repeats with the first layer's "
       "stride.</p>\n"
       "<div class=\"mosaics\">\n";
  for (const RunData& r : c.runs) {
    if (r.health.layers.size() < 2) {
      p << "<p class=\"note\">" << html_escape(r.label) << ": only one conv layer.</p>\n";
      continue;
    }
    std::string problem, shown;
    const cv::Mat m = top_projections(r, r.health.layers[1].layer, &problem, &shown);
    if (m.empty()) {
      p << "<p class=\"note\">" << html_escape(r.label) << ": no projections of "
        << html_escape(r.health.layers[1].layer) << ": " << html_escape(problem) << ".</p>\n";
      continue;
    }
    const LayerEpochSummary s = at(r, 1);
    figure(p, m, r.label + " projections",
           r.label + ": " + r.health.layers[1].layer + ", epoch " + std::to_string(r.epoch) + ", " + shown +
               "; stride aliasing " +
               pct(s.aliasing) + " (noise floor " + pct(s.aliasing_noise) + ", first-layer stride " +
               std::to_string(r.health.aliasing_stride[0]) + ")");
  }
  p << "</div>\n";
}

// Health table per conv position: a column per run; the healthiest marked only where
// the verdict rule names one, and raw figures that cannot be compared left unmarked.
void section_health(std::ostringstream& p, const Comparison& c) {
  const size_t R = c.runs.size();
  p << "<h2 id=\"health\">Health per conv layer " << html_escape(c.at_epoch)
    << "</h2>\n<p class=\"hint\">Green: the healthiest value of a row, where one direction is healthier and the "
       "difference is beyond the tie thresholds of the verdicts. &ndash;: the run has no such layer or the figure "
       "does not apply. <em>not judged</em>: a raw figure that is not comparable between these layers.</p>\n";
  for (size_t k = 0; k < c.depth; ++k) {
    p << "<h3>Conv position " << k + 1 << "</h3>\n<table class=\"fit\">\n<tr><th></th>";
    for (const RunData& r : c.runs) p << "<th>" << html_escape(r.label) << "</th>";
    p << "</tr>\n<tr><td>layer</td>";
    for (const RunData& r : c.runs)
      p << (k < r.health.layers.size()
                ? "<td>" + html_escape(r.health.layers[k].layer + " (" + shape_text(r.health.layers[k]) + ")") + "</td>"
                : std::string("<td class=\"none\">&ndash;</td>"));
    p << "</tr>\n";
    for (const auto& f : figures()) {
      std::vector<float> v;
      for (const RunData& r : c.runs) v.push_back(k < r.health.layers.size() ? f.get(at(r, k)) : kNaN);
      if (std::none_of(v.begin(), v.end(), [](float x) { return std::isfinite(x); })) continue;
      std::string why;
      const bool fair = comparable(c.runs, f, k, &why);
      std::vector<std::string> leaders;
      if (f.better != 0 && fair) leaders = judge("", f.key, f.title, f.better, f.percent, c.labels, v).leaders;
      p << "<tr data-metric=\"" << f.key << "\"><td title=\"" << html_escape(f.help) << "\">" << html_escape(f.title);
      if (!fair) p << " <em title=\"" << html_escape(why + "; see " + f.fair) << "\">not judged</em>";
      p << "</td>";
      for (size_t i = 0; i < R; ++i) {
        if (!std::isfinite(v[i])) {
          p << "<td class=\"none\">&ndash;</td>";
          continue;
        }
        const bool mark = std::find(leaders.begin(), leaders.end(), c.runs[i].label) != leaders.end();
        p << "<td class=\"num" << (mark ? " best" : !fair ? " unjudged" : "") << "\">"
          << (f.percent ? pct(v[i]) : num("%.3f", v[i])) << "</td>";
      }
      p << "</tr>\n";
    }
    p << "</table>\n";
  }
}

// Curves: validation, and health across the snapshots.
void section_curves(std::ostringstream& p, const Comparison& c) {
  const size_t R = c.runs.size();
  p << "<h2 id=\"curves\">Curves</h2>\n<p class=\"hint\">Every epoch of each run; the figures above are "
    << html_escape(c.at_epoch) << ".</p>\n<div class=\"row\">\n";
  for (const auto& [col, title, percent] :
       {std::tuple<const char*, const char*, bool>{"val_accuracy", "Validation accuracy", true},
        {"val_loss", "Validation loss", false}}) {
    PlotSpec spec;
    spec.title = title;
    spec.x_label = "epoch";
    spec.y_label = percent ? std::string(title) + " (%)" : title;
    spec.size = cv::Size(560, 360);
    spec.legend_outside = true;
    for (size_t i = 0; i < R; ++i) {
      PlotSeries s;
      s.label = c.runs[i].label;
      s.color = plot_color(i);
      const std::vector<double> ep = metric_column(c.runs[i].metrics, "epoch"), v = metric_column(c.runs[i].metrics, col);
      for (size_t j = 0; j < ep.size() && j < v.size(); ++j) {
        s.x.push_back(ep[j]);
        s.y.push_back(percent ? 100 * v[j] : v[j]);
      }
      spec.series.push_back(std::move(s));
    }
    figure(p, plot_lines(spec), title, std::string(title) + " per epoch, from each run's metrics.csv.");
  }
  {
    std::vector<std::vector<int>> xs;
    std::vector<std::vector<float>> dead0, dead_every, alias, midc;
    for (const RunData& r : c.runs) {
      xs.push_back(r.health.epochs);
      dead0.emplace_back();
      dead_every.emplace_back();
      alias.emplace_back();
      midc.emplace_back();
      for (size_t e = 0; e < r.health.epochs.size(); ++e) {
        const LayerEpochSummary s0 = summarize(r.health.layers[0], r.health.thresholds, e);
        dead0.back().push_back(s0.dead);
        midc.back().push_back(s0.mid_coverage);
        dead_every.back().push_back(network_dead(r.health, e));
        alias.back().push_back(
            r.health.layers.size() > 1 ? summarize(r.health.layers[1], r.health.thresholds, e).aliasing : kNaN);
      }
    }
    figure(p, health_html::plot_over_epochs("Dead filters, first conv layer", "dead", c.labels, xs, dead0, true),
           "dead first layer", "Share of the first conv layer's filters that are dead, per snapshot.");
    figure(p, health_html::plot_over_epochs("Dead filters, every conv layer", "dead", c.labels, xs, dead_every, true),
           "dead all", "Share of all conv filters that are dead, per snapshot.");
    figure(p,
           health_html::plot_over_epochs("Mid-band coverage, first conv layer", "mid coverage", c.labels, xs, midc, true),
           "mid coverage", "Share of live first-layer filters whose spectral peak is in the mid band.");
    figure(
        p,
        health_html::plot_over_epochs("Stride aliasing, second conv layer", "periodic share", c.labels, xs, alias, true),
        "aliasing",
        "Share of the second layer's projection energy that repeats with the first layer's stride (analysed "
        "epochs only).");
  }
  p << "</div>\n";
}

// One further analysis' part of the page, computed for the runs.
struct Shown {
  const CompareCell* cell;
  std::vector<std::string> cells;  // runs_column, runs_figures: per run, "" for none
  std::string section;             // section: its HTML, "" for none
};

// Every analysis' part, in the list's order: their notes join the others in that order.
std::vector<Shown> show_cells(Comparison& c, const std::vector<CompareCell>& cells) {
  std::vector<std::string> dirs;
  for (const RunData& r : c.runs) dirs.push_back(r.dir);
  std::vector<Shown> shown;
  for (const CompareCell& cell : cells) {
    Shown s{&cell, {}, {}};
    if (cell.place == CompareCell::Place::section) {
      if (cell.section) s.section = cell.section(dirs, c.labels, &c.sum.notes);
    } else if (cell.place != CompareCell::Place::none) {
      for (const RunData& r : c.runs) {
        std::string note;
        s.cells.push_back(cell.cell ? cell.cell(r.dir, &note) : "");
        if (!note.empty()) c.sum.notes.push_back(r.label + ": " + note + ".");
      }
    }
    shown.push_back(std::move(s));
  }
  return shown;
}

// The heading (h2 or h3) and hint over a part shown under its own heading.
std::string heading(const CompareCell& cell, const std::string& tag) {
  return "<" + tag + " id=\"" + cell.anchor + "\">" + html_escape(cell.title) + "</" + tag + ">\n<p class=\"hint\">" +
         cell.hint_html + "</p>\n";
}

void write_page(Comparison& c, const std::vector<CompareCell>& cells, const std::string& out_dir) {
  const std::vector<Shown> shown = show_cells(c, cells);
  auto placed = [&](CompareCell::Place place) {
    std::vector<const Shown*> v;
    for (const Shown& s : shown)
      if (s.cell->place == place) v.push_back(&s);
    return v;
  };
  const std::vector<const Shown*> columns = placed(CompareCell::Place::runs_column);
  const size_t R = c.runs.size();
  std::string runs;
  for (size_t i = 0; i < R; ++i) runs += (i ? " vs " : "") + c.runs[i].label;
  PageFrame frame;
  frame.title = "deconvscope compare: " + runs;
  frame.heading = runs;
  frame.subtitle_html =
      "Comparing architectures by filter health, after Zeiler &amp; Fergus Sec. 4.1 and Fig. 6. Definitions of "
      "every figure are in docs/health-format.md.";
  frame.extra_css =
      "\n.mosaics { display: grid; grid-template-columns: repeat(" + std::to_string(R) +
      ", minmax(0, 1fr)); gap: 16px 20px; align-items: start; margin: 10px 0 18px; }\n"
      ".mosaics figure { margin: 0; }\n"
      ".mosaics img { width: 100%; max-width: 440px; }\n"
      ".mosaics .missing { color: #888; font-style: italic; }\n"
      "table.fit { max-width: 100%; }\n"
      // Cells wrap between words only ("quickstar t" read as two words); folders break
      // after a slash (<wbr>).
      "table.fit th, table.fit td { white-space: normal; overflow-wrap: normal; word-break: normal; }\n"
      "table.fit td.num { white-space: nowrap; }\n"
      "td.unjudged { color: #777; }\n"
      "p.epoch { font-size: 16px; font-weight: 600; }\n";
  std::ostringstream p;
  p << page_head(frame);
  p << "<p class=\"epoch\" id=\"epoch\">Compared " << html_escape(c.at_epoch) << ": " << html_escape(c.epoch_rule)
    << ".</p>\n";
  p << "<nav><a href=\"#runs\">Runs</a><a href=\"#verdicts\">Verdicts</a><a href=\"#filters\">First-layer filters</a>"
       "<a href=\"#projections\">Second-layer projections</a><a href=\"#health\">Health per layer</a>"
       "<a href=\"#curves\">Curves</a>";
  for (const Shown* s : placed(CompareCell::Place::section))
    if (!s->section.empty()) p << "<a href=\"#" << s->cell->anchor << "\">" << html_escape(s->cell->title) << "</a>";
  p << "<a href=\"#limits\">What is not compared</a></nav>\n";

  p << "<h2 id=\"runs\">Runs</h2>\n<table class=\"fit\">\n<tr><th>run</th><th>folder</th><th>run.name</th>"
       "<th>input</th><th>conv layers</th><th>first layer</th><th>training images</th><th>probe images</th>"
       "<th>compared epoch (last)</th><th>val accuracy there</th>";
  for (const Shown* s : columns) p << "<th>" << html_escape(s->cell->title) << "</th>";
  p << "</tr>\n";
  for (size_t i = 0; i < R; ++i) {
    const RunData& r = c.runs[i];
    const HealthResult& h = r.health;
    p << "<tr><td>" << html_escape(r.label) << "</td><td>" << path_html(r.dir) << "</td><td>" << html_escape(r.name)
      << "</td><td class=\"num\">" << h.input.channels << "x" << h.input.height << "x" << h.input.width
      << "</td><td class=\"num\">" << h.layers.size() << "</td><td>"
      << (h.layers.empty() ? std::string("-") : html_escape(shape_text(h.layers[0]))) << "</td><td>"
      << html_escape((r.train_limit > 0 ? "first " + std::to_string(r.train_limit) : std::string("all")) + " of " +
                     r.dataset)
      << "</td><td>" << h.probe_count << " " << html_escape(h.split) << "</td><td class=\"num\">" << r.epoch << " ("
      << r.final_epoch << ")</td><td class=\"num\">" << pct(c.acc[i]) << "</td>";
    for (const Shown* s : columns) p << "<td>" << (s->cells[i].empty() ? std::string("-") : s->cells[i]) << "</td>";
    p << "</tr>\n";
  }
  p << "</table>\n";
  // Each run's picture side by side, under the table.
  for (const Shown* s : placed(CompareCell::Place::runs_figures)) {
    std::string row;
    for (size_t i = 0; i < R; ++i)
      if (!s->cells[i].empty())
        row += "<figure style=\"display:inline-block\">" + s->cells[i] + "<figcaption>" +
               html_escape(c.runs[i].label) + "</figcaption></figure>";
    if (!row.empty()) p << heading(*s->cell, "h3") << "<div class=\"scroll\">" << row << "</div>\n";
  }
  if (!c.sum.differences.empty()) {
    p << "<div class=\"note\" id=\"differences\"><strong>Settings that change results differ between the runs</strong>"
         " (besides the architecture):\n<ul>\n";
    for (const std::string& d : c.sum.differences) p << "<li>" << html_escape(d) << "</li>\n";
    p << "</ul></div>\n";
  }

  p << "<h2 id=\"verdicts\">Verdicts</h2>\n<p class=\"hint\">Judged " << html_escape(c.at_epoch)
    << ". Differences under half a percentage point (0.01 for cosines, 2% for ratios) are called ties: one run per "
       "setting cannot separate smaller ones from chance.</p>\n<ul class=\"verdicts\">\n";
  for (const std::string& v : c.sum.verdicts) p << "<li>" << html_escape(v) << "</li>\n";
  p << "</ul>\n";

  section_filters(p, c);
  section_projections(p, c);
  section_health(p, c);
  section_curves(p, c);

  for (const Shown* s : placed(CompareCell::Place::section))
    if (!s->section.empty()) p << heading(*s->cell, "h2") << s->section;

  p << "<h2 id=\"limits\">What is not compared</h2>\n<ul>\n";
  for (const std::string& n : c.sum.notes) p << "<li>" << html_escape(n) << "</li>\n";
  p << "</ul>\n";
  p << page_end("compare");
  c.sum.html = (fs::path(out_dir) / "index.html").string();
  write_text_atomic(c.sum.html, p.str());
}

}  // namespace

void check_compare_runs(const std::vector<std::string>& run_dirs) {
  if (run_dirs.size() < 2)
    throw Error(ErrorKind::usage, "compare",
                expected_found("at least two run folders", std::to_string(run_dirs.size())),
                "e.g. deconvscope compare runs/zfnet-fashion runs/alexnet-fashion --out runs/compare");
  std::set<std::string> seen;
  for (const std::string& d : run_dirs)
    if (!seen.insert(fs::weakly_canonical(d).string()).second)
      throw Error(ErrorKind::usage, d, "the same run folder is given twice", "compare different runs");
}

CompareSummary compare_runs(const std::vector<ComparedRun>& compared, const std::vector<CompareCell>& cells,
                            const std::string& out_dir, const CompareOptions& opt) {
  std::vector<std::string> run_dirs;
  for (const ComparedRun& c : compared) run_dirs.push_back(c.dir);
  check_compare_runs(run_dirs);
  if (out_dir.empty()) throw Error(ErrorKind::usage, "compare", "expected an output folder (--out DIR)");
  if (opt.epoch < CompareOptions::kEachLastEpoch)
    throw Error(ErrorKind::usage, "compare --epoch",
                expected_found("an epoch >= 0, or last", std::to_string(opt.epoch)));
  if (!opt.labels.empty() && opt.labels.size() != run_dirs.size())
    throw Error(
        ErrorKind::usage, "compare --labels",
        expected_found(std::to_string(run_dirs.size()) + " labels (one per run)", std::to_string(opt.labels.size())));

  Comparison c = gather(compared, run_dirs, opt);
  note_differences(c);
  note_limits(c);
  judge_runs(c);
  std::error_code ec;
  fs::create_directories(out_dir, ec);
  if (ec)
    throw Error(ErrorKind::io, out_dir, "cannot create folder: " + ec.message(), "check the folder's permissions");
  write_figures_csv(c, out_dir);
  write_page(c, cells, out_dir);
  write_verdicts_csv(c, out_dir);
  return c.sum;
}

}  // namespace ds
