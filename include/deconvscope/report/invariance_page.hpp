// The invariance page of a run's report, <run_dir>/report/invariance.html: the paper's
// Fig. 5 layout for a few snapshots (a row per transformation: example transformed
// images, the distance at each layer and the true-class probability against the
// transformation, a line per image), and how invariance develops over training (the
// mean distance per layer and transformation against the epoch). Self-contained
// (pictures are data URIs); its command links it from index.html (cli/analyses.hpp). And
// the body of the section `compare` shows for the runs that have an analysis/invariance.h5.
#pragma once

#include <string>
#include <vector>

#include <opencv2/core.hpp>

#include "deconvscope/analysis/invariance.hpp"

namespace ds {

void write_invariance_page(const std::string& run_dir, const InvarianceResult& r);

// At most `most` snapshot slots (indices into r.epochs) for the Fig. 5 figures: all when
// there are few, else the first, the last and evenly spaced ones between.
std::vector<size_t> invariance_shown_epochs(size_t epochs, size_t most = 4);

// Per layer, the mean distance (over images and sweep values) of each transformation
// against the epoch; a line per layer and transformation. The page's and compare's figure.
cv::Mat invariance_over_epochs(const InvarianceResult& r, const std::string& title, cv::Size size);

// `compare`'s section under its heading (cli/invariance_command.cpp declares both): for
// each run (folder, label) its invariance-over-epochs figure, side by side, read from
// analysis/invariance.h5; a run without one (or with an unreadable one) gets a note in
// *notes and on the page instead. Returns HTML; "" when no run has the file.
std::string invariance_compare_section(const std::vector<std::string>& run_dirs, const std::vector<std::string>& labels,
                                       std::vector<std::string>* notes);

}  // namespace ds
