// One writer per run folder. Every command that writes into a run folder (train, analyze,
// health, compare's --out folder and the runs whose health it computes) holds an exclusive
// flock(2) on <dir>/.lock while it writes. A second writer is refused at once, with the pid
// and command line of the holder (written into the lock file). Readers take no lock.
//
// Why flock: the kernel releases it when the holder dies, even by SIGKILL, so a stale lock
// file of a dead process never blocks; only the lock is authoritative, never the file's
// existence or its text. The file is removed when the lock is released cleanly; a killed
// holder leaves it behind, harmless, and the next writer takes it over.
// Left out: NFS before Linux 2.6.12 (flock there is local to one machine), and waiting
// for the holder (refusing at once is what a user of a long training wants to hear).
#pragma once

#include <string>

namespace ds {

class RunLock {
 public:
  // Takes the lock of run folder `dir`, creating the folder (and its parents) if needed.
  // Throws ds::Error(usage) naming the folder and the holder if another process holds it;
  // ds::Error(io) if the lock file cannot be created. Taking the lock of a folder this
  // process already holds just counts up (train's live analysis, compare's health).
  // Under mpirun only the job's writer (rank 0) takes it, for every rank: io/run_workspace.hpp.
  explicit RunLock(const std::string& dir);
  // Releases the lock: removes the lock file, and the folders the lock created if they
  // are still empty (a refused command leaves the disk as it found it).
  ~RunLock();
  RunLock(const RunLock&) = delete;
  RunLock& operator=(const RunLock&) = delete;

  // "<dir>/.lock"
  static std::string path_of(const std::string& dir);

 private:
  std::string key_;  // the folder's canonical path: one entry per folder in this process
};

}  // namespace ds
