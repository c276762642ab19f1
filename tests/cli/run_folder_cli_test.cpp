// End-to-end tests of the real binary for issue 10, items 4 to 6: a second writer on a
// run folder is refused naming the first (pid, command), a SIGKILLed writer's lock never
// blocks, temporary files of dead writers in analysis/ and report/ are removed, config
// files that are devices, FIFOs or huge are refused quickly, long names exit 2, every
// bench option is checked, and untrusted bytes in messages come out escaped.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include "cli/cli_util.hpp"
#include "io/io_test_util.hpp"

namespace ds {
namespace {

using namespace clitest;

void expect_contains(const std::string& text, const std::vector<std::string>& parts) {
  for (const std::string& p : parts) EXPECT_NE(text.find(p), std::string::npos) << "'" << p << "' missing from:\n" << text;
}

// Runs the binary but gives up (SIGKILL, and a failure) after timeout_s: for inputs that
// used to hang.
Result run_within(const std::vector<std::string>& args, const std::string& log, double timeout_s) {
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

TEST(RunLock, SecondWriterIsRefusedNamingTheFirstAndAKilledWriterNeverBlocks) {
  TempDir tmp("lock");
  write_mnist(tmp / "data");
  const std::string run_dir = tmp / "run", cfg = tmp / "tiny.cfg";
  write_file(cfg, tiny_config(tmp / "data", run_dir, 2));
  // The first writer pauses inside its first snapshot write, holding the lock.
  Child first = spawn({"train", "--config", cfg}, tmp / "first", {"DECONVSCOPE_TEST_PAUSE_IN_WRITE=600000"});
  ASSERT_TRUE(wait_until(first, [&] { return read_file(first.err_path).find("test hook: pausing") != std::string::npos; },
                         120))
      << read_file(first.err_path);
  const std::string holder = "pid " + std::to_string(first.pid) + " (";
  const std::vector<std::vector<std::string>> writers = {
      {"train", "--config", cfg, "--resume"},
      {"train", "--config", cfg, "--force"},
      {"analyze", "--run", run_dir},
      {"health", "--run", run_dir},
      {"compare", run_dir, run_dir, "--out", run_dir},
  };
  for (const auto& args : writers) {
    SCOPED_TRACE(args[0]);
    const Result r = run_within(args, tmp / "second", 60);
    EXPECT_EQ(r.code, 2) << r.err;
    expect_contains(r.err, {run_dir + ": in use by another deconvscope process: " + holder, "train --config " + cfg});
  }
  // The refused --force removed nothing.
  EXPECT_TRUE(fs::exists(run_dir + "/config.cfg"));

  ::kill(first.pid, SIGKILL);
  wait_child(first);
  ASSERT_TRUE(fs::exists(run_dir + "/.lock"));  // left behind by the kill, but not locked
  EXPECT_FALSE(temp_files(run_dir).empty());    // the interrupted snapshot write
  const Result resumed = run_within({"train", "--config", cfg, "--resume"}, tmp / "resumed", 300);
  EXPECT_EQ(resumed.code, 0) << resumed.err;
  EXPECT_TRUE(temp_files(run_dir).empty());
  EXPECT_FALSE(fs::exists(run_dir + "/.lock"));  // released at exit
}

TEST(RunLock, LeftoversOfDeadWritersInAnalysisAndReportAreRemoved) {
  TempDir tmp("leftovers");
  write_mnist(tmp / "data");
  const std::string run_dir = tmp / "run", cfg = tmp / "tiny.cfg";
  write_file(cfg, tiny_config(tmp / "data", run_dir, 1));
  ASSERT_EQ(run({"train", "--config", cfg}, tmp / "train").code, 0);
  const std::string dead = std::to_string(test::dead_pid());
  // What kill -9 during analyze left (names from issue 10).
  const std::vector<std::string> stale = {"analysis/.analysis.h5.tmp-" + dead, "analysis/.evolution.csv.tmp-" + dead,
                                          "report/.training_curves.png.tmp-" + dead + ".png",
                                          "report/.index.html.tmp-" + dead};
  for (const std::string& f : stale) write_file(run_dir + "/" + f, "half a file");
  write_file(run_dir + "/analyze.incomplete", "an analyze killed earlier\n");
  const Result r = run({"analyze", "--run", run_dir}, tmp / "analyze");
  ASSERT_EQ(r.code, 0) << r.err;
  expect_contains(r.err, {"warning: " + run_dir + ": an earlier `analyze` stopped before writing all of its files"});
  EXPECT_TRUE(temp_files(run_dir).empty());
  EXPECT_FALSE(fs::exists(run_dir + "/analyze.incomplete"));  // the set is whole again
  EXPECT_FALSE(fs::exists(run_dir + "/.lock"));
  EXPECT_TRUE(fs::exists(run_dir + "/report/index.html"));
}

// An analysis folder that cannot be made is the disk's refusal, exit 1 naming the folder,
// not an internal error (exit 70): the one error path of io/run_folder.hpp create_folder.
// (A file in the way, since permissions do not stop root.)
TEST(WriteSet, AnAnalysisFolderThatCannotBeMadeIsAnIoErrorNamingIt) {
  TempDir tmp("nofolder");
  write_mnist(tmp / "data");
  const std::string run_dir = tmp / "run", cfg = tmp / "tiny.cfg";
  write_file(cfg, tiny_config(tmp / "data", run_dir, 1));
  ASSERT_EQ(run({"train", "--config", cfg}, tmp / "train").code, 0);
  write_file(run_dir + "/analysis", "a file where the folder goes");
  const Result r = run({"analyze", "--run", run_dir}, tmp / "analyze");
  EXPECT_EQ(r.code, 1) << r.err;
  expect_contains(r.err, {run_dir + "/analysis: cannot create the folder: ", "no file of that name is in the way"});
  EXPECT_EQ(r.err.find("internal error"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(run_dir + "/analyze.incomplete"));  // nothing of the set was rewritten
}

TEST(WriteSet, AnAnalyzeThatFailsMidwaySaysWhichFilesAreMixed) {
  TempDir tmp("writeset");
  write_mnist(tmp / "data");
  const std::string run_dir = tmp / "run", cfg = tmp / "tiny.cfg";
  write_file(cfg, tiny_config(tmp / "data", run_dir, 1));
  ASSERT_EQ(run({"train", "--config", cfg}, tmp / "train").code, 0);
  ASSERT_EQ(run({"analyze", "--run", run_dir}, tmp / "analyze").code, 0);
  // The last file of the set cannot land (a folder is in its way; on a full disk it is
  // "No space left on device"): everything before it was rewritten.
  fs::remove(run_dir + "/report/index.html");
  fs::create_directories(run_dir + "/report/index.html/in-the-way");
  Result r = run({"analyze", "--run", run_dir, "--force"}, tmp / "failed");
  EXPECT_EQ(r.code, 1) << r.err;
  expect_contains(r.err, {run_dir + "/report/index.html: ", "Is a directory", "the run's files are now a mixed set",
                          "rewritten: analysis/analysis.h5", "not rewritten (older, now out of step): report/index.html",
                          run_dir + "/analyze.incomplete"});
  EXPECT_EQ(r.err.find(".tmp-"), std::string::npos) << r.err;
  expect_contains(read_file(run_dir + "/analyze.incomplete"), {"stopped before writing all of its files", "Is a directory"});
  // Room again: the next analyze warns, makes the set whole and removes the marker.
  fs::remove_all(run_dir + "/report/index.html");
  r = run({"analyze", "--run", run_dir}, tmp / "again");
  EXPECT_EQ(r.code, 0) << r.err;
  expect_contains(r.err, {"an earlier `analyze` stopped before writing all of its files"});
  EXPECT_FALSE(fs::exists(run_dir + "/analyze.incomplete"));
  EXPECT_TRUE(fs::is_regular_file(run_dir + "/report/index.html"));
}

TEST(ConfigEdges, DevicesFifosAndHugeFilesAreRefusedQuickly) {
  TempDir tmp("cfgedge");
  const std::string fifo = tmp / "pipe.cfg";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0644), 0);
  const std::string big = tmp / "big.cfg";
  write_file(big, "[train]\n" + std::string(3 << 20, '#') + "\n");
  struct Case {
    std::string path, found;
  };
  for (const Case& c : {Case{"/dev/zero", "found a character device"}, Case{fifo, "found a FIFO"},
                        Case{big, "expected a config file of at most 1 MiB, found a file of 3.0 MiB"}}) {
    SCOPED_TRACE(c.path);
    const Result r = run_within({"train", "--config", c.path}, tmp / "log", 20);
    EXPECT_EQ(r.code, 2) << r.err;
    expect_contains(r.err, {"deconvscope: error: " + c.path + ": ", c.found});
    EXPECT_EQ(r.err.find("internal error"), std::string::npos) << r.err;
  }
}

TEST(ConfigEdges, LongNamesExit2NamingTheKey) {
  TempDir tmp("names");
  write_mnist(tmp / "data");
  const std::string cfg = tmp / "tiny.cfg";
  write_file(cfg, tiny_config(tmp / "data", tmp / "run", 1));
  Result r = run({"train", "--config", cfg, "--run.name", std::string(300, 'n')}, tmp / "log");
  EXPECT_EQ(r.code, 2) << r.err;
  expect_contains(r.err, {"run.name", "at most 64 characters", "(300 characters)"});

  // A 200 KB layer name: refused before any training, with a short message.
  const std::string long_cfg = tmp / "long.cfg";
  std::string text = tiny_config(tmp / "data", tmp / "run2", 1);
  text.replace(text.find("conv1 conv"), 5, std::string(200000, 'c'));
  write_file(long_cfg, text);
  r = run({"train", "--config", long_cfg}, tmp / "log");
  EXPECT_EQ(r.code, 2) << r.err;
  expect_contains(r.err, {long_cfg + ":", "a layer name of at most 64 characters", "(200000 characters)"});
  EXPECT_LT(r.err.size(), 1000u);
  EXPECT_FALSE(fs::exists(tmp / "run2"));
}

TEST(BenchOptions, EveryOptionIsChecked) {
  TempDir tmp("bench");
  const std::string cfg = tmp / "tiny.cfg";
  write_file(cfg, tiny_config(tmp / "data", tmp / "run", 1));
  struct Case {
    std::vector<std::string> args;
    std::string expect;
  };
  const std::vector<Case> cases = {
      {{"--iters", "-5"}, "--iters: expected an integer from 1 to 100000, found -5"},
      {{"--iters", "0"}, "--iters: expected an integer from 1 to 100000, found 0"},
      {{"--warmup", "-1"}, "--warmup: expected an integer from 0 to 100000, found -1"},
      {{"--iters", "5x"}, "--iters: expected an integer, found '5x'"},
      {{"--iters", "99999999999"}, "--iters: expected an integer"},
  };
  for (const Case& c : cases) {
    std::vector<std::string> args{"bench", "--config", cfg};
    args.insert(args.end(), c.args.begin(), c.args.end());
    const Result r = run(args, tmp / "log");
    EXPECT_EQ(r.code, 2) << r.err;
    expect_contains(r.err, {c.expect});
    EXPECT_EQ(r.out.find("images_per_s"), std::string::npos) << r.out;
  }
  const Result r = run({"bench", "--run", tmp / "run", "--iters", "3"}, tmp / "log");
  EXPECT_EQ(r.code, 2) << r.err;
  expect_contains(r.err, {"bench --run: --iters, --warmup and --profile time training"});
}

TEST(EscapedOutput, UntrustedBytesAreEscapedAndANulCutsNothing) {
  TempDir tmp("escape");
  const std::string cfg = tmp / "bytes.cfg";
  // An escape sequence (clear screen), a NUL and a byte that is not UTF-8 in a layer name.
  write_file(cfg, std::string("[model]\nlayer = a\x1b[2J") + '\0' + "b\xfe conv out=4 kernel=3\n");
  const Result r = run({"train", "--config", cfg}, tmp / "log");
  EXPECT_EQ(r.code, 2) << r.err;
  expect_contains(r.err, {cfg + ":2", "'a\\x1b[2J\\x00b\\xfe'", "(hint: "});
  for (char c : r.err)
    EXPECT_TRUE(c == '\n' || (static_cast<unsigned char>(c) >= 0x20 && c != 0x7f)) << "raw byte " << int(c);
}

}  // namespace
}  // namespace ds
