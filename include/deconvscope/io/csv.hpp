// The CSV files of the project, both ways. Writing: a header line, then rows, committed
// atomically (io/text_file.hpp), fields quoted only where they need it. Reading small files
// such as a run's metrics.csv: a header line, then rows with the same number of fields;
// double quotes around a field are honoured ("a,b", "say ""hi""").
// Left out: fields spanning lines, and type conversion beyond csv_number().
#pragma once

#include <functional>
#include <ostream>
#include <string>
#include <vector>

namespace ds {

// --- writing ---------------------------------------------------------------------------

// A CSV field, double-quoted (quotes doubled) only if it holds , " or a line break.
std::string csv_quote(const std::string& field);

// Writes `header`, a line break, then what `rows` writes (each row ending in '\n') to
// `path` so that no reader sees half of it. Throws ds::Error(io) naming `path`.
void write_csv(const std::string& path, const std::string& header, const std::function<void(std::ostream&)>& rows);

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
