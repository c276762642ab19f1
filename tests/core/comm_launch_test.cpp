// Comm::check_launch: a build without MPI refuses a process started by mpirun, naming
// the option that builds with MPI; a build with MPI lets it start. Neither calls MPI.
#include <gtest/gtest.h>

#include <cstdlib>
#include <string>

#include "deconvscope/core/comm.hpp"
#include "deconvscope/core/error.hpp"

namespace {

TEST(CommLaunch, MpirunIsRefusedOnlyByABuildWithoutMpi) {
  ASSERT_EQ(std::getenv("OMPI_COMM_WORLD_SIZE"), nullptr) << "run the test without mpirun";
  ::setenv("OMPI_COMM_WORLD_SIZE", "2", 1);  // what mpirun puts in each rank's environment
#ifdef DS_TEST_WITHOUT_MPI
  try {
    ds::Comm::check_launch();
    ADD_FAILURE() << "a build without MPI started under mpirun";
  } catch (const ds::Error& e) {
    EXPECT_EQ(e.kind(), ds::ErrorKind::usage);
    EXPECT_NE(std::string(e.what()).find("-DDECONVSCOPE_MPI=ON"), std::string::npos) << e.what();
  }
#else
  EXPECT_NO_THROW(ds::Comm::check_launch());
#endif
  ::unsetenv("OMPI_COMM_WORLD_SIZE");
}

}  // namespace
