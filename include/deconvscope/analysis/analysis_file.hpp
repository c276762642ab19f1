// analysis.h5: the analysis stage's results on disk, and CSV exports of its tables. The
// HDF5 layout is a contract with other readers (h5py) and is written down in
// docs/analysis-format.md: format "deconvscope.analysis", format_version 3.
// Left out: appending to or updating an existing file (a run is analysed in one go), and
// reading only part of a file.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "deconvscope/analysis/convergence_measure.hpp"
#include "deconvscope/analysis/results.hpp"
#include "deconvscope/io/run_folder.hpp"

namespace ds {

// "deconvscope.analysis", version 3: what write_analysis writes. read_analysis accepts 3
// and 2 (version 2 lacks the sanity baseline, init_rank_correlation: read as not
// computed, i.e. empty); version 1 stored features that never fired as image 0 and is
// refused.
inline constexpr const char* kAnalysisFormat = "deconvscope.analysis";
inline constexpr int kAnalysisFormatVersion = 3;

// Writes r to `path` atomically (a temporary file in the same folder, renamed over
// `path` once complete). Checks first that r is consistent (layers, epochs, every array
// sized as documented): ds::Error(internal) naming the layer if not, a deconvscope bug.
// Disk failures are ds::Error(io) naming the file.
void write_analysis(const std::string& path, const AnalysisResult& r);

// Reads a file written by write_analysis (version 3, or 2). Checks the format and version attributes and
// every dataset's type and dims before reading it; a missing or malformed file is
// ds::Error(snapshot) whose `where` is "<file>: <object path>".
AnalysisResult read_analysis(const std::string& path);
// The run's analysis/analysis.h5 for a reader that can do without it: null with the reason
// in *problem when there is none, or it cannot be read (a damaged or outdated analysis);
// errors other than a bad file (the disk) are thrown.
std::unique_ptr<AnalysisResult> read_run_analysis(const RunPaths& paths, std::string* problem);

// Writes jumps.csv, convergence.csv, evolution.csv and topk.csv into `dir` (created if
// needed), each atomically. Columns are in docs/analysis-format.md; epochs are epoch
// numbers, features are filter indices, rank 0 is the strongest. convergence.csv has a
// row per analysed layer and epoch: the analysis' own columns, then each of `measures`'
// columns in the order given (the further analyses' share, convergence_measure.hpp; the
// command line passes the registry's, which with the linear probes and the similarity
// adds their accuracies and CKA), and last init_rank_correlation, the layer's median
// sanity-baseline figure (empty where not computed or NaN).
void write_analysis_csv(const std::string& dir, const AnalysisResult& r,
                        const std::vector<ConvergenceMeasure>& measures = {});

// What happened to followed feature f between epochs e-1 and e (e >= 1), one word as in
// jumps.csv's kind column: went_silent, came_back, inactive (at both), jump, changed (new
// image, similar projection) or same.
const char* transition_kind(const LayerEvolution& ev, const LayerJumps& j, size_t e, size_t f);

// Per epoch e of E, among the followed features of one layer: jumps, went silent, came
// back (into e from e-1; 0 at e = 0), and inactive at e.
struct TransitionCounts {
  std::vector<int> jumps, went_silent, came_back, inactive;  // [E]
};
TransitionCounts count_transitions(const LayerEvolution& ev, const LayerJumps& j, size_t E);

}  // namespace ds
