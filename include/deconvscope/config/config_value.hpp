// The value conversions of config keys, shared by the built-in key table (config.cpp) and
// the sections a higher stage registers (config_section.hpp), so that every key refuses a
// bad value with the same words: ds::Error(config) at `where` (the key, as the loader
// names it: "command line: --train.lr", "a.cfg:7: key train.lr"), saying what was
// expected and what was found. And the text each value is written back as, which the
// effective config (config.cfg, a snapshot's `config`) must read back to the same value.
#pragma once

#include <cstdint>
#include <limits>
#include <sstream>
#include <string>
#include <vector>

namespace ds::config_value {

[[noreturn]] void bad_value(const std::string& where, const std::string& expected, const std::string& found);

// An integer in [lo, hi].
int to_int(const std::string& v, const std::string& where, int lo, int hi = std::numeric_limits<int>::max());
int64_t to_int64(const std::string& v, const std::string& where, int64_t lo);
// `ok` says whether a parsed number is in range; `expected` says the same in words.
float to_float(const std::string& v, const std::string& where, const char* expected, bool (*ok)(float));
// true | 1 | yes | on, false | 0 | no | off.
bool to_bool(const std::string& v, const std::string& where);
// Text written back into INI: without '#' (a comment) or control characters; trimmed.
std::string to_text(const std::string& v, const std::string& where);
// "0,1,2,5,10": epochs >= 0.
std::vector<int> to_epoch_list(const std::string& v, const std::string& where);
// "conv1,conv2": non-empty names.
std::vector<std::string> to_name_list(const std::string& v, const std::string& where);

// The value without the spaces around it, as the key saw it.
std::string trimmed(const std::string& v);
// 'text' for messages, cut when long.
std::string quoted(const std::string& v);
// "true" | "false".
std::string bool_text(bool b);
// The shortest text that reads back to exactly v ("0.01", "1e-4").
std::string float_text(float v);

// "a,b,c": the comma list the list keys read.
template <class T>
std::string join(const std::vector<T>& v) {
  std::ostringstream s;
  for (size_t i = 0; i < v.size(); ++i) s << (i ? "," : "") << v[i];
  return s.str();
}

}  // namespace ds::config_value
