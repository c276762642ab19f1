// Snapshot files (format "deconvscope.snapshot", format_version 1; docs/snapshot-format.md):
// one HDF5 file per epoch with the run's metadata as root attributes, one group per layer
// under /layers, and the optimizer state under /optimizer. The writer checks every tensor
// against the shapes the layers imply before it lands on disk, and commits atomically;
// the reader checks format, version, layer types and every shape, naming the object.
// Left out: converting older format versions (there are none yet).
#include "deconvscope/io/snapshot.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <set>
#include <system_error>
#include <thread>

#include "deconvscope/config/config.hpp"
#include "deconvscope/core/error.hpp"
#include "deconvscope/core/escape.hpp"
#include "deconvscope/io/atomic_file.hpp"
#include "deconvscope/io/h5.hpp"

namespace fs = std::filesystem;

namespace ds {

namespace {

constexpr LayerType kAllTypes[] = {LayerType::conv, LayerType::relu,  LayerType::maxpool,
                                   LayerType::lrn,  LayerType::fc,    LayerType::dropout};

std::vector<int32_t> pair_attr(const std::array<int, 2>& a) { return {a[0], a[1]}; }

struct ParamDims {
  std::vector<int64_t> weights, bias;
};

// Weights and bias dims of a conv or fc layer fed with `in`:
// conv (out_channels, C_in, kh, kw); fc (out_features, C_in * H_in * W_in).
ParamDims param_dims(const LayerSpec& l, const LayerShape& in) {
  ParamDims d;
  if (l.type == LayerType::conv)
    d.weights = {l.out, in.channels, l.kernel[0], l.kernel[1]};
  else
    d.weights = {l.out, int64_t(in.channels) * in.height * in.width};
  d.bias = {l.out};
  return d;
}

// Input shape of layer i: the network input for the first layer, else the previous output.
LayerShape input_of(size_t i, const std::vector<LayerShape>& shapes, const InputShape& in) {
  return i == 0 ? LayerShape{in.channels, in.height, in.width} : shapes[i - 1];
}

// Layer names become group names: one path component each, and unique.
void check_names(const std::vector<LayerSpec>& layers, ErrorKind kind, const std::string& where) {
  std::set<std::string> seen;
  for (const LayerSpec& l : layers) {
    // Names end up in every message about the layer: no control bytes, which would act on
    // the terminal, and a bound on the length.
    const bool control = std::any_of(l.name.begin(), l.name.end(), [](char c) { return (unsigned char)c < 0x20 || c == 0x7f; });
    if (l.name.empty() || l.name == "." || l.name == ".." || l.name.find('/') != std::string::npos || control ||
        l.name.size() > 256)
      throw Error(kind, where,
                  expected_found("a layer name of at most 256 bytes without '/' or control characters",
                                 quote_untrusted(l.name)));
    if (!seen.insert(l.name).second) throw Error(kind, where, "layer name " + quote_untrusted(l.name) + " appears twice");
  }
}

// --- writing --------------------------------------------------------------------------

// Test hook for the kill-and-resume tests (tests/cli): with DECONVSCOPE_TEST_PAUSE_IN_WRITE
// set to N > 0, every snapshot write announces its freshly created temporary file on
// stderr and sleeps N ms before filling it, so a SIGKILL can be aimed at the middle of a
// write. Unset (always, outside those tests) it does nothing.
void test_pause_in_write(const std::string& temp) {
  const char* v = std::getenv("DECONVSCOPE_TEST_PAUSE_IN_WRITE");
  const long ms = v ? std::strtol(v, nullptr, 10) : 0;
  if (ms <= 0) return;
  std::fprintf(stderr, "test hook: pausing %ld ms in the write of %s\n", ms, temp.c_str());
  std::this_thread::sleep_for(std::chrono::milliseconds(ms));
}

// Writes one tensor after checking its dims against what the layer implies.
void write_param(const h5::Group& g, const std::string& name, const Tensor& t,
                 const std::vector<int64_t>& expected, const std::string& final_path) {
  if (t.dims != expected)
    throw Error(ErrorKind::internal, final_path + ": " + g.path_of(name),
                expected_found(shape_str(expected), shape_str(t.dims)),
                "a deconvscope bug: the parameters do not match the layer list");
  g.write_tensor(name, t);
}

void write_layer(const h5::Group& layers_group, const LayerSpec& l, const LayerParams& p,
                 const LayerShape& in, const std::string& final_path) {
  h5::Group g = layers_group.create_group(l.name);
  g.write_attr_string("type", layer_type_name(l.type));
  switch (l.type) {
    case LayerType::conv:
      g.write_attr_int("out_channels", l.out);
      g.write_attr_ints("kernel", pair_attr(l.kernel));
      g.write_attr_ints("stride", pair_attr(l.stride));
      g.write_attr_ints("pad", pair_attr(l.pad));
      break;
    case LayerType::maxpool:
      g.write_attr_ints("kernel", pair_attr(l.kernel));
      g.write_attr_ints("stride", pair_attr(l.stride));
      g.write_attr_ints("pad", pair_attr(l.pad));
      break;
    case LayerType::lrn:
      g.write_attr_int("size", l.size);
      g.write_attr_float("alpha", l.alpha);
      g.write_attr_float("beta", l.beta);
      g.write_attr_float("k", l.k);
      break;
    case LayerType::fc: g.write_attr_int("out_features", l.out); break;
    case LayerType::dropout: g.write_attr_float("rate", l.rate); break;
    case LayerType::relu: break;
  }
  if (l.has_params()) {
    ParamDims d = param_dims(l, in);
    write_param(g, "weights", p.weights, d.weights, final_path);
    write_param(g, "bias", p.bias, d.bias, final_path);
  } else if (!p.weights.empty() || !p.bias.empty()) {
    throw Error(ErrorKind::internal, final_path + ": " + g.path(),
                "a " + std::string(layer_type_name(l.type)) + " layer has no parameters, but some were given",
                "a deconvscope bug: the parameters do not match the layer list");
  }
}

void write_optimizer(const h5::Group& root, const Snapshot& s, const std::vector<LayerShape>& shapes,
                     const std::string& final_path) {
  const OptimizerState& o = s.optimizer;
  h5::Group g = root.create_group("optimizer");
  g.write_attr_float("lr", o.lr);
  g.write_attr_float("best_val_loss", o.best_val_loss);
  g.write_attr_int("epochs_since_best", o.epochs_since_best);
  g.write_attr_string("rng_state", o.rng_state);
  if (o.ranks > 0) g.write_attr_int("ranks", o.ranks);
  if (o.momentum.empty()) return;  // e.g. epoch 0: no step taken yet
  if (o.momentum.size() != s.layers.size())
    throw Error(ErrorKind::internal, final_path + ": /optimizer/momentum",
                expected_found("momentum for " + std::to_string(s.layers.size()) + " layers",
                               std::to_string(o.momentum.size())),
                "a deconvscope bug: momentum must be aligned with the layers");
  h5::Group m = g.create_group("momentum");
  for (size_t i = 0; i < s.layers.size(); ++i) {
    const LayerSpec& l = s.layers[i];
    if (!l.has_params()) continue;
    ParamDims d = param_dims(l, input_of(i, shapes, s.input));
    h5::Group lg = m.create_group(l.name);
    write_param(lg, "weights", o.momentum[i].weights, d.weights, final_path);
    write_param(lg, "bias", o.momentum[i].bias, d.bias, final_path);
  }
}

void write_contents(const h5::Group& root, const Snapshot& s, const std::vector<LayerShape>& shapes,
                    const std::string& final_path) {
  root.write_attr_string("format", kSnapshotFormat);
  root.write_attr_int("format_version", kSnapshotFormatVersion);
  root.write_attr_int("epoch", s.epoch);
  root.write_attr_int64("step", s.step);
  root.write_attr_string("config", s.config);
  std::vector<std::string> names;
  for (const LayerSpec& l : s.layers) names.push_back(l.name);
  root.write_attr_strings("layers", names);
  root.write_attr_ints("input_shape", {s.input.channels, s.input.height, s.input.width});
  root.write_attr_int("num_classes", s.num_classes);
  root.write_attr_floats("input_mean", s.input_mean);
  root.write_attr_floats("input_std", s.input_std);
  root.write_attr_float("train_loss", s.train_loss);
  root.write_attr_float("train_accuracy", s.train_accuracy);
  root.write_attr_float("val_loss", s.val_loss);
  root.write_attr_float("val_accuracy", s.val_accuracy);

  h5::Group layers = root.create_group("layers");
  for (size_t i = 0; i < s.layers.size(); ++i)
    write_layer(layers, s.layers[i], s.params[i], input_of(i, shapes, s.input), final_path);
  write_optimizer(root, s, shapes, final_path);
}

// --- reading --------------------------------------------------------------------------

std::array<int, 2> read_pair(const h5::Group& g, const std::string& name) {
  std::vector<int32_t> v = g.read_attr_ints(name);
  if (v.size() != 2)
    throw Error(ErrorKind::snapshot, g.where() + " attribute " + name,
                expected_found("2 integers (height, width)", std::to_string(v.size())));
  return {v[0], v[1]};
}

LayerType read_type(const h5::Group& g) {
  std::string t = g.read_attr_string("type");
  for (LayerType lt : kAllTypes)
    if (t == layer_type_name(lt)) return lt;
  throw Error(ErrorKind::snapshot, g.where() + " attribute type",
              expected_found("one of conv, relu, maxpool, lrn, fc, dropout", quote_untrusted(t)),
              "the file may come from a newer deconvscope");
}

std::string number_text(double v) {
  char buf[40];
  std::snprintf(buf, sizeof buf, "%.9g", v);
  return buf;
}

// A float attribute that must be finite and above (or at least) `low`.
float read_number(const h5::Group& g, const std::string& name, double low, bool strictly, const char* meaning) {
  const float v = g.read_attr_float(name);
  if (!std::isfinite(v) || (strictly ? !(v > low) : !(v >= low)))
    throw Error(ErrorKind::snapshot, g.where() + " attribute " + name,
                expected_found(std::string("a finite number ") + meaning, number_text(v)));
  return v;
}

// Weights, bias and momentum of a network that trained (training stops at the first
// non-finite value) are finite: anything else is damage, and would poison every result.
void check_finite(const Tensor& t, const std::string& where) {
  for (size_t i = 0; i < t.data.size(); ++i)
    if (!std::isfinite(t.data[i]))
      throw Error(ErrorKind::snapshot, where,
                  expected_found("finite values", number_text(t.data[i]) + " at flat index " + std::to_string(i)),
                  "deconvscope never writes non-finite weights (training stops first): the file was changed");
}

LayerSpec read_layer(const h5::Group& g, const std::string& name) {
  LayerSpec l;
  l.name = name;
  l.type = read_type(g);
  switch (l.type) {
    case LayerType::conv:
      l.out = g.read_attr_int("out_channels");
      l.kernel = read_pair(g, "kernel");
      l.stride = read_pair(g, "stride");
      l.pad = read_pair(g, "pad");
      break;
    case LayerType::maxpool:
      l.kernel = read_pair(g, "kernel");
      l.stride = read_pair(g, "stride");
      l.pad = read_pair(g, "pad");
      break;
    case LayerType::lrn:
      l.size = g.read_attr_int("size");
      if (l.size < 1)
        throw Error(ErrorKind::snapshot, g.where() + " attribute size",
                    expected_found("size >= 1", std::to_string(l.size)));
      if (l.size % 2 == 0)
        throw Error(ErrorKind::snapshot, g.where() + " attribute size",
                    expected_found("an odd window size", std::to_string(l.size)));
      l.alpha = read_number(g, "alpha", 0, false, ">= 0");
      l.beta = read_number(g, "beta", 0, false, ">= 0");
      l.k = read_number(g, "k", 0, true, "> 0");
      break;
    case LayerType::fc: l.out = g.read_attr_int("out_features"); break;
    case LayerType::dropout:
      l.rate = g.read_attr_float("rate");
      if (!(l.rate >= 0 && l.rate < 1))
        throw Error(ErrorKind::snapshot, g.where() + " attribute rate",
                    expected_found("a rate in [0, 1)", number_text(l.rate)));
      break;
    case LayerType::relu: break;
  }
  return l;
}

// Reads a weights or bias tensor, checking its dims before reading the data.
Tensor read_param(const h5::Group& g, const std::string& name, const std::vector<int64_t>& expected) {
  std::vector<int64_t> found = g.dataset_dims(name);
  if (found != expected)
    throw Error(ErrorKind::snapshot, g.where(name), expected_found(shape_str(expected), shape_str(found)),
                "the dataset does not fit the layer attributes and input_shape");
  Tensor t = g.read_tensor(name);
  check_finite(t, g.where(name));
  return t;
}

// The weights and bias of every layer with parameters, from `parent`/<layer name>, each
// checked against the shape its layer attributes imply. Used for /layers and for
// /optimizer/momentum alike.
std::vector<LayerParams> read_layer_params(const h5::Group& parent, const Snapshot& s,
                                           const std::vector<LayerShape>& shapes) {
  std::vector<LayerParams> out(s.layers.size());
  for (size_t i = 0; i < s.layers.size(); ++i) {
    const LayerSpec& l = s.layers[i];
    if (!l.has_params()) continue;
    const ParamDims d = param_dims(l, input_of(i, shapes, s.input));
    const h5::Group g = parent.open_group(l.name);
    out[i].weights = read_param(g, "weights", d.weights);
    out[i].bias = read_param(g, "bias", d.bias);
  }
  return out;
}

void read_optimizer(const h5::Group& root, Snapshot& s, const std::vector<LayerShape>& shapes) {
  h5::Group g = root.open_group("optimizer");
  OptimizerState& o = s.optimizer;
  o.lr = read_number(g, "lr", 0, false, ">= 0");
  o.best_val_loss = g.read_attr_float("best_val_loss");
  if (!(o.best_val_loss >= 0))  // +inf stands for "none yet"
    throw Error(ErrorKind::snapshot, g.where() + " attribute best_val_loss",
                expected_found("a loss >= 0 (or inf)", number_text(o.best_val_loss)));
  o.epochs_since_best = g.read_attr_int("epochs_since_best");
  if (o.epochs_since_best < -1 || o.epochs_since_best > s.epoch)
    throw Error(ErrorKind::snapshot, g.where() + " attribute epochs_since_best",
                expected_found("-1 (no validation yet) up to the epoch (" + std::to_string(s.epoch) + ")",
                               std::to_string(o.epochs_since_best)));
  o.rng_state = g.read_attr_string("rng_state");
  if (g.has_attr("ranks")) {  // optional: older files lack it
    o.ranks = g.read_attr_int("ranks");
    if (o.ranks < 1 || o.ranks > (1 << 20))
      throw Error(ErrorKind::snapshot, g.where() + " attribute ranks",
                  expected_found("a rank count from 1 to 1048576", std::to_string(o.ranks)));
  }
  if (!g.exists("momentum")) return;
  o.momentum = read_layer_params(g.open_group("momentum"), s, shapes);
}

Snapshot read_contents(const h5::Group& root, const std::string& path) {
  h5::check_format(root, kSnapshotFormat, {kSnapshotFormatVersion},
                   {/*other =*/"pass a snapshot deconvscope train wrote (runs/<name>/snapshots/epoch-NNNN.h5)",
                    /*newer =*/"upgrade deconvscope to read this snapshot", /*older =*/""});

  Snapshot s;
  s.epoch = root.read_attr_int("epoch");
  s.step = root.read_attr_int64("step");
  if (s.epoch < 0)
    throw Error(ErrorKind::snapshot, path + ": / attribute epoch", expected_found("an epoch >= 0", std::to_string(s.epoch)));
  if (s.step < 0)
    throw Error(ErrorKind::snapshot, path + ": / attribute step", expected_found("a step >= 0", std::to_string(s.step)));
  const std::string file_name = fs::path(path).filename().string();
  if (file_name.size() == 13 && file_name.compare(0, 6, "epoch-") == 0 && file_name.compare(10, 3, ".h5") == 0 &&
      file_name.find_first_not_of("0123456789", 6) == 10 && file_name != snapshot_file_name(s.epoch))
    throw Error(ErrorKind::snapshot, path + ": / attribute epoch",
                "the epoch contradicts the file name: " + expected_found(std::to_string(std::stoi(file_name.substr(6, 4))),
                                                                        std::to_string(s.epoch)),
                "a snapshot is named after its epoch; the file was renamed or changed");
  // Every epoch takes at least one step, and epoch 0 (before training) none.
  if (s.step < s.epoch || (s.epoch == 0 && s.step != 0))
    throw Error(ErrorKind::snapshot, path + ": / attributes epoch and step",
                "epoch " + std::to_string(s.epoch) + " after step " + std::to_string(s.step) + ": " +
                    expected_found(s.epoch == 0 ? std::string("step 0 at epoch 0") : "at least one step per epoch",
                                   "fewer"));
  s.config = root.read_attr_string("config");
  std::vector<std::string> names = root.read_attr_strings("layers");
  std::vector<int32_t> in = root.read_attr_ints("input_shape");
  if (in.size() != 3)
    throw Error(ErrorKind::snapshot, path + ": / attribute input_shape",
                expected_found("3 integers (C, H, W)", std::to_string(in.size())));
  s.input = InputShape{in[0], in[1], in[2]};
  if (s.input.channels < 1 || s.input.height < 1 || s.input.width < 1)
    throw Error(ErrorKind::snapshot, path + ": / attribute input_shape",
                expected_found("(C, H, W) each >= 1", std::to_string(in[0]) + "x" + std::to_string(in[1]) + "x" + std::to_string(in[2])));
  s.num_classes = root.read_attr_int("num_classes");
  if (s.num_classes < 1)
    throw Error(ErrorKind::snapshot, path + ": / attribute num_classes",
                expected_found("a class count >= 1", std::to_string(s.num_classes)));
  s.input_mean = root.read_attr_floats("input_mean");
  s.input_std = root.read_attr_floats("input_std");
  for (const auto& [name, values] : {std::pair<const char*, const std::vector<float>*>{"input_mean", &s.input_mean},
                                     {"input_std", &s.input_std}}) {
    if (values->size() != static_cast<size_t>(std::max(0, s.input.channels)))
      throw Error(ErrorKind::snapshot, path + ": / attribute " + name,
                  expected_found(std::to_string(s.input.channels) + " values (one per input channel)",
                                 std::to_string(values->size())));
    for (float v : *values)
      // Inputs are normalised as (x - mean) / std of pixels scaled to [0, 1]
      // (compute_normalization, which never gives a std below 1e-6): a std of 1e-45 or a
      // mean of 1e30 makes every input infinite, and is no run's normalisation.
      if (values == &s.input_std ? !(v >= 1e-6f && v <= 1e3f) : !(v >= -1e3f && v <= 1e3f))
        throw Error(ErrorKind::snapshot, path + ": / attribute " + name,
                    expected_found(values == &s.input_std ? "values from 1e-06 to 1000 (pixels are scaled to [0, 1])"
                                                          : "values from -1000 to 1000 (pixels are scaled to [0, 1])",
                                   number_text(v)));
  }
  s.train_loss = root.read_attr_float("train_loss");
  s.train_accuracy = root.read_attr_float("train_accuracy");
  s.val_loss = root.read_attr_float("val_loss");
  s.val_accuracy = root.read_attr_float("val_accuracy");
  for (const auto& [name, v, is_accuracy] : {std::tuple<const char*, float, bool>{"train_loss", s.train_loss, false},
                                             {"train_accuracy", s.train_accuracy, true},
                                             {"val_loss", s.val_loss, false},
                                             {"val_accuracy", s.val_accuracy, true}})
    if (!std::isfinite(v) || v < 0 || (is_accuracy && v > 1))
      throw Error(ErrorKind::snapshot, path + ": / attribute " + name,
                  expected_found(is_accuracy ? "an accuracy in [0, 1]" : "a finite loss >= 0", number_text(v)));

  h5::Group layers = root.open_group("layers");
  for (const std::string& name : names) {
    LayerSpec l;
    l.name = name;
    s.layers.push_back(l);
  }
  check_names(s.layers, ErrorKind::snapshot, path + ": / attribute layers");
  for (size_t i = 0; i < names.size(); ++i) s.layers[i] = read_layer(layers.open_group(names[i]), names[i]);

  std::vector<LayerShape> shapes;
  try {
    shapes = infer_shapes(s.layers, s.input);
  } catch (const Error& e) {
    throw Error(ErrorKind::snapshot, path + ": /layers", e.what(),
                "the layer attributes and input_shape do not form a valid network");
  }

  if (shapes.back().channels != s.num_classes || shapes.back().height != 1 || shapes.back().width != 1)
    throw Error(ErrorKind::snapshot, path + ": / attribute num_classes",
                "the last layer does not output one score per class: " +
                    expected_found(std::to_string(s.num_classes) + " features",
                                   std::to_string(shapes.back().channels) + "x" + std::to_string(shapes.back().height) +
                                       "x" + std::to_string(shapes.back().width)));
  s.params = read_layer_params(layers, s, shapes);
  read_optimizer(root, s, shapes);
  return s;
}

}  // namespace

std::string snapshot_file_name(int epoch) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "epoch-%04d.h5", epoch);
  return buf;
}

void write_snapshot(const std::string& path, const Snapshot& s) {
  // Checks that need no disk come first, so a bad Snapshot does not even create a file.
  if (s.params.size() != s.layers.size())
    throw Error(ErrorKind::internal, path,
                expected_found("parameters for " + std::to_string(s.layers.size()) + " layers",
                               std::to_string(s.params.size())),
                "a deconvscope bug: params must be aligned with layers");
  check_names(s.layers, ErrorKind::shape, path);
  std::vector<LayerShape> shapes = infer_shapes(s.layers, s.input);

  h5::write_atomically(path, [&](h5::File& file) {
    test_pause_in_write(file.path());
    write_contents(file.root(), s, shapes, path);  // every Group is closed when this returns
  });
}

Snapshot read_snapshot(const std::string& path) {
  std::error_code ec;
  if (!fs::exists(path, ec))
    throw Error(ErrorKind::snapshot, path, "no such file",
                "snapshots are runs/<name>/snapshots/epoch-NNNN.h5; check the run name and epoch");
  h5::require_hdf5_file(path, "snapshots are the epoch-NNNN.h5 files deconvscope writes");
  h5::File file = h5::File::open_read(path, [&](const h5::Group& root) { read_contents(root, path); });
  Snapshot s = read_contents(file.root(), path);
  s.content_sha256 = file.content_sha256();
  return s;
}

void check_same_network(const Snapshot& s, const std::string& path, const std::vector<LayerSpec>& expected,
                        const InputShape& expected_input, const std::string& expected_from) {
  const std::string hint = "a run folder holds the snapshots of one network; move this one out of the run";
  const auto shape_text = [](const InputShape& i) {
    return std::to_string(i.channels) + "x" + std::to_string(i.height) + "x" + std::to_string(i.width);
  };
  if (shape_text(s.input) != shape_text(expected_input))
    throw Error(ErrorKind::snapshot, path + ": / attribute input_shape",
                "differs from " + expected_from + ": " + expected_found(shape_text(expected_input), shape_text(s.input)), hint);
  if (s.layers.size() != expected.size())
    throw Error(ErrorKind::snapshot, path + ": / attribute layers",
                "the network differs from " + expected_from + ": " +
                    expected_found(std::to_string(expected.size()) + " layers", std::to_string(s.layers.size())),
                hint);
  for (size_t i = 0; i < expected.size(); ++i) {
    const std::string want = format_layer_line(expected[i]), have = format_layer_line(s.layers[i]);
    if (want != have)
      throw Error(ErrorKind::snapshot, path + ": /layers/" + escape_untrusted(s.layers[i].name),
                  "the layer differs from " + expected_from + ": " +
                      expected_found(quote_untrusted(want), quote_untrusted(have)),
                  hint);
  }
}

void check_resume_position(const Snapshot& s, const std::string& path, int max_epoch, int64_t steps_per_epoch) {
  const std::string hint = "resume with the run's own config, or start over with --force";
  if (s.epoch > max_epoch)
    throw Error(ErrorKind::snapshot, path + ": / attribute epoch",
                expected_found("an epoch up to train.epochs (" + std::to_string(max_epoch) + ")", std::to_string(s.epoch)),
                hint);
  if (steps_per_epoch > 0 && s.step != int64_t(s.epoch) * steps_per_epoch)
    throw Error(ErrorKind::snapshot, path + ": / attribute step",
                expected_found(std::to_string(int64_t(s.epoch) * steps_per_epoch) + " (epoch " + std::to_string(s.epoch) +
                                   " x " + std::to_string(steps_per_epoch) + " steps per epoch)",
                               std::to_string(s.step)),
                hint);
}

std::vector<std::pair<int, std::string>> list_snapshots(const std::string& snapshots_dir) {
  std::error_code ec;
  if (!fs::is_directory(snapshots_dir, ec))
    throw Error(ErrorKind::snapshot, snapshots_dir, "no such folder",
                "a run keeps its snapshots in runs/<name>/snapshots; has it been trained?");
  std::vector<std::pair<int, std::string>> out;
  for (const fs::directory_entry& e : fs::directory_iterator(snapshots_dir, ec)) {
    const std::string name = e.path().filename().string();
    // Only "epoch-" + digits + ".h5" exactly as snapshot_file_name writes it; temp files
    // (".epoch-0005.h5.tmp-123") and anything else are not snapshots.
    const std::string prefix = "epoch-", suffix = ".h5";
    if (name.size() <= prefix.size() + suffix.size() || name.compare(0, prefix.size(), prefix) != 0 ||
        name.compare(name.size() - suffix.size(), suffix.size(), suffix) != 0)
      continue;
    std::string digits = name.substr(prefix.size(), name.size() - prefix.size() - suffix.size());
    if (digits.size() > 9 || digits.find_first_not_of("0123456789") != std::string::npos) continue;
    int epoch = std::stoi(digits);
    // Not filtered on the file's type: a FIFO, a folder or a dangling symlink under a
    // snapshot's name is refused by its reader, naming it, rather than skipped unsaid.
    if (name != snapshot_file_name(epoch)) continue;
    out.emplace_back(epoch, e.path().string());
  }
  if (ec)
    throw Error(ErrorKind::snapshot, snapshots_dir, "cannot list folder: " + ec.message());
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace ds
