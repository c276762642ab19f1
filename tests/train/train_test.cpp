// End-to-end tests of ds::train() on a synthetic, learnable IDX dataset (see
// synthetic_run.hpp): the loss falls and validation accuracy rises far above chance,
// metrics.csv has its columns and one row per epoch, snapshots land at the chosen
// epochs and give back the network that was trained, config.cfg reloads to the same
// config; train.log says what the console says, with the figures of metrics.csv; the
// default config learns, the gaussian init that does not is warned about; and the bench
// runs. No timing assertions anywhere.
// Leaves out: resume and signals (the trainer's reliability tests), divergence.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "deconvscope/config/config.hpp"
#include "deconvscope/core/error.hpp"
#include "deconvscope/data/dataset.hpp"
#include "deconvscope/io/snapshot.hpp"
#include "deconvscope/model/evaluate.hpp"
#include "deconvscope/model/network.hpp"
#include "deconvscope/train/bench.hpp"
#include "deconvscope/train/layer_warnings.hpp"
#include "deconvscope/train/sgd.hpp"
#include "deconvscope/train/trainer.hpp"
#include "model/test_util.hpp"
#include "train/synthetic_run.hpp"

namespace fs = std::filesystem;

namespace ds {
namespace {

struct Csv {
  std::vector<std::string> header;
  std::vector<std::vector<std::string>> rows;
  size_t col(const std::string& name) const {
    const auto it = std::find(header.begin(), header.end(), name);
    if (it == header.end()) throw std::runtime_error("no column " + name);
    return size_t(it - header.begin());
  }
  double at(size_t row, const std::string& name) const { return std::stod(rows[row][col(name)]); }
};

std::vector<std::string> split(const std::string& line) {
  std::vector<std::string> out;
  std::stringstream s(line);
  std::string cell;
  while (std::getline(s, cell, ',')) out.push_back(cell);
  return out;
}

Csv read_csv_file(const std::string& path) {
  std::ifstream f(path);
  Csv c;
  std::string line;
  if (std::getline(f, line)) c.header = split(line);
  while (std::getline(f, line))
    if (!line.empty()) c.rows.push_back(split(line));
  return c;
}

using testutil::read_text;

// One trained run shared by the tests of this suite (training is the slow part).
class TrainRun : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    data_dir_ = testutil::make_temp_dir("train-data");
    testutil::write_synthetic_mnist(data_dir_);
    run_dir_ = testutil::make_temp_dir("train-run");
    cfg_ = load_config(testutil::tiny_run_args(data_dir_, run_dir_,
                                               {"--train.epochs", "4", "--snapshot.epochs", "0,2",
                                                "--train.lr_step", "2", "--train.lr_gamma", "0.5"}));
    summary_ = train(cfg_, TrainOptions{}, Comm::world());
  }
  // What train writes into config.cfg and every snapshot: the given config with what
  // model.conv_algorithm = auto (the default) chose for each conv layer.
  static std::string written_text() {
    Config c = cfg_;
    c.conv_algorithms = load_config({"--config", RunPaths::of(run_dir_).config}).conv_algorithms;
    EXPECT_EQ(c.conv_algorithms.size(), 2u) << "auto's choice for c1 and c2 is recorded";
    return config_text(c);
  }
  static void TearDownTestSuite() {
    std::error_code ec;
    fs::remove_all(data_dir_, ec);
    fs::remove_all(run_dir_, ec);
  }
  static std::string data_dir_, run_dir_;
  static Config cfg_;
  static TrainSummary summary_;
};
std::string TrainRun::data_dir_, TrainRun::run_dir_;
Config TrainRun::cfg_;
TrainSummary TrainRun::summary_;

TEST_F(TrainRun, LossFallsAndAccuracyIsFarAboveChance) {
  EXPECT_EQ(summary_.last_epoch, 4);
  EXPECT_EQ(summary_.dir, run_dir_);
  const Csv m = read_csv_file(RunPaths::of(run_dir_).metrics);
  ASSERT_EQ(m.rows.size(), 5u);  // epoch 0 (the initialisation) and 1..4
  const double first = m.at(1, "train_loss"), last = m.at(4, "train_loss");
  EXPECT_LT(last, first * 0.7) << "train_loss epoch 1 " << first << ", epoch 4 " << last;
  EXPECT_LT(m.at(4, "val_loss"), m.at(0, "val_loss"));
  EXPECT_GT(m.at(4, "val_accuracy"), 0.6);  // chance is 0.1
  EXPECT_NEAR(summary_.val_accuracy, m.at(4, "val_accuracy"), 1e-6);
  EXPECT_NEAR(summary_.val_loss, m.at(4, "val_loss"), 1e-6);
}

TEST_F(TrainRun, MetricsHaveTheDocumentedColumnsAndOneRowPerEpoch) {
  const Csv m = read_csv_file(RunPaths::of(run_dir_).metrics);
  const std::vector<std::string> want = {
      "epoch", "step", "lr", "train_loss", "train_accuracy", "val_loss", "val_accuracy", "seconds", "images_per_s",
      "c1_weight_rms", "c1_grad_rms", "c1_update_ratio", "c1_dead_fraction",
      "c2_weight_rms", "c2_grad_rms", "c2_update_ratio", "c2_dead_fraction",
      "f3_weight_rms", "f3_grad_rms", "f3_update_ratio"};
  EXPECT_EQ(m.header, want);
  const int64_t steps_per_epoch = 300 / 16;  // the last partial batch is dropped
  for (size_t r = 0; r < m.rows.size(); ++r) {
    SCOPED_TRACE("row " + std::to_string(r));
    ASSERT_EQ(m.rows[r].size(), want.size());
    EXPECT_EQ(m.at(r, "epoch"), double(r));
    EXPECT_EQ(m.at(r, "step"), double(int64_t(r) * steps_per_epoch));
    // The step schedule: 0.05 for epochs 0 to 2, halved from epoch 3.
    EXPECT_NEAR(m.at(r, "lr"), r <= 2 ? 0.05 : 0.025, 1e-7);
    EXPECT_GT(m.at(r, "c1_weight_rms"), 0.0);
    const double dead = m.at(r, "c2_dead_fraction");
    EXPECT_GE(dead, 0.0);
    EXPECT_LE(dead, 1.0);
    if (r > 0) {
      EXPECT_GT(m.at(r, "f3_grad_rms"), 0.0);
      EXPECT_GT(m.at(r, "f3_update_ratio"), 0.0);
      EXPECT_GT(m.at(r, "images_per_s"), 0.0);
    }
  }
  // Renormalisation keeps every conv filter's RMS at or under the radius (0.1).
  EXPECT_LE(m.at(4, "c1_weight_rms"), 0.1 + 1e-6);
}

TEST_F(TrainRun, SnapshotsLandAtTheChosenEpochs) {
  const RunPaths p = RunPaths::of(run_dir_);
  const auto snaps = list_snapshots(p.snapshots);
  ASSERT_EQ(snaps.size(), 3u);  // 0, 2 and the final epoch 4, always kept
  const int epochs[] = {0, 2, 4};
  const Csv m = read_csv_file(p.metrics);
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(snaps[i].first, epochs[i]);
    EXPECT_EQ(fs::path(snaps[i].second).filename().string(), snapshot_file_name(epochs[i]));
    const Snapshot s = read_snapshot(snaps[i].second);
    EXPECT_EQ(s.epoch, epochs[i]);
    EXPECT_EQ(s.step, int64_t(m.at(size_t(epochs[i]), "step")));
    EXPECT_NEAR(s.val_loss, m.at(size_t(epochs[i]), "val_loss"), 1e-5);
    EXPECT_EQ(s.num_classes, 10);
    EXPECT_EQ(s.input.height, 12);
    EXPECT_EQ(s.config, written_text());
  }
  EXPECT_TRUE(fs::exists(p.snapshots + "/epoch-0000.h5"));
  EXPECT_FALSE(fs::exists(p.snapshots + "/epoch-0001.h5"));
  EXPECT_FALSE(fs::exists(p.snapshots + "/epoch-0003.h5"));
  ASSERT_TRUE(fs::exists(p.last));
  const Snapshot last = read_snapshot(p.last);
  EXPECT_EQ(last.epoch, 4);
  EXPECT_FALSE(last.optimizer.rng_state.empty());
}

TEST_F(TrainRun, ConfigFileReloadsToTheSameConfig) {
  const RunPaths p = RunPaths::of(run_dir_);
  EXPECT_EQ(read_text(p.config), written_text());
  const Config again = load_config({"--config", p.config});
  EXPECT_EQ(again.text, written_text());
  ASSERT_EQ(again.layers.size(), cfg_.layers.size());
  for (size_t i = 0; i < again.layers.size(); ++i)
    EXPECT_EQ(format_layer_line(again.layers[i]), format_layer_line(cfg_.layers[i]));
  EXPECT_EQ(again.run.dir, run_dir_);
  EXPECT_EQ(again.data.path, data_dir_);
  EXPECT_EQ(again.train.epochs, 4);
  EXPECT_EQ(again.train.batch, 16);
  EXPECT_FLOAT_EQ(again.train.lr, 0.05f);
  EXPECT_EQ(again.train.init, ds::InitScheme::he);
  EXPECT_EQ(again.snapshot.epochs, (std::vector<int>{0, 2, 4}));
}

// model.conv_algorithm = auto decides by timing: the run records the choice in config.cfg
// (model.conv_algorithms), and a resume, even one given the original config without it,
// builds with the recorded choice instead of timing again.
TEST(TrainAuto, RecordsItsConvChoiceAndAResumeKeepsIt) {
  const std::string data = testutil::make_temp_dir("auto-data"), dir = testutil::make_temp_dir("auto-run");
  testutil::write_synthetic_mnist(data, 100, 50);
  const std::vector<std::string> args =
      testutil::tiny_run_args(data, dir, {"--model.conv_algorithm", "auto", "--snapshot.epochs", "0,1"});
  std::vector<std::string> first = args;
  first.insert(first.end(), {"--train.epochs", "1"});
  train(load_config(first), TrainOptions{}, Comm::world());
  const RunPaths p = RunPaths::of(dir);
  const Config recorded = load_config({"--config", p.config});
  ASSERT_EQ(recorded.conv_algorithms.size(), 2u) << read_text(p.config);
  EXPECT_EQ(recorded.conv_algorithms[0].layer, "c1");
  EXPECT_EQ(recorded.conv_algorithms[1].layer, "c2");
  EXPECT_NE(read_text(p.log).find("model.conv_algorithm = auto chose"), std::string::npos);

  std::vector<std::string> more = args;
  more.insert(more.end(), {"--train.epochs", "2"});
  TrainOptions resume;
  resume.resume = true;
  const std::string log_before = read_text(p.log);
  EXPECT_EQ(train(load_config(more), resume, Comm::world()).last_epoch, 2);
  const std::string resumed_log = read_text(p.log).substr(log_before.size());
  EXPECT_EQ(resumed_log.find("auto chose"), std::string::npos) << "the resume timed again:\n" << resumed_log;
  EXPECT_EQ(format_resolved_convs(load_config({"--config", p.config}).conv_algorithms),
            format_resolved_convs(recorded.conv_algorithms));
  std::error_code ec;
  fs::remove_all(data, ec);
  fs::remove_all(dir, ec);
}

TEST_F(TrainRun, AFolderThatHoldsARunIsNotOverwrittenSilently) {
  try {
    train(cfg_, TrainOptions{}, Comm::world());
    FAIL() << "expected ds::Error(usage)";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::usage);
  }
  EXPECT_EQ(list_snapshots(RunPaths::of(run_dir_).snapshots).size(), 3u);
}

// What the console says is in train.log too, with the figures of metrics.csv: training
// images/s (evaluation left out), and an ETA of the whole run.
TEST_F(TrainRun, LogSaysWhatLoadsAndLabelsTheFiguresAsMetricsDoes) {
  const RunPaths p = RunPaths::of(run_dir_);
  const std::string log = read_text(p.log);
  for (const std::string& part : std::vector<std::string>{"reading mnist from " + data_dir_, "read 300 training and 100 test images (1x12x12)",
                                  "building the network: 6 layers", "epoch 0: evaluating the initial network",
                                  "epoch 1/4: train loss", "| run ETA ", "dead features at epoch 4"})
    EXPECT_NE(log.find(part), std::string::npos) << "'" << part << "' missing from:\n" << log;
  const Csv m = read_csv_file(p.metrics);
  for (size_t e = 1; e <= 4; ++e) {
    const size_t at = log.find("epoch " + std::to_string(e) + "/4: ");
    ASSERT_NE(at, std::string::npos) << log;
    const std::string line = log.substr(at, log.find('\n', at) - at);
    // The same figures, each rounded for the console (metrics.csv keeps more digits, so
    // compare within the console's rounding, not as text: 87.49 prints 87, its CSV 87.5).
    double img_s = -1, secs = -1;
    const size_t fig = line.find("| train ");
    ASSERT_NE(fig, std::string::npos) << line;
    ASSERT_EQ(std::sscanf(line.c_str() + fig, "| train %lf img/s, %lf s;", &img_s, &secs), 2) << line;
    EXPECT_NEAR(img_s, m.at(e, "images_per_s"), 0.51 + 1e-3 * m.at(e, "images_per_s")) << line;
    EXPECT_NEAR(secs, m.at(e, "seconds"), 0.051 + 1e-3 * m.at(e, "seconds")) << line;
    EXPECT_EQ(line.find("run ETA") == std::string::npos, e == 4) << line;  // none after the last epoch
  }
}

// The default config (no file) must learn: He init. Sixty steps of the built-in network
// on the synthetic data take the loss well below ln 10 = 2.3026, where the paper's
// gaussian 0.01 leaves it, with a warning that names the layer.
class DefaultConfig : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    data_dir_ = testutil::make_temp_dir("default-data");
    testutil::write_synthetic_mnist(data_dir_, /*n_train=*/1280, /*n_test=*/100);
  }
  static void TearDownTestSuite() {
    std::error_code ec;
    fs::remove_all(data_dir_, ec);
  }
  // Trains the default config on the synthetic data (10 steps of 128 per epoch); returns
  // the run folder.
  static std::string train_default(const std::string& tag, int epochs, std::vector<std::string> extra = {}) {
    const std::string run = testutil::make_temp_dir(tag);
    std::vector<std::string> args = {"--run.dir", run, "--data.dataset", "mnist", "--data.path", data_dir_,
                                     "--train.epochs", std::to_string(epochs)};
    args.insert(args.end(), extra.begin(), extra.end());
    train(load_config(args), TrainOptions{}, Comm::world());
    return run;
  }
  static std::string data_dir_;
};
std::string DefaultConfig::data_dir_;

TEST_F(DefaultConfig, LearnsWithoutAConfigFile) {
  // 60 steps of 128 images: the loss falls below 1.5 from epoch 4 on (0.13 at epoch 6 when
  // this was written).
  const std::string run = train_default("default-run", 6);
  const Csv m = read_csv_file(RunPaths::of(run).metrics);
  ASSERT_EQ(m.rows.size(), 7u);
  EXPECT_EQ(m.at(6, "step"), 60.0);
  EXPECT_LT(m.at(6, "train_loss"), 1.5) << "ln 10 = 2.3026 is chance";
  EXPECT_GT(m.at(6, "val_accuracy"), 0.5);
  const std::string log = read_text(RunPaths::of(run).log);
  EXPECT_EQ(log.find("gradients vanish"), std::string::npos) << log;
  std::error_code ec;
  fs::remove_all(run, ec);
}

TEST_F(DefaultConfig, GaussianInitStallsAndIsWarnedAbout) {
  const std::string run = train_default("gauss-run", 2, {"--train.init", "gaussian"});
  const Csv m = read_csv_file(RunPaths::of(run).metrics);
  EXPECT_GT(m.at(2, "train_loss"), 2.29);  // stuck at ln 10: what the warning is for
  const std::string log = read_text(RunPaths::of(run).log);
  EXPECT_NE(log.find("warning: epoch 1: conv1's gradients vanish"), std::string::npos) << log;
  // Said when it starts, not again at epoch 2.
  EXPECT_EQ(log.find("warning: epoch 2: conv1's gradients vanish"), std::string::npos) << log;
  std::error_code ec;
  fs::remove_all(run, ec);
}

// The warnings' rules on made-up figures: thresholds, once per state, the layer named.
TEST(LayerWarnings, VanishingGradientsAndDeadFeatures) {
  const std::vector<LayerSpec> layers = {parse_layer_line("c1 conv out=8 kernel=3 pad=1", "test"),
                                         parse_layer_line("r1 relu", "test"),
                                         parse_layer_line("f2 fc out=10", "test")};
  const Network net(layers, InputShape{1, 6, 6}, 2);
  LayerWarnings w;
  std::vector<UpdateStats> stats(3);
  stats[0] = {/*weight_rms=*/0.1, /*grad_rms=*/1e-3, /*update_rms=*/0};
  stats[2] = {/*weight_rms=*/0.1, /*grad_rms=*/1e-3, /*update_rms=*/0};
  std::vector<double> dead = {0.125, 0, 0};  // 1 of 8
  EXPECT_TRUE(w.check(net, 0, {}, dead, 32).empty());
  EXPECT_TRUE(w.check(net, 1, stats, dead, 32).empty());
  stats[2].grad_rms = 1e-7;  // 1e-6 of its weights
  dead[0] = 0.375;           // 3 of 8
  auto lines = w.check(net, 2, stats, dead, 32);
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_NE(lines[0].find("epoch 2: c1 has 3 of 8 features dead (38%"), std::string::npos) << lines[0];
  EXPECT_NE(lines[0].find("32-image probe batch"), std::string::npos) << lines[0];
  EXPECT_NE(lines[1].find("epoch 2: f2's gradients vanish"), std::string::npos) << lines[1];
  EXPECT_TRUE(w.check(net, 3, stats, dead, 32).empty());  // still so: not said again
  stats[2].grad_rms = 1e-3;
  dead[0] = 0;
  EXPECT_TRUE(w.check(net, 4, stats, dead, 32).empty());
  stats[2].grad_rms = 1e-7;  // back: said again
  EXPECT_EQ(w.check(net, 5, stats, dead, 32).size(), 1u);
  EXPECT_EQ(dead_feature_summary(net, {0.375, 0, 0}), "c1 3/8");
}

// Builds the network a snapshot describes, at `batch`, with its weights.
Network network_of(const Snapshot& s, int batch) {
  Network net(s.layers, s.input, batch);
  net.import_params(s.params);
  return net;
}

std::vector<float> logits_of(Network& net, const std::vector<float>& input) {
  net.forward(input.data(), Mode::infer);
  return std::vector<float>(net.logits(), net.logits() + size_t(net.batch()) * net.num_classes());
}

TEST(TrainSnapshot, ReadBackGivesTheTrainedNetwork) {
  const std::string data_dir = testutil::make_temp_dir("snap-data");
  testutil::write_synthetic_mnist(data_dir, /*n_train=*/160, /*n_test=*/48);
  const std::string run_dir = testutil::make_temp_dir("snap-run");
  const Config cfg = load_config(testutil::tiny_run_args(data_dir, run_dir, {"--train.epochs", "1"}));
  train(cfg, TrainOptions{}, Comm::world());
  const RunPaths p = RunPaths::of(run_dir);
  const Snapshot s1 = read_snapshot(p.snapshots + "/" + snapshot_file_name(1));
  const Snapshot last = read_snapshot(p.last);
  const Snapshot s0 = read_snapshot(p.snapshots + "/" + snapshot_file_name(0));
  EXPECT_EQ(s1.layers.size(), cfg.layers.size());

  const DataSplits data = load_dataset(cfg.data);
  const Normalization norm{s1.input_mean, s1.input_std};
  const Normalization train_norm = compute_normalization(data.train);
  EXPECT_EQ(norm.mean, train_norm.mean);
  EXPECT_EQ(norm.std, train_norm.std);

  // The same batch of test images through epoch-0001.h5 and last.h5: identical logits.
  std::vector<float> input;
  std::vector<int32_t> labels;
  fill_batch(data.test, 0, 16, norm, 16, input, labels);
  Network a = network_of(s1, 16), b = network_of(last, 16), c = network_of(s0, 16);
  const std::vector<float> la = logits_of(a, input);
  EXPECT_EQ(la, logits_of(b, input));
  EXPECT_NE(la, logits_of(c, input));  // training moved the weights

  // The snapshot is the network the trainer validated: at the training batch size its
  // test-set loss and accuracy are the ones metrics.csv and the snapshot recorded.
  Network at_train_batch = network_of(s1, cfg.train.batch);
  const EvalResult e = evaluate(at_train_batch, data.test, norm);
  EXPECT_NEAR(e.loss, s1.val_loss, 1e-5);
  EXPECT_NEAR(e.accuracy, s1.val_accuracy, 1e-6);
  const Csv m = read_csv_file(p.metrics);
  ASSERT_EQ(m.rows.size(), 2u);
  EXPECT_NEAR(e.loss, m.at(1, "val_loss"), 2e-6);
  EXPECT_NEAR(e.accuracy, m.at(1, "val_accuracy"), 2e-6);

  std::error_code ec;
  fs::remove_all(data_dir, ec);
  fs::remove_all(run_dir, ec);
}

TEST(TrainSnapshot, InMemoryParamsSurviveAWriteAndRead) {
  using testutil::conv;
  const std::vector<LayerSpec> specs = {conv("c1", 3, 3, 3, 1, 1), testutil::relu("r1"),
                                        testutil::maxpool("p1", 2, 2, 0), testutil::fc("f2", 4)};
  const InputShape in{2, 8, 8};
  Network net(specs, in, 4);
  std::mt19937 rng(7);
  testutil::randomize_params(net, rng);
  const Tensor x = testutil::random_input(net, rng);  // (4, 2, 8, 8)
  const std::vector<float> want = logits_of(net, x.data);

  Snapshot s;
  s.epoch = 3;
  s.step = 30;
  s.config = "[run]\nname = x\n";
  s.input = in;
  s.num_classes = 4;
  s.input_mean = {0.5f, 0.4f};
  s.input_std = {0.2f, 0.3f};
  s.layers = specs;
  s.params = net.export_params();
  const std::string dir = testutil::make_temp_dir("snap-mem");
  const std::string path = dir + "/" + snapshot_file_name(3);
  write_snapshot(path, s);
  Network back = network_of(read_snapshot(path), 4);
  EXPECT_EQ(logits_of(back, x.data), want);
  std::error_code ec;
  fs::remove_all(dir, ec);
}

TEST(Bench, RunsOnTheZfnetMiniConfig) {
  const Config cfg = load_config({"--config", std::string(DS_SOURCE_DIR) + "/configs/zfnet-mini-bench.cfg"});
  ASSERT_EQ(cfg.layers.size(), 22u);
  BenchOptions opt;
  opt.iters = 2;
  opt.warmup = 1;
  const BenchResult r = run_bench(cfg, opt);
  EXPECT_GT(r.train_images_per_s, 0.0);
  EXPECT_GT(r.infer_images_per_s, 0.0);
  EXPECT_TRUE(std::isfinite(r.train_images_per_s));
  EXPECT_TRUE(std::isfinite(r.infer_images_per_s));
}

}  // namespace
}  // namespace ds
