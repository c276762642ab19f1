// See include/deconvscope/analysis/occlusion.hpp; docs/occlusion-format.md defines the figures.
#include "deconvscope/analysis/occlusion.hpp"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <memory>
#include <random>

#include "deconvscope/analysis/deconvnet.hpp"
#include "deconvscope/analysis/forward_images.hpp"
#include "deconvscope/config/config_section.hpp"
#include "deconvscope/config/config_value.hpp"
#include "deconvscope/core/error.hpp"
#include "deconvscope/core/progress.hpp"
#include "deconvscope/core/tensor.hpp"

namespace ds {

OcclusionGrid occlusion_grid(int height, int width, int size, int stride) {
  if (stride < 1) throw Error(ErrorKind::config, "occlusion.stride", expected_found("a step >= 1", std::to_string(stride)));
  if (size < 1 || size > height || size > width)
    throw Error(ErrorKind::config, "occlusion.size",
                expected_found("a square of 1 to " + std::to_string(std::min(height, width)) + " pixels (the input is " +
                                   std::to_string(height) + "x" + std::to_string(width) + ")",
                               std::to_string(size)),
                "choose a smaller occlusion.size");
  const int half = size / 2;
  // Top-left from -half to side - size + half: the square's middle runs over the whole image.
  auto steps = [&](int side) { return (side - size + 2 * half) / stride + 1; };
  OcclusionGrid g;
  g.rows = steps(height);
  g.cols = steps(width);
  g.positions.reserve(size_t(g.rows) * size_t(g.cols) * 2);
  for (int r = 0; r < g.rows; ++r)
    for (int c = 0; c < g.cols; ++c) {
      g.positions.push_back(-half + r * stride);
      g.positions.push_back(-half + c * stride);
    }
  return g;
}

void occlude(const float* image, int C, int H, int W, int y0, int x0, int size, float* out) {
  const size_t plane = size_t(H) * size_t(W);
  std::memcpy(out, image, size_t(C) * plane * sizeof(float));
  const int ya = std::max(0, y0), yb = std::min(H, y0 + size), xa = std::max(0, x0), xb = std::min(W, x0 + size);
  for (int c = 0; c < C; ++c)
    for (int y = ya; y < yb; ++y) std::fill(out + c * plane + size_t(y) * W + xa, out + c * plane + size_t(y) * W + xb, 0.f);
}

SnapshotOcclusion occlude_snapshot(Network& net, const Dataset& d, const Normalization& norm,
                                   const std::vector<int64_t>& images, int conv, int size, const OcclusionGrid& grid) {
  const InputShape& in = net.input();
  const int C = in.channels, H = in.height, W = in.width;
  const size_t image_size = size_t(C) * size_t(H) * size_t(W);
  const size_t I = images.size(), P = size_t(grid.rows) * size_t(grid.cols);
  const int top = rectified_output_layer(net.specs(), conv);
  const LayerShape& s = net.shapes()[size_t(top)];
  const size_t map_size = size_t(s.height) * size_t(s.width), act_size = size_t(s.channels) * map_size;
  const int classes = net.num_classes();

  SnapshotOcclusion o;
  o.feature.assign(I, -1);
  o.strongest.assign(I, 0.f);
  o.activation.assign(I * P, 0.f);
  o.probability.assign(I * P, 0.f);
  o.predicted.assign(I * P, -1);
  o.projection.assign(I * image_size, 0.f);

  // The unoccluded images, (I, C, H, W) network-input units.
  std::vector<float> base(I * image_size);
  std::vector<int32_t> labels(I);
  std::mt19937_64 unused;
  make_batch(d, images.data(), int(I), norm, Augmentation{}, unused, base.data(), labels.data());

  // The strongest feature map of each image: its largest value anywhere (the position the
  // deconvnet projects from); the first feature, then the first position, on ties.
  std::vector<Activation> acts(I);
  Tensor out;
  forward_images(net, base.data(), int64_t(I), top, [&](int64_t first, int n) {
    net.read_output(top, out);  // (B, O, h, w)
    for (int b = 0; b < n; ++b) {
      const size_t i = size_t(first) + size_t(b);
      const float* a = out.ptr() + size_t(b) * act_size;
      const size_t best = size_t(std::max_element(a, a + act_size) - a);
      if (!(a[best] > 0.f)) continue;  // nothing fired: no feature to follow
      o.feature[i] = int32_t(best / map_size);
      o.strongest[i] = a[best];
      acts[i] = Activation{images[i], int32_t(best % map_size / size_t(s.width)), int32_t(best % size_t(s.width)), a[best]};
    }
  });
  std::vector<int32_t> features(I);
  for (size_t i = 0; i < I; ++i) features[i] = std::max(0, o.feature[i]);  // acts[i].image is -1 where none
  project_activations(net, d, norm, conv, features, acts, o.projection.data());

  // The occluded images, one network batch at a time: (i, p) pairs in order, image-major.
  const int B = net.batch();
  const size_t total = I * P;
  std::vector<float> chunk(size_t(B) * image_size), probabilities(size_t(B) * size_t(classes));
  std::vector<int32_t> predicted(static_cast<size_t>(B));
  for (size_t first = 0; first < total; first += size_t(B)) {
    const int n = int(std::min(total - first, size_t(B)));
    for (int b = 0; b < n; ++b) {
      const size_t i = (first + size_t(b)) / P, p = (first + size_t(b)) % P;
      occlude(base.data() + i * image_size, C, H, W, grid.positions[2 * p], grid.positions[2 * p + 1], size,
              chunk.data() + size_t(b) * image_size);
    }
    forward_images(net, chunk.data(), n, -1, [&](int64_t, int m) {
      net.read_output(top, out);  // (B, O, h, w)
      softmax_rows(net.logits(), m, classes, probabilities.data(), predicted.data());
      for (int b = 0; b < m; ++b) {
        const size_t k = first + size_t(b), i = k / P;
        const int32_t f = o.feature[i];
        if (f >= 0) {
          const float* map = out.ptr() + size_t(b) * act_size + size_t(f) * map_size;
          double sum = 0;
          for (size_t q = 0; q < map_size; ++q) sum += map[q];
          o.activation[k] = float(sum);
        }
        o.probability[k] = probabilities[size_t(b) * size_t(classes) + size_t(labels[i])];
        o.predicted[k] = predicted[size_t(b)];
      }
    });
  }
  return o;
}

namespace {

int last_conv(const std::vector<LayerSpec>& specs) {
  for (size_t i = specs.size(); i-- > 0;)
    if (specs[i].type == LayerType::conv) return int(i);
  return -1;
}

}  // namespace

OcclusionResult compute_occlusion(const Run& run, const OcclusionRequest& request) {
  const OcclusionConfig& oc = request.config;
  OcclusionResult r;
  r.input = run.input();
  r.size = oc.size;
  r.stride = oc.stride;
  r.grid = occlusion_grid(r.input.height, r.input.width, oc.size, oc.stride);

  int conv = -1;
  if (oc.layer.empty()) {
    conv = last_conv(run.layers());
    if (conv < 0) throw Error(ErrorKind::config, "occlusion.layer", "the run's network has no conv layer to occlude");
  } else {
    conv = run.layer_index(oc.layer, "occlusion.layer", LayerKinds::conv);
  }
  r.layer = run.layers()[size_t(conv)].name;

  const std::vector<size_t> snaps = run.select_snapshots("occlusion.epochs", oc.epochs);
  const SelectedImages data = run.select_images("occlusion.images", oc.images);
  const Dataset& d = data.images();
  r.split = data.split();
  r.images = data.selection.indices;
  for (int64_t i : r.images) r.labels.push_back(d.labels[size_t(i)]);

  const std::unique_ptr<Network> net = run.network(run.config().analysis.batch);
  const Normalization norm = run.normalization();
  std::unique_ptr<Progress> bar;
  // Counted in forward passes (the occluded images and the unoccluded ones), for a rate in img/s.
  const int64_t per_snapshot = int64_t(r.images.size() * (r.positions() + 1));
  if (!request.quiet) bar = std::make_unique<Progress>("occlusion", int64_t(snaps.size()) * per_snapshot, "img");
  for (size_t k = 0; k < snaps.size(); ++k) {
    const auto start = std::chrono::steady_clock::now();
    const Snapshot s = run.read(snaps[k]);
    net->import_params(s.params);
    const SnapshotOcclusion o = occlude_snapshot(*net, d, norm, r.images, conv, oc.size, r.grid);
    r.epochs.push_back(s.epoch);
    r.feature.insert(r.feature.end(), o.feature.begin(), o.feature.end());
    r.strongest.insert(r.strongest.end(), o.strongest.begin(), o.strongest.end());
    r.activation.insert(r.activation.end(), o.activation.begin(), o.activation.end());
    r.probability.insert(r.probability.end(), o.probability.begin(), o.probability.end());
    r.predicted.insert(r.predicted.end(), o.predicted.begin(), o.predicted.end());
    r.projection.insert(r.projection.end(), o.projection.begin(), o.projection.end());
    r.seconds.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    if (bar) bar->update(int64_t(k + 1) * per_snapshot, "epoch " + std::to_string(s.epoch));
  }
  if (bar) bar->finish();
  return r;
}

// ---- the [occlusion] section of the config ----

const OcclusionConfig& occlusion_config(const Config& cfg) { return config_section<OcclusionConfig>(cfg, "occlusion"); }

OcclusionConfig& occlusion_config(Config& cfg) { return config_section<OcclusionConfig>(cfg, "occlusion"); }

void register_occlusion_section() {
  // Thread-safe and once: the table refuses a section registered twice.
  static const bool once = [] {
    using namespace config_value;
    register_config_section<OcclusionConfig>("occlusion", {
        // Checked against the run (image indices, layer, input size) when it runs.
        {"occlusion.images", KeyEffect::results, nullptr, "split:indices of the occluded images, e.g. test:0-4 or train:3,7,9",
         [](const OcclusionConfig& c) { return c.images; },
         [](OcclusionConfig& c, const std::string& v, const std::string& w) { c.images = to_text(v, w); }},
        {"occlusion.epochs", KeyEffect::results, "all", "all, or a comma list of snapshot epochs to occlude",
         [](const OcclusionConfig& c) { return c.epochs.empty() ? std::string("all") : join(c.epochs); },
         [](OcclusionConfig& c, const std::string& v, const std::string& w) {
           c.epochs = trimmed(v) == "all" || trimmed(v).empty() ? std::vector<int>{} : to_epoch_list(v, w);
         }},
        {"occlusion.layer", KeyEffect::results, "(empty: the last conv layer)", "conv layer whose strongest feature map is followed",
         [](const OcclusionConfig& c) { return c.layer; },
         [](OcclusionConfig& c, const std::string& v, const std::string& w) { c.layer = to_text(v, w); }},
        {"occlusion.size", KeyEffect::results, nullptr, "side of the grey square in pixels (at most the input's side)",
         [](const OcclusionConfig& c) { return std::to_string(c.size); },
         [](OcclusionConfig& c, const std::string& v, const std::string& w) { c.size = to_int(v, w, 1, 1 << 16); }},
        {"occlusion.stride", KeyEffect::results, nullptr, "step of the square in pixels",
         [](const OcclusionConfig& c) { return std::to_string(c.stride); },
         [](OcclusionConfig& c, const std::string& v, const std::string& w) { c.stride = to_int(v, w, 1, 1 << 16); }},
        {"occlusion.in_analyze", KeyEffect::results, nullptr, "deconvscope analyze also runs the occlusion",
         [](const OcclusionConfig& c) { return bool_text(c.in_analyze); },
         [](OcclusionConfig& c, const std::string& v, const std::string& w) { c.in_analyze = to_bool(v, w); }}
    });
    return true;
  }();
  (void)once;
}

}  // namespace ds
