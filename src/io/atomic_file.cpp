// Atomic file commits (temp file + fsync + rename + folder fsync) and the up-front check
// that an output folder is writable; see include/deconvscope/io/atomic_file.hpp.
// POSIX only (open/fsync/rename), like the rest of the project.
#include "deconvscope/io/atomic_file.hpp"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <system_error>

#include "deconvscope/core/error.hpp"

namespace fs = std::filesystem;

namespace ds {

namespace {

std::string errno_text(int err) { return std::strerror(err); }

// fsync of an fd opened on `path`; returns errno or 0.
int fsync_path(const std::string& path, int flags) {
  int fd = ::open(path.c_str(), flags | O_CLOEXEC);
  if (fd < 0) return errno;
  int err = ::fsync(fd) == 0 ? 0 : errno;
  ::close(fd);
  return err;
}

std::string mib(uint64_t bytes) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.1f MiB", static_cast<double>(bytes) / (1024.0 * 1024.0));
  return buf;
}

}  // namespace

std::string temp_path_for(const std::string& final_path) {
  fs::path p(final_path);
  std::string name = "." + p.filename().string() + ".tmp-" + std::to_string(::getpid());
  return (p.parent_path() / name).string();
}

void commit_file(const std::string& temp, const std::string& final_path) {
  auto fail = [&](const std::string& problem) {
    std::remove(temp.c_str());
    throw Error(ErrorKind::io, final_path, problem, "check the folder's permissions and free space");
  };
  // The messages name the final file only: the temporary one is gone when they are read.
  if (int err = fsync_path(temp, O_RDONLY)) fail("cannot flush the new file to disk: " + errno_text(err));
  if (std::rename(temp.c_str(), final_path.c_str()) != 0)
    fail("cannot rename the new file into place: " + errno_text(errno));
  // The rename itself is durable only once the folder's entry is on disk.
  fs::path dir = fs::path(final_path).parent_path();
  if (dir.empty()) dir = ".";
  int err = fsync_path(dir.string(), O_RDONLY | O_DIRECTORY);
  // Some file systems cannot fsync a folder (EINVAL); the file itself is already safe.
  if (err != 0 && err != EINVAL)
    throw Error(ErrorKind::io, final_path, "cannot flush folder " + dir.string() + ": " + errno_text(err),
                "the disk may be failing");
}

void write_file_atomic(const std::string& path, const void* data, size_t size) {
  const std::string hint = "check the folder's permissions and free space";
  TempFileGuard temp(temp_path_for(path));
  const int fd = ::open(temp.path().c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) throw Error(ErrorKind::io, path, "cannot create the file: " + errno_text(errno), hint);
  const char* bytes = static_cast<const char*>(data);
  size_t done = 0;
  int err = 0;
  while (done < size && err == 0) {
    const ssize_t n = ::write(fd, bytes + done, size - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) err = n < 0 ? errno : EIO;
    else done += size_t(n);
  }
  if (::close(fd) != 0 && err == 0) err = errno;
  if (err != 0)
    throw Error(ErrorKind::io, path, "cannot write " + std::to_string(size) + " bytes: " + errno_text(err), hint);
  commit_file(temp.path(), path);
  temp.dismiss();
}

namespace {

// The pid in a temporary name of ours, or 0: ".NAME.tmp-<pid>", ".NAME.tmp-<pid>.png"
// (write_png's old encoder-chosen ending) and check_writable_dir's ".deconvscope-probe-<pid>".
pid_t temp_owner(const std::string& name) {
  if (name.size() < 2 || name[0] != '.') return 0;
  size_t at = name.rfind(".tmp-");
  size_t digits = at == std::string::npos ? 0 : at + 5;
  if (at == std::string::npos) {
    const std::string probe = ".deconvscope-probe-";
    if (name.rfind(probe, 0) != 0) return 0;
    digits = probe.size();
  }
  size_t end = digits;
  while (end < name.size() && name[end] >= '0' && name[end] <= '9') ++end;
  if (end == digits || end - digits > 9) return 0;
  if (end < name.size()) {  // an ending after the pid: "." and letters only
    if (name[end] != '.' || end + 1 == name.size()) return 0;
    for (size_t i = end + 1; i < name.size(); ++i)
      if (!((name[i] >= 'a' && name[i] <= 'z') || (name[i] >= 'A' && name[i] <= 'Z'))) return 0;
  }
  return pid_t(std::stol(name.substr(digits, end - digits)));
}

}  // namespace

std::vector<std::string> remove_stale_temps(const std::string& dir, bool any_other_pid) {
  std::vector<std::string> removed;
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return removed;
  for (auto it = fs::directory_iterator(dir, ec); !ec && it != fs::directory_iterator(); it.increment(ec)) {
    const std::string name = it->path().filename().string();
    const pid_t pid = temp_owner(name);
    if (pid <= 0 || pid == ::getpid() || !it->is_regular_file(ec)) continue;
    const bool gone = ::kill(pid, 0) != 0 && errno == ESRCH;
    std::error_code rm;
    if ((gone || any_other_pid) && fs::remove(it->path(), rm)) removed.push_back(name);
  }
  return removed;
}

void check_writable_dir(const std::string& dir, uint64_t bytes_needed) {
  const std::string hint = "choose another folder, or fix its permissions";
  std::error_code ec;
  if (fs::exists(dir, ec) && !fs::is_directory(dir, ec))
    throw Error(ErrorKind::io, dir, "exists but is not a folder", hint);
  // The outermost folder this check creates: removed again if the check fails, so a
  // refused run leaves the disk as it found it.
  fs::path created;
  for (fs::path p = fs::absolute(dir, ec); !p.empty() && !fs::exists(p, ec); p = p.parent_path()) {
    created = p;
    if (p == p.parent_path()) break;
  }
  struct Undo {
    fs::path path;
    ~Undo() {
      if (path.empty()) return;
      std::error_code ignored;
      fs::remove_all(path, ignored);
    }
  } undo{created};
  fs::create_directories(dir, ec);
  if (ec) throw Error(ErrorKind::io, dir, "cannot create folder: " + ec.message(), hint);

  std::string probe = (fs::path(dir) / (".deconvscope-probe-" + std::to_string(::getpid()))).string();
  int fd = ::open(probe.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) throw Error(ErrorKind::io, dir, "cannot create a file in this folder: " + errno_text(errno), hint);
  ::close(fd);
  if (::unlink(probe.c_str()) != 0)
    throw Error(ErrorKind::io, dir, "cannot remove a file in this folder: " + errno_text(errno), hint);

  fs::space_info space = fs::space(dir, ec);
  if (ec) throw Error(ErrorKind::io, dir, "cannot read free space: " + ec.message(), hint);
  if (space.available < bytes_needed)
    throw Error(ErrorKind::io, dir,
                "not enough free space: " + expected_found("at least " + mib(bytes_needed), mib(space.available)),
                "free some space, or snapshot fewer epochs");
  undo.path.clear();  // the folder passed: keep it
}

TempFileGuard::~TempFileGuard() {
  if (active_) std::remove(path_.c_str());
}

}  // namespace ds
