// The analysis stage of a run: the deconvnet over every snapshot, incremental (epochs
// already in analysis.h5 are kept unless forced), then the jump and convergence
// figures, analysis.h5, the CSV files and the HTML report.
#pragma once

#include <string>
#include <vector>

#include "deconvscope/config/config.hpp"

namespace ds {

struct AnalyzeOptions {
  bool force = false;  // recompute every epoch
  bool quiet = false;  // no progress bars (live analysis during training)
};

struct AnalyzeSummary {
  std::vector<int> epochs;    // every analysed epoch
  std::vector<int> computed;  // those computed in this call
  std::string analysis_file, report;
};

// cfg: the run's effective config (its config.cfg) with any overrides; run_dir: the
// run folder. Throws ds::Error(snapshot) when the run has no snapshots, ds::Error(config)
// for analysis keys that do not fit the run.
AnalyzeSummary run_analysis(const Config& cfg, const std::string& run_dir, const AnalyzeOptions& opt);

}  // namespace ds
