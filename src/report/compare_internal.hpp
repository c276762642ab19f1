// What compare.cpp loads per run and how compare_verdicts.cpp judges figures across runs
// (internal to src/report).
#pragma once

#include <string>
#include <vector>

#include "deconvscope/analysis/health.hpp"
#include "deconvscope/analysis/results.hpp"
#include "deconvscope/core/tensor.hpp"
#include "deconvscope/io/csv.hpp"

namespace ds::compare_detail {

struct RunData {
  std::string dir, label, name;  // folder, label on the page, run.name of its config
  HealthResult health;
  int final_epoch = 0;              // the run's last snapshot
  int epoch = 0;                    // the compared snapshot epoch
  size_t epoch_index = 0;           // its index in health.epochs
  std::vector<Tensor> weights;      // aligned with health.layers: conv weights at the compared epoch
  std::string config_text;          // the effective config (config.cfg), "" if unreadable
  int64_t train_limit = 0;          // data.train_limit of the run (0 = every image)
  std::string dataset;              // data.dataset
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
  std::vector<std::string> runs;     // labels of the runs with a value, best first
  std::vector<float> values;         // same order
  std::vector<std::string> leaders;  // the healthiest runs (within noise of the best); empty on a tie
  std::string text;                  // the sentence on the page
};

// Ranks the runs' values (NaN = that run has no value) and writes the sentence. With
// fewer than two values, text says why nothing can be compared. When the best and the
// worst are within noise (a tie), nobody leads: the page marks only `leaders`.
Verdict judge(const std::string& scope, const std::string& metric, const std::string& title, int better, bool percent,
              const std::vector<std::string>& labels, const std::vector<float>& values);

// Settings of the runs' effective configs (INI text, read by config_entries) that change
// what training produces and differ between the runs: a sentence per key naming each
// run's value. A key is in when its KeySpec says it changes the weights (config.hpp
// KeyEffect), the architecture (model.*, what is compared) aside; so left out are the
// run's name, folder and threads, how a folder is streamed, the number of epochs (runs
// are compared at one epoch), snapshot, analysis and health settings. A text that is not
// a config throws Error(config) naming the run's label and the line.
std::vector<std::string> setting_differences(const std::vector<std::string>& labels,
                                             const std::vector<std::string>& config_texts);

}  // namespace ds::compare_detail
