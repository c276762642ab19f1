// Tests of the config stage: defaults, file parsing, command-line overrides, the errors a
// user meets (with the file, key and line they name), the layer-line grammar, the
// effective-text round trip, infer_shapes on the benchmark network, and the shipped configs.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "deconvscope/config/config.hpp"
#include "deconvscope/config/config_section.hpp"
#include "deconvscope/config/config_value.hpp"
#include "deconvscope/core/error.hpp"

namespace fs = std::filesystem;

namespace {

// A fresh folder per test, so parallel ctest runs do not share files.
fs::path temp_dir() {
  const auto* info = testing::UnitTest::GetInstance()->current_test_info();
  fs::path dir = fs::path(testing::TempDir()) / "deconvscope_config_test" /
                 (std::string(info->test_suite_name()) + "." + info->name());
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

std::string write_file(const std::string& name, const std::string& text) {
  fs::path p = temp_dir() / name;
  std::ofstream(p) << text;
  return p.string();
}

const char* kSmallModel =
    "[model]\n"
    "layer = conv1 conv out=8 kernel=3 pad=1\n"
    "layer = relu1 relu\n"
    "layer = fc2 fc out=10\n";

// Runs f, expects ds::Error of `kind`, and returns its message.
template <class F>
std::string error_of(F f, ds::ErrorKind kind = ds::ErrorKind::config) {
  try {
    f();
  } catch (const ds::Error& e) {
    EXPECT_EQ(int(e.kind()), int(kind)) << e.what();
    return e.what();
  } catch (const std::exception& e) {
    ADD_FAILURE() << "not a ds::Error: " << e.what();
    return {};
  }
  ADD_FAILURE() << "no error thrown";
  return {};
}

#define EXPECT_CONTAINS(text, part) EXPECT_NE(std::string(text).find(part), std::string::npos) << (text)

std::vector<std::string> bench_lines() {
  return {"conv1 conv out=32 kernel=5 stride=1 pad=2", "relu1 relu", "pool1 maxpool kernel=3 stride=2 pad=1",
          "norm1 lrn size=5 alpha=1e-4 beta=0.75 k=2", "conv2 conv out=64 kernel=5 stride=1 pad=2", "relu2 relu",
          "pool2 maxpool kernel=3 stride=2 pad=1", "norm2 lrn size=5 alpha=1e-4 beta=0.75 k=2",
          "conv3 conv out=96 kernel=3 stride=1 pad=1", "relu3 relu", "conv4 conv out=96 kernel=3 stride=1 pad=1",
          "relu4 relu", "conv5 conv out=64 kernel=3 stride=1 pad=1", "relu5 relu",
          "pool5 maxpool kernel=3 stride=2 pad=0", "fc6 fc out=256", "relu6 relu", "drop6 dropout rate=0.5",
          "fc7 fc out=256", "relu7 relu", "drop7 dropout rate=0.5", "fc8 fc out=10"};
}

std::vector<ds::LayerSpec> parse_lines(const std::vector<std::string>& lines) {
  std::vector<ds::LayerSpec> layers;
  for (const auto& l : lines) layers.push_back(ds::parse_layer_line(l, "test"));
  return layers;
}

}  // namespace

TEST(Config, DefaultsWithoutArguments) {
  ds::Config c = ds::load_config({});
  const ds::Config d;
  EXPECT_EQ(c.run.name, "run");
  EXPECT_EQ(c.run.dir, "runs/run");
  EXPECT_EQ(c.run.seed, d.run.seed);
  EXPECT_EQ(c.run.threads, d.run.threads);
  EXPECT_EQ(c.data.dataset, ds::DatasetKind::fashion_mnist);
  EXPECT_EQ(c.data.path, "/usr/share/datasets/fashion-mnist");
  EXPECT_EQ(c.train.epochs, d.train.epochs);
  EXPECT_FLOAT_EQ(c.train.lr, d.train.lr);
  EXPECT_EQ(c.train.lr_schedule, d.train.lr_schedule);
  EXPECT_EQ(c.snapshot.epochs, d.snapshot.epochs);
  EXPECT_EQ(c.analysis.features, d.analysis.features);
  EXPECT_TRUE(c.analysis.layers.empty());
  EXPECT_EQ(c.source, "");
  // No [model]: the zfnet-mini benchmark network.
  ASSERT_EQ(c.layers.size(), bench_lines().size());
  EXPECT_EQ(c.layers.front().name, "conv1");
  EXPECT_EQ(c.layers.back().name, "fc8");
  EXPECT_EQ(c.layers.back().out, 10);
}

// Without a config the run must learn: He init (the paper's gaussian 0.01 leaves the
// default network's loss at ln 10; tests/train checks that the default learns).
TEST(Config, DefaultInitIsHe) {
  EXPECT_EQ(ds::load_config({}).train.init, ds::InitScheme::he);
  EXPECT_EQ(ds::load_config({"--train.init", "gaussian"}).train.init, ds::InitScheme::gaussian);
}

// What `train --resume` compares: every key, and the layer list line by line.
TEST(ConfigDifferences, NamesEachDifferingKeyWithBothValues) {
  const ds::Config a = ds::load_config({"--train.epochs", "4", "--data.train_limit", "2000"});
  EXPECT_TRUE(ds::config_differences(a, a).empty());
  EXPECT_TRUE(ds::config_differences(a, ds::parse_config_text(a.text, "config.cfg")).empty());

  const ds::Config b = ds::load_config({"--train.epochs", "64", "--train.lr", "0.05"});
  const auto d = ds::config_differences(a, b);
  ASSERT_EQ(d.size(), 4u);  // data.train_limit, train.epochs, train.lr and snapshot.epochs (cut to 4 in a)
  EXPECT_EQ(d[0].key, "data.train_limit");
  EXPECT_EQ(d[0].a, "2000");
  EXPECT_EQ(d[0].b, "0");
  EXPECT_EQ(d[1].key, "train.epochs");
  EXPECT_EQ(d[1].a, "4");
  EXPECT_EQ(d[1].b, "64");
  EXPECT_EQ(d[2].key, "train.lr");
  EXPECT_EQ(d[2].b, "0.05");
  EXPECT_EQ(d[3].key, "snapshot.epochs");
  EXPECT_EQ(d[3].a, "0,1,2,4");
  EXPECT_EQ(d[3].b, "0,1,2,5,10,64");
}

// config_entries reads a text as written, through the loader's own path: comments and
// spaces go, repeated layer lines join, an unknown key is refused with its line.
TEST(ConfigEntries, ReadsWhatTheTextSays) {
  const auto kv = ds::config_entries("[train]\nlr = 0.02  # faster\n[model]\nlayer = a relu\nlayer = b fc out=2\n"
                                     "[run]\ndir =\n",
                                     "a.cfg");
  EXPECT_EQ(kv.at("train.lr"), "0.02");
  EXPECT_EQ(kv.at("model.layer"), "a relu; b fc out=2");
  EXPECT_EQ(kv.at("run.dir"), "");
  EXPECT_EQ(kv.count("train.epochs"), 0u) << "no defaults";
  const std::string e = error_of([] { ds::config_entries("[train]\nlr = 1\nlrr = 2\n", "b: config.cfg"); });
  EXPECT_CONTAINS(e, "b: config.cfg:3");
  EXPECT_CONTAINS(e, "did you mean train.lr?");
}

// [health]: the defaults are the health flags' old defaults; a key overrides them, and a
// bad value is refused naming the key.
TEST(HealthKeys, DefaultsOverridesAndBadValues) {
  const ds::Config d = ds::load_config({});
  EXPECT_EQ(d.health.probe, -1);
  EXPECT_EQ(d.health.dominating_ratio, 3.0f);
  EXPECT_EQ(d.health.collapsed_ratio, 0.1f);
  EXPECT_EQ(d.health.redundant_correlation, 0.9f);
  EXPECT_CONTAINS(d.text, "[health]\nprobe = auto\ndominating_ratio = 3\n");
  const ds::Config c = ds::load_config({"--health.probe", "60", "--health.dominating_ratio", "4.5"});
  EXPECT_EQ(c.health.probe, 60);
  EXPECT_EQ(c.health.dominating_ratio, 4.5f);
  EXPECT_EQ(ds::parse_config_text(c.text, "x").health.probe, 60) << "the effective text reads back";
  EXPECT_CONTAINS(error_of([] { ds::load_config({"--health.collapsed_ratio", "2"}); }),
                  "command line: --health.collapsed_ratio");
  EXPECT_CONTAINS(error_of([] { ds::load_config({"--health.dominating_ratio", "1"}); }), "a number in (1, 1e6]");
  EXPECT_CONTAINS(error_of([] { ds::load_config({"--health.redundant_correlation", "0"}); }), "(0, 1]");
  EXPECT_CONTAINS(error_of([] { ds::load_config({"--health.probe", "-1"}); }), "auto or an integer >= 0");
}

TEST(ConfigDifferences, LayerListsCompareLineByLine) {
  const ds::Config a = ds::load_config({});
  ds::Config b = a;
  b.layers[4].out = 48;  // conv2
  auto d = ds::config_differences(a, b);
  ASSERT_EQ(d.size(), 1u);
  EXPECT_EQ(d[0].key, "model.layer #5");
  EXPECT_NE(d[0].a.find("conv2 conv out=64"), std::string::npos) << d[0].a;
  EXPECT_NE(d[0].b.find("conv2 conv out=48"), std::string::npos) << d[0].b;
  b = a;
  b.layers.pop_back();
  d = ds::config_differences(a, b);
  ASSERT_EQ(d.size(), 1u);
  EXPECT_NE(d[0].a.find("22 against 21 layers"), std::string::npos) << d[0].a;
}

TEST(Config, SnapshotDefaultFollowsShorterRun) {
  ds::Config c = ds::load_config({"--train.epochs", "3"});
  EXPECT_EQ(c.snapshot.epochs, (std::vector<int>{0, 1, 2, 3}));
}

TEST(Config, ParsesFile) {
  std::string path = write_file("a.cfg",
                                "# a comment\n"
                                "[run]\nname = small   # trailing comment\nseed = 7\n"
                                "[data]\ndataset = mnist\npath = /tmp/mnist\nflip = true\n"
                                "[train]\nepochs = 4\nlr = 0.05\nlr_schedule = plateau\ninit = he\n"
                                "[snapshot]\nepochs = 0,2,4\n"
                                "[analysis]\nlayers = conv1\nfeatures = all\ntopk_epochs = 2,4\nlive = true\n" +
                                    std::string(kSmallModel));
  ds::Config c = ds::load_config({"--config", path});
  EXPECT_EQ(c.source, path);
  EXPECT_EQ(c.run.name, "small");
  EXPECT_EQ(c.run.dir, "runs/small");
  EXPECT_EQ(c.run.seed, 7u);
  EXPECT_EQ(c.data.dataset, ds::DatasetKind::mnist);
  EXPECT_EQ(c.data.path, "/tmp/mnist");
  EXPECT_TRUE(c.data.flip);
  EXPECT_EQ(c.train.epochs, 4);
  EXPECT_FLOAT_EQ(c.train.lr, 0.05f);
  EXPECT_EQ(c.train.lr_schedule, ds::LrSchedule::plateau);
  EXPECT_EQ(c.train.init, ds::InitScheme::he);
  EXPECT_EQ(c.snapshot.epochs, (std::vector<int>{0, 2, 4}));
  EXPECT_EQ(c.analysis.layers, (std::vector<std::string>{"conv1"}));
  EXPECT_EQ(c.analysis.features, -1);
  EXPECT_EQ(c.analysis.topk_epochs, (std::vector<int>{2, 4}));
  EXPECT_TRUE(c.analysis.live);
  ASSERT_EQ(c.layers.size(), 3u);
  EXPECT_EQ(c.layers[0].type, ds::LayerType::conv);
  EXPECT_EQ(c.layers[0].out, 8);
  EXPECT_EQ(c.layers[0].pad, (std::array<int, 2>{1, 1}));
  EXPECT_EQ(c.layers[0].stride, (std::array<int, 2>{1, 1}));
}

TEST(Config, CommandLineWinsOverFile) {
  std::string path = write_file("a.cfg", "[train]\nepochs = 4\nlr = 0.05\n[snapshot]\nepochs = 0,4\n");
  ds::Config c = ds::load_config({"--config", path, "--train.epochs", "10", "--train.batch=32"});
  EXPECT_EQ(c.train.epochs, 10);
  EXPECT_EQ(c.train.batch, 32);
  EXPECT_FLOAT_EQ(c.train.lr, 0.05f);  // from the file
  // Order on the command line does not matter.
  ds::Config c2 = ds::load_config({"--train.epochs", "10", "--config", path});
  EXPECT_EQ(c2.train.epochs, 10);
  // Layers on the command line replace the file's list whole.
  std::string with_model = write_file("m.cfg", kSmallModel);
  ds::Config c3 = ds::load_config({"--config", with_model, "--model.layer", "a conv out=2 kernel=3",
                                   "--model.layer", "b fc out=3"});
  ASSERT_EQ(c3.layers.size(), 2u);
  EXPECT_EQ(c3.layers[1].name, "b");
}

TEST(Config, UnknownKeyInFileNamesFileKeyAndLine) {
  std::string path = write_file("u.cfg", "[train]\nepochs = 4\nepohcs = 5\n");
  std::string msg = error_of([&] { ds::load_config({"--config", path}); });
  EXPECT_CONTAINS(msg, path + ":3");
  EXPECT_CONTAINS(msg, "train.epohcs");
  EXPECT_CONTAINS(msg, "did you mean train.epochs");
}

TEST(Config, KeyOutsideItsSection) {
  std::string path = write_file("u.cfg", "epochs = 4\n");
  std::string msg = error_of([&] { ds::load_config({"--config", path}); });
  EXPECT_CONTAINS(msg, path + ":1");
  EXPECT_CONTAINS(msg, "train.epochs");
}

TEST(Config, UnknownKeyOnCommandLine) {
  std::string path = write_file("a.cfg", "[train]\nepochs = 4\n");
  std::string msg = error_of([&] { ds::load_config({"--config", path, "--train.epoch", "3"}); });
  EXPECT_CONTAINS(msg, "command line");
  EXPECT_CONTAINS(msg, "train.epoch");
  // No abbreviations: a prefix of a key is a typo, not that key.
  error_of([&] { ds::load_config({"--train.ep", "3"}); });
  msg = error_of([&] { ds::load_config({"stray"}); });
  EXPECT_CONTAINS(msg, "stray");
}

TEST(Config, BadValueNamesKeyAndLine) {
  std::string path = write_file("b.cfg", "[run]\nname = x\n[train]\nlr = fast\n");
  std::string msg = error_of([&] { ds::load_config({"--config", path}); });
  EXPECT_CONTAINS(msg, path + ":4");
  EXPECT_CONTAINS(msg, "train.lr");
  EXPECT_CONTAINS(msg, "fast");

  msg = error_of([&] { ds::load_config({"--train.epochs", "ten"}); });
  EXPECT_CONTAINS(msg, "train.epochs");
  msg = error_of([&] { ds::load_config({"--train.momentum", "1.5"}); });
  EXPECT_CONTAINS(msg, "train.momentum");
  msg = error_of([&] { ds::load_config({"--data.flip", "maybe"}); });
  EXPECT_CONTAINS(msg, "data.flip");
  msg = error_of([&] { ds::load_config({"--train.lr_schedule", "cosine"}); });
  EXPECT_CONTAINS(msg, "none | step | plateau");
  msg = error_of([&] { ds::load_config({"--run.seed", "-1"}); });
  EXPECT_CONTAINS(msg, "run.seed");
  msg = error_of([&] { ds::load_config({"--analysis.features", "0"}); });
  EXPECT_CONTAINS(msg, "analysis.features");
  msg = error_of([&] { ds::load_config({"--analysis.features", "3,x"}); });
  EXPECT_CONTAINS(msg, "'x' in '3,x'");
  msg = error_of([&] { ds::load_config({"--analysis.features", "3,-1"}); });
  EXPECT_CONTAINS(msg, "analysis.features");
  msg = error_of([&] { ds::load_config({"--analysis.features", "3,17,3"}); });
  EXPECT_CONTAINS(msg, "each feature once");
}

// Every closed-choice key parses each of its values to its enum, writes it back as the
// same word (config.cfg must stay byte-identical), and refuses any other word naming the
// key, the word and every choice.
TEST(Config, ChoiceKeysParseToEnumsAndBack) {
  struct Key {
    const char* key;
    std::vector<std::string> values;
    const char* listed;
  };
  const Key keys[] = {
      {"data.dataset", {"fashion-mnist", "mnist", "cifar10", "folder"}, "fashion-mnist | mnist | cifar10 | folder"},
      {"data.streaming", {"auto", "on", "off"}, "auto | on | off"},
      {"data.bad_images", {"stop", "skip"}, "stop | skip"},
      {"train.lr_schedule", {"none", "step", "plateau"}, "none | step | plateau"},
      {"train.init", {"gaussian", "he"}, "gaussian | he"},
      {"analysis.probe", {"train", "test"}, "train | test"},
      {"model.conv_algorithm", {"auto", "direct", "winograd"}, "auto | direct | winograd"},
      {"train.precision", {"f32", "bf16"}, "f32 | bf16"},
  };
  for (const Key& k : keys) {
    SCOPED_TRACE(k.key);
    for (const std::string& v : k.values) {
      // data.path: every dataset but fashion-mnist needs one.
      const ds::Config c = ds::load_config({std::string("--") + k.key, v, "--data.path", "/d"});
      const std::string line = std::string(std::strchr(k.key, '.') + 1) + " = " + v + "\n";
      EXPECT_CONTAINS(c.text, line);
      EXPECT_EQ(ds::parse_config_text(c.text, "config.cfg").text, c.text);
    }
    const std::string msg = error_of([&] { ds::load_config({std::string("--") + k.key, "Bogus", "--data.path", "/d"}); });
    EXPECT_CONTAINS(msg, std::string("command line: --") + k.key);
    EXPECT_CONTAINS(msg, std::string("expected one of ") + k.listed + ", found 'Bogus'");
  }
  // The enums themselves, as the use sites see them.
  const ds::Config c = ds::load_config({"--data.dataset", "cifar10", "--data.path", "/d", "--data.streaming", "off",
                                        "--data.bad_images", "skip", "--train.lr_schedule", "none",
                                        "--train.init", "gaussian", "--analysis.probe", "test"});
  EXPECT_EQ(c.data.dataset, ds::DatasetKind::cifar10);
  EXPECT_EQ(c.data.streaming, ds::Streaming::off);
  EXPECT_EQ(c.data.bad_images, ds::BadImages::skip);
  EXPECT_EQ(c.train.lr_schedule, ds::LrSchedule::none);
  EXPECT_EQ(c.train.init, ds::InitScheme::gaussian);
  EXPECT_EQ(c.analysis.probe, ds::ProbeSplit::test);
  ds::ProbeSplit p = ds::ProbeSplit::train;
  EXPECT_TRUE(ds::parse_probe_split("test", p));
  EXPECT_EQ(p, ds::ProbeSplit::test);
  EXPECT_FALSE(ds::parse_probe_split("Train", p));
  EXPECT_FALSE(ds::parse_probe_split("", p));
}

TEST(Config, AnalysisFeaturesTakesACountAllOrAList) {
  EXPECT_EQ(ds::load_config({"--analysis.features", "5"}).analysis.features, 5);
  EXPECT_TRUE(ds::load_config({"--analysis.features", "5"}).analysis.feature_list.empty());
  EXPECT_EQ(ds::load_config({"--analysis.features", "all"}).analysis.features, -1);
  EXPECT_EQ(ds::load_config({"--analysis.features", "3, 17,40"}).analysis.feature_list,
            (std::vector<int>{3, 17, 40}));
  EXPECT_EQ(ds::load_config({"--analysis.features", "5,"}).analysis.feature_list, (std::vector<int>{5}));
  // The effective text reloads to the same choice.
  for (const char* v : {"3,17,40", "5,", "all", "7"}) {
    const ds::Config a = ds::load_config({"--analysis.features", v});
    const ds::Config b = ds::parse_config_text(a.text, "effective");
    EXPECT_EQ(b.analysis.feature_list, a.analysis.feature_list) << v;
    EXPECT_EQ(b.analysis.features, a.analysis.features) << v;
  }
}

TEST(Config, RepeatedKeyAndBadSyntax) {
  std::string path = write_file("r.cfg", "[train]\nepochs = 4\nepochs = 5\n");
  std::string msg = error_of([&] { ds::load_config({"--config", path}); });
  EXPECT_CONTAINS(msg, path + ":3");
  EXPECT_CONTAINS(msg, "line 2");
  path = write_file("s.cfg", "[train]\nepochs 4\n");
  msg = error_of([&] { ds::load_config({"--config", path}); });
  EXPECT_CONTAINS(msg, path + ":2");
}

TEST(Config, MissingFile) {
  std::string msg = error_of([&] { ds::load_config({"--config", "/nonexistent/x.cfg"}); });
  EXPECT_CONTAINS(msg, "/nonexistent/x.cfg");
}

TEST(Config, DatasetPathRequiredExceptFashion) {
  std::string msg = error_of([&] { ds::load_config({"--data.dataset", "cifar10"}); });
  EXPECT_CONTAINS(msg, "data.path");
  ds::Config c = ds::load_config({"--data.dataset", "cifar10", "--data.path", "/d/cifar"});
  EXPECT_EQ(c.data.path, "/d/cifar");
}

TEST(Config, BadLayerLinesNameTheLine) {
  struct Case {
    std::string line, expect;
  };
  const std::vector<Case> cases = {
      {"conv1 convolution out=8 kernel=3", "convolution"},  // unknown type
      {"conv1 conv out=8 kernel=3 size=3", "size"},         // unknown field for conv
      {"conv1 conv kernel=3", "out"},                       // missing out
      {"conv1 conv out=eight kernel=3", "eight"},           // not a number
      {"conv1 conv out=8 kernel=0", "kernel"},              // out of range
      {"conv1 conv out=8 kernel=3 stride=0", "stride"},
      {"conv1 conv out=8 kernel=3 pad=-1", "pad"},
      {"conv1 conv out=0 kernel=3", "out"},
      {"conv1 conv out=8 kernel=3x", "kernel"},
      {"conv1 conv out=8 kernel=3 kernel=5", "twice"},
      {"conv1 conv out=8 kernel = 3", "key=value"},
      {"drop1 dropout rate=1", "rate"},
      {"norm1 lrn size=0", "size"},
      {"pool1 maxpool kernel=2 pad=2", "pad"},
      {"pool1 maxpool stride=2", "kernel"},
      {"fc1 fc", "out"},
      {"bad.name relu", "bad.name"},
      {"relu1", "type"},
  };
  for (const auto& c : cases) {
    std::string path = write_file("l.cfg", "[run]\nname = x\n\n[model]\nlayer = a relu\nlayer = " + c.line +
                                               "\nlayer = z fc out=10\n");
    std::string msg = error_of([&] { ds::load_config({"--config", path}); });
    EXPECT_CONTAINS(msg, path + ":6") << " for line " << c.line;
    EXPECT_CONTAINS(msg, c.expect) << " for line " << c.line;
  }
}

TEST(Config, LayerRules) {
  std::string path = write_file("d.cfg", "[model]\nlayer = a conv out=2 kernel=1\nlayer = b relu\nlayer = a fc out=2\n");
  std::string msg = error_of([&] { ds::load_config({"--config", path}); });
  EXPECT_CONTAINS(msg, path + ":4");
  EXPECT_CONTAINS(msg, "used twice");

  path = write_file("e.cfg", "[model]\nlayer = a fc out=2\nlayer = b relu\n");
  msg = error_of([&] { ds::load_config({"--config", path}); });
  EXPECT_CONTAINS(msg, path + ":3");
  EXPECT_CONTAINS(msg, "last layer to be fc");

  path = write_file("f.cfg", "[run]\nname = x\n[model]\n");
  msg = error_of([&] { ds::load_config({"--config", path}); });
  EXPECT_CONTAINS(msg, "at least one");

  path = write_file("g.cfg", std::string(kSmallModel) + "[analysis]\nlayers = conv1,fc2\n");
  msg = error_of([&] { ds::load_config({"--config", path}); });
  EXPECT_CONTAINS(msg, "analysis.layers");
  EXPECT_CONTAINS(msg, "fc2");

  // oneDNN's LRN does not follow the documented formula for even sizes.
  path = write_file("h.cfg", "[model]\nlayer = n lrn size=4\nlayer = f fc out=2\n");
  msg = error_of([&] { ds::load_config({"--config", path}); });
  EXPECT_CONTAINS(msg, path + ":2");
  EXPECT_CONTAINS(msg, "odd window size");
}

TEST(Config, SnapshotEpochsValidation) {
  // Epochs past the end of a shortened run are dropped; the final epoch is always kept.
  EXPECT_EQ(ds::load_config({"--train.epochs", "5", "--snapshot.epochs", "0,1,6"}).snapshot.epochs,
            (std::vector<int>{0, 1, 5}));
  EXPECT_EQ(ds::load_config({"--train.epochs", "7", "--snapshot.epochs", "0,1"}).snapshot.epochs,
            (std::vector<int>{0, 1, 7}));
  std::string msg = error_of([&] { ds::load_config({"--train.epochs", "5", "--snapshot.epochs", "0,2,1"}); });
  EXPECT_CONTAINS(msg, "snapshot.epochs");
  EXPECT_CONTAINS(msg, "2 then 1");
  msg = error_of([&] { ds::load_config({"--train.epochs", "5", "--snapshot.epochs", "0,1,1"}); });
  EXPECT_CONTAINS(msg, "snapshot.epochs");
  msg = error_of([&] { ds::load_config({"--snapshot.epochs", "0,x"}); });
  EXPECT_CONTAINS(msg, "snapshot.epochs");
  msg = error_of([&] { ds::load_config({"--snapshot.epochs", "0,-1"}); });
  EXPECT_CONTAINS(msg, "snapshot.epochs");
  msg = error_of([&] { ds::load_config({"--snapshot.epochs", ""}); });
  EXPECT_CONTAINS(msg, "snapshot.epochs");
  // A bad list in the file names the file and line.
  std::string path = write_file("s.cfg", "[train]\nepochs = 10\n[snapshot]\nepochs = 0,5,3\n");
  msg = error_of([&] { ds::load_config({"--config", path}); });
  EXPECT_CONTAINS(msg, path + ":4");
  EXPECT_CONTAINS(msg, "snapshot.epochs");
  // A 64-epoch config cut to 10 epochs keeps its early snapshots and ends on 10.
  std::string fashion = std::string(DS_SOURCE_DIR) + "/configs/zfnet-fashion.cfg";
  EXPECT_EQ(ds::load_config({"--config", fashion, "--train.epochs", "10"}).snapshot.epochs,
            (std::vector<int>{0, 1, 2, 5, 10}));
  // top-k epochs must have a snapshot; unlike snapshot epochs, those past the run are
  // refused, not dropped: they were asked for.
  path = write_file("t.cfg", "[train]\nepochs = 10\n[snapshot]\nepochs = 0,5,10\n");
  msg = error_of([&] { ds::load_config({"--config", path, "--analysis.topk_epochs", "3"}); });
  EXPECT_CONTAINS(msg, "analysis.topk_epochs");
  msg = error_of([&] { ds::load_config({"--config", path, "--analysis.topk_epochs", "5,10", "--train.epochs", "6"}); });
  EXPECT_CONTAINS(msg, "command line: --analysis.topk_epochs");
  EXPECT_CONTAINS(msg, "snapshot.epochs = 0,5,6 with train.epochs = 6");
  EXPECT_CONTAINS(msg, "found 10");
  EXPECT_EQ(ds::load_config({"--config", path, "--analysis.topk_epochs", "5,6", "--train.epochs", "6"})
                .analysis.topk_epochs,
            (std::vector<int>{5, 6}));
  ds::Config c = ds::load_config({"--train.epochs", "5", "--snapshot.epochs", " 0, 1 ,5"});
  EXPECT_EQ(c.snapshot.epochs, (std::vector<int>{0, 1, 5}));
}

TEST(Config, TextRoundTrip) {
  std::string path = write_file("t.cfg",
                                "[run]\nname = rt\nseed = 12345678901234\n"
                                "[data]\ndataset = folder\npath = /data/imgs\nresize = 32\ncrop_pad = 2\n"
                                "[train]\nepochs = 7\nlr = 0.0123\nweight_decay = 3e-5\nrenorm_radius = 0\n"
                                "[snapshot]\nepochs = 0,3,7\n"
                                "[analysis]\nlayers = c1,c2\nfeatures = all\ntopk_epochs = 7\n"
                                "[model]\nlayer = c1 conv out=4 kernel=5x3 stride=2x1 pad=1x0\n"
                                "layer = p1 maxpool kernel=2\nlayer = n1 lrn size=3 alpha=2e-5 beta=0.7 k=1.5\n"
                                "layer = c2 conv out=4 kernel=1\nlayer = f fc out=3\nlayer = d dropout rate=0.25\n"
                                "layer = g fc out=2\n");
  ds::Config a = ds::load_config({"--config", path, "--train.momentum", "0.95"});
  ds::Config b = ds::parse_config_text(a.text, "snapshot config");
  EXPECT_EQ(b.text, a.text);
  EXPECT_EQ(b.source, "snapshot config");
  EXPECT_EQ(b.run.name, a.run.name);
  EXPECT_EQ(b.run.dir, a.run.dir);
  EXPECT_EQ(b.run.seed, 12345678901234u);
  EXPECT_EQ(b.data.dataset, a.data.dataset);
  EXPECT_EQ(b.data.path, a.data.path);
  EXPECT_EQ(b.data.resize, 32);
  EXPECT_EQ(b.train.lr, a.train.lr);  // exact: floats are written to read back bit for bit
  EXPECT_EQ(b.train.momentum, 0.95f);
  EXPECT_EQ(b.train.weight_decay, a.train.weight_decay);
  EXPECT_EQ(b.train.renorm_radius, 0.f);
  EXPECT_EQ(b.snapshot.epochs, a.snapshot.epochs);
  EXPECT_EQ(b.analysis.layers, a.analysis.layers);
  EXPECT_EQ(b.analysis.features, -1);
  EXPECT_EQ(b.analysis.topk_epochs, a.analysis.topk_epochs);
  ASSERT_EQ(b.layers.size(), a.layers.size());
  for (size_t i = 0; i < a.layers.size(); ++i) EXPECT_EQ(ds::format_layer_line(b.layers[i]), ds::format_layer_line(a.layers[i]));
  EXPECT_EQ(b.layers[0].kernel, (std::array<int, 2>{5, 3}));
  EXPECT_EQ(b.layers[1].stride, (std::array<int, 2>{2, 2}));  // maxpool stride defaults to kernel
  EXPECT_EQ(b.layers[2].alpha, 2e-5f);
  EXPECT_EQ(b.layers[5].rate, 0.25f);

  // And the defaults round-trip too.
  ds::Config d = ds::load_config({});
  EXPECT_EQ(ds::parse_config_text(d.text, "x").text, d.text);
}

// model.conv_algorithm and train.precision: defaults, file and command line, the one
// [model] section of the effective text, and bad values.
TEST(Config, ConvAlgorithmAndPrecision) {
  ds::Config d = ds::load_config({});
  // auto by default: Winograd where it times faster (AVX-512), direct where it has no kernel.
  EXPECT_EQ(d.conv_algorithm, ds::ConvAlgorithm::automatic);
  EXPECT_EQ(d.train.precision, ds::Precision::f32);
  std::string path = write_file("ap.cfg", "[model]\nconv_algorithm = winograd\nlayer = c1 conv out=4 kernel=3\n"
                                          "layer = f fc out=2\n[train]\nprecision = bf16\n");
  ds::Config c = ds::load_config({"--config", path});
  EXPECT_EQ(c.conv_algorithm, ds::ConvAlgorithm::winograd);
  EXPECT_EQ(c.train.precision, ds::Precision::bf16);
  EXPECT_EQ(ds::load_config({"--config", path, "--model.conv_algorithm", "direct"}).conv_algorithm,
            ds::ConvAlgorithm::direct);
  EXPECT_EQ(ds::load_config({"--config", path, "--model.conv_algorithm", "auto"}).conv_algorithm,
            ds::ConvAlgorithm::automatic);
  // One [model] section holding the layers and the algorithm; the text reads back the same.
  size_t n = 0;
  for (size_t at = c.text.find("[model]"); at != std::string::npos; at = c.text.find("[model]", at + 1)) ++n;
  EXPECT_EQ(n, 1u) << c.text;
  EXPECT_CONTAINS(c.text, "conv_algorithm = winograd");
  EXPECT_CONTAINS(c.text, "precision = bf16");
  ds::Config b = ds::parse_config_text(c.text, "snapshot config");
  EXPECT_EQ(b.text, c.text);
  EXPECT_EQ(b.conv_algorithm, ds::ConvAlgorithm::winograd);
  EXPECT_EQ(b.train.precision, ds::Precision::bf16);

  std::string msg = error_of([&] { ds::load_config({"--model.conv_algorithm", "fft"}); });
  EXPECT_CONTAINS(msg, "model.conv_algorithm");
  EXPECT_CONTAINS(msg, "fft");
  msg = error_of([&] { ds::load_config({"--train.precision", "fp16"}); });
  EXPECT_CONTAINS(msg, "train.precision");
  EXPECT_CONTAINS(msg, "bf16");
}

TEST(Config, LayerLineDefaultsAndFormat) {
  ds::LayerSpec n = ds::parse_layer_line("norm1 lrn", "t");
  EXPECT_EQ(n.size, 5);
  EXPECT_FLOAT_EQ(n.alpha, 1e-4f);
  EXPECT_FLOAT_EQ(n.beta, 0.75f);
  EXPECT_FLOAT_EQ(n.k, 2.f);
  EXPECT_FLOAT_EQ(ds::parse_layer_line("d dropout", "t").rate, 0.5f);
  ds::LayerSpec c = ds::parse_layer_line("  c  conv   out=3 kernel=5 ", "t");
  EXPECT_EQ(c.stride, (std::array<int, 2>{1, 1}));
  EXPECT_EQ(c.pad, (std::array<int, 2>{0, 0}));
  EXPECT_EQ(ds::format_layer_line(c), "c conv out=3 kernel=5 stride=1 pad=0");
  for (const auto& line : bench_lines())
    EXPECT_EQ(ds::format_layer_line(ds::parse_layer_line(line, "t")), line);
  EXPECT_EQ(ds::parse_layer_type("maxpool", "t"), ds::LayerType::maxpool);
  EXPECT_STREQ(ds::layer_type_name(ds::LayerType::dropout), "dropout");
  error_of([] { ds::parse_layer_type("pool", "t"); });
}

TEST(InferShapes, BenchNetwork) {
  auto layers = parse_lines(bench_lines());
  auto shapes = ds::infer_shapes(layers, ds::InputShape{1, 28, 28});
  ASSERT_EQ(shapes.size(), layers.size());
  auto at = [&](const std::string& name) {
    for (size_t i = 0; i < layers.size(); ++i)
      if (layers[i].name == name) return shapes[i];
    ADD_FAILURE() << name;
    return ds::LayerShape{};
  };
  auto expect = [&](const std::string& name, int c, int h, int w) {
    ds::LayerShape s = at(name);
    EXPECT_EQ(s.channels, c) << name;
    EXPECT_EQ(s.height, h) << name;
    EXPECT_EQ(s.width, w) << name;
  };
  expect("conv1", 32, 28, 28);
  expect("pool1", 32, 14, 14);
  expect("norm1", 32, 14, 14);
  expect("pool2", 64, 7, 7);
  expect("conv5", 64, 7, 7);
  expect("pool5", 64, 3, 3);
  expect("fc6", 256, 1, 1);
  expect("drop7", 256, 1, 1);
  expect("fc8", 10, 1, 1);
}

TEST(InferShapes, Errors) {
  // 2x2 pooling takes 28 -> 14 -> 7 -> 3 -> 1; then a 3x3 conv has no room.
  auto layers = parse_lines({"p1 maxpool kernel=2", "p2 maxpool kernel=2", "p3 maxpool kernel=2",
                             "p4 maxpool kernel=2", "conv3 conv out=4 kernel=3", "f fc out=2"});
  std::string msg = error_of([&] { ds::infer_shapes(layers, ds::InputShape{1, 28, 28}); }, ds::ErrorKind::shape);
  EXPECT_CONTAINS(msg, "layer conv3");
  EXPECT_CONTAINS(msg, "no output");
  EXPECT_CONTAINS(msg, "input 1x1");

  layers = parse_lines({"c1 conv out=4 kernel=3", "f1 fc out=8", "c2 conv out=4 kernel=1", "f2 fc out=2"});
  msg = error_of([&] { ds::infer_shapes(layers, ds::InputShape{1, 8, 8}); }, ds::ErrorKind::shape);
  EXPECT_CONTAINS(msg, "layer c2");
  EXPECT_CONTAINS(msg, "f1");

  layers = parse_lines({"f1 fc out=8", "n lrn", "f2 fc out=2"});
  msg = error_of([&] { ds::infer_shapes(layers, ds::InputShape{1, 8, 8}); }, ds::ErrorKind::shape);
  EXPECT_CONTAINS(msg, "layer n");

  // A spec built in code with a zero stride is refused, not divided by.
  ds::LayerSpec bad = parse_lines({"c conv out=2 kernel=3"})[0];
  bad.stride = {0, 1};
  error_of([&] { ds::infer_shapes({bad}, ds::InputShape{1, 8, 8}); }, ds::ErrorKind::shape);
  error_of([&] { ds::infer_shapes({}, ds::InputShape{0, 8, 8}); }, ds::ErrorKind::shape);
}

TEST(ShippedConfigs, LoadWithoutError) {
  for (const char* name : {"zfnet-mini-bench.cfg", "quickstart.cfg", "zfnet-fashion.cfg", "alexnet-fashion.cfg",
                           "zfnet-fashion-norenorm.cfg"}) {
    std::string path = std::string(DS_SOURCE_DIR) + "/configs/" + name;
    SCOPED_TRACE(path);
    ds::Config c;
    ASSERT_NO_THROW(c = ds::load_config({"--config", path}));
    EXPECT_EQ(ds::format_layer_line(c.layers.back()), "fc8 fc out=10");
    const int side = c.data.resize > 0 ? c.data.resize : 28;
    auto shapes = ds::infer_shapes(c.layers, ds::InputShape{1, side, side});
    EXPECT_EQ(shapes.back().channels, 10);
  }
  // The benchmark and the quickstart use the benchmark network exactly.
  for (const char* name : {"zfnet-mini-bench.cfg", "quickstart.cfg"}) {
    std::string path = std::string(DS_SOURCE_DIR) + "/configs/" + name;
    SCOPED_TRACE(path);
    const ds::Config c = ds::load_config({"--config", path});
    auto expected = bench_lines();
    ASSERT_EQ(c.layers.size(), expected.size());
    for (size_t i = 0; i < expected.size(); ++i) EXPECT_EQ(ds::format_layer_line(c.layers[i]), expected[i]);
  }
  ds::Config q = ds::load_config({"--config", std::string(DS_SOURCE_DIR) + "/configs/quickstart.cfg"});
  EXPECT_EQ(q.run.name, "quickstart");
  EXPECT_EQ(q.snapshot.epochs, (std::vector<int>{0, 1, 2, 4, 6}));
  ds::Config z = ds::load_config({"--config", std::string(DS_SOURCE_DIR) + "/configs/zfnet-fashion.cfg"});
  EXPECT_EQ(z.train.epochs, 64);
  EXPECT_EQ(z.snapshot.epochs, (std::vector<int>{0, 1, 2, 5, 10, 20, 30, 40, 64}));
  EXPECT_TRUE(z.data.flip);
}

TEST(ConfigHelp, ListsEveryKey) {
  std::string help = ds::config_help();
  ds::Config c = ds::load_config({});
  // Every key in the effective text appears in the help with its section prefix.
  std::string section;
  std::istringstream in(c.text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    if (line[0] == '[') {
      section = line.substr(1, line.size() - 2);
      continue;
    }
    std::string key = section + "." + line.substr(0, line.find(' '));
    EXPECT_CONTAINS(help, key);
  }
  EXPECT_CONTAINS(help, "layer = NAME TYPE");
}

// ---- sections a higher stage registers (config_section.hpp) ----

namespace {

// A section owned by "a higher stage": here, this test.
struct ExampleConfig {
  int count = 3;
  std::string label = "plain";
};

void register_example_section() {
  static const bool once = [] {
    using namespace ds::config_value;
    ds::register_config_section<ExampleConfig>(
        "example",
        {{"example.count", ds::KeyEffect::weights, nullptr, "how many",
          [](const ExampleConfig& c) { return std::to_string(c.count); },
          [](ExampleConfig& c, const std::string& v, const std::string& w) { c.count = to_int(v, w, 1, 10); }},
         {"example.label", ds::KeyEffect::results, "(plain)", "what it is called",
          [](const ExampleConfig& c) { return c.label; },
          [](ExampleConfig& c, const std::string& v, const std::string& w) { c.label = to_text(v, w); }}});
    return true;
  }();
  (void)once;
}

const ExampleConfig& example_config(const ds::Config& cfg) { return ds::config_section<ExampleConfig>(cfg, "example"); }

}  // namespace

// This process registers no analysis: their keys are unknown here, and a config naming
// one is refused naming the key (the command line registers them first, tests/cli).
TEST(RegisteredSection, UnregisteredKeysAreUnknown) {
  for (const std::string& k : ds::config_keys())
    for (const char* owned : {"invariance.", "occlusion.", "linear_probe.", "similarity."})
      EXPECT_NE(k.rfind(owned, 0), 0u) << k;
  std::string msg = error_of([] { ds::load_config({"--similarity.grid", "2"}); });
  EXPECT_CONTAINS(msg, "command line: --similarity.grid");
  EXPECT_CONTAINS(msg, "unknown key similarity.grid");
  const std::string path = write_file("a.cfg", "[train]\nepochs = 2\n[occlusion]\nsize = 4\n");
  msg = error_of([&] { ds::load_config({"--config", path}); });
  EXPECT_CONTAINS(msg, path + ":4");
  EXPECT_CONTAINS(msg, "unknown key occlusion.size");
  EXPECT_EQ(ds::load_config({}).text.find("[similarity]"), std::string::npos);
}

// A registered section's keys join every reader of the table as built-in keys do, placed
// before [health]; its values reach its owner's struct, and a bad value is refused with
// the built-in keys' words.
TEST(RegisteredSection, KeysJoinEveryReaderOfTheTable) {
  register_example_section();
  register_example_section();  // its owner registers once
  const ds::Config d = ds::load_config({});
  EXPECT_EQ(example_config(d).count, 3) << "the defaults without a value";
  EXPECT_CONTAINS(d.text, "batch = 128\n\n[example]\ncount = 3\nlabel = plain\n\n[health]\n");
  EXPECT_CONTAINS(ds::config_help(), "  example.label = (plain)\n      what it is called\n");
  const std::vector<std::string> keys = ds::config_keys();
  const auto at = std::find(keys.begin(), keys.end(), "example.count");
  ASSERT_NE(at, keys.end());
  EXPECT_EQ(at[1], "example.label");
  EXPECT_EQ(at[2], "health.probe");

  const ds::Config c = ds::load_config({"--example.count", "7"});
  EXPECT_EQ(example_config(c).count, 7);
  EXPECT_EQ(example_config(ds::parse_config_text(c.text, "config.cfg")).count, 7);
  const auto diff = ds::config_differences(d, c);
  ASSERT_EQ(diff.size(), 1u);
  EXPECT_EQ(diff[0].key, "example.count");
  EXPECT_EQ(diff[0].b, "7");
  EXPECT_EQ(int(ds::key_effect("example.count")), int(ds::KeyEffect::weights));
  EXPECT_FALSE(ds::resume_may_change("example.count"));
  EXPECT_TRUE(ds::resume_may_change("example.label"));
  const auto& resume = ds::resume_changeable_keys();
  EXPECT_EQ(std::count(resume.begin(), resume.end(), "example.label"), 1);
  EXPECT_EQ(ds::config_entries("[example]\nlabel = x\n", "e.cfg").at("example.label"), "x");

  std::string msg = error_of([] { ds::load_config({"--example.count", "11"}); });
  EXPECT_CONTAINS(msg, "command line: --example.count");
  EXPECT_CONTAINS(msg, "expected an integer in [1, 10], found 11");
  const std::string path = write_file("e.cfg", "[example]\nlabel = a # b\ncount = x\n");
  msg = error_of([&] { ds::load_config({"--config", path}); });
  EXPECT_CONTAINS(msg, path + ":3: key example.count");
  EXPECT_CONTAINS(msg, "expected an integer in [1, 10], found 'x'");
  msg = error_of([] { ds::load_config({"--example.cont", "2"}); });
  EXPECT_CONTAINS(msg, "did you mean example.count?");

  // A section is registered once, under a name of its own, with keys inside it.
  auto refused = [](ds::RegisteredSection s) { error_of([&] { ds::register_config_section(s); }, ds::ErrorKind::internal); };
  const ds::KeySpec key{"example.count", ds::KeyEffect::results, nullptr, "x", nullptr, nullptr};
  refused({"example", ExampleConfig{}, {key}});
  refused({"train", ExampleConfig{}, {key}});
  refused({"other", ExampleConfig{}, {key}});
  refused({"other", ExampleConfig{}, {}});
}
