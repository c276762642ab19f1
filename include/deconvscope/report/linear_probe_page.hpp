// The linear probes in the report: <run>/report/linear_probes.html (test accuracy against
// epoch, a line per layer, the pixel floor and the network's own accuracy as references,
// its axis zoomed to the data; the same measured against the floor, as the share of each
// layer's final gain over it; a table of the epoch from which each layer keeps 90% of that
// gain, analysis/linear_probe.hpp probe_useful_at), the probes' measure for the index's
// Convergence section (report/convergence_section.hpp), and the cell `compare` shows for
// a run.
// Left out: computing the probes (analysis/linear_probe.hpp).
#pragma once

#include <memory>
#include <string>

#include "deconvscope/analysis/convergence_measure.hpp"
#include "deconvscope/analysis/linear_probe.hpp"
#include "deconvscope/config/config.hpp"
#include "deconvscope/io/run_folder.hpp"

namespace ds {

// Writes <run_dir>/report/linear_probes.html (self-contained: the figure is a data URI;
// its command links it from report/index.html). ds::Error(io) if it cannot.
void write_linear_probe_page(const std::string& run_dir, const LinearProbeResult& r);

// For `compare`: the run's linear probes at its last probed epoch, as one line of HTML
// text ("conv5 81.2% (floor 76.0%, network 88.1%)": the best layer, the pixel floor and
// the network), or "" with *note saying why there is none (no or unreadable
// analysis/linear_probes.h5).
std::string linear_probe_compare_cell(const std::string& run_dir, std::string* note);

// The probes' measure of convergence (analysis/convergence_measure.hpp): their
// convergence.csv columns (linear_probe_convergence_columns) and the headline's "features
// become useful at" column (the first snapshot from which the layer's probe keeps 90% of
// its final gain over the pixel floor), its definition and its stale note. Without
// `probes` (null): blank columns, and a definition that says how to get them; `run_dir`
// goes into the commands it suggests.
ConvergenceMeasure linear_probe_measure(std::shared_ptr<const LinearProbeResult> probes, const std::string& run_dir);
// The registry's entry (cli/analyses.hpp): the measure of the run's
// analysis/linear_probes.h5 (read_run_linear_probes).
ConvergenceMeasure linear_probe_convergence(const RunPaths& paths, const Config& cfg);

}  // namespace ds
