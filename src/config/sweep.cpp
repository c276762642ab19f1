// See include/deconvscope/config/sweep.hpp.
#include "deconvscope/config/sweep.hpp"

#include <cmath>
#include <cstdio>
#include <cstdlib>

#include "deconvscope/core/error.hpp"
#include "text_util.hpp"

namespace ds {

namespace {

using config_detail::quote;
using config_detail::split;
using config_detail::trim;

constexpr const char* kForm = "auto, a comma list such as -4,-2,0,2,4, or a range from:to:step such as 0:360:30";

std::string range_text(double lo, double hi) {
  char buf[96];
  std::snprintf(buf, sizeof buf, "numbers in [%g, %g]", lo, hi);
  return buf;
}

double number(const std::string& part, const std::string& whole, const std::string& where) {
  const std::string s = trim(part);
  char* end = nullptr;
  const double x = s.empty() ? NAN : std::strtod(s.c_str(), &end);
  if (s.empty() || end != s.c_str() + s.size() || !std::isfinite(x))
    throw Error(ErrorKind::config, where, expected_found(kForm, quote(s) + " in " + quote(whole)));
  return x;
}

}  // namespace

std::vector<double> parse_sweep(const std::string& text, const std::string& where, double lo, double hi) {
  const std::string whole = trim(text);
  if (whole == "auto") return {};
  if (whole.empty()) throw Error(ErrorKind::config, where, expected_found(kForm, "an empty sweep"));
  std::vector<double> v;
  if (whole.find(':') != std::string::npos) {
    const std::vector<std::string> parts = split(whole, ':');
    if (parts.size() != 3) throw Error(ErrorKind::config, where, expected_found(kForm, quote(whole)));
    const double from = number(parts[0], whole, where), to = number(parts[1], whole, where),
                 step = number(parts[2], whole, where);
    if (step == 0 || (to - from) * step < 0)
      throw Error(ErrorKind::config, where,
                  expected_found("a step that leads from " + trim(parts[0]) + " to " + trim(parts[1]), quote(whole)));
    // Values are from + k * step (no accumulated rounding); `to` is included up to a
    // rounding error of the division.
    const double count = std::floor((to - from) / step + 1e-9) + 1;
    if (count > double(kMaxSweepValues))
      throw Error(ErrorKind::config, where,
                  expected_found("at most " + std::to_string(kMaxSweepValues) + " values", quote(whole)));
    // Snapped to 1e-9 so that 0.6:1.4:0.1 holds the identity 1 exactly, not 1 + 2e-16.
    for (int k = 0; k < int(count); ++k) v.push_back(std::round((from + k * step) * 1e9) / 1e9);
  } else {
    for (const std::string& part : split(whole, ',')) {
      v.push_back(number(part, whole, where));
      if (v.size() > kMaxSweepValues)
        throw Error(ErrorKind::config, where,
                    expected_found("at most " + std::to_string(kMaxSweepValues) + " values", quote(whole)));
    }
  }
  for (double x : v)
    if (x < lo || x > hi) {
      char buf[32];
      std::snprintf(buf, sizeof buf, "%g", x);
      throw Error(ErrorKind::config, where, expected_found(range_text(lo, hi), std::string(buf) + " in " + quote(whole)));
    }
  return v;
}

}  // namespace ds
