// The files of one run folder, named once: every stage that reads or writes a run (train,
// the analyses, the report, compare, the CLI) takes its paths from here.
//
//   runs/<name>/config.cfg            the effective config (train writes it)
//   runs/<name>/metrics.csv           one row per epoch
//   runs/<name>/train.log             what train said, warnings included
//   runs/<name>/last.h5               rolling state of the newest epoch, for --resume
//   runs/<name>/snapshots/epoch-NNNN.h5
//   runs/<name>/analysis/<name>.h5    one file per analysis (analysis.h5, health.h5, ...)
//   runs/<name>/report/index.html     the report, and its pages and PNGs
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
  // analysis/<file>, report/<file>: the files a further analysis or report page adds.
  std::string in_analysis(const std::string& file) const;
  std::string in_report(const std::string& file) const;
  // The folders a run writes into (dir, snapshots, analysis, report).
  std::vector<std::string> folders() const;
};

// The run's complete snapshots as (epoch, path), ascending; none when it has no snapshots/
// folder yet. The one listing the analyses (through Run), health, the report and compare use.
std::vector<std::pair<int, std::string>> run_snapshots(const RunPaths& paths);

// The run folder a config trains into: run.dir, or runs/<run.name>.
std::string run_dir(const Config& cfg);

}  // namespace ds
