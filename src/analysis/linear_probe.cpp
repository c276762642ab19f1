// See include/deconvscope/analysis/linear_probe.hpp: pooling, the ridge probe (OpenCV's
// gemm and Cholesky solve), and the two passes over a run's images per snapshot.
#include "deconvscope/analysis/linear_probe.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>
#include <memory>

#include <opencv2/core.hpp>

#include "deconvscope/analysis/forward_images.hpp"
#include "deconvscope/config/config_section.hpp"
#include "deconvscope/config/config_value.hpp"
#include "deconvscope/core/error.hpp"
#include "deconvscope/core/progress.hpp"
#include "deconvscope/model/evaluate.hpp"
#include "deconvscope/model/network.hpp"

namespace ds {

const std::vector<double>& ridge_alphas() {
  static const std::vector<double> a = {1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1.0};
  return a;
}

namespace {

// Standardised rows times the weights: scores (n, K), then argmax against the labels.
int64_t count_correct(const cv::Mat& z, const cv::Mat& w, const cv::Mat& bias, const int32_t* labels) {
  cv::Mat scores;  // (n, K)
  cv::gemm(z, w, 1.0, cv::noArray(), 0.0, scores);
  int64_t right = 0;
  for (int i = 0; i < z.rows; ++i) {
    const float* s = scores.ptr<float>(i);
    const float* b = bias.ptr<float>(0);
    int best = 0;
    for (int k = 1; k < scores.cols; ++k)
      if (s[k] + b[k] > s[best] + b[best]) best = k;
    right += best == labels[i] ? 1 : 0;
  }
  return right;
}

// Sufficient statistics of some standardised rows Z with one-hot targets Y: Z'Z (D, D),
// the column sums of Z (D), Z'Y (D, K), the class counts (K), all float64.
struct Normal {
  cv::Mat zz, zsum, zy, ysum;
  int64_t n = 0;
};

Normal normal_of(const cv::Mat& z, const int32_t* labels, int classes) {
  Normal s;
  s.n = z.rows;
  cv::Mat zz32;
  cv::gemm(z, z, 1.0, cv::noArray(), 0.0, zz32, cv::GEMM_1_T);  // the cost: n * D^2
  zz32.convertTo(s.zz, CV_64F);
  s.zsum = cv::Mat::zeros(z.cols, 1, CV_64F);
  s.zy = cv::Mat::zeros(z.cols, classes, CV_64F);
  s.ysum = cv::Mat::zeros(classes, 1, CV_64F);
  for (int i = 0; i < z.rows; ++i) {
    const float* r = z.ptr<float>(i);
    const int k = labels[i];
    s.ysum.at<double>(k) += 1;
    for (int d = 0; d < z.cols; ++d) {
      s.zsum.at<double>(d) += r[d];
      s.zy.at<double>(d, k) += r[d];
    }
  }
  return s;
}

Normal operator+(const Normal& a, const Normal& b) {
  return Normal{a.zz + b.zz, a.zsum + b.zsum, a.zy + b.zy, a.ysum + b.ysum, a.n + b.n};
}

// Ridge regression onto one-hot targets with an unpenalised bias: the normal equations
// [Z'Z + lambda I, Z'1; 1'Z, n] W = [Z'Y; 1'Y], lambda = alpha * trace(Z'Z) / D.
// Returns W (D + 1, K) float64, the bias last.
cv::Mat solve_ridge(const Normal& s, double alpha) {
  const int D = s.zz.rows, K = s.zy.cols;
  const double trace = cv::trace(s.zz)[0];
  // All-constant features (trace 0): any positive lambda makes the system definite.
  const double lambda = alpha * (trace > 0 ? trace / D : double(std::max<int64_t>(s.n, 1)));
  cv::Mat a = cv::Mat::zeros(D + 1, D + 1, CV_64F), rhs(D + 1, K, CV_64F);
  s.zz.copyTo(a(cv::Rect(0, 0, D, D)));
  for (int d = 0; d < D; ++d) a.at<double>(d, d) += lambda;
  s.zsum.copyTo(a(cv::Rect(D, 0, 1, D)));
  cv::Mat(s.zsum.t()).copyTo(a(cv::Rect(0, D, D, 1)));
  a.at<double>(D, D) = double(s.n);
  s.zy.copyTo(rhs(cv::Rect(0, 0, K, D)));
  cv::Mat(s.ysum.t()).copyTo(rhs(cv::Rect(0, D, K, 1)));
  cv::Mat w;
  // Positive definite whenever lambda > 0 and n > 0; SVD only for a degenerate corner
  // (no rows), so a fit never fails.
  if (!cv::solve(a, rhs, w, cv::DECOMP_CHOLESKY)) cv::solve(a, rhs, w, cv::DECOMP_SVD);
  return w;
}

// The (D, K) and (1, K) float parts of W for scoring.
void split_weights(const cv::Mat& w64, cv::Mat& w, cv::Mat& bias) {
  const int D = w64.rows - 1;
  w64(cv::Rect(0, 0, w64.cols, D)).convertTo(w, CV_32F);
  w64(cv::Rect(0, D, w64.cols, 1)).convertTo(bias, CV_32F);
}

void standardise_rows(cv::Mat& z, const std::vector<float>& mean, const std::vector<float>& inv_std) {
  for (int i = 0; i < z.rows; ++i) {
    float* r = z.ptr<float>(i);
    for (int d = 0; d < z.cols; ++d) r[d] = (r[d] - mean[size_t(d)]) * inv_std[size_t(d)];
  }
}

}  // namespace

int64_t ProbeFit::correct(const float* x, const int32_t* labels, int64_t n) const {
  if (n <= 0) return 0;
  cv::Mat z = cv::Mat(int(n), int(dim), CV_32F, const_cast<float*>(x)).clone();  // (n, D)
  standardise_rows(z, mean, inv_std);
  cv::Mat w64(int(dim) + 1, classes, CV_64F, const_cast<double*>(weights.data())), w, bias;
  split_weights(w64, w, bias);
  return count_correct(z, w, bias, labels);
}

ProbeFit fit_linear_probe(const std::vector<float>& x, const std::vector<int32_t>& labels, int64_t n, int64_t dim,
                          int classes) {
  if (n <= 0 || dim <= 0 || classes <= 0 || x.size() != size_t(n * dim) || labels.size() < size_t(n))
    throw Error(ErrorKind::shape, "linear probe",
                expected_found("n x D features and n labels, n, D > 0",
                               std::to_string(x.size()) + " values and " + std::to_string(labels.size()) +
                                   " labels for n = " + std::to_string(n) + ", D = " + std::to_string(dim)),
                "a deconvscope bug");
  for (int64_t i = 0; i < n; ++i)
    if (labels[size_t(i)] < 0 || labels[size_t(i)] >= classes)
      throw Error(ErrorKind::shape, "linear probe",
                  expected_found("labels in [0, " + std::to_string(classes) + ")", std::to_string(labels[size_t(i)])));
  ProbeFit f;
  f.dim = dim;
  f.classes = classes;
  const int N = int(n), D = int(dim);
  // The training features' mean and std, in float64 (sums over 10^4 rows).
  std::vector<double> sum(size_t(D), 0.0), sq(size_t(D), 0.0);
  for (int i = 0; i < N; ++i) {
    const float* r = x.data() + size_t(i) * size_t(D);
    for (int d = 0; d < D; ++d) sum[size_t(d)] += r[d];
  }
  f.mean.resize(size_t(D));
  for (int d = 0; d < D; ++d) f.mean[size_t(d)] = float(sum[size_t(d)] / N);
  for (int i = 0; i < N; ++i) {
    const float* r = x.data() + size_t(i) * size_t(D);
    for (int d = 0; d < D; ++d) {
      const double c = double(r[d]) - f.mean[size_t(d)];
      sq[size_t(d)] += c * c;
    }
  }
  f.inv_std.resize(size_t(D));
  for (int d = 0; d < D; ++d) {
    const double sd = std::sqrt(sq[size_t(d)] / N);
    f.inv_std[size_t(d)] = sd > 0 ? float(1.0 / sd) : 1.f;
  }
  cv::Mat z = cv::Mat(N, D, CV_32F, const_cast<float*>(x.data())).clone();  // (N, D) standardised
  standardise_rows(z, f.mean, f.inv_std);

  // Validation: the last fifth of the rows chooses alpha; then every row is fitted.
  const int val = N >= 50 ? N / 5 : 0;
  const int fit_rows = N - val;
  const Normal fit = normal_of(z.rowRange(0, fit_rows), labels.data(), classes);
  Normal all = fit;
  f.alpha = kDefaultRidgeAlpha;
  if (val > 0) {
    const cv::Mat zval = z.rowRange(fit_rows, N);
    int64_t best = -1;
    for (double alpha : ridge_alphas()) {
      cv::Mat w, bias;
      split_weights(solve_ridge(fit, alpha), w, bias);
      const int64_t right = count_correct(zval, w, bias, labels.data() + fit_rows);
      if (right >= best) best = right, f.alpha = alpha;  // ascending alphas: ties go to the stronger
    }
    all = fit + normal_of(zval, labels.data() + fit_rows, classes);
  }
  const cv::Mat w64 = solve_ridge(all, f.alpha);
  f.weights.assign(w64.ptr<double>(0), w64.ptr<double>(0) + size_t(D + 1) * size_t(classes));
  cv::Mat w, bias;
  split_weights(w64, w, bias);
  f.train_accuracy = double(count_correct(z, w, bias, labels.data())) / N;
  return f;
}

// --- A run's probes ---------------------------------------------------------------------

std::vector<int> linear_probe_layers(const Run& run, const LinearProbeConfig& cfg) {
  return conv_and_hidden_fc_layers(run, cfg.layers, "linear_probe.layers");
}

int convergence_epoch(const std::vector<int>& epochs, const std::vector<float>& accuracy, double share) {
  if (epochs.empty() || accuracy.size() != epochs.size() || !(accuracy.back() > 0)) return -1;
  const double target = share * double(accuracy.back());
  for (size_t e = 0; e < epochs.size(); ++e)
    if (double(accuracy[e]) >= target) return epochs[e];
  return epochs.back();
}

std::vector<float> probe_test_curve(const LinearProbeResult& r, size_t l) {
  std::vector<float> v;
  for (size_t e = 0; e < r.epochs.size(); ++e) v.push_back(r.test_accuracy[r.index(e, l)]);
  return v;
}

float probe_floor(const LinearProbeResult& r) {
  for (size_t l = 0; l < r.layers.size(); ++l)
    if (r.layers[l] == kPixelsRow && !r.epochs.empty()) return r.test_accuracy[r.index(0, l)];
  return std::numeric_limits<float>::quiet_NaN();
}

std::vector<float> probe_gain_curve(const LinearProbeResult& r, size_t l) {
  const std::vector<float> acc = probe_test_curve(r, l);
  const double floor = probe_floor(r);
  std::vector<float> gain(acc.size(), std::numeric_limits<float>::quiet_NaN());
  if (acc.empty() || !(double(acc.back()) > floor)) return gain;
  for (size_t e = 0; e < acc.size(); ++e) gain[e] = float((double(acc[e]) - floor) / (double(acc.back()) - floor));
  return gain;
}

int probe_useful_at(const LinearProbeResult& r, size_t l, double share) {
  return first_epoch_staying_at_or_above(r.epochs, probe_gain_curve(r, l), share);
}

namespace {

// A probed row's features: which layer's output (-1: the input pixels) and its pooling.
struct Probed {
  int output = -1;  // layer index read with read_output; -1 = the network input
  int C = 0, H = 0, W = 0, grid = 1;
  int64_t dim = 0;
};

int64_t checked_count(int64_t want, size_t have, const std::string& key, const std::string& split,
                      const std::string& path) {
  if (want > int64_t(have))
    throw Error(ErrorKind::config, key,
                expected_found("at most the " + std::to_string(have) + " images of the " + split + " split of " + path,
                               std::to_string(want)),
                "lower --" + key);
  return want;
}

// Rows 0..n-1 of the batch whose logits' argmax is the label.
int64_t network_correct(const Network& net, int n, const std::vector<int32_t>& labels) {
  const int classes = net.num_classes();
  std::vector<int32_t> predicted(static_cast<size_t>(n));
  std::vector<float> probabilities(static_cast<size_t>(n) * static_cast<size_t>(classes));
  softmax_rows(net.logits(), n, classes, probabilities.data(), predicted.data());
  int64_t right = 0;
  for (int i = 0; i < n; ++i) right += predicted[size_t(i)] == labels[size_t(i)] ? 1 : 0;
  return right;
}

// The probed rows: the pixels, then each chosen layer's rectified output pooled to the
// grid; their names (with the closing (network) row) and feature sizes go into r.
std::vector<Probed> probe_rows(const Run& run, const Network& net, const std::vector<int>& layers, int grid,
                               LinearProbeResult& r) {
  std::vector<Probed> rows;
  const InputShape& in = run.input();
  Probed px{-1, in.channels, in.height, in.width, std::max(in.height, in.width), 0};
  if (int64_t(in.channels) * in.height * in.width > kMaxPixelFeatures)
    px.grid = std::max(1, int(std::sqrt(double(kMaxPixelFeatures) / in.channels)));
  rows.push_back(px);
  r.layers.push_back(kPixelsRow);
  for (int i : layers) {
    const int out = rectified_output_layer(run.layers(), i);
    const LayerShape& s = net.shapes()[size_t(out)];
    rows.push_back(Probed{out, s.channels, s.height, s.width, grid, 0});
    r.layers.push_back(run.layers()[size_t(i)].name);
  }
  for (Probed& p : rows) p.dim = pooled_dim(p.C, p.H, p.W, p.grid);
  r.layers.push_back(kNetworkRow);
  for (const Probed& p : rows) r.feature_dim.push_back(int32_t(p.dim));
  r.feature_dim.push_back(net.num_classes());
  return rows;
}

// One snapshot's passes over the images: the network holding its weights, the probed
// rows, and the batch buffers and forward time they share.
struct SnapshotPass {
  SnapshotPass(Network& net_, const std::vector<Probed>& rows_, size_t first_row_, Normalization norm_, Progress* bar_,
               int64_t done_)
      : net(net_), rows(rows_), first_row(first_row_), norm(norm_), bar(bar_), done(done_) {}

  Network& net;
  const std::vector<Probed>& rows;
  size_t first_row;  // 1 after the first snapshot: the pixels do not change and are probed once
  Normalization norm;
  Progress* bar;
  int64_t done;  // images of earlier passes, for the bar
  std::vector<float> input;     // (B, C, H, W) network input
  std::vector<int32_t> labels;  // (B)
  Tensor act;
  double forward_seconds = 0;

  // Images [first, first + n) of d through the network.
  void forward(const Dataset& d, int64_t first, int n) {
    fill_batch(d, first, n, norm, net.batch(), input, labels);
    const auto t0 = std::chrono::steady_clock::now();
    net.forward(input.data(), Mode::infer);
    forward_seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  }
  // Row p's features of the batch's n images, pooled into out (n, D).
  void pool(size_t p, int n, float* out) {
    const Probed& pr = rows[p];
    const float* a = input.data();
    if (pr.output >= 0) {
      net.read_output(pr.output, act);  // (B, C, H, W) or (B, C) plain
      a = act.data.data();
    }
    pool_features(a, n, pr.C, pr.H, pr.W, pr.grid, out);
  }
  void progress(int64_t images) {
    if (bar) bar->update(done + images);
  }
};

// Pass 1: the first `count` training images pooled batch by batch into (count, D) per row;
// their labels into `labels`. Returns how many the network itself gets right.
int64_t pool_training(SnapshotPass& s, const Dataset& train, int64_t count, std::vector<std::vector<float>>& feats,
                      std::vector<int32_t>& labels) {
  const int B = s.net.batch();
  for (size_t p = s.first_row; p < s.rows.size(); ++p) feats[p].resize(size_t(count) * size_t(s.rows[p].dim));
  int64_t net_right = 0;
  for (int64_t first = 0; first < count; first += B) {
    const int n = int(std::min<int64_t>(B, count - first));
    s.forward(train, first, n);
    std::copy(s.labels.begin(), s.labels.begin() + n, labels.begin() + first);
    for (size_t p = s.first_row; p < s.rows.size(); ++p) s.pool(p, n, feats[p].data() + size_t(first) * size_t(s.rows[p].dim));
    net_right += network_correct(s.net, n, s.labels);
    s.progress(first + n);
  }
  return net_right;
}

// Pass 2: the first `count` test images scored by each row's probe as they are pooled:
// the right answers per row into `right`. Returns how many the network itself gets right.
int64_t score_test(SnapshotPass& s, const Dataset& test, int64_t count, const std::vector<ProbeFit>& fits,
                   std::vector<int64_t>& right) {
  const int B = s.net.batch();
  int64_t net_right = 0;
  std::vector<float> pooled;
  for (int64_t first = 0; first < count; first += B) {
    const int n = int(std::min<int64_t>(B, count - first));
    s.forward(test, first, n);
    for (size_t p = s.first_row; p < s.rows.size(); ++p) {
      pooled.resize(size_t(n) * size_t(s.rows[p].dim));
      s.pool(p, n, pooled.data());  // (n, D)
      right[p] += fits[p].correct(pooled.data(), s.labels.data(), n);
    }
    net_right += network_correct(s.net, n, s.labels);
    s.progress(first + n);
  }
  return net_right;
}

// Snapshot si's probes: fitted on the training images, scored on the test images, into
// r's row si (the pixel row of a later snapshot copied from the first).
void probe_snapshot(SnapshotPass& s, const DataSplits& data, size_t si, std::vector<ProbeFit>& fits,
                    LinearProbeResult& r) {
  const size_t P = s.rows.size();  // the probed rows; row P is (network)
  const int classes = s.net.num_classes();
  std::vector<std::vector<float>> feats(P);
  std::vector<int32_t> train_labels(size_t(r.train_count));
  const int64_t train_right = pool_training(s, data.train, r.train_count, feats, train_labels);
  const auto fit0 = std::chrono::steady_clock::now();
  for (size_t p = s.first_row; p < P; ++p) {
    fits[p] = fit_linear_probe(feats[p], train_labels, r.train_count, s.rows[p].dim, classes);
    std::vector<float>().swap(feats[p]);  // the pooled training features are not needed any more
    r.train_accuracy[r.index(si, p)] = float(fits[p].train_accuracy);
    r.alpha[r.index(si, p)] = float(fits[p].alpha);
  }
  r.fit_seconds.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - fit0).count());
  r.train_accuracy[r.index(si, P)] = float(double(train_right) / double(r.train_count));

  s.done += r.train_count;
  std::vector<int64_t> right(P, 0);
  const int64_t test_right = score_test(s, data.test, r.test_count, fits, right);
  for (size_t p = s.first_row; p < P; ++p) r.test_accuracy[r.index(si, p)] = float(double(right[p]) / double(r.test_count));
  r.test_accuracy[r.index(si, P)] = float(double(test_right) / double(r.test_count));
  if (si > 0) {
    r.train_accuracy[r.index(si, 0)] = r.train_accuracy[r.index(0, 0)];
    r.test_accuracy[r.index(si, 0)] = r.test_accuracy[r.index(0, 0)];
    r.alpha[r.index(si, 0)] = r.alpha[r.index(0, 0)];
  }
}

}  // namespace

LinearProbeResult compute_linear_probes(const Run& run, const LinearProbeConfig& cfg, bool show_progress) {
  if (cfg.grid < 1) throw Error(ErrorKind::config, "linear_probe.grid", expected_found("an integer >= 1", std::to_string(cfg.grid)));
  const std::vector<int> layers = linear_probe_layers(run, cfg);
  const DataSplits data = run.data(cfg.train, cfg.test);
  LinearProbeResult r;
  r.train_count = checked_count(cfg.train, data.train.size(), "linear_probe.train", "training", data.path);
  r.test_count = checked_count(cfg.test, data.test.size(), "linear_probe.test", "test", data.path);
  r.grid = cfg.grid;

  const std::unique_ptr<Network> net = run.network(run.config().analysis.batch);
  const int classes = net->num_classes();
  if (data.train.num_classes > classes || data.test.num_classes > classes)
    throw Error(ErrorKind::data, data.path,
                expected_found("at most the network's " + std::to_string(classes) + " classes",
                               std::to_string(std::max(data.train.num_classes, data.test.num_classes))));
  const std::vector<Probed> rows = probe_rows(run, *net, layers, cfg.grid, r);

  const size_t E = run.snapshots().size(), L = r.layers.size();
  r.train_accuracy.assign(E * L, 0.f);
  r.test_accuracy.assign(E * L, 0.f);
  r.alpha.assign(E * L, std::numeric_limits<float>::quiet_NaN());
  std::unique_ptr<Progress> bar;
  const int64_t per_snapshot = r.train_count + r.test_count;
  if (show_progress) bar = std::make_unique<Progress>("linear probes", int64_t(E) * per_snapshot, "img");

  std::vector<ProbeFit> fits(rows.size());
  for (size_t si = 0; si < E; ++si) {
    const auto t0 = std::chrono::steady_clock::now();
    const Snapshot s = run.read(si);
    r.epochs.push_back(s.epoch);
    net->import_params(s.params);
    SnapshotPass pass(*net, rows, /*first_row =*/si == 0 ? 0 : 1, Normalization{s.input_mean, s.input_std}, bar.get(),
                      /*done =*/int64_t(si) * per_snapshot);
    probe_snapshot(pass, data, si, fits, r);
    r.forward_seconds.push_back(pass.forward_seconds);
    r.seconds.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  if (bar) bar->finish();
  return r;
}

// ---- the [linear_probe] section of the config ----

const LinearProbeConfig& linear_probe_config(const Config& cfg) { return config_section<LinearProbeConfig>(cfg, "linear_probe"); }

LinearProbeConfig& linear_probe_config(Config& cfg) { return config_section<LinearProbeConfig>(cfg, "linear_probe"); }

void register_linear_probe_section() {
  // Thread-safe and once: the table refuses a section registered twice.
  static const bool once = [] {
    using namespace config_value;
    register_config_section<LinearProbeConfig>("linear_probe", {
        {"linear_probe.layers", KeyEffect::results, "all", "all (every conv layer and every hidden fc layer), or a comma list of conv and fc layers to probe",
         [](const LinearProbeConfig& c) { return c.layers.empty() ? std::string("all") : join(c.layers); },
         [](LinearProbeConfig& c, const std::string& v, const std::string& w) {
           c.layers.clear();
           if (trimmed(v) != "all") c.layers = to_name_list(v, w);
         }},
        {"linear_probe.train", KeyEffect::results, nullptr, "fit the probes on the first N training images",
         [](const LinearProbeConfig& c) { return std::to_string(c.train); },
         [](LinearProbeConfig& c, const std::string& v, const std::string& w) { c.train = to_int64(v, w, 1); }},
        {"linear_probe.test", KeyEffect::results, nullptr, "score the probes on the first N test images",
         [](const LinearProbeConfig& c) { return std::to_string(c.test); },
         [](LinearProbeConfig& c, const std::string& v, const std::string& w) { c.test = to_int64(v, w, 1); }},
        {"linear_probe.grid", KeyEffect::results, nullptr, "conv outputs are average-pooled to at most grid x grid cells per channel",
         [](const LinearProbeConfig& c) { return std::to_string(c.grid); },
         [](LinearProbeConfig& c, const std::string& v, const std::string& w) { c.grid = to_int(v, w, 1, 64); }},
        {"linear_probe.in_analyze", KeyEffect::results, nullptr, "analyze (and analysis.live) also runs the linear probes",
         [](const LinearProbeConfig& c) { return bool_text(c.in_analyze); },
         [](LinearProbeConfig& c, const std::string& v, const std::string& w) { c.in_analyze = to_bool(v, w); }}
    });
    return true;
  }();
  (void)once;
}

}  // namespace ds
