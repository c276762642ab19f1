// One trained run opened for analysis: its folder's paths, its effective config, its
// snapshots (checked to be one network), and its images on demand. The analyses that read
// snapshots (analyze, health, invariance, occlusion, linear_probe, similarity) take a Run
// instead of opening the folder themselves, so the snapshot listing, the "no snapshots"
// and "images do not fit" errors, the probe-split rule, and the choice of snapshots,
// images and layers a config key names (with one wording each for a bad choice) exist
// once. The report and compare read finished files and list snapshots through
// run_snapshots (io/run_folder.hpp), the function Run::open lists with.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "deconvscope/analysis/image_selection.hpp"
#include "deconvscope/config/config.hpp"
#include "deconvscope/data/dataset.hpp"
#include "deconvscope/io/run_folder.hpp"
#include "deconvscope/io/snapshot.hpp"

namespace ds {

class Network;

// Images of one split of the run's data, checked to fit the network.
struct RunImages {
  DataSplits splits;     // the other split holds at most one image
  bool on_train = true;  // which split `images()` is
  const Dataset& images() const { return on_train ? splits.train : splits.test; }
  const std::string& path() const { return splits.path; }  // resolved data.path
};

// The kinds of layer a config key may name.
enum class LayerKinds {
  conv,        // the layers the deconvnet projects from and occlusion occludes
  conv_or_fc,  // the layers whose rectified outputs the probes and measures read
};

// The one layer-name resolver: the layers called `names`, each of kind `kinds` and named
// once, as layer indices in the order given. ds::Error(config) naming `key`, what was
// found (an unknown name, or the kind of layer it is) and listing the network's layers of
// that kind, or naming a layer given twice.
std::vector<int> resolve_layers(const std::vector<LayerSpec>& specs, const std::vector<std::string>& names,
                                const std::string& key, LayerKinds kinds);

// Images a config key chose (image_selection.hpp), loaded: `selection` indexes `data.images()`.
struct SelectedImages {
  ImageSelection selection;
  RunImages data;  // the chosen split up to its largest chosen index
  const Dataset& images() const { return data.images(); }
  const char* split() const { return selection.train_split ? "train" : "test"; }
};

class Run {
 public:
  // Lists dir's snapshots and reads the first. cfg: the run's effective config (its
  // config.cfg, with any command-line overrides); sets the process's thread count from
  // it. Throws ds::Error(snapshot) when the run has no snapshot ("no snapshots to
  // <purpose>"), or the first snapshot cannot be read.
  static Run open(const std::string& dir, const Config& cfg, const std::string& purpose = "analyse");

  const std::string& dir() const { return paths_.dir; }
  const RunPaths& paths() const { return paths_; }
  const Config& config() const { return cfg_; }
  const std::vector<std::pair<int, std::string>>& snapshots() const { return snapshots_; }  // (epoch, path), ascending
  std::vector<int> epochs() const;
  const Snapshot& first() const { return *first_; }  // layers, input, normalisation
  const std::vector<LayerSpec>& layers() const { return first_->layers; }
  const InputShape& input() const { return first_->input; }
  Normalization normalization() const { return Normalization{first_->input_mean, first_->input_std}; }

  // Snapshot i of snapshots(), checked to hold the same network as the first
  // (ds::Error(snapshot) naming both files otherwise), and to keep the network finite on
  // the first training images (model/evaluate.hpp check_network_finite: finite weights of
  // 1e30 are the file's fault, exit 2 naming it and the layer, in every analysis alike).
  Snapshot read(size_t i) const;

  // The first `limit` images (0 = all) of the training or test split of the run's data;
  // the other split is not loaded. ds::Error(data) naming the data path when the images'
  // shape is not the network's input.
  RunImages images(bool train_split, int64_t limit) const;
  // Both splits with their own limits (0 = all), checked the same way.
  DataSplits data(int64_t train_limit, int64_t test_limit) const;
  // The images `analyze` searches: analysis.probe's split, its first analysis.probe_limit
  // images, by default as many as the run itself used (data.train_limit / data.test_limit).
  RunImages probe() const;

  // The run's network at `batch` images, float32 whatever train.precision was (analyses
  // stay float32), with the run's conv algorithm. Load weights with import_params.
  std::unique_ptr<Network> network(int batch) const;

  // Indices into snapshots() of the snapshots at `epochs` (empty: every snapshot), in
  // epoch order, each once. ds::Error(config) naming `key` and listing the run's snapshot
  // epochs when one has no snapshot.
  std::vector<size_t> select_snapshots(const std::string& key, const std::vector<int>& epochs) const;
  // The images `spec` chooses ("<split>:<indices>", image_selection.hpp), loaded only as
  // far as the largest index. ds::Error(config) naming `key` for a bad spec or an index
  // beyond the split (naming the split and its size).
  SelectedImages select_images(const std::string& key, const std::string& spec) const;
  // resolve_layers on the run's network: one name, or several.
  int layer_index(const std::string& name, const std::string& key, LayerKinds kinds) const;
  std::vector<int> layer_indices(const std::vector<std::string>& names, const std::string& key, LayerKinds kinds) const;

 private:
  void check_fits(const Dataset& d, const std::string& path) const;
  void check_values(const Snapshot& s, const std::string& path) const;

  RunPaths paths_;
  Config cfg_;
  std::vector<std::pair<int, std::string>> snapshots_;
  std::shared_ptr<const Snapshot> first_;
  // For check_values: a small network and the images it runs, made on first use.
  mutable std::shared_ptr<Network> check_net_;
  mutable std::shared_ptr<const RunImages> check_images_;
  mutable bool first_checked_ = false;
};

}  // namespace ds
