// analysis.h5 (format "deconvscope.analysis", format_version 3, reading 2 as well;
// docs/analysis-format.md)
// and the CSV tables next to it. Writing checks the in-memory result first, so a file on
// disk always matches the documented shapes; reading checks every type and shape before
// it allocates. Both go through io/h5.hpp.
// Left out: partial reads (the report reads the whole file; it is tens of MiB at most).
#include "deconvscope/analysis/analysis_file.hpp"
#include "deconvscope/analysis/sanity_baseline.hpp"

#include <algorithm>
#include <cmath>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <limits>
#include <set>

#include "deconvscope/core/error.hpp"
#include "deconvscope/core/escape.hpp"
#include "deconvscope/io/h5.hpp"
#include "deconvscope/io/csv.hpp"

namespace fs = std::filesystem;

namespace ds {

namespace {

// Projections are mostly zero outside the receptive field: gzip shrinks them many times.
constexpr int kProjectionDeflate = 1;

constexpr int64_t kMaxInt = std::numeric_limits<int>::max();

int64_t i64(size_t x) { return static_cast<int64_t>(x); }

std::string epoch_group_name(int epoch) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "epoch-%04d", epoch);
  return buf;
}

// "epoch-0005" -> 5; false for any other name.
bool parse_epoch_group(const std::string& name, int* epoch) {
  const std::string prefix = "epoch-";
  if (name.size() <= prefix.size() || name.compare(0, prefix.size(), prefix) != 0) return false;
  const std::string digits = name.substr(prefix.size());
  if (digits.size() > 9 ||
      !std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; }))
    return false;
  *epoch = std::stoi(digits);
  return true;
}

std::string dims5(int64_t a, int64_t b, const InputShape& in) {
  return shape_str({a, b, in.channels, in.height, in.width});
}

// --- consistency of an in-memory result ---------------------------------------------

// Checks every size the file format promises. Writing reports a deconvscope bug
// (ErrorKind::internal); reading, a malformed file (ErrorKind::snapshot); `where` is always
// "<file>: /<object path>".
class Checker {
 public:
  Checker(ErrorKind kind, std::string where, std::string hint)
      : kind_(kind), where_(std::move(where)), hint_(std::move(hint)) {}

  // The root attributes: enough to build the shapes of everything else.
  void check_header(const AnalysisResult& r) const {
    if (r.probe_count < 0)
      fail_attr("probe_count", expected_found("a count >= 0", std::to_string(r.probe_count)));
    if (r.epochs.empty()) fail_attr("epochs", "expected at least one analysed epoch, found none");
    for (size_t e = 0; e < r.epochs.size(); ++e) {
      if (r.epochs[e] < 0) fail_attr("epochs", expected_found("epochs >= 0", std::to_string(r.epochs[e])));
      if (e > 0 && r.epochs[e] <= r.epochs[e - 1])
        fail_attr("epochs",
                  expected_found("strictly ascending epochs",
                                 std::to_string(r.epochs[e - 1]) + " then " + std::to_string(r.epochs[e])));
    }
    std::set<std::string> seen;
    for (const std::string& name : r.layers) {
      if (name.empty() || name.find('/') != std::string::npos || name == "." || name == "..")
        fail_attr("layers", expected_found("a layer name usable as an HDF5 group name", quote_untrusted(name)));
      if (!seen.insert(name).second) fail_attr("layers", "layer " + quote_untrusted(name) + " is listed twice");
    }
    const InputShape& in = r.input;
    if (in.channels <= 0 || in.height <= 0 || in.width <= 0)
      fail_attr("input_shape",
                expected_found("positive (C, H, W)", shape_str({in.channels, in.height, in.width})));
    if (r.input_mean.size() != static_cast<size_t>(in.channels))
      fail_attr("input_mean", expected_found(std::to_string(in.channels) + " values (one per channel)",
                                             std::to_string(r.input_mean.size())));
    if (r.input_std.size() != static_cast<size_t>(in.channels))
      fail_attr("input_std", expected_found(std::to_string(in.channels) + " values (one per channel)",
                                            std::to_string(r.input_std.size())));
    for (float v : r.input_std)
      if (!std::isfinite(v) || !(v > 0)) fail_attr("input_std", expected_found("finite values > 0", std::to_string(v)));
    for (float v : r.input_mean)
      if (!std::isfinite(v)) fail_attr("input_mean", expected_found("finite values", std::to_string(v)));
    if (!r.snapshot_sha256.empty()) {
      expect_count("snapshot_sha256", "checksums (one per epoch)", r.epochs.size(), r.snapshot_sha256.size());
      for (const std::string& h : r.snapshot_sha256)
        if (h.size() != 64 || h.find_first_not_of("0123456789abcdef") != std::string::npos)
          fail_attr("snapshot_sha256", expected_found("64 hex digits", quote_untrusted(h)));
    }
  }

  void check(const AnalysisResult& r) const {
    check_header(r);
    const InputShape& in = r.input;
    const size_t L = r.layers.size(), E = r.epochs.size();
    expect_count("evolution", "layers", L, r.evolution.size());
    expect_count("metrics/jumps", "layers", L, r.jumps.size());
    expect_count("metrics/convergence", "layers", L, r.convergence.size());
    for (size_t l = 0; l < L; ++l) check_layer(r, l, E);

    for (const auto& [epoch, layers] : r.topk) {
      const std::string at = "topk/" + epoch_group_name(epoch);
      if (std::find(r.epochs.begin(), r.epochs.end(), epoch) == r.epochs.end())
        fail(at, "top-k at epoch " + std::to_string(epoch) + ", which is not among the analysed epochs");
      expect_count(at, "layers", L, layers.size());
      for (size_t l = 0; l < L; ++l) {
        const LayerTopK& t = layers[l];
        const std::string lat = at + "/" + r.layers[l];
        if (t.layer != r.layers[l])
          fail(lat, expected_found("layer '" + r.layers[l] + "'", quote_untrusted(t.layer)));
        if (t.features < 0 || t.k < 0)
          fail(lat, expected_found("features >= 0 and k >= 0",
                                   std::to_string(t.features) + " and " + std::to_string(t.k)));
        const size_t n = static_cast<size_t>(t.features) * static_cast<size_t>(t.k);
        expect_count(lat + "/activation", "entries (features * k)", n, t.acts.size());
        expect_count(lat + "/window", "entries (features * k)", n, t.windows.size());
        check_activations(lat, r, t.acts, t.windows);
        expect_dims(lat + "/projection", dims5(t.features, t.k, in), t.projections);
      }
    }
  }

 private:
  void check_layer(const AnalysisResult& r, size_t l, size_t E) const {
    const std::string& name = r.layers[l];
    const LayerEvolution& ev = r.evolution[l];
    const std::string at = "evolution/" + name;
    if (ev.layer != name) fail(at, expected_found("layer '" + name + "'", quote_untrusted(ev.layer)));
    const size_t F = ev.features.size();
    for (int32_t f : ev.features)
      if (f < 0) fail(at + "/features", expected_found("feature indices >= 0", std::to_string(f)));
    expect_count(at + "/activation", "entries (E * F)", E * F, ev.strongest.size());
    expect_count(at + "/window", "entries (E * F)", E * F, ev.windows.size());
    check_activations(at, r, ev.strongest, ev.windows);
    expect_dims(at + "/projection", dims5(i64(E), i64(F), r.input), ev.projections);
    for (size_t i = 0; i < ev.projections.data.size(); ++i)
      if (!std::isfinite(ev.projections.data[i]))
        fail(at + "/projection", expected_found("finite values", std::to_string(ev.projections.data[i]) +
                                                                    " at flat index " + std::to_string(i)));
    check_init_rank_correlation(r, l, E);

    const LayerJumps& j = r.jumps[l];
    const std::string jat = "metrics/jumps/" + name;
    const size_t rows = (E - 1) * F;
    expect_count(jat + "/image_changed", "entries ((E-1) * F)", rows, j.image_changed.size());
    expect_count(jat + "/projection_similarity", "entries ((E-1) * F)", rows, j.projection_similarity.size());
    expect_count(jat + "/filter_change", "entries ((E-1) * F)", rows, j.filter_change.size());
    expect_count(jat + "/jump", "entries ((E-1) * F)", rows, j.jump.size());
    expect_count(jat + "/went_silent", "entries ((E-1) * F)", rows, j.went_silent.size());
    expect_count(jat + "/came_back", "entries ((E-1) * F)", rows, j.came_back.size());

    const LayerConvergence& c = r.convergence[l];
    const std::string cat = "metrics/convergence/" + name;
    expect_count(cat + "/filter_similarity", "entries (E)", E, c.filter_similarity.size());
    expect_count(cat + "/weight_change", "entries (E)", E, c.weight_change.size());
    expect_count(cat + "/final_image_share", "entries (E)", E, c.final_image_share.size());
    expect_count(cat + "/weight_progress", "entries (E)", E, c.weight_progress.size());
    for (auto [attr, at] : {std::pair{"converged_at", c.converged_at}, std::pair{"progress_converged_at", c.progress_converged_at}})
      if (at != -1 && std::find(r.epochs.begin(), r.epochs.end(), at) == r.epochs.end())
        fail(cat + " attribute " + attr, expected_found("-1 or one of the analysed epochs", std::to_string(at)));
  }

  // The sanity baseline, when computed: NaN exactly where inactive, 1 at the first epoch,
  // else in [-1, 1] or NaN (undefined); the layer's medians are those of its features.
  void check_init_rank_correlation(const AnalysisResult& r, size_t l, size_t E) const {
    const LayerEvolution& ev = r.evolution[l];
    const std::vector<float>& v = ev.init_rank_correlation;
    const std::vector<float>& m = r.convergence[l].init_rank_correlation;
    const std::string at = "evolution/" + r.layers[l] + "/init_rank_correlation";
    const std::string mat = "metrics/convergence/" + r.layers[l] + "/init_rank_correlation";
    if (v.empty()) {
      if (!m.empty()) fail(mat, "present without " + at);
      return;
    }
    const size_t F = ev.features.size();
    expect_count(at, "entries (E * F)", E * F, v.size());
    for (size_t i = 0; i < v.size(); ++i) {
      const bool active = ev.strongest[i].image >= 0;
      const std::string entry = " at epoch " + std::to_string(r.epochs[i / F]) + ", feature " + std::to_string(ev.features[i % F]);
      if (!active && !std::isnan(v[i]))
        fail(at, expected_found("NaN where the feature is inactive", std::to_string(v[i]) + entry));
      if (active && i < F && v[i] != 1.f)
        fail(at, expected_found("1 at the first epoch", std::to_string(v[i]) + entry));
      if (!std::isnan(v[i]) && !(v[i] >= -1.f && v[i] <= 1.f))
        fail(at, expected_found("values in [-1, 1] or NaN", std::to_string(v[i]) + entry));
    }
    expect_count(mat, "entries (E)", E, m.size());
    for (size_t e = 0; e < E; ++e) {
      const float want = median_of_finite(std::vector<float>(v.begin() + long(e * F), v.begin() + long((e + 1) * F)));
      if (!(m[e] == want || (std::isnan(m[e]) && std::isnan(want))))
        fail(mat, expected_found("the median of " + at + " at epoch " + std::to_string(r.epochs[e]) + ", " +
                                     std::to_string(want),
                                 std::to_string(m[e])));
    }
  }

  // Every activation names a probe image (or -1: none), a position >= 0 and a finite value,
  // and its window is ordered: what the report and CSVs index with.
  void check_activations(const std::string& at, const AnalysisResult& r, const std::vector<Activation>& acts,
                         const std::vector<Window>& windows) const {
    for (size_t i = 0; i < acts.size(); ++i) {
      const Activation& a = acts[i];
      if (a.image < -1 || a.image >= r.probe_count)
        fail(at + "/image_index", expected_found("-1 or an image index below probe_count (" + std::to_string(r.probe_count) + ")",
                                                 std::to_string(a.image) + " at entry " + std::to_string(i)));
      if (a.y < 0 || a.x < 0)
        fail(at + "/position", expected_found("positions >= 0", std::to_string(a.y) + "," + std::to_string(a.x) +
                                                                      " at entry " + std::to_string(i)));
      if (!std::isfinite(a.value))
        fail(at + "/activation", expected_found("finite values", std::to_string(a.value) + " at entry " + std::to_string(i)));
    }
    for (size_t i = 0; i < windows.size(); ++i) {
      const Window& w = windows[i];
      if (w.y0 < 0 || w.x0 < 0 || w.y0 > w.y1 || w.x0 > w.x1)
        fail(at + "/window", expected_found("y0 <= y1 and x0 <= x1, all >= 0",
                                            std::to_string(w.y0) + "," + std::to_string(w.x0) + "," + std::to_string(w.y1) +
                                                "," + std::to_string(w.x1) + " at entry " + std::to_string(i)));
    }
  }

  void expect_count(const std::string& at, const std::string& what, size_t expected, size_t found) const {
    if (expected != found)
      fail(at, expected_found(std::to_string(expected) + " " + what, std::to_string(found)));
  }

  void expect_dims(const std::string& at, const std::string& expected, const Tensor& t) const {
    if (shape_str(t.dims) != expected || t.size() != Tensor::count(t.dims))
      fail(at,
           expected_found(expected, shape_str(t.dims) + " holding " + std::to_string(t.size()) + " values"));
  }

  [[noreturn]] void fail(const std::string& at, const std::string& problem) const {
    throw Error(kind_, where_ + ": /" + at, problem, hint_);
  }
  [[noreturn]] void fail_attr(const std::string& name, const std::string& problem) const {
    throw Error(kind_, where_ + ": / attribute " + name, problem, hint_);
  }

  ErrorKind kind_;
  std::string where_, hint_;
};

// --- writing --------------------------------------------------------------------------

// The per-activation arrays shared by /evolution and /topk: n activations, their windows.
void write_activations(const h5::Group& g, const std::vector<int64_t>& lead,
                       const std::vector<Activation>& acts, const std::vector<Window>& windows) {
  std::vector<int64_t> image;
  std::vector<int32_t> position, window;
  std::vector<float> value;
  for (const Activation& a : acts) {
    image.push_back(a.image);
    position.push_back(a.y);
    position.push_back(a.x);
    value.push_back(a.value);
  }
  for (const Window& w : windows) window.insert(window.end(), {w.y0, w.x0, w.y1, w.x1});
  auto with = [&](int64_t last) {
    std::vector<int64_t> d = lead;
    d.push_back(last);
    return d;
  };
  g.write_dataset("image_index", lead, image);  // (E, F) or (features, k)
  g.write_dataset("position", with(2), position);
  g.write_dataset("activation", lead, value);
  g.write_dataset("window", with(4), window);
}

void write_contents(const h5::Group& root, const AnalysisResult& r) {
  root.write_attr_string("format", kAnalysisFormat);
  root.write_attr_int("format_version", kAnalysisFormatVersion);
  root.write_attr_string("split", to_string(r.split));
  root.write_attr_string("dataset_path", r.dataset_path);
  root.write_attr_int64("probe_count", r.probe_count);
  root.write_attr_ints("epochs", std::vector<int32_t>(r.epochs.begin(), r.epochs.end()));
  root.write_attr_strings("layers", r.layers);
  root.write_attr_ints("input_shape", {r.input.channels, r.input.height, r.input.width});
  root.write_attr_floats("input_mean", r.input_mean);
  root.write_attr_floats("input_std", r.input_std);
  if (!r.snapshot_sha256.empty()) root.write_attr_strings("snapshot_sha256", r.snapshot_sha256);
  root.write_attr_float("jump_threshold", r.jump_threshold);
  root.write_attr_float("convergence_threshold", r.convergence_threshold);

  const int64_t E = i64(r.epochs.size());
  {
    h5::Group evolution = root.create_group("evolution");
    for (size_t l = 0; l < r.layers.size(); ++l) {
      const LayerEvolution& ev = r.evolution[l];
      const int64_t F = i64(ev.features.size());
      h5::Group g = evolution.create_group(r.layers[l]);
      g.write_dataset("features", {F}, ev.features);
      write_activations(g, {E, F}, ev.strongest, ev.windows);
      g.write_tensor("projection", ev.projections, kProjectionDeflate);  // (E, F, C, H, W)
      if (!ev.init_rank_correlation.empty()) g.write_dataset("init_rank_correlation", {E, F}, ev.init_rank_correlation);
    }
  }
  {
    h5::Group topk = root.create_group("topk");
    for (const auto& [epoch, layers] : r.topk) {
      h5::Group eg = topk.create_group(epoch_group_name(epoch));
      for (const LayerTopK& t : layers) {
        h5::Group g = eg.create_group(t.layer);
        write_activations(g, {t.features, t.k}, t.acts, t.windows);
        g.write_tensor("projection", t.projections, kProjectionDeflate);  // (features, k, C, H, W)
      }
    }
  }
  h5::Group jumps = root.create_group("metrics/jumps");
  h5::Group convergence = root.create_group("metrics/convergence");
  for (size_t l = 0; l < r.layers.size(); ++l) {
    const int64_t F = i64(r.evolution[l].features.size());
    const LayerJumps& j = r.jumps[l];
    h5::Group jg = jumps.create_group(r.layers[l]);
    // With one epoch these are (0, F): HDF5 and h5py take a zero-sized dimension as is.
    jg.write_dataset("image_changed", {E - 1, F}, j.image_changed);
    jg.write_dataset("projection_similarity", {E - 1, F}, j.projection_similarity);
    jg.write_dataset("filter_change", {E - 1, F}, j.filter_change);
    jg.write_dataset("jump", {E - 1, F}, j.jump);
    jg.write_dataset("went_silent", {E - 1, F}, j.went_silent);
    jg.write_dataset("came_back", {E - 1, F}, j.came_back);

    const LayerConvergence& c = r.convergence[l];
    h5::Group cg = convergence.create_group(r.layers[l]);
    cg.write_dataset("filter_similarity", {E}, c.filter_similarity);
    cg.write_dataset("weight_change", {E}, c.weight_change);
    cg.write_dataset("final_image_share", {E}, c.final_image_share);
    cg.write_dataset("weight_progress", {E}, c.weight_progress);
    if (!c.init_rank_correlation.empty()) cg.write_dataset("init_rank_correlation", {E}, c.init_rank_correlation);
    cg.write_attr_int("converged_at", c.converged_at);
    cg.write_attr_int("progress_converged_at", c.progress_converged_at);
  }
}

// --- reading --------------------------------------------------------------------------

void expect_dims(const h5::Group& g, const std::string& rel, const std::vector<int64_t>& dims) {
  std::vector<int64_t> found = g.dataset_dims(rel);
  if (found != dims)
    throw Error(ErrorKind::snapshot, g.where(rel), expected_found(shape_str(dims), shape_str(found)));
}

std::vector<uint8_t> read_flags(const h5::Group& g, const std::string& rel, const std::vector<int64_t>& dims) {
  expect_dims(g, rel, dims);
  return g.read_dataset_u8(rel);
}

// Reads the per-activation arrays written by write_activations; lead is (E, F) or (features, k).
void read_activations(const h5::Group& g, const std::vector<int64_t>& lead, std::vector<Activation>* acts,
                      std::vector<Window>* windows) {
  auto with = [&](int64_t last) {
    std::vector<int64_t> d = lead;
    d.push_back(last);
    return d;
  };
  expect_dims(g, "image_index", lead);
  expect_dims(g, "position", with(2));
  expect_dims(g, "activation", lead);
  expect_dims(g, "window", with(4));
  std::vector<int64_t> image = g.read_dataset_i64("image_index");
  std::vector<int32_t> position = g.read_dataset_i32("position");
  std::vector<float> value = g.read_dataset_f32("activation");
  std::vector<int32_t> window = g.read_dataset_i32("window");
  const size_t n = image.size();
  acts->assign(n, Activation{});
  windows->assign(n, Window{});
  for (size_t i = 0; i < n; ++i) {
    (*acts)[i] = Activation{image[i], position[2 * i], position[2 * i + 1], value[i]};
    (*windows)[i] = Window{window[4 * i], window[4 * i + 1], window[4 * i + 2], window[4 * i + 3]};
  }
}

Tensor read_projection(const h5::Group& g, const std::vector<int64_t>& dims) {
  expect_dims(g, "projection", dims);
  return g.read_tensor("projection");
}

AnalysisResult read_contents(const h5::Group& root, const std::string& path) {
  // Version 1 stored a feature that never fired as image 0 with activation 0, which no
  // reader can tell from a real image 0: such a file is refused, not misread.
  // Version 2 is version 3 without the sanity baseline (init_rank_correlation): read as
  // not computed.
  h5::check_format(root, kAnalysisFormat, {2, kAnalysisFormatVersion},
                   {/*other =*/"pass the analysis.h5 that `deconvscope analyze` wrote in a run folder",
                    /*newer =*/"upgrade deconvscope, or analyse the run again with this build",
                    /*older =*/"analyse the run again: deconvscope analyze --run <run folder> --force"});
  AnalysisResult r;
  const std::string split = root.read_attr_string("split");
  if (!parse_probe_split(split, r.split))
    throw Error(ErrorKind::snapshot, path + ": / attribute split", expected_found("'train' or 'test'", quote_untrusted(split)));
  r.dataset_path = root.read_attr_string("dataset_path");
  r.probe_count = root.read_attr_int64("probe_count");
  std::vector<int32_t> epochs = root.read_attr_ints("epochs");
  r.epochs.assign(epochs.begin(), epochs.end());
  r.layers = root.read_attr_strings("layers");
  std::vector<int32_t> in = root.read_attr_ints("input_shape");
  if (in.size() != 3)
    throw Error(ErrorKind::snapshot, path + ": / attribute input_shape",
                expected_found("3 integers (C, H, W)", std::to_string(in.size())));
  r.input = InputShape{in[0], in[1], in[2]};
  r.input_mean = root.read_attr_floats("input_mean");
  r.input_std = root.read_attr_floats("input_std");
  if (root.has_attr("snapshot_sha256")) r.snapshot_sha256 = root.read_attr_strings("snapshot_sha256");
  r.jump_threshold = root.read_attr_float("jump_threshold");
  r.convergence_threshold = root.read_attr_float("convergence_threshold");
  // Checked before the shapes below are built from them.
  Checker(ErrorKind::snapshot, path, "").check_header(r);

  const int64_t E = i64(r.epochs.size());
  const int64_t C = r.input.channels, H = r.input.height, W = r.input.width;
  {
    h5::Group evolution = root.open_group("evolution");
    for (const std::string& name : r.layers) {
      h5::Group g = evolution.open_group(name);
      LayerEvolution ev;
      ev.layer = name;
      std::vector<int64_t> fdims;
      ev.features = g.read_dataset_i32("features", &fdims);
      if (fdims.size() != 1)
        throw Error(ErrorKind::snapshot, g.where("features"), expected_found("(F)", shape_str(fdims)));
      const int64_t F = fdims[0];
      read_activations(g, {E, F}, &ev.strongest, &ev.windows);
      ev.projections = read_projection(g, {E, F, C, H, W});
      if (g.exists("init_rank_correlation")) {
        expect_dims(g, "init_rank_correlation", {E, F});
        ev.init_rank_correlation = g.read_dataset_f32("init_rank_correlation");
      }
      r.evolution.push_back(std::move(ev));
    }
  }
  if (root.exists("topk")) {
    h5::Group topk = root.open_group("topk");
    for (const std::string& child : topk.children()) {
      int epoch = 0;
      if (!parse_epoch_group(child, &epoch))
        throw Error(ErrorKind::snapshot, topk.where(child),
                    expected_found("a group named epoch-NNNN", quote_untrusted(child)));
      h5::Group eg = topk.open_group(child);
      std::vector<LayerTopK>& layers = r.topk[epoch];
      for (const std::string& name : r.layers) {
        h5::Group g = eg.open_group(name);
        LayerTopK t;
        t.layer = name;
        std::vector<int64_t> d = g.dataset_dims("image_index");
        if (d.size() != 2 || d[0] > kMaxInt || d[1] > kMaxInt)
          throw Error(ErrorKind::snapshot, g.where("image_index"),
                      expected_found("(features, k)", shape_str(d)));
        t.features = static_cast<int>(d[0]);
        t.k = static_cast<int>(d[1]);
        read_activations(g, d, &t.acts, &t.windows);
        t.projections = read_projection(g, {d[0], d[1], C, H, W});
        layers.push_back(std::move(t));
      }
    }
  }
  h5::Group jumps = root.open_group("metrics/jumps");
  h5::Group convergence = root.open_group("metrics/convergence");
  for (size_t l = 0; l < r.layers.size(); ++l) {
    const int64_t F = i64(r.evolution[l].features.size());
    h5::Group jg = jumps.open_group(r.layers[l]);
    LayerJumps j;
    j.image_changed = read_flags(jg, "image_changed", {E - 1, F});
    expect_dims(jg, "projection_similarity", {E - 1, F});
    j.projection_similarity = jg.read_dataset_f32("projection_similarity");
    expect_dims(jg, "filter_change", {E - 1, F});
    j.filter_change = jg.read_dataset_f32("filter_change");
    j.jump = read_flags(jg, "jump", {E - 1, F});
    j.went_silent = read_flags(jg, "went_silent", {E - 1, F});
    j.came_back = read_flags(jg, "came_back", {E - 1, F});
    r.jumps.push_back(std::move(j));

    h5::Group cg = convergence.open_group(r.layers[l]);
    LayerConvergence c;
    for (auto [name, v] :
         {std::pair{"filter_similarity", &c.filter_similarity}, std::pair{"weight_change", &c.weight_change},
          std::pair{"final_image_share", &c.final_image_share}, std::pair{"weight_progress", &c.weight_progress}}) {
      expect_dims(cg, name, {E});
      *v = cg.read_dataset_f32(name);
    }
    if (cg.exists("init_rank_correlation")) {
      expect_dims(cg, "init_rank_correlation", {E});
      c.init_rank_correlation = cg.read_dataset_f32("init_rank_correlation");
    }
    c.converged_at = cg.read_attr_int("converged_at");
    c.progress_converged_at = cg.read_attr_int("progress_converged_at");
    r.convergence.push_back(std::move(c));
  }
  // What the per-dataset checks cannot see: layer names, converged_at among the epochs.
  Checker(ErrorKind::snapshot, path, "").check(r);
  return r;
}

}  // namespace

const char* transition_kind(const LayerEvolution& ev, const LayerJumps& j, size_t e, size_t f) {
  const size_t F = ev.features.size(), row = (e - 1) * F + f;
  if (j.went_silent[row]) return "went_silent";
  if (j.came_back[row]) return "came_back";
  if (ev.strongest[e * F + f].image < 0) return "inactive";
  if (j.jump[row]) return "jump";
  return j.image_changed[row] ? "changed" : "same";
}

TransitionCounts count_transitions(const LayerEvolution& ev, const LayerJumps& j, size_t E) {
  const size_t F = ev.features.size();
  TransitionCounts n;
  n.jumps.assign(E, 0);
  n.went_silent.assign(E, 0);
  n.came_back.assign(E, 0);
  n.inactive.assign(E, 0);
  for (size_t e = 0; e < E; ++e)
    for (size_t f = 0; f < F; ++f) {
      if (ev.strongest[e * F + f].image < 0) ++n.inactive[e];
      if (e == 0) continue;
      const size_t row = (e - 1) * F + f;
      n.jumps[e] += j.jump[row];
      n.went_silent[e] += j.went_silent[row];
      n.came_back[e] += j.came_back[row];
    }
  return n;
}

void write_analysis(const std::string& path, const AnalysisResult& r) {
  Checker(ErrorKind::internal, path, "a deconvscope bug: the analysis results are inconsistent").check(r);
  h5::write_atomically(path, [&](h5::File& f) { write_contents(f.root(), r); });
}

AnalysisResult read_analysis(const std::string& path) {
  std::error_code ec;
  if (!fs::exists(path, ec))
    throw Error(ErrorKind::snapshot, path, "missing file", "run `deconvscope analyze` on the run folder first");
  h5::require_hdf5_file(path, "pass the analysis.h5 that `deconvscope analyze` wrote; the file may be truncated");
  const h5::File f = h5::File::open_read(path, [&](const h5::Group& root) { read_contents(root, path); });
  AnalysisResult r = read_contents(f.root(), path);
  r.sealed = f.sealed();
  r.content_sha256 = f.content_sha256();
  return r;
}

namespace {

// One row per layer and epoch; each measure adds its cells between the transition counts
// and the sanity baseline.
void write_convergence_csv(const std::string& path, const AnalysisResult& r,
                           const std::vector<ConvergenceMeasure>& measures) {
  const size_t E = r.epochs.size();
  std::string header =
      "layer,epoch,filter_similarity,weight_change,final_image_share,converged_at,weight_progress,"
      "progress_converged_at,jumps,went_silent,came_back,inactive";
  for (const ConvergenceMeasure& m : measures)
    for (const std::string& column : m.csv_columns) header += "," + column;
  CsvWriter out(header + ",init_rank_correlation");
  for (size_t l = 0; l < r.layers.size(); ++l) {
    const LayerConvergence& c = r.convergence[l];
    const TransitionCounts n = count_transitions(r.evolution[l], r.jumps[l], E);
    for (size_t e = 0; e < E; ++e) {
      CsvRow row;
      row.text(r.layers[l])
          .integer(r.epochs[e])
          .number(c.filter_similarity[e])
          .number(c.weight_change[e])
          .number(c.final_image_share[e])
          .integer(c.converged_at)
          .number(c.weight_progress[e])
          .integer(c.progress_converged_at)
          .integer(n.jumps[e])
          .integer(n.went_silent[e])
          .integer(n.came_back[e])
          .integer(n.inactive[e]);
      for (const ConvergenceMeasure& m : measures)
        if (m.csv_cells) m.csv_cells(row, r.layers[l], r.epochs[e]);
      // Empty when not computed (an older analysis.h5) or no followed feature is active.
      e < c.init_rank_correlation.size() && std::isfinite(c.init_rank_correlation[e])
          ? row.number(c.init_rank_correlation[e])
          : row.blank();
      out.add(row);
    }
  }
  out.write(path);
}

}  // namespace

void write_analysis_csv(const std::string& dir, const AnalysisResult& r,
                        const std::vector<ConvergenceMeasure>& measures) {
  Checker(ErrorKind::internal, dir, "a deconvscope bug: the analysis results are inconsistent").check(r);
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec)
    throw Error(ErrorKind::io, dir, "cannot create folder: " + ec.message(), "check the folder's permissions");
  const fs::path d(dir);
  const size_t E = r.epochs.size();

  CsvWriter jumps(
      "layer,feature,epoch_from,epoch_to,image_from,image_to,image_changed,projection_similarity,filter_change,"
      "jump,kind");
  for (size_t l = 0; l < r.layers.size(); ++l) {
    const LayerEvolution& ev = r.evolution[l];
    const LayerJumps& j = r.jumps[l];
    const size_t F = ev.features.size();
    for (size_t e = 1; e < E; ++e)
      for (size_t f = 0; f < F; ++f) {
        const size_t row = (e - 1) * F + f;
        jumps.add(CsvRow()
                      .text(r.layers[l])
                      .integer(ev.features[f])
                      .integer(r.epochs[e - 1])
                      .integer(r.epochs[e])
                      .integer(ev.strongest[(e - 1) * F + f].image)
                      .integer(ev.strongest[e * F + f].image)
                      .integer(j.image_changed[row])
                      .number(j.projection_similarity[row])
                      .number(j.filter_change[row])
                      .integer(j.jump[row])
                      .text(transition_kind(ev, j, e, f)));
      }
  }
  jumps.write((d / "jumps.csv").string());
  write_convergence_csv((d / "convergence.csv").string(), r, measures);

  CsvWriter evolution("layer,feature,epoch,image_index,y,x,activation");
  for (size_t l = 0; l < r.layers.size(); ++l) {
    const LayerEvolution& ev = r.evolution[l];
    const size_t F = ev.features.size();
    for (size_t e = 0; e < E; ++e)
      for (size_t f = 0; f < F; ++f) {
        const Activation& a = ev.strongest[e * F + f];
        evolution.add(CsvRow()
                          .text(r.layers[l])
                          .integer(ev.features[f])
                          .integer(r.epochs[e])
                          .integer(a.image)
                          .integer(a.y)
                          .integer(a.x)
                          .number(a.value));
      }
  }
  evolution.write((d / "evolution.csv").string());

  CsvWriter topk("epoch,layer,feature,rank,image_index,y,x,activation");
  for (const auto& [epoch, layers] : r.topk)
    for (const LayerTopK& t : layers)
      for (int f = 0; f < t.features; ++f)
        for (int k = 0; k < t.k; ++k) {
          const Activation& a = t.acts[static_cast<size_t>(f) * t.k + k];
          topk.add(CsvRow().integer(epoch).text(t.layer).integer(f).integer(k).integer(a.image).integer(a.y).integer(a.x).number(
              a.value));
        }
  topk.write((d / "topk.csv").string());
}

std::unique_ptr<AnalysisResult> read_run_analysis(const RunPaths& paths, std::string* problem) {
  const std::string& file = paths.analysis_file;
  const std::string& run_dir = paths.dir;
  if (!fs::exists(file)) {
    *problem = "the run was not analysed (no " + file + "); run deconvscope analyze --run " + run_dir + " first";
    return nullptr;
  }
  try {
    auto r = std::make_unique<AnalysisResult>(read_analysis(file));
    if (!r->sealed) {
      // Derived files are ours alone: one without our seal was edited or made elsewhere.
      *problem = "the analysis carries no deconvscope checksum (" + file + " was edited or written by another "
                 "program); re-run deconvscope analyze --run " + run_dir + " --force";
      return nullptr;
    }
    return r;
  } catch (const Error& e) {
    if (e.kind() != ErrorKind::snapshot) throw;
    *problem = std::string("the analysis could not be read (") + e.what() + "); re-run deconvscope analyze --run " +
               run_dir + " --force";
    return nullptr;
  }
}

}  // namespace ds
