// See include/deconvscope/analysis/invariance.hpp. The transformations (OpenCV warpAffine
// per channel), the sweeps, and the measurement of every snapshot: the originals' layer
// outputs are kept (I x layer size), the transformed images stream through the network
// after them, batch by batch, and only their distances are kept, so a 224x224 network's
// first-layer outputs of hundreds of transformed images never sit in memory at once.
#include "deconvscope/analysis/invariance.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <random>

#include <opencv2/imgproc.hpp>

#include "deconvscope/analysis/forward_images.hpp"
#include "deconvscope/config/sweep.hpp"
#include "deconvscope/config/config_section.hpp"
#include "deconvscope/config/config_value.hpp"
#include "deconvscope/core/error.hpp"
#include "deconvscope/core/progress.hpp"
#include "deconvscope/core/tensor.hpp"
#include "deconvscope/model/network.hpp"

namespace ds {

namespace {

constexpr float kNaNf = std::numeric_limits<float>::quiet_NaN();

// The 2x3 affine matrix mapping source pixel coordinates to destination ones.
cv::Matx23d transform_matrix(Transform t, double v, int H, int W) {
  const cv::Point2d c((W - 1) / 2.0, (H - 1) / 2.0);
  switch (t) {
    case Transform::translate_y: return {1, 0, 0, 0, 1, v};
    case Transform::translate_x: return {1, 0, v, 0, 1, 0};
    case Transform::scale: return {v, 0, (1 - v) * c.x, 0, v, (1 - v) * c.y};
    case Transform::rotate: {
      // cos and sin of whole quarter turns exactly: rotate 360 must be the identity, not
      // a shift of 1e-16 pixels that bilinear interpolation turns into a blur.
      const double turns = v / 90.0;
      double cs = std::cos(v * M_PI / 180.0), sn = std::sin(v * M_PI / 180.0);
      if (turns == std::round(turns)) {
        const int q = ((int(std::round(turns)) % 4) + 4) % 4;
        cs = q == 0 ? 1 : q == 2 ? -1 : 0;
        sn = q == 1 ? 1 : q == 3 ? -1 : 0;
      }
      // Counter-clockwise on screen (y points down), as cv::getRotationMatrix2D.
      return {cs, sn, (1 - cs) * c.x - sn * c.y, -sn, cs, sn * c.x + (1 - cs) * c.y};
    }
  }
  return {1, 0, 0, 0, 1, 0};
}

// Squared L2 norm of a - b (b may be null: of a) in double.
double squared_distance(const float* a, const float* b, size_t n) {
  double sum = 0;
  for (size_t k = 0; k < n; ++k) {
    const double d = double(a[k]) - (b ? double(b[k]) : 0.0);
    sum += d * d;
  }
  return sum;
}

}  // namespace

const char* transform_name(Transform t) {
  switch (t) {
    case Transform::translate_y: return "translate_y";
    case Transform::translate_x: return "translate_x";
    case Transform::scale: return "scale";
    case Transform::rotate: return "rotate";
  }
  return "?";
}

const char* transform_key(Transform t) {
  switch (t) {
    case Transform::translate_y:
    case Transform::translate_x: return "invariance.translate";
    case Transform::scale: return "invariance.scale";
    case Transform::rotate: return "invariance.rotate";
  }
  return "?";
}

const char* transform_axis(Transform t) {
  switch (t) {
    case Transform::translate_y: return "vertical translation (pixels)";
    case Transform::translate_x: return "horizontal translation (pixels)";
    case Transform::scale: return "scale (factor)";
    case Transform::rotate: return "rotation (degrees)";
  }
  return "?";
}

double identity_value(Transform t) { return t == Transform::scale ? 1.0 : 0.0; }

void transform_image(const float* src, int C, int H, int W, Transform t, double value, float* dst) {
  const cv::Matx23d m = transform_matrix(t, value, H, W);
  const size_t plane = size_t(H) * size_t(W);
  for (int c = 0; c < C; ++c) {
    // Planes of the plain (C, H, W) image wrapped without copies; OpenCV's HWC layout is
    // not needed for a per-channel warp.
    const cv::Mat in(H, W, CV_32F, const_cast<float*>(src + size_t(c) * plane));
    cv::Mat out(H, W, CV_32F, dst + size_t(c) * plane);
    cv::warpAffine(in, out, cv::Mat(m), out.size(), cv::INTER_LINEAR, cv::BORDER_CONSTANT, cv::Scalar(0));
  }
}

std::vector<double> sweep_values(Transform t, const InvarianceConfig& cfg, int H, int W) {
  switch (t) {
    case Transform::translate_y:
    case Transform::translate_x: {
      std::vector<double> v = parse_sweep(cfg.translate, transform_key(t), -4096, 4096);
      if (!v.empty()) return v;
      const int side = t == Transform::translate_y ? H : W;
      const int reach = std::max(1, int(std::lround(side / 4.0)));
      const int step = std::max(1, (reach + 5) / 6);  // at most 13 values
      const int r = step * (reach / step);
      for (int x = -r; x <= r; x += step) v.push_back(x);
      return v;
    }
    case Transform::scale: {
      std::vector<double> v = parse_sweep(cfg.scale, transform_key(t), 0.01, 16);
      if (v.empty()) v = parse_sweep("0.6:1.4:0.1", transform_key(t), 0.01, 16);
      return v;
    }
    case Transform::rotate: {
      std::vector<double> v = parse_sweep(cfg.rotate, transform_key(t), -360, 360);
      if (v.empty()) v = parse_sweep("0:360:15", transform_key(t), -360, 360);
      return v;
    }
  }
  return {};
}

std::vector<int> invariance_layers(const std::vector<LayerSpec>& specs, const std::vector<std::string>& names,
                                   const std::string& key) {
  std::vector<int> out;
  if (names.empty()) {
    int first_conv = -1, last_conv = -1, last_hidden_fc = -1, last_fc = -1;
    for (size_t i = 0; i < specs.size(); ++i) {
      if (specs[i].type == LayerType::conv) {
        if (first_conv < 0) first_conv = int(i);
        last_conv = int(i);
      }
      if (specs[i].type == LayerType::fc) last_hidden_fc = last_fc, last_fc = int(i);
    }
    if (first_conv >= 0) out.push_back(first_conv);
    const int top = last_hidden_fc >= 0 ? last_hidden_fc : last_conv;
    if (top >= 0 && top != first_conv) out.push_back(top);
    if (out.empty()) out.push_back(last_fc);  // a network of fc layers only: its classifier
    return out;
  }
  return resolve_layers(specs, names, key, LayerKinds::conv_or_fc);
}

std::vector<InvarianceSweep> make_sweeps(const InvarianceConfig& cfg, const InputShape& input,
                                         const std::vector<float>& originals, size_t epochs, size_t layers) {
  const int C = input.channels, H = input.height, W = input.width;
  const size_t image = size_t(C) * size_t(H) * size_t(W), I = originals.size() / image;
  std::vector<InvarianceSweep> sweeps;
  for (Transform t : kTransforms) {
    InvarianceSweep s;
    s.transform = t;
    s.values = sweep_values(t, cfg, H, W);
    const size_t S = s.values.size();
    s.inputs.resize(I * S * image);  // (I, S, C, H, W)
    for (size_t i = 0; i < I; ++i)
      for (size_t k = 0; k < S; ++k)
        transform_image(originals.data() + i * image, C, H, W, t, s.values[k], s.inputs.data() + (i * S + k) * image);
    s.distance.assign(layers, std::vector<float>(epochs * I * S, kNaNf));
    s.probability.assign(epochs * I * S, kNaNf);
    s.predicted.assign(epochs * I * S, -1);
    sweeps.push_back(std::move(s));
  }
  return sweeps;
}

void measure_invariance(Network& net, const std::vector<int>& outputs, const std::vector<float>& originals,
                        const std::vector<int32_t>& labels, size_t e, std::vector<InvarianceSweep>& sweeps) {
  const InputShape& in = net.input();
  const size_t image = size_t(in.channels) * size_t(in.height) * size_t(in.width);
  const size_t I = labels.size(), L = outputs.size();
  const int K = net.num_classes(), B = net.batch();
  if (originals.size() != I * image)
    throw Error(ErrorKind::shape, "invariance", expected_found(std::to_string(I) + " original images",
                                                               std::to_string(originals.size() / image)));
  // Every image of the snapshot in one stream, originals first: batches are filled across
  // transformations (245 images at batch 128 are 2 passes, not one padded pass per sweep),
  // and each f(x) is known before the first Tx of its image comes.
  struct Row {
    const float* pixels;
    int sweep;  // -1: an original
    size_t i, k;
  };
  std::vector<Row> rows;
  for (size_t i = 0; i < I; ++i) rows.push_back({originals.data() + i * image, -1, i, 0});
  for (size_t t = 0; t < sweeps.size(); ++t) {
    const size_t S = sweeps[t].values.size();
    for (size_t i = 0; i < I; ++i)
      for (size_t k = 0; k < S; ++k) rows.push_back({sweeps[t].inputs.data() + (i * S + k) * image, int(t), i, k});
  }
  std::vector<std::vector<float>> reference(L);  // [L] (I, size): f(x) of every original
  std::vector<std::vector<double>> norm(L, std::vector<double>(I));
  std::vector<size_t> size(L);
  std::vector<float> batch(size_t(B) * image), prob(size_t(B) * size_t(K));
  std::vector<int32_t> pred(static_cast<size_t>(B));
  Tensor out;
  for (size_t first = 0; first < rows.size(); first += size_t(B)) {
    const int n = int(std::min(rows.size() - first, size_t(B)));
    for (int r = 0; r < n; ++r) std::copy_n(rows[first + r].pixels, image, batch.data() + size_t(r) * image);
    forward_images(net, batch.data(), n, -1, [&](int64_t, int) {
      softmax_rows(net.logits(), n, K, prob.data(), pred.data());
      for (size_t l = 0; l < L; ++l) {
        net.read_output(outputs[l], out);  // (B, C, H, W) or (B, C)
        size[l] = out.data.size() / size_t(B);
        reference[l].resize(I * size[l]);
        for (int r = 0; r < n; ++r) {
          const Row& row = rows[first + r];
          const float* f = out.data.data() + size_t(r) * size[l];
          if (row.sweep < 0) {
            std::copy_n(f, size[l], reference[l].begin() + long(row.i * size[l]));
            norm[l][row.i] = std::sqrt(squared_distance(f, nullptr, size[l]));
            continue;
          }
          const double d = std::sqrt(squared_distance(f, reference[l].data() + row.i * size[l], size[l]));
          InvarianceSweep& s = sweeps[size_t(row.sweep)];
          s.distance[l][s.at(e, row.i, row.k, I)] = norm[l][row.i] > 0 ? float(d / norm[l][row.i]) : kNaNf;
        }
      }
      for (int r = 0; r < n; ++r) {
        const Row& row = rows[first + r];
        if (row.sweep < 0) continue;
        InvarianceSweep& s = sweeps[size_t(row.sweep)];
        const size_t at = s.at(e, row.i, row.k, I);
        s.probability[at] = prob[size_t(r) * size_t(K) + size_t(labels[row.i])];
        s.predicted[at] = pred[size_t(r)];
      }
    });
  }
}

InvarianceResult compute_invariance(const Run& run, bool quiet) {
  const Config& cfg = run.config();
  const InvarianceConfig& ic = invariance_config(cfg);
  InvarianceResult r;
  r.input = run.input();

  // Layers and sweeps first: a bad key fails before any image is loaded.
  const std::vector<int> layers = invariance_layers(run.layers(), ic.layers);
  std::vector<int> outputs;
  for (int l : layers) {
    r.layers.push_back(run.layers()[size_t(l)].name);
    outputs.push_back(rectified_output_layer(run.layers(), l));
    r.outputs.push_back(run.layers()[size_t(outputs.back())].name);
  }
  for (Transform t : kTransforms) sweep_values(t, ic, r.input.height, r.input.width);

  const std::vector<size_t> chosen = run.select_snapshots("invariance.epochs", ic.epochs);
  for (size_t i : chosen) r.epochs.push_back(run.snapshots()[i].first);

  const SelectedImages images = run.select_images("invariance.images", ic.images);
  const Dataset& d = images.images();
  r.split = images.split();
  r.images = images.selection.indices;
  r.class_names = d.class_names;
  const Normalization norm = run.normalization();
  r.input_mean = norm.mean;
  r.input_std = norm.std;
  const size_t I = r.images.size();
  r.originals.resize(I * r.image_size());
  r.labels.resize(I);
  std::mt19937_64 unused;  // no augmentation
  make_batch(d, r.images.data(), int(I), norm, Augmentation{}, unused, r.originals.data(), r.labels.data());

  r.sweeps = make_sweeps(ic, r.input, r.originals, r.epochs.size(), layers.size());
  size_t per_snapshot = I;
  for (const InvarianceSweep& s : r.sweeps) per_snapshot += I * s.values.size();

  const std::unique_ptr<Network> net = run.network(cfg.analysis.batch);
  std::unique_ptr<Progress> bar;
  if (!quiet) bar = std::make_unique<Progress>("invariance", int64_t(chosen.size()), "snapshot");
  for (size_t e = 0; e < chosen.size(); ++e) {
    const auto t0 = std::chrono::steady_clock::now();
    net->import_params(run.read(chosen[e]).params);
    measure_invariance(*net, outputs, r.originals, r.labels, e, r.sweeps);
    r.seconds.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    if (bar) bar->update(int64_t(e + 1), "epoch " + std::to_string(r.epochs[e]));
  }
  if (bar) bar->finish(std::to_string(per_snapshot) + " images per snapshot");
  return r;
}

double invariance_summary(const InvarianceSweep& s, int layer, size_t e, size_t images) {
  const size_t S = s.values.size();
  double sum = 0;
  size_t n = 0;
  for (size_t i = 0; i < images; ++i)
    for (size_t k = 0; k < S; ++k) {
      const float v = layer < 0 ? s.probability[s.at(e, i, k, images)] : s.distance[size_t(layer)][s.at(e, i, k, images)];
      if (std::isfinite(v)) sum += v, ++n;
    }
  return n ? sum / double(n) : std::numeric_limits<double>::quiet_NaN();
}

// ---- the [invariance] section of the config ----

const InvarianceConfig& invariance_config(const Config& cfg) { return config_section<InvarianceConfig>(cfg, "invariance"); }

InvarianceConfig& invariance_config(Config& cfg) { return config_section<InvarianceConfig>(cfg, "invariance"); }

void register_invariance_section() {
  // Thread-safe and once: the table refuses a section registered twice.
  static const bool once = [] {
    using namespace config_value;
    register_config_section<InvarianceConfig>("invariance", {
        // Sweeps are checked as they are read; images and layers need the run's data and
        // network, so they are checked when the analysis runs (above), naming the same keys.
        {"invariance.images", KeyEffect::results, nullptr, "images transformed: split:indices such as test:0-4 or train:3,7,9",
         [](const InvarianceConfig& c) { return c.images; },
         [](InvarianceConfig& c, const std::string& v, const std::string& w) { c.images = to_text(v, w); }},
        {"invariance.epochs", KeyEffect::results, "all", "all, or a comma list of snapshot epochs to measure",
         [](const InvarianceConfig& c) { return c.epochs.empty() ? std::string("all") : join(c.epochs); },
         [](InvarianceConfig& c, const std::string& v, const std::string& w) {
           c.epochs = trimmed(v) == "all" ? std::vector<int>{} : to_epoch_list(v, w);
           if (trimmed(v) != "all" && c.epochs.empty()) bad_value(w, "all or a comma list of epochs", "none");
         }},
        {"invariance.layers", KeyEffect::results, "(empty: the first conv layer and the last hidden fc layer)",
         "comma list of conv or fc layers whose rectified outputs are compared",
         [](const InvarianceConfig& c) { return join(c.layers); },
         [](InvarianceConfig& c, const std::string& v, const std::string& w) { c.layers = to_name_list(v, w); }},
        {"invariance.translate", KeyEffect::results, "auto (about a quarter of the input size each way)",
         "vertical and horizontal translation sweep in pixels: auto, a list -4,0,4, or from:to:step",
         [](const InvarianceConfig& c) { return c.translate; },
         [](InvarianceConfig& c, const std::string& v, const std::string& w) {
           parse_sweep(v, w, -4096, 4096);
           c.translate = trimmed(v);
         }},
        {"invariance.scale", KeyEffect::results, "auto (0.6:1.4:0.1)", "scale sweep, factors about the image centre: auto, a list, or from:to:step",
         [](const InvarianceConfig& c) { return c.scale; },
         [](InvarianceConfig& c, const std::string& v, const std::string& w) {
           parse_sweep(v, w, 0.01, 16);
           c.scale = trimmed(v);
         }},
        {"invariance.rotate", KeyEffect::results, "auto (0:360:15)", "rotation sweep in degrees, counter-clockwise: auto, a list, or from:to:step",
         [](const InvarianceConfig& c) { return c.rotate; },
         [](InvarianceConfig& c, const std::string& v, const std::string& w) {
           parse_sweep(v, w, -360, 360);
           c.rotate = trimmed(v);
         }},
        {"invariance.in_analyze", KeyEffect::results, nullptr, "`deconvscope analyze` (and analysis.live) also runs the invariance analysis",
         [](const InvarianceConfig& c) { return bool_text(c.in_analyze); },
         [](InvarianceConfig& c, const std::string& v, const std::string& w) { c.in_analyze = to_bool(v, w); }}
    });
    return true;
  }();
  (void)once;
}

}  // namespace ds
