// Filter health in pictures and HTML: a filter mosaic with dead and dominating filters
// marked (the paper's Fig. 6 layout), and a run's health page, <run_dir>/report/health.html,
// self-contained (pictures as data URIs), linked from the run's report/index.html.
// Left out: computing health (analysis/health.hpp) and comparing runs (report/compare.hpp).
#pragma once

#include <opencv2/core.hpp>
#include <string>

#include "deconvscope/analysis/health.hpp"
#include "deconvscope/core/tensor.hpp"
#include "deconvscope/report/pages.hpp"

namespace ds {

// Filters (O, I, kh, kw) as a near-square grid of cell x cell tiles, grey = 0. Each filter
// is stretched by its own largest |value|, or, with shared_scale, every filter by the
// layer's largest (a dominating filter then stands out and weak ones fade, as in Fig. 6a).
// If `health` is given, filters dead at epoch index e get a red frame and cross,
// dominating ones an amber frame. Always BGR. Throws ds::Error(shape) for a non-4-d tensor
// or health of another layer size.
cv::Mat health_mosaic(const Tensor& weights, int cell, bool shared_scale, const LayerHealth* health = nullptr,
                      size_t epoch_index = 0);

// A cell size that shows a kh x kw kernel at a whole enlargement, about 40 pixels.
int mosaic_cell(int kh, int kw);

// Writes <run_dir>/report/health.html and, when <run_dir>/report/index.html exists and
// has no link to it yet, adds one to its navigation bar. Missing snapshots leave the
// mosaics out with a note. Throws ds::Error(io) if the folder or a file cannot be written.
void write_health_page(const std::string& run_dir, const HealthResult& h);

// The health page in the report's navigation bar: RunPaths::health_page, "Filter health".
// The first of the pages the command line hands the report (cli/analyses.hpp report_pages()).
const ReportPage& health_report_page();

}  // namespace ds
