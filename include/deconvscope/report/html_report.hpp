// The report of a run: one self-contained HTML page, <run_dir>/report/index.html, beside
// the PNGs it shows (relative paths, so the folder opens from disk in any browser, with
// no server, network or scripts). It holds the run summary, the training curves, the
// convergence plot and table, per analysed layer the evolution strip and the top-k grids,
// the jump list, the first-layer filters of each analysed snapshot (when the snapshots
// are there), and the per-epoch metrics.csv table.
#pragma once

#include <string>

#include "deconvscope/analysis/results.hpp"
#include "deconvscope/data/dataset.hpp"
#include "deconvscope/report/html_escape.hpp"

namespace ds {

// Renders every picture into <run_dir>/report/ and writes index.html last, each file
// atomically. A missing or malformed metrics.csv or missing snapshots are noted on the
// page, not fatal. Throws ds::Error(data) if `probe` does not match r (shape, too few
// images), ds::Error(snapshot) if r is inconsistent, ds::Error(io) if the folder or a
// file cannot be written.
void write_report(const std::string& run_dir, const AnalysisResult& r, const Dataset& probe);

}  // namespace ds
