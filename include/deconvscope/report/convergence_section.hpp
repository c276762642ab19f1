// The Convergence section of report/index.html: the report's answer to "which layers
// settle early and which late". It leads with a table, a row per layer, whose columns
// are each one measured answer:
//   representation settles at  the first snapshot from which the layer's CKA to the final
//                              snapshot stays >= similarity.settle_threshold
//                              (analysis/similarity.hpp), when the run has similarity.h5;
//   features become useful at  the first snapshot from which the linear probe keeps 90% of
//                              its final gain over the pixel floor (analysis/linear_probe.hpp),
//                              when the run has linear_probes.h5;
//   jumps per transition       from the analysis' jump detection (followed features);
// and one plot, CKA to the final snapshot per layer. Lower down, the filter cosine and the
// weight progress as curves, saying what they measure and nothing about convergence.
// A snapshot that only meets a criterion at the last snapshot is said so, never "settled".
// Left out: computing any of it (the analyses do); the page's layout (html_report.cpp).
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "deconvscope/analysis/results.hpp"
#include "deconvscope/report/html_report.hpp"

namespace ds {

// One column of the headline table. To add one, append it in convergence_columns().
struct ConvergenceColumn {
  std::string header_html;                               // the <th> text
  std::string definition_html;                           // one sentence under the table ("" = none)
  std::function<std::string(const std::string&)> cell;  // the <td> HTML for a layer's name
};

// The headline's layers: the analysed conv layers, then the layers the similarity or
// the probes measured besides them (fc), each once, in that order.
std::vector<std::string> convergence_layers(const ReportContext& ctx, const AnalysisResult& r);

// The headline's columns after the layer name, in order.
std::vector<ConvergenceColumn> convergence_columns(const ReportContext& ctx, const AnalysisResult& r);

// The whole section as HTML, from <h2 id="convergence"> on. `weights_png`: the file name of
// the weight curves (render.hpp plot_convergence) in report/, "" when there is none.
std::string convergence_section_html(const ReportContext& ctx, const AnalysisResult& r, const std::string& weights_png);

}  // namespace ds
