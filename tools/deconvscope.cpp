// deconvscope: the one command. A thin main over the library: it dispatches the
// subcommand and turns typed errors into exit codes; everything else lives in src/.
#include "deconvscope/cli/commands.hpp"

int main(int argc, char** argv) { return ds::cli_main(argc, argv); }
