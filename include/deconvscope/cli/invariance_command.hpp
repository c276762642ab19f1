// The `invariance` subcommand (dispatched from cli/commands.cpp), and the same work as a
// step of `analyze` when invariance.in_analyze is set (cli/pipelines.cpp).
#pragma once

#include <string>
#include <vector>

#include "deconvscope/analysis/invariance.hpp"

namespace ds {

// Measures the run's invariance (analysis/invariance.hpp) and writes
// analysis/invariance.h5, analysis/invariance.csv and report/invariance.html as one set
// (io/write_set.hpp). The caller holds the run's lock.
InvarianceResult invariance_and_report(const Run& run, bool quiet = false);

// deconvscope invariance --run DIR [--images test:0-4] [--epochs all|1,3,5] [--section.key VALUE ...]
int cmd_invariance(std::vector<std::string> args);

}  // namespace ds
