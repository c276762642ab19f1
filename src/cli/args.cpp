// Command-line helpers; see include/deconvscope/cli/args.hpp.
#include "deconvscope/cli/args.hpp"

#include <cmath>
#include <filesystem>

#include "deconvscope/core/error.hpp"
#include "deconvscope/io/run_folder.hpp"

namespace ds {

bool take_flag(std::vector<std::string>& args, const std::string& flag) {
  bool found = false;
  for (auto it = args.begin(); it != args.end();) {
    if (*it == flag) {
      found = true;
      it = args.erase(it);
    } else {
      ++it;
    }
  }
  return found;
}

std::vector<std::string> take_values(std::vector<std::string>& args, const std::string& name) {
  std::vector<std::string> values;
  for (size_t i = 0; i < args.size();) {
    if (args[i] == name) {
      if (i + 1 >= args.size()) throw Error(ErrorKind::usage, name, "expected a value after " + name);
      values.push_back(args[i + 1]);
      args.erase(args.begin() + long(i), args.begin() + long(i) + 2);
    } else if (args[i].rfind(name + "=", 0) == 0) {
      values.push_back(args[i].substr(name.size() + 1));
      args.erase(args.begin() + long(i));
    } else {
      ++i;
    }
  }
  return values;
}

std::string take_value(std::vector<std::string>& args, const std::string& name, const std::string& fallback) {
  const std::vector<std::string> values = take_values(args, name);
  return values.empty() ? fallback : values.back();
}

int parse_int(const std::string& s, const std::string& what) {
  try {
    size_t used = 0;
    const int v = std::stoi(s, &used);
    if (used == s.size()) return v;
  } catch (const std::exception&) {
  }
  throw Error(ErrorKind::usage, what, expected_found("an integer", "'" + s + "'"));
}

int parse_int_in(const std::string& s, const std::string& what, int lo, int hi) {
  const int v = parse_int(s, what);
  if (v < lo || v > hi)
    throw Error(ErrorKind::usage, what,
                expected_found("an integer from " + std::to_string(lo) + " to " + std::to_string(hi), s));
  return v;
}

double parse_double(const std::string& s, const std::string& what) {
  try {
    size_t used = 0;
    const double v = std::stod(s, &used);
    if (used == s.size() && std::isfinite(v)) return v;
  } catch (const std::exception&) {
  }
  throw Error(ErrorKind::usage, what, expected_found("a number", "'" + s + "'"));
}

Config load_run_config(const std::string& dir, std::vector<std::string> args) {
  const std::string cfg_path = RunPaths::of(dir).config;
  if (!std::filesystem::exists(cfg_path))
    throw Error(ErrorKind::usage, cfg_path, "not a run folder: it has no config.cfg", "train first, or check the path");
  args.insert(args.begin(), {"--config", cfg_path});
  return load_config(args);
}

}  // namespace ds
