// Every error message is safe for a terminal (issue 10, item 6): control bytes and bytes
// that are not UTF-8 are escaped, text and UTF-8 stay, a NUL does not cut the message
// off, and a huge value does not make a huge message.
#include <gtest/gtest.h>

#include <string>

#include "deconvscope/core/error.hpp"

namespace ds {
namespace {

TEST(Printable, EscapesControlsAndInvalidUtf8AndKeepsText) {
  EXPECT_EQ(printable("conv1: expected 3, found 4"), "conv1: expected 3, found 4");
  EXPECT_EQ(printable("caf\xc3\xa9 \xe2\x9c\x93"), "caf\xc3\xa9 \xe2\x9c\x93");  // UTF-8 stays
  EXPECT_EQ(printable(std::string("a\0b", 3)), "a\\x00b");
  EXPECT_EQ(printable("\x1b[2J\r\n\x7f"), "\\x1b[2J\\x0d\\x0a\\x7f");
  EXPECT_EQ(printable("\xff\xc3"), "\\xff\\xc3");           // invalid, and cut short
  EXPECT_EQ(printable("\xff\x80\x80"), "\\xff\\x80\\x80");  // 0xff never starts UTF-8
  EXPECT_EQ(printable("\xc2\x9b"), "\\xc2\\x9b");           // C1 control (CSI) in UTF-8
  EXPECT_EQ(printable("\xc0\xaf"), "\\xc0\\xaf");           // overlong '/'
  EXPECT_EQ(printable("\xed\xa0\x80"), "\\xed\\xa0\\x80");  // surrogate
  EXPECT_EQ(printable(std::string(10, 'x'), 4), "xxxx... (10 bytes in all)");
}

TEST(Printable, ErrorMessagesAreEscapedAndBounded) {
  const Error e(ErrorKind::snapshot, std::string("f.h5: attribute \0name", 21), "found '\x01\x02'", "hint\n");
  EXPECT_EQ(std::string(e.what()), "f.h5: attribute \\x00name: found '\\x01\\x02' (hint: hint\\x0a)");
  EXPECT_EQ(e.where(), std::string("f.h5: attribute \0name", 21));  // the parts stay as they were
  const Error big(ErrorKind::config, "x.cfg", "found " + std::string(10 << 20, 'n'));
  EXPECT_LT(std::string(big.what()).size(), 5000u);
  EXPECT_NE(std::string(big.what()).find("bytes in all"), std::string::npos);
}

// main() turns each kind into its exit code (docs/reliability.md, "Exit codes"); a bug of
// deconvscope's own is 70 (EX_SOFTWARE), never 2, which says the user's input was bad.
TEST(ExitCodes, EachKindHasItsCode) {
  for (ErrorKind k : {ErrorKind::config, ErrorKind::data, ErrorKind::snapshot, ErrorKind::shape, ErrorKind::usage})
    EXPECT_EQ(exit_code_of(k), 2);
  EXPECT_EQ(exit_code_of(ErrorKind::io), 1);
  EXPECT_EQ(exit_code_of(ErrorKind::divergence), 3);
  EXPECT_EQ(exit_code_of(ErrorKind::interrupted), 130);
  EXPECT_EQ(exit_code_of(ErrorKind::internal), 70);
  EXPECT_EQ(Error(ErrorKind::internal, "layer conv1", "oneDNN's dst differs").exit_code(), 70);
  EXPECT_EQ(Error(ErrorKind::shape, "layer conv1", "leaves no output").exit_code(), 2);
}

}  // namespace
}  // namespace ds
