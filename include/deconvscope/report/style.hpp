// The one stylesheet of every HTML page deconvscope writes (the run report, the health
// page, the comparison page), inlined into each page so that it opens from disk alone.
#pragma once

namespace ds {

extern const char* const kReportCss;

}  // namespace ds
