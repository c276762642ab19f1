// See include/deconvscope/report/style.hpp.
#include "deconvscope/report/style.hpp"

namespace ds {

const char* const kReportCss = R"(
body { font: 15px/1.5 -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
       color: #222; background: #f6f7f9; margin: 0; }
main { max-width: 1540px; margin: 0 auto; padding: 8px 28px 48px; background: #fff;
       box-shadow: 0 0 12px rgba(0,0,0,.06); }
h1 { font-size: 26px; margin: 20px 0 2px; }
h2 { font-size: 20px; margin: 36px 0 10px; padding-bottom: 4px; border-bottom: 2px solid #e3e6ea; }
h3 { font-size: 16px; margin: 22px 0 8px; color: #333; }
p.sub { margin: 0 0 12px; color: #666; }
/* The navigation stays on screen while the page scrolls (the report runs to many screens);
   a heading reached by a link is not hidden under it. */
nav { margin: 14px 0 4px; padding: 8px 12px; background: #f1f3f6; border-radius: 6px; font-size: 14px;
      position: sticky; top: 0; z-index: 10; box-shadow: 0 2px 6px rgba(0,0,0,.08); }
[id] { scroll-margin-top: 64px; }
details { margin: 8px 0 14px; }
details > summary { cursor: pointer; color: #1f5fa8; font-weight: 600; margin: 6px 0; }
nav a { margin-right: 14px; color: #1f5fa8; text-decoration: none; }
nav a:hover { text-decoration: underline; }
.note { color: #6b5500; background: #fff8e1; border-left: 4px solid #f0c040; padding: 8px 12px; }
.hint { color: #666; font-size: 14px; margin: 4px 0 10px; }
table { border-collapse: collapse; margin: 8px 0 12px; font-size: 13.5px; }
th, td { padding: 4px 6px; border: 1px solid #e1e4e8; text-align: left; }
/* Headers wrap between words so that a table of many numeric columns fits the page
   without horizontal scrolling; numbers never break. */
th { background: #f1f3f6; font-weight: 600; vertical-align: bottom; }
td.num, td.ok, td.best, td.none { white-space: nowrap; }
tr:nth-child(even) td { background: #fafbfc; }
td.num { text-align: right; font-family: ui-monospace, Menlo, Consolas, monospace; }
td.ok, td.best { color: #17663a; font-weight: 600; }
td.none { color: #aaa; text-align: center; }
table.kv th { width: 200px; }
.scroll { overflow-x: auto; max-width: 100%; }
figure { margin: 10px 0 18px; }
figure img { max-width: 100%; height: auto; border: 1px solid #e6e8eb; image-rendering: pixelated; }
figcaption { color: #666; font-size: 13px; margin-top: 3px; }
.row { display: flex; flex-wrap: wrap; gap: 18px; align-items: flex-start; }
.row figure { margin: 0; }
pre { background: #f6f8fa; padding: 10px; font-size: 13px; overflow-x: auto; }
ul.verdicts li { margin: 3px 0; }
dl dt { font-weight: 600; margin-top: 6px; }
dl dd { margin-left: 18px; color: #444; }
footer { margin-top: 40px; color: #888; font-size: 12px; }
)";

}  // namespace ds
