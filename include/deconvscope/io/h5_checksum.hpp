// The checksum every HDF5 file deconvscope writes carries in its 512-byte HDF5 user block:
// a short text header (magic, version, content length, SHA-256 of every byte after the
// user block) that readers verify before HDF5 parses a single byte, because libhdf5 does
// not survive corrupt metadata (a flipped byte can crash it). HDF5 itself, h5py and every
// other reader skip the user block. Layout and reasons: docs/reliability.md.
// Left out: keyed (HMAC) signatures; this guards against accidents, not against someone
// who rewrites the header too.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace ds::h5 {

// Bytes reserved at the start of every file deconvscope writes (H5Pset_userblock).
inline constexpr size_t kUserBlockSize = 512;
inline constexpr int kChecksumVersion = 1;

// Lowercase hex SHA-256 of n bytes (OpenSSL's libcrypto).
std::string sha256_hex(const void* data, size_t n);

// The user block for `content` (the bytes after the user block), kUserBlockSize bytes:
// "deconvscope checksum\nversion 1\nlength <n>\nsha256 <hex>\n", NUL-padded.
std::string checksum_header(const char* content, size_t n);

// Puts checksum_header in front of an HDF5 file image created with a user block of
// kUserBlockSize bytes (H5Fget_file_image leaves the block out; it is added back).
void seal_image(std::vector<char>& image);

// Does this file image start with our checksum header (even a damaged one)? A header is
// recognised by its magic line with at most a few bytes changed, or by its "sha256 " line,
// so that one flipped byte in the magic cannot make a damaged file pass as another tool's.
bool has_checksum_header(const std::vector<char>& image);

struct VerifiedImage {
  bool sealed = false;         // it carried our header (and it matched)
  std::string content_sha256;  // sealed: the verified checksum; else SHA-256 of the whole file
};

// Verifies a whole file image read from `path`. A file with our header whose header,
// length or checksum does not match is refused: ds::Error(snapshot) naming the file and
// what differs. A file without it (another tool's) passes unchecked.
VerifiedImage verify_image(const std::string& path, const std::vector<char>& image);

// The largest HDF5 file deconvscope reads. A file is read whole, and HDF5 keeps a copy of
// it: a 40 GiB sparse "snapshot" must be refused naming its size, not die in std::bad_alloc.
// The largest files written are analysis.h5 of big runs, tens of MiB.
inline constexpr uint64_t kMaxHdf5FileBytes = uint64_t(2) << 30;

// Reads a whole regular file of at most kMaxHdf5FileBytes without blocking on a FIFO
// (core/regular_file.hpp), refusing folders, FIFOs and devices: ds::Error(snapshot).
std::vector<char> read_whole_file(const std::string& path);

// The SHA-256 of a file's content as File::open_read would report it (verified for a
// sealed file, of the whole file otherwise), without parsing it: a cache key.
std::string content_sha256_of(const std::string& path);

// Rewrites the header of a sealed file on disk after it was changed in place
// (File::open_readwrite); files without our header are left alone. ds::Error(io).
void reseal_file(const std::string& path);

}  // namespace ds::h5
