// End-to-end reliability tests of the real `deconvscope` binary (issue 5), on tiny
// synthetic datasets: every bad input is refused with exit code 2, a message naming the
// file and the key, line, layer or field, and the run folder left byte-for-byte as it was;
// a run refuses an occupied folder; the space check comes before the first epoch; a disk
// that fills mid-write keeps the previous state; SIGKILL at any moment (mid-epoch,
// mid-snapshot, mid-last.h5) then --resume gives the uninterrupted run's weights bit for
// bit; SIGINT/SIGTERM stop cleanly; a diverging run stops naming epoch, step and layer.
// Leaves out: the fuzzing of the parsers and readers (tests/fuzz), unit-level error
// tests (tests/config, tests/data, tests/io).
#include <gtest/gtest.h>
#include <sys/mount.h>

#include <algorithm>
#include <cstring>
#include <functional>
#include <opencv2/imgcodecs.hpp>

#include "cli/cli_util.hpp"
#include "deconvscope/core/error.hpp"
#include "deconvscope/io/atomic_file.hpp"
#include "deconvscope/io/h5.hpp"
#include "deconvscope/io/snapshot.hpp"

namespace ds {
namespace {

using namespace clitest;
using Tree = std::map<std::string, std::string>;

std::string replace_once(std::string text, const std::string& from, const std::string& to) {
  const size_t at = text.find(from);
  if (at == std::string::npos) throw std::runtime_error("'" + from + "' is not in the config");
  return text.replace(at, from.size(), to);
}

// "file:N" of the first line of `text` that contains `needle`.
std::string line_ref(const std::string& file, const std::string& text, const std::string& needle) {
  const size_t at = text.find(needle);
  if (at == std::string::npos) throw std::runtime_error("'" + needle + "' is not in the config");
  return file + ":" + std::to_string(1 + std::count(text.begin(), text.begin() + long(at), '\n'));
}

void expect_contains(const std::string& text, const std::vector<std::string>& parts) {
  for (const std::string& p : parts) EXPECT_NE(text.find(p), std::string::npos) << "'" << p << "' missing from:\n" << text;
}

// --- bad input: exit 2, a message that names the place, nothing written ------------------

class BadInput : public ::testing::Test {
 protected:
  void SetUp() override {
    data = tmp / "data";
    run_dir = tmp / "run";
    cfg_path = tmp / "bad.cfg";
    write_mnist(data);
    // A previous run in the folder: --force would clear it, so it shows that a refused
    // command touches nothing, not even with --force.
    write_file(run_dir + "/config.cfg", "# an earlier run\n");
    write_file(run_dir + "/metrics.csv", "epoch,step\n0,0\n");
    write_file(run_dir + "/last.h5", "earlier state");
    write_file(run_dir + "/snapshots/epoch-0000.h5", "earlier snapshot");
    write_file(run_dir + "/notes.txt", "the user's own file\n");
  }

  std::string good() const { return tiny_config(data, run_dir, 1); }

  // Runs `train --config bad.cfg --force` with `cfg` and checks the refusal.
  Result refuse_train(const std::string& cfg, const std::vector<std::string>& parts,
                      const std::vector<std::string>& more_args = {}) {
    write_file(cfg_path, cfg);
    std::vector<std::string> args{"train", "--config", cfg_path, "--force"};
    args.insert(args.end(), more_args.begin(), more_args.end());
    return refuse(args, parts);
  }

  Result refuse(const std::vector<std::string>& args, const std::vector<std::string>& parts, int code = 2) {
    const Tree run_before = tree(run_dir), data_before = tree(data);
    Result r = run(args, tmp / "log");
    EXPECT_EQ(r.code, code) << r.err;
    expect_contains(r.err, parts);
    EXPECT_EQ(r.err.find("internal error"), std::string::npos) << r.err;
    EXPECT_EQ(tree(run_dir), run_before) << "the run folder changed:\n" << tree_diff(run_before, tree(run_dir));
    EXPECT_EQ(tree(data), data_before);
    return r;
  }

  TempDir tmp{"bad"};
  std::string data, run_dir, cfg_path;
};

TEST_F(BadInput, UnknownConfigKey) {
  const std::string cfg = replace_once(good(), "probe_batch = 32", "probe_bach = 32");
  refuse_train(cfg, {line_ref(cfg_path, cfg, "probe_bach"), "train.probe_bach", "unknown key"});
}

TEST_F(BadInput, MalformedConfigValue) {
  const std::string cfg = replace_once(good(), "lr = 0.05", "lr = fast");
  refuse_train(cfg, {line_ref(cfg_path, cfg, "lr = fast"), "train.lr", "expected", "'fast'"});
  const std::string cfg2 = replace_once(good(), "[train]", "[train\nlr = 1");
  refuse_train(cfg2, {line_ref(cfg_path, cfg2, "[train"), "expected"});
}

TEST_F(BadInput, ConfigFileMissing) {
  refuse({"train", "--config", tmp / "nope.cfg", "--run.dir", run_dir, "--force"}, {tmp / "nope.cfg", "expected"});
}

TEST_F(BadInput, LayerLineDoesNotParse) {
  const std::string cfg = replace_once(good(), "layer = relu1 relu", "layer = relu1 relux");
  refuse_train(cfg, {line_ref(cfg_path, cfg, "relux"), "relu1", "expected", "'relux'"});
  const std::string cfg2 = replace_once(good(), "out=6 kernel=3", "out=6 kernel=three");
  refuse_train(cfg2, {line_ref(cfg_path, cfg2, "kernel=three"), "conv2", "kernel", "'three'"});
  const std::string cfg3 = replace_once(good(), "out=6 kernel=3", "out=6 kernal=3");
  refuse_train(cfg3, {line_ref(cfg_path, cfg3, "kernal"), "conv2", "kernal"});
}

TEST_F(BadInput, PoolingLeavesNoOutput) {
  const std::string cfg = replace_once(good(), "pool1 maxpool kernel=2", "pool1 maxpool kernel=13");
  refuse_train(cfg, {cfg_path, "layer pool1", "leaves no output", "expected"});
}

TEST_F(BadInput, ConvolutionLeavesNoOutput) {
  // pool1 leaves 6x6; a 7x7 kernel without padding does not fit.
  const std::string cfg = replace_once(good(), "conv2 conv out=6 kernel=3 stride=1 pad=1", "conv2 conv out=6 kernel=7");
  refuse_train(cfg, {cfg_path, "layer conv2", "leaves no output", "expected"});
}

TEST_F(BadInput, ConvOrPoolAfterFc) {
  const std::string cfg = replace_once(good(), "layer = conv2", "layer = fc0 fc out=20\nlayer = conv2");
  refuse_train(cfg, {"layer conv2", "fc0", "expected"});
  const std::string cfg2 = replace_once(good(), "layer = pool1", "layer = fc0 fc out=20\nlayer = pool1");
  refuse_train(cfg2, {"layer pool1", "fc0", "expected"});
}

TEST_F(BadInput, LastFcDoesNotMatchClasses) {
  const std::string cfg = replace_once(good(), "fc3 fc out=10", "fc3 fc out=7");
  refuse_train(cfg, {cfg_path + ": layer fc3", "expected 10", "found 7"});
}

TEST_F(BadInput, DatasetPathDoesNotExist) {
  const std::string missing = tmp / "no-such-data";
  refuse_train(tiny_config(missing, run_dir, 1), {missing, "no such folder"});
  refuse_train(good(), {"--data.dataset", "expected", "'mnsit'"}, {"--data.dataset", "mnsit"});
}

TEST_F(BadInput, IdxTruncated) {
  const std::string f = data + "/train-images-idx3-ubyte";
  const std::string bytes = read_file(f);
  write_file(f, bytes.substr(0, bytes.size() - 100));
  refuse_train(good(), {f, "truncated", "expected"});
  write_file(f, bytes.substr(0, 10));  // not even a whole header
  refuse_train(good(), {f, "header", "expected"});
}

TEST_F(BadInput, IdxWrongMagic) {
  const std::string f = data + "/t10k-labels-idx1-ubyte";
  std::string bytes = read_file(f);
  bytes[3] = 0x03;  // an images magic in a labels file
  write_file(f, bytes);
  refuse_train(good(), {f, "wrong magic", "expected 0x00000801", "found 0x00000803"});
}

TEST_F(BadInput, IdxLabelsDoNotMatchImages) {
  write_idx(data, "other", 300, 12, 5);
  fs::rename(data + "/other-labels-idx1-ubyte", data + "/train-labels-idx1-ubyte");
  fs::remove(data + "/other-images-idx3-ubyte");
  refuse_train(good(), {data + "/train-images-idx3-ubyte", "train-labels-idx1-ubyte", "label count",
                        "expected 320", "found 300"});
  // A label outside 0..9.
  std::string labels = read_file(data + "/t10k-labels-idx1-ubyte");
  labels[8 + 5] = char(12);
  write_file(data + "/t10k-labels-idx1-ubyte", labels);
  write_idx(data, "train", 320, 12, 11);
  refuse_train(good(), {data + "/t10k-labels-idx1-ubyte", "label of image 5", "expected 0..9", "found 12"});
}

TEST_F(BadInput, CifarTruncatedOrBadLabels) {
  const std::string cifar = tmp / "cifar";
  const size_t record = 1 + 3 * 32 * 32;
  std::string batch;
  for (int r = 0; r < 10; ++r) {
    batch += char(r % 10);
    batch += std::string(record - 1, char(r * 20));
  }
  for (int i = 1; i <= 5; ++i) write_file(cifar + "/data_batch_" + std::to_string(i) + ".bin", batch);
  write_file(cifar + "/test_batch.bin", batch);
  const std::string cfg = replace_once(replace_once(good(), "dataset = mnist", "dataset = cifar10"),
                                       "path = " + data, "path = " + cifar);
  write_file(cifar + "/data_batch_3.bin", batch.substr(0, batch.size() - 7));
  refuse_train(cfg, {cifar + "/data_batch_3.bin", "expected a multiple of 3073 bytes", "found"});
  write_file(cifar + "/data_batch_3.bin", batch);
  std::string bad = batch;
  bad[record * 4] = char(11);  // record 4's label
  write_file(cifar + "/test_batch.bin", bad);
  refuse_train(cfg, {cifar + "/test_batch.bin", "label of record 4", "expected 0..9", "found 11"});
}

TEST_F(BadInput, ImageFolderWithUnreadableImages) {
  const std::string images = tmp / "images";
  for (const char* cls : {"bright", "dark"})
    for (int i = 0; i < 12; ++i) {
      cv::Mat m(12, 12, CV_8UC1, cv::Scalar(std::string(cls) == "bright" ? 200 + i : 20 + i));
      fs::create_directories(images + "/" + cls);
      ASSERT_TRUE(cv::imwrite(images + "/" + cls + "/img" + std::to_string(i) + ".png", m));
    }
  write_file(images + "/dark/broken.png", "this is not a PNG");
  const std::string cfg = replace_once(
      replace_once(replace_once(good(), "dataset = mnist", "dataset = folder"), "path = " + data, "path = " + images),
      "fc3 fc out=10", "fc3 fc out=2");
  // By default (data.bad_images = stop) the run stops before training, naming the image.
  refuse_train(cfg, {images + "/dark/broken.png", "data.bad_images"});
  // Skipped with a warning naming the image and counted in the log; training goes on.
  write_file(cfg_path, cfg);
  const Result ok =
      run({"train", "--config", cfg_path, "--run.dir", tmp / "folder-run", "--data.bad_images", "skip"}, tmp / "log");
  EXPECT_EQ(ok.code, 0) << ok.err;
  expect_contains(ok.err, {"warning", images + "/dark/broken.png", "skipped 1 unreadable image"});
  // Nothing readable left: an error naming the folder.
  const std::string junk = tmp / "junk";
  for (const char* cls : {"a", "b"}) write_file(junk + "/" + cls + "/x.png", "not an image");
  refuse_train(replace_once(cfg, "path = " + images, "path = " + junk), {junk, "none of the image files could be read"},
               {"--data.bad_images", "skip"});
}

TEST_F(BadInput, AnalyzeWithoutSnapshots) {
  write_file(run_dir + "/config.cfg", good());
  fs::remove(run_dir + "/snapshots/epoch-0000.h5");
  refuse({"analyze", "--run", run_dir}, {run_dir + "/snapshots", "no snapshots"});
  refuse({"analyze", "--run", tmp / "nowhere"}, {tmp / "nowhere/config.cfg", "not a run folder"});
}

// Snapshots that are not ours or do not fit, through `analyze` and `train --resume`.
class BadSnapshot : public ::testing::Test {
 protected:
  void SetUp() override {
    write_mnist(data);
    write_file(cfg_path, tiny_config(data, trained, 1, "0,1"));
    const Result r = run({"train", "--config", cfg_path}, tmp / "train");
    ASSERT_EQ(r.code, 0) << r.err;
  }

  // A fresh copy of the trained run at tmp/<name>.
  std::string copy(const std::string& name) {
    const std::string dir = tmp / name;
    fs::copy(trained, dir, fs::copy_options::recursive);
    return dir;
  }

  void refuse(const std::vector<std::string>& args, const std::string& dir, const std::vector<std::string>& parts) {
    const Tree before = tree(dir);
    const Result r = run(args, tmp / "log");
    EXPECT_EQ(r.code, 2) << r.err;
    expect_contains(r.err, parts);
    EXPECT_EQ(tree(dir), before) << "the run folder changed:\n" << tree_diff(before, tree(dir));
  }

  TempDir tmp{"snap"};
  std::string data = tmp / "data", trained = tmp / "trained", cfg_path = tmp / "tiny.cfg";
};

TEST_F(BadSnapshot, NotHdf5) {
  std::string dir = copy("a");
  write_file(dir + "/snapshots/epoch-0001.h5", "plain text, not HDF5\n");
  refuse({"analyze", "--run", dir}, dir, {dir + "/snapshots/epoch-0001.h5", "not an HDF5 file"});
  dir = copy("b");
  write_file(dir + "/last.h5", std::string(4096, '\0'));
  refuse({"train", "--config", cfg_path, "--run.dir", dir, "--resume", "--train.epochs", "2"}, dir,
         {dir + "/last.h5", "not an HDF5 file"});
}

TEST_F(BadSnapshot, AnotherProgramsHdf5) {
  const std::string dir = copy("a");
  const std::string f = dir + "/snapshots/epoch-0001.h5";
  fs::remove(f);
  {
    h5::File file = h5::File::create(f);
    file.root().write_dataset("data", {2}, std::vector<float>{1.f, 2.f});
    file.close();
  }
  refuse({"analyze", "--run", dir}, dir, {f, "another program's HDF5 file", "format"});
  {
    h5::File file = h5::File::open_readwrite(f);
    file.root().write_attr_string("format", "someone.else");
    file.close();
  }
  refuse({"analyze", "--run", dir}, dir, {f, "not a deconvscope.snapshot file", "found 'someone.else'"});
}

TEST_F(BadSnapshot, NewerFormatVersion) {
  const std::string dir = copy("a");
  for (const std::string& f : {dir + "/snapshots/epoch-0001.h5", dir + "/last.h5"}) {
    h5::File file = h5::File::open_readwrite(f);
    file.root().write_attr_int("format_version", kSnapshotFormatVersion + 1);
    file.close();
  }
  refuse({"analyze", "--run", dir}, dir, {dir + "/snapshots/epoch-0001.h5", "format_version", "newer"});
  refuse({"train", "--config", cfg_path, "--run.dir", dir, "--resume", "--train.epochs", "2"}, dir,
         {dir + "/last.h5", "format_version", "newer"});
}

TEST_F(BadSnapshot, WeightsDoNotMatchLayerAttributes) {
  const std::string dir = copy("a");
  {
    h5::File file = h5::File::open_readwrite(dir + "/snapshots/epoch-0001.h5");
    file.root().open_group("layers/conv2").write_attr_int("out_channels", 5);
    file.close();
  }
  refuse({"analyze", "--run", dir}, dir, {dir + "/snapshots/epoch-0001.h5", "/layers/conv2/weights", "expected"});
}

TEST_F(BadSnapshot, ResumeWithAnotherNetwork) {
  const std::string dir = copy("a");
  const std::string other = tmp / "other.cfg";
  write_file(other, replace_once(tiny_config(data, dir, 2), "conv2 conv out=6", "conv2 conv out=8"));
  // The run's own config.cfg tells first.
  refuse({"train", "--config", other, "--resume"}, dir,
         {dir + "/config.cfg", "model.layer #4 is 'conv2 conv out=6", "'conv2 conv out=8"});
  // Without it (lost, or written by hand), the snapshot's own layer list still does.
  fs::remove(dir + "/config.cfg");
  refuse({"train", "--config", other, "--resume"}, dir, {dir + "/last.h5", "conv2", "expected", "found"});
}

// analysis keys that do not fit the trained run: refused before anything is written.
TEST_F(BadSnapshot, AnalyzeKeysThatDoNotFitTheRun) {
  const std::string dir = copy("keys");
  // conv1 has 4 channels (0..3), conv2 6: feature 5 exists only in conv2.
  refuse({"analyze", "--run", dir, "--analysis.features", "1,5"}, dir,
         {"analysis.features", "feature 5 of layer conv1", "4 channels"});
  // The run snapshotted epochs 0 and 1: a top-k epoch 2 would never have grids.
  refuse({"analyze", "--run", dir, "--analysis.topk_epochs", "1,2"}, dir,
         {"--analysis.topk_epochs", "snapshot.epochs = 0,1", "found 2"});
}

// --- issue 10: checksums, changed snapshots, values without meaning -------------------

TEST_F(BadSnapshot, OneFlippedByteIsRefusedBeforeHdf5ParsesIt) {
  const std::string dir = copy("a");
  const std::string f = dir + "/snapshots/epoch-0001.h5";
  std::string bytes = read_file(f);
  // Offset 494 of the report crashed libhdf5 before files carried a checksum;
  // 512 + 494 is the same byte of the HDF5 content now that it follows the header.
  for (size_t at : {size_t(494), size_t(512 + 494), bytes.size() - 3}) {
    std::string b = bytes;
    b[at] = char(b[at] ^ 0x82);
    write_file(f, b);
    refuse({"analyze", "--run", dir}, dir, {f});
    refuse({"health", "--run", dir}, dir, {f});
  }
  write_file(f, bytes);
  std::string last = read_file(dir + "/last.h5");
  last[600] = char(last[600] ^ 1);
  write_file(dir + "/last.h5", last);
  refuse({"train", "--config", cfg_path, "--run.dir", dir, "--resume", "--train.epochs", "2"}, dir,
         {dir + "/last.h5", "checksum mismatch"});
  write_file(dir + "/last.h5", last.substr(0, last.size() / 2));
  refuse({"train", "--config", cfg_path, "--run.dir", dir, "--resume", "--train.epochs", "2"}, dir,
         {dir + "/last.h5", "wrong length"});
}

TEST_F(BadSnapshot, AChangedSnapshotIsAnalysedAgain) {
  const std::string dir = copy("a");
  Result r = run({"analyze", "--run", dir}, tmp / "log");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("(2 computed now)"), std::string::npos) << r.out;
  // The counter reaches the last snapshot (scanned first for its live features).
  expect_contains(r.err, {"analyse epoch 0 (1/2)", "analyse epoch 1 (2/2)"});
  r = run({"analyze", "--run", dir}, tmp / "log");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("(0 computed now)"), std::string::npos) << r.out;
  {
    h5::File file = h5::File::open_readwrite(dir + "/snapshots/epoch-0001.h5");
    {
      h5::Group g = file.root().open_group("layers/conv1");
      std::vector<int64_t> dims;
      std::vector<float> w = g.read_dataset_f32("weights", &dims);
      for (float& v : w) v = -v;
      g.write_dataset("weights", dims, w);
    }
    file.close();  // re-seals: a valid file, with other weights
  }
  r = run({"analyze", "--run", dir}, tmp / "log");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("(1 computed now)"), std::string::npos) << r.out;
}

TEST_F(BadSnapshot, FieldsWithoutMeaningAreRefused) {
  const std::string dir = copy("a");
  const std::string f1 = dir + "/snapshots/epoch-0001.h5";
  const auto edit = [](const std::string& f, const std::function<void(const h5::Group&)>& change) {
    h5::File file = h5::File::open_readwrite(f);
    {
      const h5::Group root = file.root();
      change(root);
    }
    file.close();
  };
  const std::string good = read_file(f1), good_last = read_file(dir + "/last.h5");
  // A later snapshot whose network differs from the run's, with the same shapes.
  edit(f1, [](const h5::Group& r) {
    r.open_group("layers/pool1").write_attr_ints("kernel", {3, 3});
    r.open_group("layers/pool1").write_attr_ints("pad", {1, 1});
  });
  refuse({"analyze", "--run", dir}, dir, {f1 + ": /layers/pool1", "differs from", "kernel=2", "kernel=3"});
  refuse({"health", "--run", dir}, dir, {f1 + ": /layers/pool1", "differs from"});
  write_file(f1, good);
  edit(f1, [](const h5::Group& r) { r.write_attr_floats("input_std", {0.f}); });
  refuse({"analyze", "--run", dir}, dir, {f1 + ": / attribute input_std", "found 0"});
  write_file(f1, good);
  edit(f1, [](const h5::Group& r) { r.write_attr_int("epoch", 99); });
  refuse({"analyze", "--run", dir}, dir, {f1 + ": / attribute epoch", "contradicts the file name"});
  write_file(f1, good);
  edit(f1, [](const h5::Group& r) { r.write_attr_int("num_classes", -1); });
  refuse({"analyze", "--run", dir}, dir, {f1 + ": / attribute num_classes", "found -1"});
  write_file(f1, good);

  const std::string last = dir + "/last.h5";
  const std::vector<std::string> resume = {"train", "--config", cfg_path, "--run.dir", dir, "--resume", "--train.epochs", "2"};
  edit(last, [](const h5::Group& r) { r.write_attr_int64("step", -100); });
  refuse(resume, dir, {last + ": / attribute step", "found -100"});
  write_file(last, good_last);
  edit(last, [](const h5::Group& r) { r.write_attr_int("epoch", 2000000000); });
  refuse(resume, dir, {last + ": / attributes epoch and step", "epoch 2000000000"});
  write_file(last, good_last);
  edit(last, [](const h5::Group& r) {
    r.write_attr_int("epoch", 5);
    r.write_attr_int64("step", 5 * 20);
  });
  refuse(resume, dir, {last + ": / attribute epoch", "train.epochs (2)", "found 5"});
  write_file(last, good_last);
  edit(last, [](const h5::Group& r) { r.write_attr_int64("step", 3); });
  refuse(resume, dir, {last + ": / attribute step", "steps per epoch"});
}

TEST_F(BadSnapshot, CorruptAnalysisFileIsNotTrusted) {
  const std::string dir = copy("a");
  Result r = run({"analyze", "--run", dir}, tmp / "log");
  ASSERT_EQ(r.code, 0) << r.err;
  const std::string file = dir + "/analysis/analysis.h5";
  const std::string csv = read_file(dir + "/analysis/evolution.csv");
  {
    h5::File f = h5::File::open_readwrite(file);
    {
      h5::Group g = f.root().open_group("evolution/conv1");
      std::vector<int64_t> dims;
      std::vector<int64_t> idx = g.read_dataset_i64("image_index", &dims);
      idx[0] = 1000000000;
      g.write_dataset("image_index", dims, idx);
    }
    f.close();
  }
  // `analyze` does not reuse it: it recomputes, and writes only validated values.
  r = run({"analyze", "--run", dir}, tmp / "log");
  ASSERT_EQ(r.code, 0) << r.err;
  expect_contains(r.err, {"image_index", "recomputing"});
  EXPECT_NE(r.out.find("(2 computed now)"), std::string::npos) << r.out;
  EXPECT_EQ(read_file(dir + "/analysis/evolution.csv"), csv);
}

// --- an occupied run folder ---------------------------------------------------------------

TEST(RunFolder, OccupiedFolderNeedsResumeOrForce) {
  TempDir tmp("occupied");
  write_mnist(tmp / "data");
  const std::string run_dir = tmp / "run", cfg = tmp / "tiny.cfg";
  write_file(cfg, tiny_config(tmp / "data", run_dir, 1));
  ASSERT_EQ(run({"train", "--config", cfg}, tmp / "first").code, 0);
  const Tree before = tree(run_dir);
  const Result again = run({"train", "--config", cfg}, tmp / "again");
  EXPECT_EQ(again.code, 2);
  expect_contains(again.err, {run_dir, "already holds a run", "--resume", "--force"});
  EXPECT_EQ(tree(run_dir), before);
  const Result both = run({"train", "--config", cfg, "--resume", "--force"}, tmp / "both");
  EXPECT_EQ(both.code, 2);
  EXPECT_EQ(tree(run_dir), before);
  // --resume of a finished run has nothing left to do and changes no weights.
  const Result resume = run({"train", "--config", cfg, "--resume"}, tmp / "resume");
  EXPECT_EQ(resume.code, 0) << resume.err;
  EXPECT_EQ(tree(run_dir)["snapshots/epoch-0001.h5"], before.at("snapshots/epoch-0001.h5"));
  // --force starts over and keeps files that are not the run's.
  write_file(run_dir + "/notes.txt", "mine\n");
  const Result force = run({"train", "--config", cfg, "--force"}, tmp / "force");
  EXPECT_EQ(force.code, 0) << force.err;
  EXPECT_EQ(read_file(run_dir + "/notes.txt"), "mine\n");
  EXPECT_TRUE(fs::exists(run_dir + "/snapshots/epoch-0001.h5"));
}

// --- a resume continues the run with its own config ------------------------------------

TEST(Resume, ADifferingValueIsRefusedNamingTheKeyAndBothValues) {
  TempDir tmp("resume-differ");
  write_mnist(tmp / "data");
  const std::string dir = tmp / "run", cfg = tmp / "tiny.cfg";
  write_file(cfg, tiny_config(tmp / "data", dir, 1));
  ASSERT_EQ(run({"train", "--config", cfg, "--data.train_limit", "160"}, tmp / "first").code, 0);
  const Tree before = tree(dir);
  // The case: resumed with the config file alone, the run would go on with all images.
  Result r = run({"train", "--config", cfg, "--resume", "--train.epochs", "2"}, tmp / "file");
  EXPECT_EQ(r.code, 2) << r.err;
  expect_contains(r.err, {dir + "/config.cfg", "data.train_limit is 160 in the run, 0 given",
                          "train --run " + dir + " --resume"});
  EXPECT_EQ(r.err.find("train.epochs is"), std::string::npos) << "extending train.epochs is allowed:\n" << r.err;
  EXPECT_EQ(tree(dir), before) << tree_diff(before, tree(dir));
  // Overrides on the safe form are compared too, each differing key named.
  r = run({"train", "--run", dir, "--resume", "--train.lr", "0.1", "--run.seed", "8"}, tmp / "override");
  EXPECT_EQ(r.code, 2) << r.err;
  expect_contains(r.err, {"train.lr is 0.05 in the run, 0.1 given", "run.seed is 7 in the run, 8 given"});
  EXPECT_EQ(tree(dir), before) << tree_diff(before, tree(dir));
  // --run names a run to resume: alone, or with a second config, it is refused.
  r = run({"train", "--run", dir}, tmp / "norresume");
  EXPECT_EQ(r.code, 2);
  expect_contains(r.err, {"--resume"});
  r = run({"train", "--run", dir, "--resume", "--config", cfg}, tmp / "twoconfigs");
  EXPECT_EQ(r.code, 2);
  expect_contains(r.err, {"--config"});
  EXPECT_EQ(tree(dir), before) << tree_diff(before, tree(dir));
}

TEST(Resume, ExtendingTheEpochsIsAllowedAndSaidAndTheFolderMayMove) {
  TempDir tmp("resume-extend");
  write_mnist(tmp / "data");
  const std::string first = tmp / "run", dir = tmp / "moved", cfg = tmp / "tiny.cfg";
  write_file(cfg, tiny_config(tmp / "data", first, 1));
  ASSERT_EQ(run({"train", "--config", cfg, "--data.train_limit", "160"}, tmp / "first").code, 0);
  fs::rename(first, dir);
  // No config given: the run's own, with train.epochs extended.
  const Result r = run({"train", "--run", dir, "--resume", "--train.epochs", "2"}, tmp / "extend");
  ASSERT_EQ(r.code, 0) << r.err;
  expect_contains(r.err, {"extending the run: train.epochs 1 -> 2", "resuming " + dir + " from epoch 1"});
  const std::string log = read_file(dir + "/train.log");
  expect_contains(log, {"extending the run: train.epochs 1 -> 2", "epoch 1/1:", "epoch 2/2:"});
  expect_contains(read_file(dir + "/config.cfg"), {"epochs = 2\n", "train_limit = 160\n", "dir = " + dir + "\n"});
  EXPECT_EQ(read_snapshot(dir + "/snapshots/epoch-0002.h5").epoch, 2);
  const std::string metrics = read_file(dir + "/metrics.csv");
  EXPECT_EQ(std::count(metrics.begin(), metrics.end(), '\n'), 4) << metrics;  // header, epochs 0, 1, 2
  // Below the epochs done there is nothing to resume to.
  const Result shorter = run({"train", "--run", dir, "--resume", "--train.epochs", "1"}, tmp / "shorter");
  EXPECT_EQ(shorter.code, 2) << shorter.err;
  expect_contains(shorter.err, {"train.epochs", "at least 2"});
}

// The case: `train --resume` alone, in a folder with runs/quickstart but no
// runs/run, trained a new 40-minute run. Now it is refused, naming where it looked.
TEST(Resume, NothingToResumeIsRefusedNamingTheFolderAndPointingAtRun) {
  TempDir tmp("resume-nothing");
  write_file(tmp / "runs/quickstart/config.cfg", "[run]\nname = quickstart\n");
  // Run from tmp, as a user in a clone would: the default run.dir is runs/run.
  Child c = spawn_program({"sh", "-c", "cd \"$1\" && exec \"$0\" train --resume", binary(), tmp.path()}, tmp / "bare");
  const int code = wait_child(c);
  const std::string err = read_file(c.err_path);
  EXPECT_EQ(code, 2) << err;
  expect_contains(err, {"runs/run: --resume found nothing to resume", "--run DIR", "runs/quickstart",
                        "leave out --resume"});
  EXPECT_EQ(err.find("starting from epoch 0"), std::string::npos) << err;
  EXPECT_EQ(err.find("reading"), std::string::npos) << "the data was read:\n" << err;
  EXPECT_FALSE(fs::exists(tmp / "runs/run"));
  // The same through a config's run.dir; no folder is left behind.
  write_mnist(tmp / "data");
  write_file(tmp / "tiny.cfg", tiny_config(tmp / "data", tmp / "none", 1));
  const Result r = run({"train", "--config", tmp / "tiny.cfg", "--resume"}, tmp / "cfg");
  EXPECT_EQ(r.code, 2) << r.err;
  expect_contains(r.err, {tmp / "none", "nothing to resume", "--run DIR"});
  EXPECT_FALSE(fs::exists(tmp / "none"));
}

TEST(Resume, AFinishedRunIsAlreadyCompleteWithoutReadingTheData) {
  TempDir tmp("resume-complete");
  write_mnist(tmp / "data");
  const std::string dir = tmp / "run";
  write_file(tmp / "tiny.cfg", tiny_config(tmp / "data", dir, 1));
  ASSERT_EQ(run({"train", "--config", tmp / "tiny.cfg"}, tmp / "first").code, 0);
  const Tree before = tree(dir);
  // With the data gone, reading it would fail: the resume must not need it.
  fs::rename(tmp / "data", tmp / "data-moved");
  const Result r = run({"train", "--run", dir, "--resume"}, tmp / "again");
  EXPECT_EQ(r.code, 0) << r.err;
  expect_contains(r.err, {dir + " is already complete at epoch 1", "nothing to train", "--train.epochs N"});
  expect_contains(r.out, {"already complete at epoch 1", "val_accuracy"});
  EXPECT_EQ(r.err.find("reading"), std::string::npos) << r.err;
  expect_contains(read_file(dir + "/train.log"), {"already complete at epoch 1"});
  Tree after = tree(dir);
  after.erase("train.log");
  Tree expected = before;
  expected.erase("train.log");
  EXPECT_EQ(after, expected) << tree_diff(expected, after);
  // Another network is still refused, by the snapshot's own layer list when config.cfg is gone.
  fs::remove(dir + "/config.cfg");
  write_file(tmp / "other.cfg",
             replace_once(tiny_config(tmp / "data", dir, 1), "conv2 conv out=6", "conv2 conv out=8"));
  const Result other = run({"train", "--config", tmp / "other.cfg", "--resume"}, tmp / "other");
  EXPECT_EQ(other.code, 2) << other.err;
  expect_contains(other.err, {dir + "/last.h5", "conv2"});
}

// --- the command line ----------------------------------------------------------------------

TEST(CommandLine, VersionIsTheProjectVersion) {
  TempDir tmp("version");
  const Result r = run({"--version"}, tmp / "v");
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, std::string("deconvscope ") + DECONVSCOPE_VERSION + "\n");
  expect_contains(run({"--help"}, tmp / "h").out, {"--version"});
}

// The tool says "analysed", so `analyse` is accepted; any other unknown command gets the
// nearest one, and the program's name is said once.
TEST(CommandLine, AnalyseIsAnalyzeAndAnUnknownCommandGetsTheNearest) {
  TempDir tmp("spelling");
  Result r = run({"analyse", "--help"}, tmp / "analyse");
  EXPECT_EQ(r.code, 0) << r.err;
  expect_contains(r.out, {"usage: deconvscope analyze --run DIR"});
  r = run({"analyse"}, tmp / "analyse-bare");
  EXPECT_EQ(r.code, 2) << r.err;
  expect_contains(r.err, {"expected --run DIR"});  // analyze's own message: it was dispatched
  for (const auto& [typed, meant] : std::vector<std::pair<std::string, std::string>>{
           {"trian", "train"}, {"anlyze", "analyze"}, {"linear-probes", "linear-probe"}, {"comapre", "compare"}}) {
    r = run({typed}, tmp / typed);
    EXPECT_EQ(r.code, 2) << r.err;
    expect_contains(r.err, {"unknown command '" + typed + "'", "did you mean " + meant + "?", "--help"});
    EXPECT_EQ(r.err.rfind("deconvscope: error: command line: ", 0), 0u) << r.err;
  }
  r = run({"xyzzy"}, tmp / "far");
  EXPECT_EQ(r.code, 2);
  EXPECT_EQ(r.err.find("did you mean"), std::string::npos) << r.err;
}

// compare takes --run like analyze and health; bare folders still work, also mixed.
TEST(CommandLine, CompareTakesRunLikeAnalyzeAndHealth) {
  TempDir tmp("compare-run");
  write_mnist(tmp / "data");
  const std::string a = tmp / "a", b = tmp / "b";
  write_file(tmp / "a.cfg", tiny_config(tmp / "data", a, 1));
  write_file(tmp / "b.cfg", replace_once(tiny_config(tmp / "data", b, 1), "seed = 7", "seed = 8"));
  ASSERT_EQ(run({"train", "--config", tmp / "a.cfg"}, tmp / "ta").code, 0);
  ASSERT_EQ(run({"train", "--config", tmp / "b.cfg"}, tmp / "tb").code, 0);
  const std::vector<std::vector<std::string>> forms{{"--run", a, "--run", b}, {a, b}, {"--run", a, b}};
  for (size_t i = 0; i < forms.size(); ++i) {
    const std::vector<std::string>& args = forms[i];
    const std::string out = tmp / ("out" + std::to_string(i));
    std::vector<std::string> cmd{"compare"};
    cmd.insert(cmd.end(), args.begin(), args.end());
    cmd.insert(cmd.end(), {"--out", out});
    const Result r = run(cmd, out + "-log");
    EXPECT_EQ(r.code, 0) << r.err;
    EXPECT_TRUE(fs::exists(out + "/index.html")) << out;
    expect_contains(r.out, {"compared at epoch 1: the latest epoch every run has a snapshot of"});
    const std::string csv = read_file(out + "/compare.csv");
    expect_contains(csv, {"a", "b"});
  }
  const Result one = run({"compare", "--run", a, "--out", tmp / "one"}, tmp / "one-log");
  EXPECT_EQ(one.code, 2) << one.err;
}

// `cmake --install` puts the binary in bin/ under the prefix, and it runs from there.
TEST(CommandLine, InstallPutsTheBinaryInBin) {
  TempDir tmp("install");
  const std::string cmd = std::string("'") + DS_CMAKE_COMMAND + "' --install '" + DS_BINARY_DIR + "' --prefix '" +
                          tmp.path() + "' > '" + (tmp / "install.log") + "' 2>&1";
  ASSERT_EQ(std::system(cmd.c_str()), 0) << read_file(tmp / "install.log");
  const std::string bin = tmp / "bin/deconvscope";
  ASSERT_TRUE(fs::exists(bin)) << read_file(tmp / "install.log");
  const std::string out = tmp / "version.out";
  ASSERT_EQ(std::system(("'" + bin + "' --version > '" + out + "'").c_str()), 0);
  EXPECT_EQ(read_file(out), std::string("deconvscope ") + DECONVSCOPE_VERSION + "\n");
  EXPECT_TRUE(fs::exists(tmp / "share/doc/deconvscope/docs/config.md"));
  // Outside the clone there is no configs/: the hint for a missing config names the
  // installed ones, where `cmake --install` put them.
  const std::string configs = tmp / "share/doc/deconvscope/configs";
  ASSERT_TRUE(fs::exists(configs + "/quickstart.cfg"));
  fs::create_directories(tmp / "elsewhere");
  Child c = spawn_program({"sh", "-c", "cd \"$1\" && exec \"$0\" train --config my.cfg", bin, tmp / "elsewhere"},
                          tmp / "missing");
  EXPECT_EQ(wait_child(c), 2);
  const std::string err = read_file(c.err_path);
  expect_contains(err, {"my.cfg", "--config " + configs + "/quickstart.cfg"});
  EXPECT_EQ(err.find("--config configs/"), std::string::npos) << err;
}

// check_writable_dir is what the trainer calls before the first epoch: refused, it leaves
// no folder of its own behind.
TEST(RunFolder, RefusedSpaceCheckLeavesNoFolder) {
  TempDir tmp("space");
  const std::string nested = tmp / "runs/x/snapshots";
  try {
    check_writable_dir(nested, UINT64_MAX);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::io);
    EXPECT_NE(e.problem().find("not enough free space"), std::string::npos) << e.what();
  }
  EXPECT_FALSE(fs::exists(tmp / "runs"));
  fs::create_directories(tmp / "runs/x");
  EXPECT_THROW(check_writable_dir(nested, UINT64_MAX), Error);
  EXPECT_TRUE(fs::is_directory(tmp / "runs/x"));  // existed before: kept
  EXPECT_FALSE(fs::exists(nested));
}

// --- a small disk --------------------------------------------------------------------------

// A tmpfs of `size` mounted at a fresh folder; skipped where mounting is not allowed.
class SmallDisk {
 public:
  SmallDisk(const std::string& where, const std::string& size) : dir_(where) {
    fs::create_directories(dir_);
    ok_ = ::mount("tmpfs", dir_.c_str(), "tmpfs", 0, ("size=" + size).c_str()) == 0;
  }
  ~SmallDisk() {
    if (ok_) ::umount2(dir_.c_str(), MNT_DETACH);
  }
  bool ok() const { return ok_; }
  // Fills the rest of the disk; returns the filler's path.
  std::string fill() const {
    const std::string path = dir_ + "/filler";
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    std::vector<char> block(1 << 16, 'x');
    for (size_t chunk = block.size(); fd >= 0 && chunk > 0; chunk /= 2)
      while (::write(fd, block.data(), chunk) == ssize_t(chunk)) {
      }
    if (fd >= 0) ::close(fd);
    return path;
  }

 private:
  std::string dir_;
  bool ok_ = false;
};

TEST(Disk, SpaceIsCheckedBeforeTheFirstEpoch) {
  TempDir tmp("disk");
  SmallDisk disk(tmp / "mnt", "256k");
  if (!disk.ok()) GTEST_SKIP() << "cannot mount a tmpfs here (not root, or a container): " << std::strerror(errno);
  write_mnist(tmp / "data");
  const std::string cfg = tmp / "tiny.cfg";
  write_file(cfg, tiny_config(tmp / "data", tmp / "mnt/run", 2));
  const Tree before = tree(tmp / "mnt");
  const Result r = run({"train", "--config", cfg}, tmp / "log");
  EXPECT_EQ(r.code, 1) << r.err;  // ErrorKind::io
  expect_contains(r.err, {tmp / "mnt/run/snapshots", "not enough free space", "expected at least"});
  EXPECT_EQ(tree(tmp / "mnt"), before) << tree_diff(before, tree(tmp / "mnt"));
}

TEST(Disk, FillsDuringASnapshotWrite) {
  TempDir tmp("diskfull");
  SmallDisk disk(tmp / "mnt", "4m");
  if (!disk.ok()) GTEST_SKIP() << "cannot mount a tmpfs here (not root, or a container): " << std::strerror(errno);
  write_mnist(tmp / "data");
  const std::string run_dir = tmp / "mnt/run", cfg = tmp / "tiny.cfg";
  write_file(cfg, tiny_config(tmp / "data", run_dir, 3, "0,2,3"));
  // The writer pauses after creating each temp file; the disk fills during epoch 2's.
  Child c = spawn({"train", "--config", cfg}, tmp / "log", {"DECONVSCOPE_TEST_PAUSE_IN_WRITE=300"});
  ASSERT_TRUE(wait_until(c, [&] { return read_file(c.err_path).find(".epoch-0002.h5.tmp-") != std::string::npos; }, 60))
      << read_file(c.err_path);
  const std::string last_before = read_file(run_dir + "/last.h5");
  const std::string filler = disk.fill();
  const int code = wait_child(c);
  const std::string err = read_file(c.err_path);
  EXPECT_EQ(code, 1) << err;  // ErrorKind::io
  expect_contains(err, {run_dir + "/snapshots/epoch-0002.h5", "space"});
  // The previous state is intact and readable, and nothing partial is left.
  EXPECT_EQ(read_file(run_dir + "/last.h5"), last_before);
  EXPECT_EQ(read_snapshot(run_dir + "/last.h5").epoch, 1);
  EXPECT_EQ(read_snapshot(run_dir + "/snapshots/epoch-0000.h5").epoch, 0);
  EXPECT_FALSE(fs::exists(run_dir + "/snapshots/epoch-0002.h5"));
  EXPECT_TRUE(temp_files(run_dir).empty());
  // Room again: --resume finishes the run.
  fs::remove(filler);
  const Result resumed = run({"train", "--config", cfg, "--resume"}, tmp / "resume");
  EXPECT_EQ(resumed.code, 0) << resumed.err;
  EXPECT_EQ(read_snapshot(run_dir + "/snapshots/epoch-0003.h5").epoch, 3);
}

// --- kill and resume: bit for bit ----------------------------------------------------------

// Every number a resumed run depends on: weights, momentum, schedule, RNG, step.
void expect_same_state(const std::string& a_path, const std::string& b_path) {
  SCOPED_TRACE(a_path + " vs " + b_path);
  const Snapshot a = read_snapshot(a_path), b = read_snapshot(b_path);
  EXPECT_EQ(a.epoch, b.epoch);
  EXPECT_EQ(a.step, b.step);
  EXPECT_EQ(a.optimizer.rng_state, b.optimizer.rng_state);
  EXPECT_EQ(0, std::memcmp(&a.optimizer.lr, &b.optimizer.lr, sizeof(float)));
  EXPECT_EQ(a.optimizer.epochs_since_best, b.optimizer.epochs_since_best);
  auto same = [](const Tensor& x, const Tensor& y) {
    return x.dims == y.dims && x.data.size() == y.data.size() &&
           (x.data.empty() || std::memcmp(x.data.data(), y.data.data(), x.data.size() * sizeof(float)) == 0);
  };
  ASSERT_EQ(a.params.size(), b.params.size());
  ASSERT_EQ(a.optimizer.momentum.size(), b.optimizer.momentum.size());
  for (size_t i = 0; i < a.params.size(); ++i) {
    EXPECT_TRUE(same(a.params[i].weights, b.params[i].weights)) << "weights of " << a.layers[i].name;
    EXPECT_TRUE(same(a.params[i].bias, b.params[i].bias)) << "bias of " << a.layers[i].name;
    if (i < a.optimizer.momentum.size()) {
      EXPECT_TRUE(same(a.optimizer.momentum[i].weights, b.optimizer.momentum[i].weights)) << "momentum of " << a.layers[i].name;
      EXPECT_TRUE(same(a.optimizer.momentum[i].bias, b.optimizer.momentum[i].bias)) << "momentum of " << a.layers[i].name;
    }
  }
}

// metrics.csv without the wall-clock columns (seconds, images_per_s).
std::string metrics_without_timing(const std::string& path) {
  std::istringstream in(read_file(path));
  std::string line, out;
  while (std::getline(in, line)) {
    std::vector<std::string> cols;
    std::stringstream s(line);
    for (std::string c; std::getline(s, c, ',');) cols.push_back(c);
    for (size_t i = 0; i < cols.size(); ++i)
      if (i != 7 && i != 8) out += cols[i] + ",";
    out += "\n";
  }
  return out;
}

TEST(KillAndResume, BitForBitAfterSigkill) {
  TempDir tmp("kill");
  write_mnist(tmp / "data", 480, 64);
  // Dropout, random crops and flips, a step schedule: every random and scheduled thing.
  auto cfg_for = [&](const std::string& run_dir) {
    std::string c = tiny_config(tmp / "data", run_dir, 4, "0,2,4");
    c = replace_once(c, "dataset = mnist\n", "dataset = mnist\ncrop_pad = 1\nflip = true\n");
    c = replace_once(c, "layer = fc3", "layer = drop2 dropout rate=0.3\nlayer = fc3");
    c = replace_once(c, "batch = 16\nlr = 0.05\n", "batch = 8\nlr = 0.05\nlr_step = 2\nlr_gamma = 0.5\n");
    const std::string path = run_dir + ".cfg";
    write_file(path, c);
    return path;
  };
  const std::string ref = tmp / "ref";
  const Result r = run({"train", "--config", cfg_for(ref)}, tmp / "ref");
  ASSERT_EQ(r.code, 0) << r.err;

  // Starts a run in dir, SIGKILLs it once `moment` holds, resumes it and compares.
  auto kill_and_resume = [&](const std::string& dir, const std::vector<std::string>& env, auto moment,
                             auto landed_where_meant) {
    const std::string cfg = cfg_for(dir);
    Child c = spawn({"train", "--config", cfg}, dir + "-killed", env);
    ASSERT_TRUE(moment(c)) << read_file(c.err_path);
    ::kill(c.pid, SIGKILL);
    bool signalled = false;
    wait_child(c, &signalled);
    ASSERT_TRUE(signalled) << "the run ended before the kill";
    landed_where_meant();
    const Result res = run({"train", "--config", cfg, "--resume"}, dir + "-resumed");
    ASSERT_EQ(res.code, 0) << res.err;
    expect_contains(res.err, {"resuming"});
    EXPECT_TRUE(temp_files(dir).empty());
    for (const char* f : {"snapshots/epoch-0000.h5", "snapshots/epoch-0002.h5", "snapshots/epoch-0004.h5", "last.h5"})
      expect_same_state(ref + "/" + f, dir + "/" + f);
    EXPECT_EQ(metrics_without_timing(dir + "/metrics.csv"), metrics_without_timing(ref + "/metrics.csv"));
  };

  {
    SCOPED_TRACE("mid-epoch");
    // Some milliseconds into epoch 1 (last.h5 is epoch 0's final write). Any moment must
    // do; a machine so fast that epoch 1 is over by then gets a shorter delay.
    for (int delay_ms = 100;; delay_ms /= 3) {
      const std::string dir = tmp / ("mid-epoch-" + std::to_string(delay_ms));
      bool inside_epoch = false;
      kill_and_resume(
          dir, {},
          [&](Child& c) {
            const bool ok = wait_until(c, [&] { return fs::exists(dir + "/last.h5"); }, 60);
            std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms));
            return ok;
          },
          [&] {
            // Only epoch 0's row in metrics.csv: epoch 1 had not finished.
            const std::string m = read_file(dir + "/metrics.csv");
            inside_epoch = std::count(m.begin(), m.end(), '\n') == 2;
          });
      if (inside_epoch || HasFatalFailure()) break;
      ASSERT_GT(delay_ms, 1) << "could not land a kill inside epoch 1";
    }
  }
  // Inside a snapshot write (the writer pauses after creating its temp file).
  auto after_marker = [&](const std::string& first, const std::string& then) {
    return [first, then](Child& c) {
      return wait_until(
          c,
          [&] {
            const std::string err = read_file(c.err_path);
            const size_t from = err.find(first);
            return from != std::string::npos && err.find(then, from + first.size()) != std::string::npos;
          },
          60);
    };
  };
  const std::vector<std::string> pause{"DECONVSCOPE_TEST_PAUSE_IN_WRITE=200"};
  {
    SCOPED_TRACE("mid-snapshot");
    const std::string dir = tmp / "mid-snapshot";
    kill_and_resume(dir, pause, after_marker("test hook", ".epoch-0002.h5.tmp-"),
                    [&] { EXPECT_EQ(temp_files(dir).size(), 1u); });
  }
  {
    SCOPED_TRACE("mid-last");
    const std::string dir = tmp / "mid-last";
    kill_and_resume(dir, pause, after_marker(".epoch-0002.h5.tmp-", ".last.h5.tmp-"),
                    [&] { EXPECT_EQ(temp_files(dir).size(), 1u); });
  }
}

// --- polite signals --------------------------------------------------------------------------

TEST(Signals, SigintAndSigtermStopCleanlyAndResume) {
  TempDir tmp("sigint");
  write_mnist(tmp / "data", 480, 64);
  for (int sig : {SIGINT, SIGTERM}) {
    SCOPED_TRACE(sig);
    const std::string dir = tmp / ("run" + std::to_string(sig)), cfg = dir + ".cfg";
    write_file(cfg, replace_once(tiny_config(tmp / "data", dir, 4, "0,2,4"), "batch = 16", "batch = 8"));
    Child c = spawn({"train", "--config", cfg}, dir + "-stopped");
    ASSERT_TRUE(wait_until(c, [&] { return fs::exists(dir + "/last.h5"); }, 60)) << read_file(c.err_path);
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    ::kill(c.pid, sig);
    const int code = wait_child(c);
    const std::string err = read_file(c.err_path);
    EXPECT_EQ(code, 130) << err;
    expect_contains(err, {"stopped by signal " + std::to_string(sig), "train --run " + dir + " --resume"});
    expect_contains(read_file(dir + "/train.log"), {"error: " + dir + ": stopped by signal " + std::to_string(sig)});
    EXPECT_TRUE(temp_files(dir).empty());
    EXPECT_NO_THROW(read_snapshot(dir + "/last.h5"));
    const Result res = run({"train", "--config", cfg, "--resume"}, dir + "-resumed");
    EXPECT_EQ(res.code, 0) << res.err;
    EXPECT_EQ(read_snapshot(dir + "/snapshots/epoch-0004.h5").epoch, 4);
  }
}

// --- divergence -------------------------------------------------------------------------------

TEST(Divergence, HugeLearningRateStopsNamingEpochStepAndLayer) {
  TempDir tmp("diverge");
  write_mnist(tmp / "data");
  const std::string dir = tmp / "run", cfg = tmp / "tiny.cfg";
  write_file(cfg, tiny_config(tmp / "data", dir, 3, "0,1,3"));
  const Result r = run({"train", "--config", cfg, "--train.lr", "1e6", "--train.renorm_radius", "0"}, tmp / "log");
  EXPECT_EQ(r.code, 3) << r.err;
  expect_contains(r.err, {"epoch 1, step ", "not finite", "layer ", dir + "/last.h5"});
  const Snapshot last = read_snapshot(dir + "/last.h5");  // the last good state
  EXPECT_EQ(last.epoch, 0);
  EXPECT_TRUE(temp_files(dir).empty());
}

}  // namespace
}  // namespace ds
