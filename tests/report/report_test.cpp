// Tests of the report stage: projection contrast (0 -> 128, +max -> 255, -max -> 0,
// RGB -> BGR, the robust percentile scale that ignores one extreme pixel), patches, the
// filter mosaic, the evolution strip's size and jump frames from its layout, the paged
// top-k grid, plots (the per-layer health curves too), the CSV reader on good and
// malformed files, HTML escaping, and a whole report on a small synthetic analysis (2
// layers, 3 epochs, top-k at one epoch, 10 images) whose page references only PNGs that
// exist, links only to anchors it has, leaves no temporary files, is titled by its
// folder, summarises dead features, reloads only while a live run trains, and removes
// only its own stale pictures. DECONVSCOPE_KEEP_REPORT=<dir> keeps a rendered report
// there for looking at.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>
#include <string>

#include <opencv2/imgcodecs.hpp>

#include "deconvscope/analysis/sanity_baseline.hpp"
#include "deconvscope/config/config.hpp"
#include "deconvscope/core/error.hpp"
#include "deconvscope/io/run_folder.hpp"
#include "deconvscope/io/snapshot.hpp"
#include "deconvscope/io/csv.hpp"
#include "deconvscope/report/html_report.hpp"
#include "deconvscope/report/plot.hpp"
#include "deconvscope/report/png.hpp"
#include "deconvscope/report/render.hpp"

namespace fs = std::filesystem;
using namespace ds;

namespace {

class ReportTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = fs::temp_directory_path() / ("ds_report_" + std::to_string(::getpid()) + "_" + info->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string file(const std::string& name) const { return (dir_ / name).string(); }
  void write(const std::string& name, const std::string& text) const { std::ofstream(file(name)) << text; }

  fs::path dir_;
};

constexpr int kSide = 28;

// 10 images (C, 28, 28): a soft gradient, a bright disc whose place depends on the image,
// and stripes whose direction does, so patches differ visibly.
Dataset synthetic_dataset(int C) {
  Dataset d;
  d.channels = C;
  d.height = d.width = kSide;
  d.num_classes = 2;
  d.source = "synthetic";
  for (int i = 0; i < 10; ++i) {
    const int cy = 6 + (i * 7) % 16, cx = 6 + (i * 5) % 16;
    for (int c = 0; c < C; ++c)
      for (int y = 0; y < kSide; ++y)
        for (int x = 0; x < kSide; ++x) {
          double v = 40 + 3 * (x + y) + 40 * std::sin((i % 2 ? x : y) * 0.9 + c);
          if ((y - cy) * (y - cy) + (x - cx) * (x - cx) < 20) v = 230 - 40 * c;
          d.pixels.push_back(static_cast<uint8_t>(std::clamp(v, 0.0, 255.0)));
        }
    d.labels.push_back(i % 2);
  }
  return d;
}

Window window_at(int y, int x, int size) {
  return Window{std::max(0, y - size / 2), std::max(0, x - size / 2), std::min(kSide, y - size / 2 + size),
                std::min(kSide, x - size / 2 + size)};
}

// A projection that looks like an edge detector's output inside the window, 0 outside.
void fill_projection(float* dst, int C, const Window& w, int seed) {
  for (int c = 0; c < C; ++c)
    for (int y = w.y0; y < w.y1; ++y)
      for (int x = w.x0; x < w.x1; ++x)
        dst[(size_t(c) * kSide + y) * kSide + x] =
            float(std::sin((x + seed) * 0.8 + c) * std::cos((y - seed) * 0.5)) * (1 + seed % 3);
}

AnalysisResult synthetic_result(int C) {
  AnalysisResult r;
  r.split = ds::ProbeSplit::train;
  r.dataset_path = "synthetic";
  r.probe_count = 10;
  r.epochs = {0, 2, 5};
  r.layers = {"conv1", "conv2"};
  r.input = InputShape{C, kSide, kSide};
  r.input_mean.assign(C, 0.5f);
  r.input_std.assign(C, 0.25f);
  const int E = 3, F = 4, sizes[2] = {7, 16};
  const std::vector<int32_t> features = {0, 3, 5, 7};
  for (int l = 0; l < 2; ++l) {
    LayerEvolution ev;
    ev.layer = r.layers[l];
    ev.features = features;
    ev.projections = Tensor({E, F, C, kSide, kSide});
    LayerJumps j;
    for (int e = 0; e < E; ++e)
      for (int f = 0; f < F; ++f) {
        const int image = (f + (e >= 2 && f == 1 ? 5 : 0) + (e >= 1 && f == 2 ? 3 : 0)) % 10;
        const int y = 4 + (f * 9 + e * 2) % 24, x = 4 + (f * 5 + l * 7) % 24;
        ev.strongest.push_back(Activation{image, y / (l + 1), x / (l + 1), 1.f + e});
        ev.windows.push_back(window_at(y, x, sizes[l]));
        fill_projection(ev.projections.ptr() + (size_t(e) * F + f) * C * kSide * kSide, C, ev.windows.back(),
                        image + l);
        if (e == 0) continue;
        const bool changed = ev.strongest.back().image != ev.strongest[size_t(e - 1) * F + f].image;
        j.image_changed.push_back(changed);
        j.projection_similarity.push_back(changed && f == 1 ? 0.2f : 0.9f);
        j.filter_change.push_back(0.1f / e);
        j.jump.push_back(changed && f == 1);  // feature row 1 jumps arriving at epoch index 2
      }
    r.evolution.push_back(ev);
    r.jumps.push_back(j);
    LayerConvergence c;
    c.filter_similarity = l == 0 ? std::vector<float>{0.3f, 0.93f, 1.f} : std::vector<float>{0.1f, 0.6f, 1.f};
    c.weight_change = {0.f, 0.5f, 0.2f};
    c.final_image_share = {0.25f, 0.5f, 1.f};
    c.converged_at = l == 0 ? 2 : 5;
    c.weight_progress = {0.f, 0.7f, 1.f};
    c.progress_converged_at = 5;
    r.convergence.push_back(c);

    LayerTopK t;
    t.layer = r.layers[l];
    t.features = 6;
    t.k = 9;
    t.projections = Tensor({6, 9, C, kSide, kSide});
    for (int f = 0; f < 6; ++f)
      for (int k = 0; k < 9; ++k) {
        const bool none = f == 5 && k == 8;  // fewer images than k
        const int image = none ? -1 : (f * 3 + k) % 10;
        const int y = 3 + (k * 7 + f) % 22, x = 3 + (k * 3 + f * 4) % 22;
        t.acts.push_back(Activation{image, y, x, 9.f - k});
        t.windows.push_back(window_at(y, x, sizes[l]));
        if (!none)
          fill_projection(t.projections.ptr() + (size_t(f) * 9 + k) * C * kSide * kSide, C, t.windows.back(), f + k);
      }
    r.topk[5].push_back(t);
  }
  return r;
}

const char* kMetrics =
    "epoch,step,lr,train_loss,train_accuracy,val_loss,val_accuracy,seconds,images_per_s,conv1_weight_rms,"
    "conv1_grad_rms,conv1_update_ratio,conv1_dead_fraction\n"
    "0,0,0.01,2.302,0.10,2.303,0.10,0.0,0.0,0.01,0.0,0.0,0.0\n"
    "1,100,0.01,0.90,0.68,0.85,0.70,3.1,4000,0.03,0.01,0.002,0.05\n"
    "2,200,0.01,0.62,0.78,0.61,0.77,3.0,4100,0.04,0.01,0.002,0.04\n"
    "3,300,0.01,0.50,0.82,0.55,0.80,3.0,4100,0.05,0.01,0.001,0.04\n"
    "4,400,0.001,0.44,0.84,0.53,0.81,3.0,4100,0.05,0.01,0.001,0.03\n"
    "5,500,0.001,0.42,0.85,0.52,0.815,3.0,4100,0.05,0.01,0.001,0.03\n";

// A tiny but valid snapshot (conv1 8x1x5x5, relu, fc 2) whose filters are oriented
// stripes that sharpen with the epoch, for the report's first-layer filter mosaics.
void write_tiny_snapshot(const std::string& path, int epoch) {
  Snapshot s;
  s.epoch = epoch;
  s.step = int64_t(epoch) * 10;  // read_snapshot checks at least one step per epoch
  s.config = "[run]\nname = tiny\n";
  s.input = InputShape{1, kSide, kSide};
  s.num_classes = 2;
  s.input_mean = {0.5f};
  s.input_std = {0.25f};
  LayerSpec conv;
  conv.name = "conv1";
  conv.type = LayerType::conv;
  conv.out = 8;
  conv.kernel = {5, 5};
  conv.pad = {2, 2};
  LayerSpec relu;
  relu.name = "relu1";
  LayerSpec fc;
  fc.name = "fc1";
  fc.type = LayerType::fc;
  fc.out = 2;
  s.layers = {conv, relu, fc};
  LayerParams pc, pf;
  pc.weights = Tensor({8, 1, 5, 5});
  pc.bias = Tensor({8});
  for (int o = 0; o < 8; ++o)
    for (int y = 0; y < 5; ++y)
      for (int x = 0; x < 5; ++x)
        pc.weights.data[(o * 5 + y) * 5 + x] = float(std::cos((x * std::cos(o * 0.4) + y * std::sin(o * 0.4)) * 1.5) +
                                                     (epoch == 0 ? std::sin(o * 25 + y * 7 + x * 3) : 0.0));
  pf.weights = Tensor({2, 8 * kSide * kSide});
  pf.bias = Tensor({2});
  s.params = {pc, LayerParams{}, pf};
  write_snapshot(path, s);
}

// What cli/pipelines.cpp hands the report, gathered here from the files the test wrote:
// the run's config.cfg (defaults without one) and its snapshots' first conv filters.
ReportContext context_of(const std::string& run) {
  ReportContext ctx;
  ctx.paths = RunPaths::of(run);
  if (fs::exists(ctx.paths.config)) {
    std::ifstream in(ctx.paths.config, std::ios::binary);
    std::ostringstream text;
    text << in.rdbuf();
    ctx.config_text = text.str();
    ctx.config = parse_config_text(ctx.config_text, ctx.paths.config);
  }
  if (fs::is_directory(ctx.paths.snapshots))
    for (const auto& [epoch, path] : list_snapshots(ctx.paths.snapshots)) {
      const Snapshot s = read_snapshot(path);
      for (size_t i = 0; i < s.layers.size(); ++i)
        if (s.layers[i].type == LayerType::conv) {
          ctx.first_filters_layer = s.layers[i].name;
          ctx.first_filters.emplace_back(epoch, s.params[i].weights);
          break;
        }
    }
  return ctx;
}

std::string read_all(const std::string& path) {
  std::ifstream f(path);
  std::stringstream s;
  s << f.rdbuf();
  return s.str();
}

bool is_red(const cv::Vec3b& p) { return p == cv::Vec3b(0, 0, 255); }
bool is_white(const cv::Vec3b& p) { return p == cv::Vec3b(255, 255, 255); }

}  // namespace

TEST(ProjectionToImage, SymmetricStretchAroundGrey) {
  const float proj[5] = {-2.f, 0.f, 2.f, 1.f, -1.f};  // (1, 1, 5)
  cv::Mat m = projection_to_image(proj, 1, 1, 5);
  ASSERT_EQ(m.type(), CV_8UC1);
  EXPECT_EQ(m.at<uint8_t>(0, 0), 0);
  EXPECT_EQ(m.at<uint8_t>(0, 1), 128);
  EXPECT_EQ(m.at<uint8_t>(0, 2), 255);
  EXPECT_GT(m.at<uint8_t>(0, 3), 128);
  EXPECT_LT(m.at<uint8_t>(0, 4), 128);
}

TEST(ProjectionToImage, ScaleIsTheLargestMagnitudeEvenIfOneSided) {
  const float proj[3] = {0.f, 0.5f, 4.f};  // only positive: max -> 255, 0 stays grey
  cv::Mat m = projection_to_image(proj, 1, 1, 3);
  EXPECT_EQ(m.at<uint8_t>(0, 0), 128);
  EXPECT_EQ(m.at<uint8_t>(0, 2), 255);
  const float neg[2] = {-3.f, 0.f};
  cv::Mat n = projection_to_image(neg, 1, 1, 2);
  EXPECT_EQ(n.at<uint8_t>(0, 0), 0);
  EXPECT_EQ(n.at<uint8_t>(0, 1), 128);
}

TEST(ProjectionToImage, AllZeroIsGreyAndNonFiniteIsZero) {
  const float zero[4] = {0, 0, 0, 0};
  cv::Mat m = projection_to_image(zero, 1, 2, 2);
  EXPECT_EQ(cv::countNonZero(m != 128), 0);
  const float bad[2] = {NAN, 1.f};
  cv::Mat b = projection_to_image(bad, 1, 1, 2);
  EXPECT_EQ(b.at<uint8_t>(0, 0), 128);
  EXPECT_EQ(b.at<uint8_t>(0, 1), 255);
}

TEST(ProjectionToImage, RgbPlanesBecomeBgrPixels) {
  const float proj[3] = {1.f, 0.f, -1.f};  // (3, 1, 1): R = +max, G = 0, B = -max
  cv::Mat m = projection_to_image(proj, 3, 1, 1);
  ASSERT_EQ(m.type(), CV_8UC3);
  EXPECT_EQ(m.at<cv::Vec3b>(0, 0), cv::Vec3b(0, 128, 255));
}

TEST(ProjectionToImage, RejectsEmptyShapes) {
  const float v = 0;
  EXPECT_THROW(projection_to_image(&v, 0, 1, 1), Error);
  EXPECT_THROW(projection_to_image(nullptr, 1, 1, 1), Error);
}

TEST(ProjectionToImage, RobustScaleIgnoresOneExtremePixel) {
  // A 20x20 projection of +-1 with one pixel at 1000: stretched by its largest value the
  // rest would be grey (128 +- 0.1); by the 99.5th percentile it keeps full contrast.
  std::vector<float> proj(400);
  for (size_t i = 0; i < proj.size(); ++i) proj[i] = i % 2 ? 1.f : -1.f;
  proj[210] = 1000.f;
  const float p = report_layout::kProjectionPercentile;
  EXPECT_FLOAT_EQ(robust_scale(proj.data(), proj.size(), p), 1.f);
  EXPECT_FLOAT_EQ(robust_scale(proj.data(), proj.size(), 100.f), 1000.f);
  const cv::Mat robust = projection_to_image(proj.data(), 1, 20, 20, p);
  EXPECT_EQ(robust.at<uint8_t>(0, 1), 255);
  EXPECT_EQ(robust.at<uint8_t>(0, 0), 0);
  EXPECT_EQ(robust.at<uint8_t>(10, 10), 255);  // the extreme pixel clipped
  const cv::Mat by_max = projection_to_image(proj.data(), 1, 20, 20, 100.f);
  EXPECT_EQ(by_max.at<uint8_t>(0, 1), 128);  // flattened: what the robust scale avoids
  // Colour: one scale over the three channels, the same rule.
  std::vector<float> rgb(3 * 400, 0.5f);
  rgb[5] = -500.f;
  const cv::Mat c = projection_to_image(rgb.data(), 3, 20, 20, p);
  EXPECT_EQ(c.at<cv::Vec3b>(3, 3), cv::Vec3b(255, 255, 255));
  EXPECT_EQ(c.at<cv::Vec3b>(0, 5)[2], 0);  // R plane, clipped
}

TEST(ProjectionToImage, RobustScaleIsANearestRankPercentileOfNonZeros) {
  std::vector<float> v(1000, 0.f);  // zeros outside a receptive field do not count
  for (int i = 0; i < 200; ++i) v[i * 5] = float(i + 1);
  EXPECT_FLOAT_EQ(robust_scale(v.data(), v.size(), 99.5f), 199.f);
  EXPECT_FLOAT_EQ(robust_scale(v.data(), v.size(), 50.f), 100.f);
  EXPECT_FLOAT_EQ(robust_scale(v.data(), v.size(), 100.f), 200.f);
  const float few[3] = {0.f, NAN, -2.f};
  EXPECT_FLOAT_EQ(robust_scale(few, 3, 99.5f), 2.f);  // small samples: the largest
  EXPECT_FLOAT_EQ(robust_scale(few, 1, 99.5f), 0.f);  // nothing but zeros
}

TEST(PatchImage, CropsTheWindowAndScales) {
  Dataset d;
  d.channels = 1;
  d.height = 4;
  d.width = 4;
  d.labels = {0};
  for (int i = 0; i < 16; ++i) d.pixels.push_back(uint8_t(i * 10));  // (1, 4, 4)
  // Window rows [1, 3), cols [2, 4): pixels 60 70 / 100 110, scaled x4 nearest.
  cv::Mat p = patch_image(d, 0, Window{1, 2, 3, 4}, 8, 8);
  ASSERT_EQ(p.size(), cv::Size(8, 8));
  EXPECT_EQ(p.at<uint8_t>(0, 0), 60);
  EXPECT_EQ(p.at<uint8_t>(0, 7), 70);
  EXPECT_EQ(p.at<uint8_t>(7, 0), 100);
  EXPECT_EQ(p.at<uint8_t>(7, 7), 110);
  // A window clipped to one column keeps its aspect: centred, grey either side.
  cv::Mat q = patch_image(d, 0, Window{0, 3, 4, 9}, 8, 8);
  EXPECT_EQ(q.at<uint8_t>(0, 0), 128);
  EXPECT_EQ(q.at<uint8_t>(0, 4), 30);
  EXPECT_THROW(patch_image(d, 1, Window{}, 8, 8), Error);
  EXPECT_THROW(patch_image(d, -1, Window{}, 8, 8), Error);
}

TEST(PatchImage, ColourComesBackBgr) {
  Dataset d = synthetic_dataset(3);
  cv::Mat p = patch_image(d, 0, Window{0, 0, kSide, kSide}, kSide, kSide);
  ASSERT_EQ(p.type(), CV_8UC3);
  const size_t plane = kSide * kSide;
  EXPECT_EQ(p.at<cv::Vec3b>(5, 7)[2], d.pixels[0 * plane + 5 * kSide + 7]);  // R
  EXPECT_EQ(p.at<cv::Vec3b>(5, 7)[0], d.pixels[2 * plane + 5 * kSide + 7]);  // B
}

TEST(FilterMosaic, GridOfCellsAndShapeCheck) {
  Tensor w({10, 3, 5, 5});
  for (size_t i = 0; i < w.size(); ++i) w.data[i] = std::sin(float(i));
  cv::Mat m = filter_mosaic(w, 20);
  // 10 filters -> 4 columns, 3 rows of 20 px with 2 px gaps around.
  EXPECT_EQ(m.size(), cv::Size(4 * 20 + 5 * 2, 3 * 20 + 4 * 2));
  EXPECT_EQ(m.type(), CV_8UC3);
  EXPECT_THROW(filter_mosaic(Tensor({10, 3}), 20), Error);
  EXPECT_NO_THROW(filter_mosaic(Tensor({4, 7, 3, 3}), 9));  // I=7: mean over I
}

TEST(EvolutionStrip, SizeIsRowsTimesColumnsOfCells) {
  const AnalysisResult r = synthetic_result(1);
  const Dataset d = synthetic_dataset(1);
  cv::Mat m = render_evolution_strip_image(r, 0, d);
  using namespace report_layout;
  EXPECT_EQ(display_size(kSide, kSide), cv::Size(56, 56));  // 28 px enlarged twice
  const StripLayout lay = evolution_strip_layout(3, 4, kSide, kSide);
  const int cell_w = 2 * lay.tile.width + kInnerGap + 2 * kPad, cell_h = lay.tile.height + 2 * kPad;
  EXPECT_EQ(m.cols, kLabelWidth + 3 * cell_w + kMargin);
  EXPECT_EQ(m.rows, kHeaderHeight + 4 * cell_h + kMargin);
  EXPECT_EQ(m.size(), lay.size);
  EXPECT_EQ(lay.row(2).y + lay.row(2).height, lay.row(3).y);  // rows tile the picture
  EXPECT_TRUE(lay.row(1).contains(lay.cell(2, 1).tl()));
}

TEST(EvolutionStrip, CellsGrowToFillThePageWithinLimits) {
  using namespace report_layout;
  // Three epochs of 28x28 would make a 400 px strip at the plain display size: the cells
  // grow to the cap instead.
  EXPECT_EQ(evolution_strip_layout(3, 8, kSide, kSide).tile, cv::Size(kStripMaxSide, kStripMaxSide));
  // Five epochs (the quickstart's): as large as fits the page.
  const StripLayout five = evolution_strip_layout(5, 8, kSide, kSide);
  EXPECT_LE(five.size.width, kPageWidth);
  EXPECT_GT(five.size.width, kPageWidth - 5 * 12);
  EXPECT_GT(five.tile.width, 2 * display_size(kSide, kSide).width);
  // Thirty epochs cannot fit: never below the plain display size.
  EXPECT_EQ(evolution_strip_layout(30, 8, kSide, kSide).tile, display_size(kSide, kSide));
  // Non-square inputs keep their aspect.
  const StripLayout wide = evolution_strip_layout(4, 2, 28, 56);
  EXPECT_EQ(wide.tile.width, 2 * wide.tile.height);
}

TEST(EvolutionStrip, JumpCellHasTheRedFrame) {
  const AnalysisResult r = synthetic_result(1);
  ASSERT_TRUE(r.jumps[0].jump[1 * 4 + 1]);   // epoch index 2, feature row 1
  ASSERT_FALSE(r.jumps[0].jump[0 * 4 + 1]);  // epoch index 1, same row
  ASSERT_FALSE(r.jumps[0].image_changed[0 * 4 + 0]);
  cv::Mat m = render_evolution_strip_image(r, 0, synthetic_dataset(1));
  const StripLayout lay = evolution_strip_layout(3, 4, kSide, kSide);
  using report_layout::kFrame;
  const cv::Rect jump = lay.cell(2, 1);
  // The frame: kFrame pixels on every side of the cell, white beyond.
  for (const cv::Point p : {cv::Point(jump.x - kFrame, jump.y - kFrame), cv::Point(jump.x - 1, jump.y + 10),
                            cv::Point(jump.br().x, jump.br().y), cv::Point(jump.x + 20, jump.br().y + kFrame - 1),
                            cv::Point(jump.br().x + kFrame - 1, jump.y)})
    EXPECT_TRUE(is_red(m.at<cv::Vec3b>(p))) << p;
  for (const cv::Point p :
       {cv::Point(jump.x - kFrame - 1, jump.y - kFrame - 1), cv::Point(jump.br().x + kFrame, jump.y)})
    EXPECT_TRUE(is_white(m.at<cv::Vec3b>(p))) << p;
  const cv::Rect plain = lay.cell(1, 0);  // no change at all
  EXPECT_TRUE(is_white(m.at<cv::Vec3b>(plain.y - 2, plain.x - 2)));
  const cv::Rect first = lay.cell(0, 1);  // the first epoch has nothing to jump from
  EXPECT_TRUE(is_white(m.at<cv::Vec3b>(first.y - 2, first.x - 2)));
  // The content is drawn: the projection's zero background is grey somewhere.
  EXPECT_GT(cv::countNonZero(m(jump).reshape(1) != 255), 0);
}

TEST(EvolutionStrip, InactiveAndMissingCellsAreLightTiles) {
  AnalysisResult r = synthetic_result(1);
  r.evolution[0].strongest[0].value = 0.f;  // epoch index 0, feature row 0: nothing fired
  r.evolution[0].strongest[1].image = -1;   // epoch index 0, feature row 1: inactive as the analysis stores it
  cv::Mat m = render_evolution_strip_image(r, 0, synthetic_dataset(1));
  const StripLayout lay = evolution_strip_layout(3, 4, kSide, kSide);
  for (int f : {0, 1}) {
    const cv::Rect c = lay.cell(0, f);
    EXPECT_EQ(m.at<cv::Vec3b>(c.y + 2, c.x + 2), cv::Vec3b(225, 225, 225));
    EXPECT_EQ(m.at<cv::Vec3b>(c.br().y - 3, c.br().x - 3), cv::Vec3b(225, 225, 225));
  }
}

TEST(EvolutionStrip, InconsistentResultIsATypedError) {
  AnalysisResult r = synthetic_result(1);
  const Dataset d = synthetic_dataset(1);
  EXPECT_THROW(render_evolution_strip_image(r, 5, d), Error);
  r.evolution[0].strongest.pop_back();
  try {
    render_evolution_strip_image(r, 0, d);
    FAIL() << "expected ds::Error";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::snapshot);
    EXPECT_NE(std::string(e.what()).find("conv1"), std::string::npos) << e.what();
  }
  AnalysisResult r2 = synthetic_result(1);
  r2.evolution[0].strongest[0].image = 42;  // beyond the 10 probe images
  EXPECT_THROW(render_evolution_strip_image(r2, 0, d), Error);
}

TEST(TopkGrid, RendersAndChecksShapes) {
  AnalysisResult r = synthetic_result(3);
  const Dataset d = synthetic_dataset(3);
  const LayerTopK& t = r.topk.at(5)[0];
  cv::Mat all = render_topk_grid_image(t, r, d);
  cv::Mat two = render_topk_grid_image(t, r, d, 0, 2);
  EXPECT_EQ(all.type(), CV_8UC3);
  EXPECT_GT(all.rows, two.rows);  // 6 features need two rows of 4, 2 features one
  EXPECT_EQ(all.size(), topk_grid_layout(9, kSide, kSide, 0, 6).size);
  // A page past the first: features 4 and 5.
  EXPECT_EQ(render_topk_grid_image(t, r, d, 4, 64).size(), topk_grid_layout(9, kSide, kSide, 4, 2).size);
  EXPECT_THROW(render_topk_grid_image(t, r, d, 6, 1), Error);  // no feature 6
  LayerTopK bad = t;
  bad.windows.pop_back();
  EXPECT_THROW(render_topk_grid_image(bad, r, d), Error);
}

TEST(TopkGrid, PagesCoverEveryFeatureExactlyOnce) {
  for (int features : {1, 6, 63, 64, 65, 96, 200, 256, 384}) {
    const auto pages = topk_grid_pages(features);
    int next = 0;
    for (const auto& [first, count] : pages) {
      EXPECT_EQ(first, next) << features;
      EXPECT_GT(count, 0) << features;
      EXPECT_LE(count, report_layout::kGridPageFeatures) << features;
      next = first + count;
    }
    EXPECT_EQ(next, features);
    EXPECT_EQ(int(pages.size()), (features + report_layout::kGridPageFeatures - 1) / report_layout::kGridPageFeatures);
  }
  EXPECT_EQ(topk_grid_pages(96), (std::vector<std::pair<int, int>>{{0, 48}, {48, 48}}));  // balanced
  EXPECT_TRUE(topk_grid_pages(0).empty());
}

TEST(Plot, DrawsWithAndWithoutData) {
  PlotSpec p;
  p.title = "t";
  p.series.push_back({"a", {0, 1, 2}, {1, NAN, 3}, plot_color(0)});
  cv::Mat m = plot_lines(p);
  EXPECT_EQ(m.size(), p.size);
  PlotSpec empty;
  EXPECT_EQ(plot_lines(empty).size(), empty.size);
  PlotSpec flat;
  flat.series.push_back({"flat", {3}, {0.5}, plot_color(1)});
  EXPECT_NO_THROW(plot_lines(flat));
}

TEST(Plot, LayerStatsDrawALinePerLayerInEachPanel) {
  const fs::path dir = fs::temp_directory_path() / ("ds_layer_stats_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  const std::string csv = (dir / "metrics.csv").string();
  std::ofstream(csv) << "epoch,train_loss,conv1_weight_rms,conv1_grad_rms,conv1_update_ratio,conv1_dead_fraction,"
                        "fc2_weight_rms,fc2_grad_rms,fc2_update_ratio\n"
                        "0,2.3,0.01,0,0,0,0.01,0,0\n"
                        "1,1.1,0.02,0.01,0.002,0.25,0.02,0.003,0.0005\n"
                        "2,0.8,0.03,0.005,0.001,0.5,0.03,0.002,0.0004\n";
  const std::string png = (dir / "layer_stats.png").string();
  ASSERT_TRUE(plot_layer_stats(csv, png));
  const cv::Mat m = cv::imread(png);
  ASSERT_FALSE(m.empty());
  // Three panels side by side; conv1's colour in every one, fc2's in the first two only
  // (an fc layer has no dead fraction).
  auto has = [&](int panel, const cv::Scalar& bgr) {
    const cv::Mat part = m(cv::Rect(panel * m.cols / 3, 0, m.cols / 3, m.rows));
    cv::Mat mask;
    cv::inRange(part, bgr, bgr, mask);
    return cv::countNonZero(mask) > 20;
  };
  for (int panel : {0, 1, 2}) EXPECT_TRUE(has(panel, plot_color(0))) << panel;
  EXPECT_TRUE(has(0, plot_color(1)));
  EXPECT_TRUE(has(1, plot_color(1)));
  EXPECT_FALSE(has(2, plot_color(1)));
  // No per-layer columns: nothing to draw, nothing written.
  std::ofstream(csv) << "epoch,train_loss\n0,2.3\n";
  fs::remove(png);
  EXPECT_FALSE(plot_layer_stats(csv, png));
  EXPECT_FALSE(fs::exists(png));
  fs::remove_all(dir);
}

TEST_F(ReportTest, WritePngIsAtomicAndRefusesEmpty) {
  cv::Mat m(10, 20, CV_8UC3, cv::Scalar(1, 2, 3));
  write_png(m, file("a.png"));
  cv::Mat back = cv::imread(file("a.png"), cv::IMREAD_UNCHANGED);
  EXPECT_EQ(back.size(), m.size());
  EXPECT_THROW(write_png(cv::Mat(), file("b.png")), Error);
  EXPECT_THROW(write_png(m, file("no/such/folder/c.png")), Error);
  for (const auto& e : fs::directory_iterator(dir_)) EXPECT_EQ(e.path().filename(), "a.png");
}

TEST_F(ReportTest, ReadCsvGoodFile) {
  write("m.csv", "a,b,c\r\n1,\"x,y\",3\r\n\n4,\"say \"\"hi\"\"\",6\n");
  const CsvTable t = read_csv(file("m.csv"));
  ASSERT_EQ(t.header, (std::vector<std::string>{"a", "b", "c"}));
  ASSERT_EQ(t.rows.size(), 2u);
  EXPECT_EQ(t.rows[0][1], "x,y");
  EXPECT_EQ(t.rows[1][1], "say \"hi\"");
  EXPECT_EQ(t.column("c"), 2);
  EXPECT_EQ(t.column("z"), -1);
  EXPECT_DOUBLE_EQ(csv_number("2.5e-1", "w"), 0.25);
  EXPECT_TRUE(std::isnan(csv_number("nan", "w")));
  EXPECT_THROW(csv_number("1.5x", "w"), Error);
  EXPECT_THROW(csv_number("", "w"), Error);
}

TEST_F(ReportTest, ReadCsvMalformedFilesNameTheFileAndLine) {
  auto expect_data_error = [&](const std::string& name, const std::string& text, const std::string& needle) {
    write(name, text);
    try {
      read_csv(file(name));
      ADD_FAILURE() << name << ": expected ds::Error";
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::data) << e.what();
      EXPECT_NE(e.where().find(name), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    }
  };
  expect_data_error("short.csv", "a,b,c\n1,2,3\n4,5\n", "line 3");
  expect_data_error("long.csv", "a,b\n1,2,3\n", "expected 2 fields");
  expect_data_error("quote.csv", "a,b\n1,\"2\n", "unterminated");
  expect_data_error("empty.csv", "", "header");
  EXPECT_THROW(read_csv(file("missing.csv")), Error);
}

TEST(HtmlEscape, EscapesMarkup) {
  EXPECT_EQ(html_escape("<a href=\"x\">'&'</a>"), "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;");
  EXPECT_EQ(html_escape("plain"), "plain");
}

// Every <img src> of the page exists in the report folder, and no temporary is left.
void expect_complete_report(const fs::path& report) {
  const std::string html = read_all((report / "index.html").string());
  ASSERT_FALSE(html.empty());
  const std::regex img("<img src=\"([^\"]+)\"");
  std::set<std::string> srcs;
  for (auto it = std::sregex_iterator(html.begin(), html.end(), img); it != std::sregex_iterator(); ++it)
    srcs.insert((*it)[1]);
  for (const auto& s : srcs) {
    EXPECT_EQ(s.find('/'), std::string::npos) << s;  // relative, same folder
    EXPECT_TRUE(fs::exists(report / s)) << s;
    EXPECT_FALSE(cv::imread((report / s).string()).empty()) << s;
  }
  for (const auto& e : fs::directory_iterator(report)) {
    const std::string name = e.path().filename().string();
    EXPECT_NE(name[0], '.') << "leftover temporary " << name;
  }
  // Every in-page link lands on an id of the page.
  const std::regex href("href=\"#([^\"]+)\""), id("id=\"([^\"]+)\"");
  std::set<std::string> ids;
  for (auto it = std::sregex_iterator(html.begin(), html.end(), id); it != std::sregex_iterator(); ++it)
    ids.insert((*it)[1]);
  for (auto it = std::sregex_iterator(html.begin(), html.end(), href); it != std::sregex_iterator(); ++it)
    EXPECT_TRUE(ids.count((*it)[1])) << "link to a missing anchor #" << (*it)[1];
  EXPECT_EQ(html.find("<script"), std::string::npos);
  EXPECT_EQ(html.find("http"), std::string::npos);  // nothing fetched from the network
}

TEST_F(ReportTest, WriteReportOnSyntheticAnalysis) {
  const std::string run = file("my-run");
  fs::create_directories(run);
  std::ofstream(run + "/metrics.csv") << kMetrics;
  std::ofstream(run + "/config.cfg") << "[run]\nname = quickstart\n[train]\nepochs = 5\n";
  fs::create_directories(run + "/snapshots");
  for (int e : {0, 2, 5}) write_tiny_snapshot(run + "/snapshots/" + snapshot_file_name(e), e);
  const AnalysisResult r = synthetic_result(1);
  write_report(context_of(run), r, synthetic_dataset(1));

  const fs::path report = fs::path(run) / "report";
  expect_complete_report(report);
  const std::string html = read_all((report / "index.html").string());
  EXPECT_NE(html.find("<tr><th>run.name</th><td>quickstart</td></tr>"), std::string::npos);  // in the summary
  // Titled by the folder, not run.name: runs made with --run.dir differ by folder.
  EXPECT_NE(html.find("<title>deconvscope: my-run</title>"), std::string::npos);
  EXPECT_NE(html.find("<h1>my-run</h1>"), std::string::npos);
  EXPECT_EQ(html.find("http-equiv=\"refresh\""), std::string::npos);  // not a live run
  EXPECT_NE(html.find("src=\"layer_stats.png\""), std::string::npos);
  // Every strip row links to its feature's top-9 at the top-k epoch, which has an anchor.
  for (const char* layer : {"conv1", "conv2"})
    for (int f : {0, 3, 5}) {
      const std::string anchor = std::string("topk-") + layer + "-epoch0005-f" + std::to_string(f);
      EXPECT_NE(html.find("href=\"#" + anchor + "\""), std::string::npos) << anchor;
      EXPECT_NE(html.find("id=\"" + anchor + "\""), std::string::npos) << anchor;
    }
  EXPECT_EQ(html.find("href=\"#topk-conv1-epoch0005-f7\""), std::string::npos);  // top-k has features 0-5 only
  EXPECT_NE(html.find("81.50%"), std::string::npos);             // final val accuracy
  for (const char* png :
       {"training_curves.png", "convergence.png", "evolution_conv1.png", "evolution_conv2.png",
        "topk_conv1_epoch0005.png", "topk_conv2_epoch0005.png", "filters_epoch0000.png", "filters_epoch0005.png"})
    EXPECT_NE(html.find(std::string("src=\"") + png + "\""), std::string::npos) << png;
  EXPECT_NE(html.find("2 &rarr; 5"), std::string::npos);    // the jump list
  EXPECT_NE(html.find("images_per_s"), std::string::npos);  // the metrics table

  if (const char* keep = std::getenv("DECONVSCOPE_KEEP_REPORT")) {
    fs::remove_all(keep);
    fs::create_directories(keep);
    fs::copy(run, keep, fs::copy_options::recursive);
    write_report(context_of(std::string(keep) + "/rgb"), synthetic_result(3), synthetic_dataset(3));
  }
}

// Under each strip, its sanity baseline: a row per feature, a median row, the sentence
// saying what a high value means and the median it states; a layer without it says so.
TEST_F(ReportTest, EvolutionStripsCarryTheirSanityBaseline) {
  const std::string run = file("baseline-run");
  fs::create_directories(run);
  AnalysisResult r = synthetic_result(1);
  const float nan = std::nanf("");
  // conv2, [E * F] with E = 3, F = 4: epoch 2 has a feature without a figure, epoch 5 another.
  r.evolution[1].init_rank_correlation = {1, 1, 1, 1, 0.8f, 0.6f, nan, 0.2f, 0.9f, 0.5f, 0.3f, nan};
  summarise_init_rank_correlation(r);
  ASSERT_EQ(r.convergence[1].init_rank_correlation, (std::vector<float>{1.f, 0.6f, 0.5f}));
  write_report(context_of(run), r, synthetic_dataset(1));
  const std::string html = read_all((fs::path(run) / "report" / "index.html").string());
  const size_t conv2 = html.find("<h2 id=\"layer-conv2\">");
  ASSERT_NE(conv2, std::string::npos);
  const std::string before = html.substr(0, conv2), after = html.substr(conv2);
  EXPECT_NE(before.find("No sanity baseline for these pictures"), std::string::npos);  // conv1 has none
  EXPECT_NE(after.find("A high value means the picture is mostly what the architecture (the switches and "
                       "rectification) does to any weights, here random ones, not what was learned"),
            std::string::npos);
  EXPECT_NE(after.find("(epoch 0, the random initialisation; its own switches, a unit signal)"), std::string::npos);
  EXPECT_NE(after.find("Sanity Checks for Saliency Maps&rdquo;, NeurIPS 2018"), std::string::npos);
  EXPECT_NE(after.find("At epoch 5 the median over the 3 features with a figure is 0.50."), std::string::npos);
  // Feature #5 (row 2): 1 at epoch 0, blank where it has no figure, 0.30 at epoch 5.
  EXPECT_NE(after.find("<tr><td>#5</td><td class=\"num\">1.00</td><td class=\"num\"></td><td class=\"num\">0.30</td>"
                       "</tr>"),
            std::string::npos);
  EXPECT_NE(after.find("<tr><th>median</th><td class=\"num\">1.00</td><td class=\"num\">0.60</td><td class=\"num\">"
                       "0.50</td></tr>"),
            std::string::npos);
  // The baseline sits between the strip and the first top-k grid.
  EXPECT_LT(after.find("evolution_conv2.png"), after.find("<tr><th>median</th>"));
  EXPECT_LT(after.find("<tr><th>median</th>"), after.find("topk_conv2_epoch0005.png"));
}

// A copy of synthetic_result whose conv1 top-k at epoch 5 has `features` features, the
// ones in `silent` inactive as the analysis stores them (image -1, value 0).
AnalysisResult with_topk_features(int features, const std::set<int>& silent) {
  AnalysisResult r = synthetic_result(1);
  LayerTopK& t = r.topk.at(5)[0];
  const LayerTopK one = t;
  const size_t chw = size_t(kSide) * kSide;
  t.features = features;
  t.acts.clear();
  t.windows.clear();
  t.projections = Tensor({features, 9, 1, kSide, kSide});
  for (int f = 0; f < features; ++f)
    for (int k = 0; k < 9; ++k) {
      const size_t src = size_t(f % 5) * 9 + k, dst = size_t(f) * 9 + k;
      t.acts.push_back(silent.count(f) ? Activation{} : one.acts[src]);
      t.windows.push_back(one.windows[src]);
      std::copy(one.projections.ptr() + src * chw, one.projections.ptr() + (src + 1) * chw,
                t.projections.ptr() + dst * chw);
    }
  return r;
}

TEST_F(ReportTest, TopkGridsArePagedSoThatEveryFeatureIsShown) {
  const std::string run = file("paged");
  const AnalysisResult r = with_topk_features(100, {});
  write_report(context_of(run), r, synthetic_dataset(1));
  const fs::path report = fs::path(run) / "report";
  expect_complete_report(report);
  const std::string html = read_all((report / "index.html").string());
  // 100 features: two pictures of 50, every feature with an anchor.
  EXPECT_NE(html.find("src=\"topk_conv1_epoch0005.png\""), std::string::npos);
  EXPECT_NE(html.find("src=\"topk_conv1_epoch0005_p2.png\""), std::string::npos);
  EXPECT_FALSE(fs::exists(report / "topk_conv1_epoch0005_p3.png"));
  for (int f = 0; f < 100; ++f)
    EXPECT_NE(html.find("id=\"topk-conv1-epoch0005-f" + std::to_string(f) + "\""), std::string::npos) << f;
  EXPECT_EQ(html.find("first 64"), std::string::npos);
  const cv::Mat second = cv::imread((report / "topk_conv1_epoch0005_p2.png").string());
  EXPECT_EQ(second.size(), topk_grid_layout(9, kSide, kSide, 50, 50).size);
}

TEST_F(ReportTest, DeadFeaturesAreSummarisedPerLayer) {
  const std::string run = file("dead");
  fs::create_directories(run);
  std::ofstream(run + "/metrics.csv") << kMetrics;  // conv1_dead_fraction 0.03 at the last epoch
  write_report(context_of(run), with_topk_features(100, {2, 40, 77}), synthetic_dataset(1));
  const std::string html = read_all(run + "/report/index.html");
  EXPECT_NE(html.find("id=\"dead\""), std::string::npos);
  EXPECT_NE(html.find("conv1 3/100"), std::string::npos);                // summary line: 3% of 100 features
  EXPECT_NE(html.find("3 of 100 (3.0%)"), std::string::npos);            // metrics.csv's figure
  EXPECT_NE(html.find("3 of 100 at epoch 5"), std::string::npos);        // the analysis' inactive features
  EXPECT_NE(html.find("<td class=\"wrap\">2, 40, 77</td>"), std::string::npos);  // which ones
  EXPECT_NE(html.find("<td>conv2</td><td class=\"num\">6</td>"), std::string::npos);  // analysed, no metrics column
}

// The metrics table keeps the run-wide columns; per-layer statistics go to a narrow table
// with a row per epoch and layer, so the page never scrolls sideways.
TEST_F(ReportTest, MetricsTableSplitsPerLayerColumnsIntoRows) {
  const std::string run = file("metrics-split");
  fs::create_directories(run);
  std::ofstream(run + "/metrics.csv") << kMetrics;
  write_report(context_of(run), with_topk_features(4, {}), synthetic_dataset(1));
  const std::string html = read_all(run + "/report/index.html");
  const size_t at = html.find("id=\"metrics\"");
  ASSERT_NE(at, std::string::npos);
  const std::string section = html.substr(at);
  const size_t details = section.find("<details><summary>Per layer and epoch");
  ASSERT_NE(details, std::string::npos);
  const std::string run_table = section.substr(0, details);
  EXPECT_NE(run_table.find("<th>val_accuracy</th>"), std::string::npos);
  EXPECT_EQ(run_table.find("conv1_grad_rms"), std::string::npos);  // not a column any more
  // epoch 2's conv1 row: weight RMS 0.04, gradient RMS 0.01, update ratio 0.002, dead 0.04.
  EXPECT_NE(section.find("<tr><td class=\"num\">2</td><td>conv1</td><td class=\"num\">0.04</td>"
                         "<td class=\"num\">0.01</td><td class=\"num\">0.002</td><td class=\"num\">0.04</td></tr>"),
            std::string::npos);
}

TEST_F(ReportTest, PageReloadsOnlyWhileALiveRunTrains) {
  const std::string run = file("live");
  fs::create_directories(run);
  std::ofstream(run + "/metrics.csv") << kMetrics;  // up to epoch 5
  const AnalysisResult r = synthetic_result(1);
  auto page_for = [&](const std::string& config) {
    std::ofstream(run + "/config.cfg") << config;
    write_report(context_of(run), r, synthetic_dataset(1));
    return read_all(run + "/report/index.html");
  };
  const std::string refresh = "<meta http-equiv=\"refresh\"";
  const std::string live = page_for("[train]\nepochs = 10\n[analysis]\nlive = true\n");
  EXPECT_NE(live.find(refresh), std::string::npos);
  EXPECT_NE(live.find("Training in progress: epoch 5 of 10"), std::string::npos);
  EXPECT_EQ(page_for("[train]\nepochs = 5\n[analysis]\nlive = true\n").find(refresh), std::string::npos);  // done
  EXPECT_EQ(page_for("[train]\nepochs = 10\n[analysis]\nlive = false\n").find(refresh),
            std::string::npos);  // nothing would rewrite the page
}

TEST_F(ReportTest, StalePicturesOfOursAreRemovedAndNothingElse) {
  const std::string run = file("stale");
  const fs::path report = fs::path(run) / "report";
  fs::create_directories(report);
  const cv::Mat dot(4, 4, CV_8UC3, cv::Scalar(1, 2, 3));
  const std::vector<std::string> ours = {"evolution_conv9.png", "topk_conv9_epoch0003.png",
                                         "topk_conv1_epoch0005_p3.png", "topk_conv1_epoch0002.png",
                                         "filters_epoch0099.png", "training_curves.png", "layer_stats.png"};
  const std::vector<std::string> theirs = {"notes.png", "my_topk.png", "evolution_conv1.png.bak", "health.html",
                                           "topk_conv1_epoch05.png", "evolution_conv1.jpg", "filters.png"};
  for (const auto& n : ours) write_png(dot, (report / n).string());
  for (const auto& n : theirs) std::ofstream((report / n).string()) << "x";
  fs::create_directories(report / "evolution_dir.png");  // a folder is never removed
  write_report(context_of(run), synthetic_result(1), synthetic_dataset(1));  // no metrics, no snapshots
  for (const auto& n : ours) EXPECT_FALSE(fs::exists(report / n)) << n;
  for (const auto& n : theirs) EXPECT_TRUE(fs::exists(report / n)) << n;
  EXPECT_TRUE(fs::is_directory(report / "evolution_dir.png"));
  for (const char* n : {"evolution_conv1.png", "topk_conv1_epoch0005.png", "convergence.png"})  // this report's
    EXPECT_TRUE(fs::exists(report / n)) << n;
}

TEST_F(ReportTest, WriteReportWithoutMetricsSaysSo) {
  const std::string run = file("bare");
  fs::create_directories(run);
  write_report(context_of(run), synthetic_result(3), synthetic_dataset(3));
  const fs::path report = fs::path(run) / "report";
  expect_complete_report(report);
  const std::string html = read_all((report / "index.html").string());
  EXPECT_NE(html.find("No metrics.csv"), std::string::npos);
  EXPECT_FALSE(fs::exists(report / "training_curves.png"));
  EXPECT_NE(html.find("<h1>bare</h1>"), std::string::npos);  // run name from the folder
}

TEST_F(ReportTest, WriteReportNotesMalformedMetricsAndRejectsAWrongProbe) {
  const std::string run = file("broken");
  fs::create_directories(run);
  std::ofstream(run + "/metrics.csv") << "epoch,val_accuracy\n1,0.5\n2\n";
  const AnalysisResult r = synthetic_result(1);
  write_report(context_of(run), r, synthetic_dataset(1));
  const std::string html = read_all(run + "/report/index.html");
  EXPECT_NE(html.find("could not be read"), std::string::npos);
  EXPECT_THROW(write_report(context_of(run), r, synthetic_dataset(3)), Error);  // 3 channels, analysed 1
}
