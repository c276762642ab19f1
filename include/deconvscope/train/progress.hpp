// A progress bar for long work: on a terminal, one line redrawn in place (label, bar,
// count, free text, rate, ETA); elsewhere (a log file, CI), plain lines at most every
// few seconds, so logs stay readable.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace ds {

class Progress {
 public:
  // total: units of work (batches, images); unit: "img" etc for the rate.
  Progress(std::string label, int64_t total, std::string unit = "img");
  // done: units finished so far; note: text shown after the count (loss etc.).
  void update(int64_t done, const std::string& note = {}, int64_t rate_units = -1);
  // Ends the line (terminal) or prints the final plain line.
  void finish(const std::string& note = {});

  static bool is_terminal();
  static std::string format_duration(double seconds);

 private:
  void draw(int64_t done, const std::string& note, bool final_line);

  std::string label_, unit_;
  int64_t total_;
  int64_t rate_units_ = 0;
  bool tty_;
  std::chrono::steady_clock::time_point start_, last_draw_;
  int64_t last_done_ = 0;
};

}  // namespace ds
