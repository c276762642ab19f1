// The pages a person opens, opened in headless Chromium (tests/browser/check_pages.py):
// a tiny run trained, analysed and health-checked by the real binary, and a comparison
// of it with a second run; every page must show all its pictures, have no broken local
// link and no script error. Screenshots are kept in build/browser/shots.
// Skips where chromium or python3 is absent.
// Leaves out: judging how the pages look (a person looks at the screenshots).
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "cli/cli_util.hpp"

namespace ds {
namespace {

using namespace clitest;

// The first executable called `name` on PATH, or "" when there is none.
std::string on_path(const std::string& name) {
  const char* path = std::getenv("PATH");
  std::string dirs = path ? path : "";
  for (size_t start = 0; start <= dirs.size();) {
    size_t end = dirs.find(':', start);
    if (end == std::string::npos) end = dirs.size();
    const fs::path candidate = fs::path(dirs.substr(start, end - start)) / name;
    if (::access(candidate.c_str(), X_OK) == 0) return candidate.string();
    start = end + 1;
  }
  return "";
}

// chromium and python3 from PATH; `missing` says which is absent (the tests then skip).
struct BrowserTools {
  std::string chromium, python, missing;
};
BrowserTools browser_tools() {
  BrowserTools t{on_path("chromium"), on_path("python3"), ""};
  if (t.chromium.empty() || t.python.empty())
    t.missing = std::string(t.chromium.empty() ? "chromium" : "python3") +
                " not found (tools/install-deps.sh --test installs it)";
  return t;
}

// The layout checks can fail: a planted page with a word broken in a cell, a caption
// twice and a navigation bar that scrolls away is refused with each named.
TEST(Browser, TheLayoutChecksCatchABrokenWordATwiceCaptionAndANavThatScrollsAway) {
  const BrowserTools tools = browser_tools();
  if (!tools.missing.empty()) GTEST_SKIP() << tools.missing;
  const std::string &chromium = tools.chromium, &python = tools.python;
  const std::string out = std::string(DS_BROWSER_OUT) + "/planted";
  std::error_code ec;
  fs::remove_all(out, ec);
  const std::string page = out + "/bad.html";
  write_file(page,
             "<!DOCTYPE html><html><head><meta charset=\"utf-8\"></head><body><nav><a href=\"#t\">top</a></nav>"
             "<table id=\"t\" style=\"width:60px\"><tr><td style=\"overflow-wrap:anywhere\">quickstartquickstart"
             "</td></tr></table><figure><figcaption>The same words under two pictures</figcaption></figure>"
             "<figure><figcaption>The same words under two pictures</figcaption></figure>"
             "<div style=\"height:6000px\"></div></body></html>\n");
  const std::string cmd = "'" + python + "' '" DS_BROWSER_CHECK "' --chromium '" + chromium + "' --shots '" + out +
                          "/shots' --base '" + out + "' '" + page + "' > '" + out + "/check.log' 2>&1";
  const int status = std::system(cmd.c_str());
  const std::string log = read_file(out + "/check.log");
  ASSERT_TRUE(WIFEXITED(status)) << cmd;
  if (WEXITSTATUS(status) == 77) GTEST_SKIP() << log;
  EXPECT_EQ(WEXITSTATUS(status), 1) << log;
  for (const std::string want : {"word broken inside a table cell: \"quickstart", "caption printed twice: \"The same",
                                 "the navigation bar is off screen after scrolling"})
    EXPECT_NE(log.find(want), std::string::npos) << want << "\n" << log;
}

TEST(Browser, EveryPageShowsItsPicturesLinksAndRunsWithoutErrors) {
  const BrowserTools tools = browser_tools();
  if (!tools.missing.empty()) GTEST_SKIP() << tools.missing;
  const std::string &chromium = tools.chromium, &python = tools.python;

  // Under build/ rather than /tmp, so that the pages behind a failure can be opened.
  const std::string out = DS_BROWSER_OUT;
  const std::string work = out + "/work";
  std::error_code ec;
  fs::remove_all(work, ec);
  fs::remove_all(out + "/shots", ec);
  const std::string data = work + "/data";
  write_mnist(data);
  // Two runs of 3 epochs, snapshots 0 to 3, so that curves and strips have a few points.
  for (const std::string name : {"run-a", "run-b"}) {
    const std::string dir = work + "/" + name, cfg = dir + ".cfg", log = dir;
    write_file(cfg, tiny_config(data, dir, 3, "0,1,2,3"));
    std::vector<std::string> train{"train", "--config", cfg};
    if (name == "run-b") train.insert(train.end(), {"--train.lr", "0.02"});
    Result r = run(train, log + "-train");
    ASSERT_EQ(r.code, 0) << r.err;
    r = run({"analyze", "--run", dir, "--analysis.features", "4"}, log + "-analyze");
    ASSERT_EQ(r.code, 0) << r.err;
    r = run({"health", "--run", dir}, log + "-health");
    ASSERT_EQ(r.code, 0) << r.err;
    // The further analyses' pages (invariance also appears in compare).
    r = run({"invariance", "--run", dir, "--images", "test:0-1"}, log + "-invariance");
    ASSERT_EQ(r.code, 0) << r.err;
    r = run({"similarity", "--run", dir, "--similarity.images", "100"}, log + "-similarity");
    ASSERT_EQ(r.code, 0) << r.err;
    if (name != "run-a") continue;
    r = run({"occlusion", "--run", dir, "--images", "test:0-1", "--occlusion.size", "4"}, log + "-occlusion");
    ASSERT_EQ(r.code, 0) << r.err;
    r = run({"linear-probe", "--run", dir, "--linear_probe.train", "160", "--linear_probe.test", "64"},
            log + "-linear-probe");
    ASSERT_EQ(r.code, 0) << r.err;
  }
  Result r = run({"compare", work + "/run-a", work + "/run-b", "--out", work + "/compare"}, work + "/compare");
  ASSERT_EQ(r.code, 0) << r.err;

  const std::vector<std::string> pages{work + "/run-a/report/index.html",      work + "/run-a/report/health.html",
                                       work + "/run-a/report/invariance.html", work + "/run-a/report/occlusion.html",
                                       work + "/run-a/report/linear_probes.html", work + "/run-a/report/similarity.html",
                                       work + "/compare/index.html"};
  std::string cmd = "'" + python + "' '" DS_BROWSER_CHECK "' --chromium '" + chromium + "' --shots '" + out +
                    "/shots' --base '" + work + "'";
  for (const std::string& p : pages) {
    ASSERT_TRUE(fs::exists(p)) << p << " was not written";
    cmd += " '" + p + "'";
  }
  cmd += " > '" + out + "/check.log' 2>&1";
  const int status = std::system(cmd.c_str());
  const std::string log = read_file(out + "/check.log");
  ASSERT_TRUE(WIFEXITED(status)) << cmd;
  if (WEXITSTATUS(status) == 77) GTEST_SKIP() << log;
  EXPECT_EQ(WEXITSTATUS(status), 0) << log;
  // At 1366 px (check_pages.py's default width): the long pages keep their nav on screen.
  for (const std::string page : {"run-a/report/index.html", "compare/index.html"}) {
    const size_t at = log.find(page + ": ok");
    ASSERT_NE(at, std::string::npos) << page << "\n" << log;
    const std::string line = log.substr(at, log.find('\n', at) - at);
    EXPECT_NE(line.find("nav on screen after scrolling"), std::string::npos) << line;
  }
  for (const std::string shot : {"run-a-report-index.png", "run-a-report-health.png", "run-a-report-invariance.png",
                                 "run-a-report-occlusion.png", "run-a-report-linear_probes.png",
                                 "run-a-report-similarity.png", "compare-index.png"})
    EXPECT_GT(fs::file_size(out + "/shots/" + shot, ec), 1000u) << shot << " (a screenshot per page)";
  std::cout << log;
}

}  // namespace
}  // namespace ds
