// Tests of the report stage: projection contrast (0 -> 128, +max -> 255, -max -> 0,
// RGB -> BGR), patches, the filter mosaic, the evolution strip's size and jump frames
// from the layout constants, the top-k grid, plots, the CSV reader on good and malformed
// files, HTML escaping, and a whole report on a small synthetic analysis (2 layers, 3
// epochs, top-k at one epoch, 10 images) whose page references only PNGs that exist and
// leaves no temporary files. DECONVSCOPE_KEEP_REPORT=<dir> keeps a rendered report there
// for looking at.
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

#include "deconvscope/core/error.hpp"
#include "deconvscope/io/snapshot.hpp"
#include "deconvscope/report/csv.hpp"
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
  r.split = "train";
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
  const cv::Size cell = display_size(kSide, kSide);
  EXPECT_EQ(cell, cv::Size(56, 56));  // 28 px enlarged twice
  const int cell_w = 2 * cell.width + kInnerGap + 2 * kPad, cell_h = cell.height + 2 * kPad;
  EXPECT_EQ(m.cols, kLabelWidth + 3 * cell_w + kMargin);
  EXPECT_EQ(m.rows, kHeaderHeight + 4 * cell_h + kMargin);
  EXPECT_EQ(m.size(), evolution_strip_size(3, 4, kSide, kSide));
}

TEST(EvolutionStrip, JumpCellHasTheRedFrame) {
  const AnalysisResult r = synthetic_result(1);
  ASSERT_TRUE(r.jumps[0].jump[1 * 4 + 1]);   // epoch index 2, feature row 1
  ASSERT_FALSE(r.jumps[0].jump[0 * 4 + 1]);  // epoch index 1, same row
  ASSERT_FALSE(r.jumps[0].image_changed[0 * 4 + 0]);
  cv::Mat m = render_evolution_strip_image(r, 0, synthetic_dataset(1));
  using report_layout::kFrame;
  const cv::Rect jump = evolution_cell_rect(2, 1, kSide, kSide);
  // The frame: kFrame pixels on every side of the cell, white beyond.
  for (const cv::Point p : {cv::Point(jump.x - kFrame, jump.y - kFrame), cv::Point(jump.x - 1, jump.y + 10),
                            cv::Point(jump.br().x, jump.br().y), cv::Point(jump.x + 20, jump.br().y + kFrame - 1),
                            cv::Point(jump.br().x + kFrame - 1, jump.y)})
    EXPECT_TRUE(is_red(m.at<cv::Vec3b>(p))) << p;
  for (const cv::Point p :
       {cv::Point(jump.x - kFrame - 1, jump.y - kFrame - 1), cv::Point(jump.br().x + kFrame, jump.y)})
    EXPECT_TRUE(is_white(m.at<cv::Vec3b>(p))) << p;
  const cv::Rect plain = evolution_cell_rect(1, 0, kSide, kSide);  // no change at all
  EXPECT_TRUE(is_white(m.at<cv::Vec3b>(plain.y - 2, plain.x - 2)));
  const cv::Rect first = evolution_cell_rect(0, 1, kSide, kSide);  // the first epoch has nothing to jump from
  EXPECT_TRUE(is_white(m.at<cv::Vec3b>(first.y - 2, first.x - 2)));
  // The content is drawn: the projection's zero background is grey somewhere.
  EXPECT_GT(cv::countNonZero(m(jump).reshape(1) != 255), 0);
}

TEST(EvolutionStrip, InactiveAndMissingCellsAreLightTiles) {
  AnalysisResult r = synthetic_result(1);
  r.evolution[0].strongest[0].value = 0.f;  // epoch index 0, feature row 0: nothing fired
  r.evolution[0].strongest[1].image = -1;   // epoch index 0, feature row 1: no activation
  cv::Mat m = render_evolution_strip_image(r, 0, synthetic_dataset(1));
  for (int f : {0, 1}) {
    const cv::Rect c = evolution_cell_rect(0, f, kSide, kSide);
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
  cv::Mat two = render_topk_grid_image(t, r, d, 2);
  EXPECT_EQ(all.type(), CV_8UC3);
  EXPECT_GT(all.rows, two.rows);  // 6 features need two rows of 4, 2 features one
  LayerTopK bad = t;
  bad.windows.pop_back();
  EXPECT_THROW(render_topk_grid_image(bad, r, d), Error);
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
  EXPECT_EQ(html.find("<script"), std::string::npos);
  EXPECT_EQ(html.find("http"), std::string::npos);  // nothing fetched from the network
}

TEST_F(ReportTest, WriteReportOnSyntheticAnalysis) {
  const std::string run = file("my-run");
  fs::create_directories(run);
  std::ofstream(run + "/metrics.csv") << kMetrics;
  std::ofstream(run + "/config.cfg") << "[run]\nname = fancy <run>\n[train]\nepochs = 5\n";
  fs::create_directories(run + "/snapshots");
  for (int e : {0, 2, 5}) write_tiny_snapshot(run + "/snapshots/" + snapshot_file_name(e), e);
  const AnalysisResult r = synthetic_result(1);
  write_report(run, r, synthetic_dataset(1));

  const fs::path report = fs::path(run) / "report";
  expect_complete_report(report);
  const std::string html = read_all((report / "index.html").string());
  EXPECT_NE(html.find("fancy &lt;run&gt;"), std::string::npos);  // escaped run name
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
    write_report(std::string(keep) + "/rgb", synthetic_result(3), synthetic_dataset(3));
  }
}

TEST_F(ReportTest, WriteReportWithoutMetricsSaysSo) {
  const std::string run = file("bare");
  fs::create_directories(run);
  write_report(run, synthetic_result(3), synthetic_dataset(3));
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
  write_report(run, r, synthetic_dataset(1));
  const std::string html = read_all(run + "/report/index.html");
  EXPECT_NE(html.find("could not be read"), std::string::npos);
  EXPECT_THROW(write_report(run, r, synthetic_dataset(3)), Error);  // 3 channels, analysed 1
}
