// Runs scan_fixture() in whatever process group it was started in (one process, or the
// ranks of `mpirun -np N`) and writes the result's bytes to argv[1] from rank 0.
#include <cstdio>
#include <fstream>

#include "deconvscope/core/comm.hpp"
#include "dist/scan_fixture.hpp"

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: dist_scan_probe OUT\n");
    return 2;
  }
  try {
    const std::string bytes = ds::disttest::scan_bytes(ds::disttest::scan_fixture());
    if (ds::Comm::world().rank() == 0) {
      std::ofstream f(argv[1], std::ios::binary);
      f.write(bytes.data(), std::streamsize(bytes.size()));
      if (!f) return 1;
    }
  } catch (const std::exception& e) {
    ds::Comm::world().mark_failed();
    std::fprintf(stderr, "dist_scan_probe: %s\n", e.what());
    return 1;
  }
  return 0;
}
