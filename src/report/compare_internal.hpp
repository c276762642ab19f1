// What compare.cpp loads per run and how compare_verdicts.cpp judges figures across runs
// (internal to src/report).
#pragma once

#include <string>
#include <vector>

#include "deconvscope/analysis/health.hpp"
#include "deconvscope/analysis/results.hpp"
#include "deconvscope/core/tensor.hpp"
#include "deconvscope/report/csv.hpp"

namespace ds::compare_detail {

struct RunData {
  std::string dir, label, name;  // folder, label on the page, run.name of its config
  HealthResult health;
  int final_epoch = 0;
  std::vector<Tensor> final_weights;  // aligned with health.layers: conv weights at the final snapshot
  bool has_analysis = false;
  AnalysisResult analysis;
  std::string analysis_problem;  // why there is no analysis
  CsvTable metrics;
  std::string metrics_problem;  // why there are no curves
};

// One judged figure: which runs have it, and which is healthier by how much.
struct Verdict {
  std::string scope;   // "conv position 1 (conv1 / conv1)" or "whole network"
  std::string metric;  // CSV key
  std::string title;   // on the page
  int better = -1;     // -1 lower is healthier, +1 higher
  bool percent = false;
  std::vector<std::string> runs;  // labels of the runs with a value, best first
  std::vector<float> values;      // same order
  std::string text;               // the sentence on the page
};

// Ranks the runs' values (NaN = that run has no value) and writes the sentence. With
// fewer than two values, text says why nothing can be compared.
Verdict judge(const std::string& scope, const std::string& metric, const std::string& title, int better, bool percent,
              const std::vector<std::string>& labels, const std::vector<float>& values);

}  // namespace ds::compare_detail
