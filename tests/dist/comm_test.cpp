// core/comm.hpp in a process started without mpirun (a group of one, every operation the
// identity), and the shares a set is split into across ranks.
#include <gtest/gtest.h>

#include <cmath>

#include "deconvscope/core/comm.hpp"

namespace ds {
namespace {

TEST(Comm, WithoutMpirunIsAGroupOfOneWhoseOperationsChangeNothing) {
  ASSERT_FALSE(Comm::launched_by_mpirun()) << "run this test without mpirun";
  Comm& c = Comm::world();
  EXPECT_EQ(c.rank(), 0);
  EXPECT_EQ(c.size(), 1);
  EXPECT_FALSE(c.distributed());
  float f[3] = {1.5f, -2.f, 3.25f};
  c.allreduce_sum(f, 3);
  c.start_allreduce_sum(f, 3);
  c.wait_all();
  EXPECT_EQ(f[0], 1.5f);
  EXPECT_EQ(f[2], 3.25f);
  EXPECT_EQ(c.timing().rounds, 0) << "nothing was communicated";
  EXPECT_EQ(c.all_gather(42), std::vector<uint64_t>{42});
  EXPECT_NO_THROW(c.check_agreement(7, "weights"));
}

TEST(Comm, SharesInWholeBatchesCoverTheSetOnceInOrder) {
  for (int size : {1, 2, 3, 5})
    for (int64_t total : {0, 1, 7, 8, 61, 64, 1000}) {
      int64_t next = 0;
      for (int r = 0; r < size; ++r) {
        const Share s = share_of_batches(total, /*batch=*/8, r, size);
        EXPECT_EQ(s.first, next) << "total " << total << " rank " << r << "/" << size;
        EXPECT_TRUE(s.first % 8 == 0 || s.count == 0) << "a share starts at a batch boundary";
        next = s.first + s.count;
      }
      EXPECT_EQ(next, total) << "total " << total << " over " << size;
    }
}

TEST(Comm, FingerprintSeesEveryBit) {
  float a[2] = {1.f, 2.f}, b[2] = {1.f, std::nextafter(2.f, 3.f)};
  EXPECT_NE(fingerprint(a, 2), fingerprint(b, 2));
  EXPECT_EQ(fingerprint(a, 2), fingerprint(a, 2));
}

}  // namespace
}  // namespace ds
