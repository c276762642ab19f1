// Layer type names and the shape walk over a layer list: what (C, H, W) each layer
// produces from a given input, and the placements that cannot work (a layer that leaves
// no output, a spatial layer after fc). It knows nothing of oneDNN; the model stage
// builds the primitives and checks each layer's dst against these (Network's constructor:
// a difference is ErrorKind::internal, a bug in this walk).
#include <string>

#include "deconvscope/config/layer_spec.hpp"
#include "deconvscope/core/error.hpp"

namespace ds {

namespace {

struct TypeName {
  LayerType type;
  const char* name;
};
constexpr TypeName kTypeNames[] = {
    {LayerType::conv, "conv"}, {LayerType::relu, "relu"}, {LayerType::maxpool, "maxpool"},
    {LayerType::lrn, "lrn"},   {LayerType::fc, "fc"},     {LayerType::dropout, "dropout"},
};

std::string dims_str(int h, int w) { return std::to_string(h) + "x" + std::to_string(w); }

// floor((in + 2 pad - kernel) / stride) + 1, or 0 when the padded input is narrower than
// the kernel: no window fits, so the layer leaves nothing.
int window_out(int in, int kernel, int stride, int pad) {
  long long span = (long long)in + 2LL * pad - kernel;
  if (span < 0) return 0;
  return int(span / stride + 1);
}

// Output (C, H, W) of a conv or maxpool window over `in`; throws naming the layer.
LayerShape window_shape(const LayerSpec& spec, const LayerShape& in, int out_channels) {
  const std::string where = "layer " + spec.name;
  for (int d = 0; d < 2; ++d) {
    // Specs built in code skip the line parser's checks; refuse them here rather than divide by 0.
    if (spec.kernel[d] < 1 || spec.stride[d] < 1 || spec.pad[d] < 0)
      throw Error(ErrorKind::shape, where,
                  expected_found("kernel >= 1, stride >= 1, pad >= 0",
                                 "kernel " + dims_str(spec.kernel[0], spec.kernel[1]) + ", stride " +
                                     dims_str(spec.stride[0], spec.stride[1]) + ", pad " +
                                     dims_str(spec.pad[0], spec.pad[1])));
    // A max-pool window made only of padding has no input to take the max of.
    if (spec.type == LayerType::maxpool && spec.pad[d] >= spec.kernel[d])
      throw Error(ErrorKind::shape, where,
                  expected_found("pad smaller than kernel for maxpool",
                                 "pad " + dims_str(spec.pad[0], spec.pad[1]) + ", kernel " +
                                     dims_str(spec.kernel[0], spec.kernel[1])));
  }
  LayerShape out;
  out.channels = out_channels;
  out.height = window_out(in.height, spec.kernel[0], spec.stride[0], spec.pad[0]);
  out.width = window_out(in.width, spec.kernel[1], spec.stride[1], spec.pad[1]);
  if (out.height < 1 || out.width < 1) {
    auto pair = [](const std::array<int, 2>& a) {
      return a[0] == a[1] ? std::to_string(a[0]) : dims_str(a[0], a[1]);
    };
    throw Error(ErrorKind::shape, where,
                "leaves no output: input " + dims_str(in.height, in.width) + ", kernel " +
                    pair(spec.kernel) + ", pad " + pair(spec.pad) +
                    "; expected input + 2*pad >= kernel in both dimensions",
                "remove a pooling layer before it, add padding, or use a smaller kernel");
  }
  return out;
}

}  // namespace

const char* layer_type_name(LayerType t) {
  for (const auto& tn : kTypeNames)
    if (tn.type == t) return tn.name;
  return "unknown";
}

const char* conv_algorithm_name(ConvAlgorithm a) {
  switch (a) {
    case ConvAlgorithm::automatic: return "auto";
    case ConvAlgorithm::direct: return "direct";
    case ConvAlgorithm::winograd: return "winograd";
  }
  return "unknown";
}

const char* precision_name(Precision p) { return p == Precision::bf16 ? "bf16" : "f32"; }

std::string format_resolved_convs(const std::vector<ResolvedConv>& convs) {
  std::string out;
  for (const ResolvedConv& c : convs) {
    out += (out.empty() ? "" : ",") + c.layer + "=" + conv_algorithm_name(c.forward);
    if (c.backward_data != c.forward || c.backward_weights != c.forward)
      out += std::string("/") + conv_algorithm_name(c.backward_data) + "/" + conv_algorithm_name(c.backward_weights);
  }
  return out;
}

std::vector<ResolvedConv> parse_resolved_convs(const std::string& text, const std::string& where) {
  std::vector<ResolvedConv> out;
  auto bad = [&](const std::string& entry) {
    return Error(ErrorKind::config, where,
                 expected_found("entries like conv1=direct or conv3=winograd/winograd/direct (forward/backward "
                                "data/backward weights, each direct or winograd), separated by commas",
                                "'" + entry + "'"),
                 "leave it empty to let model.conv_algorithm decide");
  };
  auto algorithm = [&](const std::string& name, const std::string& entry) {
    if (name == "direct") return ConvAlgorithm::direct;
    if (name == "winograd") return ConvAlgorithm::winograd;
    throw bad(entry);
  };
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find(',', start);
    if (end == std::string::npos) end = text.size();
    std::string entry = text.substr(start, end - start);
    const size_t a = entry.find_first_not_of(" \t"), b = entry.find_last_not_of(" \t");
    entry = a == std::string::npos ? "" : entry.substr(a, b - a + 1);
    start = end + 1;
    const size_t eq = entry.find('=');
    if (eq == 0 || eq == std::string::npos) throw bad(entry);
    ResolvedConv c;
    c.layer = entry.substr(0, eq);
    std::vector<std::string> passes;
    for (size_t p = eq + 1;;) {
      const size_t slash = entry.find('/', p);
      passes.push_back(entry.substr(p, slash == std::string::npos ? std::string::npos : slash - p));
      if (slash == std::string::npos) break;
      p = slash + 1;
    }
    if (passes.size() != 1 && passes.size() != 3) throw bad(entry);
    c.forward = algorithm(passes[0], entry);
    c.backward_data = passes.size() == 3 ? algorithm(passes[1], entry) : c.forward;
    c.backward_weights = passes.size() == 3 ? algorithm(passes[2], entry) : c.forward;
    for (const ResolvedConv& seen : out)
      if (seen.layer == c.layer) throw Error(ErrorKind::config, where, "layer " + c.layer + " is listed twice");
    out.push_back(c);
  }
  return out;
}

LayerType parse_layer_type(const std::string& s, const std::string& where) {
  for (const auto& tn : kTypeNames)
    if (s == tn.name) return tn.type;
  throw Error(ErrorKind::config, where,
              expected_found("a layer type (conv, relu, maxpool, lrn, fc, dropout)", "'" + s + "'"));
}

std::vector<LayerShape> infer_shapes(const std::vector<LayerSpec>& layers, const InputShape& in) {
  if (in.channels < 1 || in.height < 1 || in.width < 1)
    throw Error(ErrorKind::shape, "input",
                expected_found("channels, height and width >= 1",
                               std::to_string(in.channels) + "x" + dims_str(in.height, in.width)));
  std::vector<LayerShape> shapes;
  shapes.reserve(layers.size());
  LayerShape cur{in.channels, in.height, in.width};
  std::string first_fc;  // name of the first fc layer seen: spatial layers may not follow it
  for (const LayerSpec& spec : layers) {
    const std::string where = "layer " + spec.name;
    bool spatial = spec.type == LayerType::conv || spec.type == LayerType::maxpool ||
                   spec.type == LayerType::lrn;
    if (spatial && !first_fc.empty())
      throw Error(ErrorKind::shape, where,
                  expected_found(std::string(layer_type_name(spec.type)) + " layers before the first fc layer",
                                 "it after fc layer " + first_fc),
                  "an fc layer flattens its input to (features, 1, 1); put spatial layers before it");
    switch (spec.type) {
      case LayerType::conv:
        if (spec.out < 1)
          throw Error(ErrorKind::shape, where, expected_found("out >= 1", std::to_string(spec.out)));
        cur = window_shape(spec, cur, spec.out);
        break;
      case LayerType::maxpool:
        cur = window_shape(spec, cur, cur.channels);
        break;
      case LayerType::fc:
        if (spec.out < 1)
          throw Error(ErrorKind::shape, where, expected_found("out >= 1", std::to_string(spec.out)));
        cur = LayerShape{spec.out, 1, 1};  // flattens (C, H, W) into C*H*W inputs
        if (first_fc.empty()) first_fc = spec.name;
        break;
      case LayerType::relu:
      case LayerType::lrn:
      case LayerType::dropout:
        break;  // elementwise or across channels: the shape is kept
    }
    shapes.push_back(cur);
  }
  return shapes;
}

}  // namespace ds
