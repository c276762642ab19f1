// Typed errors; see include/deconvscope/core/error.hpp. Every message is made safe for a
// terminal here, in one place, because its parts often carry bytes from files and
// configs (a layer name, an HDF5 attribute, a path): see printable().
#include "deconvscope/core/error.hpp"

#include "deconvscope/core/escape.hpp"

#include <cstdio>

namespace ds {

std::string printable(const std::string& s, size_t max_bytes) {
  std::string out;
  size_t i = 0;
  for (; i < s.size() && out.size() < max_bytes; ++i) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c < 0x7f) {
      out += char(c);
      continue;
    }
    if (const size_t n = c >= 0x80 ? printable_utf8_length(s, i) : 0) {
      out.append(s, i, n);
      i += n - 1;
      continue;
    }
    char buf[8];
    std::snprintf(buf, sizeof buf, "\\x%02x", c);
    out += buf;
  }
  if (i < s.size()) out += "... (" + std::to_string(s.size()) + " bytes in all)";
  return out;
}

namespace {
// Each part is cut at 4 KiB: an error is one line, even when it quotes a huge value.
constexpr size_t kMaxPartBytes = 4096;

std::string compose(const std::string& where, const std::string& problem, const std::string& hint) {
  std::string s = where.empty() ? printable(problem, kMaxPartBytes)
                                : printable(where, kMaxPartBytes) + ": " + printable(problem, kMaxPartBytes);
  if (!hint.empty()) s += " (hint: " + printable(hint, kMaxPartBytes) + ")";
  return s;
}
}  // namespace

Error::Error(ErrorKind kind, std::string where, std::string problem, std::string hint)
    : std::runtime_error(compose(where, problem, hint)),
      kind_(kind), where_(std::move(where)), problem_(std::move(problem)), hint_(std::move(hint)) {}

int Error::exit_code() const { return exit_code_of(kind_); }

int exit_code_of(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::config:
    case ErrorKind::data:
    case ErrorKind::snapshot:
    case ErrorKind::shape:
    case ErrorKind::usage: return 2;
    case ErrorKind::io: return 1;
    case ErrorKind::divergence: return 3;
    case ErrorKind::interrupted: return 130;
    case ErrorKind::internal: return 70;  // sysexits.h EX_SOFTWARE
  }
  return 70;  // not an enumerator: a cast gone wrong, itself a bug
}

std::string expected_found(const std::string& expected, const std::string& found) {
  return "expected " + expected + ", found " + found;
}

}  // namespace ds
