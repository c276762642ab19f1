// The registry of analyses and the protocol every analysis command shares; see
// include/deconvscope/cli/analyses.hpp.
#include "deconvscope/cli/analyses.hpp"

#include <iostream>

#include "deconvscope/analysis/invariance.hpp"
#include "deconvscope/analysis/linear_probe.hpp"
#include "deconvscope/analysis/occlusion.hpp"
#include "deconvscope/analysis/similarity.hpp"
#include "deconvscope/cli/args.hpp"
#include "deconvscope/core/error.hpp"
#include "deconvscope/report/health_page.hpp"

namespace ds {

// Each defined in its own cli/<name>_command.cpp.
const AnalysisCommand& invariance_analysis();
const AnalysisCommand& occlusion_analysis();
const AnalysisCommand& linear_probe_analysis();
const AnalysisCommand& similarity_analysis();

const std::vector<const AnalysisCommand*>& analyses() {
  static const std::vector<const AnalysisCommand*> all = {
      &invariance_analysis(),
      &occlusion_analysis(),
      &linear_probe_analysis(),
      &similarity_analysis(),
  };
  return all;
}

std::vector<ReportPage> report_pages() {
  std::vector<ReportPage> pages = {health_report_page()};
  for (const AnalysisCommand* a : analyses()) pages.push_back(a->page);
  return pages;
}

std::vector<CompareCell> compare_cells() {
  std::vector<CompareCell> cells;
  for (const AnalysisCommand* a : analyses())
    if (a->compare.place != CompareCell::Place::none) cells.push_back(a->compare);
  return cells;
}

// In the order of analyses(), which is the order config.cfg and --help list the sections.
void register_analysis_sections() {
  register_invariance_section();
  register_occlusion_section();
  register_linear_probe_section();
  register_similarity_section();
}

void AnalysisCall::write(const std::function<void()>& files) const {
  if (!ws.writes()) return;
  ws.write_set(analysis.command, analysis.outputs(ws.paths()), [&] {
    ws.create_folders();
    files();
    link_from_index(ws.paths(), analysis.page);
  });
}

int run_analysis_command(const AnalysisCommand& analysis, std::vector<std::string> args, Comm& comm) {
  if (take_flag(args, "--help") || take_flag(args, "-h")) {
    std::cout << analysis.help;
    if (analysis.help_lists_keys) std::cout << config_help();
    return 0;
  }
  const std::string dir = take_value(args, "--run", "");
  if (dir.empty()) throw Error(ErrorKind::usage, analysis.command, "expected --run DIR", analysis.example);
  for (const auto& [flag, key] : analysis.shorthands) {
    const std::string v = take_value(args, flag, "");
    if (!v.empty()) args.insert(args.end(), {"--" + std::string(analysis.section) + "." + key, v});
  }
  const Config cfg = load_run_config(dir, args);
  // These analyses are not sharded: under mpirun every rank computes, rank 0 writes and speaks.
  const RunWorkspace ws(dir, comm.rank() == 0);
  const Run run = Run::open(dir, cfg, analysis.purpose);
  analysis.step(AnalysisCall{analysis, run, ws, /*quiet=*/false, std::string(analysis.command) + " --run " + dir,
                             /*summary=*/ws.writes()});
  return 0;
}

void run_analyses_in_analyze(const Run& run, const RunWorkspace& ws, bool quiet) {
  for (const AnalysisCommand* a : analyses())
    if (a->in_analyze(run.config()))
      a->step(AnalysisCall{*a, run, ws, quiet, "analyze --run " + run.dir(), /*summary=*/false});
}

}  // namespace ds
