// The analysis stage of a run: the deconvnet over every snapshot, incremental (epochs
// already in analysis.h5 are kept unless forced), then the jump and convergence
// figures, analysis.h5 and the CSV files.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "deconvscope/analysis/convergence_measure.hpp"
#include "deconvscope/analysis/results.hpp"
#include "deconvscope/analysis/run.hpp"
#include "deconvscope/config/config.hpp"
#include "deconvscope/core/comm.hpp"
#include "deconvscope/data/dataset.hpp"
#include "deconvscope/io/snapshot.hpp"

namespace ds {

struct AnalyzeOptions {
  bool force = false;  // recompute every epoch
  bool quiet = false;  // no progress bars (live analysis during training)
  // The job's process group (the command line's Comm::world()): under mpirun every rank
  // scans a share of the probe and rank 0 writes. Null: this process alone.
  Comm* comm = nullptr;
  // The further analyses' columns of convergence.csv (write_analysis_csv), asked for only
  // by the rank that writes it; the command line reads them from the run's files
  // (cli/pipelines.hpp convergence_measures). Null: the analysis' own columns only.
  std::function<std::vector<ConvergenceMeasure>()> convergence;
};

struct AnalyzeSummary {
  std::vector<int> epochs;    // every analysed epoch
  std::vector<int> computed;  // those computed in this call
  std::string analysis_file;  // analysis/analysis.h5, written
  AnalysisResult result;      // what it holds
  RunImages probe;            // the images searched (the report shows them)
  // The first conv layer's weights (O, I, kh, kw) at every analysed epoch, for the
  // report's filter mosaics (read with the snapshots anyway).
  std::string first_conv;
  std::vector<std::pair<int, Tensor>> first_filters;
  // The sanity baseline computed in this call: activations projected through the first
  // snapshot's weights, and the wall time that took (what the baseline adds to analyze).
  int64_t baseline_projections = 0;
  double baseline_seconds = 0;
};

class Network;
class Progress;

// What one snapshot contributes, per analysed layer (aligned with convs).
struct SnapshotAnalysis {
  std::vector<std::vector<Activation>> strongest;  // [layer][F]: rank 0 of each followed feature
  std::vector<std::vector<float>> projections;     // [layer][F * C * H * W]
  std::vector<LayerTopK> topk;                     // [layer], when asked
};

// The deconvnet work on one snapshot already loaded into net: one forward scan of the
// whole probe for the top-k of every feature of the conv layers `convs`, then batched
// projections of the followed features' strongest activations (followed[l].features),
// and of every feature's top-k when want_topk.
// comm: as scan_topk's (null: this process alone).
SnapshotAnalysis analyse_snapshot(Network& net, const Dataset& probe, const Normalization& norm,
                                  const std::vector<int>& convs, const std::vector<LayerEvolution>& followed, int k,
                                  bool want_topk, Progress* bar, Comm* comm = nullptr);

// analyse_snapshot after the scan: tops is scan_topk's result for convs at this k on the
// snapshot loaded into net. bar (may be null) counts the layers projected.
SnapshotAnalysis project_snapshot(Network& net, const Dataset& probe, const Normalization& norm,
                                  const std::vector<int>& convs, const std::vector<LayerEvolution>& followed, int k,
                                  bool want_topk, const std::vector<std::vector<Activation>>& tops,
                                  Progress* bar = nullptr);

// The default choice of followed features of one layer (analysis.features = N), from the
// last snapshot's scan tops ([channels * k], as scan_topk): the features alive there
// (fired on at least one probe image), N of them spread evenly over the alive ones in
// index order (alive[i * m / N] for i < N, m alive), or all alive ones if m <= N; when no
// feature is alive, the same over every feature. wanted < 0: every feature.
std::vector<int32_t> choose_followed(const std::vector<Activation>& tops, int k, int wanted);

// What an analysis of a run works on, checked: its snapshots, the probe split, the
// analysed conv layers and the features the evolution follows.
struct AnalysisPlan {
  std::vector<std::pair<int, std::string>> snapshots;  // (epoch, path), ascending
  Snapshot first;                                      // the first snapshot: layers, input, normalisation
  RunImages images;                                    // the probe images
  std::vector<int> convs;            // analysed conv layers (indices)
  std::vector<std::string> names;    // their names
  std::vector<LayerEvolution> followed;  // per analysed layer: name and followed features (empty if follow_alive)
  bool follow_alive = false;             // analysis.features = N: choose_followed on the last snapshot
  int k = 9;
  const Dataset& probe() const { return images.images(); }
};
// Throws the errors run_analysis documents; the keys are checked before any image loads.
AnalysisPlan plan_analysis(const Run& run);

// Analyses every snapshot of the run (run.config(): its effective config with any
// overrides) and writes analysis/analysis.h5 and its CSV files; the report is the
// caller's next step (report/html_report.hpp). Throws ds::Error(config) for analysis
// keys that do not fit the run (a layer that is not a conv layer, a listed feature past
// a layer's channels), the errors of Run::probe(). A top-k epoch without a snapshot on
// disk (a run that stopped early) gets a warning on stderr unless opt.quiet.
AnalyzeSummary run_analysis(const Run& run, const AnalyzeOptions& opt);

}  // namespace ds
