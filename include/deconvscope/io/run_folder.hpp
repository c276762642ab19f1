// The files of one run folder: every stage that reads or writes a run (train, the
// analyses, the report, compare, the CLI) takes its paths from here. It names the run's
// own files; a further analysis names its files in its own header and places them with
// in_analysis / in_report.
//
//   runs/<name>/config.cfg            the effective config (train writes it)
//   runs/<name>/metrics.csv           one row per epoch
//   runs/<name>/train.log             what train said, warnings included
//   runs/<name>/last.h5               rolling state of the newest epoch, for --resume
//   runs/<name>/snapshots/epoch-NNNN.h5
//   runs/<name>/analysis/<name>.h5    one file per analysis (analysis.h5, health.h5, ...)
//   runs/<name>/report/index.html     the report, and its pages and PNGs
// (The report's PNGs and each page writer's own files are named by report/.)
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "deconvscope/config/config.hpp"

namespace ds {

struct RunPaths {
  std::string dir;        // runs/<name>
  std::string config;     // dir/config.cfg: the effective config
  std::string metrics;    // dir/metrics.csv
  std::string snapshots;  // dir/snapshots/
  std::string last;       // dir/last.h5: rolling state of the newest epoch, for --resume
  std::string analysis;   // dir/analysis/
  std::string report;     // dir/report/
  std::string log;        // dir/train.log: what train said, warnings included (appended)
  std::string analysis_file;  // analysis/analysis.h5: the deconvnet analysis
  std::string health_file;    // analysis/health.h5: the filter-health metrics
  std::string report_index;   // report/index.html
  std::string health_page;    // report/health.html

  static RunPaths of(const std::string& dir);
  // analysis/<file>, report/<file>: the files of a further analysis or report page, each
  // named once by the analysis that writes it (its header, e.g. analysis/occlusion.hpp).
  std::string in_analysis(const std::string& file) const;
  std::string in_report(const std::string& file) const;
  // Health's and the deconvnet analysis' further files: their commands, summaries and
  // write-set markers take the names from here.
  std::string health_csv() const { return in_analysis("health.csv"); }
  std::string health_summary_csv() const { return in_analysis("health_summary.csv"); }
  std::string convergence_csv() const { return in_analysis("convergence.csv"); }
  // `path` (a file of the run) relative to the run folder, "analysis/health.h5": how a
  // write-set marker names its files.
  std::string relative(const std::string& path) const;
  // The folders a run writes into (dir, snapshots, analysis, report).
  std::vector<std::string> folders() const;
};

// The run's complete snapshots as (epoch, path), ascending; none when it has no snapshots/
// folder yet. The one listing the analyses (through Run), health, the report and compare use.
std::vector<std::pair<int, std::string>> run_snapshots(const RunPaths& paths);
// Creates `folder` and its parents if missing: the one way a run's folders are made.
// Throws ds::Error(io) naming the folder, the system's reason and what to check.
void create_folder(const std::string& folder);

// The run folder a config trains into: run.dir, or runs/<run.name>.
std::string run_dir(const Config& cfg);

}  // namespace ds
