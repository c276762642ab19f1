// Atomic file commits (temp file + fsync + rename + folder fsync) and the up-front check
// that an output folder is writable; see include/deconvscope/io/atomic_file.hpp.
// POSIX only (open/fsync/rename), like the rest of the project.
#include "deconvscope/io/atomic_file.hpp"

#include <fcntl.h>
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
  if (int err = fsync_path(temp, O_RDONLY)) fail("cannot flush " + temp + " to disk: " + errno_text(err));
  if (std::rename(temp.c_str(), final_path.c_str()) != 0)
    fail("cannot rename " + temp + " into place: " + errno_text(errno));
  // The rename itself is durable only once the folder's entry is on disk.
  fs::path dir = fs::path(final_path).parent_path();
  if (dir.empty()) dir = ".";
  int err = fsync_path(dir.string(), O_RDONLY | O_DIRECTORY);
  // Some file systems cannot fsync a folder (EINVAL); the file itself is already safe.
  if (err != 0 && err != EINVAL)
    throw Error(ErrorKind::io, final_path, "cannot flush folder " + dir.string() + ": " + errno_text(err),
                "the disk may be failing");
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
