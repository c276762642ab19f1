// Times the analysis of one snapshot against a plain forward pass over the same probe
// images (the performance target: analysis at most 1.5x the forward pass).
#pragma once

#include <string>

#include "deconvscope/config/config.hpp"

namespace ds {

struct AnalysisBenchResult {
  int epoch = 0;
  int64_t probe_count = 0;
  double forward_s = 0;     // evaluation-mode forward of the whole network over the probe
  double scan_s = 0;        // the top-k scan alone
  double analysis_s = 0;    // scan + top-k projections of every feature + evolution projections
};

// The run's newest snapshot, probed as its analysis settings say (analysis.probe,
// analysis.probe_limit, analysis.topk, analysis.features).
AnalysisBenchResult bench_analysis(const Config& cfg, const std::string& run_dir);

}  // namespace ds
