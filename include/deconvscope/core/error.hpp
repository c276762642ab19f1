// Typed errors of the library. Each carries where the problem is (a file, a config key,
// a layer), what was expected, what was found, and a hint for the user. Only main()
// turns them into exit codes; the library never exits or aborts.
#pragma once

#include <cstddef>
#include <stdexcept>
#include <string>

namespace ds {

enum class ErrorKind {
  config,      // a config key, value or layer line is wrong          -> exit 2
  data,        // a dataset file or folder is missing or malformed    -> exit 2
  snapshot,    // a snapshot or analysis file is missing or malformed -> exit 2
  shape,       // an architecture whose shapes do not fit             -> exit 2
  usage,       // a command line that makes no sense                  -> exit 2
  io,          // the disk refused a write (permission, space)        -> exit 1
  divergence,  // training produced non-finite values                 -> exit 3
  interrupted, // SIGINT/SIGTERM stopped the work cleanly             -> exit 130
  internal,    // a deconvscope bug: an invariant of its own failed   -> exit 70 (EX_SOFTWARE)
};

class Error : public std::runtime_error {
 public:
  // where: "configs/a.cfg: key train.lr", "layer conv2", "runs/x/snapshots/epoch-0001.h5"
  Error(ErrorKind kind, std::string where, std::string problem, std::string hint = {});

  ErrorKind kind() const { return kind_; }
  const std::string& where() const { return where_; }
  const std::string& problem() const { return problem_; }
  const std::string& hint() const { return hint_; }

  // Exit code main() should use for this kind of error.
  int exit_code() const;

 private:
  ErrorKind kind_;
  std::string where_;
  std::string problem_;
  std::string hint_;
};

// Bytes made safe for one line of a terminal: control characters, bytes that are not
// valid UTF-8 (and C1 controls) become \xNN; printable ASCII and valid UTF-8 text stay
// as they are. Longer than max_bytes: cut, with the full length said. Every Error's
// what() is built with it, so a NUL no longer cuts a message off and random bytes
// from a file are never echoed raw.
std::string printable(const std::string& bytes, size_t max_bytes = 4096);

// The exit code main() uses for a kind of error (2 bad input, 1 disk, 3 divergence, 130
// interrupted, 70 internal); also for exceptions that are not ds::Error (internal).
int exit_code_of(ErrorKind kind);

// Builds "expected X, found Y" so messages read the same everywhere.
std::string expected_found(const std::string& expected, const std::string& found);

}  // namespace ds
