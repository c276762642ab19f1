// libFuzzer target: the config reader (INI text through Boost.Program_options, every key's
// value checks) and the layer-line grammar. Any input must either parse or throw
// ds::Error; anything else (a crash, a sanitizer report, another exception type) is a
// bug. A layer line that parses must read back from its own formatting to the same line.
// Leaves out: command-line overrides (the same value parsers), shape inference against a
// dataset (tests/config), and the analyses' sections: the command line registers them
// (cli/analyses.hpp) and this target links only the reading stages, so here their keys
// are unknown keys, refused as such; their values go through the same conversions
// (config/config_value.hpp) as the built-in keys fuzzed here.
#include <cstddef>
#include <cstdint>
#include <string>

#include "deconvscope/config/config.hpp"
#include "deconvscope/core/error.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  try {
    ds::parse_config_text(text, "fuzz.cfg");
  } catch (const ds::Error&) {
  }
  // Every line, alone, as a model.layer value.
  size_t start = 0;
  while (start <= text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    const std::string line = text.substr(start, end - start);
    start = end + 1;
    ds::LayerSpec spec;
    try {
      spec = ds::parse_layer_line(line, "fuzz.cfg:1");
    } catch (const ds::Error&) {
      continue;
    }
    const std::string formatted = ds::format_layer_line(spec);
    if (ds::format_layer_line(ds::parse_layer_line(formatted, "formatted")) != formatted) __builtin_trap();
  }
  return 0;
}
