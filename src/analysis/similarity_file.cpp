// analysis/similarity.h5 (format "deconvscope.similarity", format_version 1;
// docs/similarity-format.md) and similarity.csv beside it. Reading checks the format, the
// version and every dataset's shape against the root attributes.
#include <algorithm>
#include <filesystem>

#include "deconvscope/analysis/convergence_measure.hpp"
#include "deconvscope/analysis/similarity.hpp"
#include "deconvscope/core/error.hpp"
#include "deconvscope/io/csv.hpp"
#include "deconvscope/io/h5.hpp"

namespace fs = std::filesystem;

namespace ds {

namespace {

// A deconvscope bug if the arrays do not have the documented sizes.
void check_sizes(const SimilarityResult& r, const std::string& where) {
  const size_t E = r.epochs.size(), L = r.layers.size();
  if (E == 0 || L == 0 || r.to_final.size() != E * L || r.to_previous.size() != E * L ||
      r.layer_by_layer.size() != E * L * L)
    throw Error(ErrorKind::internal, where,
                expected_found("[E, L], [E, L] and [E, L, L] values for E = " + std::to_string(E) +
                                   ", L = " + std::to_string(L),
                               std::to_string(r.to_final.size()) + ", " + std::to_string(r.to_previous.size()) +
                                   " and " + std::to_string(r.layer_by_layer.size())),
                "a deconvscope bug: the similarity results are inconsistent");
}

// Index of `x` in `v`, or -1: a layer's row in the similarity, an epoch's column there.
template <class T>
int index_of(const std::vector<T>& v, const T& x) {
  const auto it = std::find(v.begin(), v.end(), x);
  return it == v.end() ? -1 : int(it - v.begin());
}

}  // namespace

void write_similarity(const std::string& path, const SimilarityResult& r) {
  check_sizes(r, path);
  h5::write_atomically(path, [&](h5::File& f) {
    const h5::Group root = f.root();
    root.write_attr_string("format", kSimilarityFormat);
    root.write_attr_int("format_version", kSimilarityFormatVersion);
    root.write_attr_ints("epochs", std::vector<int32_t>(r.epochs.begin(), r.epochs.end()));
    root.write_attr_strings("layers", r.layers);
    root.write_attr_int64("image_count", r.image_count);
    root.write_attr_int("grid", r.grid);
    const int64_t E = int64_t(r.epochs.size()), L = int64_t(r.layers.size());
    root.write_dataset("to_final", {E, L}, r.to_final);
    root.write_dataset("to_previous", {E, L}, r.to_previous);
    root.write_dataset("layer_by_layer", {E, L, L}, r.layer_by_layer);
  });
}

SimilarityResult read_similarity(const std::string& path) {
  if (!fs::exists(path))
    throw Error(ErrorKind::snapshot, path, "no such file", "run deconvscope similarity --run <run folder> first");
  return h5::read_file(path, [&](const h5::Group& root) {
    h5::check_format(root, kSimilarityFormat, kSimilarityFormatVersion, "similarity");
    SimilarityResult r;
    for (int32_t e : root.read_attr_ints("epochs")) r.epochs.push_back(e);
    r.layers = root.read_attr_strings("layers");
    r.image_count = root.read_attr_int64("image_count");
    r.grid = root.read_attr_int("grid");
    const int64_t E = int64_t(r.epochs.size()), L = int64_t(r.layers.size());
    if (E == 0 || L == 0)
      throw Error(ErrorKind::snapshot, root.where() + " attributes epochs, layers",
                  expected_found("at least one epoch and one layer", std::to_string(E) + " and " + std::to_string(L)),
                  "recompute it with deconvscope similarity");
    auto read = [&](const std::string& rel, const std::vector<int64_t>& want) {
      const std::vector<int64_t> d = root.dataset_dims(rel);
      if (d != want)
        throw Error(ErrorKind::snapshot, root.where(rel), "shape " + expected_found(shape_str(want), shape_str(d)));
      return root.read_dataset_f32(rel);
    };
    r.to_final = read("to_final", {E, L});
    r.to_previous = read("to_previous", {E, L});
    r.layer_by_layer = read("layer_by_layer", {E, L, L});
    return r;
  });
}

std::shared_ptr<const SimilarityResult> read_run_similarity(const RunPaths& paths, std::string* problem) {
  const std::string file = paths.in_analysis(kSimilarityFile);
  if (!fs::exists(file)) {
    if (problem) *problem = "no " + file;
    return nullptr;
  }
  try {
    return std::make_shared<const SimilarityResult>(read_similarity(file));
  } catch (const Error& e) {
    if (e.kind() != ErrorKind::snapshot) throw;
    if (problem) *problem = e.what();
    return nullptr;
  }
}

void write_similarity_csv(const std::string& dir, const SimilarityResult& r) {
  check_sizes(r, dir);
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) throw Error(ErrorKind::io, dir, "cannot create folder: " + ec.message(), "check the folder's permissions");
  const size_t E = r.epochs.size(), L = r.layers.size();
  CsvRow header;
  header.text("layer").text("epoch").text("to_final").text("to_previous");
  for (const std::string& other : r.layers) header.text("with_" + other);
  CsvWriter out(header.text("image_count").text("grid"));
  for (size_t l = 0; l < L; ++l)
    for (size_t e = 0; e < E; ++e) {
      CsvRow row;
      row.text(r.layers[l]).integer(r.epochs[e]).number(r.to_final[r.index(e, l)]).number(r.to_previous[r.index(e, l)]);
      for (size_t b = 0; b < L; ++b) row.number(r.layer_by_layer[(e * L + l) * L + b]);
      out.add(row.integer(r.image_count).integer(r.grid));
    }
  out.write((fs::path(dir) / kSimilarityCsv).string());
}

ConvergenceMeasure similarity_convergence_columns(std::shared_ptr<const SimilarityResult> similarity,
                                                  double settle_threshold) {
  ConvergenceMeasure m;
  m.csv_columns = {"cka_to_final", "cka_settles_at"};
  m.csv_cells = [similarity, settle_threshold](CsvRow& row, const std::string& layer, int epoch) {
    const int sl = similarity ? index_of(similarity->layers, layer) : -1;
    if (sl < 0) {
      row.blank().blank();
      return;
    }
    const int se = index_of(similarity->epochs, epoch);
    se >= 0 ? row.number(similarity->to_final_curve(size_t(sl))[size_t(se)]) : row.blank();
    row.integer(cka_settles_at(*similarity, size_t(sl), settle_threshold));
  };
  return m;
}

}  // namespace ds
