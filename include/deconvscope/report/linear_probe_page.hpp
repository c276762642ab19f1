// The linear probes in the report: <run>/report/linear_probes.html (test accuracy against
// epoch, a line per layer, the pixel floor and the network's own accuracy as references,
// its axis zoomed to the data; the same measured against the floor, as the share of each
// layer's final gain over it; a table of the epoch from which each layer keeps 90% of that
// gain, analysis/linear_probe.hpp probe_useful_at), and the cell
// `compare` shows for a run.
// Left out: computing the probes (analysis/linear_probe.hpp).
#pragma once

#include <string>

#include "deconvscope/analysis/linear_probe.hpp"

namespace ds {

// Writes <run_dir>/report/linear_probes.html (self-contained: the figure is a data URI;
// its command links it from report/index.html). ds::Error(io) if it cannot.
void write_linear_probe_page(const std::string& run_dir, const LinearProbeResult& r);

// For `compare`: the run's linear probes at its last probed epoch, as one line of HTML
// text ("conv5 81.2% (floor 76.0%, network 88.1%)": the best layer, the pixel floor and
// the network), or "" with *note saying why there is none (no or unreadable
// analysis/linear_probes.h5).
std::string linear_probe_compare_cell(const std::string& run_dir, std::string* note);

}  // namespace ds
