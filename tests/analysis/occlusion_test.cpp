// Occlusion (analysis/occlusion.hpp): the grid of square positions for several sizes and
// strides, squares overhanging the border; a tiny network whose answer is known by
// construction (a feature that sees one region only, weights set by hand); the file's round
// trip and schema check; and the real binary end to end, bad input included (exit 2 naming
// the key).
#include "deconvscope/analysis/occlusion.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>

#include "cli/cli_util.hpp"
#include "deconvscope/core/error.hpp"
#include "deconvscope/io/h5.hpp"

namespace ds {
namespace {

// --- the grid ---------------------------------------------------------------------------

struct GridCase {
  int H, W, size, stride;
  int rows, cols;
  int first, last_y, last_x;  // first top-left (both axes), last top-left down and across
};

TEST(OcclusionGrid, ShapesAndPositionsForSeveralSizesAndStrides) {
  const GridCase cases[] = {
      {28, 28, 8, 2, 15, 15, -4, 24, 24},  // the example: overhangs by 4 on each side
      {12, 10, 5, 3, 4, 4, -2, 7, 7},      // range -2..9 down, -2..7 across: the last step stops short
      {6, 6, 1, 1, 6, 6, 0, 5, 5},         // a one-pixel square: no overhang, a cell per pixel
      {8, 8, 8, 4, 3, 3, -4, 4, 4},        // as large as the image
      {9, 7, 3, 1, 9, 7, -1, 7, 5},        // odd size: middle pixel over every pixel
  };
  for (const GridCase& c : cases) {
    SCOPED_TRACE(std::to_string(c.H) + "x" + std::to_string(c.W) + " size " + std::to_string(c.size) + " stride " +
                 std::to_string(c.stride));
    const OcclusionGrid g = occlusion_grid(c.H, c.W, c.size, c.stride);
    ASSERT_EQ(g.rows, c.rows);
    ASSERT_EQ(g.cols, c.cols);
    ASSERT_EQ(g.positions.size(), size_t(2 * c.rows * c.cols));
    for (int r = 0; r < g.rows; ++r)
      for (int q = 0; q < g.cols; ++q) {
        const size_t p = size_t(r * g.cols + q);
        EXPECT_EQ(g.positions[2 * p], c.first + r * c.stride);
        EXPECT_EQ(g.positions[2 * p + 1], c.first + q * c.stride);
      }
    EXPECT_EQ(g.positions[g.positions.size() - 2], c.last_y);
    EXPECT_EQ(g.positions.back(), c.last_x);
    // Never more than half the square outside the image.
    for (size_t p = 0; p < g.positions.size(); ++p) {
      const int side = p % 2 == 0 ? c.H : c.W;
      EXPECT_GE(g.positions[p], -(c.size / 2));
      EXPECT_LE(g.positions[p] + c.size, side + c.size / 2);
    }
  }
}

TEST(OcclusionGrid, ASquareLargerThanTheImageOrAZeroStrideIsRefusedNamingTheKey) {
  try {
    occlusion_grid(8, 10, 9, 1);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::config);
    EXPECT_NE(std::string(e.what()).find("occlusion.size"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("8x10"), std::string::npos) << e.what();
  }
  EXPECT_THROW(occlusion_grid(8, 8, 2, 0), Error);
}

TEST(Occlude, ZeroesExactlyTheCoveredPixelsClippedToTheImage) {
  const int C = 2, H = 5, W = 6;
  std::vector<float> image(size_t(C * H * W)), out(image.size());
  for (size_t k = 0; k < image.size(); ++k) image[k] = 1.f + float(k);
  for (auto [y0, x0] : {std::pair{-2, -1}, {3, 4}, {1, 2}, {-3, 5}}) {
    occlude(image.data(), C, H, W, y0, x0, 3, out.data());
    for (int c = 0; c < C; ++c)
      for (int y = 0; y < H; ++y)
        for (int x = 0; x < W; ++x) {
          const size_t k = size_t((c * H + y) * W + x);
          const bool covered = y >= y0 && y < y0 + 3 && x >= x0 && x < x0 + 3;
          EXPECT_EQ(out[k], covered ? 0.f : image[k]) << y0 << "," << x0 << " at " << c << "," << y << "," << x;
        }
  }
}

// --- a network whose answer is known ------------------------------------------------------

// 1x8x8 input; conv1 has two 8x8 filters without padding (one output position each):
// feature 0 sums the 2x2 region rows 2-3, columns 4-5 (weights 1), feature 1 a tenth of
// the region rows 5-6, columns 0-1. fc: class 0's logit is feature 0, class 1's a
// constant 2.5. On an image of ones feature 0 (4) is the strongest; a square covering n
// pixels of its region leaves 4 - n, and class 1 wins once n >= 2.
constexpr int kSide = 8;
constexpr int kRegionY = 2, kRegionX = 4;

std::unique_ptr<Network> region_network(int batch) {
  LayerSpec conv;
  conv.type = LayerType::conv;
  conv.name = "conv1";
  conv.out = 2;
  conv.kernel = {kSide, kSide};
  conv.stride = {1, 1};
  conv.pad = {0, 0};
  LayerSpec relu;
  relu.type = LayerType::relu;
  relu.name = "relu1";
  LayerSpec fc;
  fc.type = LayerType::fc;
  fc.name = "fc2";
  fc.out = 2;
  auto net = std::make_unique<Network>(std::vector<LayerSpec>{conv, relu, fc}, InputShape{1, kSide, kSide}, batch);
  std::vector<LayerParams> params = net->export_params();
  Tensor& w = params[0].weights;  // (2, 1, 8, 8)
  std::fill(w.data.begin(), w.data.end(), 0.f);
  std::fill(params[0].bias.data.begin(), params[0].bias.data.end(), 0.f);
  for (int y = 0; y < 2; ++y)
    for (int x = 0; x < 2; ++x) {
      w.data[size_t((kRegionY + y) * kSide + kRegionX + x)] = 1.f;
      w.data[size_t(kSide * kSide + (5 + y) * kSide + x)] = 0.1f;
    }
  Tensor& v = params[2].weights;  // (2 classes, 2 features)
  v.data = {1.f, 0.f, 0.f, 0.f};
  params[2].bias.data = {0.f, 2.5f};
  net->import_params(params);
  return net;
}

// Three images of ones (pixel value 1 is 1 in network-input units with mean 0, std 1/255).
Dataset ones(int n) {
  Dataset d;
  d.channels = 1;
  d.height = d.width = kSide;
  d.pixels.assign(size_t(n) * kSide * kSide, 1);
  d.labels.assign(size_t(n), 0);
  d.num_classes = 2;
  d.class_names = {"region", "other"};
  return d;
}

int overlap(int y0, int x0, int size) {
  const int h = std::max(0, std::min(y0 + size, kRegionY + 2) - std::max(y0, kRegionY));
  const int w = std::max(0, std::min(x0 + size, kRegionX + 2) - std::max(x0, kRegionX));
  return h * w;
}

TEST(Occlusion, TheMapIsLowExactlyWhereTheSquareCoversTheRegionTheFeatureSees) {
  const Dataset d = ones(3);
  const Normalization norm{{0.f}, {1.f / 255.f}};
  for (auto [size, stride, batch] : {std::tuple{2, 1, 5}, {3, 2, 4}, {1, 1, 64}, {5, 3, 1}}) {
    SCOPED_TRACE("size " + std::to_string(size) + " stride " + std::to_string(stride));
    auto net = region_network(batch);  // batches that do not divide the positions
    const OcclusionGrid g = occlusion_grid(kSide, kSide, size, stride);
    const std::vector<int64_t> images = {2, 0};
    const SnapshotOcclusion o = occlude_snapshot(*net, d, norm, images, /*conv=*/0, size, g);
    const size_t P = size_t(g.rows * g.cols);
    ASSERT_EQ(o.activation.size(), 2 * P);
    for (size_t i = 0; i < 2; ++i) {
      EXPECT_EQ(o.feature[i], 0);
      EXPECT_FLOAT_EQ(o.strongest[i], 4.f);
      for (size_t p = 0; p < P; ++p) {
        const int n = overlap(g.positions[2 * p], g.positions[2 * p + 1], size);
        const size_t k = i * P + p;
        EXPECT_FLOAT_EQ(o.activation[k], float(4 - n)) << "square at " << g.positions[2 * p] << "," << g.positions[2 * p + 1];
        const double p0 = 1.0 / (1.0 + std::exp(2.5 - (4.0 - n)));
        EXPECT_NEAR(o.probability[k], p0, 1e-6);
        EXPECT_EQ(o.predicted[k], n >= 2 ? 1 : 0);
      }
      // The projection of feature 0's value 4 through its transposed filter: 4 on the region, 0 elsewhere.
      for (int y = 0; y < kSide; ++y)
        for (int x = 0; x < kSide; ++x) {
          const bool in = y >= kRegionY && y < kRegionY + 2 && x >= kRegionX && x < kRegionX + 2;
          EXPECT_NEAR(o.projection[i * kSide * kSide + size_t(y * kSide + x)], in ? 4.f : 0.f, 1e-5f) << y << "," << x;
        }
    }
  }
}

TEST(Occlusion, AnImageOnWhichNoFeatureFiresHasNoFeatureAndZeroMaps) {
  Dataset d = ones(1);
  std::fill(d.pixels.begin(), d.pixels.end(), 0);
  auto net = region_network(4);
  const OcclusionGrid g = occlusion_grid(kSide, kSide, 2, 2);
  const SnapshotOcclusion o = occlude_snapshot(*net, d, Normalization{{0.f}, {1.f / 255.f}}, {0}, 0, 2, g);
  EXPECT_EQ(o.feature[0], -1);
  for (float a : o.activation) EXPECT_EQ(a, 0.f);
  for (float v : o.projection) EXPECT_EQ(v, 0.f);
}

// --- the file -------------------------------------------------------------------------------

OcclusionResult small_result() {
  OcclusionResult r;
  r.epochs = {0, 3};
  r.split = "test";
  r.images = {4, 1};
  r.labels = {2, 7};
  r.layer = "conv2";
  r.size = 3;
  r.stride = 2;
  r.input = InputShape{1, 4, 5};
  r.grid = occlusion_grid(4, 5, 3, 2);
  const size_t E = 2, I = 2, P = r.positions();
  r.feature = {1, -1, 3, 0};
  for (size_t k = 0; k < E * I * P; ++k) {
    r.activation.push_back(float(k) * 0.5f);
    r.probability.push_back(float(k) / float(E * I * P));
    r.predicted.push_back(int32_t(k % 10));
  }
  for (size_t k = 0; k < E * I * r.image_size(); ++k) r.projection.push_back(float(k) - 3.f);
  return r;
}

TEST(OcclusionFile, RoundTripAndSchemaChecks) {
  clitest::TempDir tmp("occlusion-file");
  const OcclusionResult r = small_result();
  const std::string path = tmp / "occlusion.h5";
  write_occlusion(path, r);
  const OcclusionResult b = read_occlusion(path);
  EXPECT_EQ(b.epochs, r.epochs);
  EXPECT_EQ(b.split, r.split);
  EXPECT_EQ(b.images, r.images);
  EXPECT_EQ(b.labels, r.labels);
  EXPECT_EQ(b.layer, r.layer);
  EXPECT_EQ(b.size, r.size);
  EXPECT_EQ(b.stride, r.stride);
  EXPECT_EQ(b.grid.rows, r.grid.rows);
  EXPECT_EQ(b.grid.cols, r.grid.cols);
  EXPECT_EQ(b.grid.positions, r.grid.positions);
  EXPECT_EQ(b.feature, r.feature);
  EXPECT_EQ(b.activation, r.activation);
  EXPECT_EQ(b.probability, r.probability);
  EXPECT_EQ(b.predicted, r.predicted);
  EXPECT_EQ(b.projection, r.projection);
  EXPECT_EQ(b.input.channels, 1);
  EXPECT_EQ(b.input.height, 4);
  EXPECT_EQ(b.input.width, 5);

  // A result whose arrays do not fit its attributes is refused before anything is written.
  OcclusionResult bad = r;
  bad.probability.pop_back();
  EXPECT_THROW(write_occlusion(tmp / "bad.h5", bad), Error);
  EXPECT_FALSE(std::filesystem::exists(tmp / "bad.h5"));

  // Another file's format, and a wrong shape, are named.
  {
    h5::File f = h5::File::create(tmp / "other.h5");
    f.root().write_attr_string("format", "deconvscope.health");
    f.root().write_attr_int("format_version", 1);
    f.close();
  }
  try {
    read_occlusion(tmp / "other.h5");
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("deconvscope.occlusion"), std::string::npos) << e.what();
  }
}

TEST(OcclusionFile, CsvHasARowPerEpochImageAndPosition) {
  clitest::TempDir tmp("occlusion-csv");
  OcclusionResult r = small_result();
  const size_t P = r.positions(), k = 4 * P - 1;  // epoch 3, image 1 (label 7, feature 0), its last position
  r.activation[k] = 1.f / 3.f;
  r.probability[k] = NAN;
  write_occlusion_csv(tmp / "occlusion.csv", r);
  const std::string text = clitest::read_file(tmp / "occlusion.csv");
  EXPECT_EQ(size_t(std::count(text.begin(), text.end(), '\n')), 1 + 2 * 2 * P);
  EXPECT_EQ(text.rfind("epoch,image,label,layer,feature,row,col,y,x,activation,probability,predicted\n", 0), 0u);
  const std::string last = "3,1,7,conv2,0," + std::to_string(r.grid.rows - 1) + "," + std::to_string(r.grid.cols - 1) +
                           "," + std::to_string(r.grid.positions[2 * P - 2]) + "," + std::to_string(r.grid.positions.back()) +
                           ",0.3333333,nan," + std::to_string(r.predicted[k]) + "\n";
  ASSERT_GE(text.size(), last.size());
  EXPECT_EQ(text.substr(text.size() - last.size()), last);
}

// --- the command -----------------------------------------------------------------------------

class OcclusionCommand : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    tmp_ = new clitest::TempDir("occlusion-cli");
    clitest::write_mnist(*tmp_ / "data");
    run_dir_ = *tmp_ / "run";
    clitest::write_file(*tmp_ / "tiny.cfg", clitest::tiny_config(*tmp_ / "data", run_dir_, 1));
    const clitest::Result r = clitest::run({"train", "--config", *tmp_ / "tiny.cfg"}, *tmp_ / "train");
    ASSERT_EQ(r.code, 0) << r.err;
  }
  static void TearDownTestSuite() {
    delete tmp_;
    tmp_ = nullptr;
  }
  static clitest::TempDir* tmp_;
  static std::string run_dir_;
};
clitest::TempDir* OcclusionCommand::tmp_ = nullptr;
std::string OcclusionCommand::run_dir_;

TEST_F(OcclusionCommand, WritesTheFileTheCsvAndThePageForEverySnapshot) {
  const clitest::Result r = clitest::run(
      {"occlusion", "--run", run_dir_, "--images", "test:0-2", "--epochs", "1,0", "--occlusion.size", "4",
       "--occlusion.stride", "2"},
      *tmp_ / "occlusion");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("epoch 0:"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("epoch 1:"), std::string::npos) << r.out;
  const OcclusionResult o = read_occlusion(run_dir_ + "/analysis/occlusion.h5");
  EXPECT_EQ(o.epochs, (std::vector<int>{0, 1})) << "in epoch order";
  EXPECT_EQ(o.images, (std::vector<int64_t>{0, 1, 2}));
  EXPECT_EQ(o.split, "test");
  EXPECT_EQ(o.layer, "conv2");  // the last conv layer
  EXPECT_EQ(o.grid.rows, 7);    // 12x12 input, top-left -2..10 in steps of 2
  EXPECT_EQ(o.grid.cols, 7);
  EXPECT_EQ(o.labels, (std::vector<int32_t>{0, 1, 2}));  // the synthetic labels are i % 10
  for (float p : o.probability) {
    EXPECT_GE(p, 0.f);
    EXPECT_LE(p, 1.f);
  }
  for (int32_t c : o.predicted) EXPECT_TRUE(c >= 0 && c < 10);
  for (int32_t f : o.feature) EXPECT_TRUE(f >= 0 && f < 6);
  EXPECT_TRUE(std::filesystem::exists(run_dir_ + "/analysis/occlusion.csv"));
  const std::string page = clitest::read_file(run_dir_ + "/report/occlusion.html");
  EXPECT_NE(page.find("epoch 0</th>"), std::string::npos);
  EXPECT_NE(page.find("epoch 1</th>"), std::string::npos);
  EXPECT_NE(page.find("most probable class"), std::string::npos);
  EXPECT_NE(page.find("true: "), std::string::npos);
  EXPECT_TRUE(clitest::temp_files(run_dir_).empty());
}

TEST_F(OcclusionCommand, AnalyzeRunsItWhenInAnalyzeIsSetAndTheIndexLinksThePage) {
  const clitest::Result a = clitest::run(
      {"analyze", "--run", run_dir_, "--occlusion.in_analyze", "true", "--occlusion.epochs", "1",
       "--occlusion.images", "train:5"},
      *tmp_ / "analyze");
  ASSERT_EQ(a.code, 0) << a.err;
  const OcclusionResult o = read_occlusion(run_dir_ + "/analysis/occlusion.h5");
  EXPECT_EQ(o.epochs, (std::vector<int>{1}));
  EXPECT_EQ(o.split, "train");
  EXPECT_EQ(o.images, (std::vector<int64_t>{5}));
  EXPECT_NE(clitest::read_file(run_dir_ + "/report/index.html").find("href=\"occlusion.html\""), std::string::npos);
}

TEST_F(OcclusionCommand, BadInputExitsTwoNamingTheKey) {
  struct Bad {
    std::vector<std::string> args;
    std::string key;
  };
  const Bad bads[] = {
      {{"--images", "test:0,64"}, "occlusion.images"},     // the test split has 64 images
      {{"--images", "nonsense"}, "occlusion.images"},
      {{"--occlusion.size", "13"}, "occlusion.size"},      // the input is 12x12
      {{"--occlusion.size", "0"}, "occlusion.size"},
      {{"--occlusion.stride", "0"}, "occlusion.stride"},
      {{"--occlusion.layer", "conv9"}, "occlusion.layer"},
      {{"--occlusion.layer", "relu1"}, "occlusion.layer"},  // not a conv layer
      {{"--occlusion.epochs", "7"}, "occlusion.epochs"},
  };
  const auto before = clitest::tree(run_dir_ + "/analysis");
  for (const Bad& b : bads) {
    std::vector<std::string> args = {"occlusion", "--run", run_dir_};
    args.insert(args.end(), b.args.begin(), b.args.end());
    SCOPED_TRACE(b.args[0] + " " + b.args[1]);
    const clitest::Result r = clitest::run(args, *tmp_ / "bad");
    EXPECT_EQ(r.code, 2) << r.err;
    EXPECT_NE(r.err.find(b.key), std::string::npos) << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << "one line: " << r.err;
  }
  EXPECT_EQ(clitest::tree_diff(before, clitest::tree(run_dir_ + "/analysis")), "");
}

// The [occlusion] keys say what is looked at, not how the weights are made: a resume takes
// a new value (and says so) instead of refusing it.
TEST(OcclusionKeys, AResumeMayChangeThem) {
  clitest::TempDir tmp("occlusion-resume");
  clitest::write_mnist(tmp / "data");
  const std::string run_dir = tmp / "run";
  clitest::write_file(tmp / "tiny.cfg", clitest::tiny_config(tmp / "data", run_dir, 1));
  ASSERT_EQ(clitest::run({"train", "--config", tmp / "tiny.cfg"}, tmp / "train").code, 0);
  const clitest::Result r = clitest::run(
      {"train", "--run", run_dir, "--resume", "--train.epochs", "2", "--occlusion.size", "4", "--occlusion.in_analyze", "true"},
      tmp / "resume");
  ASSERT_EQ(r.code, 0) << r.err;
  const std::string cfg = clitest::read_file(run_dir + "/config.cfg");
  EXPECT_NE(cfg.find("size = 4"), std::string::npos) << cfg;
  EXPECT_NE(cfg.find("in_analyze = true"), std::string::npos) << cfg;
}

}  // namespace
}  // namespace ds
