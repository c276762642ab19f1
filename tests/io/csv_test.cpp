// Tests of the one CSV writer (io/csv.hpp) that the analysis, health and report tables
// share: the exact bytes of a quoted field and of a written file, the reader getting back
// what the writer wrote, and a refused write naming the file and leaving nothing behind.
#include "deconvscope/io/csv.hpp"

#include <cmath>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "deconvscope/core/error.hpp"
#include "deconvscope/core/number_text.hpp"
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

// The bytes every table was written with before it moved to one writer: header, '\n',
// rows, nothing else (no trailing blank line, no '\r'); fields quoted only where needed.
TEST_F(CsvTest, WritesExactlyTheHeaderAndTheRows) {
  const std::string path = file("t.csv");
  CsvWriter w("layer,epoch,value,note");
  w.add(CsvRow().text("conv1").integer(0).number(0.5).blank());
  w.add(CsvRow().text("odd,name").integer(2).number(NAN).text("x"));
  w.write(path);
  EXPECT_EQ(bytes_of(path), "layer,epoch,value,note\nconv1,0,0.5,\n\"odd,name\",2,nan,x\n");
  CsvWriter(CsvRow().text("a").text("b,c")).write(file("empty.csv"));
  EXPECT_EQ(bytes_of(file("empty.csv")), "a,\"b,c\"\n");
}

// %.7g for the analysis tables (nan whatever its sign bit), any printf format on request,
// and lines kept as written (a resumed metrics.csv).
TEST_F(CsvTest, NumbersAndKeptLines) {
  EXPECT_EQ(number_text(0.1f), "0.1");
  EXPECT_EQ(number_text(1.0 / 3), "0.3333333");
  EXPECT_EQ(number_text(1e-12), "1e-12");
  EXPECT_EQ(number_text(-std::numeric_limits<double>::quiet_NaN()), "nan");
  EXPECT_EQ(number_text(INFINITY), "inf");
  EXPECT_EQ(format_number("%.1f%%", 12.345), "12.3%");
  const std::string path = file("m.csv");
  CsvWriter("epoch,lr").add_lines("0,0.01\n").add(CsvRow().integer(1).number(0.005, "%.6g")).write(path);
  EXPECT_EQ(bytes_of(path), "epoch,lr\n0,0.01\n1,0.005\n");
}

TEST_F(CsvTest, ReaderGetsBackWhatTheWriterWrote) {
  const std::vector<std::string> names = {"conv1", "a,b", "say \"hi\"", ""};
  const std::string path = file("names.csv");
  CsvWriter w("name,index");
  for (size_t i = 0; i < names.size(); ++i) w.add(CsvRow().text(names[i]).integer(i));
  w.write(path);
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
    CsvWriter("a").add(CsvRow().integer(1)).write(path);
    ADD_FAILURE() << "wrote into a missing folder";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::io);
    EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();
  }
  EXPECT_TRUE(std::filesystem::is_empty(dir()));
}

}  // namespace
}  // namespace ds
