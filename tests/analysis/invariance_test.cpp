// Invariance (analysis/invariance.hpp): the transformations against hand-made images, the
// distances of whole-pixel translations on a network whose answer is known by hand, the
// identity giving zero distance and the same probability, and a real tiny run whose stored
// inputs, run through each snapshot again, reproduce the stored figures.
#include "deconvscope/analysis/invariance.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <random>
#include <vector>

#include "deconvscope/analysis/forward_images.hpp"
#include "deconvscope/config/sweep.hpp"
#include "deconvscope/core/error.hpp"
#include "deconvscope/io/h5.hpp"
#include "deconvscope/io/run_folder.hpp"
#include "deconvscope/model/network.hpp"
#include "deconvscope/train/trainer.hpp"
#include "train/synthetic_run.hpp"

namespace fs = std::filesystem;

namespace ds {
namespace {

std::vector<float> random_image(int C, int H, int W, uint64_t seed) {
  std::mt19937 rng{uint32_t(seed)};
  std::normal_distribution<float> g;
  std::vector<float> x(size_t(C) * H * W);
  for (float& v : x) v = g(rng);
  return x;
}

// The reader's first check (h5::check_format): another deconvscope file is refused naming
// the attribute, and a newer format_version says so.
TEST(InvarianceFile, AnotherFormatOrANewerVersionIsRefusedNamingTheAttribute) {
  const std::string dir = testing::TempDir();
  auto write = [&](const std::string& name, const std::string& format, int version) {
    const std::string path = dir + "/" + name;
    h5::write_atomically(path, [&](h5::File& f) {
      f.root().write_attr_string("format", format);
      f.root().write_attr_int("format_version", version);
    });
    return path;
  };
  for (const auto& [path, what] :
       {std::pair{write("other.h5", "deconvscope.analysis", 1), std::string("attribute format:")},
        std::pair{write("newer.h5", "deconvscope.invariance", 99), std::string("attribute format_version")}}) {
    try {
      read_invariance(path);
      ADD_FAILURE() << path << " was read";
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::snapshot) << e.what();
      EXPECT_NE(std::string(e.what()).find(what), std::string::npos) << e.what();
    }
  }
}

TEST(InvarianceTransform, IdentityValuesLeaveTheImageExactly) {
  const int C = 3, H = 9, W = 8;
  const std::vector<float> x = random_image(C, H, W, 1);
  std::vector<float> y(x.size());
  for (auto [t, v] : {std::pair{Transform::translate_y, 0.0}, {Transform::translate_x, 0.0}, {Transform::scale, 1.0},
                      {Transform::rotate, 0.0}, {Transform::rotate, 360.0}, {Transform::rotate, -360.0}}) {
    std::fill(y.begin(), y.end(), NAN);
    transform_image(x.data(), C, H, W, t, v, y.data());
    EXPECT_EQ(y, x) << transform_name(t) << " " << v;
  }
}

TEST(InvarianceTransform, WholePixelTranslationsMoveContentAndFillWithTheMean) {
  const int H = 6, W = 5;
  const std::vector<float> x = random_image(1, H, W, 2);
  std::vector<float> y(x.size());
  transform_image(x.data(), 1, H, W, Transform::translate_y, 2, y.data());  // down by 2
  for (int r = 0; r < H; ++r)
    for (int c = 0; c < W; ++c) EXPECT_EQ(y[r * W + c], r >= 2 ? x[(r - 2) * W + c] : 0.f) << r << "," << c;
  transform_image(x.data(), 1, H, W, Transform::translate_x, -1, y.data());  // left by 1
  for (int r = 0; r < H; ++r)
    for (int c = 0; c < W; ++c) EXPECT_EQ(y[r * W + c], c < W - 1 ? x[r * W + c + 1] : 0.f) << r << "," << c;
}

TEST(InvarianceTransform, QuarterTurnsAreCounterClockwiseAndScaleIsAboutTheCentre) {
  const int H = 5, W = 5;  // odd: the centre (2, 2) is a pixel
  std::vector<float> x(H * W, 0.f), y(H * W);
  x[2 * W + 3] = 1.f;  // right of the centre
  transform_image(x.data(), 1, H, W, Transform::rotate, 90, y.data());
  std::vector<float> want(H * W, 0.f);
  want[1 * W + 2] = 1.f;  // above the centre
  EXPECT_EQ(y, want);
  transform_image(x.data(), 1, H, W, Transform::rotate, -270, y.data());
  EXPECT_EQ(y, want);
  transform_image(x.data(), 1, H, W, Transform::scale, 2, y.data());  // (2, 3) -> (2, 4)
  EXPECT_FLOAT_EQ(y[2 * W + 4], 1.f);
  EXPECT_FLOAT_EQ(y[2 * W + 2], 0.f);  // the centre stays where it is: it was 0
  x[2 * W + 3] = 0.f;
  x[2 * W + 4] = 1.f;
  transform_image(x.data(), 1, H, W, Transform::scale, 0.5, y.data());  // (2, 4) -> (2, 3)
  want.assign(H * W, 0.f);
  want[2 * W + 3] = 1.f;
  EXPECT_EQ(y, want);
}

TEST(InvarianceSweeps, AutoListsRangesAndBadSweepsNameTheKey) {
  InvarianceConfig c;
  EXPECT_EQ(sweep_values(Transform::translate_y, c, 28, 28), (std::vector<double>{-6, -4, -2, 0, 2, 4, 6}));
  EXPECT_EQ(sweep_values(Transform::translate_x, c, 12, 12), (std::vector<double>{-3, -2, -1, 0, 1, 2, 3}));
  const std::vector<double> rot = sweep_values(Transform::rotate, c, 28, 28);
  ASSERT_EQ(rot.size(), 25u);
  EXPECT_EQ(rot.front(), 0);
  EXPECT_EQ(rot.back(), 360);
  EXPECT_EQ(sweep_values(Transform::scale, c, 28, 28).size(), 9u);
  c.rotate = "90:-90:-45";
  EXPECT_EQ(sweep_values(Transform::rotate, c, 28, 28), (std::vector<double>{90, 45, 0, -45, -90}));
  c.translate = "-1, 0,2";
  EXPECT_EQ(sweep_values(Transform::translate_x, c, 28, 28), (std::vector<double>{-1, 0, 2}));
  for (auto [text, what] : {std::pair{"", "empty sweep"}, {"1,,2", "''"}, {"0:4:-1", "step"}, {"0:4", "from:to:step"},
                            {"0:1000000:1", "at most"}, {"20", "[0.01, 16]"}, {"x", "'x'"}}) {
    try {
      parse_sweep(text, "invariance.scale", 0.01, 16);
      ADD_FAILURE() << "no error for '" << text << "'";
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::config);
      EXPECT_NE(std::string(e.what()).find("invariance.scale"), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find(what), std::string::npos) << e.what();
    }
  }
}

std::vector<LayerSpec> specs(const std::vector<std::pair<LayerType, int>>& layers) {
  std::vector<LayerSpec> out;
  for (size_t i = 0; i < layers.size(); ++i) {
    LayerSpec s;
    s.type = layers[i].first;
    s.name = std::string(layer_type_name(s.type)) + std::to_string(i + 1);
    s.out = layers[i].second;
    if (s.type == LayerType::conv) s.kernel = {1, 1}, s.stride = {1, 1}, s.pad = {0, 0};
    out.push_back(s);
  }
  return out;
}

TEST(InvarianceLayers, DefaultsAreTheFirstConvAndTheLastHiddenFc) {
  const auto net = specs({{LayerType::conv, 2}, {LayerType::relu, 0}, {LayerType::conv, 2}, {LayerType::fc, 4},
                          {LayerType::relu, 0}, {LayerType::fc, 3}, {LayerType::relu, 0}, {LayerType::fc, 2}});
  EXPECT_EQ(invariance_layers(net, {}), (std::vector<int>{0, 5}));
  EXPECT_EQ(invariance_layers(net, {"conv3", "fc8"}), (std::vector<int>{2, 7}));
  const auto no_fc = specs({{LayerType::conv, 2}, {LayerType::relu, 0}, {LayerType::conv, 2}, {LayerType::fc, 2}});
  EXPECT_EQ(invariance_layers(no_fc, {}), (std::vector<int>{0, 2}));  // the last conv layer instead
  for (const std::vector<std::string>& bad : {std::vector<std::string>{"relu2"}, {"nope"}, {"conv1", "conv1"}}) {
    try {
      invariance_layers(net, bad);
      ADD_FAILURE() << bad[0];
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::config);
      EXPECT_NE(std::string(e.what()).find("invariance.layers"), std::string::npos) << e.what();
    }
  }
}

// resolve_layers, the resolver every analysis's layer keys go through: one wording that
// names the key, what the name is, and the layers of the wanted kind.
TEST(ResolveLayers, NamesTheKeyAndListsTheLayersOfTheWantedKind) {
  const auto net = specs({{LayerType::conv, 2}, {LayerType::relu, 0}, {LayerType::conv, 2}, {LayerType::fc, 2}});
  EXPECT_EQ(resolve_layers(net, {"conv3", "conv1"}, "k", LayerKinds::conv), (std::vector<int>{2, 0}));
  EXPECT_EQ(resolve_layers(net, {"fc4"}, "k", LayerKinds::conv_or_fc), (std::vector<int>{3}));
  struct Bad {
    std::vector<std::string> names;
    LayerKinds kinds;
    std::string said;
  };
  for (const Bad& b : {Bad{{"fc4"}, LayerKinds::conv, "found fc layer 'fc4'"},
                       Bad{{"nope"}, LayerKinds::conv, "found 'nope'"},
                       Bad{{"relu2"}, LayerKinds::conv_or_fc, "found relu layer 'relu2'"},
                       Bad{{"conv1", "conv1"}, LayerKinds::conv_or_fc, "'conv1' twice"}}) {
    try {
      resolve_layers(net, b.names, "occlusion.layer", b.kinds);
      ADD_FAILURE() << b.said;
    } catch (const Error& e) {
      const std::string m = e.what();
      EXPECT_EQ(e.kind(), ErrorKind::config);
      EXPECT_NE(m.find("occlusion.layer"), std::string::npos) << m;
      EXPECT_NE(m.find(b.said), std::string::npos) << m;
      if (b.names.size() == 1) {
        const char* listed = b.kinds == LayerKinds::conv ? "conv layers: conv1, conv3" : "conv or fc layers: conv1, conv3, fc4";
        EXPECT_NE(m.find(listed), std::string::npos) << m;
      }
    }
  }
}

// conv1: one 1x1 filter of weight 1 (so relu1 = relu(x)); fc3: one unit summing every
// pixel of relu1 (weights 1), then relu4; fc5: two classes, 1 x fc3 and -1 x fc3. The
// sum of a non-negative image does not change when the image moves inside its frame.
std::unique_ptr<Network> hand_network(int H, int W) {
  const auto net_specs = specs({{LayerType::conv, 1}, {LayerType::relu, 0}, {LayerType::fc, 1}, {LayerType::relu, 0},
                                {LayerType::fc, 2}});
  auto net = std::make_unique<Network>(net_specs, InputShape{1, H, W}, 4, 1);
  std::vector<LayerParams> p = net->export_params();
  std::fill(p[0].weights.data.begin(), p[0].weights.data.end(), 1.f);
  std::fill(p[0].bias.data.begin(), p[0].bias.data.end(), 0.f);
  std::fill(p[2].weights.data.begin(), p[2].weights.data.end(), 1.f);
  std::fill(p[2].bias.data.begin(), p[2].bias.data.end(), 0.f);
  p[4].weights.data = {1.f, -1.f};
  std::fill(p[4].bias.data.begin(), p[4].bias.data.end(), 0.f);
  net->import_params(p);
  return net;
}

TEST(InvarianceMeasure, WholePixelTranslationsOfABlankBorderedImageByHand) {
  const int H = 7, W = 7;
  auto net = hand_network(H, W);
  // A vertical pair a over b in the middle of a blank (mean = 0) frame.
  const float a = 0.5f, b = 0.25f;
  std::vector<float> x(H * W, 0.f);
  x[3 * W + 3] = a;
  x[4 * W + 3] = b;
  InvarianceConfig cfg;
  cfg.translate = "-2,-1,0,1,2";
  cfg.scale = "1";
  cfg.rotate = "0";
  std::vector<InvarianceSweep> sweeps = make_sweeps(cfg, net->input(), x, 1, 2);
  measure_invariance(*net, {1, 3}, x, {0}, 0, sweeps);
  const double norm = std::sqrt(a * a + b * b);
  // Down by one: -a at row 3, a - b at row 4, b at row 5. By two: nothing overlaps.
  const double down1 = std::sqrt(a * a + (a - b) * (a - b) + b * b) / norm, apart = std::sqrt(2.0);
  const std::vector<double> conv_y = {apart, std::sqrt(b * b + (b - a) * (b - a) + a * a) / norm, 0, down1, apart};
  const InvarianceSweep& ty = sweeps[0];
  const InvarianceSweep& tx = sweeps[1];
  ASSERT_EQ(ty.transform, Transform::translate_y);
  for (size_t k = 0; k < 5; ++k) {
    EXPECT_NEAR(ty.distance[0][k], conv_y[k], 1e-6) << "translate_y " << ty.values[k];
    EXPECT_NEAR(tx.distance[0][k], k == 2 ? 0.0 : apart, 1e-6) << "translate_x " << tx.values[k];
    // The summing unit does not move, nor does the class probability (sigmoid(2 (a + b))).
    EXPECT_NEAR(ty.distance[1][k], 0.0, 1e-6);
    EXPECT_NEAR(tx.distance[1][k], 0.0, 1e-6);
    const double p0 = 1.0 / (1.0 + std::exp(-2.0 * (a + b)));
    EXPECT_NEAR(ty.probability[k], p0, 1e-6);
    EXPECT_EQ(ty.predicted[k], 0);
  }
  // Three rows down, b falls out of the frame: the sum loses b, by hand.
  cfg.translate = "3";
  sweeps = make_sweeps(cfg, net->input(), x, 1, 2);
  measure_invariance(*net, {1, 3}, x, {0}, 0, sweeps);
  EXPECT_NEAR(sweeps[0].distance[1][0], b / (a + b), 1e-6);
}

TEST(InvarianceMeasure, IdentityGivesZeroDistanceAndTheSameProbability) {
  LayerSpec conv;
  conv.type = LayerType::conv, conv.name = "c1", conv.out = 3, conv.kernel = {3, 3}, conv.stride = {1, 1}, conv.pad = {1, 1};
  LayerSpec relu;
  relu.type = LayerType::relu, relu.name = "r1";
  LayerSpec fc;
  fc.type = LayerType::fc, fc.name = "f2", fc.out = 64;  // wide: some unit fires for any image
  LayerSpec relu2 = relu;
  relu2.name = "r2";
  LayerSpec out = fc;
  out.name = "f3", out.out = 4;
  const InputShape in{2, 8, 8};
  Network net({conv, relu, fc, relu2, out}, in, 3, 9);
  std::vector<LayerParams> params = net.export_params();  // a new network's weights are not set
  std::mt19937 rng{4};
  std::normal_distribution<float> g(0.f, 0.3f);
  for (LayerParams& p : params) {
    for (float& w : p.weights.data) w = g(rng);
    for (float& b : p.bias.data) b = g(rng);
  }
  net.import_params(params);
  std::vector<float> originals = random_image(2, 8, 8, 5), more = random_image(2, 8, 8, 6);
  originals.insert(originals.end(), more.begin(), more.end());
  const std::vector<int32_t> labels = {1, 3};
  InvarianceConfig cfg;
  cfg.translate = "0";
  cfg.scale = "1";
  cfg.rotate = "0,360";
  std::vector<InvarianceSweep> sweeps = make_sweeps(cfg, in, originals, 2, 2);
  measure_invariance(net, {1, 3}, originals, labels, 1, sweeps);  // slot 1 of 2
  std::vector<float> prob(2 * 4);
  forward_images(net, originals.data(), 2, -1, [&](int64_t, int n) { softmax_rows(net.logits(), n, 4, prob.data()); });
  for (const InvarianceSweep& s : sweeps)
    for (size_t i = 0; i < 2; ++i)
      for (size_t k = 0; k < s.values.size(); ++k) {
        EXPECT_TRUE(std::isnan(s.probability[s.at(0, i, k, 2)]));  // slot 0 untouched
        for (size_t l = 0; l < 2; ++l) EXPECT_EQ(s.distance[l][s.at(1, i, k, 2)], 0.f) << s.name();
        EXPECT_EQ(s.probability[s.at(1, i, k, 2)], prob[i * 4 + size_t(labels[i])]) << s.name();
      }
}

class InvarianceRun : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    root_ = testutil::make_temp_dir("invariance");
    fs::create_directories(root_ + "/data");
    testutil::write_synthetic_mnist(root_ + "/data");
  }
  static void TearDownTestSuite() {
    std::error_code ec;
    fs::remove_all(root_, ec);
  }
  static std::string root_;
};
std::string InvarianceRun::root_;

TEST_F(InvarianceRun, StoredInputsReproduceTheStoredFigures) {
  const std::string dir = root_ + "/run";
  register_invariance_section();  // the [invariance] keys below
  const Config cfg = load_config(testutil::tiny_run_args(
      root_ + "/data", dir,
      {"--train.epochs", "2", "--snapshot.epochs", "0,1,2", "--invariance.images", "test:3,0,7", "--invariance.epochs",
       "0,2", "--invariance.translate", "-2:2:1", "--invariance.rotate", "0:360:90", "--analysis.batch", "8"}));
  train(cfg, TrainOptions{}, Comm::world());
  const ds::Run run = ds::Run::open(dir, cfg);
  const InvarianceResult r = compute_invariance(run, /*quiet=*/true);
  EXPECT_EQ(r.epochs, (std::vector<int>{0, 2}));
  EXPECT_EQ(r.layers, (std::vector<std::string>{"c1", "c2"}));  // no hidden fc: first and last conv
  EXPECT_EQ(r.outputs, (std::vector<std::string>{"r1", "r2"}));
  EXPECT_EQ(r.images, (std::vector<int64_t>{3, 0, 7}));
  EXPECT_EQ(r.labels, (std::vector<int32_t>{3, 0, 7}));  // label of image i is i % 10
  ASSERT_EQ(r.seconds.size(), 2u);

  const std::string file = RunPaths::of(dir).in_analysis("invariance.h5");
  fs::create_directories(fs::path(file).parent_path());
  write_invariance(file, r);
  const InvarianceResult back = read_invariance(file);
  ASSERT_EQ(back.sweeps.size(), 4u);
  EXPECT_EQ(back.originals, r.originals);

  // Every stored figure again, from the file's inputs and originals alone.
  const std::vector<int> outputs = {1, 4};  // r1, r2
  const std::vector<size_t> slots = {0, 2};
  const std::unique_ptr<Network> net = run.network(8);
  for (size_t e = 0; e < back.epochs.size(); ++e) {
    net->import_params(run.read(slots[e]).params);
    std::vector<InvarianceSweep> again = back.sweeps;
    for (InvarianceSweep& s : again) {
      for (auto& d : s.distance) std::fill(d.begin(), d.end(), NAN);
      std::fill(s.probability.begin(), s.probability.end(), NAN);
    }
    measure_invariance(*net, outputs, back.originals, back.labels, e, again);
    for (size_t t = 0; t < 4; ++t) {
      const InvarianceSweep &want = back.sweeps[t], &got = again[t];
      for (size_t i = 0; i < 3; ++i)
        for (size_t k = 0; k < want.values.size(); ++k) {
          const size_t at = want.at(e, i, k, 3);
          for (size_t l = 0; l < 2; ++l) {
            if (std::isnan(want.distance[l][at])) {
              EXPECT_TRUE(std::isnan(got.distance[l][at]));
              continue;
            }
            EXPECT_NEAR(got.distance[l][at], want.distance[l][at], 1e-5) << want.name() << " " << l;
          }
          EXPECT_NEAR(got.probability[at], want.probability[at], 1e-6);
          EXPECT_EQ(got.predicted[at], want.predicted[at]);
        }
    }
  }
  // The identity values measured zero, and something else did not.
  const InvarianceSweep& rot = back.sweeps[3];
  ASSERT_EQ(rot.values, (std::vector<double>{0, 90, 180, 270, 360}));
  EXPECT_EQ(rot.distance[0][rot.at(1, 0, 0, 3)], 0.f);
  EXPECT_EQ(rot.distance[0][rot.at(1, 0, 4, 3)], 0.f);
  EXPECT_GT(rot.distance[0][rot.at(1, 0, 1, 3)], 0.f);
}

TEST_F(InvarianceRun, ReaderRefusesAWrongShape) {
  const std::string file = root_ + "/bad.h5";
  InvarianceResult r;
  r.epochs = {0};
  r.layers = {"c1"};
  r.outputs = {"r1"};
  r.split = "test";
  r.images = {0};
  r.labels = {0};
  r.input = InputShape{1, 2, 2};
  r.input_mean = {0.f};
  r.input_std = {1.f};
  r.originals.assign(4, 0.f);
  InvarianceConfig cfg;
  cfg.translate = cfg.scale = cfg.rotate = "1";
  r.sweeps = make_sweeps(cfg, r.input, r.originals, 1, 1);
  write_invariance(file, r);
  EXPECT_NO_THROW(read_invariance(file));
  {
    h5::File f = h5::File::open_readwrite(file);
    {
      const h5::Group g = f.root().open_group("scale");
      H5Ldelete(g.id(), "probability", H5P_DEFAULT);
      g.write_dataset("probability", {1, 1, 2}, std::vector<float>{0.f, 0.f});
    }
    f.close();
  }
  try {
    read_invariance(file);
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::snapshot);
    EXPECT_NE(std::string(e.what()).find("/scale/probability"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("expected shape [1, 1, 1]"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace ds
