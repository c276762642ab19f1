// Small command-line helpers shared by the subcommands: flags and `--name VALUE` pairs are
// taken out of the argument list, so that what remains goes to the config loader (or is
// a list of positional arguments).
#pragma once

#include <string>
#include <vector>

#include "deconvscope/config/config.hpp"

namespace ds {

// Takes a boolean flag out of args; returns whether it was there.
bool take_flag(std::vector<std::string>& args, const std::string& flag);

// Takes `--name VALUE` (or --name=VALUE) out of args; returns the value or fallback. A
// name without a value is ds::Error(usage).
std::string take_value(std::vector<std::string>& args, const std::string& name, const std::string& fallback);

// Takes every `--name VALUE` (or --name=VALUE) out of args, in order.
std::vector<std::string> take_values(std::vector<std::string>& args, const std::string& name);

// The whole of s as an int; ds::Error(usage) naming `what` otherwise.
int parse_int(const std::string& s, const std::string& what);
// parse_int, and lo <= value <= hi; ds::Error(usage) naming `what` and the range otherwise.
int parse_int_in(const std::string& s, const std::string& what, int lo, int hi);
// The whole of s as a finite number; ds::Error(usage) naming `what` otherwise.
double parse_double(const std::string& s, const std::string& what);

// A run's own config (DIR/config.cfg) with the command line's overrides on top.
// ds::Error(usage) if DIR has no config.cfg.
Config load_run_config(const std::string& dir, std::vector<std::string> args);

}  // namespace ds
