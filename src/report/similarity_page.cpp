// See include/deconvscope/report/similarity_page.hpp.
#include "deconvscope/report/similarity_page.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <sstream>

#include "deconvscope/core/error.hpp"
#include "deconvscope/core/number_text.hpp"
#include "deconvscope/io/run_folder.hpp"
#include "deconvscope/io/text_file.hpp"
#include "deconvscope/report/convergence_section.hpp"
#include "deconvscope/report/data_uri.hpp"
#include "deconvscope/report/html_escape.hpp"
#include "deconvscope/report/pages.hpp"
#include "deconvscope/report/plot.hpp"

namespace fs = std::filesystem;

namespace ds {

namespace {

std::string three(float v) {
  return std::isfinite(v) ? format_number("%.3f", v) : "-";
}

cv::Mat curves_figure(const SimilarityResult& r, const std::string& title, const std::string& y_label,
                      const std::vector<float>& values, cv::Size size, double threshold) {
  PlotSpec spec;
  spec.title = title;
  spec.x_label = "epoch";
  spec.y_label = y_label;
  spec.size = size;
  spec.legend_outside = true;
  // CKA lies in [0, 1]: a fixed axis keeps runs and pages comparable.
  spec.y_min = 0;
  spec.y_max = 1;
  for (size_t l = 0; l < r.layers.size(); ++l) {
    PlotSeries s;
    s.label = r.layers[l];
    s.color = plot_color(l);
    for (size_t e = 0; e < r.epochs.size(); ++e) {
      s.x.push_back(r.epochs[e]);
      s.y.push_back(double(values[r.index(e, l)]));
    }
    spec.series.push_back(std::move(s));
  }
  if (threshold > 0 && threshold <= 1 && !r.epochs.empty()) {
    PlotSeries t;
    char label[48];
    std::snprintf(label, sizeof label, "threshold %.2f", threshold);
    t.label = label;
    t.color = cv::Scalar(128, 128, 128);
    t.dashed = true;
    t.markers = false;
    t.x = {double(r.epochs.front()), double(r.epochs.back())};
    t.y = {threshold, threshold};
    spec.series.push_back(std::move(t));
  }
  return plot_lines(spec);
}

// White (0) to blue (1): the background of a layer-by-layer cell.
std::string cell_colour(float v) {
  const double t = std::isfinite(v) ? std::clamp(double(v), 0.0, 1.0) : 0.0;
  char buf[40];
  std::snprintf(buf, sizeof buf, "rgb(%d,%d,%d)", int(255 - 180 * t), int(255 - 120 * t), 255);
  return buf;
}

// Up to four snapshots spread over the run: the first, the last and two between.
std::vector<size_t> shown_snapshots(size_t E) {
  std::vector<size_t> out;
  if (E <= 4) {
    for (size_t e = 0; e < E; ++e) out.push_back(e);
    return out;
  }
  for (size_t k = 0; k < 4; ++k) out.push_back(k * (E - 1) / 3);
  return out;
}

}  // namespace

cv::Mat cka_to_final_figure(const SimilarityResult& r, double settle_threshold, cv::Size size, const std::string& title) {
  return curves_figure(r, title, "linear CKA", r.to_final, size, settle_threshold);
}

void write_similarity_page(const std::string& run_dir, const SimilarityResult& r, double settle_threshold) {
  const RunPaths paths = RunPaths::of(run_dir);
  std::error_code ec;
  fs::create_directories(paths.report, ec);
  if (ec) throw Error(ErrorKind::io, paths.report, "cannot create folder: " + ec.message(), "check permissions");
  const size_t E = r.epochs.size(), L = r.layers.size();
  std::ostringstream p;
  p << page_begin(paths, "Representation similarity",
                  "How far each layer's representation is from its final one: linear CKA (Kornblith et al. 2019) of "
                  "each layer's features across snapshots. Definitions in docs/similarity-format.md; the numbers are "
                  "also in analysis/similarity.h5 and similarity.csv.");
  p << "<a href=\"#to-final\">To final</a><a href=\"#to-previous\">Consecutive</a><a href=\"#layers\">Layer by "
       "layer</a></nav>\n";
  p << "<p class=\"note\">Features of the first " << r.image_count
    << " training images: conv outputs after their ReLU, average-pooled to at most " << r.grid << "&times;" << r.grid
    << " cells per channel; fc outputs after their ReLU. CKA is 1 for representations that differ only by a rotation "
       "or a uniform scale, and near 0 for unrelated ones.</p>\n";

  p << "<h2 id=\"to-final\">CKA to the final snapshot</h2>\n<figure><img src=\""
    << png_data_uri(cka_to_final_figure(r, settle_threshold)) << "\" alt=\"CKA to the final snapshot per epoch\">"
    << "<figcaption>A line per layer: 1 at the last snapshot (epoch " << r.epochs.back()
    << ") by definition. A line that reaches the dashed threshold early and stays above it belongs to a layer whose "
       "representation settled early.</figcaption></figure>\n";
  p << "<div class=\"scroll\"><table>\n<tr><th>layer</th><th>settles at (CKA &ge; " << three(float(settle_threshold))
    << " from then on)</th>";
  for (int e : r.epochs) p << "<th>epoch " << e << "</th>";
  p << "</tr>\n";
  for (size_t l = 0; l < L; ++l) {
    p << "<tr><td>" << html_escape(r.layers[l]) << "</td><td>"
      << settling_text(cka_settles_at(r, l, settle_threshold), r.epochs) << "</td>";
    for (size_t e = 0; e < E; ++e) p << "<td class=\"num\">" << three(r.to_final[r.index(e, l)]) << "</td>";
    p << "</tr>\n";
  }
  p << "</table></div>\n";

  p << "<h2 id=\"to-previous\">CKA between consecutive snapshots</h2>\n";
  if (E < 2) {
    p << "<p class=\"note\">One snapshot: nothing to compare it with.</p>\n";
  } else {
    p << "<figure><img src=\""
      << png_data_uri(curves_figure(r, "CKA to the previous snapshot", "linear CKA", r.to_previous, {760, 440}, -1))
      << "\" alt=\"CKA to the previous snapshot per epoch\"><figcaption>A point at epoch e compares snapshot e with "
         "the one before it: a dip marks where a layer's representation changed most (none at the first "
         "snapshot).</figcaption></figure>\n";
  }

  p << "<h2 id=\"layers\">Layer by layer</h2>\n<p class=\"hint\">CKA between the layers' representations of the same "
       "images at one snapshot; the diagonal is 1.</p>\n";
  for (size_t e : shown_snapshots(E)) {
    p << "<table class=\"fit\">\n<tr><th>epoch " << r.epochs[e] << "</th>";
    for (const std::string& name : r.layers) p << "<th>" << html_escape(name) << "</th>";
    p << "</tr>\n";
    for (size_t a = 0; a < L; ++a) {
      p << "<tr><th>" << html_escape(r.layers[a]) << "</th>";
      for (size_t b = 0; b < L; ++b) {
        const float v = r.layer_by_layer[(e * L + a) * L + b];
        p << "<td class=\"num\" style=\"background:" << cell_colour(v) << "\">" << three(v) << "</td>";
      }
      p << "</tr>\n";
    }
    p << "</table>\n";
  }
  p << page_end("similarity");
  write_text_atomic(paths.in_report(kSimilarityPage), p.str());
}

std::string similarity_compare_cell(const std::string& run_dir, std::string* note) {
  const std::string file = RunPaths::of(run_dir).in_analysis(kSimilarityFile);
  if (!fs::exists(file)) {
    if (note) *note = "no similarity (deconvscope similarity --run " + run_dir + " computes it)";
    return "";
  }
  try {
    const SimilarityResult r = read_similarity(file);
    return "<img src=\"" + png_data_uri(cka_to_final_figure(r, -1, {420, 260}, "CKA to final")) +
           "\" alt=\"CKA to the final snapshot per epoch\">";
  } catch (const Error& e) {
    if (note) *note = "similarity unreadable: " + std::string(e.what());
    return "";
  }
}

ConvergenceMeasure similarity_measure(std::shared_ptr<const SimilarityResult> s, const std::string& problem,
                                      double settle_threshold, const std::string& run_dir) {
  ConvergenceMeasure m = similarity_convergence_columns(s, settle_threshold);
  const std::string threshold = format_number("%.2f", settle_threshold);
  m.headline_order = 0;  // the representation first, then what it is good for (the probes)
  m.header_html = "representation settles at";
  if (s) {
    m.definition_html = "<b>Representation settles at</b>: the first snapshot from which the layer's linear CKA to the "
                        "final snapshot (epoch " + std::to_string(s->epochs.back()) + ") stays at or above " +
                        threshold + " (similarity.settle_threshold), on the first " + std::to_string(s->image_count) +
                        " training images (<a href=\"similarity.html\">representation similarity</a>).";
  } else {
    const std::string why = problem.empty() ? "" : " (" + html_escape(problem) + ")";
    m.definition_html = "<b>Representation settles at</b> needs the run's similarity analysis" + why +
                        ": run <code>deconvscope similarity --run " + html_escape(run_dir) +
                        "</code> and then <code>deconvscope analyze --run " + html_escape(run_dir) +
                        "</code>, or set <code>similarity.in_analyze = true</code>.";
  }
  m.cell_html = [s, settle_threshold](const std::string& layer) -> std::string {
    if (!s) return kNotMeasuredCell;
    const auto it = std::find(s->layers.begin(), s->layers.end(), layer);
    if (it == s->layers.end()) return "<td>not measured (not in similarity.layers)</td>";
    return settled_cell(cka_settles_at(*s, size_t(it - s->layers.begin()), settle_threshold), s->epochs,
                        "no representation at the last snapshot (constant features)");
  };
  if (s) {
    m.layers = s->layers;
    m.epochs = s->epochs;
    m.figure_html = [s, settle_threshold] {
      return "<figure><img src=\"" + png_data_uri(cka_to_final_figure(*s, settle_threshold)) +
             "\" alt=\"CKA to the final snapshot per layer\"><figcaption>Linear CKA of each layer's representation "
             "with its own at the final snapshot: 1 there by definition; the dashed line is the settling threshold."
             "</figcaption></figure>\n";
    };
  }
  m.stale_what = "similarity figures";
  m.command = "similarity";
  m.summary_rows = {{"Settling threshold", "CKA to the final snapshot >= " + threshold + " (similarity.settle_threshold)"}};
  return m;
}

ConvergenceMeasure similarity_convergence(const RunPaths& paths, const Config& cfg) {
  std::string problem;
  const std::shared_ptr<const SimilarityResult> s = read_run_similarity(paths, &problem);
  return similarity_measure(s, problem, similarity_config(cfg).settle_threshold, paths.dir);
}

}  // namespace ds
