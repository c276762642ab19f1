// Tests of what guards a run folder beyond single files (issue 10, items 4 and 5): the
// run lock (a second process is refused naming the holder; a SIGKILLed holder never
// blocks), the removal of temporary files left by dead writers, errors that name the
// final file and the OS error, and the write-set marker of a partial set.
#include <fcntl.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <functional>
#include <fstream>
#include <sstream>

#include <opencv2/core.hpp>

#include "deconvscope/core/error.hpp"
#include "deconvscope/io/atomic_file.hpp"
#include "deconvscope/io/run_lock.hpp"
#include "deconvscope/io/text_file.hpp"
#include "deconvscope/io/write_set.hpp"
#include "deconvscope/report/png.hpp"
#include "io/io_test_util.hpp"

namespace fs = std::filesystem;

namespace ds {
namespace {

class RunLockTest : public test::TempDirTest {};

std::string slurp(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::ostringstream s;
  s << f.rdbuf();
  return s.str();
}

// A child process that takes the lock of `dir`, says so through a pipe and waits to be killed.
pid_t spawn_holder(const std::string& dir) {
  int fds[2];
  if (::pipe(fds) != 0) throw std::runtime_error("pipe failed");
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::close(fds[0]);
    try {
      RunLock lock(dir);
      const char ok = 'y';
      if (::write(fds[1], &ok, 1) != 1) _exit(3);
      for (;;) ::pause();
    } catch (...) {
      _exit(2);
    }
  }
  ::close(fds[1]);
  char c = 0;
  const bool locked = ::read(fds[0], &c, 1) == 1 && c == 'y';
  ::close(fds[0]);
  if (!locked) throw std::runtime_error("the child did not take the lock");
  return pid;
}

TEST_F(RunLockTest, SecondProcessIsRefusedNamingTheHolderAndAKilledHolderNeverBlocks) {
  const std::string run = file("run");
  const pid_t holder = spawn_holder(run);
  // The holder wrote its pid and command line into the lock file.
  const std::string text = slurp(RunLock::path_of(run));
  EXPECT_NE(text.find("pid " + std::to_string(holder) + "\n"), std::string::npos) << text;
  EXPECT_NE(text.find("command "), std::string::npos) << text;
  try {
    RunLock second(run);
    ADD_FAILURE() << "a second writer got the lock";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::usage);
    EXPECT_EQ(e.exit_code(), 2);
    EXPECT_EQ(e.where(), run);
    EXPECT_NE(e.problem().find("in use by another deconvscope process: pid " + std::to_string(holder) + " ("),
              std::string::npos)
        << e.what();
  }
  // SIGKILL: no chance to clean up; the lock file stays but the kernel dropped the lock.
  ::kill(holder, SIGKILL);
  int status = 0;
  ::waitpid(holder, &status, 0);
  EXPECT_TRUE(fs::exists(RunLock::path_of(run)));
  {
    RunLock mine(run);
    EXPECT_NE(slurp(RunLock::path_of(run)).find("pid " + std::to_string(::getpid()) + "\n"), std::string::npos);
  }
  EXPECT_FALSE(fs::exists(RunLock::path_of(run)));  // a clean release removes the file
  EXPECT_TRUE(fs::is_directory(run));               // the folder was there before this lock
}

// A holder that exits while a process it forked keeps the lock's descriptor: the refusal
// names that process's pid, so the user knows whom to stop (issue 21).
TEST_F(RunLockTest, ALockKeptByAChildOfAnExitedHolderNamesTheChild) {
  const std::string run = file("run"), pid_file = file("child.pid");
  const pid_t holder = ::fork();
  ASSERT_GE(holder, 0);
  if (holder == 0) {
    new RunLock(run);  // never released: the process leaves with _exit
    const pid_t child = ::fork();
    if (child == 0) {
      ::sleep(30);
      ::_exit(0);
    }
    std::ofstream(pid_file) << child << "\n";
    ::_exit(0);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(holder, &status, 0), holder);
  pid_t child = 0;
  std::ifstream(pid_file) >> child;
  ASSERT_GT(child, 0);
  try {
    RunLock second(run);
    ADD_FAILURE() << "the lock was free";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("which has exited; a process it started still holds the lock: pid " +
                                         std::to_string(child)),
              std::string::npos)
        << e.what();
  }
  ::kill(child, SIGKILL);
}

TEST_F(RunLockTest, SameProcessNestsAndFoldersItCreatedGoWhenEmpty) {
  const std::string run = file("a/b/run");
  {
    RunLock outer(run);
    RunLock inner(run + "/");  // train's live analysis, compare's health: the same process
    EXPECT_TRUE(fs::exists(RunLock::path_of(run)));
  }
  EXPECT_FALSE(fs::exists(file("a")));  // created by the lock, left empty: removed
  {
    RunLock lock(run);
    std::ofstream(run + "/config.cfg") << "x";
  }
  EXPECT_TRUE(fs::exists(run + "/config.cfg"));
  EXPECT_FALSE(fs::exists(RunLock::path_of(run)));
}

TEST_F(RunLockTest, TakingTheLockRemovesTempFilesOfOtherProcesses) {
  const std::string run = file("run");
  const std::string dead = std::to_string(test::dead_pid());
  const std::string mine = std::to_string(::getpid());
  for (const char* sub : {"analysis", "report", "snapshots"}) fs::create_directories(run + "/" + sub);
  const std::vector<std::string> stale = {"analysis/.analysis.h5.tmp-" + dead, "report/.training_curves.png.tmp-" + dead + ".png",
                                          "snapshots/.epoch-0001.h5.tmp-" + dead, ".config.cfg.tmp-" + dead,
                                          ".deconvscope-probe-" + dead};
  const std::vector<std::string> kept = {"report/notes.tmp-" + dead,  // not hidden: not ours
                                         "report/.x.tmp-" + dead + ".png2", "report/.y.tmp-", "analysis/.z.tmp-" + mine};
  for (const auto& f : stale) std::ofstream(run + "/" + f) << "x";
  for (const auto& f : kept) std::ofstream(run + "/" + f) << "x";
  RunLock lock(run);
  for (const auto& f : stale) EXPECT_FALSE(fs::exists(run + "/" + f)) << f;
  for (const auto& f : kept) EXPECT_TRUE(fs::exists(run + "/" + f)) << f;
}

TEST_F(RunLockTest, StaleTempsWithoutTheLockOnlyOfDeadProcesses) {
  const std::string dead = std::to_string(test::dead_pid());
  std::ofstream(file(".a.h5.tmp-" + dead)) << "x";
  std::ofstream(file(".b.h5.tmp-1")) << "x";  // pid 1 is alive
  EXPECT_EQ(remove_stale_temps(dir().string()), std::vector<std::string>{".a.h5.tmp-" + dead});
  EXPECT_TRUE(fs::exists(file(".b.h5.tmp-1")));
  EXPECT_EQ(remove_stale_temps(dir().string(), /*any_other_pid=*/true), std::vector<std::string>{".b.h5.tmp-1"});
}

// --- errors name the final file and the OS error ----------------------------------------

TEST_F(RunLockTest, WriteErrorsNameTheFinalFileAndTheOsError) {
  const std::string text_path = file("missing/index.html");
  const std::string png_path = file("missing/curves.png");
  auto check = [&](const std::function<void()>& write, const std::string& path) {
    try {
      write();
      ADD_FAILURE() << path;
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::io);
      EXPECT_EQ(e.where(), path);
      EXPECT_NE(e.problem().find("No such file or directory"), std::string::npos) << e.what();
      EXPECT_EQ(std::string(e.what()).find(".tmp-"), std::string::npos) << e.what();
      EXPECT_EQ(std::string(e.what()).find("encoder returned false"), std::string::npos) << e.what();
    }
  };
  check([&] { write_text_atomic(text_path, "<html>"); }, text_path);
  check([&] { write_png(cv::Mat(4, 4, CV_8UC3, cv::Scalar(1, 2, 3)), png_path); }, png_path);
  // And the same write where it can go: a real PNG.
  write_png(cv::Mat(4, 4, CV_8UC3, cv::Scalar(1, 2, 3)), file("ok.png"));
  EXPECT_EQ(slurp(file("ok.png")).substr(1, 3), "PNG");
}

TEST_F(RunLockTest, FullDiskPngAndTextErrorsSayNoSpace) {
  // A 64 KiB tmpfs, filled up: needs root and mount, skipped elsewhere.
  const std::string mnt = file("mnt");
  fs::create_directories(mnt);
  if (::mount("tmpfs", mnt.c_str(), "tmpfs", 0, "size=64k") != 0)
    GTEST_SKIP() << "cannot mount a tmpfs here (not root, or a container): " << std::strerror(errno);
  struct Unmount {
    std::string dir;
    ~Unmount() { ::umount2(dir.c_str(), MNT_DETACH); }
  } unmount{mnt};
  {
    std::ofstream filler(mnt + "/filler", std::ios::binary);
    const std::string block(4096, 'x');
    while (filler.write(block.data(), std::streamsize(block.size()))) filler.flush();
  }
  cv::Mat noise(256, 256, CV_8UC3);
  cv::randu(noise, 0, 255);  // incompressible: far more than the room left
  for (const std::string& name : {std::string("report/curves.png"), std::string("index.html")}) {
    const std::string path = mnt + "/" + name;
    fs::create_directories(fs::path(path).parent_path());
    try {
      if (name == "index.html") write_text_atomic(path, std::string(1 << 20, 'h'));
      else write_png(noise, path);
      ADD_FAILURE() << name << " was written on a full disk";
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::io);
      EXPECT_EQ(e.where(), path);
      EXPECT_NE(e.problem().find("No space left on device"), std::string::npos) << e.what();
    }
    for (const auto& entry : fs::directory_iterator(fs::path(path).parent_path()))
      EXPECT_EQ(entry.path().filename().string().find(".tmp-"), std::string::npos) << entry.path();
  }
}

// --- the write-set marker ------------------------------------------------------------

TEST_F(RunLockTest, WriteSetMarkerSaysWhatIsMixed) {
  const std::string run = file("run");
  fs::create_directories(run + "/analysis");
  fs::create_directories(run + "/report");
  std::ofstream(run + "/report/index.html") << "earlier report";
  const Error disk_full(ErrorKind::io, run + "/report/topk.png", "cannot write 9 bytes: No space left on device");
  {
    // Nothing rewritten: the set is as it was, the marker goes and the error is unchanged.
    WriteSetMarker m(run, "analyze", {"analysis/analysis.h5", "report/index.html"});
    EXPECT_TRUE(fs::exists(run + "/analyze.incomplete"));
    EXPECT_EQ(std::string(m.failed(disk_full).what()), disk_full.what());
  }
  EXPECT_FALSE(fs::exists(run + "/analyze.incomplete"));
  EXPECT_TRUE(incomplete_write_sets(run).empty());
  {
    WriteSetMarker m(run, "analyze", {"analysis/analysis.h5", "report/index.html"});
    write_text_atomic(run + "/analysis/analysis.h5", "new");
    write_text_atomic(run + "/analysis/evolution.csv", "new");
    const Error e = m.failed(disk_full);
    EXPECT_EQ(e.kind(), ErrorKind::io);
    EXPECT_EQ(e.where(), disk_full.where());
    for (const std::string& part :
         {std::string("No space left on device"), std::string("mixed set"), std::string("analysis/analysis.h5"),
          std::string("analysis/evolution.csv"), std::string("not rewritten (older, now out of step): report/index.html"),
          run + "/analyze.incomplete"})
      EXPECT_NE(e.problem().find(part), std::string::npos) << part << " missing from " << e.what();
  }
  // The marker stays, says the same, and later commands see it.
  const std::string marker = slurp(run + "/analyze.incomplete");
  EXPECT_NE(marker.find("not rewritten (older, now out of step): report/index.html"), std::string::npos) << marker;
  ASSERT_EQ(incomplete_write_sets(run).size(), 1u);
  EXPECT_NE(incomplete_write_sets(run)[0].find("`analyze` stopped before writing all of its files"), std::string::npos);
  {
    WriteSetMarker m(run, "analyze", {"analysis/analysis.h5", "report/index.html"});
    m.complete();
  }
  EXPECT_FALSE(fs::exists(run + "/analyze.incomplete"));
}

}  // namespace
}  // namespace ds
