// The pages of a run's report beside report/index.html. `analyze` writes index.html; each
// further analysis (health, and the analyses to come) writes its own page into report/
// from its own command. The pages are listed once, here, in navigation order: index.html
// links every one that exists whenever it is written, and a page written after it adds
// its own link. A new analysis adds one line to report_pages() and one file in src/report/.
#pragma once

#include <string>
#include <vector>

#include "deconvscope/io/run_folder.hpp"

namespace ds {

struct ReportPage {
  std::string file;   // "health.html", relative to report/
  std::string label;  // the link text in index.html's navigation bar
};

// Every page, in navigation order.
const std::vector<ReportPage>& report_pages();

// <a href="..."> links to the pages of report_pages() that exist in paths.report.
std::string page_links(const RunPaths& paths);

// Adds the link to report/<file> (a page of report_pages()) to report/index.html's
// navigation bar, when index.html exists and has no such link yet; written atomically.
void link_from_index(const RunPaths& paths, const std::string& file);

// The opening of a page in the report's style, up to and including <nav>'s opening tag
// (the caller adds its own links and closes it): doctype, <title>deconvscope
// <what>: <run></title>, <h1>, a subtitle (raw HTML), and a link back to index.html
// when it exists. And the closing: a footer naming the command and the time.
std::string page_begin(const RunPaths& paths, const std::string& what, const std::string& subtitle_html);
std::string page_end(const std::string& command);

// The run's name for titles: its folder's name.
std::string run_title(const std::string& run_dir);

}  // namespace ds
