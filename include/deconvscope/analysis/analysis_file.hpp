// analysis.h5: the analysis stage's results on disk, and CSV exports of its tables. The
// HDF5 layout is a contract with other readers (h5py) and is written down in
// docs/analysis-format.md: format "deconvscope.analysis", format_version 3.
// Left out: appending to or updating an existing file (a run is analysed in one go), and
// reading only part of a file.
#pragma once

#include <memory>
#include <string>

#include "deconvscope/analysis/linear_probe.hpp"
#include "deconvscope/analysis/results.hpp"
#include "deconvscope/analysis/similarity.hpp"
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
// numbers, features are filter indices, rank 0 is the strongest. With the run's linear
// probes (analysis/linear_probe.hpp), convergence.csv's probe columns hold each analysed
// layer's probe test accuracy at each epoch and the epoch it reaches 95% of its final
// value, and (the report's headline) the gain over the pixel floor and the epoch from
// which it stays >= 90% of the final gain; with the run's similarity
// (analysis/similarity.hpp), its CKA to the final snapshot and the epoch from which that
// stays >= settle_threshold. Without them (or for a layer or epoch they lack) those
// columns are empty. Its last column, init_rank_correlation, is the layer's median
// sanity-baseline figure (empty where not computed or NaN).
void write_analysis_csv(const std::string& dir, const AnalysisResult& r, const LinearProbeResult* probes = nullptr,
                        const SimilarityResult* similarity = nullptr, double settle_threshold = 0.9);

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
