// Representation similarity in the report: <run>/report/similarity.html (CKA to the final
// snapshot against epoch, a line per layer; CKA between consecutive snapshots; the
// layer-by-layer CKA of up to four snapshots as coloured tables), the same CKA-to-final
// figure for the index's Convergence section, and the picture `compare` shows per run.
// Left out: computing the similarity (analysis/similarity.hpp).
#pragma once

#include <string>
#include <vector>

#include <opencv2/core.hpp>

#include "deconvscope/analysis/similarity.hpp"

namespace ds {

// Writes <run_dir>/report/similarity.html (self-contained: the figures are data URIs;
// its command links it from report/index.html). ds::Error(io) if it cannot.
void write_similarity_page(const std::string& run_dir, const SimilarityResult& r, double settle_threshold);

// CKA to the final snapshot against epoch, a line per layer, y from 0 to 1, with the
// settling threshold as a dashed line when it is in (0, 1].
cv::Mat cka_to_final_figure(const SimilarityResult& r, double settle_threshold, cv::Size size = {760, 440},
                            const std::string& title = "CKA to the final snapshot");

// The answer of a "first snapshot from which it stays" criterion (cka_settles_at,
// probe_useful_at) in words: "epoch N"; "not before the last snapshot (epoch N)" when it
// holds only at the last, where it holds by definition; `never` for -1.
std::string settling_text(int at, const std::vector<int>& epochs, const std::string& never = "never");

// For `compare`: the run's CKA-to-final figure as an <img> (data URI), or "" with *note
// saying why there is none (no or unreadable analysis/similarity.h5).
std::string similarity_compare_cell(const std::string& run_dir, std::string* note);

}  // namespace ds
