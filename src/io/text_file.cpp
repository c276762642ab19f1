// Atomic small text files; see include/deconvscope/io/text_file.hpp.
#include "deconvscope/io/text_file.hpp"

#include "deconvscope/io/atomic_file.hpp"

namespace ds {

void write_text_atomic(const std::string& path, const std::string& text) {
  write_file_atomic(path, text.data(), text.size());
}

}  // namespace ds
