// See include/deconvscope/analysis/image_selection.hpp.
#include "deconvscope/analysis/image_selection.hpp"

#include <algorithm>
#include <cctype>

#include "deconvscope/core/error.hpp"

namespace ds {

namespace {

constexpr const char* kForm = "<train|test>:<indices> such as test:0-4 or train:3,7,9";
constexpr int64_t kMaxImages = 100000;  // a typo like 0-99999999 must not allocate gigabytes

std::string trim(const std::string& s) {
  size_t b = 0, e = s.size();
  while (b < e && std::isspace(static_cast<unsigned char>(s[b]))) ++b;
  while (e > b && std::isspace(static_cast<unsigned char>(s[e - 1]))) --e;
  return s.substr(b, e - b);
}

int64_t parse_index(const std::string& text, const std::string& whole, const std::string& key) {
  const std::string t = trim(text);
  bool digits = !t.empty() && t.size() <= 12;
  for (char c : t) digits = digits && std::isdigit(static_cast<unsigned char>(c));
  if (!digits)
    throw Error(ErrorKind::config, "key " + key,
                expected_found("an image index (a non-negative integer) in " + std::string(kForm),
                               "\"" + t + "\" in \"" + whole + "\""));
  return std::stoll(t);
}

}  // namespace

ImageSelection parse_image_selection(const std::string& text, const std::string& key) {
  const std::string whole = trim(text);
  const size_t colon = whole.find(':');
  if (colon == std::string::npos)
    throw Error(ErrorKind::config, "key " + key, expected_found(kForm, "\"" + whole + "\""));
  const std::string split = trim(whole.substr(0, colon));
  ImageSelection s;
  if (split == "train")
    s.train_split = true;
  else if (split != "test")
    throw Error(ErrorKind::config, "key " + key, expected_found("split train or test", "\"" + split + "\""));
  const std::string list = whole.substr(colon + 1);
  size_t start = 0;
  while (start <= list.size()) {
    size_t comma = list.find(',', start);
    if (comma == std::string::npos) comma = list.size();
    const std::string item = list.substr(start, comma - start);
    const size_t dash = item.find('-');
    int64_t lo = 0, hi = 0;
    if (dash == std::string::npos) {
      lo = hi = parse_index(item, whole, key);
    } else {
      lo = parse_index(item.substr(0, dash), whole, key);
      hi = parse_index(item.substr(dash + 1), whole, key);
      if (hi < lo)
        throw Error(ErrorKind::config, "key " + key,
                    expected_found("a range low-high with low <= high", "\"" + trim(item) + "\""));
    }
    if (hi - lo + 1 + int64_t(s.indices.size()) > kMaxImages)
      throw Error(ErrorKind::config, "key " + key,
                  expected_found("at most " + std::to_string(kMaxImages) + " images", "\"" + whole + "\""));
    for (int64_t i = lo; i <= hi; ++i) {
      if (std::find(s.indices.begin(), s.indices.end(), i) != s.indices.end())
        throw Error(ErrorKind::config, "key " + key,
                    expected_found("each image once", "index " + std::to_string(i) + " twice in \"" + whole + "\""));
      s.indices.push_back(i);
    }
    start = comma + 1;
  }
  return s;
}

void check_image_selection(const ImageSelection& selection, int64_t split_size, const std::string& key) {
  const char* split = selection.train_split ? "train" : "test";
  for (int64_t i : selection.indices)
    if (i >= split_size)
      throw Error(ErrorKind::config, "key " + key,
                  expected_found("image indices below " + std::to_string(split_size) + " (the " + split +
                                     " split's size)",
                                 "index " + std::to_string(i)),
                  "pick indices 0-" + std::to_string(split_size - 1) + ", or raise data." + split + "_limit");
}

}  // namespace ds
