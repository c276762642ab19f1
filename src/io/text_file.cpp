// Atomic small text files; see include/deconvscope/io/text_file.hpp.
#include "deconvscope/io/text_file.hpp"

#include <cmath>
#include <cstdio>

#include "deconvscope/io/atomic_file.hpp"

namespace ds {

void write_text_atomic(const std::string& path, const std::string& text) {
  write_file_atomic(path, text.data(), text.size());
}

std::string csv_number(float v) {
  if (std::isnan(v)) return "nan";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.7g", double(v));
  return buf;
}

}  // namespace ds
