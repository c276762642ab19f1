// allreduce-bench: how long the gradient sum of one data-parallel training step of a
// config's network takes over the ranks it is started on (docs/scaling.md), e.g.
//   mpirun -np 2 build/allreduce-bench --config configs/zfnet-imagenet.cfg --iters 10
// A thin main over ds::time_gradient_allreduce (src/train/bench.cpp).
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "deconvscope/cli/analyses.hpp"
#include "deconvscope/config/config.hpp"
#include "deconvscope/core/comm.hpp"
#include "deconvscope/core/error.hpp"
#include "deconvscope/train/bench.hpp"

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  int iters = 10;
  for (size_t i = 0; i + 1 < args.size(); ++i)
    if (args[i] == "--iters") {
      iters = std::atoi(args[i + 1].c_str());
      args.erase(args.begin() + long(i), args.begin() + long(i) + 2);
      break;
    }
  int code = 0;
  try {
    ds::register_analysis_sections();  // a run's config.cfg names every analysis' keys
    const ds::Config cfg = ds::load_config(args);
    const ds::AllreduceTiming t = ds::time_gradient_allreduce(cfg, iters, ds::Comm::world());
    if (ds::Comm::world().rank() == 0)
      std::printf("%s: gradient %.2f MB over %d ranks: allreduce median %.2f ms, min %.2f ms (%d rounds)\n",
                  cfg.source.c_str(), double(t.bytes) / 1e6, t.ranks, t.median_ms, t.min_ms, iters);
  } catch (const ds::Error& e) {
    std::fprintf(stderr, "allreduce-bench: error: %s\n", e.what());
    code = e.exit_code();
  }
  ds::Comm::note_exit_code(code);
  return code;
}
