// Numbers as text: the one formatter behind the CSV files' figures and the report pages'.
// snprintf in the "C" locale the program runs in, so a file reads the same on every machine.
// Left out: locale-aware output and thousands separators (files are read back by programs).
#pragma once

#include <string>

namespace ds {

// `v` through a printf format that takes one double ("%.3f", "%.3g", "%.1f%%").
std::string format_number(const char* format, double v);

// 7 significant digits (%.7g: a float reads back to within one unit in the last place),
// "nan" for NaN whatever its sign bit. The figures of the analysis CSVs.
std::string number_text(double v);

}  // namespace ds
