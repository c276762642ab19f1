// The benchmark of docs/benchmark.md: full training steps (forward, backward,
// SGD with momentum and weight decay) and evaluation-mode forward passes on random
// data, at the config's batch and threads; warm-up first, then timed iterations.
#pragma once

#include <string>

#include "deconvscope/config/config.hpp"

namespace ds {

struct BenchOptions {
  int iters = 30;
  int warmup = 5;
  bool profile = false;  // per-layer time table on stderr
};

struct BenchResult {
  double train_images_per_s = 0;
  double infer_images_per_s = 0;
  std::string profile;  // per-layer table when asked
};

BenchResult run_bench(const Config& cfg, const BenchOptions& opt);

}  // namespace ds
