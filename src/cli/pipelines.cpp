// See include/deconvscope/cli/pipelines.hpp.
#include "deconvscope/cli/pipelines.hpp"

#include "deconvscope/analysis/health.hpp"
#include "deconvscope/analysis/run.hpp"
#include "deconvscope/cli/analyses.hpp"
#include "deconvscope/report/html_report.hpp"

namespace ds {

std::vector<ConvergenceMeasure> convergence_measures(const RunPaths& paths, const Config& cfg) {
  std::vector<ConvergenceMeasure> out;
  for (const AnalysisCommand* a : analyses())
    if (a->convergence) out.push_back(a->convergence(paths, cfg));
  return out;
}

AnalyzeOutcome analyze_and_report(const Config& cfg, const RunWorkspace& ws, const AnalyzeOptions& opt) {
  const Run run = Run::open(ws.dir(), cfg);
  AnalyzeOutcome o;
  AnalyzeOptions with_measures = opt;
  with_measures.convergence = [&run] { return convergence_measures(run.paths(), run.config()); };
  o.analysis = run_analysis(run, with_measures);
  // The analyses a key asks for come first, so that the report links their pages and
  // shows their measures of convergence. They are not sharded: under mpirun rank 0 runs them.
  if (ws.writes()) run_analyses_in_analyze(run, ws, opt.quiet);
  ReportContext ctx;
  ctx.paths = run.paths();
  ctx.pages = report_pages();
  ctx.config = run.config();
  ctx.config_text = run.config().text;
  ctx.first_filters_layer = o.analysis.first_conv;
  ctx.first_filters = o.analysis.first_filters;
  // Read now, not before run_analysis: the analyses just run may have rewritten their files.
  ctx.convergence = convergence_measures(run.paths(), run.config());
  if (ws.writes()) write_report(ctx, o.analysis.result, o.analysis.probe.images());
  o.report = run.paths().report_index;
  return o;
}

CompareSummary compare_command(const std::vector<std::string>& run_dirs, const std::string& out_dir,
                               const CompareOptions& opt) {
  check_compare_runs(run_dirs);
  std::vector<ComparedRun> runs;
  std::vector<std::string> computed;
  for (const std::string& dir : run_dirs) {
    bool now = false;
    runs.push_back(ComparedRun{dir, current_health(dir, opt.health, opt.recompute_health, &now)});
    if (now) computed.push_back(dir);
  }
  CompareSummary s = compare_runs(runs, compare_cells(), out_dir, opt);
  s.computed = computed;
  return s;
}

}  // namespace ds
