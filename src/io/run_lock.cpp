// The run-folder lock; see include/deconvscope/io/run_lock.hpp. POSIX/Linux: flock(2),
// /proc/self/cmdline for the holder's command line.
#include "deconvscope/io/run_lock.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <sstream>
#include <thread>
#include <vector>

#include "deconvscope/core/error.hpp"
#include "deconvscope/io/atomic_file.hpp"
#include "deconvscope/io/run_folder.hpp"

namespace fs = std::filesystem;

namespace ds {

namespace {

struct Held {
  int fd = -1;
  int count = 0;
  std::string lock_path;
  std::vector<fs::path> created;  // folders the lock created, innermost first
};

std::mutex g_mutex;
std::map<std::string, Held> g_held;

std::string self_command() {
  std::ifstream f("/proc/self/cmdline", std::ios::binary);
  std::string raw((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  while (!raw.empty() && raw.back() == '\0') raw.pop_back();
  // One line in the lock file: NULs between arguments, and any control byte, become spaces.
  for (char& c : raw)
    if (static_cast<unsigned char>(c) < 0x20) c = ' ';
  return raw.empty() ? std::string("deconvscope") : printable(raw, 400);
}

std::string utc_now() {
  const std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

// The pids of processes with a descriptor open on the same file as `fd` (/proc/<pid>/fd),
// ours excepted: who keeps a lock whose named holder has exited. Those we may not look at
// (another user's) are not listed.
std::vector<std::string> processes_holding(int fd) {
  std::vector<std::string> pids;
  struct stat lock {};
  if (::fstat(fd, &lock) != 0) return pids;
  std::error_code ec;
  const std::string self = std::to_string(::getpid());
  for (const auto& proc : fs::directory_iterator("/proc", ec)) {
    const std::string pid = proc.path().filename().string();
    if (pid.find_first_not_of("0123456789") != std::string::npos || pid == self) continue;
    std::error_code ec2;
    for (const auto& link : fs::directory_iterator(proc.path() / "fd", ec2)) {
      struct stat st {};
      if (::stat(link.path().c_str(), &st) == 0 && st.st_dev == lock.st_dev && st.st_ino == lock.st_ino) {
        pids.push_back(pid);
        break;
      }
    }
    if (pids.size() >= 8) break;
  }
  return pids;
}

// The holder's own words from its lock file: "pid N (COMMAND) since T". It writes them
// just after taking the lock, so a refusal in between waits a moment for them.
std::string describe_holder(int fd) {
  std::string text;
  for (int tries = 0; tries < 50; ++tries) {
    char buf[2048];
    const ssize_t n = ::pread(fd, buf, sizeof buf, 0);
    text.assign(buf, n > 0 ? size_t(n) : 0);
    if (text.find("\nsince ") != std::string::npos) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  std::string pid, command, since;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("pid ", 0) == 0) pid = line.substr(4);
    if (line.rfind("command ", 0) == 0) command = line.substr(8);
    if (line.rfind("since ", 0) == 0) since = line.substr(6);
  }
  if (pid.empty() || pid.find_first_not_of("0123456789") != std::string::npos || pid.size() > 9)
    return "another process (its lock file names none: " + printable(text, 200) + ")";
  std::string d = "pid " + pid + " (" + printable(command, 400) + ")";
  if (!since.empty()) d += " since " + printable(since, 40);
  // A holder that died while a process it forked lives on keeps the lock: say which.
  if (::kill(pid_t(std::stol(pid)), 0) != 0 && errno == ESRCH) {
    const std::vector<std::string> others = processes_holding(fd);
    d += ", which has exited; a process it started still holds the lock";
    if (!others.empty()) {
      d += ": pid";
      for (size_t i = 0; i < others.size(); ++i) d += (i ? ", " : " ") + others[i];
    }
  }
  return d;
}

[[noreturn]] void fail_io(const std::string& where, const std::string& what, int err) {
  throw Error(ErrorKind::io, where, what + ": " + std::strerror(err), "check the folder's permissions");
}

}  // namespace

std::string RunLock::path_of(const std::string& dir) { return (fs::path(dir) / ".lock").string(); }

RunLock::RunLock(const std::string& dir) {
  if (dir.empty()) throw Error(ErrorKind::usage, "run folder", expected_found("a folder", "an empty path"));
  std::error_code ec;
  fs::path abs = fs::absolute(dir, ec).lexically_normal();
  if (ec) fail_io(dir, "cannot resolve the folder", ec.value());
  if (abs.filename().empty() && abs.has_relative_path()) abs = abs.parent_path();  // "runs/x/" is "runs/x"
  key_ = fs::weakly_canonical(abs, ec).string();
  if (ec) key_ = abs.lexically_normal().string();

  std::lock_guard<std::mutex> guard(g_mutex);
  if (auto it = g_held.find(key_); it != g_held.end()) {
    ++it->second.count;
    return;
  }
  Held h;
  h.lock_path = path_of(dir);
  for (fs::path p = abs; !p.empty() && !fs::exists(p, ec); p = p.parent_path()) {
    h.created.push_back(p);
    if (p == p.parent_path()) break;
  }
  fs::create_directories(dir, ec);
  if (ec) fail_io(dir, "cannot create the run folder", ec.value());
  struct Undo {  // a refused lock leaves no folder behind
    std::vector<fs::path>* created;
    ~Undo() {
      if (!created) return;
      for (const fs::path& p : *created) ::rmdir(p.c_str());
    }
  } undo{&h.created};

  // The lock file may be unlinked by a releasing holder between our open and our flock:
  // then we hold a lock on a file nobody else sees, so check the path still names it.
  for (int attempt = 0; attempt < 100 && h.fd < 0; ++attempt) {
    const int fd = ::open(h.lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
    if (fd < 0) fail_io(h.lock_path, "cannot create the run folder's lock file", errno);
    if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
      const int err = errno;
      if (err == EWOULDBLOCK) {
        const std::string holder = describe_holder(fd);
        ::close(fd);
        throw Error(ErrorKind::usage, dir,
                    "in use by another deconvscope process: " + holder +
                        "; two writers would mix their files in one run folder",
                    "wait for it to finish or stop it");
      }
      ::close(fd);
      if (err == EINTR) continue;
      fail_io(h.lock_path, "cannot lock the run folder", err);
    }
    struct stat held {}, named {};
    if (::fstat(fd, &held) == 0 && ::stat(h.lock_path.c_str(), &named) == 0 && held.st_dev == named.st_dev &&
        held.st_ino == named.st_ino) {
      h.fd = fd;
    } else {
      ::close(fd);
    }
  }
  if (h.fd < 0) fail_io(h.lock_path, "cannot lock the run folder (the lock file keeps being replaced)", EAGAIN);

  const std::string text =
      "pid " + std::to_string(::getpid()) + "\ncommand " + self_command() + "\nsince " + utc_now() + "\n";
  // Best effort: the lock itself is the flock, the text only names its holder.
  const bool named = ::ftruncate(h.fd, 0) == 0 && ::pwrite(h.fd, text.data(), text.size(), 0) == ssize_t(text.size());
  (void)named;
  undo.created = nullptr;
  h.count = 1;
  g_held.emplace(key_, std::move(h));
  // Now the only writer: whatever temporary files other processes left here are theirs
  // from a write that never finished.
  for (const std::string& folder : RunPaths::of(dir).folders()) remove_stale_temps(folder, /*any_other_pid=*/true);
}

RunLock::~RunLock() {
  std::lock_guard<std::mutex> guard(g_mutex);
  auto it = g_held.find(key_);
  if (it == g_held.end() || --it->second.count > 0) return;
  // Unlink while still holding the lock, so a waiting opener sees the path change.
  ::unlink(it->second.lock_path.c_str());
  ::close(it->second.fd);
  for (const fs::path& p : it->second.created) ::rmdir(p.c_str());
  g_held.erase(it);
}

}  // namespace ds
