// A small RAII layer over the HDF5 C API, shared by the snapshot and analysis writers:
// files, nested groups, typed attributes (scalars, arrays, variable-length UTF-8 strings),
// float32/int32/int64/uint8 datasets of any rank, and the format/version check every
// reader of a deconvscope file makes first. Every failure becomes a ds::Error whose
// `where` is "<file>: <object path>": ErrorKind::snapshot when reading (the file is bad),
// ErrorKind::io when writing (the disk refused). HDF5's own error printing is switched off.
// Left out: partial (hyperslab) I/O, compound types, references; nothing here needs them.
#pragma once

#include <hdf5.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "deconvscope/core/tensor.hpp"

namespace ds::h5 {

// How long the child that parses a file first may take (open_read). A snapshot parses in
// milliseconds and the largest analysis.h5 in about a second; a minute is a hang.
inline constexpr int kParseTimeoutS = 60;

// Owns one hid_t and closes it with the matching H5?close. Move-only.
class Handle {
 public:
  using Closer = herr_t (*)(hid_t);
  Handle() = default;
  Handle(hid_t id, Closer close) : id_(id), close_(close) {}
  Handle(Handle&& o) noexcept : id_(o.id_), close_(o.close_) { o.id_ = H5I_INVALID_HID; }
  Handle& operator=(Handle&& o) noexcept;
  Handle(const Handle&) = delete;
  Handle& operator=(const Handle&) = delete;
  ~Handle() { reset(); }

  void reset();
  // Gives up ownership without closing.
  hid_t release() {
    hid_t id = id_;
    id_ = H5I_INVALID_HID;
    return id;
  }
  hid_t get() const { return id_; }
  bool valid() const { return id_ >= 0; }

 private:
  hid_t id_ = H5I_INVALID_HID;
  Closer close_ = nullptr;
};

// A group (the root group included). Relative names may be nested ("momentum/conv1").
// Copies share the same open HDF5 group.
class Group {
 public:
  Group() = default;

  hid_t id() const { return handle_ ? handle_->get() : H5I_INVALID_HID; }
  const std::string& file() const { return file_; }
  const std::string& path() const { return path_; }  // "/" or "/layers/conv1"
  std::string path_of(const std::string& rel) const;  // "/layers/conv1/weights"
  std::string where() const { return file_ + ": " + path_; }
  std::string where(const std::string& rel) const { return file_ + ": " + path_of(rel); }

  // --- structure --------------------------------------------------------------------
  // Creates the group and any missing parents; links keep their creation order.
  Group create_group(const std::string& rel) const;
  // Throws ErrorKind::snapshot "missing group" / "is not a group".
  Group open_group(const std::string& rel) const;
  bool exists(const std::string& rel) const;  // any object (group, dataset) at rel
  bool is_group(const std::string& rel) const;
  bool is_dataset(const std::string& rel) const;
  // Names of the direct children, in creation order where the file tracks it, else by name.
  std::vector<std::string> children() const;

  // --- attributes (writing replaces an attribute of the same name) -----------------
  bool has_attr(const std::string& name) const;
  std::vector<std::string> attr_names() const;

  void write_attr_string(const std::string& name, const std::string& value) const;
  void write_attr_strings(const std::string& name, const std::vector<std::string>& values) const;
  void write_attr_int(const std::string& name, int32_t value) const;      // int32 scalar
  void write_attr_int64(const std::string& name, int64_t value) const;    // int64 scalar
  void write_attr_ints(const std::string& name, const std::vector<int32_t>& values) const;  // int32 (n)
  void write_attr_int64s(const std::string& name, const std::vector<int64_t>& values) const;  // int64 (n)
  void write_attr_float(const std::string& name, float value) const;      // float32 scalar
  void write_attr_double(const std::string& name, double value) const;    // float64 scalar
  void write_attr_floats(const std::string& name, const std::vector<float>& values) const;  // float32 (n)

  // Readers check the type class (string / integer / float) and, for scalars, that the
  // attribute holds exactly one value. Integers of any width are accepted and range-checked.
  std::string read_attr_string(const std::string& name) const;
  std::vector<std::string> read_attr_strings(const std::string& name) const;
  int32_t read_attr_int(const std::string& name) const;
  int64_t read_attr_int64(const std::string& name) const;
  std::vector<int32_t> read_attr_ints(const std::string& name) const;
  std::vector<int64_t> read_attr_int64s(const std::string& name) const;
  float read_attr_float(const std::string& name) const;
  double read_attr_double(const std::string& name) const;
  std::vector<float> read_attr_floats(const std::string& name) const;

  // --- datasets -----------------------------------------------------------------------
  // data.size() must equal the product of dims (checked). deflate_level 1..9 stores the
  // dataset chunked and gzip-compressed; 0 stores it contiguous.
  void write_dataset(const std::string& rel, const std::vector<int64_t>& dims,
                     const std::vector<float>& data, int deflate_level = 0) const;    // float32
  void write_dataset(const std::string& rel, const std::vector<int64_t>& dims,
                     const std::vector<int32_t>& data, int deflate_level = 0) const;  // int32
  void write_dataset(const std::string& rel, const std::vector<int64_t>& dims,
                     const std::vector<int64_t>& data, int deflate_level = 0) const;  // int64
  void write_dataset(const std::string& rel, const std::vector<int64_t>& dims,
                     const std::vector<uint8_t>& data, int deflate_level = 0) const;  // uint8 (flags)
  void write_dataset(const std::string& rel, const std::vector<int64_t>& dims,
                     const std::vector<double>& data, int deflate_level = 0) const;   // float64
  void write_tensor(const std::string& rel, const Tensor& t, int deflate_level = 0) const {
    write_dataset(rel, t.dims, t.data, deflate_level);
  }

  // Dims of a dataset without reading it (check shapes before allocating).
  std::vector<int64_t> dataset_dims(const std::string& rel) const;
  // Readers check the stored type exactly (float32 = float class of 4 bytes, ...) and say
  // what they expected and found. dims, if given, receives the dataset's dims.
  std::vector<float> read_dataset_f32(const std::string& rel, std::vector<int64_t>* dims = nullptr) const;
  std::vector<int32_t> read_dataset_i32(const std::string& rel, std::vector<int64_t>* dims = nullptr) const;
  std::vector<int64_t> read_dataset_i64(const std::string& rel, std::vector<int64_t>* dims = nullptr) const;
  // uint8 also checks the sign: an int8 dataset would read -1 as 255.
  std::vector<uint8_t> read_dataset_u8(const std::string& rel, std::vector<int64_t>* dims = nullptr) const;
  std::vector<double> read_dataset_f64(const std::string& rel, std::vector<int64_t>* dims = nullptr) const;
  Tensor read_tensor(const std::string& rel) const;

 private:
  friend class File;
  Group(std::shared_ptr<Handle> h, std::string file, std::string path)
      : handle_(std::move(h)), file_(std::move(file)), path_(std::move(path)) {}

  template <class T>
  void write_dataset_impl(const std::string& rel, const std::vector<int64_t>& dims,
                          const std::vector<T>& data, hid_t file_type, hid_t mem_type,
                          int deflate_level) const;
  template <class T>
  std::vector<T> read_dataset_impl(const std::string& rel, H5T_class_t cls, size_t bytes,
                                   const char* type_name, hid_t mem_type,
                                   std::vector<int64_t>* dims) const;
  void write_attr_raw(const std::string& name, hid_t file_type, hid_t mem_type, const void* data,
                      const std::vector<hsize_t>* dims) const;
  std::vector<int64_t> read_attr_integers(const std::string& name) const;
  std::vector<double> read_attr_floating(const std::string& name) const;

  std::shared_ptr<Handle> handle_;
  std::string file_;
  std::string path_ = "/";
};

// An open HDF5 file. Close it with close() when writing, so that flush and close errors
// are reported; the destructor closes quietly.
//
// A created file is built in memory (HDF5's core driver) with a 512-byte user block, and
// written to disk by close() with a checksum header in that block (h5_checksum.hpp):
// HDF5 never sees a disk error, because after one (a full disk) it can neither close the
// file nor exit the process cleanly. create() already makes the (empty) file on disk, so
// a bad path fails at once; a file destroyed without close() stays empty there.
class File {
 public:
  // Creates (truncating) a file for writing; failures are ErrorKind::io.
  static File create(const std::string& path);
  // Opens an existing file read-only; failures are ErrorKind::snapshot. The file must be a
  // regular file (never blocks on a FIFO) of at most kMaxHdf5FileBytes; it is read whole
  // and, if it carries deconvscope's checksum header (h5_checksum.hpp), verified before
  // HDF5 parses it from memory. Then, sealed or not, a forked child opens the same bytes,
  // refuses objects that reach outside the file (refuse_outside_references) and runs
  // `parse` (parse_in_child); only if it survives does this process open them, with the
  // same check. One fork per file: `parse` should be the whole of the reader.
  static File open_read(const std::string& path, const std::function<void(const Group&)>& parse = {},
                        int timeout_s = kParseTimeoutS);
  // Opens an existing file for reading and writing (tests that edit files); failures are
  // ErrorKind::io. A file with the checksum header is verified first and re-sealed by close().
  static File open_readwrite(const std::string& path);

  File(File&& o) noexcept
      : handle_(std::move(o.handle_)), path_(std::move(o.path_)), writable_(o.writable_), fd_(o.fd_),
        sealed_(o.sealed_), content_sha256_(std::move(o.content_sha256_)) {
    o.fd_ = -1;
  }
  File& operator=(File&& o) noexcept;
  ~File();

  const std::string& path() const { return path_; }
  // Opened files: did it carry a (verified) checksum header, and the SHA-256 of its content
  // (the verified one; for a file without the header, of the whole file).
  bool sealed() const { return sealed_; }
  const std::string& content_sha256() const { return content_sha256_; }
  hid_t id() const { return handle_.get(); }
  Group root() const;

  void flush() const;  // throws ErrorKind::io
  // Flushes and closes (a created file: writes its image to disk, without fsync; callers
  // commit with commit_file). Every Group of this file must have been destroyed by now, or
  // the data would not be fully written: that is checked and thrown as ErrorKind::io.
  void close();

 private:
  File(Handle h, std::string path, bool writable, int fd = -1)
      : handle_(std::move(h)), path_(std::move(path)), writable_(writable), fd_(fd) {}
  Handle handle_;
  std::string path_;
  bool writable_ = false;
  int fd_ = -1;  // created files: the file on disk that close() fills
  bool sealed_ = false;
  std::string content_sha256_;
};

// What a reader tells the user to do when check_format refuses a file.
struct FormatHints {
  std::string other;  // the file is not of the expected format (another program's file, a wrong path)
  std::string newer;  // its format_version is newer than this build reads
  std::string older;  // older than this build reads
};

// The check every reader of a deconvscope file makes before anything else: the root
// attributes `format` must be `expected_format` and `format_version` one of
// `supported_versions` (ascending, not empty). Throws ds::Error(snapshot) whose where is
// "<file>: / attribute format" (or format_version), saying what was expected and found,
// with the matching hint. Returns the file's version, for readers of several.
int check_format(const Group& root, const std::string& expected_format, const std::vector<int>& supported_versions,
                 const FormatHints& hints);

// Runs `parse` in a forked child that closes every descriptor but stdio (the run folder's
// lock above all), dies with this process (PR_SET_PDEATHSIG) and has `timeout_s` seconds.
// A child killed by a signal or still running at the deadline is ds::Error(snapshot)
// naming `path`; a ds::Error the child throws is thrown here as it was, so a file the child
// refused is never parsed in this process. `sealed` chooses the hint.
void parse_in_child(const std::string& path, bool sealed, const std::function<void()>& parse,
                    int timeout_s = kParseTimeoutS);

// Refuses any object through which the file would reach outside its own bytes: soft,
// external and user-defined links, datasets with external raw storage, virtual datasets.
// ds::Error(snapshot) naming "<file>: <object>". deconvscope writes none of them.
void refuse_outside_references(const File& file);

// Opens `path` for reading and returns parse(root): every reader of a deconvscope file goes
// through here, so every file is first parsed whole in a child (File::open_read).
template <class Parse>
auto read_file(const std::string& path, Parse parse) {
  const File f = File::open_read(path, [&](const Group& root) { parse(root); });
  return parse(f.root());
}

// Writes the HDF5 file `path` so that no reader ever sees half of it: creates it under a
// temporary name (io/atomic_file.hpp), lets `fill` write its contents, closes it and
// renames it into place. On any failure the temporary file is removed and the error names
// `path`, never the temporary name, with the OS error where there is one.
void write_atomically(const std::string& path, const std::function<void(File&)>& fill);

// check_format for a file of versions 1 to max_version written by `deconvscope <command>`,
// whose hints say to recompute it with that command.
int check_format(const Group& root, const std::string& format, int max_version, const std::string& command);

// True if `path` is a regular file with an HDF5 signature where HDF5 looks for one (0,
// 512, 1024, ...). Not H5Fis_hdf5, which opens the path itself and blocks on a FIFO.
bool is_hdf5(const std::string& path);

// Refuses (ds::Error(snapshot) naming the path) anything but a regular HDF5 file of at
// most kMaxHdf5FileBytes: "found a FIFO (named pipe)", "found a folder", the size, or
// "not an HDF5 file" with `hint`. Never blocks.
void require_hdf5_file(const std::string& path, const std::string& hint);

// The innermost message on HDF5's error stack (then clears it); "" when empty.
std::string last_error_message();

// "float32", "int64", "string", ... of an HDF5 type, for messages.
std::string type_name(hid_t type);

}  // namespace ds::h5
