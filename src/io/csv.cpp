// CSV writing (typed cells, quoting, atomic commit) and a small reader (header + equal-width rows,
// double quotes honoured) for metrics.csv and the like; see include/deconvscope/io/csv.hpp.
// Reading errors name the file and the line.
#include "deconvscope/io/csv.hpp"

#include <cerrno>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "deconvscope/core/error.hpp"
#include "deconvscope/core/number_text.hpp"
#include "deconvscope/core/regular_file.hpp"
#include "deconvscope/io/text_file.hpp"

namespace ds {

std::string csv_quote(const std::string& s) {
  if (s.find_first_of(",\"\n\r") == std::string::npos) return s;
  std::string q = "\"";
  for (char c : s) q += c == '"' ? std::string("\"\"") : std::string(1, c);
  return q + "\"";
}

CsvRow& CsvRow::cell(const std::string& s) {
  if (started_) line_ += ',';
  started_ = true;
  line_ += s;
  return *this;
}

CsvRow& CsvRow::text(const std::string& s) { return cell(csv_quote(s)); }
CsvRow& CsvRow::integer(long long v) { return cell(std::to_string(v)); }
CsvRow& CsvRow::number(double v) { return cell(number_text(v)); }
CsvRow& CsvRow::number(double v, const char* format) { return cell(format_number(format, v)); }
CsvRow& CsvRow::blank() { return cell(std::string()); }

CsvWriter::CsvWriter(const std::string& header) : text_(header + '\n') {}

CsvWriter::CsvWriter(const CsvRow& header) : CsvWriter(header.line()) {}

CsvWriter& CsvWriter::add(const CsvRow& row) {
  text_ += row.line();
  text_ += '\n';
  return *this;
}

CsvWriter& CsvWriter::add_lines(const std::string& lines) {
  text_ += lines;
  return *this;
}

void CsvWriter::write(const std::string& path) const {
  write_text_atomic(path, text_);  // errors name `path` and the OS error
}

namespace {

// Splits one line into fields; returns false on an unterminated quote.
bool split_csv_line(const std::string& line, std::vector<std::string>& fields) {
  fields.clear();
  std::string field;
  bool quoted = false;
  for (size_t i = 0; i < line.size(); ++i) {
    const char c = line[i];
    if (quoted) {
      if (c == '"' && i + 1 < line.size() && line[i + 1] == '"') {
        field += '"';
        ++i;
      } else if (c == '"') {
        quoted = false;
      } else {
        field += c;
      }
    } else if (c == '"') {
      quoted = true;
    } else if (c == ',') {
      fields.push_back(field);
      field.clear();
    } else {
      field += c;
    }
  }
  if (quoted) return false;
  fields.push_back(field);
  return true;
}

}  // namespace

int CsvTable::column(const std::string& name) const {
  for (size_t i = 0; i < header.size(); ++i)
    if (header[i] == name) return static_cast<int>(i);
  return -1;
}

CsvTable read_csv(const std::string& path) {
  FileRules rules;
  rules.kind = ErrorKind::data;
  rules.what = "a CSV file";
  rules.max_bytes = kMaxTextFileBytes;
  rules.hint = "check the path";
  std::istringstream f(read_regular_text(path, rules));
  CsvTable t;
  std::string line;
  std::vector<std::string> fields;
  size_t line_no = 0;
  bool have_header = false;
  while (std::getline(f, line)) {
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty()) continue;
    const std::string where = path + ": line " + std::to_string(line_no);
    if (!split_csv_line(line, fields))
      throw Error(ErrorKind::data, where, "unterminated double quote", "the file may be truncated or hand-edited");
    if (!have_header) {
      t.header = fields;
      have_header = true;
      continue;
    }
    if (fields.size() != t.header.size())
      throw Error(
          ErrorKind::data, where,
          expected_found(std::to_string(t.header.size()) + " fields as in the header", std::to_string(fields.size())),
          "the file may be truncated or written by another version");
    t.rows.push_back(fields);
  }
  if (f.bad()) throw Error(ErrorKind::data, path, "read error");
  if (!have_header) throw Error(ErrorKind::data, path, expected_found("a header line", "an empty file"));
  return t;
}

double csv_number(const std::string& field, const std::string& where) {
  const char* begin = field.c_str();
  char* end = nullptr;
  errno = 0;
  const double v = std::strtod(begin, &end);
  // Overflow to inf is kept (errno ERANGE); only text that is not a number is refused.
  if (field.empty() || end != begin + field.size())
    throw Error(ErrorKind::data, where, expected_found("a number", "\"" + field + "\""));
  return v;
}

}  // namespace ds
