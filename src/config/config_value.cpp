// See include/deconvscope/config/config_value.hpp: the conversions every config key's
// value goes through, built-in (config.cpp) or registered (config_section.hpp).
#include "deconvscope/config/config_value.hpp"

#include <string>
#include <vector>

#include "deconvscope/core/error.hpp"
#include "text_util.hpp"

namespace ds::config_value {

namespace {

using config_detail::parse_float;
using config_detail::parse_int;
using config_detail::quote;
using config_detail::split;
using config_detail::trim;

std::string range_text(long long lo, long long hi) {
  if (hi == std::numeric_limits<int>::max() || hi == std::numeric_limits<int64_t>::max())
    return "an integer >= " + std::to_string(lo);
  return "an integer in [" + std::to_string(lo) + ", " + std::to_string(hi) + "]";
}

long long to_integer(const std::string& v, const std::string& where, long long lo, long long hi) {
  long long x = 0;
  if (!parse_int(v, x)) bad_value(where, range_text(lo, hi), quote(v));
  if (x < lo || x > hi) bad_value(where, range_text(lo, hi), trim(v));
  return x;
}

}  // namespace

void bad_value(const std::string& where, const std::string& expected, const std::string& found) {
  throw Error(ErrorKind::config, where, expected_found(expected, found));
}

int to_int(const std::string& v, const std::string& where, int lo, int hi) {
  return int(to_integer(v, where, lo, hi));
}

int64_t to_int64(const std::string& v, const std::string& where, int64_t lo) {
  return to_integer(v, where, lo, std::numeric_limits<int64_t>::max());
}

float to_float(const std::string& v, const std::string& where, const char* expected, bool (*ok)(float)) {
  float x = 0;
  if (!parse_float(v, x)) bad_value(where, expected, quote(v));
  if (!ok(x)) bad_value(where, expected, trim(v));
  return x;
}

bool to_bool(const std::string& v, const std::string& where) {
  std::string s = trim(v);
  if (s == "true" || s == "1" || s == "yes" || s == "on") return true;
  if (s == "false" || s == "0" || s == "no" || s == "off") return false;
  bad_value(where, "true or false", quote(v));
}

std::string to_text(const std::string& v, const std::string& where) {
  std::string s = trim(v);
  if (s.find('#') != std::string::npos) bad_value(where, "text without '#' (it starts a comment in INI)", quote(v));
  // Values are written back into the run's config.cfg, one line each: a newline in
  // run.dir used to train, then leave a config.cfg no later command could read.
  for (unsigned char ch : s)
    if (ch < 0x20 || ch == 0x7f) bad_value(where, "text without control characters (newline, tab, escape, ...)", quote(v));
  return s;
}

std::vector<int> to_epoch_list(const std::string& v, const std::string& where) {
  std::vector<int> out;
  for (const std::string& part : split(v, ',')) {
    long long x = 0;
    if (!parse_int(part, x) || x < 0 || x > std::numeric_limits<int>::max())
      bad_value(where, "a comma list of epochs >= 0 such as 0,1,2,5,10", quote(part) + " in " + quote(trim(v)));
    out.push_back(int(x));
  }
  return out;
}

std::vector<std::string> to_name_list(const std::string& v, const std::string& where) {
  std::vector<std::string> out;
  for (const std::string& part : split(v, ',')) {
    if (part.empty()) bad_value(where, "a comma list of layer names such as conv1,conv2", "an empty name in " + quote(trim(v)));
    out.push_back(part);
  }
  return out;
}

std::string trimmed(const std::string& v) { return trim(v); }

std::string quoted(const std::string& v) { return quote(v); }

std::string bool_text(bool b) { return b ? "true" : "false"; }

std::string float_text(float v) { return config_detail::format_float(v); }

}  // namespace ds::config_value
