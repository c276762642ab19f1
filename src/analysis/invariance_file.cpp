// analysis/invariance.h5 (format "deconvscope.invariance", format_version 1;
// docs/invariance-format.md) and analysis/invariance.csv. Reading checks the format, the
// version and every dataset's shape against the root attributes before using it.
// Left out: partial reads (the file is small next to the snapshots it summarises).
#include <filesystem>

#include "deconvscope/analysis/invariance.hpp"
#include "deconvscope/core/error.hpp"
#include "deconvscope/io/csv.hpp"
#include "deconvscope/io/h5.hpp"

namespace fs = std::filesystem;

namespace ds {

namespace {

// The transformed inputs are the bulk of the file and mostly mean-filled borders.
constexpr int kInputsDeflate = 4;

[[noreturn]] void bad(const std::string& where, const std::string& expected, const std::string& found,
                      const std::string& hint = {}) {
  throw Error(ErrorKind::snapshot, where, expected_found(expected, found), hint);
}

std::string dims_text(const std::vector<int64_t>& d) {
  std::string s = "[";
  for (size_t i = 0; i < d.size(); ++i) s += (i ? ", " : "") + std::to_string(d[i]);
  return s + "]";
}

// Checks that every array has the documented size (a deconvscope bug if not).
void check_result(const InvarianceResult& r, const std::string& where) {
  const size_t E = r.epochs.size(), I = r.images.size(), L = r.layers.size(), image = r.image_size();
  auto need = [&](size_t found, size_t expected, const std::string& what) {
    if (found != expected)
      throw Error(ErrorKind::shape, where + ": " + what, expected_found(std::to_string(expected) + " values", std::to_string(found)),
                  "a deconvscope bug: the invariance results are inconsistent");
  };
  need(r.labels.size(), I, "labels");
  need(r.outputs.size(), L, "outputs");
  need(r.originals.size(), I * image, "originals");
  need(r.input_mean.size(), size_t(r.input.channels), "input_mean");
  need(r.input_std.size(), size_t(r.input.channels), "input_std");
  for (const InvarianceSweep& s : r.sweeps) {
    const size_t S = s.values.size();
    need(s.inputs.size(), I * S * image, std::string(s.name()) + "/inputs");
    need(s.distance.size(), L, std::string(s.name()) + "/distance");
    for (const auto& d : s.distance) need(d.size(), E * I * S, std::string(s.name()) + "/distance");
    need(s.probability.size(), E * I * S, std::string(s.name()) + "/probability");
    need(s.predicted.size(), E * I * S, std::string(s.name()) + "/predicted");
  }
}

}  // namespace

void write_invariance(const std::string& path, const InvarianceResult& r) {
  check_result(r, path);
  const int64_t E = int64_t(r.epochs.size()), I = int64_t(r.images.size());
  const int64_t C = r.input.channels, H = r.input.height, W = r.input.width;
  h5::write_atomically(path, [&](h5::File& f) {
    const h5::Group root = f.root();
    root.write_attr_string("format", kInvarianceFormat);
    root.write_attr_int("format_version", kInvarianceFormatVersion);
    root.write_attr_ints("epochs", std::vector<int32_t>(r.epochs.begin(), r.epochs.end()));
    root.write_attr_strings("layers", r.layers);
    root.write_attr_strings("outputs", r.outputs);
    root.write_attr_string("split", r.split);
    root.write_attr_int64s("images", r.images);
    root.write_attr_ints("labels", r.labels);
    root.write_attr_ints("input_shape", {r.input.channels, r.input.height, r.input.width});
    root.write_attr_floats("input_mean", r.input_mean);
    root.write_attr_floats("input_std", r.input_std);
    root.write_attr_strings("class_names", r.class_names);
    root.write_dataset("originals", {I, C, H, W}, r.originals);
    for (const InvarianceSweep& s : r.sweeps) {
      const h5::Group g = root.create_group(s.name());
      const int64_t S = int64_t(s.values.size());
      g.write_dataset("values", {S}, s.values);
      g.write_dataset("inputs", {I, S, C, H, W}, s.inputs, kInputsDeflate);
      for (size_t l = 0; l < r.layers.size(); ++l) g.write_dataset("distance/" + r.layers[l], {E, I, S}, s.distance[l]);
      g.write_dataset("probability", {E, I, S}, s.probability);
      g.write_dataset("predicted", {E, I, S}, s.predicted);
    }
  });
}

InvarianceResult read_invariance(const std::string& path) {
  if (!fs::exists(path))
    throw Error(ErrorKind::snapshot, path, "no such file", "run deconvscope invariance --run <run folder> first");
  return h5::read_file(path, [&](const h5::Group& root) {
    h5::check_format(root, kInvarianceFormat, kInvarianceFormatVersion, "invariance");
    InvarianceResult r;
    for (int32_t e : root.read_attr_ints("epochs")) r.epochs.push_back(e);
    r.layers = root.read_attr_strings("layers");
    r.outputs = root.read_attr_strings("outputs");
    r.split = root.read_attr_string("split");
    r.images = root.read_attr_int64s("images");
    r.labels = root.read_attr_ints("labels");
    const std::vector<int32_t> in = root.read_attr_ints("input_shape");
    if (in.size() != 3) bad(root.where() + " attribute input_shape", "3 values", std::to_string(in.size()));
    r.input = InputShape{in[0], in[1], in[2]};
    r.input_mean = root.read_attr_floats("input_mean");
    r.input_std = root.read_attr_floats("input_std");
    r.class_names = root.read_attr_strings("class_names");
    if (r.epochs.empty() || r.layers.empty() || r.images.empty())
      bad(root.where() + " attributes epochs, layers, images", "at least one of each",
          std::to_string(r.epochs.size()) + ", " + std::to_string(r.layers.size()) + ", " + std::to_string(r.images.size()));
    if (r.outputs.size() != r.layers.size())
      bad(root.where() + " attribute outputs", std::to_string(r.layers.size()) + " names (one per layer)",
          std::to_string(r.outputs.size()));
    if (r.labels.size() != r.images.size())
      bad(root.where() + " attribute labels", std::to_string(r.images.size()) + " labels (one per image)",
          std::to_string(r.labels.size()));
    if (in[0] < 1 || in[1] < 1 || in[2] < 1) bad(root.where() + " attribute input_shape", "positive sizes", dims_text({in[0], in[1], in[2]}));
    for (const auto& [name, values] : {std::pair{"input_mean", &r.input_mean}, {"input_std", &r.input_std}})
      if (values->size() != size_t(in[0]))
        bad(root.where() + " attribute " + name, std::to_string(in[0]) + " values (one per channel)",
            std::to_string(values->size()));
    for (int32_t label : r.labels)
      if (label < 0) bad(root.where() + " attribute labels", "labels >= 0", std::to_string(label));

    const int64_t E = int64_t(r.epochs.size()), I = int64_t(r.images.size());
    const int64_t C = in[0], H = in[1], W = in[2];
    auto shape_of = [&](const h5::Group& g, const std::string& rel, const std::vector<int64_t>& want) {
      if (!g.is_dataset(rel)) throw Error(ErrorKind::snapshot, g.where(rel), "missing dataset");
      const std::vector<int64_t> d = g.dataset_dims(rel);
      if (d != want) bad(g.where(rel), "shape " + dims_text(want), dims_text(d));
    };
    shape_of(root, "originals", {I, C, H, W});
    r.originals = root.read_dataset_f32("originals");
    for (Transform t : kTransforms) {
      const h5::Group g = root.open_group(transform_name(t));
      InvarianceSweep s;
      s.transform = t;
      if (!g.is_dataset("values")) throw Error(ErrorKind::snapshot, g.where("values"), "missing dataset");
      const std::vector<int64_t> vd = g.dataset_dims("values");
      if (vd.size() != 1 || vd[0] < 1) bad(g.where("values"), "shape [S] with S >= 1", dims_text(vd));
      s.values = g.read_dataset_f64("values");
      const int64_t S = vd[0];
      shape_of(g, "inputs", {I, S, C, H, W});
      s.inputs = g.read_dataset_f32("inputs");
      for (const std::string& layer : r.layers) {
        shape_of(g, "distance/" + layer, {E, I, S});
        s.distance.push_back(g.read_dataset_f32("distance/" + layer));
      }
      shape_of(g, "probability", {E, I, S});
      s.probability = g.read_dataset_f32("probability");
      shape_of(g, "predicted", {E, I, S});
      s.predicted = g.read_dataset_i32("predicted");
      r.sweeps.push_back(std::move(s));
    }
    return r;
  });
}

void write_invariance_csv(const std::string& path, const InvarianceResult& r) {
  check_result(r, path);
  const size_t I = r.images.size();
  CsvRow header;
  header.text("epoch").text("transform").text("image").text("label").text("value");
  for (const std::string& l : r.layers) header.text("distance_" + l);
  CsvWriter out(header.text("probability").text("predicted"));
  for (size_t e = 0; e < r.epochs.size(); ++e)
    for (const InvarianceSweep& s : r.sweeps)
      for (size_t i = 0; i < I; ++i)
        for (size_t k = 0; k < s.values.size(); ++k) {
          const size_t at = s.at(e, i, k, I);
          CsvRow row;
          row.integer(r.epochs[e]).text(s.name()).integer(r.images[i]).integer(r.labels[i]).number(s.values[k]);
          for (const auto& d : s.distance) row.number(d[at]);
          out.add(row.number(s.probability[at]).integer(s.predicted[at]));
        }
  out.write(path);
}

}  // namespace ds
