// analysis/linear_probes.h5 (format "deconvscope.linear_probes", format_version 1;
// docs/linear-probes-format.md) and the CSV tables beside it. Reading checks the format,
// the version and every dataset's shape and type against the root attributes.
#include <algorithm>
#include <cmath>
#include <filesystem>

#include "deconvscope/analysis/convergence_measure.hpp"
#include "deconvscope/analysis/linear_probe.hpp"
#include "deconvscope/core/error.hpp"
#include "deconvscope/io/csv.hpp"
#include "deconvscope/io/h5.hpp"

namespace fs = std::filesystem;

namespace ds {

namespace {

// A deconvscope bug if the arrays do not have the documented sizes.
void check_sizes(const LinearProbeResult& r, const std::string& where) {
  const size_t E = r.epochs.size(), L = r.layers.size();
  if (E == 0 || L == 0 || r.train_accuracy.size() != E * L || r.test_accuracy.size() != E * L ||
      r.feature_dim.size() != L)
    throw Error(ErrorKind::shape, where,
                expected_found("[E, L] accuracies and [L] feature_dim for E = " + std::to_string(E) +
                                   ", L = " + std::to_string(L),
                               std::to_string(r.train_accuracy.size()) + ", " + std::to_string(r.test_accuracy.size()) +
                                   " and " + std::to_string(r.feature_dim.size()) + " values"),
                "a deconvscope bug: the linear probe results are inconsistent");
}

// Index of `x` in `v`, or -1: a layer's row in the probes, an epoch's column there.
template <class T>
int index_of(const std::vector<T>& v, const T& x) {
  const auto it = std::find(v.begin(), v.end(), x);
  return it == v.end() ? -1 : int(it - v.begin());
}

}  // namespace

void write_linear_probes(const std::string& path, const LinearProbeResult& r) {
  check_sizes(r, path);
  h5::write_atomically(path, [&](h5::File& f) {
    const h5::Group root = f.root();
    root.write_attr_string("format", kLinearProbeFormat);
    root.write_attr_int("format_version", kLinearProbeFormatVersion);
    root.write_attr_ints("epochs", std::vector<int32_t>(r.epochs.begin(), r.epochs.end()));
    root.write_attr_strings("layers", r.layers);
    root.write_attr_int64("train_count", r.train_count);
    root.write_attr_int64("test_count", r.test_count);
    root.write_attr_int("grid", r.grid);
    const int64_t E = int64_t(r.epochs.size()), L = int64_t(r.layers.size());
    root.write_dataset("train_accuracy", {E, L}, r.train_accuracy);
    root.write_dataset("test_accuracy", {E, L}, r.test_accuracy);
    root.write_dataset("feature_dim", {L}, r.feature_dim);
  });
}

LinearProbeResult read_linear_probes(const std::string& path) {
  if (!fs::exists(path))
    throw Error(ErrorKind::snapshot, path, "no such file", "run deconvscope linear-probe --run <run folder> first");
  return h5::read_file(path, [&](const h5::Group& root) {
    h5::check_format(root, kLinearProbeFormat, kLinearProbeFormatVersion, "linear-probe");
    LinearProbeResult r;
    for (int32_t e : root.read_attr_ints("epochs")) r.epochs.push_back(e);
    r.layers = root.read_attr_strings("layers");
    r.train_count = root.read_attr_int64("train_count");
    r.test_count = root.read_attr_int64("test_count");
    r.grid = root.read_attr_int("grid");
    const int64_t E = int64_t(r.epochs.size()), L = int64_t(r.layers.size());
    if (E == 0 || L == 0)
      throw Error(ErrorKind::snapshot, root.where() + " attributes epochs, layers",
                  expected_found("at least one epoch and one layer", std::to_string(E) + " and " + std::to_string(L)),
                  "recompute it with deconvscope linear-probe");
    auto shape_of = [&](const std::string& rel, const std::vector<int64_t>& want) {
      const std::vector<int64_t> d = root.dataset_dims(rel);
      if (d != want)
        throw Error(ErrorKind::snapshot, root.where(rel), "shape " + expected_found(shape_str(want), shape_str(d)));
    };
    shape_of("train_accuracy", {E, L});
    r.train_accuracy = root.read_dataset_f32("train_accuracy");
    shape_of("test_accuracy", {E, L});
    r.test_accuracy = root.read_dataset_f32("test_accuracy");
    shape_of("feature_dim", {L});
    r.feature_dim = root.read_dataset_i32("feature_dim");
    r.alpha.assign(size_t(E * L), std::nanf(""));
    return r;
  });
}

void write_linear_probe_csv(const std::string& dir, const LinearProbeResult& r) {
  check_sizes(r, dir);
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) throw Error(ErrorKind::io, dir, "cannot create folder: " + ec.message(), "check the folder's permissions");
  const size_t E = r.epochs.size(), L = r.layers.size();
  CsvWriter probes("layer,epoch,feature_dim,train_accuracy,test_accuracy,ridge_alpha,train_count,test_count,grid");
  for (size_t l = 0; l < L; ++l)
    for (size_t e = 0; e < E; ++e) {
      const size_t i = r.index(e, l);
      probes.add(CsvRow()
                     .text(r.layers[l])
                     .integer(r.epochs[e])
                     .integer(r.feature_dim[l])
                     .number(r.train_accuracy[i])
                     .number(r.test_accuracy[i])
                     .number(i < r.alpha.size() ? r.alpha[i] : NAN)
                     .integer(r.train_count)
                     .integer(r.test_count)
                     .integer(r.grid));
    }
  probes.write((fs::path(dir) / kLinearProbesCsv).string());

  CsvWriter convergence("layer,final_epoch,final_test_accuracy,epoch_95");
  for (size_t l = 0; l < L; ++l) {
    const std::vector<float> curve = probe_test_curve(r, l);
    convergence.add(
        CsvRow().text(r.layers[l]).integer(r.epochs.back()).number(curve.back()).integer(convergence_epoch(r.epochs, curve)));
  }
  convergence.write((fs::path(dir) / kLinearProbeConvergenceCsv).string());
}

std::shared_ptr<const LinearProbeResult> read_run_linear_probes(const RunPaths& paths) {
  const std::string file = paths.in_analysis(kLinearProbesFile);
  if (!std::filesystem::exists(file)) return nullptr;
  try {
    return std::make_shared<const LinearProbeResult>(read_linear_probes(file));
  } catch (const Error& e) {
    if (e.kind() != ErrorKind::snapshot) throw;
    return nullptr;
  }
}

ConvergenceMeasure linear_probe_convergence_columns(std::shared_ptr<const LinearProbeResult> probes) {
  ConvergenceMeasure m;
  m.csv_columns = {"probe_test_accuracy", "probe_converged_at", "probe_gain", "probe_useful_at"};
  m.csv_cells = [probes](CsvRow& row, const std::string& layer, int epoch) {
    const int pl = probes ? index_of(probes->layers, layer) : -1;
    if (pl < 0) {
      row.blank().blank().blank().blank();
      return;
    }
    const std::vector<float> curve = probe_test_curve(*probes, size_t(pl));
    const int probe_at = convergence_epoch(probes->epochs, curve);
    const int pe = index_of(probes->epochs, epoch);
    pe >= 0 ? row.number(curve[size_t(pe)]) : row.blank();
    probe_at >= 0 ? row.integer(probe_at) : row.blank();
    pe >= 0 ? row.number(probe_gain_curve(*probes, size_t(pl))[size_t(pe)]) : row.blank();
    row.integer(probe_useful_at(*probes, size_t(pl)));
  };
  return m;
}

}  // namespace ds
