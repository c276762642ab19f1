// The process group a job runs in: one process, or the ranks of an Open MPI job started
// with mpirun (data-parallel training, sharded analysis). This is the only MPI boundary
// of the project: src/core/comm.cpp is the one file that includes <mpi.h>.
//
// Started without mpirun (no OMPI_COMM_WORLD_SIZE / PMIX_RANK in the environment), the
// process is a group of one and no MPI function is ever called: every operation below is
// then the identity, so a one-process run computes exactly what it did before MPI.
// Under mpirun, MPI is initialised on the first call of world() (MPI_THREAD_FUNNELED:
// only the main thread talks to MPI, OpenMP threads never do) with MPI_ERRORS_RETURN, so
// a failed call becomes a ds::Error(io) naming the operation and MPI's own message.
// Built with -DDECONVSCOPE_MPI=OFF there is no MPI at all: the group is always one, and
// world() throws ds::Error(usage) in a process started by mpirun.
// Left out: sub-communicators, GPU buffers, fault tolerance (a rank that dies ends the job:
// mpirun kills the others).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace ds {

class Comm {
 public:
  // The process's group (MPI_COMM_WORLD under mpirun, else a group of one).
  static Comm& world();
  // True when this process was started by mpirun (whether or not MPI is initialised yet).
  static bool launched_by_mpirun();
  // Throws ds::Error(usage) when started by mpirun in a build without MPI, whose ranks
  // would each run the whole job alone; otherwise does nothing (MPI starts in world()).
  static void check_launch();

  int rank() const { return rank_; }
  int size() const { return size_; }
  bool distributed() const { return size_ > 1; }

  // In place: data[i] = sum over ranks of data[i]. Blocking.
  void allreduce_sum(float* data, size_t n);
  void allreduce_sum(double* data, size_t n);
  void allreduce_sum(int64_t* data, size_t n);

  // Non-blocking in-place sum of floats (MPI_Iallreduce): the buffer must stay untouched
  // until wait_all(). progress() lets MPI advance the pending sums (Open MPI moves a
  // non-blocking collective only inside MPI calls); wait_all() completes them all.
  void start_allreduce_sum(float* data, size_t n);
  void progress();
  void wait_all();

  // Seconds spent blocked in wait_all() and seconds from each batch of started sums to
  // their completion (what communication took, hidden or not), since reset_timing().
  struct Timing {
    double waiting = 0, communicating = 0;
    int64_t rounds = 0, bytes = 0;
  };
  const Timing& timing() const { return timing_; }
  void reset_timing() { timing_ = Timing{}; }

  // data (bytes) on every rank becomes root's.
  void broadcast(void* data, size_t bytes, int root = 0);
  // Every rank's value, in rank order, on every rank.
  std::vector<uint64_t> all_gather(uint64_t value);
  // Every rank's bytes (the same count on every rank), concatenated in rank order.
  std::vector<char> all_gather_bytes(const void* data, size_t bytes);
  void barrier();

  // Throws ds::Error(divergence) naming `what` and the ranks whose value differs from
  // rank 0's, when the ranks do not hold the same value (e.g. a checksum of the weights).
  void check_agreement(uint64_t value, const std::string& what);

  // Marks the job as failed on this rank: the process then exits without MPI_Finalize
  // (which would wait for ranks that may be blocked in a collective) and mpirun, seeing a
  // non-zero exit, ends the others.
  void mark_failed() { failed_ = true; }
  // main's last word: a non-zero exit code marks the group failed (see mark_failed), if
  // MPI was ever initialised in this process. Makes no MPI call itself.
  static void note_exit_code(int code);

  ~Comm();
  Comm(const Comm&) = delete;
  Comm& operator=(const Comm&) = delete;

 private:
  Comm();
  int rank_ = 0, size_ = 1;
  bool initialised_ = false, failed_ = false;
  Timing timing_;
  struct Pending;  // the MPI_Requests of the started sums (comm.cpp)
  std::unique_ptr<Pending> pending_;
};

// Images [first, first + count) of `total` that rank `rank` of `size` takes when a set is
// split across ranks: contiguous shares, sizes differing by at most one.
struct Share {
  int64_t first = 0, count = 0;
};
Share share_of(int64_t total, int rank, int size);
// The same in whole batches of `batch` images (the last one partial): every image then sits
// in the batch slot it has in one process, so per-image results cannot differ by slot.
Share share_of_batches(int64_t total, int batch, int rank, int size);

// Marks Comm::world() failed if the scope is left by an exception (see mark_failed).
class CommFailureGuard {
 public:
  CommFailureGuard();
  ~CommFailureGuard();
  CommFailureGuard(const CommFailureGuard&) = delete;
  CommFailureGuard& operator=(const CommFailureGuard&) = delete;

 private:
  int exceptions_;
};

// FNV-1a over the bytes of a float buffer: the weights' fingerprint for check_agreement.
uint64_t fingerprint(const float* data, size_t n, uint64_t h = 1469598103934665603ull);

}  // namespace ds
