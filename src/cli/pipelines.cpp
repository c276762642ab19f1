// See include/deconvscope/cli/pipelines.hpp.
#include "deconvscope/cli/pipelines.hpp"

#include "deconvscope/analysis/health.hpp"
#include "deconvscope/analysis/run.hpp"
#include "deconvscope/cli/linear_probe_command.hpp"
#include "deconvscope/report/html_report.hpp"

namespace ds {

AnalyzeOutcome analyze_and_report(const Config& cfg, const std::string& dir, const AnalyzeOptions& opt) {
  const Run run = Run::open(dir, cfg);
  AnalyzeOutcome o;
  o.analysis = run_analysis(run, opt);
  write_report(dir, o.analysis.result, o.analysis.probe.images());
  o.report = run.paths().report_index;
  if (cfg.linear_probe.in_analyze) linear_probes_and_page(run, !opt.quiet);
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
  CompareSummary s = compare_runs(runs, out_dir, opt);
  s.computed = computed;
  return s;
}

}  // namespace ds
