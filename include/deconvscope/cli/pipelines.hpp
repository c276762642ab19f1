// The sequences the commands run: an analysis, then the report of what it found. The
// analysis stage never calls the report stage; the command layer (and the trainer's
// live-analysis hook, set up in cli/commands.cpp) calls one after the other.
#pragma once

#include <string>
#include <vector>

#include "deconvscope/analysis/analyze.hpp"
#include "deconvscope/analysis/convergence_measure.hpp"
#include "deconvscope/config/config.hpp"
#include "deconvscope/io/run_folder.hpp"
#include "deconvscope/io/run_workspace.hpp"
#include "deconvscope/report/compare.hpp"

namespace ds {

struct AnalyzeOutcome {
  AnalyzeSummary analysis;
  std::string report;  // report/index.html, written
};

// The measures of convergence of the registered analyses that have one
// (AnalysisCommand::convergence), in registry order, read from the run's files: what
// convergence.csv (analysis/analysis_file.hpp) and the report's Convergence headline show
// beside the deconvnet's own columns. cfg: the run's effective config.
std::vector<ConvergenceMeasure> convergence_measures(const RunPaths& paths, const Config& cfg);

// Opens the run of workspace `ws` with its effective config `cfg`, analyses it
// (run_analysis, with opt.comm the job's group), runs the analyses its config asks for
// (cli/analyses.hpp in_analyze) and writes its report (write_report); only the job's
// writer (ws.writes()) writes. Throws what those throw.
AnalyzeOutcome analyze_and_report(const Config& cfg, const RunWorkspace& ws, const AnalyzeOptions& opt);

// `deconvscope compare`: checks the list of runs, brings each run's health up to date
// (current_health: read when current, else computed and written into the run), then
// writes the comparison (compare_runs). Fills CompareSummary::computed.
CompareSummary compare_command(const std::vector<std::string>& run_dirs, const std::string& out_dir,
                               const CompareOptions& opt = {});

}  // namespace ds
