// Representation similarity in the report: <run>/report/similarity.html (CKA to the final
// snapshot against epoch, a line per layer; CKA between consecutive snapshots; the
// layer-by-layer CKA of up to four snapshots as coloured tables), the same CKA-to-final
// figure in the similarity's measure for the index's Convergence section
// (report/convergence_section.hpp), and the picture `compare` shows per run.
// Left out: computing the similarity (analysis/similarity.hpp).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <opencv2/core.hpp>

#include "deconvscope/analysis/convergence_measure.hpp"
#include "deconvscope/analysis/similarity.hpp"
#include "deconvscope/config/config.hpp"
#include "deconvscope/io/run_folder.hpp"

namespace ds {

// Writes <run_dir>/report/similarity.html (self-contained: the figures are data URIs;
// its command links it from report/index.html). ds::Error(io) if it cannot.
void write_similarity_page(const std::string& run_dir, const SimilarityResult& r, double settle_threshold);

// CKA to the final snapshot against epoch, a line per layer, y from 0 to 1, with the
// settling threshold as a dashed line when it is in (0, 1].
cv::Mat cka_to_final_figure(const SimilarityResult& r, double settle_threshold, cv::Size size = {760, 440},
                            const std::string& title = "CKA to the final snapshot");

// The similarity's measure of convergence (analysis/convergence_measure.hpp): its
// convergence.csv columns (similarity_convergence_columns) and the headline's
// "representation settles at" column (the first snapshot from which the layer's CKA to
// the final snapshot stays >= settle_threshold), its definition, its stale note, the
// CKA-to-final figure and the Summary's settling threshold. Without `similarity` (null):
// blank columns, and a definition that says how to get it, with `problem` (why there is
// none) when not empty. `run_dir` goes into the commands it suggests.
ConvergenceMeasure similarity_measure(std::shared_ptr<const SimilarityResult> similarity, const std::string& problem,
                                      double settle_threshold, const std::string& run_dir);
// The registry's entry (cli/analyses.hpp): the measure of the run's analysis/similarity.h5
// (read_run_similarity) at cfg's similarity.settle_threshold.
ConvergenceMeasure similarity_convergence(const RunPaths& paths, const Config& cfg);

// For `compare`: the run's CKA-to-final figure as an <img> (data URI), or "" with *note
// saying why there is none (no or unreadable analysis/similarity.h5).
std::string similarity_compare_cell(const std::string& run_dir, std::string* note);

}  // namespace ds
