// Printing bytes that came from a file (an attribute, a config value) in a message without
// letting them act on the terminal: control bytes, invalid UTF-8 and NUL become escapes,
// and very long values are cut, so an error line stays one readable line.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace ds {

// Length of the well-formed UTF-8 sequence at s[i] whose code point is printable (U+00A0 on:
// C1 controls move terminals around too), or 0. Shared by escape_untrusted and printable().
size_t printable_utf8_length(std::string_view s, size_t i);

// Printable ASCII and well-formed UTF-8 (code points from U+00A0 on) are kept; backslash,
// \n, \r, \t become \\ \n \r \t; every other byte (C0/C1 controls, DEL, NUL, invalid or
// overlong UTF-8) becomes \xNN. Past max_bytes of input the rest is replaced by
// "...(<n> bytes in all)".
std::string escape_untrusted(std::string_view s, size_t max_bytes = 120);

// escape_untrusted in single quotes: 'conv1', for "found '<value>'" messages.
std::string quote_untrusted(std::string_view s, size_t max_bytes = 120);

}  // namespace ds
