// The checksum header in the HDF5 user block; see include/deconvscope/io/h5_checksum.hpp.
// SHA-256 comes from OpenSSL's libcrypto: libhdf5 already loads it into the process (through
// libcurl), libhdf5-dev already installs its headers, and a hand-written hash would be new
// code to trust where a widely reviewed one exists.
#include "deconvscope/io/h5_checksum.hpp"

#include <fcntl.h>
#include <openssl/evp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "deconvscope/core/error.hpp"
#include "deconvscope/core/regular_file.hpp"
#include "deconvscope/core/escape.hpp"

namespace ds::h5 {

namespace {

constexpr const char kMagic[] = "deconvscope checksum\n";
constexpr size_t kMagicSize = sizeof kMagic - 1;
// A header is recognised with up to this many bytes of its magic changed.
constexpr size_t kMagicTolerance = 6;

std::string errno_text(int err) { return std::strerror(err); }

}  // namespace

std::string sha256_hex(const void* data, size_t n) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (EVP_Digest(data, n, md, &len, EVP_sha256(), nullptr) != 1 || len != 32)
    throw Error(ErrorKind::io, "SHA-256", "OpenSSL's EVP_Digest failed", "check the OpenSSL installation");
  static const char* hex = "0123456789abcdef";
  std::string out;
  for (unsigned i = 0; i < len; ++i) {
    out += hex[md[i] >> 4];
    out += hex[md[i] & 15];
  }
  return out;
}

std::string checksum_header(const char* content, size_t n) {
  std::string h = std::string(kMagic) + "version " + std::to_string(kChecksumVersion) + "\nlength " +
                  std::to_string(n) + "\nsha256 " + sha256_hex(content, n) + "\n";
  h.resize(kUserBlockSize, '\0');
  return h;
}

void seal_image(std::vector<char>& image) {
  // HDF5 1.10's H5Fget_file_image returns the file from its superblock on, without the
  // user block it was created with; a build that includes the (zeroed) block is handled too.
  static const char kSignature[8] = {'\x89', 'H', 'D', 'F', '\r', '\n', '\x1a', '\n'};
  const bool starts_with_superblock = image.size() >= 8 && std::memcmp(image.data(), kSignature, 8) == 0;
  if (starts_with_superblock) image.insert(image.begin(), kUserBlockSize, '\0');
  if (image.size() < kUserBlockSize + 8 || std::memcmp(image.data() + kUserBlockSize, kSignature, 8) != 0)
    throw Error(ErrorKind::internal, "HDF5 file image", "no HDF5 superblock after the user block",
                "a deconvscope bug: files must be created with a 512-byte user block");
  const std::string h = checksum_header(image.data() + kUserBlockSize, image.size() - kUserBlockSize);
  std::memcpy(image.data(), h.data(), kUserBlockSize);
}

bool has_checksum_header(const std::vector<char>& image) {
  const size_t n = std::min(image.size(), kUserBlockSize);
  size_t differ = 0;
  for (size_t i = 0; i < kMagicSize; ++i)
    if (i >= n || image[i] != kMagic[i]) ++differ;
  if (differ <= kMagicTolerance) return true;
  const std::string block(image.data(), n);
  return block.find("\nsha256 ") != std::string::npos || block.find("\nlength ") != std::string::npos;
}

VerifiedImage verify_image(const std::string& path, const std::vector<char>& image) {
  VerifiedImage v;
  if (!has_checksum_header(image)) {
    v.content_sha256 = sha256_hex(image.data(), image.size());
    return v;
  }
  const std::string hint = "the file was damaged after deconvscope wrote it (disk, copy or edit); "
                           "restore it from a backup, or delete it and write it again";
  if (image.size() < kUserBlockSize)
    throw Error(ErrorKind::snapshot, path,
                "checksum header cut short: the file has " + std::to_string(image.size()) + " bytes", hint);
  // Parse the fields, then demand the whole block be exactly what they produce.
  const std::string block(image.data(), kUserBlockSize);
  auto field = [&](const std::string& key) -> std::string {
    const size_t at = block.find("\n" + key + " ");
    if (at == std::string::npos) return {};
    const size_t from = at + key.size() + 2, to = block.find('\n', from);
    return to == std::string::npos ? std::string() : block.substr(from, to - from);
  };
  const std::string version = field("version"), length = field("length"), sum = field("sha256");
  if (version != std::to_string(kChecksumVersion) && !version.empty() &&
      version.find_first_not_of("0123456789") == std::string::npos && version.size() < 9 &&
      std::stoi(version) > kChecksumVersion)
    throw Error(ErrorKind::snapshot, path, "checksum header version " + version + " is newer than this build reads (" +
                                               std::to_string(kChecksumVersion) + ")",
                "upgrade deconvscope to read this file");
  const bool length_ok = !length.empty() && length.size() < 19 && length.find_first_not_of("0123456789") == std::string::npos;
  const std::string expected_block =
      length_ok && sum.size() == 64
          ? std::string(kMagic) + "version " + std::to_string(kChecksumVersion) + "\nlength " + length + "\nsha256 " + sum + "\n"
          : std::string();
  std::string padded = expected_block;
  padded.resize(kUserBlockSize, '\0');
  if (expected_block.empty() || padded != block)
    throw Error(ErrorKind::snapshot, path, "checksum header damaged: " + quote_untrusted(block.substr(0, 120), 120), hint);
  const size_t content = image.size() - kUserBlockSize;
  if (std::to_string(content) != length)
    throw Error(ErrorKind::snapshot, path,
                "wrong length: " + expected_found(length + " bytes after the checksum header", std::to_string(content)),
                content < std::stoull(length) ? "the file was cut short (a copy or download that did not finish?); " + hint
                                              : hint);
  v.content_sha256 = sha256_hex(image.data() + kUserBlockSize, content);
  if (v.content_sha256 != sum)
    throw Error(ErrorKind::snapshot, path, "checksum mismatch: " + expected_found("sha256 " + sum, v.content_sha256),
                hint);
  v.sealed = true;
  return v;
}

std::vector<char> read_whole_file(const std::string& path) {
  FileRules rules;
  rules.kind = ErrorKind::snapshot;
  rules.what = "an HDF5 file";
  rules.max_bytes = kMaxHdf5FileBytes;
  return read_regular_file(path, rules);
}

std::string content_sha256_of(const std::string& path) {
  const std::vector<char> image = read_whole_file(path);
  return verify_image(path, image).content_sha256;
}

void reseal_file(const std::string& path) {
  std::vector<char> image;
  try {
    image = read_whole_file(path);
  } catch (const Error& e) {
    throw Error(ErrorKind::io, e.where(), e.problem());
  }
  if (image.size() < kUserBlockSize || !has_checksum_header(image)) return;
  seal_image(image);
  const int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0 || ::pwrite(fd, image.data(), kUserBlockSize, 0) != ssize_t(kUserBlockSize)) {
    const int err = errno;
    if (fd >= 0) ::close(fd);
    throw Error(ErrorKind::io, path, "cannot rewrite the checksum header: " + errno_text(err));
  }
  if (::close(fd) != 0) throw Error(ErrorKind::io, path, "cannot rewrite the checksum header: " + errno_text(errno));
}

}  // namespace ds::h5
