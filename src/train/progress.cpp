// Progress bar; see include/deconvscope/train/progress.hpp.
#include "deconvscope/train/progress.hpp"

#include <unistd.h>

#include <cstdio>

namespace ds {

Progress::Progress(std::string label, int64_t total, std::string unit)
    : label_(std::move(label)), unit_(std::move(unit)), total_(total), tty_(is_terminal()),
      start_(std::chrono::steady_clock::now()), last_draw_(start_) {}

bool Progress::is_terminal() { return isatty(STDERR_FILENO) == 1; }

std::string Progress::format_duration(double s) {
  char buf[32];
  const long t = s > 0 ? long(s + 0.5) : 0;
  if (t >= 3600) std::snprintf(buf, sizeof buf, "%ldh%02ldm", t / 3600, (t / 60) % 60);
  else if (t >= 60) std::snprintf(buf, sizeof buf, "%ldm%02lds", t / 60, t % 60);
  else std::snprintf(buf, sizeof buf, "%lds", t);
  return buf;
}

void Progress::update(int64_t done, const std::string& note, int64_t rate_units) {
  rate_units_ = rate_units < 0 ? done : rate_units;
  last_done_ = done;
  const auto now = std::chrono::steady_clock::now();
  const double since = std::chrono::duration<double>(now - last_draw_).count();
  if (since < (tty_ ? 0.1 : 10.0)) return;
  last_draw_ = now;
  draw(done, note, false);
}

void Progress::finish(const std::string& note) { draw(last_done_ < total_ ? last_done_ : total_, note, true); }

void Progress::draw(int64_t done, const std::string& note, bool final_line) {
  const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  const double rate = elapsed > 0 ? double(rate_units_) / elapsed : 0;
  const double frac = total_ > 0 ? double(done) / double(total_) : 1.0;
  const double eta = frac > 0 ? elapsed * (1 - frac) / frac : 0;
  std::string timing = final_line ? "in " + format_duration(elapsed) : "ETA " + format_duration(eta);
  char rate_buf[48];
  std::snprintf(rate_buf, sizeof rate_buf, "%.0f %s/s", rate, unit_.c_str());
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

}  // namespace ds
