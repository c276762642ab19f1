// The run report: renders every picture into <run_dir>/report/ and writes one static
// index.html beside them (relative <img> paths, inline CSS, no scripts, no network), so
// the folder opens from disk in any browser and can be copied elsewhere whole. Links
// from evolution-strip rows to top-k grids are transparent boxes placed over the picture
// in percent, so they stay on their rows at any zoom. While a live run is still training
// the page reloads itself. Pictures of layers or epochs no longer analysed are removed.
// Left out: interactivity beyond links, and pictures of layers that were not analysed.
#include "deconvscope/io/text_file.hpp"
#include "deconvscope/report/html_report.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <map>
#include <regex>
#include <set>
#include <sstream>

#include "deconvscope/config/config.hpp"
#include "deconvscope/core/error.hpp"
#include "deconvscope/core/number_text.hpp"
#include "deconvscope/io/atomic_file.hpp"
#include "deconvscope/io/csv.hpp"
#include "deconvscope/io/run_folder.hpp"
#include "deconvscope/report/convergence_section.hpp"
#include "deconvscope/report/pages.hpp"
#include "deconvscope/report/png.hpp"
#include "deconvscope/report/render.hpp"

namespace fs = std::filesystem;

namespace ds {

namespace {


// Layer names come from configs; keep file names portable anyway.
std::string file_safe(const std::string& s) {
  std::string out;
  for (char c : s) out += (std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_') ? c : '_';
  return out.empty() ? "layer" : out;
}

std::string epoch_tag(int e) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "epoch%04d", e);
  return buf;
}

// "3, 17, 40" (at most `limit` shown, then "... (N more)").
std::string index_list(const std::vector<int>& v, size_t limit = 40) {
  std::string out;
  for (size_t i = 0; i < v.size() && i < limit; ++i) out += (i ? ", " : "") + std::to_string(v[i]);
  if (v.size() > limit) out += ", ... (" + std::to_string(v.size() - limit) + " more)";
  return out;
}

// A CSS length in percent of `whole`, for overlays that scale with their picture.
std::string css_pct(double part, double whole) { return format_number("%.3f%%", whole > 0 ? 100.0 * part / whole : 0.0); }

// The pictures write_report names, and only those: the stale ones may be removed.
bool is_report_picture(const std::string& name) {
  static const std::regex own(
      "(training_curves|layer_stats|convergence)\\.png|evolution_[A-Za-z0-9_-]+\\.png|"
      "topk_[A-Za-z0-9_-]+_epoch[0-9]{4,}(_p[0-9]+)?\\.png|filters_epoch[0-9]{4,}\\.png");
  return std::regex_match(name, own);
}

// Per conv layer, features dead at the last epoch: from metrics.csv (never fired on the
// trainer's probe batch) and from the analysis (no positive activation over the probe
// images at the latest top-k epoch).
struct DeadRow {
  std::string layer;
  int features = -1;                   // -1: unknown (the layer has no top-k)
  double metrics_fraction = -1;        // -1: no column
  int topk_epoch = -1;                 // -1: no top-k of this layer
  std::vector<int> inactive_features;  // at topk_epoch
};

void check_result(const AnalysisResult& r, const Dataset& probe) {
  const size_t L = r.layers.size();
  auto bad = [](const std::string& what, size_t expected, size_t found) {
    return Error(ErrorKind::snapshot, "analysis: " + what,
                 expected_found(std::to_string(expected) + " (one per analysed layer)", std::to_string(found)),
                 "re-run the analysis");
  };
  if (r.evolution.size() != L) throw bad("evolution entries", L, r.evolution.size());
  if (!r.jumps.empty() && r.jumps.size() != L) throw bad("jump entries", L, r.jumps.size());
  if (!r.convergence.empty() && r.convergence.size() != L) throw bad("convergence entries", L, r.convergence.size());
  const std::string where = probe.source.empty() ? "probe dataset" : probe.source;
  if (probe.channels != r.input.channels || probe.height != r.input.height || probe.width != r.input.width)
    throw Error(
        ErrorKind::data, where,
        "image shape " + expected_found("(" + std::to_string(r.input.channels) + ", " + std::to_string(r.input.height) +
                                            ", " + std::to_string(r.input.width) + ") as analysed",
                                        "(" + std::to_string(probe.channels) + ", " + std::to_string(probe.height) +
                                            ", " + std::to_string(probe.width) + ")"),
        "pass the dataset and split the analysis was made on");
  if (probe.size() < size_t(std::max<int64_t>(0, r.probe_count)))
    throw Error(
        ErrorKind::data, where,
        "probe images " + expected_found("at least " + std::to_string(r.probe_count), std::to_string(probe.size())),
        "pass the dataset and split the analysis was made on");
}

class Page {
 public:
  std::ostringstream h;
  void img(const std::string& file, const std::string& alt, const std::string& caption) {
    h << "<figure><img src=\"" << html_escape(file) << "\" alt=\"" << html_escape(alt) << "\">";
    if (!caption.empty()) h << "<figcaption>" << html_escape(caption) << "</figcaption>";
    h << "</figure>\n";
  }
  // A picture with positioned overlays (links, anchors) in a box of the picture's size.
  void pic(const std::string& file, const std::string& alt, const std::string& caption, const std::string& overlay,
           const std::string& id = "") {
    h << "<figure" << (id.empty() ? "" : " id=\"" + html_escape(id) + "\"") << "><div class=\"pic\"><img src=\""
      << html_escape(file) << "\" alt=\"" << html_escape(alt) << "\">" << overlay << "</div>";
    if (!caption.empty()) h << "<figcaption>" << html_escape(caption) << "</figcaption>";
    h << "</figure>\n";
  }
  void note(const std::string& text) { h << "<p class=\"note\">" << html_escape(text) << "</p>\n"; }
  void kv(const std::string& key, const std::string& value) {
    h << "<tr><th>" << html_escape(key) << "</th><td>" << html_escape(value) << "</td></tr>\n";
  }
  void row(const std::vector<std::string>& cells, bool header = false) {
    h << "<tr>";
    for (const auto& c : cells) h << (header ? "<th>" : "<td>") << html_escape(c) << (header ? "</th>" : "</td>");
    h << "</tr>\n";
  }
};

// Extra rules of this page only: overlays on pictures (strip rows linking to top-k
// grids, the anchors they land on) and the live-run banner.
const char* const kOverlayCss = R"(
.pic { position: relative; display: inline-block; max-width: 100%; line-height: 0; }
.pic img { display: block; }
.pic a.rowlink { position: absolute; left: 0; width: 100%; }
.pic a.rowlink:hover, .pic a.rowlink:focus { outline: 2px solid #1f5fa8; background: rgba(31,95,168,.07); }
.pic .anchor { position: absolute; pointer-events: none; }
.pic .anchor:target { outline: 3px solid #f0c040; }
td.wrap { white-space: normal; min-width: 240px; }
p.live { color: #1f5fa8; background: #eef4fb; border-left: 4px solid #1f5fa8; padding: 8px 12px; }
)";

constexpr int kRefreshSeconds = 30;  // a live run's report changes once per snapshot

using PictureName = std::function<std::string(const std::string&)>;  // a picture's file name -> its path, noted as written

// Dead features per conv layer at the last epoch: from metrics.csv's dead fractions and
// the analysis' inactive features at the latest top-k epoch.
std::vector<DeadRow> dead_features(const CsvTable& metrics, const AnalysisResult& r) {
  std::vector<DeadRow> dead;
  auto dead_row = [&](const std::string& layer) -> DeadRow& {
    for (auto& d : dead)
      if (d.layer == layer) return d;
    dead.emplace_back();
    dead.back().layer = layer;
    return dead.back();
  };
  const std::string& kDead = kDeadFractionSuffix;
  for (size_t c = 0; c < metrics.header.size() && !metrics.rows.empty(); ++c) {
    const std::string& col = metrics.header[c];
    if (col.size() <= kDead.size() || col.compare(col.size() - kDead.size(), kDead.size(), kDead) != 0) continue;
    const double v = std::strtod(metrics.rows.back()[c].c_str(), nullptr);
    dead_row(col.substr(0, col.size() - kDead.size())).metrics_fraction = std::isfinite(v) ? v : -1;
  }
  for (size_t l = 0; l < r.layers.size(); ++l)
    for (auto it = r.topk.rbegin(); it != r.topk.rend(); ++it) {  // the latest epoch with top-k of this layer
      if (l >= it->second.size() || it->second[l].k <= 0) continue;
      const LayerTopK& t = it->second[l];
      DeadRow& d = dead_row(r.layers[l]);
      d.features = t.features;
      d.topk_epoch = it->first;
      for (int f = 0; f < t.features; ++f)
        if (size_t(f) * t.k < t.acts.size() && inactive(t.acts[size_t(f) * t.k])) d.inactive_features.push_back(f);
      break;
    }
  return dead;
}

// "conv1 3/100, conv2 4%" for the summary table.
std::string dead_summary(const std::vector<DeadRow>& dead) {
  std::string summary;
  for (const auto& d : dead) {
    std::string s;
    if (d.metrics_fraction >= 0 && d.features > 0)
      s = std::to_string(int(std::lround(d.metrics_fraction * d.features))) + "/" + std::to_string(d.features);
    else if (d.metrics_fraction >= 0)
      s = format_number("%.0f%%", 100 * d.metrics_fraction);
    else if (d.topk_epoch >= 0)
      s = std::to_string(d.inactive_features.size()) + "/" + std::to_string(d.features) + " inactive";
    if (!s.empty()) summary += (summary.empty() ? "" : ", ") + d.layer + " " + s;
  }

  return summary;
}

// The dead-features table.
void section_dead(Page& p, const std::vector<DeadRow>& dead, const AnalysisResult& r, int probe_batch, int last_epoch) {
  auto& h = p.h;
  h << "<h3 id=\"dead\">Dead features</h3>\n";
  if (dead.empty()) {
    p.note("Neither metrics.csv nor the analysis has dead-feature figures.");
  } else {
    h << "<p class=\"hint\">Dead in metrics.csv: the share of the layer's feature maps that never fired on the "
         "trainer's probe batch (train.probe_batch = "
      << probe_batch << " images) at epoch " << (last_epoch >= 0 ? std::to_string(last_epoch) : "?")
      << ". Inactive in the analysis: features with no positive activation over the " << r.probe_count
      << " probe images at the latest top-k epoch. The two use different images, so they can differ.</p>\n";
    h << "<div class=\"scroll\"><table>\n";
    p.row({"layer", "features", "dead (metrics.csv)", "inactive (analysis)", "inactive features"}, true);
    for (const auto& d : dead) {
      const std::string n = d.features > 0 ? std::to_string(d.features) : std::string("?");
      std::string m = "n/a";
      if (d.metrics_fraction >= 0)
        m = (d.features > 0 ? std::to_string(int(std::lround(d.metrics_fraction * d.features))) + " of " + n + " (" : "(") +
            format_number("%.1f%%", 100 * d.metrics_fraction) + ")";
      const std::string a = d.topk_epoch < 0 ? std::string("n/a")
                                             : std::to_string(d.inactive_features.size()) + " of " + n + " at epoch " +
                                                   std::to_string(d.topk_epoch);
      h << "<tr><td>" << html_escape(d.layer) << "</td><td class=\"num\">" << n << "</td><td class=\"num\">"
        << html_escape(m) << "</td><td class=\"num\">" << html_escape(a) << "</td><td class=\"wrap\">"
        << html_escape(d.inactive_features.empty() ? std::string(d.topk_epoch < 0 ? "" : "none")
                                                   : index_list(d.inactive_features))
        << "</td></tr>\n";
    }
    h << "</table></div>\n";
  }
}

// Beside a layer's evolution strip, the sanity baseline of its pictures
// (analysis/sanity_baseline.hpp): a row per followed feature, a column per epoch, and the
// layer's median.
void baseline_table(Page& p, const AnalysisResult& r, size_t l) {
  auto& h = p.h;
  const LayerEvolution& ev = r.evolution[l];
  const size_t E = r.epochs.size(), F = ev.features.size();
  const std::vector<float>& v = ev.init_rank_correlation;
  static const std::vector<float> none;
  const std::vector<float>& median = l < r.convergence.size() ? r.convergence[l].init_rank_correlation : none;
  if (E == 0 || v.size() != E * F || median.size() != E) {
    p.note("No sanity baseline for these pictures: the analysis file predates it; re-run deconvscope analyze to "
           "add it.");
    return;
  }
  const std::string first = std::to_string(r.epochs[0]);
  // Epoch 0 is the random initialisation: then the baseline is Adebayo's randomised weights.
  const bool init = r.epochs[0] == 0;
  h << "<p class=\"hint\">Sanity baseline: the Spearman rank correlation between each picture's |projection| over "
       "its receptive field and the one the same image and position give through the weights of the first snapshot "
       "(epoch "
    << first << (init ? ", the random initialisation" : "")
    << "; its own switches, a unit signal). A high value means the picture is mostly what the architecture (the "
       "switches and rectification) does to any weights, here "
    << (init ? "random ones" : "those of epoch " + first)
    << ", not what was learned (Adebayo et al., &ldquo;Sanity Checks for Saliency Maps&rdquo;, NeurIPS 2018). It is "
       "1 at epoch "
    << first << " by definition; blank where the feature is inactive or a picture is flat.";
  size_t with_figure = 0;
  for (size_t f = 0; f < F; ++f) with_figure += std::isfinite(v[(E - 1) * F + f]) ? 1 : 0;
  if (E > 1 && with_figure > 0)
    h << " At epoch " << r.epochs[E - 1] << " the median over the " << with_figure
      << (with_figure == 1 ? " feature with a figure is " : " features with a figure is ")
      << format_number("%.2f", median[E - 1]) << ".";
  h << "</p>\n<div class=\"scroll\"><table>\n<tr><th>feature</th>";
  for (int e : r.epochs) h << "<th>epoch " << e << "</th>";
  h << "</tr>\n";
  auto cell = [&](float x) {
    h << "<td class=\"num\">" << (std::isfinite(x) ? format_number("%.2f", x) : std::string()) << "</td>";
  };
  for (size_t f = 0; f < F; ++f) {
    h << "<tr><td>#" << ev.features[f] << "</td>";
    for (size_t e = 0; e < E; ++e) cell(v[e * F + f]);
    h << "</tr>\n";
  }
  h << "<tr><th>median</th>";
  for (size_t e = 0; e < E; ++e) cell(median[e]);
  h << "</tr>\n</table></div>\n";
}

// Per analysed layer: the evolution strip (rows linked to the top-k), its sanity baseline
// and the top-k grids.
void section_layers(Page& p, const AnalysisResult& r, const Dataset& probe, const PictureName& out) {
  auto& h = p.h;
  auto topk_anchor = [](const std::string& safe, int epoch, int feature) {
    return "topk-" + safe + "-" + epoch_tag(epoch) + "-f" + std::to_string(feature);
  };
  for (size_t l = 0; l < r.layers.size(); ++l) {
    const std::string name = r.layers[l], safe = file_safe(name);
    h << "<h2 id=\"layer-" << html_escape(safe) << "\">Layer " << html_escape(name) << "</h2>\n";
    // The latest epoch with top-k of this layer: where a strip row links to.
    int link_epoch = -1, link_features = 0, link_k = 0;
    for (const auto& [epoch, layers] : r.topk)
      if (l < layers.size() && layers[l].k > 0) link_epoch = epoch, link_features = layers[l].features, link_k = layers[l].k;

    h << "<h3>Evolution of the strongest activation</h3>\n";
    const std::string strip = "evolution_" + safe + ".png";
    render_evolution_strip(r, l, probe, out(strip));
    const LayerEvolution& ev = r.evolution[l];
    const auto& pd = ev.projections.dims;  // (E, F, C, H, W), checked by the renderer
    const StripLayout lay = evolution_strip_layout(int(r.epochs.size()), int(ev.features.size()), int(pd[3]), int(pd[4]));
    std::ostringstream rows;
    for (size_t f = 0; f < ev.features.size() && link_epoch >= 0; ++f) {
      if (ev.features[f] < 0 || ev.features[f] >= link_features) continue;
      const cv::Rect row = lay.row(int(f));
      rows << "<a class=\"rowlink\" href=\"#" << topk_anchor(safe, link_epoch, ev.features[f]) << "\" title=\"feature "
           << ev.features[f] << ": top " << link_k << " activations at epoch " << link_epoch << "\" style=\"top:"
           << css_pct(row.y, lay.size.height) << ";height:" << css_pct(row.height, lay.size.height) << "\"></a>";
    }
    std::vector<int> followed(ev.features.begin(), ev.features.end());
    // What this strip shows; how to read a strip is said once, above the first layer.
    p.pic(strip, "evolution of " + name,
          name + ": features " + index_list(followed) + " (rows) at epochs " + index_list(r.epochs) + " (columns)." +
              (link_epoch >= 0 ? " Click a row for that feature's top " + std::to_string(link_k) +
                                     " activations at epoch " + std::to_string(link_epoch) + "."
                               : ""),
          rows.str());
    baseline_table(p, r, l);
    for (const auto& [epoch, layers] : r.topk) {
      if (l >= layers.size()) continue;
      const LayerTopK& t = layers[l];
      const auto pages = topk_grid_pages(t.features);
      const auto& td = t.projections.dims;  // (features, k, C, H, W)
      // Folded: the grids are most of the page's height. A strip row's link opens the fold
      // in browsers that reveal a link's target (the HTML standard; Chromium since 97).
      h << "<details id=\"topk-" << safe << "-" << epoch_tag(epoch) << "\"><summary>Top " << t.k
        << " activations of every feature at epoch " << epoch << " (" << t.features << " features"
        << (pages.size() > 1 ? ", " + std::to_string(pages.size()) + " pictures" : std::string()) << ")</summary>\n";
      if (pages.size() > 1) {
        h << "<p class=\"hint\">" << html_escape(name) << ", epoch " << epoch << ": " << t.features << " features on "
          << pages.size() << " pictures:";
        for (size_t pg = 0; pg < pages.size(); ++pg)
          h << " <a href=\"#topk-" << safe << "-" << epoch_tag(epoch) << "-p" << pg + 1 << "\">" << pages[pg].first
            << "-" << pages[pg].first + pages[pg].second - 1 << "</a>";
        h << "</p>\n";
      }
      for (size_t pg = 0; pg < pages.size(); ++pg) {
        const auto [first, count] = pages[pg];
        const std::string grid =
            "topk_" + safe + "_" + epoch_tag(epoch) + (pg ? "_p" + std::to_string(pg + 1) : std::string()) + ".png";
        render_topk_grid(t, r, probe, out(grid), first, count);
        const TopkGridLayout g = topk_grid_layout(t.k, int(td[3]), int(td[4]), first, count);
        std::ostringstream anchors;
        for (int i = 0; i < count; ++i) {
          const cv::Rect b = g.feature_box(i);
          anchors << "<span class=\"anchor\" id=\"" << topk_anchor(safe, epoch, first + i) << "\" style=\"left:"
                  << css_pct(b.x, g.size.width) << ";top:" << css_pct(b.y, g.size.height)
                  << ";width:" << css_pct(b.width, g.size.width) << ";height:" << css_pct(b.height, g.size.height)
                  << "\"></span>";
        }
        p.pic(grid, "top-k of " + name + " at epoch " + std::to_string(epoch) + ", features " + std::to_string(first) +
                        "-" + std::to_string(first + count - 1),
              name + ", epoch " + std::to_string(epoch) + ", features " + std::to_string(first) + "-" +
                  std::to_string(first + count - 1) + " of " + std::to_string(t.features) + ": for each feature, its " +
                  std::to_string(t.k) +
                  " strongest activations over the probe images, each projected separately (left block) beside the "
                  "image patches (right block).",
              anchors.str(), "topk-" + safe + "-" + epoch_tag(epoch) + "-p" + std::to_string(pg + 1));
      }
      h << "</details>\n";
    }
  }
}

// Jumps of the followed features per layer (went silent and came back left out).
std::vector<size_t> jumps_per_layer(const AnalysisResult& r) {
  std::vector<size_t> n(r.layers.size(), 0);
  for (size_t l = 0; l < r.layers.size() && l < r.jumps.size(); ++l)
    n[l] = size_t(std::count(r.jumps[l].jump.begin(), r.jumps[l].jump.end(), uint8_t(1)));
  return n;
}

// The page's first screen: the answer in one paragraph, every figure from the analysis and
// metrics.csv, then how to read the strips that follow.
void section_overview(Page& p, const AnalysisResult& r, const std::string& epochs_trained,
                      const std::string& final_val, const std::string& dead_text) {
  auto& h = p.h;
  h << "<h2 id=\"overview\">At a glance</h2>\n<p>";
  if (epochs_trained == "n/a")
    h << "No training figures (metrics.csv is missing or unreadable)";
  else
    h << "Trained " << html_escape(epochs_trained) << " epochs to " << html_escape(final_val) << " validation accuracy";
  h << "; analysed at epochs " << html_escape(index_list(r.epochs)) << ".";
  if (r.epochs.size() > 1 && !r.jumps.empty()) {
    const std::vector<size_t> jumps = jumps_per_layer(r);
    h << " Jumps of the followed features between consecutive snapshots (of followed features x "
      << r.epochs.size() - 1 << " transitions):";
    for (size_t l = 0; l < r.layers.size(); ++l)
      h << (l ? ", " : " ") << html_escape(r.layers[l]) << " " << jumps[l] << " of "
        << (r.epochs.size() - 1) * r.evolution[l].features.size();
    h << ".";
  }
  // The sanity baseline's medians (analysis/sanity_baseline.hpp); when each layer settles
  // is the Convergence section's table, which says what each measure is.
  if (r.epochs.size() > 1 && r.convergence.size() == r.layers.size()) {
    std::string medians;
    for (size_t l = 0; l < r.layers.size(); ++l) {
      const std::vector<float>& m = r.convergence[l].init_rank_correlation;
      if (m.size() == r.epochs.size() && std::isfinite(m.back()))
        medians += (medians.empty() ? " " : ", ") + html_escape(r.layers[l]) + " " + format_number("%.2f", m.back());
    }
    if (!medians.empty())
      h << " How much of the last snapshot's pictures the first snapshot's weights already draw (median rank "
           "correlation; near 1: the picture is mostly what those weights already draw for the same image and position, not what "
           "training added):"
        << medians << ".";
    h << " When each layer settles: <a href=\"#convergence\">Convergence</a>.";
  }
  if (!dead_text.empty()) h << " Dead features at the last epoch: " << html_escape(dead_text) << ".";
  h << "</p>\n<p class=\"hint\">In each evolution strip below: a row per followed feature, a column per snapshot; "
       "each cell the deconvnet projection of the feature's strongest activation over the probe images (left) beside "
       "the image patch it came from (right), both cropped to the receptive field. Red frame: a jump (new strongest "
       "image, projection cosine below "
    << format_number("%.2f", r.jump_threshold)
    << "); amber: new image, similar projection; \"inactive\": the feature fired on none of the probe images. The "
       "top-k grids of every feature are folded under each strip.</p>\n";
}

// The jump list: jumps, and features that went silent or came back.
void section_jumps(Page& p, const AnalysisResult& r) {
  auto& h = p.h;
  h << "<h2 id=\"jumps\">Jumps</h2>\n<p class=\"hint\">\"Sudden jumps in appearance result from a change in the image "
       "from which the strongest activation originates\" (Zeiler &amp; Fergus, Fig. 4).</p>\n";
  // Falling silent and coming back are listed with the jumps but counted apart: they are
  // not a new strongest image (docs/analysis-format.md).
  size_t jump_count = 0, silent_count = 0, back_count = 0;
  std::ostringstream rows;
  for (size_t l = 0; l < r.layers.size() && l < r.jumps.size(); ++l) {
    const LayerJumps& j = r.jumps[l];
    const LayerEvolution& ev = r.evolution[l];
    const size_t F = ev.features.size();
    for (size_t e = 1; e < r.epochs.size(); ++e)
      for (size_t f = 0; f < F; ++f) {
        const size_t i = (e - 1) * F + f;
        const bool jump = i < j.jump.size() && j.jump[i];
        const bool silent = i < j.went_silent.size() && j.went_silent[i];
        const bool back = i < j.came_back.size() && j.came_back[i];
        if (!jump && !silent && !back) continue;
        (jump ? jump_count : silent ? silent_count : back_count) += 1;
        auto img = [&](size_t ei) {
          const size_t k = ei * F + f;
          if (k >= ev.strongest.size()) return std::string("?");
          return inactive(ev.strongest[k]) ? std::string("inactive") : std::to_string(ev.strongest[k].image);
        };
        rows << "<tr><td>" << html_escape(r.layers[l]) << "</td><td class=\"num\">" << ev.features[f]
             << "</td><td class=\"num\">" << r.epochs[e - 1] << " &rarr; " << r.epochs[e] << "</td><td>"
             << (jump ? "jump" : silent ? "went silent" : "came back") << "</td><td class=\"num\">"
             << (jump && i < j.projection_similarity.size() ? format_number("%.3f", j.projection_similarity[i]) : "")
             << "</td><td class=\"num\">" << (i < j.filter_change.size() ? format_number("%.3f", j.filter_change[i]) : "")
             << "</td><td class=\"num\">" << img(e - 1) << " &rarr; " << img(e) << "</td></tr>\n";
      }
  }
  h << "<p>" << jump_count << (jump_count == 1 ? " jump" : " jumps") << " among the followed features; apart from them, "
    << silent_count << " went silent (fired on no probe image) and " << back_count << " came back.</p>\n";
  if (jump_count + silent_count + back_count > 0) {
    h << "<details><summary>Each of them: layer, feature, epochs, projection cosine, filter change, strongest "
         "image</summary>\n<div class=\"scroll\"><table>\n<tr><th>layer</th><th>feature</th><th>epochs</th>"
         "<th>what</th><th>projection cosine</th><th>filter change</th><th>strongest image</th></tr>\n"
      << rows.str() << "</table></div></details>\n";
  }
}

// First-layer filter mosaics of each analysed epoch.
void section_filters(Page& p, const ReportContext& ctx, const AnalysisResult& r, const PictureName& out) {
  auto& h = p.h;
  h << "<h2 id=\"filters\">First-layer filters</h2>\n";
  Page row;  // the mosaics side by side, emitted only if there are any
  size_t mosaics = 0;
  // Small filters (5x5) need room to show a shape: each weight a square of pixels.
  constexpr int kFilterCell = 96;
  int scale = 1;
  std::string kernel;
  for (const auto& [epoch, w] : ctx.first_filters) {  // (O, I, kh, kw)
    if (std::find(r.epochs.begin(), r.epochs.end(), epoch) == r.epochs.end() || w.dims.size() != 4) continue;
    const int k = int(std::max(w.dims[2], w.dims[3]));
    scale = std::max(1, kFilterCell / std::max(1, k));
    kernel = std::to_string(w.dims[2]) + "x" + std::to_string(w.dims[3]);
    const std::string file = "filters_" + epoch_tag(epoch) + ".png";
    write_png(filter_mosaic(w, k * scale), out(file));
    row.img(file, ctx.first_filters_layer + " filters at epoch " + std::to_string(epoch),
            ctx.first_filters_layer + ", epoch " + std::to_string(epoch));
    ++mosaics;
  }
  if (mosaics == 0) {
    p.note("No snapshots of the analysed epochs in " + ctx.paths.snapshots + ".");
  } else {
    h << "<p class=\"hint\">Each " << kernel << " weight drawn as a " << scale << "x" << scale
      << " pixel square (nearest neighbour, no smoothing); each filter stretched around grey = 0 by its own largest "
         "|weight|, so filters compare in shape, not in strength.</p>\n"
      << "<div class=\"row\">\n"
      << row.h.str() << "</div>\n";
  }
  if (!ctx.filters_problem.empty()) p.note(ctx.filters_problem);
}

// The metrics tables: run-wide columns, and per layer and epoch.
void section_metrics(Page& p, const CsvTable& metrics, const std::string& metrics_problem) {
  auto& h = p.h;
  h << "<h2 id=\"metrics\">Metrics per epoch</h2>\n";
  if (!metrics_problem.empty() && metrics.header.empty()) {
    p.note(metrics_problem);
  } else {
    // The run-wide columns in one table; the per-layer ones (LAYER_weight_rms, ...) in a
    // second with a row per epoch and layer, so that neither needs sideways scrolling.
    const std::vector<std::string> kLayerStats = {kWeightRmsSuffix, kGradRmsSuffix, kUpdateRatioSuffix,
                                                  kDeadFractionSuffix};
    std::vector<size_t> run_cols;
    std::vector<std::string> stat_layers;                  // in column order
    std::map<std::string, std::vector<int>> stat_columns;  // layer -> column of each kLayerStats, or -1
    for (size_t c = 0; c < metrics.header.size(); ++c) {
      const std::string& col = metrics.header[c];
      bool per_layer = false;
      for (size_t k = 0; k < kLayerStats.size() && !per_layer; ++k) {
        const std::string& suffix = kLayerStats[k];
        if (col.size() <= suffix.size() || col.compare(col.size() - suffix.size(), suffix.size(), suffix) != 0) continue;
        const std::string layer = col.substr(0, col.size() - suffix.size());
        auto [it, added] = stat_columns.emplace(layer, std::vector<int>(kLayerStats.size(), -1));
        if (added) stat_layers.push_back(layer);
        it->second[k] = int(c);
        per_layer = true;
      }
      if (!per_layer) run_cols.push_back(c);
    }
    const auto cell = [](const std::vector<std::string>& row, int c) {
      return "<td class=\"num\">" + (c >= 0 && size_t(c) < row.size() ? html_escape(row[size_t(c)]) : "") + "</td>";
    };
    // A long run's rows are folded, a short one's shown (the curves above have the gist).
    h << "<details" << (metrics.rows.size() <= 12 ? " open" : "") << "><summary>A row per epoch: loss, accuracy, "
      << "learning rate, time (" << metrics.rows.size() << " rows)</summary>\n<table>\n<tr>";
    for (size_t c : run_cols) h << "<th>" << html_escape(metrics.header[c]) << "</th>";
    h << "</tr>\n";
    for (const auto& row : metrics.rows) {
      h << "<tr>";
      for (size_t c : run_cols) h << cell(row, int(c));
      h << "</tr>\n";
    }
    h << "</table></details>\n";
    const int ce = metrics.column("epoch");
    if (!stat_layers.empty()) {
      h << "<details><summary>Per layer and epoch: weight RMS, gradient RMS, update ratio, dead fraction (the "
           "curves above; also in metrics.csv)</summary>\n<table>\n";
      p.row({"epoch", "layer", "weight RMS", "gradient RMS", "update ratio", "dead fraction"}, true);
      for (const auto& row : metrics.rows)
        for (const std::string& layer : stat_layers) {
          h << "<tr>" << cell(row, ce) << "<td>" << html_escape(layer) << "</td>";
          for (int c : stat_columns[layer]) h << cell(row, c);
          h << "</tr>\n";
        }
      h << "</table></details>\n";
    }
  }
}

// metrics.csv as the page sees it: a missing or malformed file is noted, not fatal.
struct MetricsView {
  CsvTable table;
  std::string problem;                // why curves or the table are missing; empty if none are
  bool curves = false, layer_stats = false;  // training_curves.png, layer_stats.png drawn
  std::string final_val = "n/a", epochs_trained = "n/a";
  int last_epoch = -1;  // -1: no rows
};

// Reads metrics.csv and draws the training pictures from it.
MetricsView read_metrics(const RunPaths& paths, const PictureName& out) {
  MetricsView m;
  if (!fs::exists(paths.metrics)) {
    m.problem = "No metrics.csv in " + paths.dir + ": training curves and the metrics table are not available.";
    return m;
  }
  try {
    m.table = read_csv(paths.metrics);
  } catch (const Error& e) {
    if (e.kind() != ErrorKind::data) throw;
    m.problem = std::string("metrics.csv could not be read: ") + e.what();
    return m;
  }
  try {
    plot_training_curves(paths.metrics, out("training_curves.png"));
    m.curves = true;
    m.layer_stats = plot_layer_stats(paths.metrics, out("layer_stats.png"));
  } catch (const Error& e) {
    if (e.kind() != ErrorKind::data) throw;
    m.problem = std::string("Training curves could not be drawn: ") + e.what();
  }
  if (m.table.rows.empty()) return m;
  const std::vector<std::string>& last = m.table.rows.back();
  const int ce = m.table.column("epoch"), cv = m.table.column("val_accuracy");
  if (ce >= 0) {
    m.epochs_trained = last[size_t(ce)];
    m.last_epoch = std::atoi(m.epochs_trained.c_str());
  }
  if (cv >= 0) {
    const double v = std::strtod(last[size_t(cv)].c_str(), nullptr);
    m.final_val = v <= 1.0 ? format_number("%.2f%%", 100 * v) : last[size_t(cv)];
  }
  return m;
}

// The head, the live-run banner and the navigation bar (this page's sections, then the
// other pages of the report).
void page_top(Page& p, const ReportContext& ctx, const AnalysisResult& r, const std::string& title,
              const MetricsView& m, bool in_progress) {
  auto& h = p.h;
  PageFrame frame;
  frame.title = "deconvscope: " + title;
  frame.heading = title;
  frame.subtitle_html =
      "deconvscope report: how the features of a convnet evolve during training, seen through the Zeiler &amp; "
      "Fergus deconvnet.";
  frame.extra_css = kOverlayCss;
  frame.refresh_seconds = in_progress ? kRefreshSeconds : 0;
  h << page_head(frame);
  if (in_progress)
    h << "<p class=\"live\">Training in progress: epoch " << m.last_epoch << " of " << ctx.config.train.epochs
      << ". This page reloads every " << kRefreshSeconds << " s; the analysis follows each snapshot.</p>\n";
  // Pictures first, in the order a reader asks: what the features became (strips,
  // filters), how training went, when layers settled; tables after.
  h << "<nav><a href=\"#overview\">At a glance</a>";
  for (const auto& l : r.layers)
    h << "<a href=\"#layer-" << html_escape(file_safe(l)) << "\">" << html_escape(l) << "</a>";
  h << "<a href=\"#filters\">Filters</a><a href=\"#training\">Training</a><a href=\"#convergence\">Convergence</a>"
       "<a href=\"#jumps\">Jumps</a><a href=\"#dead\">Dead features</a><a href=\"#summary\">Summary</a>"
       "<a href=\"#metrics\">Metrics</a>"
    << page_links(ctx.paths, ctx.pages) << "</nav>\n";
}

void section_training(Page& p, const MetricsView& m) {
  p.h << "<h2 id=\"training\">Training</h2>\n";
  if (m.curves) p.img("training_curves.png", "training curves", "Loss and accuracy per epoch, from metrics.csv.");
  if (m.layer_stats)
    p.img("layer_stats.png", "gradient RMS, update ratio and dead share per layer",
          "Per layer, from metrics.csv: the RMS of the weight gradient, the RMS of the update over the RMS of the "
          "weights (both log10; epoch 0 has no update and is left out), and the share of the layer's feature maps "
          "that never fired on the probe batch.");
  if (!m.problem.empty()) p.note(m.problem);
}

// The run, its data and the analysis settings as a key-value table.
void section_summary(Page& p, const ReportContext& ctx, const AnalysisResult& r, const Dataset& probe,
                     const std::string& title, const MetricsView& m, const std::string& dead_text, bool in_progress) {
  const Config& cfg = ctx.config;
  std::string epochs_list;
  for (size_t i = 0; i < r.epochs.size(); ++i) epochs_list += (i ? ", " : "") + std::to_string(r.epochs[i]);
  std::string layers_list;
  for (size_t i = 0; i < r.layers.size(); ++i) layers_list += (i ? ", " : "") + r.layers[i];
  p.h << "<h2 id=\"summary\">Summary</h2>\n<table class=\"kv\">\n";
  p.kv("Run", title);
  if (!cfg.run.name.empty() && cfg.run.name != title) p.kv("run.name", cfg.run.name);
  p.kv("Run folder", ctx.paths.dir);
  p.kv("Dataset", r.dataset_path.empty() ? probe.source : r.dataset_path);
  p.kv("Probe images", std::to_string(r.probe_count) + " (first of the " + std::string(to_string(r.split)) + " split)");
  p.kv("Input", std::to_string(r.input.channels) + " x " + std::to_string(r.input.height) + " x " +
                    std::to_string(r.input.width));
  p.kv("Epochs trained",
       m.epochs_trained + (in_progress ? " of " + std::to_string(cfg.train.epochs) + " (training)" : ""));
  p.kv("Final val accuracy", m.final_val);
  p.kv("Dead features (last epoch)", dead_text.empty() ? "n/a" : dead_text);
  p.kv("Snapshots analysed (epochs)", epochs_list);
  p.kv("Analysed layers", layers_list);
  p.kv("Jump threshold", "strongest image changed and projection cosine < " + format_number("%.2f", r.jump_threshold));
  for (const ConvergenceMeasure& c : ctx.convergence)
    for (const auto& [key, value] : c.summary_rows) p.kv(key, value);
  p.h << "</table>\n";
}

// Pictures of layers or epochs no longer analysed (and grid pages no longer needed) go,
// once the page no longer shows them. Only names this page writes are touched.
void remove_stale_pictures(const fs::path& dir, const std::set<std::string>& written) {
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    const std::string name = entry.path().filename().string();
    if (!entry.is_regular_file(ec) || written.count(name) || !is_report_picture(name)) continue;
    fs::remove(entry.path(), ec);  // best effort: a file we cannot remove is only clutter
  }
}

}  // namespace

void write_report(const ReportContext& ctx, const AnalysisResult& r, const Dataset& probe) {
  check_result(r, probe);
  const fs::path dir = ctx.paths.report;
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) throw Error(ErrorKind::io, dir.string(), "cannot create folder: " + ec.message(), "check permissions");
  std::set<std::string> written;  // the pictures of this report; any other of ours is stale
  const PictureName out = [&](const std::string& name) {
    written.insert(name);
    return (dir / name).string();
  };
  // Titled by the folder: runs made with --run.dir share run.name but not the folder.
  std::string title = run_title(ctx.paths.dir);
  if (title.empty()) title = ctx.config.run.name;

  const MetricsView m = read_metrics(ctx.paths, out);
  if (!m.curves) written.erase("training_curves.png");  // an old one is stale now
  if (!m.layer_stats) written.erase("layer_stats.png");
  // Still training: the trainer re-analyses after each snapshot (analysis.live) and has
  // not reached train.epochs. A finished run's page never reloads.
  const bool in_progress = ctx.config.analysis.live && m.last_epoch >= 0 && m.last_epoch < ctx.config.train.epochs;
  const std::vector<DeadRow> dead = dead_features(m.table, r);
  const std::string dead_text = dead_summary(dead);
  const bool have_convergence = !r.convergence.empty() && !r.epochs.empty();
  if (have_convergence) plot_convergence(r, out("convergence.png"));

  Page p;
  page_top(p, ctx, r, title, m, in_progress);
  section_overview(p, r, m.epochs_trained, m.final_val, dead_text);
  section_layers(p, r, probe, out);
  section_filters(p, ctx, r, out);
  section_training(p, m);
  p.h << convergence_section_html(ctx, r, have_convergence ? "convergence.png" : "");
  section_jumps(p, r);
  section_dead(p, dead, r, ctx.config.train.probe_batch, m.last_epoch);
  section_summary(p, ctx, r, probe, title, m, dead_text, in_progress);
  section_metrics(p, m.table, m.problem);
  if (!ctx.config_text.empty())
    p.h << "<details><summary>The effective config (config.cfg with this analysis' command-line overrides)</summary>"
        << "<pre>" << html_escape(ctx.config_text) << "</pre></details>\n";
  p.h << page_end("");
  write_text_atomic(ctx.paths.report_index, p.h.str());
  remove_stale_pictures(dir, written);
}

}  // namespace ds
