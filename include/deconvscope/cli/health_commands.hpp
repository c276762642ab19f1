// The `health` and `compare` subcommands (dispatched from cli/commands.cpp): filter health
// of one run, and the comparison of two or more runs by it.
#pragma once

#include <string>
#include <vector>

namespace ds {

// deconvscope health --run DIR [--probe N] [--dominating-ratio X] [--collapsed-ratio X]
//                    [--redundant-correlation X] [--section.key VALUE ...]
int cmd_health(std::vector<std::string> args);
// deconvscope compare --run DIR --run DIR [...] (or DIR DIR [...]) [--out DIR] [--labels A,B,...] [--recompute-health] [--probe N]
int cmd_compare(std::vector<std::string> args);

}  // namespace ds
