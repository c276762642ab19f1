// Progress bar and run log; see include/deconvscope/core/progress.hpp.
#include "deconvscope/core/progress.hpp"

#include <stdio.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>

#include "deconvscope/core/error.hpp"
#include "deconvscope/core/regular_file.hpp"

namespace ds {

namespace {
// Set once by the command line (set_speaks_for_job); read by every bar and log line.
bool g_speaks = true;
}  // namespace

void set_speaks_for_job(bool speaks) { g_speaks = speaks; }

bool speaks_for_job() { return g_speaks; }

Progress::Progress(std::string label, int64_t total, std::string unit, std::string rate_label)
    : label_(std::move(label)), unit_(std::move(unit)), rate_label_(std::move(rate_label)), total_(total),
      tty_(is_terminal()), start_(std::chrono::steady_clock::now()), last_draw_(start_), last_update_(start_) {}

bool Progress::is_terminal() { return isatty(STDERR_FILENO) == 1; }

std::string Progress::format_duration(double s) {
  char buf[32];
  const long t = s > 0 ? long(s + 0.5) : 0;
  if (t >= 3600) std::snprintf(buf, sizeof buf, "%ldh%02ldm", t / 3600, (t / 60) % 60);
  else if (t >= 60) std::snprintf(buf, sizeof buf, "%ldm%02lds", t / 60, t % 60);
  else std::snprintf(buf, sizeof buf, "%lds", t);
  return buf;
}

void Progress::set_run_rest(int later_bars, double overhead_s) {
  later_bars_ = later_bars;
  overhead_s_ = overhead_s > 0 ? overhead_s : 0;
}

void Progress::update(int64_t done, const std::string& note, int64_t rate_units) {
  rate_units_ = rate_units < 0 ? done : rate_units;
  last_done_ = done;
  const auto now = std::chrono::steady_clock::now();
  last_update_ = now;
  const double since = std::chrono::duration<double>(now - last_draw_).count();
  if (since < (tty_ ? 0.1 : 10.0)) return;
  last_draw_ = now;
  draw(done, note, false);
}

void Progress::finish(const std::string& note) { draw(last_done_ < total_ ? last_done_ : total_, note, true); }

void Progress::clear() {
  if (!tty_ || !g_speaks) return;
  std::fprintf(stderr, "\r\033[K");
  std::fflush(stderr);
}

void Progress::draw(int64_t done, const std::string& note, bool final_line) {
  if (!g_speaks) return;  // under mpirun rank 0 speaks for the job
  const auto now = std::chrono::steady_clock::now();
  const double elapsed = std::chrono::duration<double>(now - start_).count();
  // The rate counts the work the bar measures, up to its last update: what follows the
  // last update (an evaluation, say) is not in it.
  const double worked = std::chrono::duration<double>(last_update_ - start_).count();
  const double rate = worked > 0 ? double(rate_units_) / worked : 0;
  const double frac = total_ > 0 ? double(done) / double(total_) : 1.0;
  const double eta = frac > 0 ? elapsed * (1 - frac) / frac : 0;
  std::string timing;
  if (final_line) {
    timing = "in " + format_duration(elapsed);
  } else if (later_bars_ < 0) {
    timing = "ETA " + format_duration(eta);
  } else {
    const double bar_s = frac > 0 ? elapsed / frac : 0;  // this bar's projected length
    const double run = eta + overhead_s_ + double(later_bars_) * (bar_s + overhead_s_);
    timing = "ETA epoch " + format_duration(eta) + ", run " + format_duration(run);
  }
  char rate_buf[64];
  // A slow unit (a layer's projections take seconds) keeps a decimal rather than reading 0.
  std::snprintf(rate_buf, sizeof rate_buf, "%s%s%.*f %s/s", rate_label_.c_str(), rate_label_.empty() ? "" : " ",
                rate < 10 ? 1 : 0, rate, unit_.c_str());
  if (tty_) {
    const int width = 24, fill = int(frac * width + 0.5);
    std::string bar(size_t(fill), '#');
    bar.resize(width, '.');
    std::fprintf(stderr, "\r\033[K%s [%s] %lld/%lld %s %s %s", label_.c_str(), bar.c_str(), (long long)done,
                 (long long)total_, note.c_str(), rate_buf, timing.c_str());
    if (final_line) std::fputc('\n', stderr);
  } else {
    std::fprintf(stderr, "%s %lld/%lld %s %s %s\n", label_.c_str(), (long long)done, (long long)total_,
                 note.c_str(), rate_buf, timing.c_str());
  }
  std::fflush(stderr);
}

RunLog::~RunLog() {
  if (file_) std::fclose(file_);
}

void RunLog::open(const std::string& path) {
  path_ = path;
  // Not fopen: a FIFO named train.log would block it until a reader came.
  std::string why;
  const int fd = open_regular_append(path, &why);
  file_ = fd < 0 ? nullptr : ::fdopen(fd, "a");
  if (!file_) {
    if (fd >= 0) ::close(fd);
    failed_ = true;
    std::fprintf(stderr, "warning: cannot open %s (%s); the run goes on without its log\n",
                 printable(path, 400).c_str(), printable(why, 200).c_str());
    return;
  }
  for (const std::string& l : pending_) append(l);
  pending_.clear();
}

namespace {
std::string now_text() {
  char when[32];
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  localtime_r(&now, &tm);
  std::strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S", &tm);
  return when;
}
}  // namespace

void RunLog::append_to(const std::string& path, const std::string& line) {
  if (!g_speaks) return;
  const int fd = open_regular_append(path, nullptr);
  std::FILE* f = fd < 0 ? nullptr : ::fdopen(fd, "a");
  if (!f) {
    if (fd >= 0) ::close(fd);
    return;
  }
  std::fprintf(f, "%s %s\n", now_text().c_str(), line.c_str());
  std::fclose(f);
}

void RunLog::append(const std::string& line) {
  if (failed_ || !file_) return;
  if (std::fprintf(file_, "%s %s\n", now_text().c_str(), line.c_str()) < 0 || std::fflush(file_) != 0) {
    failed_ = true;
    std::fprintf(stderr, "warning: cannot write %s (%s); the run goes on without its log\n", path_.c_str(),
                 std::strerror(errno));
  }
}

void RunLog::say(const std::string& line) {
  if (!g_speaks) return;  // rank 0 speaks and writes train.log for the job
  std::fprintf(stderr, "%s\n", line.c_str());
  std::fflush(stderr);
  if (file_ || failed_) append(line);
  else pending_.push_back(line);
}

void RunLog::warn(const std::string& line) {
  warnings_.push_back(line);
  say("warning: " + line);
}

}  // namespace ds
