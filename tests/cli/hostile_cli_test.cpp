// A run folder whose files pass their checksums and are still hostile (issue 21), end to
// end through the real binary: objects that reach outside the file, special files where
// the run's files belong, values that overflow the network, an init that would write
// infinite weights. Each must end quickly with exit 2 naming the file (and the object or
// layer), never a hang, a signal or exit 70.
#include <hdf5.h>
#include <sys/stat.h>

#include <chrono>
#include <functional>

#include <gtest/gtest.h>

#include "cli/cli_util.hpp"
#include "deconvscope/io/h5.hpp"
#include "deconvscope/io/h5_checksum.hpp"

namespace ds::clitest {
namespace {

void expect_contains(const std::string& text, const std::vector<std::string>& parts) {
  for (const std::string& p : parts) EXPECT_NE(text.find(p), std::string::npos) << "'" << p << "' missing from:\n" << text;
}

// Runs with a time limit: a hang fails the test instead of stalling the suite.
Result run_within(const std::vector<std::string>& args, const std::string& log, double timeout_s = 60) {
  Child c = spawn(args, log);
  if (!wait_until(c, [] { return false; }, timeout_s) && !c.reaped) {
    ::kill(c.pid, SIGKILL);
    ADD_FAILURE() << "still running after " << timeout_s << " s";
  }
  Result r;
  r.code = wait_child(c);
  r.out = read_file(c.out_path);
  r.err = read_file(c.err_path);
  return r;
}

class HostileRun : public ::testing::Test {
 protected:
  void SetUp() override {
    write_mnist(data);
    write_file(cfg_path, tiny_config(data, trained, 1, "0,1"));
    const Result r = run({"train", "--config", cfg_path}, tmp / "train");
    ASSERT_EQ(r.code, 0) << r.err;
  }
  std::string copy(const std::string& name) {
    const std::string dir = tmp / name;
    fs::copy(trained, dir, fs::copy_options::recursive);
    return dir;
  }
  // Edits a sealed file in place with the HDF5 C API; open_readwrite re-seals it, so only
  // what is inside can refuse it.
  static void edit(const std::string& f, const std::function<void(hid_t file)>& change) {
    h5::File file = h5::File::open_readwrite(f);
    change(file.id());
    file.close();
  }
  // Multiplies a float32 dataset in place.
  static void scale(const std::string& f, const std::string& dataset, float factor) {
    edit(f, [&](hid_t file) {
      const hid_t d = H5Dopen2(file, dataset.c_str(), H5P_DEFAULT);
      ASSERT_GE(d, 0) << dataset;
      const hid_t space = H5Dget_space(d);
      std::vector<float> v(size_t(H5Sget_simple_extent_npoints(space)));
      H5Dread(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, v.data());
      for (float& x : v) x *= factor;
      H5Dwrite(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, v.data());
      H5Sclose(space);
      H5Dclose(d);
    });
  }
  void refuse(const std::vector<std::string>& args, const std::vector<std::string>& parts) {
    const Result r = run_within(args, tmp / "log");
    EXPECT_EQ(r.code, 2) << r.err;
    expect_contains(r.err, parts);
    EXPECT_EQ(r.err.find("internal error"), std::string::npos) << r.err;
  }
  std::vector<std::string> resume(const std::string& dir) const {
    return {"train", "--config", cfg_path, "--run.dir", dir, "--resume", "--train.epochs", "2"};
  }

  TempDir tmp{"hostile"};
  std::string data = tmp / "data", trained = tmp / "trained", cfg_path = tmp / "tiny.cfg";
};

TEST_F(HostileRun, ObjectsReachingOutsideTheFileAreRefusedNamingThem) {
  const std::string dir = copy("a");
  const std::string fifo = tmp / "fifo", s1 = dir + "/snapshots/epoch-0001.h5", last = dir + "/last.h5";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  const std::string good = read_file(s1), good_last = read_file(last);
  // conv1's weights as an external link to a FIFO (used to block for ever).
  for (const std::string& f : {s1, last})
    edit(f, [&](hid_t file) {
      ASSERT_GE(H5Ldelete(file, "/layers/conv1/weights", H5P_DEFAULT), 0);
      ASSERT_GE(H5Lcreate_external(fifo.c_str(), "/w", file, "/layers/conv1/weights", H5P_DEFAULT, H5P_DEFAULT), 0);
    });
  refuse({"analyze", "--run", dir}, {s1 + ": /layers/conv1/weights", "found an external link"});
  refuse({"health", "--run", dir}, {s1 + ": /layers/conv1/weights", "found an external link"});
  refuse(resume(dir), {last + ": /layers/conv1/weights", "found an external link"});
  // ... stored as external raw data in the FIFO.
  write_file(s1, good);
  edit(s1, [&](hid_t file) {
    ASSERT_GE(H5Ldelete(file, "/layers/conv1/weights", H5P_DEFAULT), 0);
    const hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    H5Pset_external(dcpl, fifo.c_str(), 0, 4 * 36);
    H5Pset_fill_time(dcpl, H5D_FILL_TIME_NEVER);
    const hsize_t dims[4] = {4, 1, 3, 3};
    const hid_t space = H5Screate_simple(4, dims, nullptr);
    const hid_t d = H5Dcreate2(file, "/layers/conv1/weights", H5T_IEEE_F32LE, space, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    ASSERT_GE(d, 0);
    H5Dclose(d);
    H5Sclose(space);
    H5Pclose(dcpl);
  });
  refuse({"analyze", "--run", dir}, {s1 + ": /layers/conv1/weights", "found a dataset stored in external files"});
}

TEST_F(HostileRun, SpecialFilesInTheRunFolderNeverBlock) {
  const auto fifo_at = [](const std::string& path) {
    fs::remove(path);
    ASSERT_EQ(::mkfifo(path.c_str(), 0600), 0);
  };
  std::string dir = copy("a");
  fifo_at(dir + "/last.h5");
  refuse(resume(dir), {dir + "/last.h5", "found a FIFO"});
  dir = copy("b");
  fifo_at(dir + "/metrics.csv");
  refuse(resume(dir), {dir + "/metrics.csv", "found a FIFO"});
  dir = copy("c");
  fifo_at(dir + "/snapshots/epoch-0001.h5");
  refuse({"analyze", "--run", dir}, {dir + "/snapshots/epoch-0001.h5", "found a FIFO"});
  refuse({"health", "--run", dir}, {dir + "/snapshots/epoch-0001.h5", "found a FIFO"});
  // Files a command only appends to or rewrites: said, and the command goes on.
  dir = copy("d");
  fifo_at(dir + "/train.log");
  Result r = run_within(resume(dir), tmp / "log");
  EXPECT_EQ(r.code, 0) << r.err;
  expect_contains(r.err, {"cannot open " + dir + "/train.log", "FIFO"});
  dir = copy("e");
  fs::create_directories(dir + "/analysis");
  fifo_at(dir + "/analysis/analysis.h5");
  r = run_within({"analyze", "--run", dir}, tmp / "log");
  EXPECT_EQ(r.code, 0) << r.err;
  expect_contains(r.err, {dir + "/analysis/analysis.h5", "recomputing"});
}

TEST_F(HostileRun, ValuesThatOverflowTheNetworkAreBadInputNamingFileAndLayer) {
  const std::string dir = copy("a");
  const std::string s1 = dir + "/snapshots/epoch-0001.h5", last = dir + "/last.h5";
  scale(s1, "/layers/conv2/weights", 1e30f);
  // Finite activations, then the deconvnet multiplies by the same filters again.
  const std::vector<std::string> named = {s1 + ": layer conv2: the deconvnet overflows", "expected finite projections"};
  refuse({"analyze", "--run", dir}, named);
  refuse({"health", "--run", dir}, named);
  refuse({"linear-probe", "--run", dir, "--linear_probe.train", "200", "--linear_probe.test", "50"}, named);
  refuse({"occlusion", "--run", dir}, named);
  scale(last, "/layers/conv2/weights", 1e30f);
  refuse(resume(dir), {last + ": layer conv2: the deconvnet overflows"});
  // Weights that overflow the forward pass itself.
  scale(s1, "/layers/conv2/weights", 1e8f);
  refuse({"analyze", "--run", dir}, {s1 + ": layer ", "the network overflows", "expected finite activations"});
}

TEST_F(HostileRun, DamagedMomentumIsBadInputNotDivergence) {
  const std::string dir = copy("a");
  const std::string last = dir + "/last.h5";
  scale(last, "/optimizer/momentum/conv1/weights", 1e30f);
  const Result r = run_within(resume(dir), tmp / "log");
  EXPECT_EQ(r.code, 2) << r.err;
  expect_contains(r.err, {last, "momentum"});
  EXPECT_EQ(r.err.find("last good state"), std::string::npos) << r.err;
}

TEST_F(HostileRun, AnInitDrawingInfiniteWeightsWritesNothing) {
  const std::string dir = tmp / "inf";
  const Result r = run_within({"train", "--config", cfg_path, "--run.dir", dir, "--train.init", "gaussian",
                               "--train.init_std", "3e38"},
                              tmp / "log");
  EXPECT_EQ(r.code, 2) << r.err;
  expect_contains(r.err, {"train.init_std", "(0, 10]"});
  EXPECT_FALSE(fs::exists(dir + "/last.h5"));
  EXPECT_FALSE(fs::exists(dir + "/snapshots/epoch-0000.h5"));
}

// One byte flipped in a snapshot and re-sealed: libhdf5 1.10.8 dies of SIGSEGV on it.
// Every command that reads it refuses it naming the file, and none crashes.
TEST_F(HostileRun, AResealedFileThatCrashesLibhdf5IsExit2NamingIt) {
  std::string bytes = read_file(std::string(DS_SOURCE_DIR) + "/tests/fuzz/seeds/snapshot/epoch-0001.h5");
  ASSERT_GT(bytes.size(), 3788u);
  bytes[3788] = char(bytes[3788] ^ 0x30);
  std::vector<char> image(bytes.begin(), bytes.end());
  h5::seal_image(image);
  const std::string dir = copy("a");
  for (const std::string& f : {dir + "/snapshots/epoch-0001.h5", dir + "/last.h5"})
    write_file(f, std::string(image.begin(), image.end()));
  const std::string s1 = dir + "/snapshots/epoch-0001.h5", last = dir + "/last.h5";
  refuse({"analyze", "--run", dir}, {s1, "libhdf5 crashed parsing the file"});
  refuse({"health", "--run", dir}, {s1, "libhdf5 crashed parsing the file"});
  refuse(resume(dir), {last, "libhdf5 crashed parsing the file"});
}

// An analysis key stored in config.cfg and used every epoch by the live analysis is
// checked before training, not warned about at every epoch.
TEST_F(HostileRun, ABadImageListIsRefusedBeforeTraining) {
  const std::string dir = tmp / "bogus";
  for (const std::string key : {"--invariance.images", "--occlusion.images"}) {
    refuse({"train", "--config", cfg_path, "--run.dir", dir, key, "bogus"}, {key.substr(2), "\"bogus\""});
    EXPECT_FALSE(fs::exists(dir));
  }
}

// compare's health cache is keyed on the snapshots' content: a snapshot swapped for other
// weights with an older modification time (cp -p, rsync -a) is measured again. And an
// analysis.h5 whose seal was blanked (an edit) is recomputed, not trusted.
TEST_F(HostileRun, CachesAreKeyedOnContentAndASealLessDerivedFileIsRecomputed) {
  const std::string a = copy("a"), b = copy("b"), out = tmp / "cmp";
  const std::vector<std::string> cmp = {"compare", "--run", a, "--run", b, "--out", out};
  Result r = run_within(cmp, tmp / "log");
  ASSERT_EQ(r.code, 0) << r.err;
  expect_contains(r.out, {"computed the health of " + a, "computed the health of " + b});
  r = run_within(cmp, tmp / "log");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out.find("computed the health of"), std::string::npos) << r.out;
  const std::string s1 = a + "/snapshots/epoch-0001.h5";
  const auto when = fs::last_write_time(s1);
  scale(s1, "/layers/conv1/weights", 1.5f);
  fs::last_write_time(s1, when - std::chrono::hours(24));  // older than health.h5
  r = run_within(cmp, tmp / "log");
  ASSERT_EQ(r.code, 0) << r.err;
  expect_contains(r.out, {"computed the health of " + a});
  EXPECT_EQ(r.out.find("computed the health of " + b), std::string::npos) << r.out;

  r = run_within({"analyze", "--run", b}, tmp / "log");
  ASSERT_EQ(r.code, 0) << r.err;
  std::string bytes = read_file(b + "/analysis/analysis.h5");
  std::fill(bytes.begin(), bytes.begin() + 512, '\0');  // another tool's file, or an edit
  write_file(b + "/analysis/analysis.h5", bytes);
  r = run_within({"analyze", "--run", b}, tmp / "log");
  ASSERT_EQ(r.code, 0) << r.err;
  expect_contains(r.err, {b + "/analysis/analysis.h5 carries no deconvscope checksum", "recomputing every epoch"});
}

}  // namespace
}  // namespace ds::clitest
