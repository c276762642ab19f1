// The report's page list as handed down (report/pages.hpp): index.html's navigation links
// the pages of the caller's list that exist, in the list's order, and a page written after
// index.html adds its own link once. The report stage knows no page of its own: a page
// that no code below the command line names appears as soon as it is in the list.
#include "deconvscope/report/pages.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "train/synthetic_run.hpp"

namespace fs = std::filesystem;

namespace ds {
namespace {

using testutil::read_text;

void write_text(const std::string& path, const std::string& text) { std::ofstream(path, std::ios::binary) << text; }

class ReportPages : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = testutil::make_temp_dir("pages");
    paths_ = RunPaths::of(root_ + "/run");
    fs::create_directories(paths_.report);
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(root_, ec);
  }
  std::string root_;
  RunPaths paths_;
};

// Pages of no analysis that exists: the list is all the report goes by.
const std::vector<ReportPage> kFakePages = {
    {"first.html", "First"}, {"fake.html", "A fake <page>"}, {"missing.html", "Never written"}};

TEST_F(ReportPages, LinksTheHandedPagesThatExistInTheirOrder) {
  EXPECT_EQ(page_links(paths_, kFakePages), "") << "no page written yet";
  write_text(paths_.in_report("fake.html"), "<html></html>\n");
  write_text(paths_.in_report("first.html"), "<html></html>\n");
  EXPECT_EQ(page_links(paths_, kFakePages),
            "<a href=\"first.html\">First</a><a href=\"fake.html\">A fake &lt;page&gt;</a>");
  EXPECT_EQ(page_links(paths_, {}), "") << "an empty list links nothing, whatever exists";
}

TEST_F(ReportPages, APageWrittenAfterTheIndexLinksItselfOnce) {
  link_from_index(paths_, kFakePages[1]);
  EXPECT_FALSE(fs::exists(paths_.report_index)) << "no index.html, none made";
  write_text(paths_.report_index, "<html><nav><a href=\"#summary\">Summary</a></nav></html>\n");
  link_from_index(paths_, kFakePages[1]);
  link_from_index(paths_, kFakePages[1]);
  EXPECT_EQ(read_text(paths_.report_index),
            "<html><nav><a href=\"#summary\">Summary</a><a href=\"fake.html\">A fake &lt;page&gt;</a></nav></html>\n");
}

}  // namespace
}  // namespace ds
