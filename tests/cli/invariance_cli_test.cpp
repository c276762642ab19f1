// End-to-end tests of `deconvscope invariance` (issue 12): on a tiny trained run it writes
// the file set and page, `analyze` runs it when invariance.in_analyze asks, `compare`
// shows it, and bad input (an unknown image index, an empty sweep, a layer or epoch that
// does not exist) exits 2 naming the key, writing nothing.
#include <gtest/gtest.h>

#include "cli/cli_util.hpp"

namespace ds {
namespace {

using namespace clitest;

void expect_contains(const std::string& text, const std::vector<std::string>& parts) {
  for (const std::string& p : parts) EXPECT_NE(text.find(p), std::string::npos) << "'" << p << "' missing from:\n" << text;
}

class InvarianceCli : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    tmp_ = new TempDir("invariance");
    write_mnist(*tmp_ / "data");
    run_ = *tmp_ / "run";
    write_file(*tmp_ / "tiny.cfg", tiny_config(*tmp_ / "data", run_, 1));
    const Result r = run({"train", "--config", *tmp_ / "tiny.cfg"}, *tmp_ / "train");
    ASSERT_EQ(r.code, 0) << r.err;
  }
  static void TearDownTestSuite() { delete tmp_; }
  static TempDir* tmp_;
  static std::string run_;
};
TempDir* InvarianceCli::tmp_ = nullptr;
std::string InvarianceCli::run_;

TEST_F(InvarianceCli, BadInputExitsTwoNamingTheKeyAndWritesNothing) {
  const std::vector<std::pair<std::vector<std::string>, std::vector<std::string>>> cases = {
      {{"--images", "test:0,64"}, {"invariance.images", "index 64", "below 64"}},
      {{"--images", "valid:1"}, {"invariance.images", "split train or test"}},
      {{"--invariance.translate", ""}, {"--invariance.translate", "an empty sweep"}},
      {{"--invariance.rotate", "0:360:0"}, {"--invariance.rotate", "step"}},
      {{"--invariance.layers", "conv9"}, {"invariance.layers", "'conv9'", "conv1, conv2, fc3"}},
      {{"--invariance.layers", "relu1"}, {"invariance.layers", "'relu1'"}},
      {{"--epochs", "3"}, {"invariance.epochs", "0,1", "found 3"}},
  };
  for (const auto& [extra, want] : cases) {
    std::vector<std::string> args = {"invariance", "--run", run_};
    args.insert(args.end(), extra.begin(), extra.end());
    SCOPED_TRACE(extra[0] + " " + extra[1]);
    const Result r = run(args, *tmp_ / "bad");
    EXPECT_EQ(r.code, 2) << r.err;
    expect_contains(r.err, want);
    EXPECT_EQ(r.err.find('\n'), r.err.size() - 1) << "one line: " << r.err;
    EXPECT_FALSE(fs::exists(run_ + "/analysis/invariance.h5"));
    EXPECT_FALSE(fs::exists(run_ + "/invariance.incomplete"));
  }
}

TEST_F(InvarianceCli, WritesTheSetAnalyzeRunsItOnRequestAndCompareShowsIt) {
  Result r = run({"invariance", "--run", run_, "--images", "test:0-2", "--invariance.translate", "-2:2:1"},
                 *tmp_ / "inv");
  ASSERT_EQ(r.code, 0) << r.err;
  expect_contains(r.out, {"invariance at epoch 1", "translate_y", "d(conv1)", "d(conv2)", "s per snapshot (2 snapshots)"});
  const std::string csv = read_file(run_ + "/analysis/invariance.csv");
  expect_contains(csv, {"epoch,transform,image,label,value,distance_conv1,distance_conv2,probability,predicted\n",
                        "\n1,rotate,2,2,360,0,0,"});
  const std::string page = read_file(run_ + "/report/invariance.html");
  expect_contains(page, {"Invariance", "Across training", "id=\"epoch-0\"", "id=\"epoch-1\"", "data:image/png"});
  EXPECT_FALSE(fs::exists(run_ + "/invariance.incomplete"));

  // Fewer epochs replace the file's set: said, naming the epochs that go.
  r = run({"invariance", "--run", run_, "--images", "test:0-2", "--invariance.translate", "-2:2:1", "--epochs", "1"},
          *tmp_ / "inv1");
  ASSERT_EQ(r.code, 0) << r.err;
  expect_contains(r.err, {"invariance.h5 held epochs 0,1 and now holds epochs 1 only", "results for 0 are replaced",
                          "--epochs all"});
  r = run({"invariance", "--run", run_, "--images", "test:0-2", "--invariance.translate", "-2:2:1"}, *tmp_ / "inv2");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.err.find("are replaced"), std::string::npos) << r.err;

  // analyze with in_analyze rewrites the set and links the page from index.html.
  fs::remove(run_ + "/report/invariance.html");
  r = run({"analyze", "--run", run_, "--invariance.in_analyze", "true", "--invariance.images", "train:5"},
          *tmp_ / "analyze");
  ASSERT_EQ(r.code, 0) << r.err;
  ASSERT_TRUE(fs::exists(run_ + "/report/invariance.html"));
  expect_contains(read_file(run_ + "/report/index.html"), {"href=\"invariance.html\""});
  expect_contains(read_file(run_ + "/analysis/invariance.csv"), {"\n1,scale,5,5,1,0,0,"});

  // compare: the section for the run that has the file, a note for the one without.
  const std::string other = *tmp_ / "other";
  write_file(*tmp_ / "other.cfg", tiny_config(*tmp_ / "data", other, 1));
  ASSERT_EQ(run({"train", "--config", *tmp_ / "other.cfg"}, *tmp_ / "train2").code, 0);
  r = run({"compare", run_, other, "--out", *tmp_ / "cmp"}, *tmp_ / "compare");
  ASSERT_EQ(r.code, 0) << r.err;
  expect_contains(read_file(*tmp_ / "cmp/index.html"),
                  {"id=\"invariance\"", "href=\"#invariance\"", "other: no analysis/invariance.h5"});
}

}  // namespace
}  // namespace ds
