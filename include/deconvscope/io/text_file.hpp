// Writing a small text file (CSV, HTML) so that a reader never sees half of it: through a
// temporary name in the same folder, renamed into place (io/atomic_file.hpp). CSV files
// go through io/csv.hpp, which writes them this way.
// Left out: streaming large files (everything written this way fits in memory).
#pragma once

#include <string>

namespace ds {

// Throws ds::Error(io) naming `path` if the folder or the disk refuses.
void write_text_atomic(const std::string& path, const std::string& text);

}  // namespace ds
