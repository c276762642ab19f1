// escape_untrusted: bytes from files are printed so that they cannot act on a terminal
// or cut a message short, and long values are bounded.
#include "deconvscope/core/escape.hpp"

#include <gtest/gtest.h>

namespace ds {
namespace {

TEST(Escape, PrintableTextAndUtf8AreKept) {
  EXPECT_EQ(escape_untrusted("conv1 out=32"), "conv1 out=32");
  EXPECT_EQ(escape_untrusted("h\xc3\xa9llo \xe2\x86\x92"), "h\xc3\xa9llo \xe2\x86\x92");  // é, →
  EXPECT_EQ(quote_untrusted("x"), "'x'");
}

TEST(Escape, ControlBytesNulAndInvalidUtf8AreEscaped) {
  EXPECT_EQ(escape_untrusted(std::string("a\x1b[31mb\x07", 8)), "a\\x1b[31mb\\x07");
  EXPECT_EQ(escape_untrusted(std::string("a\0b", 3)), "a\\x00b");
  EXPECT_EQ(escape_untrusted("tab\there\nnew\\"), "tab\\there\\nnew\\\\");
  EXPECT_EQ(escape_untrusted("\x7f"), "\\x7f");
  EXPECT_EQ(escape_untrusted("\xc2\x9b"), "\\xc2\\x9b");  // U+009B, a C1 control (CSI)
  EXPECT_EQ(escape_untrusted("\xc0\xaf"), "\\xc0\\xaf");  // overlong '/'
  EXPECT_EQ(escape_untrusted("\xe2\x86"), "\\xe2\\x86");  // cut short
  EXPECT_EQ(escape_untrusted("\xed\xa0\x80"), "\\xed\\xa0\\x80");  // a surrogate
}

TEST(Escape, LongValuesAreCut) {
  const std::string big(10 * 1000 * 1000, 'a');
  const std::string e = escape_untrusted(big, 20);
  EXPECT_EQ(e, std::string(20, 'a') + "...(10000000 bytes in all)");
  // A multi-byte character cut by the limit is escaped, not split into raw bytes.
  EXPECT_EQ(escape_untrusted("ab\xc3\xa9", 3), "ab\\xc3...(4 bytes in all)");
}

}  // namespace
}  // namespace ds
