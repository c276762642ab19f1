// RAII wrapper over the HDF5 C API (see include/deconvscope/io/h5.hpp). Reads throw
// ErrorKind::snapshot naming "<file>: <object path>", writes throw ErrorKind::io.
// Strings are written as variable-length UTF-8 so h5py reads them as str; fixed-length
// strings written by other tools are read too.
#include "deconvscope/io/h5.hpp"

#include <fcntl.h>
#include <signal.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <H5PLpublic.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <thread>
#include <cerrno>
#include <cstring>
#include <limits>

#include "deconvscope/core/error.hpp"
#include "deconvscope/core/escape.hpp"
#include "deconvscope/core/regular_file.hpp"
#include "deconvscope/io/atomic_file.hpp"
#include "deconvscope/io/h5_checksum.hpp"

namespace ds::h5 {

namespace {

// HDF5 prints its whole error stack to stderr by default; we report through ds::Error.
// Set per call because thread-safe builds keep the setting per thread.
void quiet_hdf5() { H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr); }

std::string with_detail(const std::string& problem) {
  std::string d = last_error_message();
  return d.empty() ? problem : problem + " (HDF5: " + d + ")";
}

[[noreturn]] void fail_read(const std::string& where, const std::string& problem,
                            const std::string& hint = {}) {
  throw Error(ErrorKind::snapshot, where, with_detail(problem), hint);
}

[[noreturn]] void fail_write(const std::string& where, const std::string& problem,
                             const std::string& hint = {}) {
  throw Error(ErrorKind::io, where, with_detail(problem),
              hint.empty() ? "check the folder's permissions and free space" : hint);
}

Handle make_vlen_string_type() {
  Handle t(H5Tcopy(H5T_C_S1), H5Tclose);
  H5Tset_size(t.get(), H5T_VARIABLE);
  H5Tset_cset(t.get(), H5T_CSET_UTF8);
  return t;
}

std::string dims_text(const std::vector<int64_t>& dims) { return shape_str(dims); }

// Splits "a/b/c" into its non-empty components.
std::vector<std::string> split_path(const std::string& rel) {
  std::vector<std::string> parts;
  std::string cur;
  for (char c : rel) {
    if (c == '/') {
      if (!cur.empty()) parts.push_back(cur);
      cur.clear();
    } else {
      cur += c;
    }
  }
  if (!cur.empty()) parts.push_back(cur);
  return parts;
}

// Opens any object at rel; an invalid handle (and a cleared error stack) if there is none.
Handle open_object(hid_t loc, const std::string& rel) {
  std::string prefix;
  for (const std::string& part : split_path(rel)) {
    prefix += (prefix.empty() ? "" : "/") + part;
    // H5Lexists fails rather than answering false when a parent is missing.
    if (H5Lexists(loc, prefix.c_str(), H5P_DEFAULT) <= 0) {
      H5Eclear2(H5E_DEFAULT);
      return {};
    }
  }
  if (prefix.empty()) return {};
  Handle obj(H5Oopen(loc, prefix.c_str(), H5P_DEFAULT), H5Oclose);
  if (!obj.valid()) H5Eclear2(H5E_DEFAULT);  // e.g. a dangling soft link
  return obj;
}

// Group creation properties: keep link creation order, so h5py lists layers in forward order.
Handle ordered_gcpl() {
  Handle p(H5Pcreate(H5P_GROUP_CREATE), H5Pclose);
  H5Pset_link_creation_order(p.get(), H5P_CRT_ORDER_TRACKED | H5P_CRT_ORDER_INDEXED);
  return p;
}

}  // namespace

// --- Handle ---------------------------------------------------------------------------

Handle& Handle::operator=(Handle&& o) noexcept {
  if (this != &o) {
    reset();
    id_ = o.id_;
    close_ = o.close_;
    o.id_ = H5I_INVALID_HID;
  }
  return *this;
}

void Handle::reset() {
  if (id_ >= 0 && close_) close_(id_);
  id_ = H5I_INVALID_HID;
}

// --- free helpers ---------------------------------------------------------------------

std::string last_error_message() {
  std::string msg;
  // Upward: the first entry is where the error was detected, the most specific one.
  H5Ewalk2(
      H5E_DEFAULT, H5E_WALK_UPWARD,
      [](unsigned n, const H5E_error2_t* e, void* data) -> herr_t {
        if (n == 0 && e && e->desc) *static_cast<std::string*>(data) = e->desc;
        return 0;
      },
      &msg);
  H5Eclear2(H5E_DEFAULT);
  return msg;
}

namespace {

// The child's report to the parent, through a pipe: a ds::Error as kind, where, problem
// and hint separated by NUL bytes, or nothing when the parse succeeded.
constexpr size_t kMaxReport = 48 * 1024;  // well under a pipe's buffer: the child never blocks writing

std::string encode_error(ErrorKind kind, const std::string& where, const std::string& problem, const std::string& hint) {
  std::string r = std::to_string(int(kind));
  for (const std::string* part : {&where, &problem, &hint}) r += '\0' + part->substr(0, kMaxReport / 4);
  return r;
}

[[noreturn]] void child_main(int report_fd, pid_t parent, int timeout_s, const std::function<void()>& parse) {
  // Die with the parent: a killed command must not leave a child parsing on. The parent
  // may have died between fork and prctl, hence the getppid check after it.
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (::getppid() != parent) ::_exit(4);
  // A time limit of its own, should the parent be stopped (SIGSTOP) rather than killed.
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  ::signal(SIGALRM, SIG_DFL);
  ::alarm(unsigned(timeout_s) + 5);
  // No descriptor but the report pipe and stdio: above all not the run folder's lock
  // (flock belongs to the open file, so a child holding a copy holds the lock).
  if (report_fd != 3) {
    ::dup2(report_fd, 3);
    report_fd = 3;
  }
  ::close_range(4, ~0U, 0);
  std::string report;
  try {
    parse();
  } catch (const Error& e) {
    report = encode_error(e.kind(), e.where(), e.problem(), e.hint());
  } catch (const std::exception& e) {
    report = encode_error(ErrorKind::snapshot, "", std::string("libhdf5 failed parsing the file: ") + e.what(), "");
  } catch (...) {
    report = encode_error(ErrorKind::snapshot, "", "libhdf5 failed parsing the file (an unknown exception)", "");
  }
  size_t done = 0;
  while (done < report.size()) {
    const ssize_t n = ::write(report_fd, report.data() + done, report.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    done += size_t(n);
  }
  ::_exit(report.empty() ? 0 : 1);  // no atexit handlers: HDF5's would close the parent's copies of its files
}

}  // namespace

void parse_in_child(const std::string& path, bool sealed, const std::function<void()>& parse, int timeout_s) {
  const std::string hint =
      sealed ? "its checksum matches, so it was written or re-sealed this way (by another program, or edited); "
               "deconvscope did not write it: restore the file or move it away"
             : "the file carries no deconvscope checksum: it was written by another program, or damaged";
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0)
    throw Error(ErrorKind::io, path, std::string("cannot make a pipe to check the file: ") + std::strerror(errno));
  std::fflush(nullptr);
  const pid_t parent = ::getpid();
  const pid_t child = ::fork();
  if (child < 0) {
    const int err = errno;
    ::close(fds[0]);
    ::close(fds[1]);
    throw Error(ErrorKind::io, path, std::string("cannot fork to check the file: ") + std::strerror(err));
  }
  if (child == 0) {
    ::close(fds[0]);
    child_main(fds[1], parent, timeout_s, parse);
  }
  ::close(fds[1]);
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fds[0]};
  // Read the report while waiting: the pipe reaches end of file when the child exits.
  std::string report;
  int status = 0;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(timeout_s);
  bool reaped = false;
  for (;;) {
    struct pollfd p {fds[0], POLLIN, 0};
    const int ready = ::poll(&p, 1, 20);
    if (ready > 0) {
      char buf[4096];
      const ssize_t n = ::read(fds[0], buf, sizeof buf);
      if (n > 0 && report.size() < kMaxReport) report.append(buf, size_t(n));
      if (n == 0) break;  // the child closed it: exited or crashed
      if (n < 0 && errno != EINTR && errno != EAGAIN) break;
    }
    if (std::chrono::steady_clock::now() > deadline) {
      ::kill(child, SIGKILL);
      ::waitpid(child, &status, 0);
      throw Error(ErrorKind::snapshot, path,
                  "libhdf5 did not finish parsing the file within " + std::to_string(timeout_s) + " s (in a child process)",
                  hint);
    }
  }
  for (;;) {
    const pid_t r = ::waitpid(child, &status, 0);
    if (r == child) {
      reaped = true;
      break;
    }
    if (r < 0 && errno != EINTR) break;  // not ours to reap (SIGCHLD ignored): the report decides
  }
  if (reaped && WIFSIGNALED(status))
    throw Error(ErrorKind::snapshot, path,
                "libhdf5 " + std::string(WTERMSIG(status) == SIGALRM ? "ran out of time" : "crashed") +
                    " parsing the file (signal " + std::to_string(WTERMSIG(status)) + ", in a child process)",
                hint);
  if (!report.empty()) {
    // The child's own refusal: the parent never parses a file its child refused.
    std::vector<std::string> parts;
    size_t from = 0;
    for (size_t at; (at = report.find('\0', from)) != std::string::npos; from = at + 1)
      parts.push_back(report.substr(from, at - from));
    parts.push_back(report.substr(from));
    if (parts.size() == 4 && parts[0].size() == 1 && parts[0][0] >= '0' && parts[0][0] <= '8')
      throw Error(ErrorKind(parts[0][0] - '0'), parts[1].empty() ? path : parts[1], parts[2], parts[3]);
    throw Error(ErrorKind::snapshot, path, "the child that parsed the file reported nonsense", hint);
  }
  if (reaped && (!WIFEXITED(status) || WEXITSTATUS(status) != 0))
    throw Error(ErrorKind::snapshot, path,
                "the child that parsed the file exited with " + std::to_string(WEXITSTATUS(status)) + " and no report",
                hint);
}

void write_atomically(const std::string& path, const std::function<void(File&)>& fill) {
  const std::string temp = temp_path_for(path);
  TempFileGuard guard(temp);
  try {
    File file = File::create(temp);
    fill(file);
    file.close();
  } catch (const Error& e) {
    // Name the file the user knows rather than its temporary name.
    std::string where = e.where();
    if (where.compare(0, temp.size(), temp) == 0) where = path + where.substr(temp.size());
    throw Error(e.kind(), where, e.problem(), e.hint());
  }
  commit_file(temp, path);
  guard.dismiss();
}

namespace {

bool has_hdf5_signature(const RegularFile& f) {
  static const char kSignature[8] = {'\x89', 'H', 'D', 'F', '\r', '\n', '\x1a', '\n'};
  char head[8];
  for (uint64_t at = 0; at + 8 <= f.size(); at = at ? 2 * at : 512)
    if (::pread(f.fd(), head, 8, off_t(at)) == 8 && std::memcmp(head, kSignature, 8) == 0) return true;
  return false;
}

FileRules hdf5_rules(const std::string& hint) {
  FileRules rules;
  rules.kind = ErrorKind::snapshot;
  rules.what = "an HDF5 file";
  rules.max_bytes = kMaxHdf5FileBytes;
  rules.hint = hint;
  return rules;
}

}  // namespace

bool is_hdf5(const std::string& path) {
  try {
    return has_hdf5_signature(RegularFile::open(path, hdf5_rules("")));
  } catch (const Error&) {
    return false;
  }
}

void require_hdf5_file(const std::string& path, const std::string& hint) {
  if (!has_hdf5_signature(RegularFile::open(path, hdf5_rules(hint))))
    throw Error(ErrorKind::snapshot, path, "not an HDF5 file", hint);
}

std::string type_name(hid_t type) {
  size_t size = H5Tget_size(type);
  switch (H5Tget_class(type)) {
    case H5T_INTEGER: {
      bool is_signed = H5Tget_sign(type) != H5T_SGN_NONE;
      return std::string(is_signed ? "int" : "uint") + std::to_string(size * 8);
    }
    case H5T_FLOAT: return "float" + std::to_string(size * 8);
    case H5T_STRING: return "string";
    case H5T_COMPOUND: return "compound";
    case H5T_ARRAY: return "array type";
    case H5T_VLEN: return "variable-length sequence";
    case H5T_ENUM: return "enum";
    case H5T_OPAQUE: return "opaque";
    case H5T_REFERENCE: return "reference";
    case H5T_BITFIELD: return "bitfield";
    case H5T_TIME: return "time";
    default: return "unknown type";
  }
}

// --- File -----------------------------------------------------------------------------

File File::create(const std::string& path) {
  quiet_hdf5();
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) fail_write(path, std::string("cannot create HDF5 file: ") + std::strerror(errno));
  Handle fcpl(H5Pcreate(H5P_FILE_CREATE), H5Pclose);
  H5Pset_link_creation_order(fcpl.get(), H5P_CRT_ORDER_TRACKED | H5P_CRT_ORDER_INDEXED);
  // Room for the checksum header that close() writes before the HDF5 content.
  H5Pset_userblock(fcpl.get(), kUserBlockSize);
  // In memory, grown 1 MiB at a time, never written by HDF5 (backing_store = 0).
  Handle fapl(H5Pcreate(H5P_FILE_ACCESS), H5Pclose);
  H5Pset_fapl_core(fapl.get(), size_t(1) << 20, 0);
  Handle f(H5Fcreate(path.c_str(), H5F_ACC_TRUNC, fcpl.get(), fapl.get()), H5Fclose);
  if (!f.valid()) {
    ::close(fd);
    fail_write(path, "cannot create HDF5 file");
  }
  return File(std::move(f), path, true, fd);
}

File& File::operator=(File&& o) noexcept {
  if (this != &o) {
    if (fd_ >= 0) ::close(fd_);
    handle_ = std::move(o.handle_);
    path_ = std::move(o.path_);
    writable_ = o.writable_;
    fd_ = o.fd_;
    sealed_ = o.sealed_;
    content_sha256_ = std::move(o.content_sha256_);
    o.fd_ = -1;
  }
  return *this;
}

File::~File() {
  if (fd_ >= 0) ::close(fd_);
}

namespace {

// Where HDF5 itself looks for the signature (0, 512, 1024, 2048, ...): past the user block.
size_t superblock_offset(const std::string& path, const std::vector<char>& image) {
  static const char kSignature[8] = {'\x89', 'H', 'D', 'F', '\r', '\n', '\x1a', '\n'};
  size_t at = 0;
  while (at + 8 <= image.size() && std::memcmp(image.data() + at, kSignature, 8) != 0) at = at ? 2 * at : 512;
  if (at + 8 > image.size()) fail_read(path, "not an HDF5 file: no HDF5 signature");
  return at;
}

// Opens a verified file image read-only in memory (core driver), so that HDF5 parses
// exactly the bytes whose checksum was checked, not whatever the path holds a moment later.
// A file image starts at the superblock (as H5Fget_file_image makes them).
Handle open_image(const std::string& path, const std::vector<char>& image, size_t at) {
  Handle fapl(H5Pcreate(H5P_FILE_ACCESS), H5Pclose);
  H5Pset_fapl_core(fapl.get(), size_t(1) << 20, 0);
  if (H5Pset_file_image(fapl.get(), const_cast<char*>(image.data()) + at, image.size() - at) < 0)  // HDF5 keeps a copy
    fail_read(path, "cannot hand the file to HDF5");
  // The core driver refuses an image under the name of a file that exists, and would share
  // one open file between two opens of a name: a name below the (regular) file, which can
  // never exist, made unique per open.
  static unsigned long opens = 0;
  const std::string name = path + "/in-memory-" + std::to_string(++opens);
  return Handle(H5Fopen(name.c_str(), H5F_ACC_RDONLY, fapl.get()), H5Fclose);
}

struct OutsideVisit {
  std::string object;  // the first object that reaches outside the file, "" if none
  std::string found;
  hid_t dapl = H5I_INVALID_HID;
};

herr_t visit_link(hid_t group, const char* name, const H5L_info_t* info, void* data) {
  auto& v = *static_cast<OutsideVisit*>(data);
  const auto refuse = [&](const std::string& found) {
    v.object = std::string("/") + name;
    v.found = found;
    return herr_t(1);  // stops the visit
  };
  if (info->type == H5L_TYPE_SOFT) return refuse("a soft link");
  if (info->type == H5L_TYPE_EXTERNAL) return refuse("an external link (to another file)");
  if (info->type != H5L_TYPE_HARD) return refuse("a user-defined link");
  H5O_info_t oi{};
  if (H5Oget_info_by_name2(group, name, &oi, H5O_INFO_BASIC, H5P_DEFAULT) < 0) return refuse("an object HDF5 cannot read");
  if (oi.type != H5O_TYPE_DATASET) return 0;
  Handle d(H5Dopen2(group, name, v.dapl), H5Dclose);
  if (!d.valid()) return refuse("a dataset HDF5 cannot open");
  Handle dcpl(H5Dget_create_plist(d.get()), H5Pclose);
  if (!dcpl.valid()) return refuse("a dataset without creation properties");
  if (H5Pget_layout(dcpl.get()) == H5D_VIRTUAL) return refuse("a virtual dataset (made of other files' data)");
  if (H5Pget_external_count(dcpl.get()) != 0) return refuse("a dataset stored in external files");
  return 0;
}

}  // namespace

void refuse_outside_references(const File& file) {
  OutsideVisit v;
  // Should a virtual dataset's sources or external storage be looked up on opening it,
  // they are looked for where none can be: the refusal below comes first either way.
  Handle dapl(H5Pcreate(H5P_DATASET_ACCESS), H5Pclose);
  H5Pset_virtual_prefix(dapl.get(), "/nonexistent/deconvscope-reads-no-virtual-sources/");
  H5Pset_efile_prefix(dapl.get(), "/nonexistent/deconvscope-reads-no-external-storage/");
  v.dapl = dapl.get();
  const herr_t r = H5Lvisit(file.id(), H5_INDEX_NAME, H5_ITER_INC, visit_link, &v);
  if (!v.object.empty())
    throw Error(ErrorKind::snapshot, file.path() + ": " + v.object,
                expected_found("objects stored in this file", v.found),
                "deconvscope reads only what the file's checksum covers, and never writes such objects");
  if (r < 0) fail_read(file.path(), "cannot list the file's objects");
}

File File::open_read(const std::string& path, const std::function<void(const Group&)>& parse, int timeout_s) {
  quiet_hdf5();
  // Filters are decoded by libhdf5 itself (deflate) or not at all: a dataset naming an
  // unknown filter must not make HDF5 load a plugin from HDF5_PLUGIN_PATH.
  H5PLset_loading_state(0);
  std::vector<char> image = read_whole_file(path);
  const VerifiedImage v = verify_image(path, image);  // before HDF5 sees one byte
  const size_t at = superblock_offset(path, image);
  const auto open = [&] {
    Handle f = open_image(path, image, at);
    if (!f.valid()) fail_read(path, "cannot open HDF5 file", "is it a complete file written by deconvscope?");
    File file(std::move(f), path, false);
    refuse_outside_references(file);
    return file;
  };
  // libhdf5 does not survive every file (a checksum proves the bytes, not that they parse):
  // the same open, check and parse run first in a child, and only if the child survives
  // them does this process parse the same bytes.
  parse_in_child(path, v.sealed, [&] {
    const File file = open();
    if (parse) parse(file.root());
  }, timeout_s);
  File file = open();
  file.sealed_ = v.sealed;
  file.content_sha256_ = v.content_sha256;
  return file;
}

File File::open_readwrite(const std::string& path) {
  quiet_hdf5();
  std::vector<char> image;
  VerifiedImage v;
  try {
    image = read_whole_file(path);
    v = verify_image(path, image);
  } catch (const Error& e) {
    throw Error(ErrorKind::io, e.where(), e.problem(), e.hint());
  }
  Handle f(H5Fopen(path.c_str(), H5F_ACC_RDWR, H5P_DEFAULT), H5Fclose);
  if (!f.valid()) fail_write(path, "cannot open HDF5 file for writing");
  File file(std::move(f), path, true);
  file.sealed_ = v.sealed;  // close() rewrites the checksum of a sealed file
  return file;
}

Group File::root() const {
  auto h = std::make_shared<Handle>(H5Gopen2(handle_.get(), "/", H5P_DEFAULT), H5Gclose);
  if (!h->valid()) {
    if (writable_) fail_write(path_ + ": /", "cannot open the root group");
    fail_read(path_ + ": /", "cannot open the root group");
  }
  return Group(std::move(h), path_, "/");
}

void File::flush() const {
  if (!handle_.valid() || !writable_) return;
  if (H5Fflush(handle_.get(), H5F_SCOPE_GLOBAL) < 0) fail_write(path_, "cannot flush HDF5 file");
}

void File::close() {
  if (!handle_.valid()) return;
  if (writable_) {
    flush();
    // The file itself counts as one open object.
    ssize_t open = H5Fget_obj_count(handle_.get(), H5F_OBJ_ALL | H5F_OBJ_LOCAL);
    if (open > 1)
      throw Error(ErrorKind::internal, path_, std::to_string(open - 1) + " HDF5 objects are still open at close",
                  "a deconvscope bug: destroy every Group before File::close()");
  }
  std::vector<char> image;
  if (fd_ >= 0) {
    const ssize_t size = H5Fget_file_image(handle_.get(), nullptr, 0);
    if (size < 0) fail_write(path_, "cannot take the HDF5 file's image");
    image.resize(size_t(size));
    if (H5Fget_file_image(handle_.get(), image.data(), image.size()) != size)
      fail_write(path_, "cannot take the HDF5 file's image");
    seal_image(image);
  }
  hid_t id = handle_.release();  // closed here, so that the result can be checked
  if (H5Fclose(id) < 0) {
    if (writable_) fail_write(path_, "cannot close HDF5 file");
    fail_read(path_, "cannot close HDF5 file");
  }
  if (fd_ < 0) {
    if (writable_ && sealed_) reseal_file(path_);  // changed in place: its checksum follows
    return;
  }
  // Our own write: a full disk is an ordinary error here, reported with errno's words.
  const int fd = fd_;
  fd_ = -1;
  size_t done = 0;
  int err = 0;
  while (done < image.size()) {
    const ssize_t n = ::write(fd, image.data() + done, image.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      err = n < 0 ? errno : EIO;
      break;
    }
    done += size_t(n);
  }
  if (::close(fd) != 0 && err == 0) err = errno;
  if (err != 0) {
    ::unlink(path_.c_str());
    throw Error(ErrorKind::io, path_,
                "cannot write the HDF5 file (" + std::to_string(image.size()) + " bytes): " + std::strerror(err),
                "free some space on the disk, or check the folder's permissions");
  }
}

// --- Group: structure -----------------------------------------------------------------

std::string Group::path_of(const std::string& rel) const {
  if (rel.empty()) return path_;
  if (path_ == "/") return "/" + rel;
  return path_ + "/" + rel;
}

Group Group::create_group(const std::string& rel) const {
  Handle gcpl = ordered_gcpl();
  Group cur = *this;
  for (const std::string& part : split_path(rel)) {
    std::string next_path = cur.path_of(part);
    Handle obj = open_object(cur.id(), part);
    std::shared_ptr<Handle> h;
    if (obj.valid()) {
      if (H5Iget_type(obj.get()) != H5I_GROUP)
        fail_write(file_ + ": " + next_path, "cannot create a group here: a dataset has this name");
      h = std::make_shared<Handle>(H5Gopen2(cur.id(), part.c_str(), H5P_DEFAULT), H5Gclose);
    } else {
      h = std::make_shared<Handle>(
          H5Gcreate2(cur.id(), part.c_str(), H5P_DEFAULT, gcpl.get(), H5P_DEFAULT), H5Gclose);
    }
    if (!h->valid()) fail_write(file_ + ": " + next_path, "cannot create group");
    cur = Group(std::move(h), file_, next_path);
  }
  return cur;
}

Group Group::open_group(const std::string& rel) const {
  Handle obj = open_object(id(), rel);
  if (!obj.valid()) fail_read(where(rel), "missing group");
  if (H5Iget_type(obj.get()) != H5I_GROUP) fail_read(where(rel), "expected a group, found a dataset");
  auto h = std::make_shared<Handle>(H5Gopen2(id(), rel.c_str(), H5P_DEFAULT), H5Gclose);
  if (!h->valid()) fail_read(where(rel), "cannot open group");
  return Group(std::move(h), file_, path_of(rel));
}

bool Group::exists(const std::string& rel) const { return open_object(id(), rel).valid(); }

bool Group::is_group(const std::string& rel) const {
  Handle obj = open_object(id(), rel);
  return obj.valid() && H5Iget_type(obj.get()) == H5I_GROUP;
}

bool Group::is_dataset(const std::string& rel) const {
  Handle obj = open_object(id(), rel);
  return obj.valid() && H5Iget_type(obj.get()) == H5I_DATASET;
}

std::vector<std::string> Group::children() const {
  H5G_info_t info;
  if (H5Gget_info(id(), &info) < 0) fail_read(where(), "cannot list group");
  H5_index_t index = H5_INDEX_NAME;
  {
    Handle gcpl(H5Gget_create_plist(id()), H5Pclose);
    unsigned flags = 0;
    if (gcpl.valid() && H5Pget_link_creation_order(gcpl.get(), &flags) >= 0 &&
        (flags & H5P_CRT_ORDER_INDEXED))
      index = H5_INDEX_CRT_ORDER;
    H5Eclear2(H5E_DEFAULT);
  }
  std::vector<std::string> names;
  for (hsize_t i = 0; i < info.nlinks; ++i) {
    ssize_t n = H5Lget_name_by_idx(id(), ".", index, H5_ITER_INC, i, nullptr, 0, H5P_DEFAULT);
    if (n < 0) fail_read(where(), "cannot read the name of child " + std::to_string(i));
    std::string name(static_cast<size_t>(n) + 1, '\0');
    H5Lget_name_by_idx(id(), ".", index, H5_ITER_INC, i, name.data(), name.size(), H5P_DEFAULT);
    name.resize(static_cast<size_t>(n));
    names.push_back(name);
  }
  return names;
}

// --- Group: attributes ----------------------------------------------------------------

bool Group::has_attr(const std::string& name) const {
  htri_t r = H5Aexists(id(), name.c_str());
  if (r < 0) H5Eclear2(H5E_DEFAULT);
  return r > 0;
}

std::vector<std::string> Group::attr_names() const {
  std::vector<std::string> names;
  for (hsize_t i = 0;; ++i) {
    ssize_t n = H5Aget_name_by_idx(id(), ".", H5_INDEX_NAME, H5_ITER_INC, i, nullptr, 0, H5P_DEFAULT);
    if (n < 0) {  // past the last attribute
      H5Eclear2(H5E_DEFAULT);
      break;
    }
    std::string name(static_cast<size_t>(n) + 1, '\0');
    H5Aget_name_by_idx(id(), ".", H5_INDEX_NAME, H5_ITER_INC, i, name.data(), name.size(), H5P_DEFAULT);
    name.resize(static_cast<size_t>(n));
    names.push_back(name);
  }
  return names;
}

void Group::write_attr_raw(const std::string& name, hid_t file_type, hid_t mem_type,
                           const void* data, const std::vector<hsize_t>* dims) const {
  std::string w = where() + " attribute " + name;
  if (has_attr(name) && H5Adelete(id(), name.c_str()) < 0) fail_write(w, "cannot replace attribute");
  Handle space = dims ? Handle(H5Screate_simple(1, dims->data(), nullptr), H5Sclose)
                      : Handle(H5Screate(H5S_SCALAR), H5Sclose);
  if (!space.valid()) fail_write(w, "cannot create dataspace");
  Handle attr(H5Acreate2(id(), name.c_str(), file_type, space.get(), H5P_DEFAULT, H5P_DEFAULT), H5Aclose);
  if (!attr.valid()) fail_write(w, "cannot create attribute");
  bool empty = dims && (*dims)[0] == 0;  // HDF5 refuses a null buffer even for 0 values
  if (!empty && H5Awrite(attr.get(), mem_type, data) < 0) fail_write(w, "cannot write attribute");
}

void Group::write_attr_string(const std::string& name, const std::string& value) const {
  Handle t = make_vlen_string_type();
  const char* p = value.c_str();
  write_attr_raw(name, t.get(), t.get(), &p, nullptr);
}

void Group::write_attr_strings(const std::string& name, const std::vector<std::string>& values) const {
  Handle t = make_vlen_string_type();
  std::vector<const char*> ptrs;
  for (const std::string& s : values) ptrs.push_back(s.c_str());
  std::vector<hsize_t> dims{values.size()};
  write_attr_raw(name, t.get(), t.get(), ptrs.data(), &dims);
}

void Group::write_attr_int(const std::string& name, int32_t value) const {
  write_attr_raw(name, H5T_STD_I32LE, H5T_NATIVE_INT32, &value, nullptr);
}

void Group::write_attr_int64(const std::string& name, int64_t value) const {
  write_attr_raw(name, H5T_STD_I64LE, H5T_NATIVE_INT64, &value, nullptr);
}

void Group::write_attr_ints(const std::string& name, const std::vector<int32_t>& values) const {
  std::vector<hsize_t> dims{values.size()};
  write_attr_raw(name, H5T_STD_I32LE, H5T_NATIVE_INT32, values.data(), &dims);
}

void Group::write_attr_int64s(const std::string& name, const std::vector<int64_t>& values) const {
  std::vector<hsize_t> dims{values.size()};
  write_attr_raw(name, H5T_STD_I64LE, H5T_NATIVE_INT64, values.data(), &dims);
}

void Group::write_attr_float(const std::string& name, float value) const {
  write_attr_raw(name, H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, &value, nullptr);
}

void Group::write_attr_double(const std::string& name, double value) const {
  write_attr_raw(name, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, &value, nullptr);
}

void Group::write_attr_floats(const std::string& name, const std::vector<float>& values) const {
  std::vector<hsize_t> dims{values.size()};
  write_attr_raw(name, H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, values.data(), &dims);
}

namespace {

// An open attribute with its type and element count, or a snapshot error naming it.
struct OpenAttr {
  Handle attr, type, space;
  size_t count = 0;
};

OpenAttr open_attr(hid_t obj, const std::string& name, const std::string& w) {
  htri_t e = H5Aexists(obj, name.c_str());
  if (e <= 0) {
    H5Eclear2(H5E_DEFAULT);
    throw Error(ErrorKind::snapshot, w, "missing attribute");
  }
  OpenAttr a;
  a.attr = Handle(H5Aopen(obj, name.c_str(), H5P_DEFAULT), H5Aclose);
  if (!a.attr.valid()) fail_read(w, "cannot open attribute");
  a.type = Handle(H5Aget_type(a.attr.get()), H5Tclose);
  a.space = Handle(H5Aget_space(a.attr.get()), H5Sclose);
  if (!a.type.valid() || !a.space.valid()) fail_read(w, "cannot read attribute type");
  hssize_t n = H5Sget_simple_extent_npoints(a.space.get());
  if (n < 0) fail_read(w, "cannot read attribute size");
  a.count = static_cast<size_t>(n);
  return a;
}

void expect_class(const OpenAttr& a, H5T_class_t cls, const char* expected, const std::string& w) {
  if (H5Tget_class(a.type.get()) != cls)
    throw Error(ErrorKind::snapshot, w, expected_found(expected, type_name(a.type.get())));
}

void expect_one(const OpenAttr& a, const char* expected, const std::string& w) {
  if (a.count != 1)
    throw Error(ErrorKind::snapshot, w,
                expected_found(std::string("one ") + expected, std::to_string(a.count) + " values"));
}

std::vector<std::string> read_strings(const OpenAttr& a, const std::string& w) {
  expect_class(a, H5T_STRING, "a string", w);
  std::vector<std::string> out;
  if (a.count == 0) return out;  // HDF5 refuses a null buffer even for 0 values
  out.reserve(a.count);
  if (H5Tis_variable_str(a.type.get()) > 0) {
    Handle mem(H5Tcopy(H5T_C_S1), H5Tclose);
    H5Tset_size(mem.get(), H5T_VARIABLE);
    H5Tset_cset(mem.get(), H5Tget_cset(a.type.get()));
    std::vector<char*> buf(a.count, nullptr);
    if (H5Aread(a.attr.get(), mem.get(), buf.data()) < 0) fail_read(w, "cannot read string attribute");
    for (char* s : buf) out.emplace_back(s ? s : "");
#if H5_VERSION_GE(1, 12, 0)
    H5Treclaim(mem.get(), a.space.get(), H5P_DEFAULT, buf.data());
#else
    H5Dvlen_reclaim(mem.get(), a.space.get(), H5P_DEFAULT, buf.data());
#endif
  } else {
    size_t size = H5Tget_size(a.type.get());
    if (size == 0) fail_read(w, "string attribute of size 0");
    Handle mem(H5Tcopy(a.type.get()), H5Tclose);
    std::vector<char> buf(a.count * size, '\0');
    if (H5Aread(a.attr.get(), mem.get(), buf.data()) < 0) fail_read(w, "cannot read string attribute");
    for (size_t i = 0; i < a.count; ++i) {
      const char* s = buf.data() + i * size;
      size_t len = 0;
      while (len < size && s[len] != '\0') ++len;
      std::string v(s, len);
      // Space-padded strings (Fortran style) keep their padding out of the value.
      if (H5Tget_strpad(a.type.get()) == H5T_STR_SPACEPAD)
        while (!v.empty() && v.back() == ' ') v.pop_back();
      out.push_back(v);
    }
  }
  return out;
}

}  // namespace

std::string Group::read_attr_string(const std::string& name) const {
  std::string w = where() + " attribute " + name;
  OpenAttr a = open_attr(id(), name, w);
  expect_class(a, H5T_STRING, "a string", w);
  expect_one(a, "string", w);
  return read_strings(a, w).at(0);
}

std::vector<std::string> Group::read_attr_strings(const std::string& name) const {
  std::string w = where() + " attribute " + name;
  return read_strings(open_attr(id(), name, w), w);
}

std::vector<int64_t> Group::read_attr_integers(const std::string& name) const {
  std::string w = where() + " attribute " + name;
  OpenAttr a = open_attr(id(), name, w);
  expect_class(a, H5T_INTEGER, "an integer", w);
  std::vector<int64_t> v(a.count);
  if (a.count && H5Aread(a.attr.get(), H5T_NATIVE_INT64, v.data()) < 0)
    fail_read(w, "cannot read integer attribute");
  return v;
}

std::vector<double> Group::read_attr_floating(const std::string& name) const {
  std::string w = where() + " attribute " + name;
  OpenAttr a = open_attr(id(), name, w);
  expect_class(a, H5T_FLOAT, "a float", w);
  std::vector<double> v(a.count);
  if (a.count && H5Aread(a.attr.get(), H5T_NATIVE_DOUBLE, v.data()) < 0)
    fail_read(w, "cannot read float attribute");
  return v;
}

namespace {

int32_t to_int32(int64_t x, const std::string& w) {
  if (x < std::numeric_limits<int32_t>::min() || x > std::numeric_limits<int32_t>::max())
    throw Error(ErrorKind::snapshot, w, expected_found("a 32-bit integer", std::to_string(x)));
  return static_cast<int32_t>(x);
}

}  // namespace

int64_t Group::read_attr_int64(const std::string& name) const {
  std::vector<int64_t> v = read_attr_integers(name);
  std::string w = where() + " attribute " + name;
  if (v.size() != 1)
    throw Error(ErrorKind::snapshot, w, expected_found("one integer", std::to_string(v.size()) + " values"));
  return v[0];
}

int32_t Group::read_attr_int(const std::string& name) const {
  return to_int32(read_attr_int64(name), where() + " attribute " + name);
}

std::vector<int32_t> Group::read_attr_ints(const std::string& name) const {
  std::string w = where() + " attribute " + name;
  std::vector<int32_t> out;
  for (int64_t x : read_attr_integers(name)) out.push_back(to_int32(x, w));
  return out;
}

std::vector<int64_t> Group::read_attr_int64s(const std::string& name) const { return read_attr_integers(name); }

double Group::read_attr_double(const std::string& name) const {
  std::vector<double> v = read_attr_floating(name);
  if (v.size() != 1)
    throw Error(ErrorKind::snapshot, where() + " attribute " + name,
                expected_found("one float", std::to_string(v.size()) + " values"));
  return v[0];
}

float Group::read_attr_float(const std::string& name) const {
  return static_cast<float>(read_attr_double(name));
}

std::vector<float> Group::read_attr_floats(const std::string& name) const {
  std::vector<float> out;
  for (double x : read_attr_floating(name)) out.push_back(static_cast<float>(x));
  return out;
}

// --- Group: datasets ------------------------------------------------------------------

template <class T>
void Group::write_dataset_impl(const std::string& rel, const std::vector<int64_t>& dims,
                               const std::vector<T>& data, hid_t file_type, hid_t mem_type,
                               int deflate_level) const {
  std::string w = where(rel);
  std::vector<hsize_t> hd;
  size_t count = 1;
  for (int64_t d : dims) {
    if (d < 0) throw Error(ErrorKind::internal, w, "negative dimension in " + dims_text(dims), "a deconvscope bug");
    hd.push_back(static_cast<hsize_t>(d));
    count *= static_cast<size_t>(d);
  }
  if (count != data.size())
    throw Error(ErrorKind::internal, w,
                "dims " + dims_text(dims) + " hold " + std::to_string(count) + " values but " +
                    std::to_string(data.size()) + " were given",
                "a deconvscope bug: the tensor's dims and data disagree");

  if (exists(rel) && H5Ldelete(id(), rel.c_str(), H5P_DEFAULT) < 0)
    fail_write(w, "cannot replace dataset");

  Handle space = hd.empty() ? Handle(H5Screate(H5S_SCALAR), H5Sclose)
                            : Handle(H5Screate_simple(static_cast<int>(hd.size()), hd.data(), nullptr), H5Sclose);
  if (!space.valid()) fail_write(w, "cannot create dataspace " + dims_text(dims));

  Handle dcpl(H5Pcreate(H5P_DATASET_CREATE), H5Pclose);
  bool any_zero = std::find(hd.begin(), hd.end(), 0) != hd.end();
  if (deflate_level > 0 && !hd.empty() && !any_zero) {
    // Chunks of at most ~1 MiB, cut along the leading dims (one image, one filter, ...).
    std::vector<hsize_t> chunk = hd;
    const double limit = 1 << 20;
    for (size_t i = 0; i < chunk.size(); ++i) {
      double bytes = sizeof(T);
      for (hsize_t c : chunk) bytes *= static_cast<double>(c);
      if (bytes <= limit) break;
      chunk[i] = std::max<hsize_t>(1, static_cast<hsize_t>(static_cast<double>(chunk[i]) * limit / bytes));
    }
    H5Pset_chunk(dcpl.get(), static_cast<int>(chunk.size()), chunk.data());
    H5Pset_shuffle(dcpl.get());
    H5Pset_deflate(dcpl.get(), static_cast<unsigned>(std::min(deflate_level, 9)));
  }
  // Intermediate groups ("momentum/conv1/weights") are created on the way.
  Handle lcpl(H5Pcreate(H5P_LINK_CREATE), H5Pclose);
  H5Pset_create_intermediate_group(lcpl.get(), 1);

  Handle ds(H5Dcreate2(id(), rel.c_str(), file_type, space.get(), lcpl.get(), dcpl.get(), H5P_DEFAULT),
            H5Dclose);
  if (!ds.valid()) fail_write(w, "cannot create dataset " + dims_text(dims));
  if (count > 0 && H5Dwrite(ds.get(), mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data.data()) < 0)
    fail_write(w, "cannot write dataset");
}

void Group::write_dataset(const std::string& rel, const std::vector<int64_t>& dims,
                          const std::vector<float>& data, int deflate_level) const {
  write_dataset_impl(rel, dims, data, H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, deflate_level);
}

void Group::write_dataset(const std::string& rel, const std::vector<int64_t>& dims,
                          const std::vector<int32_t>& data, int deflate_level) const {
  write_dataset_impl(rel, dims, data, H5T_STD_I32LE, H5T_NATIVE_INT32, deflate_level);
}

void Group::write_dataset(const std::string& rel, const std::vector<int64_t>& dims,
                          const std::vector<int64_t>& data, int deflate_level) const {
  write_dataset_impl(rel, dims, data, H5T_STD_I64LE, H5T_NATIVE_INT64, deflate_level);
}

void Group::write_dataset(const std::string& rel, const std::vector<int64_t>& dims,
                          const std::vector<uint8_t>& data, int deflate_level) const {
  write_dataset_impl(rel, dims, data, H5T_STD_U8LE, H5T_NATIVE_UINT8, deflate_level);
}

void Group::write_dataset(const std::string& rel, const std::vector<int64_t>& dims,
                          const std::vector<double>& data, int deflate_level) const {
  write_dataset_impl(rel, dims, data, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, deflate_level);
}

namespace {

struct OpenDataset {
  Handle ds, type, space;
  std::vector<int64_t> dims;
  size_t count = 0;
};

OpenDataset open_dataset(const Group& g, const std::string& rel) {
  std::string w = g.where(rel);
  Handle obj = open_object(g.id(), rel);
  if (!obj.valid()) throw Error(ErrorKind::snapshot, w, "missing dataset");
  if (H5Iget_type(obj.get()) != H5I_DATASET)
    throw Error(ErrorKind::snapshot, w, "expected a dataset, found a group");
  OpenDataset d;
  d.ds = Handle(H5Dopen2(g.id(), rel.c_str(), H5P_DEFAULT), H5Dclose);
  if (!d.ds.valid()) fail_read(w, "cannot open dataset");
  d.type = Handle(H5Dget_type(d.ds.get()), H5Tclose);
  d.space = Handle(H5Dget_space(d.ds.get()), H5Sclose);
  if (!d.type.valid() || !d.space.valid()) fail_read(w, "cannot read dataset type");
  int rank = H5Sget_simple_extent_ndims(d.space.get());
  if (rank < 0) fail_read(w, "cannot read dataset dims");
  std::vector<hsize_t> hd(static_cast<size_t>(rank));
  if (rank > 0) H5Sget_simple_extent_dims(d.space.get(), hd.data(), nullptr);
  for (hsize_t x : hd) d.dims.push_back(static_cast<int64_t>(x));
  hssize_t n = H5Sget_simple_extent_npoints(d.space.get());
  if (n < 0) fail_read(w, "cannot read dataset size");
  d.count = static_cast<size_t>(n);
  return d;
}

}  // namespace

std::vector<int64_t> Group::dataset_dims(const std::string& rel) const {
  return open_dataset(*this, rel).dims;
}

template <class T>
std::vector<T> Group::read_dataset_impl(const std::string& rel, H5T_class_t cls, size_t bytes,
                                        const char* type, hid_t mem_type,
                                        std::vector<int64_t>* dims) const {
  std::string w = where(rel);
  OpenDataset d = open_dataset(*this, rel);
  if (H5Tget_class(d.type.get()) != cls || H5Tget_size(d.type.get()) != bytes)
    throw Error(ErrorKind::snapshot, w, expected_found(type, type_name(d.type.get())));
  std::vector<T> v(d.count);
  if (d.count > 0 && H5Dread(d.ds.get(), mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, v.data()) < 0)
    fail_read(w, "cannot read dataset");
  if (dims) *dims = d.dims;
  return v;
}

std::vector<float> Group::read_dataset_f32(const std::string& rel, std::vector<int64_t>* dims) const {
  return read_dataset_impl<float>(rel, H5T_FLOAT, 4, "float32", H5T_NATIVE_FLOAT, dims);
}

std::vector<int32_t> Group::read_dataset_i32(const std::string& rel, std::vector<int64_t>* dims) const {
  return read_dataset_impl<int32_t>(rel, H5T_INTEGER, 4, "int32", H5T_NATIVE_INT32, dims);
}

std::vector<int64_t> Group::read_dataset_i64(const std::string& rel, std::vector<int64_t>* dims) const {
  return read_dataset_impl<int64_t>(rel, H5T_INTEGER, 8, "int64", H5T_NATIVE_INT64, dims);
}

std::vector<uint8_t> Group::read_dataset_u8(const std::string& rel, std::vector<int64_t>* dims) const {
  {
    const OpenDataset d = open_dataset(*this, rel);
    if (H5Tget_class(d.type.get()) == H5T_INTEGER && H5Tget_sign(d.type.get()) != H5T_SGN_NONE)
      throw Error(ErrorKind::snapshot, where(rel), expected_found("uint8", type_name(d.type.get())));
  }
  return read_dataset_impl<uint8_t>(rel, H5T_INTEGER, 1, "uint8", H5T_NATIVE_UINT8, dims);
}

std::vector<double> Group::read_dataset_f64(const std::string& rel, std::vector<int64_t>* dims) const {
  return read_dataset_impl<double>(rel, H5T_FLOAT, 8, "float64", H5T_NATIVE_DOUBLE, dims);
}

Tensor Group::read_tensor(const std::string& rel) const {
  Tensor t;
  t.data = read_dataset_f32(rel, &t.dims);
  return t;
}

// --- format check -----------------------------------------------------------------------

int check_format(const Group& root, const std::string& expected_format, const std::vector<int>& supported_versions,
                 const FormatHints& hints) {
  const std::string at = root.where() + " attribute ";
  if (supported_versions.empty())
    throw Error(ErrorKind::internal, at + "format_version", "check_format was given no supported version");
  if (!root.has_attr("format"))
    throw Error(ErrorKind::snapshot, at + "format",
                "another program's HDF5 file: " + expected_found("'" + expected_format + "'", "no such attribute"),
                hints.other);
  const std::string format = root.read_attr_string("format");
  if (format != expected_format)
    throw Error(ErrorKind::snapshot, at + "format",
                "not a " + expected_format + " file: " + expected_found("'" + expected_format + "'", quote_untrusted(format)),
                hints.other);

  // "1", "1 or 2", "1, 2 or 3"
  std::string versions;
  for (size_t i = 0; i < supported_versions.size(); ++i)
    versions += (i == 0 ? "" : i + 1 == supported_versions.size() ? " or " : ", ") + std::to_string(supported_versions[i]);
  if (!root.has_attr("format_version"))
    throw Error(ErrorKind::snapshot, at + "format_version", expected_found(versions, "no such attribute"), hints.other);
  const int version = root.read_attr_int("format_version");
  if (version > supported_versions.back())
    throw Error(ErrorKind::snapshot, at + "format_version",
                "written by a newer deconvscope: " + expected_found(versions, std::to_string(version)), hints.newer);
  if (version < 1)
    throw Error(ErrorKind::snapshot, at + "format_version",
                "not a version any deconvscope writes: " + expected_found(versions, std::to_string(version)),
                hints.other);
  if (std::find(supported_versions.begin(), supported_versions.end(), version) == supported_versions.end())
    throw Error(ErrorKind::snapshot, at + "format_version",
                "written by an older deconvscope: " + expected_found(versions, std::to_string(version)), hints.older);
  return version;
}

int check_format(const Group& root, const std::string& format, int max_version, const std::string& command) {
  std::vector<int> versions;
  for (int v = 1; v <= max_version; ++v) versions.push_back(v);
  FormatHints hints;
  hints.other = "is this a file of deconvscope " + command + "?";
  hints.newer = "written by a newer deconvscope? recompute it with deconvscope " + command;
  hints.older = "recompute it with deconvscope " + command;
  return check_format(root, format, versions, hints);
}

}  // namespace ds::h5
