// Data-parallel training over Open MPI (src/train/trainer.cpp, core/comm.hpp): real
// `mpirun -np 2` jobs of build/deconvscope against one process on the same tiny set, with
// dropout, random crops and flips on. The ranks draw what one process draws for each
// image, so the weights differ only by float summation order (per-rank gradient sums
// added by allreduce): within 1e-4 relative after a few steps and 1e-3 after an epoch.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <random>
#include <sstream>

#include "deconvscope/analysis/analysis_file.hpp"
#include "deconvscope/io/snapshot.hpp"
#include "dist/mpi_run.hpp"

namespace ds {
namespace {

using clitest::TempDir;

// Dropout between two fc layers and augmentation on: every per-image draw is exercised;
// LRN and pooling see each rank's slice as they see one process's batch.
std::string dist_config(const std::string& data_dir, const std::string& run_dir, int64_t train_limit) {
  return "[run]\nname = dist\ndir = " + run_dir + "\nthreads = 1\nseed = 5\n"
         "[data]\ndataset = mnist\npath = " + data_dir + "\ntrain_limit = " + std::to_string(train_limit) +
         "\ncrop_pad = 2\nflip = true\n"
         "[model]\n"
         "layer = conv1 conv out=6 kernel=5 stride=1 pad=2\n"  // 6x12x12
         "layer = relu1 relu\n"
         "layer = norm1 lrn size=3 alpha=1e-4 beta=0.75 k=2\n"
         "layer = pool1 maxpool kernel=2 stride=2\n"        // 6x6x6
         "layer = fc3 fc out=32\n"
         "layer = relu3 relu\n"
         "layer = drop3 dropout rate=0.5\n"
         "layer = fc4 fc out=10\n"
         "[train]\nepochs = 1\nbatch = 16\nlr = 0.05\ninit = he\nprobe_batch = 32\n"
         "[snapshot]\nepochs = 1\n";
}

// Largest ||a - b|| / ||a|| over the layers' weights and biases.
double max_relative_difference(const Snapshot& a, const Snapshot& b) {
  double worst = 0;
  auto rel = [](const Tensor& x, const Tensor& y) {
    EXPECT_EQ(x.dims, y.dims);
    double d = 0, n = 0;
    for (size_t i = 0; i < x.data.size() && i < y.data.size(); ++i) {
      d += (double(x.data[i]) - y.data[i]) * (double(x.data[i]) - y.data[i]);
      n += double(x.data[i]) * x.data[i];
    }
    return n > 0 ? std::sqrt(d / n) : std::sqrt(d);
  };
  for (size_t l = 0; l < a.params.size(); ++l) {
    if (a.params[l].weights.empty()) continue;
    worst = std::max(worst, rel(a.params[l].weights, b.params[l].weights));
    worst = std::max(worst, rel(a.params[l].bias, b.params[l].bias));
  }
  return worst;
}

// val_accuracy (7th column) of metrics.csv's last row.
double last_val_accuracy(const std::string& metrics) {
  std::istringstream in(clitest::read_file(metrics));
  std::string line, last;
  while (std::getline(in, line))
    if (!line.empty()) last = line;
  std::istringstream row(last);
  std::string cell;
  for (int i = 0; i < 7; ++i) std::getline(row, cell, ',');
  return std::stod(cell);
}

struct Pair {
  Snapshot one, two;
  std::string one_dir, two_dir;
};

// Trains the same config in one process and in 2 ranks.
Pair train_both(const TempDir& tmp, int64_t train_limit) {
  Pair p;
  p.one_dir = tmp / "one";
  p.two_dir = tmp / "two";
  clitest::write_file(tmp / "one.cfg", dist_config(tmp / "data", p.one_dir, train_limit));
  clitest::write_file(tmp / "two.cfg", dist_config(tmp / "data", p.two_dir, train_limit));
  const clitest::Result one = clitest::run({"train", "--config", tmp / "one.cfg"}, tmp / "one");
  EXPECT_EQ(one.code, 0) << one.err;
  const clitest::Result two = disttest::run_mpi(2, clitest::binary(), {"train", "--config", tmp / "two.cfg"}, tmp / "two");
  EXPECT_EQ(two.code, 0) << two.err;
  EXPECT_NE(two.err.find("overlapped with backward"), std::string::npos) << two.err;
  p.one = read_snapshot(p.one_dir + "/last.h5");
  p.two = read_snapshot(p.two_dir + "/last.h5");
  return p;
}

TEST(DistTrain, TwoRanksMatchOneProcessAfterAFewSteps) {
  TempDir tmp("dist-steps");
  clitest::write_mnist(tmp / "data", /*n_train=*/320, /*n_test=*/64);
  const Pair p = train_both(tmp, /*train_limit=*/64);  // 4 steps of 16
  EXPECT_EQ(p.two.step, 4);
  EXPECT_LT(max_relative_difference(p.one, p.two), 1e-4);
}

TEST(DistTrain, TwoRanksMatchOneProcessAfterAnEpoch) {
  TempDir tmp("dist-epoch");
  clitest::write_mnist(tmp / "data", /*n_train=*/320, /*n_test=*/64);
  const Pair p = train_both(tmp, /*train_limit=*/0);  // 20 steps
  EXPECT_EQ(p.two.step, 20);
  const double rel = max_relative_difference(p.one, p.two);
  EXPECT_LT(rel, 1e-3);
  EXPECT_GT(rel, 0.0) << "bit-identical: were the 2 ranks really 2 ranks?";
  EXPECT_NEAR(last_val_accuracy(p.one_dir + "/metrics.csv"), last_val_accuracy(p.two_dir + "/metrics.csv"), 0.005);
  // Rank 0 alone writes: one snapshot, no temporary file of another rank left behind.
  EXPECT_TRUE(clitest::temp_files(p.two_dir).empty());
  EXPECT_TRUE(std::filesystem::exists(p.two_dir + "/snapshots/epoch-0001.h5"));
}

// A folder of class subfolders of 16x16 grey PGM images (train/ and test/): class c has
// a bright bar in rows 4c..4c+3 over dim noise.
void write_pgm_folder(const std::string& dir, int n_train, int n_test) {
  std::mt19937 rng(3);
  std::uniform_int_distribution<int> dim(0, 60), bright(180, 255);
  for (const auto& [split, n] : {std::pair<std::string, int>{"train", n_train}, {"test", n_test}})
    for (int i = 0; i < n; ++i) {
      const int c = i % 4;
      std::string px(16 * 16, '\0');
      for (char& p : px) p = char(dim(rng));
      for (int y = 4 * c; y < 4 * c + 4; ++y)
        for (int x = 4; x < 10; ++x) px[size_t(y * 16 + x)] = char(bright(rng));
      clitest::write_file(dir + "/" + split + "/c" + std::to_string(c) + "/img" + std::to_string(i) + ".pgm",
                          "P5\n16 16\n255\n" + px);
    }
}

TEST(DistTrain, AStreamedFolderTrainsTheSameOnTwoRanks) {
  TempDir tmp("dist-stream");
  write_pgm_folder(tmp / "folder", /*n_train=*/160, /*n_test=*/40);
  auto args = [&](const std::string& run) {
    return std::vector<std::string>{
        "train", "--run.dir", run, "--run.seed", "3", "--run.threads", "1", "--data.dataset", "folder",
        "--data.path", tmp / "folder", "--data.streaming", "on", "--data.crop_pad", "2", "--data.flip", "true",
        "--model.layer", "c1 conv out=4 kernel=3 pad=1", "--model.layer", "r1 relu", "--model.layer", "p1 maxpool kernel=2",
        "--model.layer", "f2 fc out=16", "--model.layer", "d2 dropout rate=0.5", "--model.layer", "f3 fc out=4",
        "--train.batch", "16", "--train.lr", "0.05", "--train.init", "he", "--train.epochs", "1"};
  };
  const auto one = clitest::run(args(tmp / "one"), tmp / "one");
  ASSERT_EQ(one.code, 0) << one.err;
  const auto two = disttest::run_mpi(2, clitest::binary(), args(tmp / "two"), tmp / "two");
  ASSERT_EQ(two.code, 0) << two.err;
  EXPECT_LT(max_relative_difference(read_snapshot(tmp / "one/last.h5"), read_snapshot(tmp / "two/last.h5")), 1e-4);
}

TEST(DistTrain, ResumeWithTheSameRanksIsBitForBit) {
  TempDir tmp("dist-resume");
  clitest::write_mnist(tmp / "data", /*n_train=*/96, /*n_test=*/32);
  const std::string straight = tmp / "straight", halves = tmp / "halves";
  clitest::write_file(tmp / "s.cfg", dist_config(tmp / "data", straight, 0));
  clitest::write_file(tmp / "h.cfg", dist_config(tmp / "data", halves, 0));
  const auto a = disttest::run_mpi(2, clitest::binary(), {"train", "--config", tmp / "s.cfg", "--train.epochs", "2"},
                                   tmp / "a");
  ASSERT_EQ(a.code, 0) << a.err;
  const auto b = disttest::run_mpi(2, clitest::binary(), {"train", "--config", tmp / "h.cfg"}, tmp / "b");
  ASSERT_EQ(b.code, 0) << b.err;
  const auto c = disttest::run_mpi(2, clitest::binary(), {"train", "--run", halves, "--resume", "--train.epochs", "2"},
                                   tmp / "c");
  ASSERT_EQ(c.code, 0) << c.err;
  const Snapshot s = read_snapshot(straight + "/last.h5"), h = read_snapshot(halves + "/last.h5");
  ASSERT_EQ(s.params.size(), h.params.size());
  for (size_t l = 0; l < s.params.size(); ++l) {
    EXPECT_EQ(s.params[l].weights.data, h.params[l].weights.data) << "layer " << l;
    EXPECT_EQ(s.params[l].bias.data, h.params[l].bias.data) << "layer " << l;
  }
}

TEST(DistTrain, BatchThatDoesNotSplitAcrossTheRanksIsExit2NamingTheKey) {
  TempDir tmp("dist-batch");
  clitest::write_mnist(tmp / "data", /*n_train=*/64, /*n_test=*/16);
  clitest::write_file(tmp / "r.cfg", dist_config(tmp / "data", tmp / "run", 0));
  const auto r = disttest::run_mpi(2, clitest::binary(), {"train", "--config", tmp / "r.cfg", "--train.batch", "15"},
                                   tmp / "r");
  EXPECT_EQ(r.code, 2) << r.err;
  EXPECT_NE(r.err.find("train.batch"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("2 MPI ranks"), std::string::npos) << r.err;
  EXPECT_FALSE(std::filesystem::exists(tmp / "run/config.cfg")) << "nothing is written on a refused config";
}

// `mpirun -np 2 deconvscope analyze` against one process on copies of the same trained
// run: the same top-k images, positions and activations (the scan's shares are merged
// exactly), the same projections and sanity baseline, and one set of files written (rank 0's).
TEST(DistAnalyze, TwoRanksWriteWhatOneProcessWrites) {
  TempDir tmp("dist-analyze");
  clitest::write_mnist(tmp / "data", /*n_train=*/96, /*n_test=*/32);
  const std::string one = tmp / "one", two = tmp / "two";
  clitest::write_file(tmp / "r.cfg", dist_config(tmp / "data", one, 0));
  ASSERT_EQ(clitest::run({"train", "--config", tmp / "r.cfg"}, tmp / "t").code, 0);
  std::filesystem::copy(one, two, std::filesystem::copy_options::recursive);
  const clitest::Result a = clitest::run({"analyze", "--run", one, "--analysis.batch", "16"}, tmp / "a");
  ASSERT_EQ(a.code, 0) << a.err;
  const clitest::Result b =
      disttest::run_mpi(2, clitest::binary(), {"analyze", "--run", two, "--analysis.batch", "16"}, tmp / "b");
  ASSERT_EQ(b.code, 0) << b.err;
  // One summary line, from rank 0.
  size_t lines = 0;
  for (size_t at = b.out.find("analysed "); at != std::string::npos; at = b.out.find("analysed ", at + 1)) ++lines;
  EXPECT_EQ(lines, 1u) << b.out;
  const AnalysisResult x = read_analysis(one + "/analysis/analysis.h5"), y = read_analysis(two + "/analysis/analysis.h5");
  ASSERT_EQ(x.epochs, y.epochs);
  ASSERT_EQ(x.evolution.size(), y.evolution.size());
  for (size_t l = 0; l < x.evolution.size(); ++l) {
    const LayerEvolution &p = x.evolution[l], &q = y.evolution[l];
    EXPECT_EQ(p.features, q.features);
    ASSERT_EQ(p.strongest.size(), q.strongest.size());
    for (size_t i = 0; i < p.strongest.size(); ++i) {
      EXPECT_EQ(p.strongest[i].image, q.strongest[i].image) << "layer " << l << " item " << i;
      EXPECT_EQ(p.strongest[i].y, q.strongest[i].y);
      EXPECT_EQ(p.strongest[i].x, q.strongest[i].x);
      EXPECT_EQ(p.strongest[i].value, q.strongest[i].value);
    }
    ASSERT_EQ(p.projections.data.size(), q.projections.data.size());
    for (size_t i = 0; i < p.projections.data.size(); ++i)
      ASSERT_NEAR(p.projections.data[i], q.projections.data[i], 1e-5f * (1 + std::fabs(p.projections.data[i])));
    // The sanity baseline: each rank projects a share, the figures are summed.
    ASSERT_EQ(p.init_rank_correlation.size(), p.strongest.size());
    ASSERT_EQ(q.init_rank_correlation.size(), p.strongest.size());
    for (size_t i = 0; i < p.init_rank_correlation.size(); ++i) {
      const float u = p.init_rank_correlation[i], v = q.init_rank_correlation[i];
      EXPECT_EQ(std::isnan(u), std::isnan(v)) << "layer " << l << " item " << i;
      if (!std::isnan(u)) {
        EXPECT_NEAR(u, v, 1e-4f) << "layer " << l << " item " << i;
      }
    }
  }
  for (const auto& [epoch, layers] : x.topk) {
    ASSERT_TRUE(y.topk.count(epoch));
    for (size_t l = 0; l < layers.size(); ++l)
      for (size_t i = 0; i < layers[l].acts.size(); ++i)
        EXPECT_EQ(layers[l].acts[i].image, y.topk.at(epoch)[l].acts[i].image) << "top-k, layer " << l << " item " << i;
  }
  EXPECT_TRUE(std::filesystem::exists(two + "/report/index.html"));
}

}  // namespace
}  // namespace ds
