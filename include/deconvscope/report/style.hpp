// The one stylesheet of every HTML page deconvscope writes, inlined into each page by
// page_head() (report/pages.hpp) so that it opens from disk alone.
#pragma once

namespace ds {

extern const char* const kReportCss;

}  // namespace ds
