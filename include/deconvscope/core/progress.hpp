// A progress bar for long work: on a terminal, one line redrawn in place (label, bar,
// count, free text, rate, ETA); elsewhere (a log file, CI), plain lines at most every
// few seconds, so logs stay readable. And RunLog: the lines a training run says, on the
// console and in the run's train.log. Under mpirun only rank 0 draws and says anything
// (set_speaks_for_job).
#pragma once

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

namespace ds {

// Whether this process speaks for its job: draws the bars and says (and logs) RunLog's
// lines. Under mpirun only rank 0 does; the command line, which knows the group
// (core/comm.hpp), sets it once at start. Default: it speaks (one process is its own job).
// One setting rather than a parameter: bars are made in every stage, and whether one is
// shown never changes what is computed or written to a run's files.
void set_speaks_for_job(bool speaks);
bool speaks_for_job();

class Progress {
 public:
  // total: units of work (batches, images); unit: "img" etc for the rate; rate_label
  // names what the rate measures ("train" gives "train 1873 img/s").
  Progress(std::string label, int64_t total, std::string unit = "img", std::string rate_label = "");
  // done: units finished so far; note: text shown after the count (loss etc.);
  // rate_units: what the rate counts (images when `done` counts batches), default done.
  void update(int64_t done, const std::string& note = {}, int64_t rate_units = -1);
  // Ends the line (terminal) or prints the final plain line.
  void finish(const std::string& note = {});
  // Clears the bar's line on a terminal (nothing elsewhere), for callers that print
  // their own summary in its place.
  void clear();
  // The ETA then also covers the work after this bar: `later_bars` more bars as long as
  // this one, each followed by `overhead_s` seconds of other work (and this one too).
  void set_run_rest(int later_bars, double overhead_s);

  static bool is_terminal();
  static std::string format_duration(double seconds);

 private:
  void draw(int64_t done, const std::string& note, bool final_line);

  std::string label_, unit_, rate_label_;
  int64_t total_;
  int64_t rate_units_ = 0;
  bool tty_;
  std::chrono::steady_clock::time_point start_, last_draw_, last_update_;
  int64_t last_done_ = 0;
  int later_bars_ = -1;  // < 0: the ETA is this bar's alone
  double overhead_s_ = 0;
};

// The lines a training run says: each goes to stderr at once and is appended, with the
// time, to the run's train.log. Lines said before open() (while the input is checked and
// nothing may be written yet) are kept and written when the log opens. A log that cannot
// be written is reported once and then left: it must never stop a run.
class RunLog {
 public:
  RunLog() = default;
  RunLog(const RunLog&) = delete;
  RunLog& operator=(const RunLog&) = delete;
  ~RunLog();
  void open(const std::string& path);  // appends: a resumed run continues its log
  void say(const std::string& line);
  void warn(const std::string& line);  // "warning: " + line
  const std::vector<std::string>& warnings() const { return warnings_; }
  // Appends one timestamped line to an existing log (not the console); quiet on failure.
  // For what ends a run from outside the trainer: the error that stopped it.
  static void append_to(const std::string& path, const std::string& line);

 private:
  void append(const std::string& line);

  std::FILE* file_ = nullptr;
  std::string path_;
  std::vector<std::string> pending_, warnings_;
  bool failed_ = false;
};

}  // namespace ds
