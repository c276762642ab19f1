// The `linear-probe` subcommand (dispatched from cli/commands.cpp), and the same work as
// one call for `analyze` when linear_probe.in_analyze is set (cli/pipelines.cpp).
#pragma once

#include <string>
#include <vector>

#include "deconvscope/analysis/linear_probe.hpp"

namespace ds {

// deconvscope linear-probe --run DIR [--section.key VALUE ...]
int cmd_linear_probe(std::vector<std::string> args);

// Computes the run's linear probes and writes analysis/linear_probes.h5, linear_probes.csv,
// linear_probe_convergence.csv and report/linear_probes.html (a write set: a failure in
// the middle leaves <run>/linear-probe.incomplete). The caller holds the run's lock.
LinearProbeResult linear_probes_and_page(const Run& run, bool show_progress);

}  // namespace ds
