// See include/deconvscope/analysis/similarity.hpp: the measure from centred Gram matrices
// (oneDNN's sgemm, model/gemm.hpp), and one pass of the images through each snapshot.
#include "deconvscope/analysis/similarity.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <functional>
#include <limits>

#include "deconvscope/config/config_section.hpp"
#include "deconvscope/config/config_value.hpp"
#include "deconvscope/analysis/pooled_features.hpp"
#include "deconvscope/core/error.hpp"
#include "deconvscope/core/progress.hpp"
#include "deconvscope/model/evaluate.hpp"
#include "deconvscope/model/gemm.hpp"
#include "deconvscope/model/network.hpp"

namespace ds {

std::vector<float> centred_gram(const float* x, int64_t n, int64_t dim) {
  // Centring the features before the product (not the Gram after it) keeps float32
  // accurate when the features have a large common offset, as ReLU outputs do.
  std::vector<double> mean(size_t(dim), 0.0);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t d = 0; d < dim; ++d) mean[size_t(d)] += x[size_t(i * dim + d)];
  for (double& m : mean) m /= double(n);
  std::vector<float> xc(size_t(n) * size_t(dim));  // (n, D) centred
  for (int64_t i = 0; i < n; ++i)
    for (int64_t d = 0; d < dim; ++d) xc[size_t(i * dim + d)] = float(double(x[size_t(i * dim + d)]) - mean[size_t(d)]);
  std::vector<float> gram(size_t(n) * size_t(n));  // (n, n): the cost, n^2 * D
  gemm_abt(xc.data(), xc.data(), n, n, dim, gram.data());
  return gram;
}

double cka_from_grams(const std::vector<float>& k, const std::vector<float>& l) {
  if (k.size() != l.size())
    throw Error(ErrorKind::internal, "similarity",
                expected_found("two Gram matrices of the same images", std::to_string(k.size()) + " and " +
                                                                           std::to_string(l.size()) + " values"),
                "a deconvscope bug");
  double kl = 0, kk = 0, ll = 0;
  for (size_t i = 0; i < k.size(); ++i) {
    const double a = k[i], b = l[i];
    kl += a * b, kk += a * a, ll += b * b;
  }
  if (!(kk > 0) || !(ll > 0)) return std::numeric_limits<double>::quiet_NaN();
  return kl / std::sqrt(kk * ll);
}

double linear_cka(const float* x, int64_t dx, const float* y, int64_t dy, int64_t n) {
  return cka_from_grams(centred_gram(x, n, dx), centred_gram(y, n, dy));
}

std::vector<float> SimilarityResult::to_final_curve(size_t l) const {
  std::vector<float> v;
  for (size_t e = 0; e < epochs.size(); ++e) v.push_back(to_final[index(e, l)]);
  return v;
}

std::vector<float> SimilarityResult::to_previous_curve(size_t l) const {
  std::vector<float> v;
  for (size_t e = 0; e < epochs.size(); ++e) v.push_back(to_previous[index(e, l)]);
  return v;
}

std::vector<int> similarity_layers(const Run& run, const SimilarityConfig& cfg) {
  return conv_and_hidden_fc_layers(run, cfg.layers, "similarity.layers");
}

int cka_settles_at(const SimilarityResult& r, size_t l, double threshold) {
  return first_epoch_staying_at_or_above(r.epochs, r.to_final_curve(l), threshold);
}

namespace {

// One chosen layer's features: the layer read (its rectified output) and its pooling.
struct Pooled {
  int output = 0;  // layer index read with read_output
  int C = 0, H = 0, W = 0;
  int64_t dim = 0;
};

// The centred Gram matrix of every chosen layer at one snapshot: one forward pass of the
// images, pooled batch by batch (the full-size activations are never held).
std::vector<std::vector<float>> snapshot_grams(Network& net, const Snapshot& s, const Dataset& images, int64_t count,
                                               const std::vector<Pooled>& layers, int grid, double& forward_seconds,
                                               const std::function<void(int64_t)>& on_batch) {
  net.import_params(s.params);
  const Normalization norm{s.input_mean, s.input_std};
  const int B = net.batch();
  std::vector<std::vector<float>> feats(layers.size());
  for (size_t l = 0; l < layers.size(); ++l) feats[l].resize(size_t(count) * size_t(layers[l].dim));  // (n, D)
  std::vector<float> input;
  std::vector<int32_t> labels;
  Tensor act;
  for (int64_t first = 0; first < count; first += B) {
    const int n = int(std::min<int64_t>(B, count - first));
    fill_batch(images, first, n, norm, B, input, labels);  // (B, C, H, W) network input
    const auto f0 = std::chrono::steady_clock::now();
    net.forward(input.data(), Mode::infer);
    forward_seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - f0).count();
    for (size_t l = 0; l < layers.size(); ++l) {
      const Pooled& p = layers[l];
      net.read_output(p.output, act);  // (B, C, H, W) or (B, C) plain
      pool_features(act.data.data(), n, p.C, p.H, p.W, grid, feats[l].data() + size_t(first) * size_t(p.dim));
    }
    on_batch(first + n);
  }
  std::vector<std::vector<float>> grams(layers.size());
  for (size_t l = 0; l < layers.size(); ++l) {
    grams[l] = centred_gram(feats[l].data(), count, layers[l].dim);
    std::vector<float>().swap(feats[l]);  // the pooled features are not needed any more
  }
  return grams;
}

}  // namespace

SimilarityResult compute_similarity(const Run& run, const SimilarityConfig& cfg, bool show_progress) {
  if (cfg.grid < 1) throw Error(ErrorKind::config, "similarity.grid", expected_found("an integer >= 1", std::to_string(cfg.grid)));
  const std::vector<int> chosen = similarity_layers(run, cfg);
  if (cfg.images < 2)
    throw Error(ErrorKind::config, "similarity.images",
                expected_found("at least 2 images (CKA centres over the images)", std::to_string(cfg.images)));
  const RunImages data = run.images(/*train_split=*/true, cfg.images);
  if (cfg.images > int64_t(data.images().size()))
    throw Error(ErrorKind::config, "similarity.images",
                expected_found("at most the " + std::to_string(data.images().size()) +
                                   " images of the training split of " + data.path(),
                               std::to_string(cfg.images)),
                "lower --similarity.images");
  SimilarityResult r;
  r.image_count = cfg.images;
  r.grid = cfg.grid;

  const std::unique_ptr<Network> net_owner = run.network(run.config().analysis.batch);
  Network& net = *net_owner;
  const std::vector<LayerShape>& shapes = net.shapes();
  std::vector<Pooled> layers;
  for (int i : chosen) {
    const int out = rectified_output_layer(run.layers(), i);
    const LayerShape& s = shapes[size_t(out)];
    layers.push_back(Pooled{out, s.channels, s.height, s.width, pooled_dim(s.channels, s.height, s.width, cfg.grid)});
    r.layers.push_back(run.layers()[size_t(i)].name);
    r.feature_dim.push_back(layers.back().dim);
  }
  const size_t L = layers.size(), E = run.snapshots().size();
  const float nan = std::numeric_limits<float>::quiet_NaN();
  r.to_final.assign(E * L, nan);
  r.to_previous.assign(E * L, nan);
  r.layer_by_layer.assign(E * L * L, nan);
  r.seconds.assign(E, 0.0);
  r.forward_seconds.assign(E, 0.0);
  for (const auto& [epoch, path] : run.snapshots()) r.epochs.push_back(epoch);

  std::unique_ptr<Progress> bar;
  if (show_progress) bar = std::make_unique<Progress>("similarity", int64_t(E) * r.image_count, "img");
  int64_t done_before = 0;
  const auto progress = [&](int64_t done) {
    if (bar) bar->update(done_before + done);
  };
  // The final snapshot first: every to_final compares with it. Then the others in order,
  // each compared with the previous one (two snapshots' Gram matrices held at a time,
  // besides the final's).
  std::vector<size_t> order;
  order.push_back(E - 1);
  for (size_t e = 0; e + 1 < E; ++e) order.push_back(e);
  std::vector<std::vector<float>> final_grams, previous;
  for (size_t si : order) {
    const auto t0 = std::chrono::steady_clock::now();
    std::vector<std::vector<float>> grams =
        snapshot_grams(net, run.read(si), data.images(), r.image_count, layers, cfg.grid, r.forward_seconds[si], progress);
    done_before += r.image_count;
    for (size_t a = 0; a < L; ++a)
      for (size_t b = a; b < L; ++b) {
        const float v = float(cka_from_grams(grams[a], grams[b]));
        r.layer_by_layer[(si * L + a) * L + b] = r.layer_by_layer[(si * L + b) * L + a] = v;
      }
    if (si + 1 == E) {
      // Computed, not set: exactly 1, or NaN for a layer with no representation.
      for (size_t a = 0; a < L; ++a) r.to_final[r.index(si, a)] = r.layer_by_layer[(si * L + a) * L + a];
      final_grams = std::move(grams);
    } else {
      for (size_t a = 0; a < L; ++a) {
        r.to_final[r.index(si, a)] = float(cka_from_grams(grams[a], final_grams[a]));
        if (si > 0) r.to_previous[r.index(si, a)] = float(cka_from_grams(grams[a], previous[a]));
        if (si + 2 == E) r.to_previous[r.index(E - 1, a)] = float(cka_from_grams(final_grams[a], grams[a]));
      }
      previous = std::move(grams);
    }
    r.seconds[si] = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  }
  if (bar) bar->finish();
  return r;
}

// ---- the [similarity] section of the config ----

const SimilarityConfig& similarity_config(const Config& cfg) { return config_section<SimilarityConfig>(cfg, "similarity"); }

SimilarityConfig& similarity_config(Config& cfg) { return config_section<SimilarityConfig>(cfg, "similarity"); }

void register_similarity_section() {
  // Thread-safe and once: the table refuses a section registered twice.
  static const bool once = [] {
    using namespace config_value;
    register_config_section<SimilarityConfig>("similarity", {
        // Layers and images need the run, so they are checked when the analysis runs (above), naming the keys.
        {"similarity.layers", KeyEffect::results, "all", "all (every conv layer and every hidden fc layer), or a comma list of conv and fc layers",
         [](const SimilarityConfig& c) { return c.layers.empty() ? std::string("all") : join(c.layers); },
         [](SimilarityConfig& c, const std::string& v, const std::string& w) {
           c.layers.clear();
           if (trimmed(v) != "all") c.layers = to_name_list(v, w);
         }},
        {"similarity.images", KeyEffect::results, nullptr, "compare the layers' representations of the first N training images",
         [](const SimilarityConfig& c) { return std::to_string(c.images); },
         [](SimilarityConfig& c, const std::string& v, const std::string& w) { c.images = to_int64(v, w, 2); }},
        {"similarity.grid", KeyEffect::results, nullptr, "conv outputs are average-pooled to at most grid x grid cells per channel",
         [](const SimilarityConfig& c) { return std::to_string(c.grid); },
         [](SimilarityConfig& c, const std::string& v, const std::string& w) { c.grid = to_int(v, w, 1, 64); }},
        {"similarity.settle_threshold", KeyEffect::results, nullptr,
         "the report's \"representation settles at\": the first snapshot from which CKA to the final one stays >= this",
         [](const SimilarityConfig& c) { return float_text(c.settle_threshold); },
         [](SimilarityConfig& c, const std::string& v, const std::string& w) {
           c.settle_threshold = to_float(v, w, "a number in (0, 1]", [](float x) { return x > 0 && x <= 1; });
         }},
        {"similarity.in_analyze", KeyEffect::results, nullptr, "analyze (and analysis.live) also runs the similarity analysis",
         [](const SimilarityConfig& c) { return bool_text(c.in_analyze); },
         [](SimilarityConfig& c, const std::string& v, const std::string& w) { c.in_analyze = to_bool(v, w); }}
    });
    return true;
  }();
  (void)once;
}

}  // namespace ds
