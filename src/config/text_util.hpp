// Strict text-to-number conversions shared by the config reader and the layer-line
// parser: the whole text must be the number ("5abc" and "" are refused), values that do
// not fit are refused, and floats must be finite. Also the float formatting that reads
// back to the same float, so an effective config survives a round trip. Private to
// src/config; nothing here throws.
#pragma once

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

namespace ds::config_detail {

inline std::string trim(const std::string& s) {
  const char* ws = " \t\r\n";
  size_t b = s.find_first_not_of(ws);
  if (b == std::string::npos) return {};
  size_t e = s.find_last_not_of(ws);
  return s.substr(b, e - b + 1);
}

// 'text', for messages: the quotes show where an empty or blank value begins and ends. A
// long text is cut (a 10 MB value must not become a 10 MB message); core/error.cpp
// escapes what is not printable.
inline std::string quote(const std::string& s) {
  if (s.size() <= 80) return "'" + s + "'";
  return "'" + s.substr(0, 60) + "...' (" + std::to_string(s.size()) + " characters)";
}

// Longest run.name and layer name: names become folder names, HDF5 group names, CSV
// cells and HTML headings, so a 10 MB name would be copied into every one of them.
constexpr size_t kMaxNameLength = 64;

inline bool parse_int(const std::string& text, long long& out) {
  std::string s = trim(text);
  if (s.empty()) return false;
  errno = 0;
  char* end = nullptr;
  long long v = std::strtoll(s.c_str(), &end, 10);
  if (errno != 0 || end != s.c_str() + s.size()) return false;
  out = v;
  return true;
}

inline bool parse_uint64(const std::string& text, unsigned long long& out) {
  std::string s = trim(text);
  // strtoull quietly wraps "-1" around to 2^64-1; a seed of -1 is a mistake, not a wish.
  if (s.empty() || s[0] == '-') return false;
  errno = 0;
  char* end = nullptr;
  unsigned long long v = std::strtoull(s.c_str(), &end, 10);
  if (errno != 0 || end != s.c_str() + s.size()) return false;
  out = v;
  return true;
}

inline bool parse_float(const std::string& text, float& out) {
  std::string s = trim(text);
  if (s.empty()) return false;
  errno = 0;
  char* end = nullptr;
  float v = std::strtof(s.c_str(), &end);
  if (errno != 0 || end != s.c_str() + s.size() || !std::isfinite(v)) return false;
  out = v;
  return true;
}

// Compact exponent form of "%.*e" text: "1.000e-04" -> "1e-4", "2.500e+03" -> "2.5e3".
inline std::string compact_exponent(const std::string& e_text) {
  size_t e = e_text.find('e');
  std::string mant = e_text.substr(0, e), exp = e_text.substr(e + 1);
  if (mant.find('.') != std::string::npos) {
    while (mant.back() == '0') mant.pop_back();
    if (mant.back() == '.') mant.pop_back();
  }
  std::string sign = exp[0] == '-' ? "-" : "";
  size_t digits = exp.find_first_not_of("+-0");
  return mant + "e" + sign + (digits == std::string::npos ? "0" : exp.substr(digits));
}

// Shortest text that strtof reads back to exactly v: 0.01f -> "0.01" (not "0.00999999978"),
// 1e-4f -> "1e-4" (as people write LRN's alpha), 0.75f -> "0.75".
inline std::string format_float(float v) {
  char buf[64];
  std::string best;
  if (v == std::floor(v) && std::fabs(v) < 1e7f) {  // whole numbers as such: "100", not "1e2"
    std::snprintf(buf, sizeof buf, "%.0f", double(v));
    return buf;
  }
  for (int precision = 1; precision <= 9; ++precision) {
    std::snprintf(buf, sizeof buf, "%.*g", precision, double(v));
    if (std::strtof(buf, nullptr) != v) continue;
    best = buf;
    std::snprintf(buf, sizeof buf, "%.*e", precision - 1, double(v));
    std::string e = compact_exponent(buf);
    if (e.size() < best.size() && std::strtof(e.c_str(), nullptr) == v) best = e;
    break;
  }
  if (best.empty()) {  // unreachable for finite floats: 9 digits always read back
    std::snprintf(buf, sizeof buf, "%.9g", double(v));
    best = buf;
  }
  return best;
}

// Splits at `sep`, trimming each piece; "" gives no pieces, "a,,b" gives an empty middle one.
inline std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> parts;
  if (trim(s).empty()) return parts;
  size_t start = 0;
  while (true) {
    size_t at = s.find(sep, start);
    parts.push_back(trim(s.substr(start, at == std::string::npos ? std::string::npos : at - start)));
    if (at == std::string::npos) break;
    start = at + 1;
  }
  return parts;
}

inline std::vector<std::string> split_ws(const std::string& s) {
  std::vector<std::string> parts;
  size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && (s[i] == ' ' || s[i] == '\t' || s[i] == '\r' || s[i] == '\n')) ++i;
    size_t b = i;
    while (i < s.size() && !(s[i] == ' ' || s[i] == '\t' || s[i] == '\r' || s[i] == '\n')) ++i;
    if (i > b) parts.push_back(s.substr(b, i - b));
  }
  return parts;
}

}  // namespace ds::config_detail
