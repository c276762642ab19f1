// The benchmark of docs/benchmark.md: full training steps (forward, backward,
// SGD with momentum and weight decay) and evaluation-mode forward passes on random
// data, at the config's batch and threads; warm-up first, then timed iterations.
#pragma once

#include <cstdint>
#include <string>

#include "deconvscope/config/config.hpp"
#include "deconvscope/core/comm.hpp"

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

// The gradient sum of one data-parallel training step of the config's network over the
// ranks of this process's group (core/comm.hpp; run under mpirun), without a backward
// pass to overlap with: per-layer non-blocking allreduces, waited for together.
struct AllreduceTiming {
  int ranks = 1;
  int64_t bytes = 0;  // float32 gradient of every weight and bias
  double median_ms = 0, min_ms = 0;
};
AllreduceTiming time_gradient_allreduce(const Config& cfg, int iters, Comm& comm);

}  // namespace ds
