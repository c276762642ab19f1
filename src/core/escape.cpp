// See include/deconvscope/core/escape.hpp.
#include "deconvscope/core/escape.hpp"

#include <cstdint>
#include <cstdio>

namespace ds {

size_t printable_utf8_length(std::string_view s, size_t i) {
  const auto b = [&](size_t k) { return uint8_t(s[i + k]); };
  const uint8_t c = b(0);
  size_t n = 0;
  uint32_t cp = 0;
  if (c >= 0xC2 && c <= 0xDF) {
    n = 2;
    cp = c & 0x1F;
  } else if (c >= 0xE0 && c <= 0xEF) {
    n = 3;
    cp = c & 0x0F;
  } else if (c >= 0xF0 && c <= 0xF4) {
    n = 4;
    cp = c & 0x07;
  } else {
    return 0;
  }
  if (i + n > s.size()) return 0;
  for (size_t k = 1; k < n; ++k) {
    if ((b(k) & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (b(k) & 0x3F);
  }
  const uint32_t min_cp[] = {0, 0, 0x80, 0x800, 0x10000};
  if (cp < min_cp[n] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;  // overlong, surrogate
  if (cp < 0xA0) return 0;  // C1 controls
  return n;
}

std::string escape_untrusted(std::string_view s, size_t max_bytes) {
  std::string out;
  const size_t end = s.size() > max_bytes ? max_bytes : s.size();
  for (size_t i = 0; i < end;) {
    const uint8_t c = uint8_t(s[i]);
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c == '\t') {
      out += "\\t";
    } else if (c >= 0x20 && c < 0x7F) {
      out += char(c);
    } else if (const size_t n = c >= 0x80 ? printable_utf8_length(s, i) : 0; n > 0 && i + n <= end) {
      out.append(s.substr(i, n));
      i += n;
      continue;
    } else {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", unsigned(c));
      out += buf;
    }
    ++i;
  }
  if (s.size() > max_bytes) out += "...(" + std::to_string(s.size()) + " bytes in all)";
  return out;
}

std::string quote_untrusted(std::string_view s, size_t max_bytes) {
  return "'" + escape_untrusted(s, max_bytes) + "'";
}

}  // namespace ds
