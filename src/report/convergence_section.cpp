// See include/deconvscope/report/convergence_section.hpp.
#include "deconvscope/report/convergence_section.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <sstream>

#include "deconvscope/core/number_text.hpp"
#include "deconvscope/report/html_escape.hpp"

namespace ds {

namespace {

std::string two(double v) { return format_number("%.2f", v); }

int index_of(const std::vector<std::string>& names, const std::string& name) {
  const auto it = std::find(names.begin(), names.end(), name);
  return it == names.end() ? -1 : int(it - names.begin());
}

// The context's measures in headline order (ties keep the registry's order).
std::vector<const ConvergenceMeasure*> headline_measures(const ReportContext& ctx) {
  std::vector<const ConvergenceMeasure*> out;
  for (const ConvergenceMeasure& m : ctx.convergence) out.push_back(&m);
  std::stable_sort(out.begin(), out.end(), [](const ConvergenceMeasure* a, const ConvergenceMeasure* b) {
    return a->headline_order < b->headline_order;
  });
  return out;
}

ConvergenceColumn measure_column(const ConvergenceMeasure& m) {
  ConvergenceColumn c;
  c.header_html = m.header_html;
  c.definition_html = m.definition_html;
  c.cell = m.cell_html ? m.cell_html : [](const std::string&) { return std::string(kNotMeasuredCell); };
  return c;
}

ConvergenceColumn jumps_column(const AnalysisResult& r) {
  ConvergenceColumn c;
  std::string pairs;
  for (size_t e = 1; e < r.epochs.size(); ++e)
    pairs += (e > 1 ? ", " : "") + std::to_string(r.epochs[e - 1]) + "&rarr;" + std::to_string(r.epochs[e]);
  c.header_html = "jumps per transition";
  c.definition_html = "<b>Jumps per transition</b>: of the layer's followed features, how many jumped (a new strongest "
                      "image with a different projection) between consecutive snapshots" +
                      (pairs.empty() ? std::string(".") : ", in order: " + pairs + ".") +
                      " <a href=\"#jumps\">The list</a>.";
  c.cell = [&r](const std::string& layer) -> std::string {
    const int l = index_of(r.layers, layer);
    if (l < 0 || size_t(l) >= r.jumps.size() || size_t(l) >= r.evolution.size())
      return "<td>not followed (conv layers only)</td>";
    const size_t E = r.epochs.size();
    if (E < 2) return "<td>one snapshot</td>";
    // Counted here with bounds checks, as the jump list does: the report takes results it
    // has not checked itself (went_silent and came_back may be absent).
    const std::vector<uint8_t>& jump = r.jumps[size_t(l)].jump;
    const size_t F = r.evolution[size_t(l)].features.size();
    std::string s;
    for (size_t e = 1; e < E; ++e) {
      int n = 0;
      for (size_t f = 0; f < F; ++f) n += (e - 1) * F + f < jump.size() && jump[(e - 1) * F + f] ? 1 : 0;
      s += (e > 1 ? " " : "") + std::to_string(n);
    }
    return "<td class=\"num\">" + s + " (of " + std::to_string(F) + ")</td>";
  };
  return c;
}

// The sanity baseline (analysis/sanity_baseline.hpp): how far the last snapshot's
// pictures of a layer are already drawn by the first snapshot's weights.
ConvergenceColumn baseline_column(const AnalysisResult& r) {
  ConvergenceColumn c;
  c.header_html = "pictures like the first snapshot's";
  const std::string first = r.epochs.empty() ? "the first" : "epoch " + std::to_string(r.epochs.front());
  c.definition_html =
      "<b>Pictures like the first snapshot's</b>: at the last snapshot, the median over the layer's followed features "
      "of the rank correlation between each deconvnet picture and the one the same image and position give through "
      "the weights of " + first + " (the sanity baseline under each evolution strip). Near 1: the picture is mostly "
      "what those weights already draw (through their own switches and rectification), not what training added; at a "
      "random first snapshot that is the architecture's share (Adebayo et al., NeurIPS 2018). Lower values mean more "
      "of the picture comes from training.";
  c.cell = [&r](const std::string& layer) -> std::string {
    const int l = index_of(r.layers, layer);
    if (l < 0 || size_t(l) >= r.convergence.size() || r.epochs.size() < 2) return "<td></td>";
    const std::vector<float>& m = r.convergence[size_t(l)].init_rank_correlation;
    if (m.size() != r.epochs.size()) return "<td>not computed (analyze again)</td>";
    if (!std::isfinite(m.back())) return "<td>no active feature</td>";
    return "<td class=\"num\">" + two(m.back()) + "</td>";
  };
  return c;
}

}  // namespace

std::string settling_text(int at, const std::vector<int>& epochs, const std::string& never) {
  if (at < 0) return never;
  if (epochs.size() > 1 && at == epochs.back()) return "not before the last snapshot (epoch " + std::to_string(at) + ")";
  return "epoch " + std::to_string(at);
}

std::string settled_cell(int at, const std::vector<int>& epochs, const std::string& never, const std::string& suffix) {
  const bool number = at >= 0 && !(epochs.size() > 1 && at == epochs.back());
  return std::string(number ? "<td class=\"num\">" : "<td>") + settling_text(at, epochs, never) + suffix + "</td>";
}

std::vector<std::string> convergence_layers(const ReportContext& ctx, const AnalysisResult& r) {
  std::vector<std::string> out = r.layers;
  for (const ConvergenceMeasure* m : headline_measures(ctx))
    for (const std::string& n : m->layers)
      if (index_of(out, n) < 0) out.push_back(n);
  return out;
}

std::vector<ConvergenceColumn> convergence_columns(const ReportContext& ctx, const AnalysisResult& r) {
  std::vector<ConvergenceColumn> out;
  for (const ConvergenceMeasure* m : headline_measures(ctx)) out.push_back(measure_column(*m));
  out.push_back(jumps_column(r));
  out.push_back(baseline_column(r));
  return out;
}

std::string convergence_section_html(const ReportContext& ctx, const AnalysisResult& r,
                                     const std::string& weights_png) {
  std::ostringstream h;
  h << "<h2 id=\"convergence\">Convergence</h2>\n<p>When does each layer settle? Each column is one measured "
       "answer; the definitions follow the table.</p>\n";
  const std::vector<ConvergenceColumn> columns = convergence_columns(ctx, r);
  h << "<div class=\"scroll\"><table id=\"convergence-headline\">\n<tr><th>layer</th>";
  for (const ConvergenceColumn& c : columns) h << "<th>" << c.header_html << "</th>";
  h << "</tr>\n";
  for (const std::string& layer : convergence_layers(ctx, r)) {
    h << "<tr><td>" << html_escape(layer) << "</td>";
    for (const ConvergenceColumn& c : columns) h << c.cell(layer);
    h << "</tr>\n";
  }
  h << "</table></div>\n";
  for (const ConvergenceColumn& c : columns)
    if (!c.definition_html.empty()) h << "<p class=\"hint\">" << c.definition_html << "</p>\n";

  // A file computed before the run grew measures against another "final" snapshot.
  const std::vector<const ConvergenceMeasure*> measures = headline_measures(ctx);
  for (const ConvergenceMeasure* m : measures)
    if (!m->epochs.empty() && !r.epochs.empty() && m->epochs.back() != r.epochs.back())
      h << "<p class=\"note\">The " << m->stale_what << " end at epoch " << m->epochs.back() << ", the analysis at epoch "
        << r.epochs.back() << ": run <code>deconvscope " << m->command << " --run " << html_escape(ctx.paths.dir)
        << "</code> again to measure against the same last snapshot.</p>\n";
  for (const ConvergenceMeasure* m : measures)
    if (m->figure_html) h << m->figure_html();

  if (!weights_png.empty()) {
    h << "<h3>How the weights moved</h3>\n<figure><img src=\"" << html_escape(weights_png)
      << "\" alt=\"filter similarity and weight progress per layer\"><figcaption>Left: mean cosine similarity of "
         "each layer's filters to the final snapshot's. Right: weight progress, 1 &minus; |W &minus; W_final| / "
         "|W_first &minus; W_final|, the share of the way from the first snapshot's weights to the final ones. Both "
         "are 1 at the final snapshot by definition and say how far the weights travelled, not when the layer's "
         "representation settled: in a short run upper-layer weights barely leave their random start, which keeps "
         "their cosine high. The values are in analysis/convergence.csv.</figcaption></figure>\n";
  }
  return h.str();
}

}  // namespace ds
