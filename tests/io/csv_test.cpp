// Tests of the one CSV writer (io/csv.hpp) that the analysis, health and report tables
// share: the exact bytes of a quoted field and of a written file, the reader getting back
// what the writer wrote, and a refused write naming the file and leaving nothing behind.
#include "deconvscope/io/csv.hpp"

#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "deconvscope/core/error.hpp"
#include "io/io_test_util.hpp"

namespace ds {
namespace {

class CsvTest : public test::TempDirTest {};

std::string bytes_of(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

TEST(CsvQuote, QuotesOnlyWhereNeeded) {
  EXPECT_EQ(csv_quote("conv1"), "conv1");
  EXPECT_EQ(csv_quote(""), "");
  EXPECT_EQ(csv_quote("a b;c"), "a b;c");
  EXPECT_EQ(csv_quote("a,b"), "\"a,b\"");
  EXPECT_EQ(csv_quote("say \"hi\""), "\"say \"\"hi\"\"\"");
  EXPECT_EQ(csv_quote("two\nlines"), "\"two\nlines\"");
  EXPECT_EQ(csv_quote("cr\r"), "\"cr\r\"");
}

// The bytes the analysis and health tables were written with before the writer moved to
// io/: header, '\n', rows as the caller writes them, nothing else (no trailing blank line,
// no '\r').
TEST_F(CsvTest, WritesExactlyTheHeaderAndTheRows) {
  const std::string path = file("t.csv");
  write_csv(path, "layer,epoch,value", [](std::ostream& out) {
    out << csv_quote("conv1") << ',' << 0 << ',' << "0.5" << '\n';
    out << csv_quote("odd,name") << ',' << 2 << ',' << "nan" << '\n';
  });
  EXPECT_EQ(bytes_of(path), "layer,epoch,value\nconv1,0,0.5\n\"odd,name\",2,nan\n");
  write_csv(file("empty.csv"), "a,b", [](std::ostream&) {});
  EXPECT_EQ(bytes_of(file("empty.csv")), "a,b\n");
}

TEST_F(CsvTest, ReaderGetsBackWhatTheWriterWrote) {
  const std::vector<std::string> names = {"conv1", "a,b", "say \"hi\"", ""};
  const std::string path = file("names.csv");
  write_csv(path, "name,index", [&](std::ostream& out) {
    for (size_t i = 0; i < names.size(); ++i) out << csv_quote(names[i]) << ',' << i << '\n';
  });
  const CsvTable t = read_csv(path);
  EXPECT_EQ(t.header, (std::vector<std::string>{"name", "index"}));
  ASSERT_EQ(t.rows.size(), names.size());
  for (size_t i = 0; i < names.size(); ++i) {
    EXPECT_EQ(t.rows[i][0], names[i]);
    EXPECT_EQ(csv_number(t.rows[i][1], "index"), double(i));
  }
}

TEST_F(CsvTest, RefusedWriteNamesTheFileAndLeavesNothing) {
  const std::string path = file("no-such-folder/t.csv");
  try {
    write_csv(path, "a", [](std::ostream& out) { out << "1\n"; });
    ADD_FAILURE() << "wrote into a missing folder";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::io);
    EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();
  }
  EXPECT_TRUE(std::filesystem::is_empty(dir()));
}

}  // namespace
}  // namespace ds
