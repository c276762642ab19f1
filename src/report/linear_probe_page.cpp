// See include/deconvscope/report/linear_probe_page.hpp.
#include "deconvscope/report/linear_probe_page.hpp"

#include <algorithm>
#include <cmath>
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

std::string pct(float f) {
  return std::isfinite(f) ? format_number("%.1f%%", 100.0 * double(f)) : "-";
}

cv::Mat accuracy_figure(const LinearProbeResult& r) {
  PlotSpec spec;
  spec.title = "Linear probe test accuracy";
  spec.x_label = "epoch";
  spec.y_label = "test accuracy (%)";
  spec.size = cv::Size(760, 440);
  spec.legend_outside = true;
  // The axis follows the probes and the floor, not the network's own accuracy (near chance
  // at initialisation): a 0-100% axis squeezes every probe into a few points around the
  // floor. The network's line is clipped where it leaves that range; the table has it.
  double lo = 100, hi = 0;
  for (size_t l = 0; l < r.layers.size(); ++l)
    for (size_t e = 0; e < r.epochs.size() && r.layers[l] != kNetworkRow; ++e) {
      const double v = 100.0 * double(r.test_accuracy[r.index(e, l)]);
      if (std::isfinite(v)) lo = std::min(lo, v), hi = std::max(hi, v);
    }
  if (lo <= hi) {
    const double margin = std::max(0.5, 0.1 * (hi - lo));
    spec.y_min = std::max(0.0, std::floor(lo - margin));
    spec.y_max = std::min(100.0, std::ceil(hi + margin));
  }
  size_t colour = 0;
  for (size_t l = 0; l < r.layers.size(); ++l) {
    PlotSeries s;
    const bool reference = r.layers[l] == kPixelsRow || r.layers[l] == kNetworkRow;
    s.label = r.layers[l] == kPixelsRow ? "input pixels (floor)" : r.layers[l] == kNetworkRow ? "network itself"
                                                                                             : r.layers[l];
    s.color = reference ? (r.layers[l] == kPixelsRow ? cv::Scalar(128, 128, 128) : cv::Scalar(0, 0, 0))
                        : plot_color(colour++);
    s.dashed = reference;
    s.markers = !reference;
    for (size_t e = 0; e < r.epochs.size(); ++e) {
      s.x.push_back(r.epochs[e]);
      s.y.push_back(100.0 * double(r.test_accuracy[r.index(e, l)]));
    }
    spec.series.push_back(std::move(s));
  }
  return plot_lines(spec);
}

// Each layer's accuracy measured against the floor: the share of its final gain over the
// pixel probe, with the "useful" line at 0.9.
cv::Mat gain_figure(const LinearProbeResult& r) {
  PlotSpec spec;
  spec.title = "Share of the final gain over the pixel floor";
  spec.x_label = "epoch";
  spec.y_label = "(acc - floor) / (final - floor)";
  spec.size = cv::Size(760, 440);
  spec.legend_outside = true;
  size_t colour = 0;
  for (size_t l = 0; l < r.layers.size(); ++l) {
    if (r.layers[l] == kPixelsRow) continue;  // 0 by definition
    PlotSeries s;
    s.label = r.layers[l] == kNetworkRow ? "network itself" : r.layers[l];
    s.color = r.layers[l] == kNetworkRow ? cv::Scalar(0, 0, 0) : plot_color(colour++);
    s.dashed = r.layers[l] == kNetworkRow;
    const std::vector<float> gain = probe_gain_curve(r, l);
    for (size_t e = 0; e < r.epochs.size(); ++e) {
      s.x.push_back(r.epochs[e]);
      s.y.push_back(double(gain[e]));
    }
    spec.series.push_back(std::move(s));
  }
  if (!r.epochs.empty()) {
    PlotSeries t;
    t.label = "0.9 (useful)";
    t.color = cv::Scalar(128, 128, 128);
    t.dashed = true;
    t.markers = false;
    t.x = {double(r.epochs.front()), double(r.epochs.back())};
    t.y = {0.9, 0.9};
    spec.series.push_back(std::move(t));
  }
  return plot_lines(spec);
}

}  // namespace

void write_linear_probe_page(const std::string& run_dir, const LinearProbeResult& r) {
  const RunPaths paths = RunPaths::of(run_dir);
  std::error_code ec;
  fs::create_directories(paths.report, ec);
  if (ec) throw Error(ErrorKind::io, paths.report, "cannot create folder: " + ec.message(), "check permissions");
  std::ostringstream p;
  p << page_begin(paths, "Linear probes",
                  "When each layer's features become useful: a linear classifier on each layer's pooled features at "
                  "every snapshot (Alain &amp; Bengio 2016; Zeiler &amp; Fergus Sec. 5 on the final model only). "
                  "Definitions in docs/linear-probes-format.md; the numbers are also in analysis/linear_probes.h5, "
                  "linear_probes.csv and linear_probe_convergence.csv.");
  p << "<a href=\"#accuracy\">Accuracy</a><a href=\"#convergence\">Useful at</a></nav>\n";
  p << "<p class=\"note\">Fitted on the first " << r.train_count << " training images, scored on the first "
    << r.test_count << " test images. Features: conv outputs after their ReLU, average-pooled to at most " << r.grid
    << "&times;" << r.grid
    << " cells per channel; fc outputs after their ReLU as they are; standardised; ridge least-squares onto one-hot "
       "targets, its strength chosen on the last fifth of the training images.</p>\n";

  p << "<h2 id=\"accuracy\">Test accuracy per snapshot</h2>\n<figure><img src=\"" << png_data_uri(accuracy_figure(r))
    << "\" alt=\"linear probe test accuracy per epoch\"><figcaption>A line per layer; dashed: the probe on the input "
       "pixels (the floor, the same at every snapshot) and the network's own test accuracy. The axis spans the probes "
       "and the floor; the network's line leaves it where it is outside (its values are in the table below)."
       "</figcaption></figure>\n";

  p << "<figure><img src=\"" << png_data_uri(gain_figure(r))
    << "\" alt=\"share of the final gain over the pixel floor per epoch\"><figcaption>The same accuracies measured "
       "against the floor: (acc &minus; floor) / (final &minus; floor), 0 at the pixel probe's "
    << pct(probe_floor(r)) << ", 1 at the layer's own last snapshot. A layer whose final accuracy is not above the "
       "floor has no gain to share and no line.</figcaption></figure>\n";

  const size_t E = r.epochs.size();
  p << "<h2 id=\"convergence\">When the features become useful</h2>\n<p class=\"hint\">The first snapshot from "
       "which a layer's probe keeps at least 90% of its final gain over the pixel floor ("
    << pct(probe_floor(r)) << "), through the last snapshot (epoch " << r.epochs.back()
    << "); at the last snapshot itself it holds by definition, so that answer reads \"not before the last snapshot\".</p>\n"
       "<table class=\"fit\">\n<tr><th>layer</th><th>features</th>";
  for (size_t e = 0; e < E; ++e) p << "<th>epoch " << r.epochs[e] << "</th>";
  p << "<th>gain over the floor</th><th>useful at</th></tr>\n";
  const float floor = probe_floor(r);
  for (size_t l = 0; l < r.layers.size(); ++l) {
    const std::vector<float> curve = probe_test_curve(r, l);
    p << "<tr><td>" << html_escape(r.layers[l]) << "</td><td class=\"num\">" << r.feature_dim[l] << "</td>";
    for (float v : curve) p << "<td class=\"num\">" << pct(v) << "</td>";
    if (r.layers[l] == kPixelsRow) {
      p << "<td class=\"none\">the floor</td><td class=\"none\">&ndash;</td></tr>\n";
      continue;
    }
    const double gain = double(curve.back()) - double(floor);
    const int at = probe_useful_at(r, l);
    p << "<td class=\"num\">" << (std::isfinite(gain) ? (gain > 0 ? "+" : "") + pct(float(gain)) : "-") << "</td><td>"
      << settling_text(at, r.epochs, "no gain over the floor")
      << "</td></tr>\n";
  }
  p << "</table>\n";
  p << page_end("linear-probe");
  write_text_atomic(paths.in_report(kLinearProbesPage), p.str());
}

std::string linear_probe_compare_cell(const std::string& run_dir, std::string* note) {
  const std::string file = RunPaths::of(run_dir).in_analysis(kLinearProbesFile);
  if (!fs::exists(file)) {
    if (note) *note = "no linear probes (deconvscope linear-probe --run " + run_dir + " computes them)";
    return "";
  }
  try {
    const LinearProbeResult r = read_linear_probes(file);
    const size_t last = r.epochs.size() - 1;
    float floor = NAN, network = NAN, best = NAN;
    std::string best_layer;
    for (size_t l = 0; l < r.layers.size(); ++l) {
      const float v = r.test_accuracy[r.index(last, l)];
      if (r.layers[l] == kPixelsRow) floor = v;
      else if (r.layers[l] == kNetworkRow) network = v;
      else if (!(v <= best)) best = v, best_layer = r.layers[l];
    }
    return html_escape(best_layer.empty() ? std::string("-") : best_layer + " " + pct(best)) + " (floor " +
           pct(floor) + ", network " + pct(network) + ", epoch " + std::to_string(r.epochs[last]) + ")";
  } catch (const Error& e) {
    if (note) *note = "linear probes unreadable: " + std::string(e.what());
    return "";
  }
}

ConvergenceMeasure linear_probe_measure(std::shared_ptr<const LinearProbeResult> p, const std::string& run_dir) {
  // The probes' share of the final gain over the floor that counts as "useful".
  constexpr double kUsefulShare = 0.9;
  // Unlike pct() above, a NaN reads as printf writes it, as the headline always has.
  const auto percent = [](double v) { return format_number("%.1f%%", 100.0 * v); };
  ConvergenceMeasure m = linear_probe_convergence_columns(p);
  m.headline_order = 1;  // after the similarity's representation: what the features are good for
  m.header_html = "features become useful at";
  if (p) {
    m.definition_html = "<b>Features become useful at</b>: the first snapshot from which the layer's linear probe "
                        "keeps at least 90% of its final gain over the pixel floor, (acc &minus; floor) / (final "
                        "&minus; floor) &ge; 0.9; the floor is the probe on the input pixels, " +
                        percent(probe_floor(*p)) + " test accuracy (<a href=\"linear_probes.html\">linear probes</a>).";
  } else {
    m.definition_html = "<b>Features become useful at</b> needs the run's linear probes: run <code>deconvscope "
                        "linear-probe --run " + html_escape(run_dir) +
                        "</code> and then <code>deconvscope analyze</code> again, or set "
                        "<code>linear_probe.in_analyze = true</code>.";
  }
  m.cell_html = [p, percent](const std::string& layer) -> std::string {
    if (!p) return kNotMeasuredCell;
    const auto it = std::find(p->layers.begin(), p->layers.end(), layer);
    if (it == p->layers.end()) return "<td>not probed (not in linear_probe.layers)</td>";
    const size_t l = size_t(it - p->layers.begin());
    const std::vector<float> acc = probe_test_curve(*p, l);
    const double floor = probe_floor(*p);
    if (!(double(acc.back()) > floor)) return "<td>no gain over the floor (final " + percent(acc.back()) + ")</td>";
    return settled_cell(probe_useful_at(*p, l, kUsefulShare), p->epochs, "never", ", final " + percent(acc.back()));
  };
  if (p) {
    for (const std::string& n : p->layers)
      if (n != kPixelsRow && n != kNetworkRow) m.layers.push_back(n);
    m.epochs = p->epochs;
  }
  m.stale_what = "linear probes";
  m.command = "linear-probe";
  return m;
}

ConvergenceMeasure linear_probe_convergence(const RunPaths& paths, const Config&) {
  return linear_probe_measure(read_run_linear_probes(paths), paths.dir);
}

}  // namespace ds
