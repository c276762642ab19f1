// Config files and names a user (or an attacker) can get wrong in ways the parser never
// sees (issue 10, item 6): a device or a FIFO given as --config, a file far too large,
// and names too long to copy into folders, HDF5 groups and reports.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>

#include "deconvscope/config/config.hpp"
#include "deconvscope/core/error.hpp"

namespace fs = std::filesystem;

namespace {

fs::path temp_dir() {
  const auto* info = testing::UnitTest::GetInstance()->current_test_info();
  fs::path dir = fs::path(testing::TempDir()) / "deconvscope_config_edges" /
                 (std::string(info->test_suite_name()) + "." + info->name());
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

// load_config's error for these arguments, which must come quickly (no read of /dev/zero
// to the end, no wait on a FIFO).
std::string refusal(const std::vector<std::string>& args) {
  const auto t0 = std::chrono::steady_clock::now();
  std::string msg;
  try {
    ds::load_config(args);
    ADD_FAILURE() << "accepted";
  } catch (const ds::Error& e) {
    EXPECT_EQ(e.exit_code(), 2) << e.what();
    msg = e.what();
  }
  EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(), 5.0);
  EXPECT_LT(msg.size(), 1000u) << "one short line, whatever the input";
  return msg;
}

#define EXPECT_CONTAINS(text, part) EXPECT_NE(std::string(text).find(part), std::string::npos) << (text)

TEST(ConfigFile, DevicesAndFifosAreRefusedNamingTheFile) {
  std::string msg = refusal({"--config", "/dev/zero"});
  EXPECT_CONTAINS(msg, "/dev/zero: expected a config file (a regular file), found a character device");
  const std::string fifo = (temp_dir() / "pipe.cfg").string();
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0644), 0);
  msg = refusal({"--config", fifo});  // would block in open() or read() without a writer
  EXPECT_CONTAINS(msg, fifo + ": expected a config file (a regular file), found a FIFO");
  msg = refusal({"--config", temp_dir().string()});
  EXPECT_CONTAINS(msg, "found a folder");
}

TEST(ConfigFile, OversizedFileIsRefusedNamingTheFile) {
  const std::string big = (temp_dir() / "big.cfg").string();
  {
    std::ofstream f(big);
    f << "[train]\nepochs = 3\n" << std::string(2 << 20, '#') << "\n";
  }
  const std::string msg = refusal({"--config", big});
  EXPECT_CONTAINS(msg, big + ": expected a config file of at most 1 MiB, found a file of 2.0 MiB (" +
                           std::to_string(fs::file_size(big)) + " bytes)");
  // Just under the bound still reads.
  {
    std::ofstream f(big, std::ios::trunc);
    f << "[train]\nepochs = 3\n#" << std::string((1 << 20) - 40, 'x') << "\n";
  }
  EXPECT_EQ(ds::load_config({"--config", big}).train.epochs, 3);
}

TEST(ConfigNames, LongRunNameAndLayerNameAreRefusedNamingTheKey) {
  std::string msg = refusal({"--run.name", std::string(300, 'a')});
  EXPECT_CONTAINS(msg, "run.name");
  EXPECT_CONTAINS(msg, "at most 64 characters");
  EXPECT_CONTAINS(msg, "(300 characters)");
  EXPECT_EQ(ds::load_config({"--run.name", std::string(64, 'a')}).run.name, std::string(64, 'a'));

  const std::string name(100000, 'c');
  const std::string path = (temp_dir() / "long.cfg").string();
  std::ofstream(path) << "[model]\nlayer = " << name << " conv out=4 kernel=3\nlayer = fc fc out=10\n";
  msg = refusal({"--config", path});
  EXPECT_CONTAINS(msg, path + ":2");
  EXPECT_CONTAINS(msg, "a layer name of at most 64 characters");
  EXPECT_CONTAINS(msg, "(100000 characters)");
}

TEST(ConfigNames, UntrustedBytesAreEscapedAndNulDoesNotCutTheMessage) {
  const std::string path = (temp_dir() / "bytes.cfg").string();
  std::ofstream(path, std::ios::binary) << "[model]\nlayer = c\x1b[31m" << std::string(1, '\0')
                                        << "x\xff conv out=4\n";
  const std::string msg = refusal({"--config", path});
  EXPECT_CONTAINS(msg, "c\\x1b[31m\\x00x\\xff");
  EXPECT_CONTAINS(msg, "(hint: ");  // what follows the NUL is still there
  for (char c : msg) EXPECT_TRUE(static_cast<unsigned char>(c) >= 0x20 && c != 0x7f) << int(c);
}

// Limits the config already shows (issue 21, item 7): no run may train an epoch and then
// die for them.
TEST(ConfigLimits, ControlCharactersInPathsAreRefusedNamingTheKey) {
  std::string msg = refusal({"--run.dir", "runs/a\nb"});
  EXPECT_CONTAINS(msg, "run.dir");
  EXPECT_CONTAINS(msg, "text without control characters");
  msg = refusal({"--data.path", "/tmp/x\ty"});
  EXPECT_CONTAINS(msg, "data.path");
  EXPECT_EQ(ds::load_config({"--run.dir", "runs/a b"}).run.dir, "runs/a b");  // a space is fine
}

TEST(ConfigLimits, TooManyLayersAreRefusedBeforeTraining) {
  const auto write = [](const std::string& path, int convs) {
    std::ofstream f(path);
    f << "[model]\n";
    for (int i = 0; i < convs; ++i) f << "layer = r" << i << " relu\n";
    f << "layer = fc fc out=10\n";
  };
  const std::string many = (temp_dir() / "many.cfg").string();
  write(many, 9009);
  const std::string msg = refusal({"--config", many});
  EXPECT_CONTAINS(msg, many + ":1002");
  EXPECT_CONTAINS(msg, "expected at most 1000 layers, found 9010");
  write(many, 999);
  EXPECT_EQ(ds::load_config({"--config", many}).layers.size(), 1000u);
}

TEST(ConfigLimits, AUtf8ByteOrderMarkIsAccepted) {
  const std::string path = (temp_dir() / "bom.cfg").string();
  std::ofstream(path, std::ios::binary) << "\xEF\xBB\xBF[train]\nepochs = 4\n";
  EXPECT_EQ(ds::load_config({"--config", path}).train.epochs, 4);
}

}  // namespace
