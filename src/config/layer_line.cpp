// The layer-line grammar of configs, after Darknet's readable model files:
//   NAME TYPE key=value ...      e.g.  conv1 conv out=32 kernel=5 stride=1 pad=2
// parse_layer_line reads one line into a LayerSpec, checking each field belongs to the
// type and is in range; format_layer_line writes the line that reads back to the same
// spec. Whether the layers fit together (shapes, order) is infer_shapes' business.
#include <set>
#include <string>
#include <vector>

#include "deconvscope/config/config.hpp"
#include "deconvscope/core/error.hpp"
#include "text_util.hpp"

namespace ds {

namespace {

using config_detail::format_float;
using config_detail::parse_float;
using config_detail::parse_int;
using config_detail::kMaxNameLength;
using config_detail::quote;
using config_detail::split_ws;

const char* kLineSyntax = "NAME TYPE key=value ..., e.g. 'conv1 conv out=32 kernel=5 stride=1 pad=2'";

// The fields each type accepts, in the order format_layer_line writes them.
std::vector<std::string> fields_of(LayerType t) {
  switch (t) {
    case LayerType::conv: return {"out", "kernel", "stride", "pad"};
    case LayerType::maxpool: return {"kernel", "stride", "pad"};
    case LayerType::lrn: return {"size", "alpha", "beta", "k"};
    case LayerType::fc: return {"out"};
    case LayerType::dropout: return {"rate"};
    case LayerType::relu: return {};
  }
  return {};
}

std::string join(const std::vector<std::string>& v) {
  std::string s;
  for (size_t i = 0; i < v.size(); ++i) s += (i ? ", " : "") + v[i];
  return s;
}

bool valid_name(const std::string& name) {
  if (name.empty()) return false;
  for (char c : name) {
    bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

// Reads fields of one line; `layer` prefixes every problem so the message names the layer.
struct FieldReader {
  const std::string& where;
  std::string layer;  // "layer conv1"

  [[noreturn]] void fail(const std::string& field, const std::string& expected, const std::string& found) const {
    throw Error(ErrorKind::config, where, layer + ", field " + field + ": " + expected_found(expected, found));
  }

  int integer(const std::string& field, const std::string& text, int min) const {
    long long v = 0;
    if (!parse_int(text, v)) fail(field, "an integer >= " + std::to_string(min), quote(text));
    if (v < min || v > 1000000) fail(field, "an integer in [" + std::to_string(min) + ", 1000000]", text);
    return int(v);
  }

  // "5" -> (5, 5); "5x3" -> (height 5, width 3).
  std::array<int, 2> pair(const std::string& field, const std::string& text, int min) const {
    size_t x = text.find_first_of("xX");
    if (x == std::string::npos) {
      int v = integer(field, text, min);
      return {v, v};
    }
    std::string h = text.substr(0, x), w = text.substr(x + 1);
    long long hv = 0, wv = 0;
    if (!parse_int(h, hv) || !parse_int(w, wv))
      fail(field, "an integer or HEIGHTxWIDTH such as 5 or 5x3", quote(text));
    return {integer(field, h, min), integer(field, w, min)};
  }

  float number(const std::string& field, const std::string& text) const {
    float v = 0;
    if (!parse_float(text, v)) fail(field, "a number", quote(text));
    return v;
  }
};

std::string pair_text(const std::array<int, 2>& a) {
  return a[0] == a[1] ? std::to_string(a[0]) : std::to_string(a[0]) + "x" + std::to_string(a[1]);
}

}  // namespace

LayerSpec parse_layer_line(const std::string& line, const std::string& where) {
  std::vector<std::string> tokens = split_ws(line);
  if (tokens.empty())
    throw Error(ErrorKind::config, where, expected_found(std::string("a layer line ") + kLineSyntax, "an empty line"));

  LayerSpec spec;
  spec.name = tokens[0];
  if (!valid_name(spec.name))
    throw Error(ErrorKind::config, where,
                expected_found("a layer name of letters, digits, '_' and '-'", quote(spec.name)),
                std::string("a layer line reads ") + kLineSyntax);
  if (spec.name.size() > kMaxNameLength)
    throw Error(ErrorKind::config, where,
                expected_found("a layer name of at most " + std::to_string(kMaxNameLength) + " characters",
                               quote(spec.name)));
  if (tokens.size() < 2)
    throw Error(ErrorKind::config, where,
                "layer " + spec.name + ": " +
                    expected_found("a type (conv, relu, maxpool, lrn, fc, dropout) after the name", "nothing"),
                std::string("a layer line reads ") + kLineSyntax);
  spec.type = parse_layer_type(tokens[1], where + ": layer " + spec.name);

  const FieldReader rd{where, "layer " + spec.name};
  const std::vector<std::string> allowed = fields_of(spec.type);
  std::set<std::string> seen;
  for (size_t i = 2; i < tokens.size(); ++i) {
    const std::string& tok = tokens[i];
    size_t eq = tok.find('=');
    if (eq == std::string::npos || eq == 0 || eq + 1 == tok.size())
      throw Error(ErrorKind::config, where,
                  rd.layer + ": " + expected_found("key=value with no spaces around '='", quote(tok)),
                  std::string("a layer line reads ") + kLineSyntax);
    std::string key = tok.substr(0, eq), value = tok.substr(eq + 1);
    bool known = false;
    for (const auto& a : allowed) known = known || a == key;
    if (!known)
      throw Error(ErrorKind::config, where,
                  rd.layer + ": " + layer_type_name(spec.type) + " has no field " + quote(key) + "; " +
                      (allowed.empty() ? std::string("expected no fields")
                                       : "expected one of " + join(allowed)));
    if (!seen.insert(key).second)
      throw Error(ErrorKind::config, where, rd.layer + ": field " + key + " is given twice; expected it once");

    if (key == "out") spec.out = rd.integer(key, value, 1);
    else if (key == "kernel") spec.kernel = rd.pair(key, value, 1);
    else if (key == "stride") spec.stride = rd.pair(key, value, 1);
    else if (key == "pad") spec.pad = rd.pair(key, value, 0);
    else if (key == "size") spec.size = rd.integer(key, value, 1);
    else if (key == "alpha") {
      spec.alpha = rd.number(key, value);
      if (spec.alpha < 0) rd.fail(key, "a number >= 0", value);
    } else if (key == "beta") {
      spec.beta = rd.number(key, value);
      if (spec.beta < 0) rd.fail(key, "a number >= 0", value);
    } else if (key == "k") {
      spec.k = rd.number(key, value);
      if (!(spec.k > 0)) rd.fail(key, "a number > 0", value);
    } else if (key == "rate") {
      spec.rate = rd.number(key, value);
      if (!(spec.rate >= 0 && spec.rate < 1)) rd.fail(key, "a rate in [0, 1)", value);
    }
  }

  // Fields with no sensible default: the width of a layer and the size of a window.
  auto require = [&](const char* field, const char* what, const char* example) {
    if (!seen.count(field))
      throw Error(ErrorKind::config, where,
                  rd.layer + ": " +
                      expected_found(std::string(field) + "=N (" + what + ") for " + layer_type_name(spec.type),
                                     "no " + std::string(field)),
                  std::string("e.g. '") + example + "'");
  };
  if (spec.type == LayerType::conv) {
    require("out", "output channels", "conv1 conv out=32 kernel=5 stride=1 pad=2");
    require("kernel", "filter size", "conv1 conv out=32 kernel=5 stride=1 pad=2");
  } else if (spec.type == LayerType::fc) {
    require("out", "output features", "fc8 fc out=10");
  } else if (spec.type == LayerType::maxpool) {
    require("kernel", "window size", "pool1 maxpool kernel=3 stride=2 pad=1");
    if (!seen.count("stride")) spec.stride = spec.kernel;  // non-overlapping windows by default
    for (int d = 0; d < 2; ++d)
      if (spec.pad[d] >= spec.kernel[d])
        rd.fail("pad", "pad smaller than kernel (" + pair_text(spec.kernel) + ")", pair_text(spec.pad));
  } else if (spec.type == LayerType::lrn && spec.size % 2 == 0) {
    // oneDNN 2.6 sums an even window over size - 1 channels while dividing alpha by size:
    // not the documented formula, so even sizes are refused rather than silently changed.
    rd.fail("size", "an odd window size (channels centred on each channel)", std::to_string(spec.size));
  }
  return spec;
}

std::string format_layer_line(const LayerSpec& spec) {
  std::string s = spec.name + " " + layer_type_name(spec.type);
  switch (spec.type) {
    case LayerType::conv:
      s += " out=" + std::to_string(spec.out) + " kernel=" + pair_text(spec.kernel) +
           " stride=" + pair_text(spec.stride) + " pad=" + pair_text(spec.pad);
      break;
    case LayerType::maxpool:
      s += " kernel=" + pair_text(spec.kernel) + " stride=" + pair_text(spec.stride) + " pad=" + pair_text(spec.pad);
      break;
    case LayerType::lrn:
      s += " size=" + std::to_string(spec.size) + " alpha=" + format_float(spec.alpha) +
           " beta=" + format_float(spec.beta) + " k=" + format_float(spec.k);
      break;
    case LayerType::fc: s += " out=" + std::to_string(spec.out); break;
    case LayerType::dropout: s += " rate=" + format_float(spec.rate); break;
    case LayerType::relu: break;
  }
  return s;
}

}  // namespace ds
