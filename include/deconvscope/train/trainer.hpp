// Training a network from a Config: data, initialisation, SGD epochs, validation,
// metrics.csv, snapshots at the chosen epochs, a rolling last.h5 for exact resume,
// clean stops on SIGINT/SIGTERM and on divergence.
#pragma once

#include <functional>
#include <string>

#include "deconvscope/config/config.hpp"

namespace ds {

// Where a run keeps its files.
struct RunPaths {
  std::string dir;        // runs/<name>
  std::string config;     // dir/config.cfg: the effective config
  std::string metrics;    // dir/metrics.csv
  std::string snapshots;  // dir/snapshots/
  std::string last;       // dir/last.h5: rolling state of the newest epoch, for --resume
  std::string analysis;   // dir/analysis/
  std::string report;     // dir/report/
  std::string log;        // dir/train.log: what train said, warnings included (appended)
  static RunPaths of(const std::string& dir);
};

// The run folder a config trains into: run.dir, or runs/<run.name>.
std::string run_dir(const Config& cfg);

struct TrainOptions {
  bool resume = false;  // continue from the newest complete snapshot or last.h5
  bool force = false;   // start over in a folder that already holds a run
  // Called after each snapshot file lands (epoch, path); analysis.live hooks in here.
  std::function<void(int, const std::string&)> on_snapshot;
};

struct TrainSummary {
  int last_epoch = 0;
  double val_loss = 0, val_accuracy = 0;
  std::string dir;
};

// With opt.resume on a folder that holds a config.cfg, `cfg` may differ from it only in
// keys that do not change the weights (train.epochs, snapshot.epochs, analysis.*,
// run.name, run.dir, run.threads); any other difference is ds::Error(config) naming the
// keys and both values.
// Throws ds::Error: config/data/shape for bad input (before anything is written),
// io when the disk refuses, divergence on non-finite values, interrupted on a signal.
TrainSummary train(const Config& cfg, const TrainOptions& opt);

// Sets oneDNN's (OpenMP's) thread count for the process.
void set_threads(int threads);

}  // namespace ds
