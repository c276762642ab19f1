// A command writes a set of files into a run folder (analyze: analysis.h5, the CSVs, the
// report's PNGs and index.html; health: health.h5, its CSVs and health.html). Each file is
// atomic (io/atomic_file.hpp), the set is not: a full disk or a kill in the middle leaves
// new files beside old ones. So the command first writes a marker,
// <run>/<command>.incomplete, and removes it after its last file. A marker that stays
// says, in the folder itself, that the set is mixed; when the command fails it is
// rewritten to name the files this command did rewrite and those it did not, and the
// error message says the same. A later command on the run warns while a marker is there.
// Why a marker and not a manifest written last: it costs one small file before the work,
// none after, and it is there exactly while the set is not whole, even after kill -9.
// Commands make their markers through the run's workspace (io/run_workspace.hpp), which
// under mpirun leaves them to the job's writer (rank 0): the other ranks would race it.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "deconvscope/core/error.hpp"

namespace ds {

class WriteSetMarker {
 public:
  // Writes <run_dir>/<command>.incomplete. key_outputs: the files (relative to run_dir)
  // that make the set, named in the message when they were not rewritten. Warns on stderr
  // if an earlier marker of this command is there. Throws ds::Error(io) if it cannot write.
  WriteSetMarker(std::string run_dir, std::string command, std::vector<std::string> key_outputs);
  // Not completed: if this command rewrote nothing, the set is as it was and the marker
  // goes; otherwise the marker stays, rewritten (best effort) to say what is mixed.
  ~WriteSetMarker();
  WriteSetMarker(const WriteSetMarker&) = delete;
  WriteSetMarker& operator=(const WriteSetMarker&) = delete;

  // The last file is written: removes the marker.
  void complete();
  // `e` with the state of the set added to its message if the set is now mixed (the marker
  // is rewritten to say so, best effort); `e` unchanged if nothing was rewritten.
  Error failed(const Error& e);

  const std::string& path() const { return path_; }

 private:
  // "rewritten: a, b; not rewritten (from an earlier run): c", or "" if nothing was rewritten.
  std::string state() const;

  std::string run_dir_, command_, path_;
  std::vector<std::string> key_outputs_;
  std::map<std::string, uint64_t> inodes_;  // analysis/ and report/ files before the command wrote
  bool done_ = false;
};

// One line per marker left in run_dir ("runs/x: an earlier `analyze` stopped before
// writing all of its files (runs/x/analyze.incomplete)"), for readers' warnings.
std::vector<std::string> incomplete_write_sets(const std::string& run_dir);

}  // namespace ds
