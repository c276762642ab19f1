// The deconvnet scan over Open MPI (src/analysis/deconvnet.cpp scan_topk): 2 ranks each
// scan half the probe's batches and merge their top-k; the result must be exactly one
// process's (same images, positions and values, ties across the ranks' split broken by
// image index, an unfired feature's ranks empty).
#include <gtest/gtest.h>

#include "dist/mpi_run.hpp"
#include "dist/scan_fixture.hpp"

namespace ds {
namespace {

TEST(DistScan, TwoRanksFindOneProcessesTopK) {
  clitest::TempDir tmp("dist-scan");
  const std::string one = disttest::scan_bytes(disttest::scan_fixture());
  const auto r = disttest::run_mpi(2, DS_SCAN_PROBE, {tmp / "two.bin"}, tmp / "two");
  ASSERT_EQ(r.code, 0) << r.err;
  const std::string two = clitest::read_file(tmp / "two.bin");
  ASSERT_EQ(two.size(), one.size());
  EXPECT_TRUE(two == one) << "the merged top-k differs from one process's";
  // The fixture is what it claims: ties across ranks and an unfired feature occur.
  const auto tops = disttest::scan_fixture();
  int64_t empty = 0;
  for (const Activation& a : tops[1]) empty += a.image < 0;
  EXPECT_GE(empty, 40) << "c2 feature 0 should never fire";
  bool tie_across = false;
  for (const auto& t : tops)
    for (size_t i = 0; i + 1 < t.size(); ++i)
      tie_across = tie_across || (t[i].image >= 0 && t[i].value == t[i + 1].value && t[i].image < 32 &&
                                  t[i + 1].image >= 32);
  EXPECT_TRUE(tie_across) << "no tie across the ranks' split in the fixture";
}

}  // namespace
}  // namespace ds
