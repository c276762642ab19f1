// analysis/occlusion.h5 (format "deconvscope.occlusion", format_version 1;
// docs/occlusion-format.md) and occlusion.csv beside it. Reading checks the format, the
// version, and every dataset's type and shape against the root attributes before using it.
// Left out: partial reads and updating a file in place (the occlusion is recomputed in one go).
#include <filesystem>

#include "deconvscope/analysis/occlusion.hpp"
#include "deconvscope/core/error.hpp"
#include "deconvscope/core/tensor.hpp"
#include "deconvscope/io/csv.hpp"
#include "deconvscope/io/h5.hpp"

namespace fs = std::filesystem;

namespace ds {

namespace {

// Every array of r has the size its attributes imply (a deconvscope bug if not).
void check_sizes(const OcclusionResult& r, const std::string& where) {
  const size_t E = r.epochs.size(), I = r.images.size(), P = r.positions();
  auto need = [&](size_t found, size_t expected, const char* name) {
    if (found != expected)
      throw Error(ErrorKind::shape, where + ": " + name,
                  expected_found(std::to_string(expected) + " values", std::to_string(found)),
                  "a deconvscope bug: the occlusion results are inconsistent");
  };
  need(r.labels.size(), I, "labels");
  need(r.grid.positions.size(), 2 * P, "positions");
  need(r.feature.size(), E * I, "feature");
  need(r.activation.size(), E * I * P, "activation");
  need(r.probability.size(), E * I * P, "probability");
  need(r.predicted.size(), E * I * P, "predicted");
  need(r.projection.size(), E * I * r.image_size(), "projection");
}

}  // namespace

void write_occlusion(const std::string& path, const OcclusionResult& r) {
  check_sizes(r, path);
  const int64_t E = int64_t(r.epochs.size()), I = int64_t(r.images.size()), R = r.grid.rows, Q = r.grid.cols;
  h5::write_atomically(path, [&](h5::File& f) {
    const h5::Group root = f.root();
    root.write_attr_string("format", kOcclusionFormat);
    root.write_attr_int("format_version", kOcclusionFormatVersion);
    root.write_attr_ints("epochs", std::vector<int32_t>(r.epochs.begin(), r.epochs.end()));
    root.write_attr_string("split", r.split);
    root.write_attr_int64s("images", r.images);
    root.write_attr_ints("labels", r.labels);
    root.write_attr_string("layer", r.layer);
    root.write_attr_int("size", r.size);
    root.write_attr_int("stride", r.stride);
    root.write_dataset("positions", {R * Q, 2}, r.grid.positions);
    root.write_dataset("grid", {2}, std::vector<int32_t>{r.grid.rows, r.grid.cols});
    root.write_dataset("feature", {E, I}, r.feature);
    root.write_dataset("activation", {E, I, R, Q}, r.activation);
    root.write_dataset("probability", {E, I, R, Q}, r.probability);
    root.write_dataset("predicted", {E, I, R, Q}, r.predicted);
    root.write_dataset("projection", {E, I, r.input.channels, r.input.height, r.input.width}, r.projection,
                       /*deflate_level=*/1);
  });
}

OcclusionResult read_occlusion(const std::string& path) {
  if (!fs::exists(path))
    throw Error(ErrorKind::snapshot, path, "no such file", "run deconvscope occlusion --run <run folder> first");
  return h5::read_file(path, [&](const h5::Group& root) {
    h5::check_format(root, kOcclusionFormat, kOcclusionFormatVersion, "occlusion");
    OcclusionResult r;
    for (int32_t e : root.read_attr_ints("epochs")) r.epochs.push_back(e);
    r.split = root.read_attr_string("split");
    r.images = root.read_attr_int64s("images");
    r.labels = root.read_attr_ints("labels");
    r.layer = root.read_attr_string("layer");
    r.size = root.read_attr_int("size");
    r.stride = root.read_attr_int("stride");
    const int64_t E = int64_t(r.epochs.size()), I = int64_t(r.images.size());
    if (int64_t(r.labels.size()) != I)
      throw Error(ErrorKind::snapshot, root.where() + " attribute labels",
                  expected_found(std::to_string(I) + " values (one per image)", std::to_string(r.labels.size())));

    auto shape_of = [&](const std::string& rel, const std::vector<int64_t>& want) {
      const std::vector<int64_t> d = root.dataset_dims(rel);
      if (d != want) throw Error(ErrorKind::snapshot, root.where(rel), "shape " + expected_found(shape_str(want), shape_str(d)));
    };
    shape_of("grid", {2});
    const std::vector<int32_t> grid = root.read_dataset_i32("grid");
    if (grid[0] < 1 || grid[1] < 1)
      throw Error(ErrorKind::snapshot, root.where("grid"),
                  expected_found("rows and columns >= 1", std::to_string(grid[0]) + ", " + std::to_string(grid[1])));
    r.grid.rows = grid[0];
    r.grid.cols = grid[1];
    const int64_t R = r.grid.rows, Q = r.grid.cols;
    shape_of("positions", {R * Q, 2});
    r.grid.positions = root.read_dataset_i32("positions");
    shape_of("feature", {E, I});
    r.feature = root.read_dataset_i32("feature");
    for (const char* name : {"activation", "probability", "predicted"}) shape_of(name, {E, I, R, Q});
    r.activation = root.read_dataset_f32("activation");
    r.probability = root.read_dataset_f32("probability");
    r.predicted = root.read_dataset_i32("predicted");
    const std::vector<int64_t> pd = root.dataset_dims("projection");
    if (pd.size() != 5 || pd[0] != E || pd[1] != I)
      throw Error(ErrorKind::snapshot, root.where("projection"),
                  "shape " + expected_found("(" + std::to_string(E) + ", " + std::to_string(I) + ", C, H, W)", shape_str(pd)));
    r.input = InputShape{int(pd[2]), int(pd[3]), int(pd[4])};
    r.projection = root.read_dataset_f32("projection");
    return r;
  });
}

void write_occlusion_csv(const std::string& path, const OcclusionResult& r) {
  check_sizes(r, path);
  const size_t E = r.epochs.size(), I = r.images.size(), P = r.positions();
  CsvWriter out("epoch,image,label,layer,feature,row,col,y,x,activation,probability,predicted");
  for (size_t e = 0; e < E; ++e)
    for (size_t i = 0; i < I; ++i)
      for (size_t p = 0; p < P; ++p) {
        const size_t k = (e * I + i) * P + p;
        out.add(CsvRow()
                    .integer(r.epochs[e])
                    .integer(r.images[i])
                    .integer(r.labels[i])
                    .text(r.layer)
                    .integer(r.feature[e * I + i])
                    .integer(p / size_t(r.grid.cols))
                    .integer(p % size_t(r.grid.cols))
                    .integer(r.grid.positions[2 * p])
                    .integer(r.grid.positions[2 * p + 1])
                    .number(r.activation[k])
                    .number(r.probability[k])
                    .integer(r.predicted[k]));
      }
  out.write(path);
}

}  // namespace ds
