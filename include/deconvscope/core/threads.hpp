// The process's compute thread count: oneDNN's CPU engine runs on OpenMP, so one setting
// serves training, analysis and the benchmarks alike.
#pragma once

namespace ds {

// Sets OpenMP's (and so oneDNN's) thread count for the process; values below 1 mean 1.
void set_threads(int threads);

}  // namespace ds
