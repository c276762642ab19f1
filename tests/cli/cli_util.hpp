// Helpers for the end-to-end tests of the real `deconvscope` binary: temp folders,
// running the binary as a child process (exit code, stdout, stderr), tiny synthetic IDX
// datasets and configs, a byte-for-byte picture of a folder tree, and bit-for-bit
// comparison of snapshots. The binary is $DECONVSCOPE_BIN (tests/CMakeLists.txt sets it).
// Leaves out: Windows (fork/exec, signals).
#pragma once

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace ds::clitest {

namespace fs = std::filesystem;

inline std::string binary() {
  const char* b = std::getenv("DECONVSCOPE_BIN");
  if (!b || !*b) throw std::runtime_error("DECONVSCOPE_BIN is not set (run the tests through ctest)");
  return b;
}

// A fresh folder under the system temp folder, removed when the object goes.
class TempDir {
 public:
  explicit TempDir(const std::string& tag) {
    std::string pattern = (fs::temp_directory_path() / ("deconvscope-cli-" + tag + "-XXXXXX")).string();
    if (!mkdtemp(pattern.data())) throw std::runtime_error("mkdtemp failed for " + pattern);
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string operator/(const std::string& rel) const { return (fs::path(path_) / rel).string(); }

 private:
  std::string path_;
};

inline std::string read_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::ostringstream s;
  s << f.rdbuf();
  return s.str();
}

// The data rows of a CSV text (the header left out), each cut at its commas.
inline std::vector<std::vector<std::string>> csv_rows(const std::string& text) {
  std::vector<std::vector<std::string>> rows;
  std::istringstream in(text);
  std::string line;
  std::getline(in, line);  // the header
  while (std::getline(in, line)) {
    std::vector<std::string> cells;
    std::istringstream cut(line);
    for (std::string cell; std::getline(cut, cell, ',');) cells.push_back(cell);
    rows.push_back(std::move(cells));
  }
  return rows;
}

inline void write_file(const std::string& path, const std::string& bytes) {
  fs::create_directories(fs::path(path).parent_path());
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f.write(bytes.data(), std::streamsize(bytes.size()));
  if (!f) throw std::runtime_error("cannot write " + path);
}

// --- running the binary ---------------------------------------------------------------

struct Child {
  pid_t pid = -1;
  std::string out_path, err_path;
  bool reaped = false;  // wait_until saw it exit
  int status = 0;
};

// Starts program argv_s[0] (a path, or a name looked up in PATH) with arguments
// argv_s[1..] and extra environment "NAME=value" entries; stdout and stderr go to files
// next to `log_prefix`.
inline Child spawn_program(std::vector<std::string> argv_s, const std::string& log_prefix,
                           const std::vector<std::string>& env = {}) {
  Child c;
  c.out_path = log_prefix + ".out";
  c.err_path = log_prefix + ".err";
  std::vector<char*> argv;
  for (std::string& a : argv_s) argv.push_back(a.data());
  argv.push_back(nullptr);
  c.pid = fork();
  if (c.pid < 0) throw std::runtime_error("fork failed");
  if (c.pid == 0) {
    const int out = ::open(c.out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    const int err = ::open(c.err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (out < 0 || err < 0) _exit(120);
    dup2(out, 1);
    dup2(err, 2);
    // Sleeping rather than spinning OpenMP threads: on a busy machine (ctest -j, other
    // builds) spinning makes a tiny run up to ten times slower. Results do not change.
    setenv("OMP_WAIT_POLICY", "passive", /*overwrite=*/0);
    for (const std::string& e : env) putenv(const_cast<char*>(e.c_str()));
    execvp(argv_s[0].c_str(), argv.data());
    _exit(121);
  }
  return c;
}

// Starts `deconvscope args...`; see spawn_program.
inline Child spawn(const std::vector<std::string>& args, const std::string& log_prefix,
                   const std::vector<std::string>& env = {}) {
  std::vector<std::string> argv_s{binary()};
  argv_s.insert(argv_s.end(), args.begin(), args.end());
  return spawn_program(argv_s, log_prefix, env);
}

// The exit code, or 128 + signal number when a signal ended the child.
inline int wait_child(const Child& c, bool* signalled = nullptr) {
  int status = c.status;
  while (!c.reaped && waitpid(c.pid, &status, 0) < 0) {
    if (errno != EINTR) throw std::runtime_error("waitpid failed");
  }
  if (signalled) *signalled = WIFSIGNALED(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return WEXITSTATUS(status);
}

struct Result {
  int code = -1;
  std::string out, err;
};

inline Result run(const std::vector<std::string>& args, const std::string& log_prefix,
                  const std::vector<std::string>& env = {}) {
  const Child c = spawn(args, log_prefix, env);
  Result r;
  r.code = wait_child(c);
  r.out = read_file(c.out_path);
  r.err = read_file(c.err_path);
  return r;
}

// Polls until pred() holds (true), or the child has exited or timeout_s passed (false).
template <class Pred>
bool wait_until(Child& c, Pred pred, double timeout_s) {
  const auto end = std::chrono::steady_clock::now() + std::chrono::duration<double>(timeout_s);
  while (std::chrono::steady_clock::now() < end) {
    if (pred()) return true;
    if (waitpid(c.pid, &c.status, WNOHANG) == c.pid) {
      c.reaped = true;
      return pred();
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return false;
}

// --- data and configs ----------------------------------------------------------------

inline void put_be32(std::string& s, uint32_t v) {
  s += char(v >> 24);
  s += char(v >> 16);
  s += char(v >> 8);
  s += char(v);
}

// n images of side x side; class c (= i % 10) is a bright 3x3 blob at its own place over
// dim noise, so a tiny network learns it within a few epochs.
inline void write_idx(const std::string& dir, const std::string& prefix, int n, int side, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::string images, labels;
  put_be32(images, 0x00000803);
  put_be32(images, uint32_t(n));
  put_be32(images, uint32_t(side));
  put_be32(images, uint32_t(side));
  put_be32(labels, 0x00000801);
  put_be32(labels, uint32_t(n));
  for (int i = 0; i < n; ++i) {
    const int c = i % 10;
    labels += char(c);
    const int y0 = (c / 4) * (side / 3), x0 = (c % 4) * (side / 4);
    for (int y = 0; y < side; ++y)
      for (int x = 0; x < side; ++x) {
        const bool blob = y >= y0 && y < y0 + 3 && x >= x0 && x < x0 + 3;
        images += char(blob ? 180 + int(rng() % 70) : int(rng() % 40));
      }
  }
  write_file(dir + "/" + prefix + "-images-idx3-ubyte", images);
  write_file(dir + "/" + prefix + "-labels-idx1-ubyte", labels);
}

inline void write_mnist(const std::string& dir, int n_train = 320, int n_test = 64, int side = 12) {
  write_idx(dir, "train", n_train, side, 11);
  write_idx(dir, "t10k", n_test, side, 22);
}

// A two-conv network for 12x12 grey images, snapshots at `snapshots` (default: 0 and the
// last epoch). `extra` is appended (more sections and keys).
inline std::string tiny_config(const std::string& data_dir, const std::string& run_dir, int epochs,
                               const std::string& snapshots = "", const std::string& extra = "") {
  return "[run]\n"
         "name = tiny\n"
         "dir = " + run_dir + "\n"
         "threads = 2\n"
         "seed = 7\n"
         "[data]\n"
         "dataset = mnist\n"
         "path = " + data_dir + "\n"
         "[model]\n"
         "layer = conv1 conv out=4 kernel=3 stride=1 pad=1\n"
         "layer = relu1 relu\n"
         "layer = pool1 maxpool kernel=2 stride=2\n"
         "layer = conv2 conv out=6 kernel=3 stride=1 pad=1\n"
         "layer = relu2 relu\n"
         "layer = fc3 fc out=10\n"
         "[train]\n"
         "epochs = " + std::to_string(epochs) + "\n"
         "batch = 16\n"
         "lr = 0.05\n"
         "init = he\n"
         "probe_batch = 32\n"
         "[snapshot]\n"
         "epochs = " + (snapshots.empty() ? "0," + std::to_string(epochs) : snapshots) + "\n" + extra;
}

// --- folder pictures -----------------------------------------------------------------

// Every file and folder under root (relative path -> "dir" or the file's bytes); a
// missing root is an empty map.
inline std::map<std::string, std::string> tree(const std::string& root) {
  std::map<std::string, std::string> t;
  std::error_code ec;
  if (!fs::exists(root, ec)) return t;
  t["."] = "dir";
  for (auto it = fs::recursive_directory_iterator(root, ec); it != fs::recursive_directory_iterator(); ++it) {
    const std::string rel = fs::relative(it->path(), root).string();
    t[rel] = it->is_directory() ? std::string("dir") : read_file(it->path().string());
  }
  return t;
}

// Names of files that differ between two pictures, for failure messages.
inline std::string tree_diff(const std::map<std::string, std::string>& a, const std::map<std::string, std::string>& b) {
  std::string d;
  for (const auto& [k, v] : a) {
    auto it = b.find(k);
    if (it == b.end()) d += "  removed: " + k + "\n";
    else if (it->second != v) d += "  changed: " + k + "\n";
  }
  for (const auto& [k, v] : b)
    if (!a.count(k)) d += "  added: " + k + "\n";
  return d;
}

// Temporary files ("." name ".tmp-<pid>") anywhere under root.
inline std::vector<std::string> temp_files(const std::string& root) {
  std::vector<std::string> out;
  std::error_code ec;
  if (!fs::exists(root, ec)) return out;
  for (auto it = fs::recursive_directory_iterator(root, ec); it != fs::recursive_directory_iterator(); ++it)
    if (it->path().filename().string().find(".tmp-") != std::string::npos) out.push_back(it->path().string());
  return out;
}

}  // namespace ds::clitest
