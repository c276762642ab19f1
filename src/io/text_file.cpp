// Atomic small text files and CSV quoting; see include/deconvscope/io/text_file.hpp.
#include "deconvscope/io/text_file.hpp"

#include <fstream>

#include "deconvscope/core/error.hpp"
#include "deconvscope/io/atomic_file.hpp"

namespace ds {

void write_text_atomic(const std::string& path, const std::string& text) {
  TempFileGuard temp(temp_path_for(path));
  {
    std::ofstream f(temp.path(), std::ios::binary | std::ios::trunc);
    f << text;
    f.flush();
    if (!f)
      throw Error(ErrorKind::io, path, "cannot write " + temp.path(), "check the folder's permissions and free space");
  }
  commit_file(temp.path(), path);
  temp.dismiss();
}

std::string csv_quote(const std::string& s) {
  if (s.find_first_of(",\"\n\r") == std::string::npos) return s;
  std::string q = "\"";
  for (char c : s) q += c == '"' ? std::string("\"\"") : std::string(1, c);
  return q + "\"";
}

}  // namespace ds
