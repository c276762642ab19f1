// Reading files that may be anything; see include/deconvscope/core/regular_file.hpp.
#include "deconvscope/core/regular_file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <algorithm>
#include <new>

namespace ds {

std::string file_type_text(mode_t mode) {
  return S_ISDIR(mode)    ? "a folder"
         : S_ISFIFO(mode) ? "a FIFO (named pipe)"
         : S_ISCHR(mode)  ? "a character device"
         : S_ISBLK(mode)  ? "a block device"
         : S_ISSOCK(mode) ? "a socket"
         : S_ISLNK(mode)  ? "a symbolic link"
                          : "not a regular file";
}

std::string size_text(uint64_t bytes) {
  const struct {
    uint64_t unit;
    const char* name;
  } units[] = {{uint64_t(1) << 30, "GiB"}, {uint64_t(1) << 20, "MiB"}, {uint64_t(1) << 10, "KiB"}};
  char buf[64];
  for (const auto& u : units) {
    if (bytes < u.unit) continue;
    if (bytes % u.unit == 0)
      std::snprintf(buf, sizeof buf, "%llu %s", static_cast<unsigned long long>(bytes / u.unit), u.name);
    else
      std::snprintf(buf, sizeof buf, "%.1f %s", double(bytes) / double(u.unit), u.name);
    return buf;
  }
  std::snprintf(buf, sizeof buf, "%llu bytes", static_cast<unsigned long long>(bytes));
  return buf;
}

RegularFile::~RegularFile() {
  if (fd_ >= 0) ::close(fd_);
}

RegularFile RegularFile::open(const std::string& path, const FileRules& rules) {
  // O_NONBLOCK: opening a FIFO with no writer would wait for one for ever.
  const int fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) {
    const int err = errno;
    throw Error(rules.kind, path,
                expected_found("a readable " + rules.what.substr(rules.what.find(' ') + 1),
                               err == ENOENT ? std::string("none at this path") : std::string(std::strerror(err))),
                rules.hint);
  }
  RegularFile f(fd, 0);
  struct stat st {};
  if (::fstat(fd, &st) != 0) throw Error(rules.kind, path, std::string("cannot stat: ") + std::strerror(errno));
  if (!S_ISREG(st.st_mode))
    throw Error(rules.kind, path, expected_found(rules.what + " (a regular file)", file_type_text(st.st_mode)),
                rules.hint);
  if (uint64_t(st.st_size) > rules.max_bytes)
    throw Error(rules.kind, path,
                expected_found(rules.what + " of at most " + size_text(rules.max_bytes),
                               "a file of " + size_text(uint64_t(st.st_size)) + " (" + std::to_string(st.st_size) +
                                   " bytes)"),
                "is this the right file? a truncated or sparse copy can claim any size");
  // Reads block again from here on: a regular file never blocks for long.
  ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) & ~O_NONBLOCK);
  f.size_ = uint64_t(st.st_size);
  return f;
}

std::vector<char> RegularFile::read_all(const std::string& path, const FileRules& rules) {
  std::vector<char> data;
  try {
    // One byte past the size: a file that grows while it is read is noticed.
    data.resize(size_t(std::min<uint64_t>(size_, rules.max_bytes) + 1));
  } catch (const std::bad_alloc&) {
    throw Error(rules.kind, path, "a file of " + size_text(size_) + " does not fit in memory",
                "free some memory, or check that this is the right file");
  }
  size_t done = 0;
  for (;;) {
    if (done == data.size()) {
      if (data.size() > rules.max_bytes)
        throw Error(rules.kind, path,
                    expected_found(rules.what + " of at most " + size_text(rules.max_bytes),
                                   "a file that grows past that while it is read"));
      data.resize(std::min<size_t>(rules.max_bytes + 1, data.size() * 2));
    }
    const ssize_t n = ::read(fd_, data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw Error(rules.kind, path, std::string("cannot read: ") + std::strerror(errno));
    if (n == 0) break;  // shrank while reading: whoever parses it will tell
    done += size_t(n);
  }
  data.resize(done);
  return data;
}

std::vector<char> read_regular_file(const std::string& path, const FileRules& rules) {
  return RegularFile::open(path, rules).read_all(path, rules);
}

std::string read_regular_text(const std::string& path, const FileRules& rules) {
  const std::vector<char> v = read_regular_file(path, rules);
  return std::string(v.begin(), v.end());
}

int open_regular_append(const std::string& path, std::string* why) {
  // O_NONBLOCK: a FIFO without a reader fails with ENXIO instead of waiting for one.
  const int fd = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_NONBLOCK | O_CLOEXEC, 0644);
  if (fd < 0) {
    const int err = errno;
    // ENXIO is a FIFO without a reader: say what the path is, not "No such device".
    struct stat st {};
    if (why) *why = ::stat(path.c_str(), &st) == 0 && !S_ISREG(st.st_mode)
                        ? "it is " + file_type_text(st.st_mode) + ", not a regular file"
                        : std::string(std::strerror(err));
    return -1;
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    if (why) *why = "it is " + file_type_text(st.st_mode) + ", not a regular file";
    ::close(fd);
    return -1;
  }
  ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) & ~O_NONBLOCK);
  return fd;
}

}  // namespace ds
