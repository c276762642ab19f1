// Reading a file that may be anything. A run folder, a config path or a dataset path can
// hold a FIFO (open() blocks for ever), a device (/dev/zero never ends), a folder, or a
// sparse file of 40 GiB (std::bad_alloc). Every such read goes through here: the path is
// opened without blocking (O_NONBLOCK), the opened descriptor is checked with fstat (so
// what is checked is what is read), and its size is capped, with the size in the message.
// Left out: write paths (atomic_file.hpp), and image decoding (OpenCV opens those itself).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

#include "deconvscope/core/error.hpp"

namespace ds {

// What to say when a read is refused.
struct FileRules {
  ErrorKind kind = ErrorKind::data;  // the kind thrown for a bad file (exit 2 kinds)
  std::string what;                  // "a config file", "an HDF5 file", "metrics.csv"
  uint64_t max_bytes = 0;            // larger files are refused naming their size
  std::string hint;                  // for "not a regular file" and "none at this path"
};

// The cap for text files a run writes and reads back (metrics.csv, CSVs, index.html):
// a run of thousands of epochs writes a few MiB.
inline constexpr uint64_t kMaxTextFileBytes = uint64_t(256) << 20;

// "a FIFO (named pipe)", "a folder", "a character device", ... for messages.
std::string file_type_text(mode_t mode);

// "1.5 GiB", "12 KiB", "300 bytes".
std::string size_text(uint64_t bytes);

// An open regular file: opened O_RDONLY | O_NONBLOCK | O_CLOEXEC, fstat'ed, size-capped.
// Throws Error(rules.kind) naming the path and saying what it found. Move-only.
class RegularFile {
 public:
  static RegularFile open(const std::string& path, const FileRules& rules);
  RegularFile(RegularFile&& o) noexcept : fd_(o.fd_), size_(o.size_) { o.fd_ = -1; }
  RegularFile& operator=(RegularFile&&) = delete;
  RegularFile(const RegularFile&) = delete;
  ~RegularFile();

  int fd() const { return fd_; }
  uint64_t size() const { return size_; }  // at open time
  // Reads the whole file; a file that grows past the cap while it is read is refused.
  std::vector<char> read_all(const std::string& path, const FileRules& rules);

 private:
  RegularFile(int fd, uint64_t size) : fd_(fd), size_(size) {}
  int fd_ = -1;
  uint64_t size_ = 0;
};

// RegularFile::open(path, rules).read_all(...)
std::vector<char> read_regular_file(const std::string& path, const FileRules& rules);
std::string read_regular_text(const std::string& path, const FileRules& rules);

// Opens `path` for appending (a log) with the same checks: never blocks on a FIFO and
// never appends to a device. Returns -1 with errno-like text in *why on failure.
int open_regular_append(const std::string& path, std::string* why);

}  // namespace ds
