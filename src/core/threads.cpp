// See include/deconvscope/core/threads.hpp.
#include "deconvscope/core/threads.hpp"

#include <omp.h>

#include <algorithm>

namespace ds {

void set_threads(int threads) { omp_set_num_threads(std::max(1, threads)); }

}  // namespace ds
