// The write-set marker; see include/deconvscope/io/write_set.hpp.
#include "deconvscope/io/write_set.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <map>
#include <set>

#include "deconvscope/io/run_folder.hpp"
#include "deconvscope/io/text_file.hpp"

namespace fs = std::filesystem;

namespace ds {

namespace {

const char* kSuffix = ".incomplete";

std::string join(const std::vector<std::string>& v, size_t max_items) {
  std::string s;
  for (size_t i = 0; i < v.size() && i < max_items; ++i) s += (i ? ", " : "") + v[i];
  if (v.size() > max_items) s += " and " + std::to_string(v.size() - max_items) + " more";
  return s.empty() ? "none" : s;
}

// Every file under analysis/ and report/ (temporary files aside) with its inode. Every
// write of ours renames a new file into place, so a rewritten file has a new inode: an
// exact test, where modification times are only as fine as the kernel's clock tick.
std::map<std::string, uint64_t> outputs_now(const std::string& run_dir) {
  std::map<std::string, uint64_t> out;
  std::error_code ec;
  const RunPaths paths = RunPaths::of(run_dir);
  for (const std::string& folder : {paths.analysis, paths.report}) {
    const fs::path dir(folder);
    if (!fs::is_directory(dir, ec)) continue;
    for (auto it = fs::recursive_directory_iterator(dir, ec); !ec && it != fs::recursive_directory_iterator();
         it.increment(ec)) {
      const std::string name = it->path().filename().string();
      struct stat st {};
      if (name.empty() || name[0] == '.' || ::stat(it->path().c_str(), &st) != 0 || !S_ISREG(st.st_mode)) continue;
      out[fs::relative(it->path(), run_dir, ec).string()] = uint64_t(st.st_ino);
    }
  }
  return out;
}

}  // namespace

WriteSetMarker::WriteSetMarker(std::string run_dir, std::string command, std::vector<std::string> key_outputs)
    : run_dir_(std::move(run_dir)), command_(std::move(command)), key_outputs_(std::move(key_outputs)),
      inodes_(outputs_now(run_dir_)) {
  path_ = (fs::path(run_dir_) / (command_ + kSuffix)).string();
  std::error_code ec;
  if (fs::exists(path_, ec))
    std::fprintf(stderr, "warning: %s\n",
                 printable(run_dir_ + ": an earlier `" + command_ + "` stopped before writing all of its files (" +
                           path_ + "); this one writes them again")
                     .c_str());
  const std::time_t t = std::time(nullptr);
  char when[32];
  std::strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&t));
  write_text_atomic(path_, "deconvscope " + command_ + " (pid " + std::to_string(::getpid()) + ") started at " +
                               when +
                               " and has not finished writing its files.\n"
                               "If this file stays, it stopped before its last file: the files it writes may be a\n"
                               "mix of this run and an earlier one. Run `deconvscope " +
                               command_ + " --run " + run_dir_ + "` again to make them whole.\n");
}

WriteSetMarker::~WriteSetMarker() {
  if (done_) return;
  // An exception other than ds::Error (failed() was not called): same rule.
  if (state().empty()) {
    std::error_code ec;
    fs::remove(path_, ec);
  }
}

void WriteSetMarker::complete() {
  std::error_code ec;
  fs::remove(path_, ec);
  done_ = true;
}

std::string WriteSetMarker::state() const {
  std::vector<std::string> rewritten, not_rewritten;
  std::set<std::string> seen;
  for (const auto& [rel, inode] : outputs_now(run_dir_)) {
    const auto before = inodes_.find(rel);
    if (before != inodes_.end() && before->second == inode) continue;
    rewritten.push_back(rel);
    seen.insert(rel);
  }
  if (rewritten.empty()) return {};
  std::error_code ec;
  for (const std::string& k : key_outputs_)
    if (!seen.count(k)) not_rewritten.push_back(k + (fs::exists(fs::path(run_dir_) / k, ec) ? "" : " (missing)"));
  return "rewritten: " + join(rewritten, 8) + "; not rewritten (older, now out of step): " + join(not_rewritten, 8);
}

Error WriteSetMarker::failed(const Error& e) {
  done_ = true;
  const std::string s = state();
  std::error_code ec;
  if (s.empty()) {
    fs::remove(path_, ec);
    return e;
  }
  try {
    write_text_atomic(path_, "deconvscope " + command_ + " (pid " + std::to_string(::getpid()) +
                                 ") stopped before writing all of its files:\n" + e.what() + "\n" + s +
                                 "\nRun `deconvscope " + command_ + " --run " + run_dir_ +
                                 "` again to make them whole.\n");
  } catch (const Error&) {
    // The disk is full: the marker written at the start stays, and says the set is mixed.
  }
  return Error(e.kind(), e.where(), e.problem() + "; the run's files are now a mixed set, " + s + " (see " + path_ + ")",
               e.hint());
}

std::vector<std::string> incomplete_write_sets(const std::string& run_dir) {
  std::vector<std::string> out;
  std::error_code ec;
  if (!fs::is_directory(run_dir, ec)) return out;
  for (auto it = fs::directory_iterator(run_dir, ec); !ec && it != fs::directory_iterator(); it.increment(ec)) {
    const std::string name = it->path().filename().string();
    const size_t n = std::char_traits<char>::length(kSuffix);
    if (name.size() <= n || name.compare(name.size() - n, n, kSuffix) != 0) continue;
    out.push_back(run_dir + ": an earlier `" + name.substr(0, name.size() - n) +
                  "` stopped before writing all of its files; they may be out of step (" + it->path().string() +
                  ")");
  }
  return out;
}

}  // namespace ds
