// Atomic small text files and CSV quoting; see include/deconvscope/io/text_file.hpp.
#include "deconvscope/io/text_file.hpp"

#include <cmath>
#include <cstdio>

#include "deconvscope/io/atomic_file.hpp"

namespace ds {

void write_text_atomic(const std::string& path, const std::string& text) {
  write_file_atomic(path, text.data(), text.size());
}

std::string csv_quote(const std::string& s) {
  if (s.find_first_of(",\"\n\r") == std::string::npos) return s;
  std::string q = "\"";
  for (char c : s) q += c == '"' ? std::string("\"\"") : std::string(1, c);
  return q + "\"";
}

std::string csv_number(float v) {
  if (std::isnan(v)) return "nan";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.7g", double(v));
  return buf;
}

}  // namespace ds
