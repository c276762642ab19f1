// The CSV files of the project, both ways. Writing (every CSV deconvscope writes): a header
// line, then rows of typed cells (text quoted only where it needs it, integers, numbers
// through core/number_text.hpp), committed atomically (io/text_file.hpp). Reading small files
// such as a run's metrics.csv: a header line, then rows with the same number of fields;
// double quotes around a field are honoured ("a,b", "say ""hi""").
// Left out: fields spanning lines, streaming (a table is built in memory), and type
// conversion on reading beyond csv_number().
#pragma once

#include <string>
#include <vector>

namespace ds {

// --- writing ---------------------------------------------------------------------------

// A CSV field, double-quoted (quotes doubled) only if it holds , " or a line break.
std::string csv_quote(const std::string& field);

// One line of a CSV table, built cell by cell from typed values; cells are joined by ','.
class CsvRow {
 public:
  CsvRow& text(const std::string& s);  // csv_quote(s)
  CsvRow& integer(long long v);
  CsvRow& number(double v);                      // number_text(v): %.7g, "nan" for NaN
  CsvRow& number(double v, const char* format);  // another printf format (metrics.csv's columns)
  CsvRow& blank();                               // an empty cell: a figure that was not computed

  const std::string& line() const { return line_; }

 private:
  CsvRow& cell(const std::string& s);
  std::string line_;
  bool started_ = false;
};

// A CSV table in memory: the header line, then one line per row, each ending in '\n', written
// whole so that no reader sees half of it. Every CSV of the project is written this way.
class CsvWriter {
 public:
  explicit CsvWriter(const std::string& header);  // the names joined by ',', as in the file
  explicit CsvWriter(const CsvRow& header);       // names known only at run time (layers)

  CsvWriter& add(const CsvRow& row);
  // Lines already in this table's form, each ending in '\n' (a resumed run's metrics.csv).
  CsvWriter& add_lines(const std::string& lines);

  // Throws ds::Error(io) naming `path` if the folder or the disk refuses.
  void write(const std::string& path) const;

 private:
  std::string text_;
};

// --- reading ---------------------------------------------------------------------------

struct CsvTable {
  std::vector<std::string> header;
  std::vector<std::vector<std::string>> rows;  // each the size of header

  // Index of a header name; -1 if absent.
  int column(const std::string& name) const;
};

// Throws ds::Error(data) naming the file (and line) if it is missing, empty, has a row
// whose field count differs from the header's, or an unterminated quote. Blank lines are
// skipped; a trailing '\r' is dropped.
CsvTable read_csv(const std::string& path);

// A field as a number ("nan" and "inf" allowed). Throws ds::Error(data) naming `where`
// if the whole field is not a number.
double csv_number(const std::string& field, const std::string& where);

}  // namespace ds
