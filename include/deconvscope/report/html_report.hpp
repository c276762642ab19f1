// The report of a run: one self-contained HTML page, <run_dir>/report/index.html, beside
// the PNGs it shows (relative paths, so the folder opens from disk in any browser, with
// no server, network or scripts). In page order: the run at a glance; per analysed layer
// the evolution strip and the top-k grids; the first-layer filters of each analysed
// snapshot (when the snapshots are there); the training curves and per-layer statistics;
// the Convergence section (with the further analyses' measures, ReportContext::convergence); the
// jumps; the dead features; the summary; the per-epoch metrics.csv table; the effective
// config. The navigation bar links those of the other pages (ReportContext::pages) that exist.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "deconvscope/analysis/convergence_measure.hpp"
#include "deconvscope/analysis/results.hpp"
#include "deconvscope/config/config.hpp"
#include "deconvscope/core/tensor.hpp"
#include "deconvscope/data/dataset.hpp"
#include "deconvscope/io/run_folder.hpp"
#include "deconvscope/report/html_escape.hpp"
#include "deconvscope/report/pages.hpp"

namespace ds {

// What the page shows beside the analysis result, gathered by the caller from the run it
// has open (cli/pipelines.cpp, analyze_and_report): of the run folder the report reads only
// metrics.csv (which only training writes) and which pages exist in report/.
struct ReportContext {
  RunPaths paths;
  std::vector<ReportPage> pages;  // the pages beside index.html, in navigation order (cli/analyses.hpp report_pages())
  Config config;            // the run's effective config (run.name, train.epochs, analysis.live)
  std::string config_text;  // the effective config shown on the page (the run's config.cfg with overrides); empty: not shown
  std::string first_filters_layer;                    // the first conv layer's name
  std::vector<std::pair<int, Tensor>> first_filters;  // (epoch, its weights (O, I, kh, kw)) per analysed epoch
  std::string filters_problem;                        // why some are missing, noted on the page
  // The further analyses' measures of convergence, in registry order (cli/pipelines.hpp
  // convergence_measures): their headline columns and Summary rows.
  std::vector<ConvergenceMeasure> convergence;
};

// Renders every picture into report/ and writes index.html last, each file atomically.
// A missing or malformed metrics.csv or missing filters are noted on the page, not
// fatal. Throws ds::Error(data) if `probe` does not match r (shape, too few images),
// ds::Error(snapshot) if r is inconsistent, ds::Error(io) if the folder or a file cannot
// be written.
void write_report(const ReportContext& ctx, const AnalysisResult& r, const Dataset& probe);

}  // namespace ds
