#include "deconvscope/core/error.hpp"

namespace ds {

namespace {
std::string compose(const std::string& where, const std::string& problem, const std::string& hint) {
  std::string s = where.empty() ? problem : where + ": " + problem;
  if (!hint.empty()) s += " (hint: " + hint + ")";
  return s;
}
}  // namespace

Error::Error(ErrorKind kind, std::string where, std::string problem, std::string hint)
    : std::runtime_error(compose(where, problem, hint)),
      kind_(kind), where_(std::move(where)), problem_(std::move(problem)), hint_(std::move(hint)) {}

int Error::exit_code() const {
  switch (kind_) {
    case ErrorKind::io: return 1;
    case ErrorKind::divergence: return 3;
    case ErrorKind::interrupted: return 130;
    default: return 2;
  }
}

std::string expected_found(const std::string& expected, const std::string& found) {
  return "expected " + expected + ", found " + found;
}

}  // namespace ds
