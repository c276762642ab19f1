// See include/deconvscope/core/number_text.hpp.
#include "deconvscope/core/number_text.hpp"

#include <cmath>
#include <cstdio>

namespace ds {

std::string format_number(const char* format, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, format, v);
  return buf;
}

std::string number_text(double v) { return std::isnan(v) ? "nan" : format_number("%.7g", v); }

}  // namespace ds
