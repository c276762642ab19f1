// The MPI boundary; see include/deconvscope/core/comm.hpp. The only file that includes
// <mpi.h>; everything else sees a Comm. Built without MPI (-DDECONVSCOPE_MPI=OFF, so
// DECONVSCOPE_HAVE_MPI is not defined) the group is always one process.
#include "deconvscope/core/comm.hpp"

#ifdef DECONVSCOPE_HAVE_MPI
// The C API only: Open MPI's deprecated C++ bindings would need libmpi_cxx.
#define OMPI_SKIP_MPICXX 1
#define MPICH_SKIP_MPICXX 1
#include <mpi.h>
#endif

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <exception>

#include "deconvscope/core/error.hpp"

namespace ds {

#ifdef DECONVSCOPE_HAVE_MPI
struct Comm::Pending {
  std::vector<MPI_Request> requests;
  int64_t bytes = 0;
  std::chrono::steady_clock::time_point since;
};

namespace {

// A failed MPI call as a ds::Error with MPI's own words.
void check(int code, const char* what) {
  if (code == MPI_SUCCESS) return;
  char text[MPI_MAX_ERROR_STRING];
  int len = 0;
  if (MPI_Error_string(code, text, &len) != MPI_SUCCESS) len = 0;
  throw Error(ErrorKind::io, std::string("MPI ") + what,
              "the call failed: " + std::string(text, size_t(len > 0 ? len : 0)),
              "a rank died or the network failed; the run's last complete state is kept: resume with the same "
              "number of ranks (mpirun -np N ... train --run DIR --resume)");
}

// MPI counts are int: split larger buffers.
constexpr size_t kMaxCount = size_t(1) << 30;

double seconds(std::chrono::steady_clock::duration d) { return std::chrono::duration<double>(d).count(); }

}  // namespace
#endif

bool Comm::launched_by_mpirun() {
  return std::getenv("OMPI_COMM_WORLD_SIZE") != nullptr || std::getenv("PMIX_RANK") != nullptr ||
         std::getenv("PMI_RANK") != nullptr;
}

namespace {
Comm* g_world = nullptr;  // set once world() has been called
}  // namespace

Comm& Comm::world() {
  static Comm comm;
  g_world = &comm;
  return comm;
}

void Comm::note_exit_code(int code) {
  if (code != 0 && g_world) g_world->mark_failed();
}

#ifdef DECONVSCOPE_HAVE_MPI
Comm::Comm() : pending_(std::make_unique<Pending>()) {
  if (!launched_by_mpirun()) return;  // a group of one: no MPI call at all
  int provided = 0;
  check(MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided), "MPI_Init_thread");
  initialised_ = true;
  check(MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN), "MPI_Comm_set_errhandler");
  check(MPI_Comm_rank(MPI_COMM_WORLD, &rank_), "MPI_Comm_rank");
  check(MPI_Comm_size(MPI_COMM_WORLD, &size_), "MPI_Comm_size");
  if (provided < MPI_THREAD_FUNNELED)
    throw Error(ErrorKind::io, "MPI_Init_thread",
                expected_found("thread support MPI_THREAD_FUNNELED", "level " + std::to_string(provided)));
}

Comm::~Comm() {
  if (!initialised_) return;
  int finalized = 0;
  MPI_Finalized(&finalized);
  // A failed rank leaves without MPI_Finalize: it would wait for ranks stuck in a
  // collective, while a non-zero exit makes mpirun end the job at once.
  if (!finalized && !failed_) MPI_Finalize();
}

void Comm::allreduce_sum(float* data, size_t n) {
  for (size_t off = 0; size_ > 1 && off < n; off += kMaxCount)
    check(MPI_Allreduce(MPI_IN_PLACE, data + off, int(std::min(kMaxCount, n - off)), MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD),
          "MPI_Allreduce");
}

void Comm::allreduce_sum(double* data, size_t n) {
  for (size_t off = 0; size_ > 1 && off < n; off += kMaxCount)
    check(MPI_Allreduce(MPI_IN_PLACE, data + off, int(std::min(kMaxCount, n - off)), MPI_DOUBLE, MPI_SUM,
                        MPI_COMM_WORLD),
          "MPI_Allreduce");
}

void Comm::allreduce_sum(int64_t* data, size_t n) {
  for (size_t off = 0; size_ > 1 && off < n; off += kMaxCount)
    check(MPI_Allreduce(MPI_IN_PLACE, data + off, int(std::min(kMaxCount, n - off)), MPI_INT64_T, MPI_SUM,
                        MPI_COMM_WORLD),
          "MPI_Allreduce");
}

void Comm::start_allreduce_sum(float* data, size_t n) {
  if (size_ == 1 || n == 0) return;
  if (pending_->requests.empty()) pending_->since = std::chrono::steady_clock::now();
  for (size_t off = 0; off < n; off += kMaxCount) {
    MPI_Request r;
    check(MPI_Iallreduce(MPI_IN_PLACE, data + off, int(std::min(kMaxCount, n - off)), MPI_FLOAT, MPI_SUM,
                         MPI_COMM_WORLD, &r),
          "MPI_Iallreduce");
    pending_->requests.push_back(r);
  }
  pending_->bytes += int64_t(n * sizeof(float));
}

void Comm::progress() {
  if (pending_->requests.empty()) return;
  int done = 0;
  check(MPI_Testall(int(pending_->requests.size()), pending_->requests.data(), &done, MPI_STATUSES_IGNORE),
        "MPI_Testall");
}

void Comm::wait_all() {
  if (pending_->requests.empty()) return;
  const auto t0 = std::chrono::steady_clock::now();
  check(MPI_Waitall(int(pending_->requests.size()), pending_->requests.data(), MPI_STATUSES_IGNORE), "MPI_Waitall");
  const auto t1 = std::chrono::steady_clock::now();
  timing_.waiting += seconds(t1 - t0);
  timing_.communicating += seconds(t1 - pending_->since);
  timing_.bytes += pending_->bytes;
  ++timing_.rounds;
  pending_->requests.clear();
  pending_->bytes = 0;
}

void Comm::broadcast(void* data, size_t bytes, int root) {
  char* p = static_cast<char*>(data);
  for (size_t off = 0; size_ > 1 && off < bytes; off += kMaxCount)
    check(MPI_Bcast(p + off, int(std::min(kMaxCount, bytes - off)), MPI_BYTE, root, MPI_COMM_WORLD), "MPI_Bcast");
}

std::vector<uint64_t> Comm::all_gather(uint64_t value) {
  std::vector<uint64_t> all(size_t(size_), value);
  if (size_ > 1)
    check(MPI_Allgather(&value, 1, MPI_UINT64_T, all.data(), 1, MPI_UINT64_T, MPI_COMM_WORLD), "MPI_Allgather");
  return all;
}

std::vector<char> Comm::all_gather_bytes(const void* data, size_t bytes) {
  std::vector<char> all(bytes * size_t(size_));
  if (size_ == 1) {
    if (bytes) std::copy(static_cast<const char*>(data), static_cast<const char*>(data) + bytes, all.begin());
    return all;
  }
  if (bytes > kMaxCount)
    throw Error(ErrorKind::usage, "MPI_Allgather",
                expected_found("at most " + std::to_string(kMaxCount) + " bytes per rank", std::to_string(bytes)));
  check(MPI_Allgather(data, int(bytes), MPI_BYTE, all.data(), int(bytes), MPI_BYTE, MPI_COMM_WORLD), "MPI_Allgather");
  return all;
}

void Comm::barrier() {
  if (size_ > 1) check(MPI_Barrier(MPI_COMM_WORLD), "MPI_Barrier");
}

void Comm::check_launch() {}
#else
// A group of one: every collective is the identity and nothing is ever pending.
struct Comm::Pending {};

void Comm::check_launch() {
  if (launched_by_mpirun())
    throw Error(ErrorKind::usage, "mpirun", "this deconvscope was built without MPI (-DDECONVSCOPE_MPI=OFF)",
                "run it without mpirun, or build with MPI: install Open MPI (libopenmpi-dev) and configure with "
                "-DDECONVSCOPE_MPI=ON (the default)");
}

Comm::Comm() { check_launch(); }

// initialised_ stays false: there is no MPI to finalise (read here so that clang does not
// call the field unused).
Comm::~Comm() { static_cast<void>(initialised_); }
void Comm::allreduce_sum(float*, size_t) {}
void Comm::allreduce_sum(double*, size_t) {}
void Comm::allreduce_sum(int64_t*, size_t) {}
void Comm::start_allreduce_sum(float*, size_t) {}
void Comm::progress() {}
void Comm::wait_all() {}
void Comm::broadcast(void*, size_t, int) {}
std::vector<uint64_t> Comm::all_gather(uint64_t value) { return {value}; }
std::vector<char> Comm::all_gather_bytes(const void* data, size_t bytes) {
  const char* p = static_cast<const char*>(data);
  return std::vector<char>(p, p + bytes);
}
void Comm::barrier() {}
#endif

void Comm::check_agreement(uint64_t value, const std::string& what) {
  if (size_ == 1) return;
  const std::vector<uint64_t> all = all_gather(value);
  std::string differ;
  for (size_t r = 1; r < all.size(); ++r)
    if (all[r] != all[0]) differ += (differ.empty() ? "" : ", ") + std::to_string(r);
  if (differ.empty()) return;
  throw Error(ErrorKind::divergence, what,
              "the ranks no longer agree: rank(s) " + differ + " differ from rank 0 of " + std::to_string(size_),
              "every rank must apply the same update; resume from the last snapshot with the same ranks, and report "
              "this as a bug if it repeats");
}

Share share_of(int64_t total, int rank, int size) {
  const int64_t lo = total * rank / size, hi = total * (rank + 1) / size;
  return Share{lo, hi - lo};
}

Share share_of_batches(int64_t total, int batch, int rank, int size) {
  const int64_t batches = (total + batch - 1) / batch;
  const Share b = share_of(batches, rank, size);
  const int64_t first = std::min(total, b.first * batch), end = std::min(total, (b.first + b.count) * batch);
  return Share{first, end - first};
}

CommFailureGuard::CommFailureGuard() : exceptions_(std::uncaught_exceptions()) {}

CommFailureGuard::~CommFailureGuard() {
  if (std::uncaught_exceptions() > exceptions_) Comm::world().mark_failed();
}

uint64_t fingerprint(const float* data, size_t n, uint64_t h) {
  const unsigned char* p = reinterpret_cast<const unsigned char*>(data);
  for (size_t i = 0; i < n * sizeof(float); ++i) h = (h ^ p[i]) * 1099511628211ull;
  return h;
}

}  // namespace ds
