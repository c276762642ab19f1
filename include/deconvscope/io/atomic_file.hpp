// Writing files so that a reader never sees a partial one: write to a hidden temporary
// name in the same folder, fsync, rename over the final name, fsync the folder. An older
// file at the final name stays intact until the rename. Also: a check, before hours of
// training, that a folder exists, is writable and has room.
// Locking against two writers of one run folder: io/run_lock.hpp.
#pragma once

#include <cstdint>
#include <cstddef>
#include <string>
#include <vector>

namespace ds {

// "runs/x/snapshots/epoch-0005.h5" -> "runs/x/snapshots/.epoch-0005.h5.tmp-<pid>"
std::string temp_path_for(const std::string& final_path);

// fsyncs `temp`, renames it to `final_path` and fsyncs the folder. On failure removes
// `temp` and throws ds::Error(io) naming final_path.
void commit_file(const std::string& temp, const std::string& final_path);

// Writes `size` bytes to `path` atomically (temp file, fsync, rename). On failure removes
// the temp file and throws ds::Error(io) naming `path` (never the temp name) with the OS
// error, e.g. "No space left on device".
void write_file_atomic(const std::string& path, const void* data, size_t size);

// Removes the temporary files of ours in `dir` (not below it) whose writer cannot finish
// them: ".NAME.tmp-<pid>[.ext]" and ".deconvscope-probe-<pid>" of a process that is gone,
// or, with any_other_pid (the caller holds the run folder's lock, so no other process
// writes there), of any process but this one. Never throws; returns the names removed.
std::vector<std::string> remove_stale_temps(const std::string& dir, bool any_other_pid = false);

// Creates `dir` (and parents) if needed, creates and removes a probe file in it, and
// checks that at least bytes_needed bytes are free. Throws ds::Error(io) naming the folder,
// after removing any folder it created itself.
void check_writable_dir(const std::string& dir, uint64_t bytes_needed);

// Removes a temporary file when the scope is left before dismiss(): a write that throws
// leaves nothing behind.
class TempFileGuard {
 public:
  explicit TempFileGuard(std::string path) : path_(std::move(path)) {}
  TempFileGuard(const TempFileGuard&) = delete;
  TempFileGuard& operator=(const TempFileGuard&) = delete;
  ~TempFileGuard();

  const std::string& path() const { return path_; }
  void dismiss() { active_ = false; }  // the file was committed (renamed away)

 private:
  std::string path_;
  bool active_ = true;
};

}  // namespace ds
