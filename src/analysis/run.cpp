// See include/deconvscope/analysis/run.hpp.
#include "deconvscope/analysis/run.hpp"

#include <algorithm>

#include "deconvscope/core/error.hpp"
#include "deconvscope/core/threads.hpp"
#include "deconvscope/model/evaluate.hpp"
#include "deconvscope/model/network.hpp"

namespace ds {

namespace {

std::string shape_text(int c, int h, int w) {
  return std::to_string(c) + "x" + std::to_string(h) + "x" + std::to_string(w);
}

}  // namespace

std::vector<int> resolve_layers(const std::vector<LayerSpec>& specs, const std::vector<std::string>& names,
                                const std::string& key, LayerKinds kinds) {
  auto wanted = [&](const LayerSpec& s) {
    return s.type == LayerType::conv || (kinds == LayerKinds::conv_or_fc && s.type == LayerType::fc);
  };
  const std::string kind = kinds == LayerKinds::conv ? "conv" : "conv or fc";
  std::string known;
  for (const LayerSpec& s : specs)
    if (wanted(s)) known += (known.empty() ? "" : ", ") + s.name;
  std::vector<int> out;
  for (const std::string& name : names) {
    const auto it = std::find_if(specs.begin(), specs.end(), [&](const LayerSpec& s) { return s.name == name; });
    if (it == specs.end() || !wanted(*it))
      throw Error(ErrorKind::config, key,
                  expected_found(names.size() == 1 ? "the name of a " + kind + " layer" : "names of " + kind + " layers",
                                 it == specs.end() ? "'" + name + "'"
                                                   : std::string(layer_type_name(it->type)) + " layer '" + name + "'"),
                  "the network's " + kind + " layers: " + (known.empty() ? "none" : known) +
                      (kinds == LayerKinds::conv_or_fc ? "; their ReLU output is what is read" : ""));
    const int i = int(it - specs.begin());
    if (std::find(out.begin(), out.end(), i) != out.end())
      throw Error(ErrorKind::config, key, expected_found("each layer once", "'" + name + "' twice"));
    out.push_back(i);
  }
  return out;
}

Run Run::open(const std::string& dir, const Config& cfg, const std::string& purpose) {
  set_threads(cfg.run.threads);
  Run r;
  r.paths_ = RunPaths::of(dir);
  r.cfg_ = cfg;
  r.snapshots_ = run_snapshots(r.paths_);
  if (r.snapshots_.empty())
    throw Error(ErrorKind::snapshot, r.paths_.snapshots, "no snapshots to " + purpose,
                "train first: deconvscope train --config <file> (snapshots land in " + r.paths_.snapshots + ")");
  r.first_ = std::make_shared<const Snapshot>(read_snapshot(r.snapshots_.front().second));
  return r;
}

std::vector<int> Run::epochs() const {
  std::vector<int> e;
  for (const auto& s : snapshots_) e.push_back(s.first);
  return e;
}

Snapshot Run::read(size_t i) const {
  if (i == 0) {
    if (!first_checked_) check_values(*first_, snapshots_.front().second);
    first_checked_ = true;
    return *first_;
  }
  const std::string& path = snapshots_.at(i).second;
  Snapshot s = read_snapshot(path);
  check_same_network(s, path, first_->layers, first_->input, snapshots_.front().second);
  check_values(s, path);
  return s;
}

void Run::check_values(const Snapshot& s, const std::string& path) const {
  // Eight images: enough to meet an overflow (it comes from the weights, not the image),
  // cheap next to any analysis (one forward pass of a batch of 8 per snapshot).
  constexpr int kImages = 8;
  if (!check_images_) check_images_ = std::make_shared<const RunImages>(images(/*train_split=*/true, kImages));
  if (!check_net_) check_net_ = network(kImages);
  check_net_->import_params(s.params);
  check_network_finite(*check_net_, check_images_->images(), Normalization{s.input_mean, s.input_std}, kImages, path);
}

void Run::check_fits(const Dataset& d, const std::string& path) const {
  const InputShape& in = first_->input;
  if (d.channels != in.channels || d.height != in.height || d.width != in.width)
    throw Error(ErrorKind::data, path,
                "images do not fit the network: " + expected_found(shape_text(in.channels, in.height, in.width),
                                                                   shape_text(d.channels, d.height, d.width)));
}

DataSplits Run::data(int64_t train_limit, int64_t test_limit) const {
  DataConfig d = cfg_.data;
  d.train_limit = train_limit;
  d.test_limit = test_limit;
  DataSplits s = load_dataset(d);
  check_fits(s.train, s.path);
  check_fits(s.test, s.path);
  return s;
}

RunImages Run::images(bool train_split, int64_t limit) const {
  RunImages r;
  r.on_train = train_split;
  // The other split is not needed: one image of it keeps the loaders' checks.
  r.splits = train_split ? data(limit, 1) : data(1, limit);
  return r;
}

RunImages Run::probe() const {
  bool on_train = true;
  switch (cfg_.analysis.probe) {
    case ProbeSplit::train: on_train = true; break;
    case ProbeSplit::test: on_train = false; break;
  }
  int64_t limit = on_train ? cfg_.data.train_limit : cfg_.data.test_limit;
  if (cfg_.analysis.probe_limit > 0) limit = cfg_.analysis.probe_limit;
  return images(on_train, limit);
}

std::unique_ptr<Network> Run::network(int batch) const {
  return std::make_unique<Network>(first_->layers, first_->input, std::max(1, batch), cfg_.run.seed,
                                   NetworkOptions{cfg_.conv_algorithm, Precision::f32, cfg_.conv_algorithms});
}

int Run::layer_index(const std::string& name, const std::string& key, LayerKinds kinds) const {
  return resolve_layers(first_->layers, {name}, key, kinds).front();
}

std::vector<int> Run::layer_indices(const std::vector<std::string>& names, const std::string& key,
                                    LayerKinds kinds) const {
  return resolve_layers(first_->layers, names, key, kinds);
}

std::vector<size_t> Run::select_snapshots(const std::string& key, const std::vector<int>& wanted) const {
  std::vector<size_t> chosen;
  if (wanted.empty()) {
    for (size_t i = 0; i < snapshots_.size(); ++i) chosen.push_back(i);
    return chosen;
  }
  const std::vector<int> have = epochs();
  for (int e : wanted) {
    const auto it = std::find(have.begin(), have.end(), e);
    if (it == have.end()) {
      std::string list;
      for (int h : have) list += (list.empty() ? "" : ",") + std::to_string(h);
      throw Error(ErrorKind::config, key, expected_found("epochs that have a snapshot (" + list + ")", std::to_string(e)),
                  "name snapshot epochs, or all for every snapshot");
    }
    chosen.push_back(size_t(it - have.begin()));
  }
  // In epoch order, each once, whatever order the list was written in.
  std::sort(chosen.begin(), chosen.end());
  chosen.erase(std::unique(chosen.begin(), chosen.end()), chosen.end());
  return chosen;
}

SelectedImages Run::select_images(const std::string& key, const std::string& spec) const {
  SelectedImages s;
  s.selection = parse_image_selection(spec, key);
  const std::vector<int64_t>& ix = s.selection.indices;
  const int64_t needed = ix.empty() ? 1 : *std::max_element(ix.begin(), ix.end()) + 1;
  s.data = images(s.selection.train_split, needed);
  check_image_selection(s.selection, int64_t(s.images().size()), key);
  return s;
}

}  // namespace ds
