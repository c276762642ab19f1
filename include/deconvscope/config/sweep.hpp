// A sweep of transformation values as written in a config key (the [invariance] section):
// "auto" (a default that depends on the input size, chosen by the analysis), a comma list
// "-4,-2,0,2,4", or a range "from:to:step" with both ends included ("0:360:30").
#pragma once

#include <string>
#include <vector>

namespace ds {

// The values of `text` in the order written (a range ascending or descending by its
// step's sign); empty for "auto". ds::Error(config) at `where` (the key) for an empty
// sweep, a value that is not a finite number or lies outside [lo, hi], a zero step or
// one pointing away from `to`, or more than kMaxSweepValues values.
std::vector<double> parse_sweep(const std::string& text, const std::string& where, double lo, double hi);

inline constexpr size_t kMaxSweepValues = 1000;

}  // namespace ds
