// A run's health page, <run_dir>/report/health.html: the definitions and thresholds, the
// health of every conv layer at the final snapshot and across the snapshots, plots over
// epochs, the first-layer filters of each snapshot with dead and dominating ones marked,
// and the filters that died and stayed dead. One self-contained file (pictures are data
// URIs); a link to it is added to the run's index.html.
// Left out: anything needing the probe images (the health figures are already computed).
#include "deconvscope/report/health_page.hpp"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "deconvscope/core/error.hpp"
#include "deconvscope/io/run_folder.hpp"
#include "deconvscope/io/snapshot.hpp"
#include "deconvscope/io/text_file.hpp"
#include "deconvscope/report/data_uri.hpp"
#include "deconvscope/report/html_escape.hpp"
#include "deconvscope/report/pages.hpp"
#include "health_html.hpp"

namespace fs = std::filesystem;

namespace ds {

namespace {

using health_html::figures;
using health_html::num;
using health_html::pct;

void img(std::ostringstream& h, const cv::Mat& picture, const std::string& alt, const std::string& caption) {
  h << "<figure><img src=\"" << png_data_uri(picture) << "\" alt=\"" << html_escape(alt) << "\">";
  if (!caption.empty()) h << "<figcaption>" << html_escape(caption) << "</figcaption>";
  h << "</figure>\n";
}

std::string cell(const health_html::Figure& f, const LayerEpochSummary& s) {
  const float v = f.get(s);
  if (!std::isfinite(v)) return "<td class=\"none\">&ndash;</td>";
  return "<td class=\"num\">" + (f.percent ? pct(v) : num("%.3f", v)) + "</td>";
}

// A table with a row per figure and a column per entry of `sums` (layers or epochs),
// split into blocks of kColumns columns: it never needs a horizontal scroll bar.
void figure_table(std::ostringstream& p, const std::string& corner, const std::vector<std::string>& heads,
                  const std::vector<const health_html::Figure*>& figs, const std::vector<LayerEpochSummary>& sums) {
  constexpr size_t kColumns = 10;
  for (size_t from = 0; from < heads.size(); from += kColumns) {
    const size_t to = std::min(heads.size(), from + kColumns);
    p << "<table>\n<tr><th>" << html_escape(corner) << "</th>";
    for (size_t c = from; c < to; ++c) p << "<th>" << heads[c] << "</th>";
    p << "</tr>\n";
    for (const auto* f : figs) {
      p << "<tr><td title=\"" << html_escape(f->help) << "\">" << html_escape(f->title) << "</td>";
      for (size_t c = from; c < to; ++c) p << cell(*f, sums[c]);
      p << "</tr>\n";
    }
    p << "</table>\n";
  }
}

// Figures that have a value in this layer at some epoch (frequency only in the first layer...).
std::vector<const health_html::Figure*> present_figures(const LayerHealth& l, const HealthResult& h) {
  std::vector<const health_html::Figure*> out;
  for (const auto& f : figures()) {
    bool any = false;
    for (size_t e = 0; e < h.epochs.size() && !any; ++e) any = std::isfinite(f.get(summarize(l, h.thresholds, e)));
    if (any) out.push_back(&f);
  }
  return out;
}

// At the final snapshot: a column per layer (a row per figure fits any window).
void section_final(std::ostringstream& p, const HealthResult& h) {
  const size_t E = h.epochs.size();
  const size_t last = E ? E - 1 : 0;
  const HealthThresholds& t = h.thresholds;
  p << "<h2 id=\"final\">At the final snapshot (epoch " << (E ? h.epochs[last] : 0) << ")</h2>\n";
  std::vector<std::string> heads;
  std::vector<LayerEpochSummary> sums;
  for (const LayerHealth& l : h.layers) {
    heads.push_back(html_escape(l.layer) + "<br><small>" + std::to_string(l.filters) + " &times; " +
                    std::to_string(l.kernel[0]) + "x" + std::to_string(l.kernel[1]) + " / " +
                    std::to_string(l.stride[0]) + "</small>");
    sums.push_back(summarize(l, t, last));
  }
  std::vector<const health_html::Figure*> any_layer;  // a row only for figures some layer has
  for (const auto& f : figures())
    if (std::any_of(sums.begin(), sums.end(), [&](const LayerEpochSummary& s) { return std::isfinite(f.get(s)); }))
      any_layer.push_back(&f);
  figure_table(p, "figure", heads, any_layer, sums);
  p << "<p class=\"hint\">Columns: layer, filters &times; kernel / stride. &ndash; = does not apply to this "
       "layer.</p>\n";
  if (!h.aliasing_note.empty())
    p << "<p class=\"note\">Stride aliasing not measured: " << html_escape(h.aliasing_note) << ".</p>\n";
}

// Across the snapshots: plots, then a table per layer.
void section_epochs(std::ostringstream& p, const HealthResult& h) {
  const size_t E = h.epochs.size();
  const HealthThresholds& t = h.thresholds;
  p << "<h2 id=\"epochs\">Across the snapshots</h2>\n<div class=\"row\">\n";
  std::vector<std::string> labels;
  std::vector<std::vector<int>> xs;
  std::vector<std::vector<float>> dead, dominating;
  for (const LayerHealth& l : h.layers) {
    labels.push_back(l.layer);
    xs.push_back(h.epochs);
    dead.emplace_back();
    dominating.emplace_back();
    for (size_t e = 0; e < E; ++e) {
      const LayerEpochSummary s = summarize(l, t, e);
      dead.back().push_back(s.dead);
      dominating.back().push_back(s.dominating);
    }
  }
  img(p, health_html::plot_over_epochs("Dead filters", "dead", labels, xs, dead, true), "dead filters per epoch",
      "Share of each layer's filters that are dead, per snapshot.");
  img(p, health_html::plot_over_epochs("Dominating filters", "dominating", labels, xs, dominating, true),
      "dominating filters per epoch",
      "Share of each layer's filters whose RMS is above " + num("%.3g", t.dominating_ratio) + " x the layer's median.");
  if (!h.layers.empty() && h.layers[0].is_first()) {
    std::vector<std::vector<float>> bands(4);
    for (size_t e = 0; e < E; ++e) {
      const LayerEpochSummary s = summarize(h.layers[0], t, e);
      bands[0].push_back(s.low);
      bands[1].push_back(s.mid);
      bands[2].push_back(s.high);
      bands[3].push_back(s.mid_coverage);
    }
    img(p,
        health_html::plot_over_epochs(h.layers[0].layer + ": frequency content", "share",
                                      {"low band", "mid band", "high band", "mid coverage"},
                                      std::vector<std::vector<int>>(4, h.epochs), bands, true),
        "first-layer frequency content",
        "Mean share of spectral energy per band over the live filters, and the share "
        "of live filters whose spectral peak is in the mid band.");
  }
  if (h.layers.size() > 1 && h.layers[1].has_aliasing())
    img(p,
        health_html::plot_over_epochs(h.layers[1].layer + ": stride aliasing", "periodic share", {h.layers[1].layer},
                                      {h.epochs}, {h.layers[1].aliasing_mean}, true),
        "stride aliasing per epoch",
        "Mean share of the projections' energy that repeats with the first layer's stride (" +
            std::to_string(h.aliasing_stride[0]) + "x" + std::to_string(h.aliasing_stride[1]) + " pixels).");
  p << "</div>\n";
  for (const LayerHealth& l : h.layers) {
    p << "<h3>" << html_escape(l.layer) << "</h3>\n";
    std::vector<std::string> epochs;
    std::vector<LayerEpochSummary> per_epoch;
    for (size_t e = 0; e < E; ++e) {
      epochs.push_back("epoch " + std::to_string(h.epochs[e]));
      per_epoch.push_back(summarize(l, t, e));
    }
    figure_table(p, "figure", epochs, present_figures(l, h), per_epoch);
  }
}

// First-layer filters of every snapshot, dead and dominating ones marked.
void section_filters(std::ostringstream& p, const HealthResult& h, const RunPaths& paths) {
  const size_t E = h.epochs.size();
  const size_t last = E ? E - 1 : 0;
  p << "<h2 id=\"filters\">First-layer filters</h2>\n";
  const std::string& snap_dir = paths.snapshots;
  const std::vector<std::pair<int, std::string>> snaps = run_snapshots(paths);
  size_t drawn = 0;
  if (!h.layers.empty()) {
    const LayerHealth& l0 = h.layers[0];
    std::ostringstream row;
    Tensor final_w;
    for (const auto& [epoch, path] : snaps) {
      const auto it = std::find(h.epochs.begin(), h.epochs.end(), epoch);
      if (it == h.epochs.end()) continue;
      const Snapshot s = read_snapshot(path);
      const int li = [&] {
        for (size_t i = 0; i < s.layers.size(); ++i)
          if (s.layers[i].name == l0.layer) return int(i);
        return -1;
      }();
      if (li < 0 || s.params[size_t(li)].weights.dims.empty() || s.params[size_t(li)].weights.dims[0] != l0.filters)
        continue;
      const Tensor& w = s.params[size_t(li)].weights;
      img(row, health_mosaic(w, mosaic_cell(l0.kernel[0], l0.kernel[1]), false, &l0, size_t(it - h.epochs.begin())),
          l0.layer + " at epoch " + std::to_string(epoch), "epoch " + std::to_string(epoch));
      final_w = w;
      ++drawn;
    }
    if (drawn > 0) {
      p << "<p class=\"hint\">Each filter stretched around grey = 0 by its own largest weight. Red frame and cross: "
           "dead at that snapshot; amber frame: dominating.</p>\n<div class=\"row\">\n"
        << row.str() << "</div>\n";
      p << "<h3>Final snapshot on one scale</h3>\n";
      img(p, health_mosaic(final_w, mosaic_cell(l0.kernel[0], l0.kernel[1]), true, &l0, last),
          l0.layer + " on a shared scale",
          "Every filter on the layer's largest weight, as in the paper's Fig. 6 (a): a dominating filter stands out, "
          "weak ones fade to grey.");
    }
  }
  if (drawn == 0)
    p << "<p class=\"note\">No snapshots of the measured epochs in " << html_escape(snap_dir) << ".</p>\n";
}

// Filters that died and stayed dead.
void section_died(std::ostringstream& p, const HealthResult& h) {
  p << "<h2 id=\"died\">Died and stayed dead</h2>\n";
  size_t died = 0;
  std::ostringstream rows;
  for (const LayerHealth& l : h.layers) {
    std::string list;
    size_t n = 0;
    for (int o = 0; o < l.filters; ++o) {
      if (l.dead_since[size_t(o)] < 0) continue;
      list += (n++ ? ", " : "") + std::to_string(o) + " (since epoch " + std::to_string(l.dead_since[size_t(o)]) + ")";
    }
    if (n == 0) continue;
    died += n;
    rows << "<tr><td>" << html_escape(l.layer) << "</td><td class=\"num\">" << n
         << "</td><td style=\"white-space:normal\">" << html_escape(list) << "</td></tr>\n";
  }
  if (died == 0)
    p << "<p>No filter is dead at the final snapshot.</p>\n";
  else
    p << "<table>\n<tr><th>layer</th><th>filters</th><th>filter (dead from that epoch through the last)</th></tr>\n"
      << rows.str() << "</table>\n";
}

// The definitions of every figure and the thresholds used.
void section_definitions(std::ostringstream& p, const HealthResult& h) {
  const HealthThresholds& t = h.thresholds;
  p << "<h2 id=\"definitions\">Definitions</h2>\n<dl>\n";
  for (const auto& f : figures())
    p << "<dt>" << html_escape(f.title) << "</dt><dd>" << html_escape(f.help) << "</dd>\n";
  p << "</dl>\n<p class=\"hint\">Thresholds: collapsed_ratio " << num("%.3g", t.collapsed_ratio)
    << ", dominating_ratio " << num("%.3g", t.dominating_ratio) << ", redundant_correlation "
    << num("%.3g", t.redundant_correlation) << "; frequency bands split at " << num("%.3g", t.low_band) << " and "
    << num("%.3g", t.mid_band) << " of Nyquist (radially), kernels zero-padded to " << t.spectrum_size << "x"
    << t.spectrum_size << ".</p>\n";
}

}  // namespace

void write_health_page(const std::string& run_dir, const HealthResult& h) {
  const RunPaths paths = RunPaths::of(run_dir);
  const fs::path dir = paths.report;
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) throw Error(ErrorKind::io, dir.string(), "cannot create folder: " + ec.message(), "check permissions");
  const std::string name = run_title(run_dir);

  PageFrame frame;
  frame.title = "deconvscope health: " + name;  // the command's name; the heading says what it shows
  frame.heading = "Filter health: " + name;
  frame.subtitle_html =
      "Dead, dominating, redundant and aliased filters of every conv layer at every snapshot, after Zeiler &amp; "
      "Fergus Sec. 4.1 and Fig. 6. Definitions in docs/health-format.md; the figures are also in analysis/health.h5 "
      "and analysis/health*.csv.";
  std::ostringstream p;
  p << page_head(frame) << nav_begin(paths);
  p << "<a href=\"#probe\">Probe images</a><a href=\"#final\">Final snapshot</a><a href=\"#epochs\">Across "
       "snapshots</a><a href=\"#filters\">"
    << "First-layer filters</a><a href=\"#died\">Died and stayed dead</a><a "
       "href=\"#definitions\">Definitions</a></nav>\n";

  // --- Which images the fire rates come from: "dead" means "never fired on these".
  p << "<p class=\"note\" id=\"probe\">Probe images (fire rates, never fires, dead): the first " << h.probe_count
    << " images of the " << html_escape(h.split) << " split of " << html_escape(h.dataset_path);
  if (!h.probe_source.empty()) p << ": " << html_escape(h.probe_source);
  p << ".</p>\n";

  section_final(p, h);
  section_epochs(p, h);
  section_filters(p, h, paths);
  section_died(p, h);
  section_definitions(p, h);
  p << page_end("health");
  write_text_atomic(paths.health_page, p.str());
  link_from_index(paths, health_report_page());
}

const ReportPage& health_report_page() {
  static const ReportPage page{"health.html", "Filter health"};
  return page;
}

}  // namespace ds
