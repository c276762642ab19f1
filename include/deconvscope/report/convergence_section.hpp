// The Convergence section of report/index.html: the report's answer to "which layers
// settle early and which late". It leads with a table, a row per layer, whose columns
// are each one measured answer: first those of the further analyses' measures
// (ReportContext::convergence, analysis/convergence_measure.hpp; with the registry's, the
// similarity's "representation settles at" and the linear probes' "features become
// useful at"), each with its definition, its note when it measured against another last
// snapshot than the analysis, and its figure; then the deconvnet's own:
//   jumps per transition       from the analysis' jump detection (followed features);
//   pictures like the first    the sanity baseline at the last snapshot.
// Lower down, the filter cosine and the weight progress as curves, saying what they
// measure and nothing about convergence. A snapshot that only meets a criterion at the
// last snapshot is said so, never "settled".
// Left out: computing any of it (the analyses do); the page's layout (html_report.cpp).
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "deconvscope/analysis/results.hpp"
#include "deconvscope/report/html_report.hpp"

namespace ds {

// One column of the headline table: a measure's, or one of the deconvnet's own
// (convergence_columns() appends those).
struct ConvergenceColumn {
  std::string header_html;                               // the <th> text
  std::string definition_html;                           // one sentence under the table ("" = none)
  std::function<std::string(const std::string&)> cell;  // the <td> HTML for a layer's name
};

// The headline's layers: the analysed conv layers, then the layers the measures measured
// besides them (fc), each once, in the measures' headline order.
std::vector<std::string> convergence_layers(const ReportContext& ctx, const AnalysisResult& r);

// The headline's columns after the layer name, in order.
std::vector<ConvergenceColumn> convergence_columns(const ReportContext& ctx, const AnalysisResult& r);

// The whole section as HTML, from <h2 id="convergence"> on. `weights_png`: the file name of
// the weight curves (render.hpp plot_convergence) in report/, "" when there is none.
std::string convergence_section_html(const ReportContext& ctx, const AnalysisResult& r, const std::string& weights_png);

// --- For the measures' headline cells (report/<analysis>_page.cpp) ----------------------

// The cell of every layer when the measure's analysis has not run.
inline constexpr const char* kNotMeasuredCell = "<td class=\"none\">&ndash;</td>";

// The answer of a "first snapshot from which it stays" criterion (cka_settles_at,
// probe_useful_at) in words: "epoch N"; "not before the last snapshot (epoch N)" when it
// holds only at the last, where it holds by definition; `never` for -1.
std::string settling_text(int at, const std::vector<int>& epochs, const std::string& never = "never");

// settling_text as a headline cell (numbers right-aligned); `suffix` follows it inside the cell.
std::string settled_cell(int at, const std::vector<int>& epochs, const std::string& never,
                         const std::string& suffix = "");

}  // namespace ds
