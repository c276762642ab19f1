// `compare` on tiny runs trained in the test, one of them deeper, longer (snapshots 0-2
// against 0-1) and on fewer images than the other, and one doctored to have a dominating
// first-layer filter: the page is self-contained, judges both at their latest common
// epoch and says so, flags the differing training sets, says what it cannot compare, and
// its verdicts and tables name the healthier run only beyond the tie thresholds and never
// on a raw figure that is not comparable; health is computed once and then reused; bad
// command lines exit with 2. Also the verdict rule and the settings diff on their own,
// the base64 encoder and the `health` command's page and link from index.html; the cells
// compare is handed placed where each says, and the registry's pages and cells in order.
#include "deconvscope/report/compare.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "deconvscope/analysis/health.hpp"
#include "deconvscope/cli/analyses.hpp"
#include "deconvscope/cli/commands.hpp"
#include "deconvscope/cli/pipelines.hpp"
#include "deconvscope/core/error.hpp"
#include "deconvscope/io/snapshot.hpp"
#include "deconvscope/io/csv.hpp"
#include "deconvscope/report/data_uri.hpp"
#include "deconvscope/train/trainer.hpp"
#include "train/synthetic_run.hpp"
#include "../../src/report/compare_internal.hpp"

namespace fs = std::filesystem;

namespace ds {
namespace {

using testutil::read_text;

// The row of the health table of conv position `position` whose data-metric is `metric`.
std::string table_row(const std::string& html, int position, const std::string& metric) {
  const size_t table = html.find("<h3>Conv position " + std::to_string(position) + "</h3>");
  if (table == std::string::npos) return {};
  const size_t row = html.find("<tr data-metric=\"" + metric + "\">", table);
  const size_t end = html.find("</table>", table);
  if (row == std::string::npos || row > end) return {};
  return html.substr(row, html.find("</tr>", row) - row);
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
  EXPECT_EQ(base64_encode("foob"), "Zm9vYg==");
  EXPECT_EQ(base64_encode("fooba"), "Zm9vYmE=");
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
          TrainOptions{}, Comm::world());
    // The deep run trains one epoch longer (snapshots 0, 1, 2) on fewer images.
    std::vector<std::string> deep = args(deep_, {"conv1 conv out=6 kernel=5 pad=2", "relu1 relu",
                                                 "pool1 maxpool kernel=2", "conv2 conv out=6 kernel=3 pad=1",
                                                 "relu2 relu", "conv3 conv out=8 kernel=3 pad=1", "relu3 relu",
                                                 "fc4 fc out=10"});
    for (size_t i = 0; i + 1 < deep.size(); ++i) {
      if (deep[i] == "--train.epochs") deep[i + 1] = "2";
      if (deep[i] == "--snapshot.epochs") deep[i + 1] = "0,1,2";
    }
    deep.insert(deep.end(), {"--data.train_limit", "200"});
    train(load_config(deep), TrainOptions{}, Comm::world());
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
  const CompareSummary s = compare_command({shallow_, deep_}, out, quiet());
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
  const CompareSummary again = compare_command({deep_, shallow_}, root_ + "/cmp2", quiet());
  EXPECT_TRUE(again.computed.empty());
}

TEST_F(CompareRuns, AliasingAppearsOnceTheRunIsAnalysed) {
  compare_command({shallow_, deep_}, root_ + "/cmp3", quiet());  // both runs' health is current now
  ASSERT_EQ(cli_run({"analyze", "--run", shallow_, "--analysis.probe_limit", "60"}), 0);
  CompareOptions o = quiet();
  const CompareSummary s = compare_command({shallow_, deep_}, root_ + "/cmp3", o);
  EXPECT_EQ(s.computed.size(), 1u) << "the shallow run's analysis is newer than its health";
  const std::string html = read_text(s.html);
  // The caption says which features the tiles are (top-k grid or followed features).
  const size_t caption = html.find("shallow: c2, epoch 1, ");
  ASSERT_NE(caption, std::string::npos);
  const std::string said = html.substr(caption, html.find("</figcaption>", caption) - caption);
  EXPECT_NE(said.find(" that fired ("), std::string::npos) << said;
  EXPECT_NE(said.find("; stride aliasing"), std::string::npos) << said;
  bool deep_note = false;
  for (const std::string& n : s.notes) deep_note = deep_note || n.find("deep: stride aliasing not measured") == 0;
  EXPECT_TRUE(deep_note) << "the deep run has stride 1";
}

TEST_F(CompareRuns, JudgesAtTheLatestCommonEpochAndSaysSo) {
  // shallow has snapshots 0 and 1, deep 0, 1 and 2: epoch 1 is the latest both have.
  const CompareSummary s = compare_command({shallow_, deep_}, root_ + "/epoch", quiet());
  EXPECT_EQ(s.epochs, (std::vector<int>{1, 1}));
  const std::string html = read_text(s.html);
  EXPECT_NE(html.find("Compared at epoch 1: the latest epoch every run has a snapshot of."), std::string::npos);
  EXPECT_NE(html.find("deep: conv1, 6 x 5x5 / 1, epoch 1, one scale"), std::string::npos) << "mosaic of epoch 1";
  const CsvTable csv = read_csv(s.csv);
  const int epoch = csv.column("epoch");
  ASSERT_GE(epoch, 0);
  for (const auto& row : csv.rows) EXPECT_EQ(row[size_t(epoch)], "1");

  CompareOptions o = quiet();
  o.epoch = 0;
  EXPECT_EQ(compare_command({shallow_, deep_}, root_ + "/epoch0", o).epochs, (std::vector<int>{0, 0}));
  o.epoch = 2;  // shallow has no epoch 2
  try {
    compare_command({shallow_, deep_}, root_ + "/epoch2", o);
    ADD_FAILURE() << "expected ds::Error";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::usage);
    EXPECT_NE(std::string(e.what()).find("0, 1"), std::string::npos) << e.what();
  }
  o.epoch = CompareOptions::kEachLastEpoch;
  const CompareSummary last = compare_command({shallow_, deep_}, root_ + "/epochlast", o);
  EXPECT_EQ(last.epochs, (std::vector<int>{1, 2}));
  // Which run at which epoch, and why (the command prints both).
  EXPECT_EQ(last.at_epoch, "at epoch 1 (shallow), 2 (deep)");
  EXPECT_EQ(last.epoch_rule, "each run's own last snapshot (--epoch last)");
  bool said = false;
  for (const std::string& n : last.notes) said = said || n.find("judged at different epochs") != std::string::npos;
  EXPECT_TRUE(said);
  EXPECT_EQ(cli_run({"compare", shallow_, deep_, "--epoch", "2", "--out", root_ + "/cli2"}), 2);
  EXPECT_EQ(cli_run({"compare", shallow_, deep_, "--epoch", "soon", "--out", root_ + "/cli2"}), 2);
  EXPECT_EQ(cli_run({"compare", shallow_, deep_, "--epoch", "last", "--out", root_ + "/cli2"}), 0);
}

// One page (to train the runs once): the differing training sets flagged visibly, no
// winner marked on a tie, no colour on a raw figure that is not comparable.
TEST_F(CompareRuns, FlagsSettingsAndMarksOnlyRealWinners) {
  const CompareSummary s = compare_command({shallow_, deep_}, root_ + "/marks", quiet());
  const std::string html = read_text(s.html);

  ASSERT_FALSE(s.differences.empty());
  EXPECT_EQ(s.differences[0].rfind("Different training sets", 0), 0u) << s.differences[0];
  EXPECT_NE(s.differences[0].find("deep on the first 200 training images"), std::string::npos) << s.differences[0];
  EXPECT_NE(s.differences[0].find("shallow on every training image"), std::string::npos) << s.differences[0];
  bool key = false, epochs = false;
  for (const std::string& d : s.differences) {
    key = key || d == "data.train_limit: shallow 0, deep 200";
    epochs = epochs || d.rfind("train.epochs", 0) == 0;
  }
  EXPECT_TRUE(key) << "each differing setting is named with its values";
  EXPECT_FALSE(epochs) << "runs are compared at one epoch: their length does not change the figures";
  const size_t box = html.find("<div class=\"note\" id=\"differences\">");
  ASSERT_NE(box, std::string::npos);
  EXPECT_LT(box, html.find("id=\"verdicts\"")) << "the warning comes before the verdicts";

  // Every row: if the verdict rule calls it a tie, no cell is marked best.
  size_t ties = 0;
  for (int position : {1, 2, 3})
    for (const char* metric : {"dead_fraction", "never_fires_fraction", "collapsed_fraction", "dominating_fraction",
                               "redundant_fraction"}) {
      const std::string row = table_row(html, position, metric);
      if (row.empty()) continue;
      // Percentages: a tie when every cell shows the same value (well under half a point apart).
      std::set<std::string> shown;
      for (size_t at = row.find("<td class=\"num"); at != std::string::npos; at = row.find("<td class=\"num", at + 1))
        shown.insert(row.substr(row.find('>', at) + 1, row.find("</td>", at) - row.find('>', at) - 1));
      if (shown.size() != 1) continue;
      ++ties;
      EXPECT_EQ(row.find(" best"), std::string::npos) << "a tie marked as a win: " << row;
    }
  EXPECT_GT(ties, 0u) << "collapsed filters are 0% in both runs";
  // Raw redundancy of 3x3 against 5x5 filters is not comparable: shown, not coloured.
  const std::string raw = table_row(html, 1, "mean_max_correlation");
  ASSERT_FALSE(raw.empty());
  EXPECT_NE(raw.find("not judged"), std::string::npos) << raw;
  EXPECT_EQ(raw.find(" best"), std::string::npos) << raw;
  EXPECT_NE(raw.find("unjudged"), std::string::npos) << raw;
  EXPECT_EQ(table_row(html, 1, "correlation_above_chance").find("not judged"), std::string::npos);
  // Raw aliasing: the stride-1 run has none, so nothing is judged (and no winner named).
  bool alias = false;
  for (const std::string& v : s.verdicts)
    if (v.rfind("stride aliasing (conv position 2", 0) == 0) {
      alias = true;
      EXPECT_NE(v.find("not compared: no value for"), std::string::npos) << v;
    }
  EXPECT_TRUE(alias);
  // The dominating verdict names deep; its row marks deep's cell and not shallow's.
  const std::string dom = table_row(html, 1, "dominating_fraction");
  ASSERT_FALSE(dom.empty());
  EXPECT_EQ(count(dom, " best"), 1u) << dom;
}

TEST(CompareVerdicts, TiesNameNoWinner) {
  using compare_detail::judge;
  const auto tie = judge("position 1", "dead_fraction", "dead", -1, true, {"a", "b"}, {0.250f, 0.252f});
  EXPECT_TRUE(tie.leaders.empty());
  EXPECT_NE(tie.text.find("no clear difference"), std::string::npos) << tie.text;
  EXPECT_EQ(tie.text.find("healthier:"), std::string::npos) << tie.text;
  const auto win = judge("position 1", "dead_fraction", "dead", -1, true, {"a", "b"}, {0.30f, 0.10f});
  EXPECT_EQ(win.leaders, (std::vector<std::string>{"b"}));
  EXPECT_NE(win.text.find("b is healthier"), std::string::npos) << win.text;
  // Two runs within noise of each other, both clearly ahead of the third: both lead.
  const auto two = judge("position 1", "dead_fraction", "dead", -1, true, {"a", "b", "c"}, {0.100f, 0.102f, 0.4f});
  EXPECT_EQ(two.leaders, (std::vector<std::string>{"a", "b"}));
  EXPECT_NE(two.text.find("a and b are healthier"), std::string::npos) << two.text;
  const auto cos = judge("position 1", "correlation_above_chance", "above chance", -1, false, {"a", "b"},
                         {0.120f, 0.125f});
  EXPECT_TRUE(cos.leaders.empty()) << "cosines within 0.01 are a tie";
}

TEST(CompareSettings, ResultChangingDifferencesOnly) {
  const std::string a =
      "[run]\nname = a\nseed = 1\nthreads = 2\n[data]\ntrain_limit = 0\nresize = 56\n"
      "[model]\nlayer = c1 conv out=4\n[train]\nepochs = 10\nlr = 0.01\n[analysis]\nprobe_limit = 0\n";
  const std::string b = "[run]\nname = b\nseed = 1\nthreads = 4\n[data]\ntrain_limit = 2000\nresize = 56\n"
                        "[model]\nlayer = c1 conv out=8\n[train]\nepochs = 4\nlr = 0.02  # faster\n[analysis]\n"
                        "probe_limit = 500\n";
  const auto d = compare_detail::setting_differences({"A", "B"}, {a, b});
  EXPECT_EQ(d, (std::vector<std::string>{"data.train_limit: A 0, B 2000", "train.lr: A 0.01, B 0.02"}));
}

// The verdict reads each key's declared effect: for every key of the table, two configs
// that differ in it alone are told apart iff it changes the weights (the architecture,
// model.*, aside). Analysis and streaming keys change no weights: nothing is said.
TEST(CompareSettings, EveryKeyFollowsItsDeclaredEffect) {
  for (const std::string& key : config_keys()) {
    const size_t dot = key.find('.');
    const std::string head = "[" + key.substr(0, dot) + "]\n" + key.substr(dot + 1) + " = ";
    const auto d = compare_detail::setting_differences({"A", "B"}, {head + "1\n", head + "2\n"});
    const bool named = key_effect(key) == KeyEffect::weights && key.rfind("model.", 0) != 0;
    EXPECT_EQ(d, named ? std::vector<std::string>{key + ": A 1, B 2"} : std::vector<std::string>{}) << key;
  }
  EXPECT_TRUE(compare_detail::setting_differences({"A", "B"}, {"[analysis]\nfeatures = 8\n", "[analysis]\nfeatures = 4\n"})
                  .empty());
  EXPECT_TRUE(compare_detail::setting_differences({"A", "B"}, {"[data]\nstreaming = on\n", "[data]\nstreaming = off\n"})
                  .empty());
  // A text that is no config says whose it is.
  try {
    compare_detail::setting_differences({"A", "B"}, {"[train]\nlr = 1\n", "[train]\nbogus = 1\n"});
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::config);
    EXPECT_NE(std::string(e.what()).find("B: config.cfg:2"), std::string::npos) << e.what();
  }
}

// The health flags are short for the [health] keys: either sets the threshold health.h5
// records, the next run without them is back at the default, and a bad value exits 2.
TEST_F(CompareRuns, HealthFlagsAreShortForHealthKeys) {
  const std::string run = root_ + "/health-keys";
  fs::copy(deep_, run, fs::copy_options::recursive);
  ASSERT_EQ(cli_run({"health", "--run", run, "--probe", "60", "--dominating-ratio", "4"}), 0);
  HealthResult h = read_health(run + "/analysis/health.h5");
  EXPECT_EQ(h.thresholds.dominating_ratio, 4.0f);
  EXPECT_EQ(h.probe_count, 60);
  ASSERT_EQ(cli_run({"health", "--run", run, "--health.probe", "60", "--health.collapsed_ratio", "0.2"}), 0);
  h = read_health(run + "/analysis/health.h5");
  EXPECT_EQ(h.thresholds.collapsed_ratio, 0.2f);
  EXPECT_EQ(h.thresholds.dominating_ratio, 3.0f);
  EXPECT_EQ(cli_run({"health", "--run", run, "--collapsed-ratio", "2"}), 2);
  EXPECT_EQ(cli_run({"health", "--run", run, "--health.redundant_correlation", "0"}), 2);
  EXPECT_EQ(cli_run({"health", "--run", run, "--probe", "-1"}), 2);
  EXPECT_EQ(cli_run({"compare", run, shallow_, "--dominating-ratio", "1", "--out", root_ + "/hk"}), 2);
  EXPECT_EQ(cli_run({"compare", run, shallow_, "--health.bogus", "1", "--out", root_ + "/hk"}), 2);
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
  EXPECT_EQ(kind([&] { compare_command({shallow_}, root_ + "/x", quiet()); }), ErrorKind::usage);
  EXPECT_EQ(kind([&] { compare_command({shallow_, shallow_ + "/"}, root_ + "/x", quiet()); }), ErrorKind::usage);
  const std::string empty = root_ + "/empty";
  fs::create_directories(empty);
  EXPECT_EQ(kind([&] { compare_command({shallow_, empty}, root_ + "/x", quiet()); }), ErrorKind::snapshot);
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

// Cells of no analysis that exists: compare places what it is handed, and nothing else.
std::string fake_cell(const std::string& run_dir, std::string* note) {
  if (run_dir.find("shallow") != std::string::npos) return "<b>fake of shallow</b>";
  *note = "no fake result";
  return "";
}
std::string fake_section(const std::vector<std::string>& run_dirs, const std::vector<std::string>& labels,
                         std::vector<std::string>* notes) {
  notes->push_back("fake section: " + std::to_string(run_dirs.size()) + " runs, first " + labels[0]);
  return "<div class=\"row\">fake section body</div>\n";
}
std::string empty_section(const std::vector<std::string>&, const std::vector<std::string>&,
                          std::vector<std::string>*) {
  return "";
}

TEST_F(CompareRuns, PlacesTheCellsItIsHanded) {
  const CompareOptions opt = quiet();
  std::vector<ComparedRun> runs;
  for (const std::string& dir : {shallow_, deep_}) {
    bool now = false;
    runs.push_back(ComparedRun{dir, current_health(dir, opt.health, false, &now)});
  }
  const std::vector<CompareCell> cells = {
      {CompareCell::Place::section, "fakesec", "Fake section", "the fake <em>hint</em>", nullptr, fake_section},
      {CompareCell::Place::runs_column, "", "fake column", "", fake_cell, nullptr},
      {CompareCell::Place::none, "", "placed-nowhere", "", fake_cell, nullptr},
      {CompareCell::Place::runs_figures, "fakefig", "Fake figures", "figure hint", fake_cell, nullptr},
      {CompareCell::Place::section, "emptysec", "Empty section", "unseen", nullptr, empty_section},
  };
  const CompareSummary s = compare_runs(runs, cells, root_ + "/cells", opt);
  const std::string html = read_text(s.html);
  EXPECT_NE(html.find("<a href=\"#curves\">Curves</a><a href=\"#fakesec\">Fake section</a><a href=\"#limits\">"),
            std::string::npos)
      << "a section is linked from the navigation; an empty one is not";
  EXPECT_NE(html.find("<th>val accuracy there</th><th>fake column</th></tr>"), std::string::npos);
  EXPECT_NE(html.find("<td><b>fake of shallow</b></td></tr>"), std::string::npos);
  EXPECT_NE(html.find("<td>-</td></tr>"), std::string::npos) << "a run without a cell";
  EXPECT_NE(html.find("<h3 id=\"fakefig\">Fake figures</h3>\n<p class=\"hint\">figure hint</p>\n<div class=\"scroll\">"
                      "<figure style=\"display:inline-block\"><b>fake of shallow</b><figcaption>shallow</figcaption>"
                      "</figure></div>\n"),
            std::string::npos);
  const size_t section = html.find(
      "<h2 id=\"fakesec\">Fake section</h2>\n<p class=\"hint\">the fake <em>hint</em></p>\n"
      "<div class=\"row\">fake section body</div>\n");
  ASSERT_NE(section, std::string::npos);
  EXPECT_GT(section, html.find("id=\"curves\"")) << "sections come after the curves";
  EXPECT_LT(section, html.find("id=\"limits\""));
  EXPECT_EQ(html.find("placed-nowhere"), std::string::npos) << "Place::none shows nothing";
  EXPECT_EQ(html.find("emptysec"), std::string::npos);
  // The notes in the list's order: the section's, then each per-run cell's in run order.
  std::vector<std::string> fake_notes;
  for (const std::string& n : s.notes)
    if (n.find("fake") != std::string::npos) fake_notes.push_back(n);
  EXPECT_EQ(fake_notes, (std::vector<std::string>{"fake section: 2 runs, first shallow", "deep: no fake result.",
                                                  "deep: no fake result."}));
}

TEST(Registry, PagesAndCompareCellsInNavigationOrder) {
  // Health's page first, then each analysis' in registry order: index.html's navigation.
  std::vector<std::string> files, labels;
  for (const ReportPage& p : report_pages()) files.push_back(p.file), labels.push_back(p.label);
  EXPECT_EQ(files, (std::vector<std::string>{"health.html", "invariance.html", "occlusion.html", "linear_probes.html",
                                             "similarity.html"}));
  EXPECT_EQ(labels, (std::vector<std::string>{"Filter health", "Invariance", "Occlusion", "Linear probes",
                                              "Representation similarity"}));
  std::vector<std::string> anchors;
  for (const CompareCell& c : compare_cells()) anchors.push_back(c.title);
  EXPECT_EQ(anchors, (std::vector<std::string>{"Invariance", "linear probes, best layer (last epoch)",
                                               "Representation similarity"}));
}

}  // namespace
}  // namespace ds
