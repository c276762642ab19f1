// `compare` on tiny runs trained in the test, one of them deeper than the other and one
// doctored to have a dominating first-layer filter: the page is self-contained, says
// what it cannot compare, and its verdicts name the healthier run; health is computed
// once and then reused; bad command lines exit with 2. Also the base64 encoder and the
// `health` command's page and link from index.html.
#include "deconvscope/report/compare.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "deconvscope/analysis/health.hpp"
#include "deconvscope/cli/commands.hpp"
#include "deconvscope/core/error.hpp"
#include "deconvscope/io/snapshot.hpp"
#include "deconvscope/report/csv.hpp"
#include "deconvscope/report/data_uri.hpp"
#include "deconvscope/train/trainer.hpp"
#include "train/synthetic_run.hpp"

namespace fs = std::filesystem;

namespace ds {
namespace {

std::string read_text(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::ostringstream s;
  s << f.rdbuf();
  return s.str();
}

size_t count(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

TEST(DataUri, Base64KnownVectors) {
  EXPECT_EQ(base64_encode(""), "");
  EXPECT_EQ(base64_encode("f"), "Zg==");
  EXPECT_EQ(base64_encode("fo"), "Zm8=");
  EXPECT_EQ(base64_encode("foo"), "Zm9v");
  EXPECT_EQ(base64_encode("foobar"), "Zm9vYmFy");
  EXPECT_EQ(base64_encode(std::string("\xff\x00\x10", 3)), "/wAQ");
  const cv::Mat m(4, 4, CV_8UC3, cv::Scalar(1, 2, 3));
  EXPECT_EQ(png_data_uri(m).rfind("data:image/png;base64,iVBORw0KGgo", 0), 0u) << "a PNG starts with its signature";
  EXPECT_THROW(png_data_uri(cv::Mat()), Error);
}

class CompareRuns : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    root_ = testutil::make_temp_dir("compare");
    const std::string data = root_ + "/data";
    fs::create_directories(data);
    testutil::write_synthetic_mnist(data, 240, 60);
    auto args = [&](const std::string& run, const std::vector<std::string>& layers) {
      std::vector<std::string> a =
          testutil::tiny_run_args(data, run,
                                  {"--train.epochs", "1", "--snapshot.epochs", "0,1", "--analysis.probe_limit", "60",
                                   "--analysis.batch", "32", "--analysis.features", "2"});
      std::vector<std::string> kept;
      for (size_t i = 0; i < a.size(); ++i) {
        if (a[i] == "--model.layer") {
          ++i;
          continue;
        }
        kept.push_back(a[i]);
      }
      for (const std::string& l : layers) kept.insert(kept.end(), {"--model.layer", l});
      return kept;
    };
    shallow_ = root_ + "/shallow";
    deep_ = root_ + "/deep";
    train(load_config(args(shallow_, {"c1 conv out=4 kernel=3 stride=2 pad=1", "r1 relu",
                                      "c2 conv out=6 kernel=3 pad=1", "r2 relu", "f3 fc out=10"})),
          TrainOptions{});
    train(load_config(args(deep_, {"conv1 conv out=6 kernel=5 pad=2", "relu1 relu", "pool1 maxpool kernel=2",
                                   "conv2 conv out=6 kernel=3 pad=1", "relu2 relu", "conv3 conv out=8 kernel=3 pad=1",
                                   "relu3 relu", "fc4 fc out=10"})),
          TrainOptions{});
    // The shallow run's first layer gets a filter 50 times stronger than the others.
    const auto snaps = list_snapshots(RunPaths::of(shallow_).snapshots);
    Snapshot s = read_snapshot(snaps.back().second);
    for (size_t j = 0; j < 9; ++j) s.params[0].weights.data[j] *= 50.f;
    write_snapshot(snaps.back().second, s);
  }
  static void TearDownTestSuite() {
    std::error_code ec;
    fs::remove_all(root_, ec);
  }
  static CompareOptions quiet() {
    CompareOptions o;
    o.health.quiet = true;
    o.health.probe_limit = 60;
    return o;
  }
  static std::string root_, shallow_, deep_;
};
std::string CompareRuns::root_, CompareRuns::shallow_, CompareRuns::deep_;

TEST_F(CompareRuns, RunsOfDifferentDepthsOnOneSelfContainedPage) {
  // ctest runs each test in its own process, gtest all in one: start without health either way.
  for (const std::string& run : {shallow_, deep_}) fs::remove(RunPaths::of(run).analysis + "/health.h5");
  const std::string out = root_ + "/cmp";
  const CompareSummary s = compare_runs({shallow_, deep_}, out, quiet());
  EXPECT_EQ(s.computed.size(), 2u) << "neither run had its health yet";
  EXPECT_TRUE(fs::exists(RunPaths::of(shallow_).analysis + "/health.h5"));

  const std::string html = read_text(s.html);
  EXPECT_NE(html.find("<h1>shallow vs deep</h1>"), std::string::npos);
  EXPECT_GE(count(html, "src=\"data:image/png;base64,"), 6u) << "mosaics, histograms and curves";
  EXPECT_EQ(count(html, "<img"), count(html, "src=\"data:image/png;base64,")) << "every picture embedded";
  EXPECT_EQ(html.find("<script"), std::string::npos);
  EXPECT_NE(html.find("Conv position 3"), std::string::npos) << "the deeper run's third layer has its table";
  EXPECT_NE(html.find("not analysed"), std::string::npos) << "no projections without an analysis, and it says so";

  bool depth_note = false, shape_note = false;
  for (const std::string& n : s.notes) {
    depth_note = depth_note || n.find("differ in depth") != std::string::npos;
    shape_note = shape_note || n.find("different shapes") != std::string::npos;
  }
  EXPECT_TRUE(depth_note);
  EXPECT_TRUE(shape_note);

  // The doctored run dominates; the other one is called healthier on that figure.
  bool judged = false;
  for (const std::string& v : s.verdicts)
    if (v.rfind("dominating (conv position 1", 0) == 0) {
      judged = true;
      EXPECT_NE(v.find("deep is healthier"), std::string::npos) << v;
    }
  EXPECT_TRUE(judged);

  const CsvTable csv = read_csv(s.csv);
  const int pos = csv.column("conv_position"), run = csv.column("run");
  ASSERT_GE(pos, 0);
  size_t third = 0;
  for (const auto& row : csv.rows)
    if (row[size_t(pos)] == "3") {
      ++third;
      EXPECT_EQ(row[size_t(run)], "deep");
    }
  EXPECT_GT(third, 0u);
  const CsvTable verdicts = read_csv(s.verdicts_csv);
  EXPECT_EQ(verdicts.rows.size(), s.verdicts.size());

  // Health is current now: a second comparison reuses it.
  const CompareSummary again = compare_runs({deep_, shallow_}, root_ + "/cmp2", quiet());
  EXPECT_TRUE(again.computed.empty());
}

TEST_F(CompareRuns, AliasingAppearsOnceTheRunIsAnalysed) {
  compare_runs({shallow_, deep_}, root_ + "/cmp3", quiet());  // both runs' health is current now
  ASSERT_EQ(cli_run({"analyze", "--run", shallow_, "--analysis.probe_limit", "60"}), 0);
  CompareOptions o = quiet();
  const CompareSummary s = compare_runs({shallow_, deep_}, root_ + "/cmp3", o);
  EXPECT_EQ(s.computed.size(), 1u) << "the shallow run's analysis is newer than its health";
  const std::string html = read_text(s.html);
  EXPECT_NE(html.find("shallow: c2, epoch 1; stride aliasing"), std::string::npos);
  bool deep_note = false;
  for (const std::string& n : s.notes) deep_note = deep_note || n.find("deep: stride aliasing not measured") == 0;
  EXPECT_TRUE(deep_note) << "the deep run has stride 1";
}

TEST_F(CompareRuns, BadInputIsRefused) {
  auto kind = [](auto&& f) {
    try {
      f();
    } catch (const Error& e) {
      return e.kind();
    }
    return ErrorKind::interrupted;  // "no error"
  };
  EXPECT_EQ(kind([&] { compare_runs({shallow_}, root_ + "/x", quiet()); }), ErrorKind::usage);
  EXPECT_EQ(kind([&] { compare_runs({shallow_, shallow_ + "/"}, root_ + "/x", quiet()); }), ErrorKind::usage);
  const std::string empty = root_ + "/empty";
  fs::create_directories(empty);
  EXPECT_EQ(kind([&] { compare_runs({shallow_, empty}, root_ + "/x", quiet()); }), ErrorKind::snapshot);
  EXPECT_EQ(cli_run({"compare", shallow_}), 2);
  EXPECT_EQ(cli_run({"compare", shallow_, deep_, "--bogus"}), 2);
  EXPECT_EQ(cli_run({"health"}), 2);
  EXPECT_EQ(cli_run({"health", "--run", empty}), 2);
}

TEST_F(CompareRuns, HealthCommandWritesItsPageAndLinksIt) {
  fs::create_directories(deep_ + "/report");
  {
    std::ofstream index(deep_ + "/report/index.html");
    index << "<html><nav><a href=\"#summary\">Summary</a></nav></html>\n";
  }
  ASSERT_EQ(cli_run({"health", "--run", deep_, "--probe", "60"}), 0);
  const std::string page = read_text(deep_ + "/report/health.html");
  EXPECT_NE(page.find("Filter health: deep"), std::string::npos);
  EXPECT_NE(page.find("conv3"), std::string::npos);
  EXPECT_EQ(count(page, "<img"), count(page, "src=\"data:image/png;base64,"));
  const std::string index = read_text(deep_ + "/report/index.html");
  EXPECT_EQ(count(index, "href=\"health.html\""), 1u);
  ASSERT_EQ(cli_run({"health", "--run", deep_, "--probe", "60"}), 0);
  EXPECT_EQ(count(read_text(deep_ + "/report/index.html"), "href=\"health.html\""), 1u) << "linked once";
  EXPECT_TRUE(fs::exists(deep_ + "/analysis/health_summary.csv"));
}

}  // namespace
}  // namespace ds
