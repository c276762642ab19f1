// IDX reader for MNIST and Fashion-MNIST: an idx3 image file (N, H, W) and an idx1 label
// file (N), each either gzipped or plain (zlib's gz* functions read both transparently).
// Every header field is checked against what the file really holds before it is trusted:
// the pixels are read in chunks, so a corrupt header cannot make us allocate more than the
// file actually contains. Leaves out other IDX element types (only unsigned bytes) and
// label sets of more than 10 classes, which no supported dataset uses.
#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "deconvscope/core/error.hpp"
#include "deconvscope/data/dataset.hpp"

namespace ds {

namespace {

constexpr uint32_t kImagesMagic = 0x00000803;  // unsigned byte, 3 dimensions
constexpr uint32_t kLabelsMagic = 0x00000801;  // unsigned byte, 1 dimension
constexpr int kIdxClasses = 10;                // MNIST and Fashion-MNIST
constexpr uint32_t kMaxSide = 1u << 16;        // no image in an IDX file is wider than this

std::string hex32(uint32_t v) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "0x%08X", v);
  return buf;
}

// A gzFile that closes itself and turns zlib's errors into ds::Error naming the file.
class GzReader {
 public:
  explicit GzReader(const std::string& path) : path_(path) {
    std::error_code ec;
    if (!std::filesystem::is_regular_file(path, ec))
      throw Error(ErrorKind::data, path, "no such file");
    file_ = gzopen(path.c_str(), "rb");
    if (!file_) throw Error(ErrorKind::data, path, std::string("cannot open: ") + std::strerror(errno));
    gzbuffer(file_, 1u << 18);
  }
  ~GzReader() {
    if (file_) gzclose(file_);
  }
  GzReader(const GzReader&) = delete;
  GzReader& operator=(const GzReader&) = delete;

  // Reads up to n bytes into dst and returns how many it got; fewer only at the end of
  // the data. A corrupt gzip stream is an error, a truncated one is a short read.
  size_t read(uint8_t* dst, size_t n) {
    size_t got = 0;
    while (got < n) {
      const unsigned chunk = unsigned(std::min<size_t>(n - got, size_t(1) << 24));
      const int r = gzread(file_, dst + got, chunk);
      if (r < 0) throw Error(ErrorKind::data, path_, "corrupt gzip data: " + zlib_message(),
                             "download the file again");
      if (r == 0) break;
      got += size_t(r);
    }
    return got;
  }

  // Why the last read came up short: the gzip stream ends before its trailer, or the file
  // simply holds fewer bytes than the header promises.
  std::string short_read_reason() {
    int errnum = Z_OK;
    gzerror(file_, &errnum);
    return errnum == Z_BUF_ERROR ? "gzip stream ends early (truncated download?)" : "file is truncated";
  }

  // Bytes the file can hold at most after what was read so far, when it is plain (not
  // gzipped) and so its size on disk is its content; SIZE_MAX for a gzip stream.
  size_t plain_remaining(size_t already_read) {
    if (!gzdirect(file_)) return SIZE_MAX;
    std::error_code ec;
    const auto size = std::filesystem::file_size(path_, ec);
    if (ec) return SIZE_MAX;
    return size > already_read ? size_t(size - already_read) : 0;
  }

 private:
  std::string zlib_message() {
    int errnum = Z_OK;
    const char* msg = gzerror(file_, &errnum);
    return msg ? msg : "unknown zlib error";
  }

  std::string path_;
  gzFile file_ = nullptr;
};

uint32_t big_endian32(const uint8_t* p) {
  return (uint32_t(p[0]) << 24) | (uint32_t(p[1]) << 16) | (uint32_t(p[2]) << 8) | uint32_t(p[3]);
}

// Reads the magic and `ndims` sizes of an IDX header; checks the magic.
std::vector<uint32_t> read_header(GzReader& in, const std::string& path, uint32_t magic, int ndims,
                                  const char* what) {
  const size_t header_bytes = 4 * size_t(1 + ndims);
  uint8_t buf[16];
  const size_t got = in.read(buf, header_bytes);
  if (got < 4)
    throw Error(ErrorKind::data, path,
                std::string("not an IDX ") + what + " file: " +
                    expected_found(std::to_string(header_bytes) + "-byte header",
                                   std::to_string(got) + " bytes"));
  const uint32_t found_magic = big_endian32(buf);
  if (found_magic != magic)
    throw Error(ErrorKind::data, path,
                std::string("wrong magic number for an IDX ") + what + " file: " +
                    expected_found(hex32(magic), hex32(found_magic)),
                "data.path must hold the MNIST-format files train-images-idx3-ubyte, "
                "train-labels-idx1-ubyte, t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte");
  if (got < header_bytes)
    throw Error(ErrorKind::data, path,
                std::string("truncated IDX header: ") +
                    expected_found(std::to_string(header_bytes) + " bytes", std::to_string(got)));
  std::vector<uint32_t> dims;
  for (int i = 0; i < ndims; ++i) dims.push_back(big_endian32(buf + 4 * (1 + i)));
  return dims;
}

// Reads exactly `want` bytes of payload into a vector grown in chunks, so that the
// allocation follows the bytes really present rather than the header's promise.
std::vector<uint8_t> read_payload(GzReader& in, const std::string& path, size_t header_bytes,
                                  size_t want, const char* what) {
  std::vector<uint8_t> out;
  const size_t room = in.plain_remaining(header_bytes);
  if (room != SIZE_MAX) {
    if (room < want)
      throw Error(ErrorKind::data, path,
                  "file is truncated: " + expected_found(std::to_string(want) + " bytes of " + what +
                                                             " after the header",
                                                         std::to_string(room) + " bytes"),
                  "download the file again");
    out.reserve(want);
  }
  constexpr size_t kChunk = size_t(16) << 20;
  size_t have = 0;
  while (have < want) {
    const size_t n = std::min(kChunk, want - have);
    out.resize(have + n);
    const size_t got = in.read(out.data() + have, n);
    have += got;
    if (got < n) {
      throw Error(ErrorKind::data, path,
                  in.short_read_reason() + ": " +
                      expected_found(std::to_string(want) + " bytes of " + what + " after the header",
                                     std::to_string(have) + " bytes"),
                  "download the file again");
    }
  }
  return out;
}

}  // namespace

Dataset read_idx_pair(const std::string& images_path, const std::string& labels_path, int64_t limit) {
  GzReader images(images_path);
  GzReader labels(labels_path);
  const std::vector<uint32_t> idims = read_header(images, images_path, kImagesMagic, 3, "images");
  const std::vector<uint32_t> ldims = read_header(labels, labels_path, kLabelsMagic, 1, "labels");
  const uint32_t n_images = idims[0], height = idims[1], width = idims[2];
  const uint32_t n_labels = ldims[0];

  if (height == 0 || width == 0 || height > kMaxSide || width > kMaxSide)
    throw Error(ErrorKind::data, images_path,
                "implausible image size in the header: " +
                    expected_found("1.." + std::to_string(kMaxSide) + " per side",
                                   std::to_string(height) + "x" + std::to_string(width)));
  if (n_images != n_labels)
    throw Error(ErrorKind::data, images_path + " and " + labels_path,
                "label count does not match image count: " +
                    expected_found(std::to_string(n_images) + " labels (as many as images)",
                                   std::to_string(n_labels)),
                "the two files must come from the same split (train-* with train-*, t10k-* with t10k-*)");

  const size_t n = limit > 0 ? std::min<size_t>(n_images, size_t(limit)) : n_images;
  const size_t image_bytes = size_t(height) * width;

  Dataset d;
  d.channels = 1;
  d.height = int(height);
  d.width = int(width);
  d.num_classes = kIdxClasses;
  d.source = images_path;
  d.pixels = read_payload(images, images_path, 16, n * image_bytes, "pixels");
  const std::vector<uint8_t> raw_labels = read_payload(labels, labels_path, 8, n, "labels");
  d.labels.resize(n);
  for (size_t i = 0; i < n; ++i) {
    if (raw_labels[i] >= kIdxClasses)
      throw Error(ErrorKind::data, labels_path,
                  "label of image " + std::to_string(i) + " is out of range: " +
                      expected_found("0.." + std::to_string(kIdxClasses - 1), std::to_string(raw_labels[i])));
    d.labels[i] = raw_labels[i];
  }
  return d;
}

}  // namespace ds
