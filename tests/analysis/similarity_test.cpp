// Representation similarity (analysis/similarity.hpp): linear CKA against its known
// properties (1 for identical inputs, invariant to an orthogonal transform and to isotropic
// scaling, near 0 for independent features) and against a naive float64 loop of the
// feature-space formula; a tiny trained run's every number reproduced from plain loops
// (forward, pooling, CKA); the file as docs/similarity-format.md describes it, read with
// the HDF5 C API; and the command line: bad input exits 2 naming the key with nothing
// written, a good run writes its files, analyze runs it on request and compare shows it.
#include <gtest/gtest.h>
#include <hdf5.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include <opencv2/core.hpp>

#include "cli/cli_util.hpp"
#include "deconvscope/analysis/similarity.hpp"
#include "deconvscope/core/error.hpp"
#include "deconvscope/io/h5.hpp"
#include "deconvscope/model/evaluate.hpp"
#include "deconvscope/model/network.hpp"
#include "deconvscope/train/trainer.hpp"
#include "train/synthetic_run.hpp"

namespace fs = std::filesystem;

namespace ds {
namespace {

std::vector<float> random_values(size_t n, uint64_t seed, float offset = 0.f) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> g(0.f, 1.f);
  std::vector<float> v(n);
  for (float& x : v) x = g(rng) + offset;
  return v;
}

// The definition, spelled out in float64: |Yc' Xc|_F^2 / (|Xc' Xc|_F |Yc' Yc|_F), columns centred.
double naive_cka(const std::vector<float>& x, int dx, const std::vector<float>& y, int dy, int n) {
  auto centred = [n](const std::vector<float>& a, int d) {
    std::vector<double> c(size_t(n) * d);
    for (int j = 0; j < d; ++j) {
      double m = 0;
      for (int i = 0; i < n; ++i) m += a[size_t(i) * d + j];
      m /= n;
      for (int i = 0; i < n; ++i) c[size_t(i) * d + j] = a[size_t(i) * d + j] - m;
    }
    return c;
  };
  const std::vector<double> xc = centred(x, dx), yc = centred(y, dy);
  auto cross_norm2 = [n](const std::vector<double>& a, int da, const std::vector<double>& b, int db) {
    double s = 0;  // |A' B|_F^2
    for (int p = 0; p < da; ++p)
      for (int q = 0; q < db; ++q) {
        double v = 0;
        for (int i = 0; i < n; ++i) v += a[size_t(i) * da + p] * b[size_t(i) * db + q];
        s += v * v;
      }
    return s;
  };
  return cross_norm2(yc, dy, xc, dx) / (std::sqrt(cross_norm2(xc, dx, xc, dx)) * std::sqrt(cross_norm2(yc, dy, yc, dy)));
}

// x (n, d) times a random d x d orthogonal matrix (the U of a random matrix's SVD).
std::vector<float> rotated(const std::vector<float>& x, int n, int d, uint64_t seed) {
  cv::Mat a(d, d, CV_64F);
  const std::vector<float> r = random_values(size_t(d) * d, seed);
  for (int i = 0; i < d * d; ++i) a.at<double>(i / d, i % d) = r[size_t(i)];
  cv::Mat w, u, vt;
  cv::SVD::compute(a, w, u, vt);
  std::vector<float> out(size_t(n) * d);
  for (int i = 0; i < n; ++i)
    for (int j = 0; j < d; ++j) {
      double s = 0;
      for (int k = 0; k < d; ++k) s += x[size_t(i) * d + k] * u.at<double>(k, j);
      out[size_t(i) * d + j] = float(s);
    }
  return out;
}

TEST(LinearCka, OneForIdenticalInputs) {
  const int n = 200, d = 12;
  const std::vector<float> x = random_values(size_t(n) * d, 1, 3.f);
  EXPECT_NEAR(linear_cka(x.data(), d, x.data(), d, n), 1.0, 1e-6);
}

TEST(LinearCka, InvariantToOrthogonalTransformAndIsotropicScaling) {
  const int n = 150, dx = 10, dy = 7;
  const std::vector<float> x = random_values(size_t(n) * dx, 2, 1.f);
  std::vector<float> y(size_t(n) * dy);
  // y depends on x (a random linear map plus noise), so CKA is well inside (0, 1).
  const std::vector<float> m = random_values(size_t(dx) * dy, 3), noise = random_values(y.size(), 4);
  for (int i = 0; i < n; ++i)
    for (int j = 0; j < dy; ++j) {
      double s = noise[size_t(i) * dy + j];
      for (int k = 0; k < dx; ++k) s += x[size_t(i) * dx + k] * m[size_t(k) * dy + j];
      y[size_t(i) * dy + j] = float(s);
    }
  const double base = linear_cka(x.data(), dx, y.data(), dy, n);
  ASSERT_GT(base, 0.2);
  ASSERT_LT(base, 0.99);
  const std::vector<float> xq = rotated(x, n, dx, 5), yq = rotated(y, n, dy, 6);
  EXPECT_NEAR(linear_cka(xq.data(), dx, y.data(), dy, n), base, 1e-5);
  EXPECT_NEAR(linear_cka(x.data(), dx, yq.data(), dy, n), base, 1e-5);
  std::vector<float> xs = x, ys = y;
  for (float& v : xs) v *= 37.5f;
  for (float& v : ys) v *= 0.02f;
  EXPECT_NEAR(linear_cka(xs.data(), dx, y.data(), dy, n), base, 1e-5);
  EXPECT_NEAR(linear_cka(x.data(), dx, ys.data(), dy, n), base, 1e-5);
  // Not invariant to everything: scaling one column alone changes it.
  xs = x;
  for (int i = 0; i < n; ++i) xs[size_t(i) * dx] *= 10.f;
  EXPECT_GT(std::abs(linear_cka(xs.data(), dx, y.data(), dy, n) - base), 1e-3);
}

TEST(LinearCka, NearZeroForIndependentFeatures) {
  const int n = 2000, d = 10;
  const std::vector<float> x = random_values(size_t(n) * d, 7), y = random_values(size_t(n) * d, 8);
  // For independent Gaussian features E[CKA] is about d / n = 0.005.
  EXPECT_LT(linear_cka(x.data(), d, y.data(), d, n), 0.03);
}

TEST(LinearCka, MatchesNaiveFloat64Loop) {
  for (auto [n, dx, dy, offset] : {std::tuple{37, 5, 8, 0.f}, {20, 30, 3, 50.f}, {64, 16, 16, 2.f}, {3, 2, 2, 0.f}}) {
    const std::vector<float> x = random_values(size_t(n) * dx, 11, offset);
    std::vector<float> y = random_values(size_t(n) * dy, 12, -offset);
    for (int i = 0; i < n; ++i) y[size_t(i) * dy] += 0.7f * x[size_t(i) * dx];  // some shared signal
    EXPECT_NEAR(linear_cka(x.data(), dx, y.data(), dy, n), naive_cka(x, dx, y, dy, n), 1e-5)
        << n << " images, " << dx << " and " << dy << " features, offset " << offset;
  }
}

TEST(LinearCka, ConstantFeaturesHaveNoRepresentation) {
  const int n = 10, d = 3;
  const std::vector<float> x(size_t(n) * d, 0.5f), y = random_values(size_t(n) * d, 13);
  EXPECT_TRUE(std::isnan(linear_cka(x.data(), d, y.data(), d, n)));
}

TEST(SimilaritySettling, FirstEpochFromWhichItStaysAtOrAbove) {
  SimilarityResult r;
  r.epochs = {0, 1, 2, 5};
  r.layers = {"a", "b", "c"};
  // Epoch-major [E * L]: a settles at 1 (dips are before), b only at the last, c never (NaN).
  const float nan = std::nanf("");
  r.to_final = {0.5f, 0.1f, nan, 0.95f, 0.2f, nan, 0.91f, 0.85f, nan, 1.f, 1.f, nan};
  EXPECT_EQ(cka_settles_at(r, 0, 0.9), 1);
  EXPECT_EQ(cka_settles_at(r, 1, 0.9), 5);
  EXPECT_EQ(cka_settles_at(r, 1, 0.94), 5);
  EXPECT_EQ(cka_settles_at(r, 1, 0.1), 0);
  EXPECT_EQ(cka_settles_at(r, 2, 0.9), -1);
}

// --- a tiny trained run, every number from plain loops ------------------------------------

class SimilarityRun : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    root_ = testutil::make_temp_dir("similarity");
    data_ = root_ + "/data";
    fs::create_directories(data_);
    testutil::write_synthetic_mnist(data_, 300, 100);
    run_ = root_ + "/run";
    train(config({}), TrainOptions{}, Comm::world());
  }
  static void TearDownTestSuite() {
    std::error_code ec;
    fs::remove_all(root_, ec);
  }
  static Config config(std::vector<std::string> extra) {
    register_similarity_section();  // the keys below are the analysis' own, not the config stage's
    std::vector<std::string> more = {"--train.epochs", "2", "--snapshot.epochs", "0,1,2", "--analysis.batch", "32",
                                     "--similarity.images", "90"};
    more.insert(more.end(), extra.begin(), extra.end());
    return load_config(testutil::tiny_run_args(data_, run_, more));
  }
  static std::string root_, data_, run_;
};
std::string SimilarityRun::root_, SimilarityRun::data_, SimilarityRun::run_;

// Pooled features (n, C * gh * gw) of one layer's output (n, C, H, W), by the cell rule
// written out: cell i of g on a side of `size` covers [floor(i * size / g), ceil((i + 1) * size / g)).
std::vector<float> naive_pool(const std::vector<float>& a, int n, int C, int H, int W, int grid) {
  const int gh = std::min(H, grid), gw = std::min(W, grid);
  std::vector<float> out;
  for (int s = 0; s < n; ++s)
    for (int c = 0; c < C; ++c)
      for (int i = 0; i < gh; ++i)
        for (int j = 0; j < gw; ++j) {
          const int ylo = int(std::floor(double(i) * H / gh)), yhi = int(std::ceil(double(i + 1) * H / gh));
          const int xlo = int(std::floor(double(j) * W / gw)), xhi = int(std::ceil(double(j + 1) * W / gw));
          double sum = 0;
          int count = 0;
          for (int y = ylo; y < yhi; ++y)
            for (int x = xlo; x < xhi; ++x, ++count) sum += a[((size_t(s) * C + c) * H + y) * W + x];
          out.push_back(float(sum / count));
        }
  return out;
}

TEST_F(SimilarityRun, EveryNumberFromPlainLoopsAndTheFileRoundTrip) {
  const Config cfg = config({"--similarity.grid", "3"});
  const ds::Run run = ds::Run::open(run_, cfg);
  const SimilarityResult r = compute_similarity(run, similarity_config(cfg), /*show_progress=*/false);
  ASSERT_EQ(r.epochs, (std::vector<int>{0, 1, 2}));
  ASSERT_EQ(r.layers, (std::vector<std::string>{"c1", "c2"}));  // f3 is the last layer: not hidden
  EXPECT_EQ(r.image_count, 90);
  EXPECT_EQ(r.grid, 3);
  // c1 read at r1: 4 x 12x12 pooled to 3x3; c2 at r2: 6 x 6x6 pooled to 3x3.
  EXPECT_EQ(r.feature_dim, (std::vector<int64_t>{36, 54}));

  // The reference: each snapshot's network at batch 90, every layer's rectified output
  // pooled by plain loops, CKA by the float64 formula.
  const int n = 90;
  const RunImages images = run.images(true, n);
  std::vector<std::vector<std::vector<float>>> feats(3);  // [snapshot][layer] (n, D)
  for (size_t e = 0; e < 3; ++e) {
    const Snapshot s = run.read(e);
    auto net = run.network(n);
    net->import_params(s.params);
    std::vector<float> input;
    std::vector<int32_t> labels;
    fill_batch(images.images(), 0, n, Normalization{s.input_mean, s.input_std}, n, input, labels);
    net->forward(input.data(), Mode::infer);
    for (int out : {1, 4}) {  // r1, r2
      Tensor act;
      net->read_output(out, act);
      const LayerShape& sh = net->shapes()[size_t(out)];
      feats[e].push_back(naive_pool(act.data, n, sh.channels, sh.height, sh.width, 3));
    }
  }
  const int dims[2] = {36, 54};
  for (size_t e = 0; e < 3; ++e)
    for (size_t l = 0; l < 2; ++l) {
      EXPECT_NEAR(r.to_final[r.index(e, l)], naive_cka(feats[e][l], dims[l], feats[2][l], dims[l], n), 2e-5)
          << "epoch " << r.epochs[e] << " " << r.layers[l];
      if (e == 0)
        EXPECT_TRUE(std::isnan(r.to_previous[r.index(e, l)]));
      else
        EXPECT_NEAR(r.to_previous[r.index(e, l)], naive_cka(feats[e][l], dims[l], feats[e - 1][l], dims[l], n), 2e-5)
            << "epoch " << r.epochs[e] << " " << r.layers[l];
      for (size_t b = 0; b < 2; ++b)
        EXPECT_NEAR(r.layer_by_layer[(e * 2 + l) * 2 + b], naive_cka(feats[e][l], dims[l], feats[e][b], dims[b], n),
                    2e-5);
    }
  EXPECT_EQ(r.to_final[r.index(2, 0)], 1.f);
  EXPECT_EQ(r.to_final[r.index(2, 1)], 1.f);
  // Training moved the representations: the first snapshot is not the final one.
  EXPECT_LT(r.to_final[r.index(0, 1)], 0.999f);

  const std::string file = root_ + "/similarity.h5";
  write_similarity(file, r);
  const SimilarityResult b = read_similarity(file);
  EXPECT_EQ(b.epochs, r.epochs);
  EXPECT_EQ(b.layers, r.layers);
  EXPECT_EQ(b.image_count, r.image_count);
  EXPECT_EQ(b.grid, r.grid);
  EXPECT_EQ(b.to_final, r.to_final);
  for (size_t i = 0; i < r.to_previous.size(); ++i)
    EXPECT_TRUE(b.to_previous[i] == r.to_previous[i] || (std::isnan(b.to_previous[i]) && std::isnan(r.to_previous[i])));
  EXPECT_EQ(b.layer_by_layer, r.layer_by_layer);
  write_similarity_csv(root_ + "/csv", r);
  const std::string csv = clitest::read_file(root_ + "/csv/similarity.csv");
  EXPECT_EQ(csv.substr(0, csv.find('\n')), "layer,epoch,to_final,to_previous,with_c1,with_c2,image_count,grid");
  EXPECT_NE(csv.find("\nc1,0,"), std::string::npos);
  EXPECT_NE(csv.find(",nan,"), std::string::npos) << "to_previous at the first snapshot";
}

// docs/similarity-format.md, checked with the HDF5 C API rather than our own reader.
TEST_F(SimilarityRun, TheFileAsDocumented) {
  const Config cfg = config({"--similarity.layers", "c2,c1"});
  const SimilarityResult r = compute_similarity(ds::Run::open(run_, cfg), similarity_config(cfg), false);
  EXPECT_EQ(r.layers, (std::vector<std::string>{"c1", "c2"})) << "forward order whatever the list's";
  const std::string path = root_ + "/doc.h5";
  write_similarity(path, r);
  H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
  const hid_t f = H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
  ASSERT_GE(f, 0);
  auto attr = [&](const char* name, H5T_class_t cls, size_t bytes, int rank, hsize_t n = 0) {
    const hid_t a = H5Aopen_by_name(f, "/", name, H5P_DEFAULT, H5P_DEFAULT);
    ASSERT_GE(a, 0) << name;
    const hid_t t = H5Aget_type(a), sp = H5Aget_space(a);
    EXPECT_EQ(H5Tget_class(t), cls) << name;
    if (bytes) {
      EXPECT_EQ(H5Tget_size(t), bytes) << name;
    }
    EXPECT_EQ(H5Sget_simple_extent_ndims(sp), rank) << name;
    if (rank == 1) {
      hsize_t d = 0;
      H5Sget_simple_extent_dims(sp, &d, nullptr);
      EXPECT_EQ(d, n) << name;
    }
    H5Sclose(sp), H5Tclose(t), H5Aclose(a);
  };
  attr("format", H5T_STRING, 0, 0);
  attr("format_version", H5T_INTEGER, 4, 0);
  attr("epochs", H5T_INTEGER, 4, 1, 3);
  attr("layers", H5T_STRING, 0, 1, 2);
  attr("image_count", H5T_INTEGER, 8, 0);
  attr("grid", H5T_INTEGER, 4, 0);
  {
    const hid_t a = H5Aopen_by_name(f, "/", "format", H5P_DEFAULT, H5P_DEFAULT);
    const hid_t t = H5Aget_type(a);
    char* s = nullptr;
    ASSERT_GE(H5Aread(a, t, &s), 0);
    EXPECT_STREQ(s, "deconvscope.similarity");
    H5free_memory(s);
    H5Tclose(t), H5Aclose(a);
    int32_t version = 0, grid = 0;
    int64_t count = 0;
    std::vector<int32_t> epochs(3);
    const hid_t v = H5Aopen_by_name(f, "/", "format_version", H5P_DEFAULT, H5P_DEFAULT);
    H5Aread(v, H5T_NATIVE_INT32, &version), H5Aclose(v);
    const hid_t g = H5Aopen_by_name(f, "/", "grid", H5P_DEFAULT, H5P_DEFAULT);
    H5Aread(g, H5T_NATIVE_INT32, &grid), H5Aclose(g);
    const hid_t c = H5Aopen_by_name(f, "/", "image_count", H5P_DEFAULT, H5P_DEFAULT);
    H5Aread(c, H5T_NATIVE_INT64, &count), H5Aclose(c);
    const hid_t ep = H5Aopen_by_name(f, "/", "epochs", H5P_DEFAULT, H5P_DEFAULT);
    H5Aread(ep, H5T_NATIVE_INT32, epochs.data()), H5Aclose(ep);
    EXPECT_EQ(version, 1);
    EXPECT_EQ(grid, 4);
    EXPECT_EQ(count, 90);
    EXPECT_EQ(epochs, (std::vector<int32_t>{0, 1, 2}));
  }
  for (auto [name, dims] : {std::pair<const char*, std::vector<hsize_t>>{"to_final", {3, 2}},
                            {"to_previous", {3, 2}},
                            {"layer_by_layer", {3, 2, 2}}}) {
    const hid_t d = H5Dopen2(f, name, H5P_DEFAULT);
    ASSERT_GE(d, 0) << name;
    const hid_t t = H5Dget_type(d), sp = H5Dget_space(d);
    EXPECT_EQ(H5Tget_class(t), H5T_FLOAT) << name;
    EXPECT_EQ(H5Tget_size(t), 4u) << name;
    std::vector<hsize_t> got(size_t(H5Sget_simple_extent_ndims(sp)));
    H5Sget_simple_extent_dims(sp, got.data(), nullptr);
    EXPECT_EQ(got, dims) << name;
    std::vector<float> values(r.epochs.size() * (std::string(name) == "layer_by_layer" ? 4 : 2));
    ASSERT_GE(H5Dread(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, values.data()), 0);
    const std::vector<float>& want =
        std::string(name) == "to_final" ? r.to_final : std::string(name) == "to_previous" ? r.to_previous : r.layer_by_layer;
    for (size_t i = 0; i < values.size(); ++i)
      EXPECT_TRUE(values[i] == want[i] || (std::isnan(values[i]) && std::isnan(want[i]))) << name << "[" << i << "]";
    H5Sclose(sp), H5Tclose(t), H5Dclose(d);
  }
  // Nothing else at the root: the datasets are exactly the documented three.
  H5G_info_t info;
  H5Gget_info(f, &info);
  EXPECT_EQ(info.nlinks, 3u);
  H5Fclose(f);
}

TEST_F(SimilarityRun, BadInputNamesTheKey) {
  auto fails_naming = [&](const std::vector<std::string>& extra, const std::string& key) {
    try {
      const Config cfg = config(extra);
      compute_similarity(ds::Run::open(run_, cfg), similarity_config(cfg), false);
      ADD_FAILURE() << "no error for " << key;
    } catch (const Error& e) {
      EXPECT_EQ(e.exit_code(), 2) << e.what();
      EXPECT_NE(std::string(e.what()).find(key), std::string::npos) << e.what();
    }
  };
  fails_naming({"--similarity.layers", "nope"}, "similarity.layers");
  fails_naming({"--similarity.layers", "r1"}, "similarity.layers");
  fails_naming({"--similarity.images", "301"}, "similarity.images");
  fails_naming({"--similarity.images", "1"}, "similarity.images");
  fails_naming({"--similarity.grid", "0"}, "similarity.grid");
  fails_naming({"--similarity.settle_threshold", "1.5"}, "similarity.settle_threshold");
}

TEST(SimilarityFile, AnotherFormatIsRefusedNamingTheAttribute) {
  const std::string path = testing::TempDir() + "/not-similarity.h5";
  h5::write_atomically(path, [](h5::File& f) {
    f.root().write_attr_string("format", "deconvscope.linear_probes");
    f.root().write_attr_int("format_version", 1);
  });
  try {
    read_similarity(path);
    ADD_FAILURE() << "read";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::snapshot) << e.what();
    EXPECT_NE(std::string(e.what()).find("attribute format:"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("deconvscope.similarity"), std::string::npos) << e.what();
  }
}

// --- the command line ---------------------------------------------------------------------

TEST(SimilarityCli, BadInputExits2AndAGoodRunWritesItsFiles) {
  using namespace clitest;
  TempDir t("similarity");
  write_mnist(t / "data", 200, 64);
  const std::string run = t / "run";
  write_file(t / "tiny.cfg", tiny_config(t / "data", run, 2));
  ASSERT_EQ(clitest::run({"train", "--config", t / "tiny.cfg"}, t / "train").code, 0);
  const auto before = tree(run);
  for (auto [flag, value] : {std::pair{"--similarity.layers", "conv9"},
                             {"--similarity.images", "201"},
                             {"--similarity.grid", "0"}}) {
    const Result r = clitest::run({"similarity", "--run", run, flag, value}, t / "bad");
    EXPECT_EQ(r.code, 2) << flag << ": " << r.err;
    EXPECT_NE(r.err.find(std::string(flag).substr(2)), std::string::npos) << r.err;
    EXPECT_EQ(r.err.find('\n'), r.err.size() - 1) << "one line: " << r.err;
  }
  EXPECT_EQ(tree_diff(before, tree(run)), "") << "a refused command changes nothing";

  const Result ok = clitest::run({"similarity", "--run", run, "--similarity.images", "150"}, t / "ok");
  ASSERT_EQ(ok.code, 0) << ok.err;
  EXPECT_NE(ok.out.find("settles at"), std::string::npos) << ok.out;
  for (const char* f : {"analysis/similarity.h5", "analysis/similarity.csv", "report/similarity.html"})
    EXPECT_TRUE(fs::exists(run + "/" + f)) << f;
  EXPECT_FALSE(fs::exists(run + "/similarity.incomplete"));
  const std::string page = read_file(run + "/report/similarity.html");
  EXPECT_NE(page.find("data:image/png;base64,"), std::string::npos);
  EXPECT_NE(page.find("Layer by layer"), std::string::npos);

  // analyze runs it when similarity.in_analyze asks: the index links the page and its
  // Convergence headline fills "representation settles at"; convergence.csv has the columns.
  fs::remove(run + "/report/similarity.html");
  const Result an = clitest::run({"analyze", "--run", run, "--similarity.in_analyze", "true", "--similarity.images",
                                  "100", "--analysis.probe_limit", "64"},
                                 t / "analyze");
  ASSERT_EQ(an.code, 0) << an.err;
  EXPECT_TRUE(fs::exists(run + "/report/similarity.html"));
  const std::string index = read_file(run + "/report/index.html");
  EXPECT_NE(index.find("href=\"similarity.html\""), std::string::npos);
  EXPECT_NE(index.find("representation settles at"), std::string::npos);
  EXPECT_EQ(index.find("needs the run's similarity analysis"), std::string::npos);
  EXPECT_EQ(index.find("converged"), std::string::npos);
  const std::string conv = read_file(run + "/analysis/convergence.csv");
  EXPECT_NE(conv.find(",cka_to_final,cka_settles_at,init_rank_correlation\n"), std::string::npos);
  // Every analysed conv layer has its CKA columns (17 and 18 of 19).
  for (const std::vector<std::string>& cells : clitest::csv_rows(conv)) {
    ASSERT_GE(cells.size(), 18u) << cells[0];
    EXPECT_FALSE(cells[16].empty() || cells[17].empty()) << cells[0];
  }

  // compare shows each run's curves and notes a run without them.
  const std::string other = t / "other";
  fs::copy(run, other, fs::copy_options::recursive);
  fs::remove(other + "/analysis/similarity.h5");
  const Result cmp = clitest::run({"compare", "--run", run, "--run", other, "--out", t / "cmp"}, t / "compare");
  ASSERT_EQ(cmp.code, 0) << cmp.err;
  const std::string html = read_file(t / "cmp/index.html");
  EXPECT_NE(html.find("CKA to the final snapshot"), std::string::npos);
  EXPECT_NE(html.find("no similarity"), std::string::npos);
}

}  // namespace
}  // namespace ds
