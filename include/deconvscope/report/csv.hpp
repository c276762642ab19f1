// Reading small CSV files such as a run's metrics.csv: a header line, then rows with the
// same number of fields. Double quotes around a field are honoured ("a,b", "say ""hi""").
// Left out: fields spanning lines, and type conversion beyond csv_number().
#pragma once

#include <string>
#include <vector>

namespace ds {

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
