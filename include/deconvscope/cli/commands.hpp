// The deconvscope command line: subcommands over the library. Only here do typed
// errors become messages on stderr and exit codes (2 bad input, 1 disk, 3 divergence,
// 130 interrupted, 70 a deconvscope bug).
#pragma once

#include <string>
#include <vector>

namespace ds {

int cli_main(int argc, char** argv);
// args: the subcommand and its arguments (argv without the program name).
int cli_run(const std::vector<std::string>& args);

}  // namespace ds
