// deconvscope: the one command. A thin main over the library: it dispatches the
// subcommand and turns typed errors into exit codes; everything else lives in src/.
#include "deconvscope/cli/commands.hpp"
#include "deconvscope/core/comm.hpp"

int main(int argc, char** argv) {
  const int code = ds::cli_main(argc, argv);
  // Under mpirun a failed rank must not wait in MPI_Finalize for ranks blocked in a
  // collective: it leaves at once and mpirun, seeing the exit code, ends the others.
  ds::Comm::note_exit_code(code);
  return code;
}
