// One command's hold on a run folder: the folder's lock (io/run_lock.hpp), the write-set
// marker of each set of files the command writes (io/write_set.hpp), the creation of
// analysis/ and report/ (one error path: create_folder), the file names (RunPaths), and
// the rule that under mpirun only the job's writer, rank 0, writes: the command line
// (cli/) knows the process group and says whether this process `writes`; nothing below
// it asks the group.
// Left out: the files themselves (each stage writes its own, atomically).
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "deconvscope/io/run_folder.hpp"
#include "deconvscope/io/run_lock.hpp"

namespace ds {

class RunWorkspace {
 public:
  // A writer takes the run's lock now (creating the folder; throws what RunLock throws)
  // and holds it for the workspace's life; a non-writer takes nothing.
  RunWorkspace(const std::string& dir, bool writes);
  RunWorkspace(const RunWorkspace&) = delete;
  RunWorkspace& operator=(const RunWorkspace&) = delete;

  const std::string& dir() const { return paths_.dir; }
  const RunPaths& paths() const { return paths_; }
  bool writes() const { return writes_; }

  // Creates analysis/ and report/ (create_folder's error), just before the first file of
  // a set: a command refused earlier leaves no empty folder behind.
  void create_folders() const;

  // Runs `write`, which writes command `command`'s files `key_outputs` (full paths from
  // RunPaths) as one write set: on the writer the marker <run>/<command>.incomplete stays
  // while the set is not whole, and an error from `write` comes back with the set's state
  // added (WriteSetMarker::failed). On a non-writer `write` runs without a marker: it may
  // hold the job's shared work (analyze's sharded scan) and must itself write only when
  // writes() says so.
  void write_set(const std::string& command, const std::vector<std::string>& key_outputs,
                 const std::function<void()>& write) const;

 private:
  RunPaths paths_;
  bool writes_;
  std::optional<RunLock> lock_;
};

}  // namespace ds
