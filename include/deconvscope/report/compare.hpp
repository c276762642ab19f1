// Comparing runs by filter health (`deconvscope compare`): two or more runs, of different
// architectures or of one architecture with different settings (renormalisation on and
// off), side by side in one self-contained HTML page (pictures as data URIs) plus CSV:
// first-layer filter mosaics (the paper's Fig. 6 layout), second-layer top projections,
// a health table per conv layer, validation curves together, and a short verdict per
// metric saying which run is healthier and by how much.
//
// Layers are matched by position among the conv layers (the first conv layer of each run,
// then the second, ...), whatever their names; runs of different depths and shapes are
// compared where they overlap, and the page says what it could not compare.
// Left out: statistics across seeds (one run per setting is one sample).
#pragma once

#include <string>
#include <vector>

#include "deconvscope/analysis/health.hpp"

namespace ds {

struct CompareOptions {
  static constexpr int kLatestCommonEpoch = -1;  // the latest epoch every run has a snapshot of
  static constexpr int kEachLastEpoch = -2;      // each run at its own last snapshot
  int epoch = kLatestCommonEpoch;   // the snapshot epoch judged; >= 0: that epoch, which every run must have
  bool recompute_health = false;    // recompute each run's health even if analysis/health.h5 is current
  HealthOptions health;             // how a missing or stale health.h5 is computed
  std::vector<std::string> labels;  // names of the runs on the page; default: their folder names
};

struct CompareSummary {
  std::string html;                   // <out_dir>/index.html
  std::string csv, verdicts_csv;      // <out_dir>/compare.csv, <out_dir>/verdicts.csv
  std::vector<int> epochs;            // the compared snapshot epoch of each run, in run order
  std::string at_epoch;               // "at epoch 6", or "at epoch 6 (a), 4 (b)": which run at which
  std::string epoch_rule;             // why: "the latest epoch every run has a snapshot of", ...
  std::vector<std::string> verdicts;  // one line per metric, as on the page
  std::vector<std::string> differences;  // result-changing settings that differ (training-set size first)
  std::vector<std::string> notes;     // what could not be compared
  std::vector<std::string> computed;  // runs whose health was (re)computed now
};

// A run to compare and its health (analysis/health.hpp current_health()).
struct ComparedRun {
  std::string dir;
  HealthResult health;
};

// What one further analysis adds to the comparison, declared with the analysis (its
// registry entry, cli/analyses.hpp) and handed to compare_runs, which places it on the
// page: the report stage does not know which analyses exist.
struct CompareCell {
  enum class Place {
    none,          // nothing
    runs_column,   // a last column of the Runs table, headed `title`; "-" for a run without a cell
    runs_figures,  // under the Runs table, when some run has a cell: <h3 id=anchor>title, the hint
                   // and each such run's cell as a figure captioned with the run's label
    section,       // before "What is not compared", when `section` shows something: <h2 id=anchor>
                   // title, the hint and the section, linked from the page's navigation as `title`
  };
  Place place = Place::none;
  const char* anchor = "";     // runs_figures, section: the heading's id
  const char* title = "";      // plain text
  const char* hint_html = "";  // runs_figures, section: the paragraph under the heading
  // runs_column, runs_figures: the run's cell (HTML), or "" with *note saying why it has
  // none ("What is not compared" lists "<run label>: <note>.").
  std::string (*cell)(const std::string& run_dir, std::string* note) = nullptr;
  // section: its HTML for the runs (folders, labels in the same order), or "" when it has
  // nothing to show; what it could not show is appended to *notes as whole sentences.
  std::string (*section)(const std::vector<std::string>& run_dirs, const std::vector<std::string>& labels,
                         std::vector<std::string>* notes) = nullptr;
};

// ds::Error(usage) for fewer than two runs or a run folder given twice.
void check_compare_runs(const std::vector<std::string>& run_dirs);

// Writes the comparison of the runs into out_dir: reads the snapshot of the compared
// epoch (opt.epoch), metrics.csv and, if present, analysis.h5 of each run (the health
// comes with it; opt.health and opt.recompute_health are for the caller that computes
// it, cli/pipelines.hpp), and shows each of `cells` in its place (computed in their order,
// so their notes keep it). Throws ds::Error(usage) as check_compare_runs, for an opt.epoch
// some run has no snapshot of, or runs without a common snapshot epoch (by default);
// ds::Error(io) if out_dir cannot be written. CompareSummary::computed is left empty.
CompareSummary compare_runs(const std::vector<ComparedRun>& runs, const std::vector<CompareCell>& cells,
                            const std::string& out_dir, const CompareOptions& opt = {});

}  // namespace ds
