// Running the real binary (or a test program) under `mpirun -np N`, for the tests of
// data-parallel training and sharded analysis. Open MPI refuses root unless told, and this
// 2-core machine needs --oversubscribe; --bind-to none lets each rank use any core.
#pragma once

#include <string>
#include <vector>

#include "cli/cli_util.hpp"

namespace ds::disttest {

inline clitest::Result run_mpi(int np, const std::string& program, const std::vector<std::string>& args,
                               const std::string& log_prefix) {
  std::vector<std::string> argv{"mpirun", "-np", std::to_string(np), "--oversubscribe", "--bind-to", "none", program};
  argv.insert(argv.end(), args.begin(), args.end());
  const clitest::Child c = clitest::spawn_program(
      argv, log_prefix, {"OMPI_ALLOW_RUN_AS_ROOT=1", "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1", "OMP_NUM_THREADS=1"});
  clitest::Result r;
  r.code = clitest::wait_child(c);
  r.out = clitest::read_file(c.out_path);
  r.err = clitest::read_file(c.err_path);
  return r;
}

}  // namespace ds::disttest
