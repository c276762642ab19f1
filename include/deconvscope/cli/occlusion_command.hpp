// The `occlusion` subcommand (dispatched from cli/commands.cpp), and the same work as a step
// of `analyze` when occlusion.in_analyze asks for it (cli/pipelines.cpp).
#pragma once

#include <string>
#include <vector>

#include "deconvscope/analysis/occlusion.hpp"

namespace ds {

// deconvscope occlusion --run DIR [--images test:0-4] [--epochs all|E,E,...]
//                       [--occlusion.key VALUE ...] [--section.key VALUE ...]
int cmd_occlusion(std::vector<std::string> args);

// Computes the run's occlusion with its config's [occlusion] section and writes
// analysis/occlusion.h5, analysis/occlusion.csv and report/occlusion.html (linked from
// index.html). The caller holds the run's lock. Returns what it computed.
OcclusionResult occlusion_and_report(const Run& run, bool quiet, const std::string& command);

}  // namespace ds
