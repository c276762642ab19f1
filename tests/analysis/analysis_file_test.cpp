// analysis.h5 and the CSV exports: a write/read round trip, the on-disk schema checked
// with the raw HDF5 C API (what h5py will see), the read errors, and the CSV tables.
#include "deconvscope/analysis/analysis_file.hpp"

#include <gtest/gtest.h>
#include <hdf5.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "deconvscope/analysis/linear_probe.hpp"
#include "deconvscope/analysis/sanity_baseline.hpp"
#include "deconvscope/analysis/similarity.hpp"
#include "deconvscope/core/error.hpp"
#include "deconvscope/io/h5.hpp"

namespace fs = std::filesystem;

namespace ds {
namespace {

class AnalysisFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = fs::temp_directory_path() / ("ds_analysis_" + std::to_string(::getpid()) + "_" + info->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string file(const std::string& name) const { return (dir_ / name).string(); }
  fs::path dir_;
};

constexpr int C = 3, H = 4, W = 5;

// Fills a tensor with distinct values so that a transposed or shifted read shows.
Tensor ramp(std::vector<int64_t> dims, float start) {
  Tensor t(std::move(dims));
  for (size_t i = 0; i < t.size(); ++i) t.data[i] = start + 0.25f * static_cast<float>(i);
  return t;
}

// Two layers (conv1 follows 2 features, conv2 follows 3), epochs 1, 2, 5, top-k (k = 2)
// at epoch 2 for 4 and 6 features.
AnalysisResult sample(std::vector<int> epochs = {1, 2, 5}) {
  AnalysisResult r;
  r.split = ds::ProbeSplit::test;
  r.dataset_path = "data/cifar10";
  r.probe_count = 500;
  r.epochs = epochs;
  r.layers = {"conv1", "conv2"};
  r.input = InputShape{C, H, W};
  r.input_mean = {0.1f, 0.2f, 0.3f};
  r.input_std = {1.f, 2.f, 3.f};
  r.jump_threshold = 0.4f;
  r.convergence_threshold = 0.8f;
  const int64_t E = static_cast<int64_t>(epochs.size());
  const std::vector<std::vector<int32_t>> followed = {{3, 7}, {0, 1, 5}};
  for (size_t l = 0; l < 2; ++l) {
    const int64_t F = static_cast<int64_t>(followed[l].size());
    LayerEvolution ev;
    ev.layer = r.layers[l];
    ev.features = followed[l];
    for (int64_t i = 0; i < E * F; ++i) {
      ev.strongest.push_back(Activation{100 * static_cast<int64_t>(l) + i, static_cast<int32_t>(i % 3),
                                        static_cast<int32_t>(i % 2), 0.5f * static_cast<float>(i)});
      ev.windows.push_back(Window{static_cast<int32_t>(i), 1, static_cast<int32_t>(i) + 2, 4});
    }
    ev.projections = ramp({E, F, C, H, W}, static_cast<float>(l));
    r.evolution.push_back(ev);

    LayerJumps j;
    for (int64_t i = 0; i < (E - 1) * F; ++i) {
      j.image_changed.push_back(static_cast<uint8_t>(i % 2));
      j.projection_similarity.push_back(0.1f * static_cast<float>(i));
      j.filter_change.push_back(0.01f * static_cast<float>(i));
      j.jump.push_back(static_cast<uint8_t>((i + 1) % 2));
      j.went_silent.push_back(0);
      j.came_back.push_back(0);
    }
    r.jumps.push_back(j);

    LayerConvergence c;
    for (int64_t e = 0; e < E; ++e) {
      c.filter_similarity.push_back(0.5f + 0.1f * static_cast<float>(e));
      c.weight_change.push_back(0.2f * static_cast<float>(e));
      c.final_image_share.push_back(e + 1 == E ? 1.f : 0.5f);
      c.weight_progress.push_back(e + 1 == E ? 1.f : 0.25f * static_cast<float>(e));
    }
    c.converged_at = l == 0 ? epochs.back() : -1;
    c.progress_converged_at = epochs.back();
    r.convergence.push_back(c);
  }
  if (E > 1) {
    std::vector<LayerTopK>& at = r.topk[epochs[1]];
    for (size_t l = 0; l < 2; ++l) {
      LayerTopK t;
      t.layer = r.layers[l];
      t.features = l == 0 ? 4 : 6;
      t.k = 2;
      for (int i = 0; i < t.features * t.k; ++i) {
        t.acts.push_back(Activation{i == 3 ? -1 : 10 + i, i % 4, i % 5, 2.f - 0.1f * static_cast<float>(i)});
        t.windows.push_back(Window{0, static_cast<int32_t>(i), 3, static_cast<int32_t>(i) + 1});
      }
      t.projections = ramp({t.features, t.k, C, H, W}, -1.f);
      at.push_back(t);
    }
  }
  return r;
}

// r with the sanity baseline filled as documented: NaN where inactive, 1 at the first
// epoch, elsewhere distinct values in [-1, 1] (one NaN: undefined), and the layer medians.
AnalysisResult with_baseline(AnalysisResult r) {
  for (LayerEvolution& ev : r.evolution) {
    const size_t F = ev.features.size();
    ev.init_rank_correlation.assign(ev.strongest.size(), std::nanf(""));
    for (size_t i = 0; i < ev.strongest.size(); ++i) {
      if (ev.strongest[i].image < 0 || i == F) continue;  // entry F (epoch 1, feature 0): undefined
      ev.init_rank_correlation[i] = 1.f - 0.125f * static_cast<float>(i < F ? 0 : i);  // exact in float
    }
  }
  summarise_init_rank_correlation(r);
  return r;
}

// Equal, NaN equal to NaN.
void expect_same_floats(const std::vector<float>& a, const std::vector<float>& b) {
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i)
    if (!(std::isnan(a[i]) && std::isnan(b[i]))) {
      EXPECT_EQ(a[i], b[i]) << i;
    }
}

void expect_same_acts(const std::vector<Activation>& a, const std::vector<Activation>& b) {
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].image, b[i].image) << i;
    EXPECT_EQ(a[i].y, b[i].y) << i;
    EXPECT_EQ(a[i].x, b[i].x) << i;
    EXPECT_EQ(a[i].value, b[i].value) << i;
  }
}

void expect_same_windows(const std::vector<Window>& a, const std::vector<Window>& b) {
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].y0, b[i].y0);
    EXPECT_EQ(a[i].x0, b[i].x0);
    EXPECT_EQ(a[i].y1, b[i].y1);
    EXPECT_EQ(a[i].x1, b[i].x1);
  }
}

void expect_same(const AnalysisResult& a, const AnalysisResult& b) {
  EXPECT_EQ(a.split, b.split);
  EXPECT_EQ(a.dataset_path, b.dataset_path);
  EXPECT_EQ(a.probe_count, b.probe_count);
  EXPECT_EQ(a.epochs, b.epochs);
  EXPECT_EQ(a.layers, b.layers);
  EXPECT_EQ(a.input.channels, b.input.channels);
  EXPECT_EQ(a.input.height, b.input.height);
  EXPECT_EQ(a.input.width, b.input.width);
  EXPECT_EQ(a.input_mean, b.input_mean);
  EXPECT_EQ(a.input_std, b.input_std);
  EXPECT_EQ(a.jump_threshold, b.jump_threshold);
  EXPECT_EQ(a.convergence_threshold, b.convergence_threshold);
  ASSERT_EQ(a.evolution.size(), b.evolution.size());
  for (size_t l = 0; l < a.evolution.size(); ++l) {
    EXPECT_EQ(a.evolution[l].layer, b.evolution[l].layer);
    EXPECT_EQ(a.evolution[l].features, b.evolution[l].features);
    expect_same_acts(a.evolution[l].strongest, b.evolution[l].strongest);
    expect_same_windows(a.evolution[l].windows, b.evolution[l].windows);
    EXPECT_EQ(a.evolution[l].projections.dims, b.evolution[l].projections.dims);
    EXPECT_EQ(a.evolution[l].projections.data, b.evolution[l].projections.data);
    EXPECT_EQ(a.jumps[l].image_changed, b.jumps[l].image_changed);
    EXPECT_EQ(a.jumps[l].projection_similarity, b.jumps[l].projection_similarity);
    EXPECT_EQ(a.jumps[l].filter_change, b.jumps[l].filter_change);
    EXPECT_EQ(a.jumps[l].jump, b.jumps[l].jump);
    EXPECT_EQ(a.jumps[l].went_silent, b.jumps[l].went_silent);
    EXPECT_EQ(a.jumps[l].came_back, b.jumps[l].came_back);
    EXPECT_EQ(a.convergence[l].filter_similarity, b.convergence[l].filter_similarity);
    EXPECT_EQ(a.convergence[l].weight_change, b.convergence[l].weight_change);
    EXPECT_EQ(a.convergence[l].final_image_share, b.convergence[l].final_image_share);
    EXPECT_EQ(a.convergence[l].converged_at, b.convergence[l].converged_at);
    EXPECT_EQ(a.convergence[l].weight_progress, b.convergence[l].weight_progress);
    EXPECT_EQ(a.convergence[l].progress_converged_at, b.convergence[l].progress_converged_at);
    expect_same_floats(a.evolution[l].init_rank_correlation, b.evolution[l].init_rank_correlation);
    expect_same_floats(a.convergence[l].init_rank_correlation, b.convergence[l].init_rank_correlation);
  }
  ASSERT_EQ(a.topk.size(), b.topk.size());
  for (const auto& [epoch, layers] : a.topk) {
    ASSERT_EQ(b.topk.count(epoch), 1u) << epoch;
    const std::vector<LayerTopK>& other = b.topk.at(epoch);
    ASSERT_EQ(layers.size(), other.size());
    for (size_t l = 0; l < layers.size(); ++l) {
      EXPECT_EQ(layers[l].layer, other[l].layer);
      EXPECT_EQ(layers[l].features, other[l].features);
      EXPECT_EQ(layers[l].k, other[l].k);
      expect_same_acts(layers[l].acts, other[l].acts);
      expect_same_windows(layers[l].windows, other[l].windows);
      EXPECT_EQ(layers[l].projections.dims, other[l].projections.dims);
      EXPECT_EQ(layers[l].projections.data, other[l].projections.data);
    }
  }
}

TEST_F(AnalysisFileTest, RoundTrip) {
  const AnalysisResult r = with_baseline(sample());
  const std::string path = file("analysis.h5");
  write_analysis(path, r);
  const AnalysisResult back = read_analysis(path);
  expect_same(r, back);
  EXPECT_TRUE(std::isnan(back.evolution[0].init_rank_correlation[2]));  // the undefined entry
  EXPECT_EQ(back.evolution[1].init_rank_correlation[2], 1.f);
  // Only the final file is left: the temporary one was renamed.
  EXPECT_EQ(std::distance(fs::directory_iterator(dir_), fs::directory_iterator()), 1);
}

TEST_F(AnalysisFileTest, RoundTripWithOneEpoch) {
  const AnalysisResult r = sample({4});
  const std::string path = file("analysis.h5");
  write_analysis(path, r);
  const AnalysisResult back = read_analysis(path);
  expect_same(r, back);
  EXPECT_TRUE(back.jumps[1].jump.empty());
}

// --- schema, through the C API --------------------------------------------------------

struct Info {
  H5T_class_t cls = H5T_NO_CLASS;
  size_t size = 0;
  bool is_signed = false;
  std::vector<int64_t> dims;
};

Info dataset_info(hid_t file, const std::string& path) {
  Info info;
  hid_t ds = H5Dopen2(file, path.c_str(), H5P_DEFAULT);
  EXPECT_GE(ds, 0) << path;
  if (ds < 0) return info;
  hid_t type = H5Dget_type(ds), space = H5Dget_space(ds);
  info.cls = H5Tget_class(type);
  info.size = H5Tget_size(type);
  info.is_signed = info.cls == H5T_INTEGER && H5Tget_sign(type) == H5T_SGN_2;
  int rank = H5Sget_simple_extent_ndims(space);
  std::vector<hsize_t> d(static_cast<size_t>(std::max(rank, 0)));
  if (rank > 0) H5Sget_simple_extent_dims(space, d.data(), nullptr);
  for (hsize_t x : d) info.dims.push_back(static_cast<int64_t>(x));
  H5Sclose(space);
  H5Tclose(type);
  H5Dclose(ds);
  return info;
}

Info attr_info(hid_t file, const std::string& obj, const std::string& name) {
  Info info;
  hid_t a = H5Aopen_by_name(file, obj.c_str(), name.c_str(), H5P_DEFAULT, H5P_DEFAULT);
  EXPECT_GE(a, 0) << obj << " " << name;
  if (a < 0) return info;
  hid_t type = H5Aget_type(a), space = H5Aget_space(a);
  info.cls = H5Tget_class(type);
  info.size = H5Tget_size(type);
  info.is_signed = info.cls == H5T_INTEGER && H5Tget_sign(type) == H5T_SGN_2;
  int rank = H5Sget_simple_extent_ndims(space);
  std::vector<hsize_t> d(static_cast<size_t>(std::max(rank, 0)));
  if (rank > 0) H5Sget_simple_extent_dims(space, d.data(), nullptr);
  for (hsize_t x : d) info.dims.push_back(static_cast<int64_t>(x));
  H5Sclose(space);
  H5Tclose(type);
  H5Aclose(a);
  return info;
}

// "float32", "int64", "uint8", "string", ... as h5py would name the dtype.
std::string type_of(const Info& i) {
  if (i.cls == H5T_STRING) return "string";
  if (i.cls == H5T_FLOAT) return "float" + std::to_string(8 * i.size);
  if (i.cls == H5T_INTEGER) return (i.is_signed ? "int" : "uint") + std::to_string(8 * i.size);
  return "other";
}

void expect_dataset(hid_t f, const std::string& path, const char* type, std::vector<int64_t> dims) {
  Info i = dataset_info(f, path);
  EXPECT_EQ(type_of(i), type) << path;
  EXPECT_EQ(i.dims, dims) << path;
}

void expect_attr(hid_t f, const std::string& obj, const std::string& name, const char* type,
                 std::vector<int64_t> dims) {
  Info i = attr_info(f, obj, name);
  EXPECT_EQ(type_of(i), type) << name;
  EXPECT_EQ(i.dims, dims) << name;  // {} for a scalar
}

TEST_F(AnalysisFileTest, SchemaAsDocumented) {
  const std::string path = file("analysis.h5");
  write_analysis(path, with_baseline(sample()));
  hid_t f = H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
  ASSERT_GE(f, 0);
  expect_attr(f, "/", "format", "string", {});
  expect_attr(f, "/", "format_version", "int32", {});
  expect_attr(f, "/", "split", "string", {});
  expect_attr(f, "/", "dataset_path", "string", {});
  expect_attr(f, "/", "probe_count", "int64", {});
  expect_attr(f, "/", "epochs", "int32", {3});
  expect_attr(f, "/", "layers", "string", {2});
  expect_attr(f, "/", "input_shape", "int32", {3});
  expect_attr(f, "/", "input_mean", "float32", {C});
  expect_attr(f, "/", "input_std", "float32", {C});
  expect_attr(f, "/", "jump_threshold", "float32", {});
  expect_attr(f, "/", "convergence_threshold", "float32", {});

  const int64_t E = 3;
  const std::vector<std::pair<std::string, int64_t>> layers = {{"conv1", 2}, {"conv2", 3}};
  for (const auto& [name, F] : layers) {
    const std::string ev = "/evolution/" + name + "/";
    expect_dataset(f, ev + "features", "int32", {F});
    expect_dataset(f, ev + "image_index", "int64", {E, F});
    expect_dataset(f, ev + "position", "int32", {E, F, 2});
    expect_dataset(f, ev + "activation", "float32", {E, F});
    expect_dataset(f, ev + "projection", "float32", {E, F, C, H, W});
    expect_dataset(f, ev + "window", "int32", {E, F, 4});
    expect_dataset(f, ev + "init_rank_correlation", "float32", {E, F});

    const int64_t Fall = name == "conv1" ? 4 : 6, K = 2;
    const std::string tk = "/topk/epoch-0002/" + name + "/";
    expect_dataset(f, tk + "image_index", "int64", {Fall, K});
    expect_dataset(f, tk + "position", "int32", {Fall, K, 2});
    expect_dataset(f, tk + "activation", "float32", {Fall, K});
    expect_dataset(f, tk + "projection", "float32", {Fall, K, C, H, W});
    expect_dataset(f, tk + "window", "int32", {Fall, K, 4});

    const std::string j = "/metrics/jumps/" + name + "/";
    expect_dataset(f, j + "image_changed", "uint8", {E - 1, F});
    expect_dataset(f, j + "projection_similarity", "float32", {E - 1, F});
    expect_dataset(f, j + "filter_change", "float32", {E - 1, F});
    expect_dataset(f, j + "jump", "uint8", {E - 1, F});
    expect_dataset(f, j + "went_silent", "uint8", {E - 1, F});
    expect_dataset(f, j + "came_back", "uint8", {E - 1, F});

    const std::string c = "/metrics/convergence/" + name;
    expect_dataset(f, c + "/filter_similarity", "float32", {E});
    expect_dataset(f, c + "/weight_change", "float32", {E});
    expect_dataset(f, c + "/final_image_share", "float32", {E});
    expect_dataset(f, c + "/weight_progress", "float32", {E});
    expect_dataset(f, c + "/init_rank_correlation", "float32", {E});
    expect_attr(f, c, "converged_at", "int32", {});
    expect_attr(f, c, "progress_converged_at", "int32", {});
  }
  H5Fclose(f);

  // The values of the root attributes, through the wrapper.
  h5::File file = h5::File::open_read(path);
  h5::Group root = file.root();
  EXPECT_EQ(root.read_attr_string("format"), "deconvscope.analysis");
  EXPECT_EQ(root.read_attr_int("format_version"), 3);
  EXPECT_EQ(root.read_attr_ints("epochs"), (std::vector<int32_t>{1, 2, 5}));
  EXPECT_EQ(root.read_attr_strings("layers"), (std::vector<std::string>{"conv1", "conv2"}));
  EXPECT_EQ(root.open_group("metrics/convergence/conv2").read_attr_int("converged_at"), -1);
}

TEST_F(AnalysisFileTest, OneEpochJumpsHaveZeroRows) {
  const std::string path = file("analysis.h5");
  write_analysis(path, sample({4}));
  hid_t f = H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
  ASSERT_GE(f, 0);
  expect_dataset(f, "/metrics/jumps/conv2/jump", "uint8", {0, 3});
  expect_dataset(f, "/metrics/jumps/conv2/projection_similarity", "float32", {0, 3});
  H5Fclose(f);
}

// --- errors ---------------------------------------------------------------------------

// Runs fn, expecting a ds::Error of `kind` whose where contains `where` and whose
// problem contains `problem`.
template <class Fn>
void expect_error(Fn fn, ErrorKind kind, const std::string& where, const std::string& problem) {
  try {
    fn();
    ADD_FAILURE() << "expected an error about " << where;
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), kind);
    EXPECT_NE(e.where().find(where), std::string::npos) << e.where();
    EXPECT_NE(e.problem().find(problem), std::string::npos) << e.problem();
  }
}

TEST_F(AnalysisFileTest, MissingFile) {
  const std::string path = file("nope.h5");
  expect_error([&] { read_analysis(path); }, ErrorKind::snapshot, path, "missing file");
}

TEST_F(AnalysisFileTest, NotAnHdf5File) {
  const std::string path = file("analysis.h5");
  std::ofstream(path) << "layer,epoch\n";
  expect_error([&] { read_analysis(path); }, ErrorKind::snapshot, path, "not an HDF5 file");
}

TEST_F(AnalysisFileTest, WrongFormatAttribute) {
  const std::string path = file("analysis.h5");
  {
    h5::File f = h5::File::create(path);
    f.root().write_attr_string("format", "deconvscope.snapshot");
    f.root().write_attr_int("format_version", 1);
    f.close();
  }
  expect_error([&] { read_analysis(path); }, ErrorKind::snapshot, path + ": / attribute format",
               "'deconvscope.snapshot'");
}

TEST_F(AnalysisFileTest, MissingFormatOrVersionAttribute) {
  const std::string path = file("analysis.h5");
  {
    h5::File f = h5::File::create(path);
    f.root().write_attr_string("creator", "h5py");
    f.close();
  }
  expect_error([&] { read_analysis(path); }, ErrorKind::snapshot, path + ": / attribute format",
               "another program's HDF5 file: expected 'deconvscope.analysis', found no such attribute");
  write_analysis(path, sample());
  {
    h5::File f = h5::File::open_readwrite(path);
    H5Adelete(f.root().id(), "format_version");
    f.close();
  }
  expect_error([&] { read_analysis(path); }, ErrorKind::snapshot, path + ": / attribute format_version",
               "expected 2 or 3, found no such attribute");
}

TEST_F(AnalysisFileTest, NewerAndOlderVersionsAreRefused) {
  // Version 1 wrote a feature that never fired as image 0: refused rather than misread.
  for (const auto& [version, problem] : {std::pair<int, const char*>{4, "newer"}, {1, "older deconvscope"}}) {
    const std::string path = file("analysis.h5");
    write_analysis(path, sample());
    {
      h5::File f = h5::File::open_readwrite(path);
      f.root().write_attr_int("format_version", version);
      f.close();
    }
    expect_error([&] { read_analysis(path); }, ErrorKind::snapshot, path + ": / attribute format_version", problem);
  }
}

TEST_F(AnalysisFileTest, WrongShapeNamesTheDataset) {
  const std::string path = file("analysis.h5");
  write_analysis(path, sample());
  {
    h5::File f = h5::File::open_readwrite(path);
    f.root().write_dataset("evolution/conv2/projection", {3, 3, C, H, W + 1},
                           std::vector<float>(3 * 3 * C * H * (W + 1), 0.f));
    f.close();
  }
  expect_error([&] { read_analysis(path); }, ErrorKind::snapshot, path + ": /evolution/conv2/projection",
               "expected (3, 3, 3, 4, 5)");
}

TEST_F(AnalysisFileTest, WrongTypeNamesTheDataset) {
  const std::string path = file("analysis.h5");
  write_analysis(path, sample());
  {
    h5::File f = h5::File::open_readwrite(path);
    f.root().write_dataset("metrics/jumps/conv1/jump", {2, 2}, std::vector<float>(4, 0.f));
    f.close();
  }
  expect_error([&] { read_analysis(path); }, ErrorKind::snapshot, path + ": /metrics/jumps/conv1/jump",
               "uint8");
}

TEST_F(AnalysisFileTest, MissingGroupNamesIt) {
  const std::string path = file("analysis.h5");
  AnalysisResult r = sample();
  write_analysis(path, r);
  {
    h5::File f = h5::File::open_readwrite(path);
    r.layers = {"conv1", "conv3"};
    f.root().write_attr_strings("layers", r.layers);
    f.close();
  }
  expect_error([&] { read_analysis(path); }, ErrorKind::snapshot, path + ": /evolution/conv3", "missing group");
}

TEST_F(AnalysisFileTest, BadRootAttributeNamesIt) {
  const std::string path = file("analysis.h5");
  write_analysis(path, sample());
  {
    h5::File f = h5::File::open_readwrite(path);
    f.root().write_attr_ints("epochs", {1, 5, 2});
    f.close();
  }
  expect_error([&] { read_analysis(path); }, ErrorKind::snapshot, path + ": / attribute epochs",
               "strictly ascending");
}

TEST_F(AnalysisFileTest, UnknownSplitIsRefusedNamingIt) {
  const std::string path = file("analysis.h5");
  write_analysis(path, sample());
  {
    h5::File f = h5::File::open_readwrite(path);
    EXPECT_EQ(f.root().read_attr_string("split"), "test");  // the enum stored as its config word
    f.root().write_attr_string("split", "validation");
    f.close();
  }
  expect_error([&] { read_analysis(path); }, ErrorKind::snapshot, path + ": / attribute split",
               "expected 'train' or 'test', found 'validation'");
}

TEST_F(AnalysisFileTest, UnwritableFolderIsAnIoError) {
  const std::string path = file("missing-folder/analysis.h5");
  expect_error([&] { write_analysis(path, sample()); }, ErrorKind::io, "missing-folder", "");
}

TEST_F(AnalysisFileTest, InconsistentResultIsNotWritten) {
  AnalysisResult r = sample();
  r.jumps[1].jump.pop_back();
  const std::string path = file("analysis.h5");
  expect_error([&] { write_analysis(path, r); }, ErrorKind::internal, "/metrics/jumps/conv2/jump", "expected 6");
  r = sample();
  r.topk[5] = r.topk[2];
  r.topk.erase(2);
  r.topk[3] = r.topk[5];  // 3 is not an analysed epoch
  expect_error([&] { write_analysis(path, r); }, ErrorKind::internal, "/topk/epoch-0003", "not among");
  EXPECT_TRUE(fs::is_empty(dir_));  // nothing left behind, not even a temporary file
}

// --- CSV ------------------------------------------------------------------------------

std::vector<std::string> lines_of(const fs::path& path) {
  std::ifstream in(path);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

// The columns the registry's measures add to convergence.csv, in its order (probes, then
// similarity); null: the run lacks that analysis' file.
std::vector<ConvergenceMeasure> registry_columns(std::shared_ptr<const LinearProbeResult> probes = nullptr,
                                                 std::shared_ptr<const SimilarityResult> similarity = nullptr,
                                                 double settle_threshold = 0.9) {
  return {linear_probe_convergence_columns(probes), similarity_convergence_columns(similarity, settle_threshold)};
}

TEST_F(AnalysisFileTest, CsvHeadersAndRows) {
  const AnalysisResult r = sample();
  const fs::path out = dir_ / "tables";  // created by the writer
  write_analysis_csv(out.string(), r, registry_columns());

  std::vector<std::string> jumps = lines_of(out / "jumps.csv");
  ASSERT_FALSE(jumps.empty());
  EXPECT_EQ(jumps[0],
            "layer,feature,epoch_from,epoch_to,image_from,image_to,image_changed,projection_similarity,"
            "filter_change,jump,kind");
  EXPECT_EQ(jumps.size(), 1u + 2 * (2 + 3));  // (E-1) * F per layer
  // conv1, feature 7 (f = 1), epochs 1 -> 2: images 1 -> 3, row 1 of the jump arrays.
  EXPECT_EQ(jumps[2], "conv1,7,1,2,1,3,1,0.1,0.01,0,changed");
  EXPECT_EQ(jumps[1], "conv1,3,1,2,0,2,0,0,0,1,jump");

  std::vector<std::string> conv = lines_of(out / "convergence.csv");
  ASSERT_FALSE(conv.empty());
  EXPECT_EQ(conv[0],
            "layer,epoch,filter_similarity,weight_change,final_image_share,converged_at,weight_progress,"
            "progress_converged_at,jumps,went_silent,came_back,inactive,probe_test_accuracy,probe_converged_at,"
            "probe_gain,probe_useful_at,cka_to_final,cka_settles_at,init_rank_correlation");
  EXPECT_EQ(conv.size(), 1u + 2 * 3);
  // No linear probes, no similarity: their columns empty.
  EXPECT_EQ(conv[3], "conv1,5,0.7,0.4,1,5,1,5,1,0,0,0,,,,,,,");
  EXPECT_EQ(conv[4], "conv2,1,0.5,0,0.5,-1,0,5,0,0,0,0,,,,,,,");

  // With the run's linear probes: conv1's test accuracy at each epoch the probes have, and
  // the first epoch it reaches 95% of its final value, its gain over the pixel floor (0.5)
  // and the first epoch from which that stays >= 0.9; conv2 was not probed. With the run's
  // similarity: conv2's CKA to final and the epoch from which it stays >= 0.9; conv1 was
  // not measured.
  auto probes = std::make_shared<LinearProbeResult>();
  probes->epochs = {1, 2};  // epoch 5 not probed
  probes->layers = {"(pixels)", "conv1"};
  probes->test_accuracy = {0.5f, 0.625f, 0.5f, 0.75f};  // [E * L]: gains 0.5 and 1
  auto similarity = std::make_shared<SimilarityResult>();
  similarity->epochs = {1, 2, 5};
  similarity->layers = {"conv2"};
  similarity->to_final = {0.5f, 0.95f, 1.f};
  write_analysis_csv(out.string(), r, registry_columns(probes, similarity, 0.9));
  conv = lines_of(out / "convergence.csv");
  EXPECT_EQ(conv[1], "conv1,1,0.5,0,0.5,5,0,5,0,0,0,0,0.625,2,0.5,2,,,");
  EXPECT_EQ(conv[2], "conv1,2,0.6,0.2,0.5,5,0.25,5,1,0,0,0,0.75,2,1,2,,,");
  EXPECT_EQ(conv[3], "conv1,5,0.7,0.4,1,5,1,5,1,0,0,0,,2,,2,,,");
  EXPECT_EQ(conv[4], "conv2,1,0.5,0,0.5,-1,0,5,0,0,0,0,,,,,0.5,2,");
  EXPECT_EQ(conv[6], "conv2,5,0.7,0.4,1,-1,1,5,1,0,0,0,,,,,1,2,");
  // A stricter threshold: conv2 only at the last snapshot.
  write_analysis_csv(out.string(), r, registry_columns(probes, similarity, 0.96));
  EXPECT_EQ(lines_of(out / "convergence.csv")[4], "conv2,1,0.5,0,0.5,-1,0,5,0,0,0,0,,,,,0.5,5,");

  std::vector<std::string> evo = lines_of(out / "evolution.csv");
  ASSERT_FALSE(evo.empty());
  EXPECT_EQ(evo[0], "layer,feature,epoch,image_index,y,x,activation");
  EXPECT_EQ(evo.size(), 1u + 3 * (2 + 3));  // E * F per layer
  EXPECT_EQ(evo[1], "conv1,3,1,0,0,0,0");

  std::vector<std::string> topk = lines_of(out / "topk.csv");
  ASSERT_FALSE(topk.empty());
  EXPECT_EQ(topk[0], "epoch,layer,feature,rank,image_index,y,x,activation");
  EXPECT_EQ(topk.size(), 1u + 2 * (4 + 6));      // features * k per layer
  EXPECT_EQ(topk[4], "2,conv1,1,1,-1,3,3,1.7");  // an empty slot (fewer images than k)

  // Only the four tables: no temporary files left.
  EXPECT_EQ(std::distance(fs::directory_iterator(out), fs::directory_iterator()), 4);
}

// convergence.csv takes any analysis' measure, without naming it: its columns go between
// the transition counts and the sanity baseline, its cells on every row, in the order given.
TEST_F(AnalysisFileTest, AFurtherMeasureAddsItsColumnsToConvergenceCsv) {
  ConvergenceMeasure made_up;
  made_up.csv_columns = {"made_up_layer", "made_up_epoch"};
  made_up.csv_cells = [](CsvRow& row, const std::string& layer, int epoch) {
    layer == "conv1" ? row.text("at " + layer) : row.blank();
    row.integer(10 * epoch);
  };
  const fs::path out = dir_ / "tables";
  std::vector<ConvergenceMeasure> measures = registry_columns();
  measures.push_back(made_up);
  write_analysis_csv(out.string(), sample(), measures);
  const std::vector<std::string> conv = lines_of(out / "convergence.csv");
  ASSERT_EQ(conv.size(), 7u);
  EXPECT_EQ(conv[0],
            "layer,epoch,filter_similarity,weight_change,final_image_share,converged_at,weight_progress,"
            "progress_converged_at,jumps,went_silent,came_back,inactive,probe_test_accuracy,probe_converged_at,"
            "probe_gain,probe_useful_at,cka_to_final,cka_settles_at,made_up_layer,made_up_epoch,"
            "init_rank_correlation");
  EXPECT_EQ(conv[2], "conv1,2,0.6,0.2,0.5,5,0.25,5,1,0,0,0,,,,,,,at conv1,20,");
  EXPECT_EQ(conv[6], "conv2,5,0.7,0.4,1,-1,1,5,1,0,0,0,,,,,,,,50,");
  // Alone: the analysis' own columns and its.
  write_analysis_csv(out.string(), sample(), {made_up});
  EXPECT_EQ(lines_of(out / "convergence.csv")[2], "conv1,2,0.6,0.2,0.5,5,0.25,5,1,0,0,0,at conv1,20,");
}

TEST_F(AnalysisFileTest, InactiveIsMinusOneInTheFileAndEveryTable) {
  // conv1 feature 7 (f = 1) fired on no image at epoch 2 (index 1): it went silent 1 -> 2
  // and came back 2 -> 5. Its projection there is zero, as the analysis leaves it.
  AnalysisResult r = sample();
  LayerEvolution& ev = r.evolution[0];
  ev.strongest[1 * 2 + 1] = Activation{};  // image -1, position (0, 0), value 0
  ev.windows[1 * 2 + 1] = Window{};
  LayerJumps& j = r.jumps[0];
  j.image_changed[1] = j.jump[1] = 0, j.went_silent[1] = 1;  // row (1-1) * F + 1
  j.image_changed[3] = j.jump[3] = 0, j.came_back[3] = 1;    // row (2-1) * F + 1

  const std::string path = file("analysis.h5");
  write_analysis(path, r);
  const AnalysisResult back = read_analysis(path);
  expect_same(back, r);
  EXPECT_EQ(back.evolution[0].strongest[3].image, -1);
  EXPECT_EQ(back.topk.at(2)[0].acts[3].image, -1);  // an empty top-k slot

  const fs::path out = dir_ / "tables";
  write_analysis_csv(out.string(), r, registry_columns());
  const std::vector<std::string> evo = lines_of(out / "evolution.csv");
  EXPECT_EQ(evo[4], "conv1,7,2,-1,0,0,0");  // layer, feature, epoch, image_index, y, x, activation
  const std::vector<std::string> jumps = lines_of(out / "jumps.csv");
  EXPECT_EQ(jumps[2], "conv1,7,1,2,1,-1,0,0.1,0.01,0,went_silent");
  EXPECT_EQ(jumps[4], "conv1,7,2,5,-1,5,0,0.3,0.03,0,came_back");
  const std::vector<std::string> conv = lines_of(out / "convergence.csv");
  EXPECT_EQ(conv[2], "conv1,2,0.6,0.2,0.5,5,0.25,5,1,1,0,1,,,,,,,");  // 1 jump, 1 went silent, 1 inactive
  EXPECT_EQ(conv[3], "conv1,5,0.7,0.4,1,5,1,5,1,0,1,0,,,,,,,");       // 1 jump, 1 came back
}

}  // namespace
}  // namespace ds

// --- values checked on read and before writing (issue 10) ------------------------------

namespace ds {
namespace {

class AnalysisValueTest : public AnalysisFileTest {};

TEST_F(AnalysisValueTest, ImageIndexOutsideTheProbeAndNaNActivationsAreRefused) {
  const std::string path = file("analysis.h5");
  for (int64_t bad : {int64_t(1000000000), int64_t(-5)}) {
    write_analysis(path, sample());
    {
      h5::File f = h5::File::open_readwrite(path);
      {
        h5::Group g = f.root().open_group("evolution/conv1");
        std::vector<int64_t> dims;
        std::vector<int64_t> idx = g.read_dataset_i64("image_index", &dims);
        idx[1] = bad;
        g.write_dataset("image_index", dims, idx);
      }
      f.close();
    }
    expect_error([&] { read_analysis(path); }, ErrorKind::snapshot, path + ": /evolution/conv1/image_index",
                 "found " + std::to_string(bad) + " at entry 1");
  }
  write_analysis(path, sample());
  {
    h5::File f = h5::File::open_readwrite(path);
    {
      h5::Group g = f.root().open_group("evolution/conv2");
      std::vector<int64_t> dims;
      std::vector<float> v = g.read_dataset_f32("activation", &dims);
      v[0] = NAN;
      g.write_dataset("activation", dims, v);
    }
    f.close();
  }
  expect_error([&] { read_analysis(path); }, ErrorKind::snapshot, path + ": /evolution/conv2/activation", "finite");
}

TEST_F(AnalysisValueTest, UnvalidatedValuesAreNeverWritten) {
  const std::string path = file("analysis.h5");
  AnalysisResult r = sample();
  r.evolution[0].strongest[0].image = r.probe_count;  // one past the probe
  expect_error([&] { write_analysis(path, r); }, ErrorKind::internal, path + ": /evolution/conv1/image_index", "");
  EXPECT_FALSE(std::filesystem::exists(path));
}

TEST_F(AnalysisValueTest, SnapshotChecksumsRoundTrip) {
  const std::string path = file("analysis.h5");
  AnalysisResult r = sample();
  r.snapshot_sha256.assign(r.epochs.size(), std::string(64, 'a'));
  write_analysis(path, r);
  EXPECT_EQ(read_analysis(path).snapshot_sha256, r.snapshot_sha256);
  r.snapshot_sha256[0] = "not hex";
  expect_error([&] { write_analysis(path, r); }, ErrorKind::internal, path + ": / attribute snapshot_sha256", "64 hex");
}

// --- the sanity baseline, init_rank_correlation (format version 3) --------------------

TEST_F(AnalysisValueTest, BaselineMediansGoToConvergenceCsv) {
  const fs::path out = dir_ / "tables";
  write_analysis_csv(out.string(), with_baseline(sample()), registry_columns());
  const std::vector<std::string> conv = lines_of(out / "convergence.csv");
  ASSERT_EQ(conv.size(), 7u);
  // conv1 (F = 2): epoch 1: 1, 1; epoch 2: NaN (undefined), 0.625; epoch 5: 0.5, 0.375.
  EXPECT_EQ(conv[1], "conv1,1,0.5,0,0.5,5,0,5,0,0,0,0,,,,,,,1");
  EXPECT_EQ(conv[2], "conv1,2,0.6,0.2,0.5,5,0.25,5,1,0,0,0,,,,,,,0.625");
  EXPECT_EQ(conv[3], "conv1,5,0.7,0.4,1,5,1,5,1,0,0,0,,,,,,,0.4375");  // the mean of the middle two
  // conv2 (F = 3): epoch 2: NaN, 0.5, 0.375; epoch 5: 0.25, 0.125, 0.
  EXPECT_EQ(conv[5], "conv2,2,0.6,0.2,0.5,-1,0.25,5,2,0,0,0,,,,,,,0.4375");
  EXPECT_EQ(conv[6], "conv2,5,0.7,0.4,1,-1,1,5,1,0,0,0,,,,,,,0.125");
}

TEST_F(AnalysisValueTest, AVersion2FileReadsAsBaselineNotComputed) {
  // Version 2 is version 3 without the two init_rank_correlation datasets.
  const std::string path = file("analysis.h5");
  write_analysis(path, sample());
  {
    h5::File f = h5::File::open_readwrite(path);
    EXPECT_FALSE(f.root().exists("evolution/conv1/init_rank_correlation"));
    f.root().write_attr_int("format_version", 2);
    f.close();
  }
  const AnalysisResult back = read_analysis(path);
  expect_same(back, sample());
  for (size_t l = 0; l < 2; ++l) {
    EXPECT_TRUE(back.evolution[l].init_rank_correlation.empty());
    EXPECT_TRUE(back.convergence[l].init_rank_correlation.empty());
  }
  // Its convergence.csv has the column, empty.
  write_analysis_csv((dir_ / "tables").string(), back, registry_columns());
  EXPECT_EQ(lines_of(dir_ / "tables" / "convergence.csv")[1], "conv1,1,0.5,0,0.5,5,0,5,0,0,0,0,,,,,,,");
}

TEST_F(AnalysisValueTest, BaselineValuesAgainstTheirDefinitionAreCheckedBeforeWriting) {
  const std::string path = file("analysis.h5");
  const std::string at = path + ": /evolution/conv1/init_rank_correlation";
  struct Case {
    const char* what;
    void (*spoil)(AnalysisResult&);
    std::string where, problem;
  };
  const std::vector<Case> cases = {
      {"a value where inactive", [](AnalysisResult& r) { r.evolution[0].strongest[3] = Activation{}; }, at,
       "NaN where the feature is inactive"},
      {"not 1 at the first epoch", [](AnalysisResult& r) { r.evolution[0].init_rank_correlation[1] = 0.5f; }, at,
       "1 at the first epoch"},
      {"out of range", [](AnalysisResult& r) { r.evolution[0].init_rank_correlation[3] = 1.5f; }, at, "[-1, 1]"},
      {"a median that is not the features'",
       [](AnalysisResult& r) { r.convergence[0].init_rank_correlation[2] = 0.5f; },
       path + ": /metrics/convergence/conv1/init_rank_correlation", "the median"},
      {"medians without figures", [](AnalysisResult& r) { r.evolution[1].init_rank_correlation.clear(); },
       path + ": /metrics/convergence/conv2/init_rank_correlation", "present without"},
      {"the wrong count", [](AnalysisResult& r) { r.evolution[0].init_rank_correlation.pop_back(); }, at, "6 entries"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.what);
    AnalysisResult r = with_baseline(sample());
    c.spoil(r);
    expect_error([&] { write_analysis(path, r); }, ErrorKind::internal, c.where, c.problem);
    EXPECT_FALSE(fs::exists(path));
  }
}

TEST_F(AnalysisValueTest, ABaselineDatasetOfTheWrongShapeOrWithoutItsFiguresIsRefusedOnRead) {
  const std::string path = file("analysis.h5");
  write_analysis(path, with_baseline(sample()));
  {
    h5::File f = h5::File::open_readwrite(path);
    H5Ldelete(f.root().id(), "evolution/conv2/init_rank_correlation", H5P_DEFAULT);
    f.close();
  }
  expect_error([&] { read_analysis(path); }, ErrorKind::snapshot,
               path + ": /metrics/convergence/conv2/init_rank_correlation", "present without");
  write_analysis(path, with_baseline(sample()));
  {
    h5::File f = h5::File::open_readwrite(path);
    H5Ldelete(f.root().id(), "evolution/conv1/init_rank_correlation", H5P_DEFAULT);
    f.root().open_group("evolution/conv1").write_dataset("init_rank_correlation", {2, 3}, std::vector<float>(6, 1.f));
    f.close();
  }
  expect_error([&] { read_analysis(path); }, ErrorKind::snapshot, "init_rank_correlation", "(3, 2)");
}

}  // namespace
}  // namespace ds
