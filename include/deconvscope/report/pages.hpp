// The pages of a run's report beside report/index.html, and the frame every HTML page
// shares. `analyze` (and `train` with analysis.live, after each snapshot) writes
// index.html; health and each registered analysis write their own page into report/ from
// their own command. Which pages there are is not known here: the command line hands the
// list down (cli/analyses.hpp report_pages(), in navigation order). index.html links every
// one that exists whenever it is written, and a page written after it adds its own link.
#pragma once

#include <string>
#include <vector>

#include "deconvscope/io/run_folder.hpp"

namespace ds {

struct ReportPage {
  std::string file;   // "health.html", relative to report/
  std::string label;  // the link text in index.html's navigation bar
};

// <a href="..."> links to those of `pages` that exist in paths.report, in their order.
std::string page_links(const RunPaths& paths, const std::vector<ReportPage>& pages);

// Adds the link to report/<page.file> to report/index.html's navigation bar, when
// index.html exists and has no such link yet; written atomically.
void link_from_index(const RunPaths& paths, const ReportPage& page);

// --- The page frame: every HTML page deconvscope writes opens with page_head() and closes
// with page_end(), so the head, the stylesheet and the footer are written in one place.

struct PageFrame {
  std::string title;          // <title>, plain text (escaped here): "deconvscope health: run"
  std::string heading;        // <h1>, plain text
  std::string subtitle_html;  // <p class="sub">, raw HTML
  std::string extra_css;      // appended to the shared stylesheet (style.hpp) in the same <style>
  int refresh_seconds = 0;    // > 0: the page reloads itself (the report of a run still training)
};

// From the doctype through <h1> and the subtitle, inside <body><main>.
std::string page_head(const PageFrame& frame);

// <nav>'s opening tag and, when report/index.html exists, the link back to it (the caller
// adds its own links and closes it).
std::string nav_begin(const RunPaths& paths);

// A page of one run beside index.html: page_head() with <title>deconvscope <what>: <run>
// and <h1><what>: <run>, then nav_begin().
std::string page_begin(const RunPaths& paths, const std::string& what, const std::string& subtitle_html);

// The footer naming the command (none for index.html, which `analyze` and `train` both
// write) and the time, and the closing tags.
std::string page_end(const std::string& command);

// The run's name for titles: its folder's name.
std::string run_title(const std::string& run_dir);

}  // namespace ds
