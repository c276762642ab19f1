// Training a network from a Config: data, initialisation, SGD epochs, validation,
// metrics.csv, snapshots at the chosen epochs, a rolling last.h5 for exact resume,
// clean stops on SIGINT/SIGTERM and on divergence.
#pragma once

#include <functional>
#include <string>

#include "deconvscope/config/config.hpp"
#include "deconvscope/core/comm.hpp"
#include "deconvscope/io/run_folder.hpp"

namespace ds {

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
  bool already_complete = false;  // --resume of a run at its train.epochs: nothing was trained
};

// With opt.resume, a folder that holds no run is ds::Error(usage) naming it (a resume
// never starts a new run); a run already at train.epochs returns at once, its data unread.
// With opt.resume on a folder that holds a config.cfg, `cfg` may differ from it only in
// keys that do not change the weights (train.epochs, snapshot.epochs, analysis.*,
// run.name, run.dir, run.threads); any other difference is ds::Error(config) naming the
// keys and both values.
// Throws ds::Error: config/data/shape for bad input (before anything is written),
// io when the disk refuses, divergence on non-finite values, interrupted on a signal.
// comm: the job's process group (the command line's Comm::world()); under mpirun its
// ranks train one model data-parallel and rank 0 writes the run's files.
TrainSummary train(const Config& cfg, const TrainOptions& opt, Comm& comm);

}  // namespace ds
