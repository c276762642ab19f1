// Filter health: each metric on hand-made filters whose answer is known (a checkerboard,
// a smooth blob, a mid-frequency grating, a zero filter, identical and negated filters, a
// stride-periodic projection), then compute_health() end to end on a tiny trained run
// whose snapshot is doctored (a dead, a dominating and a copied filter), with the
// health.h5 round trip, the CSV files, and aliasing from a real analysis.
#include "deconvscope/analysis/health.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>

#include <unistd.h>

#include "deconvscope/analysis/analyze.hpp"
#include "deconvscope/core/error.hpp"
#include "deconvscope/io/h5.hpp"
#include "deconvscope/io/snapshot.hpp"
#include "deconvscope/io/csv.hpp"
#include "deconvscope/report/health_page.hpp"
#include "deconvscope/train/trainer.hpp"
#include "train/synthetic_run.hpp"

namespace fs = std::filesystem;

namespace ds {
namespace {

// Cells (<td or <th) in a table row of HTML.
size_t count_cells(const std::string& row) {
  size_t n = 0;
  for (const char* tag : {"<td", "<th"})
    for (size_t at = row.find(tag); at != std::string::npos; at = row.find(tag, at + 1)) ++n;
  return n;
}

// One filter (1, 1, k, k) from a function of (y, x).
template <class F>
Tensor one_filter(int k, F f) {
  Tensor t({1, 1, k, k});
  for (int y = 0; y < k; ++y)
    for (int x = 0; x < k; ++x) t.data[size_t(y) * k + x] = float(f(y, x));
  return t;
}

// Stacks single filters into (O, 1, k, k).
Tensor stack(const std::vector<Tensor>& fs_) {
  Tensor t({int64_t(fs_.size()), 1, fs_[0].dims[2], fs_[0].dims[3]});
  size_t at = 0;
  for (const Tensor& f : fs_)
    for (float v : f.data) t.data[at++] = v;
  return t;
}

Tensor checkerboard(int k) {
  return one_filter(k, [](int y, int x) { return (y + x) % 2 ? -1.0 : 1.0; });
}
Tensor blob(int k, double sigma) {
  const double c = (k - 1) / 2.0;
  return one_filter(
      k, [&](int y, int x) { return std::exp(-((y - c) * (y - c) + (x - c) * (x - c)) / (2 * sigma * sigma)); });
}
// Vertical bars of period 4 pixels: 0.25 cycles per pixel, rho = 0.5 (mid band).
Tensor grating(int k) {
  return one_filter(k, [](int, int x) { return std::cos(2 * M_PI * x / 4.0); });
}

TEST(HealthMetrics, CheckerboardIsHighFrequency) {
  const HealthThresholds t;
  for (int k : {5, 7, 11}) {
    const auto s = frequency_shares(checkerboard(k), t)[0];
    EXPECT_GT(s.high, 0.8f) << k;
    EXPECT_LT(s.low, 0.1f) << k;
    EXPECT_NEAR(s.peak, std::sqrt(2.f), 1e-4f) << "a checkerboard peaks at (0.5, 0.5) cycles/pixel";
    EXPECT_NEAR(s.low + s.mid + s.high, 1.f, 1e-5f);
  }
}

TEST(HealthMetrics, SmoothBlobIsLowFrequency) {
  const auto s = frequency_shares(blob(7, 1.5), HealthThresholds{})[0];
  EXPECT_GT(s.low, 0.9f);
  EXPECT_LT(s.high, 0.01f);
  EXPECT_FLOAT_EQ(s.peak, 0.f);
}

TEST(HealthMetrics, GratingIsMidFrequency) {
  const auto s = frequency_shares(grating(11), HealthThresholds{})[0];
  EXPECT_GT(s.mid, 0.6f);
  EXPECT_GE(s.peak, 1.f / 3.f);
  EXPECT_LT(s.peak, 2.f / 3.f);
}

// The naive reference of frequency_shares: each bin's energy summed over input channels
// from the direct 2-D DFT of the kernel zero-padded to N x N, then the same bands and peak.
FrequencyShares naive_frequency_shares(const Tensor& w, int o, const HealthThresholds& t) {
  const int I = int(w.dims[1]), kh = int(w.dims[2]), kw = int(w.dims[3]);
  const int N = std::max({t.spectrum_size, kh, kw});
  double bands[3] = {0, 0, 0}, total = 0, best = -1;
  float peak = std::nanf("");
  for (int u = 0; u < N; ++u)
    for (int v = 0; v < N; ++v) {
      double energy = 0;
      for (int c = 0; c < I; ++c) {
        const float* k = w.ptr() + (size_t(o) * I + c) * kh * kw;
        double re = 0, im = 0;
        for (int y = 0; y < kh; ++y)
          for (int x = 0; x < kw; ++x) {
            const double a = -2 * M_PI * (double(u) * y / N + double(v) * x / N);
            re += k[y * kw + x] * std::cos(a);
            im += k[y * kw + x] * std::sin(a);
          }
        energy += re * re + im * im;
      }
      const double fu = double(std::min(u, N - u)) / N, fv = double(std::min(v, N - v)) / N;
      const float rho = float(std::sqrt(fu * fu + fv * fv) / 0.5);
      bands[rho < t.low_band ? 0 : rho < t.mid_band ? 1 : 2] += energy;
      total += energy;
      if (energy > best * (1 + 1e-9) || (energy >= best * (1 - 1e-9) && rho < peak)) best = energy, peak = rho;
    }
  return FrequencyShares{float(bands[0] / total), float(bands[1] / total), float(bands[2] / total), peak};
}

// cv::dft against the direct sum on random filters of the kernel sizes ZFNet uses, over
// three input channels, with the default padding and one smaller than an 11x11 kernel.
TEST(HealthMetrics, FrequencySharesMatchTheNaiveDft) {
  std::mt19937 rng(23);
  std::normal_distribution<float> normal(0.f, 1.f);
  for (int k : {3, 7, 11})
    for (int n : {32, 9}) {
      Tensor w({4, 3, k, k});
      for (float& v : w.data) v = normal(rng);
      HealthThresholds t;
      t.spectrum_size = n;
      const auto fast = frequency_shares(w, t);
      for (int o = 0; o < 4; ++o) {
        const FrequencyShares ref = naive_frequency_shares(w, o, t);
        SCOPED_TRACE("k " + std::to_string(k) + ", N " + std::to_string(n) + ", filter " + std::to_string(o));
        EXPECT_NEAR(fast[size_t(o)].low, ref.low, 1e-6 * std::max(1e-3f, ref.low));
        EXPECT_NEAR(fast[size_t(o)].mid, ref.mid, 1e-6 * std::max(1e-3f, ref.mid));
        EXPECT_NEAR(fast[size_t(o)].high, ref.high, 1e-6 * std::max(1e-3f, ref.high));
        EXPECT_EQ(fast[size_t(o)].peak, ref.peak);
      }
    }
}

TEST(HealthMetrics, ZeroFilter) {
  const Tensor w = stack({one_filter(3, [](int, int) { return 0.0; }), blob(3, 1.0)});
  const auto rms = filter_rms(w);
  EXPECT_EQ(rms[0], 0.f);
  EXPECT_GT(rms[1], 0.f);
  const auto s = frequency_shares(w, HealthThresholds{});
  EXPECT_TRUE(std::isnan(s[0].low) && std::isnan(s[0].peak));
  const auto r = filter_redundancy(w);
  EXPECT_EQ(r[0].partner, -1);
  EXPECT_EQ(r[0].max_correlation, 0.f);
  EXPECT_EQ(r[1].partner, -1) << "a zero filter is nobody's partner";
}

TEST(HealthMetrics, RmsAndMedian) {
  const Tensor w =
      stack({one_filter(2, [](int, int) { return 3.0; }), one_filter(2, [](int y, int) { return y ? 4.0 : -4.0; })});
  const auto rms = filter_rms(w);
  EXPECT_FLOAT_EQ(rms[0], 3.f);
  EXPECT_FLOAT_EQ(rms[1], 4.f);
  EXPECT_FLOAT_EQ(median_of({5, 1, 3}), 3.f);
  EXPECT_FLOAT_EQ(median_of({4, 1, 3, 2}), 2.5f);
  EXPECT_FLOAT_EQ(median_of({}), 0.f);
}

TEST(HealthMetrics, IdenticalAndNegatedFiltersAreRedundant) {
  std::mt19937 rng(1);
  std::normal_distribution<float> n(0, 1);
  Tensor a = one_filter(5, [&](int, int) { return n(rng); });
  Tensor b = one_filter(5, [&](int, int) { return n(rng); });
  Tensor neg = b;
  for (float& v : neg.data) v = -2 * v;
  const auto r = filter_redundancy(stack({a, b, a, neg}));
  EXPECT_FLOAT_EQ(r[0].max_correlation, 1.f);
  EXPECT_EQ(r[0].partner, 2);
  EXPECT_EQ(r[2].partner, 0);
  EXPECT_FLOAT_EQ(r[1].max_correlation, 1.f) << "a negated, scaled copy is a copy";
  EXPECT_EQ(r[1].partner, 3);
  // Orthogonal filters: a checkerboard and a constant on an odd kernel are nearly so.
  const auto q = filter_redundancy(stack({checkerboard(4), one_filter(4, [](int, int) { return 1.0; })}));
  EXPECT_NEAR(q[0].max_correlation, 0.f, 1e-6f);
}

TEST(HealthMetrics, ChanceRedundancyFallsWithFilterSize) {
  const float small = chance_redundancy(32, 49), large = chance_redundancy(32, 121);
  EXPECT_GT(small, large) << "random 7x7 filters are more alike than random 11x11 ones";
  EXPECT_GT(large, 0.f);
  EXPECT_LT(small, 0.6f);
  EXPECT_EQ(chance_redundancy(32, 49), small) << "a fixed seed: the same shape, the same figure";
  EXPECT_EQ(chance_redundancy(1, 49), 0.f);
}

TEST(HealthMetrics, StridePeriodicShare) {
  const int H = 32, W = 32;
  const Window all{0, 0, H, W};
  // A pattern that repeats every 4 pixels: all of its energy is at the stride's frequencies.
  std::vector<float> periodic(size_t(H) * W), smooth(size_t(H) * W), noise(size_t(H) * W);
  const float tile[4][4] = {{1, 0, 0, 2}, {0, 3, 0, 0}, {0, 0, -1, 0}, {2, 0, 0, 0}};
  std::mt19937 rng(2);
  std::normal_distribution<float> n(0, 1);
  for (int y = 0; y < H; ++y)
    for (int x = 0; x < W; ++x) {
      periodic[size_t(y) * W + x] = tile[y % 4][x % 4];
      smooth[size_t(y) * W + x] = float(std::exp(-((y - 15.5) * (y - 15.5) + (x - 15.5) * (x - 15.5)) / 60.0));
      noise[size_t(y) * W + x] = n(rng);
    }
  EXPECT_NEAR(stride_periodic_share(periodic.data(), 1, H, W, all, 4, 4), 1.f, 1e-5f);
  EXPECT_LT(stride_periodic_share(smooth.data(), 1, H, W, all, 4, 4), 0.01f);
  // White noise: about (16 - 1) / 1024 of its energy falls on the 15 stride frequencies.
  EXPECT_NEAR(stride_periodic_share(noise.data(), 1, H, W, all, 4, 4), 15.f / 1024.f, 0.015f);
  EXPECT_FLOAT_EQ(stride_noise_share(H, W, all, 4, 4), 15.f / 1023.f);
  EXPECT_FLOAT_EQ(stride_noise_share(H, W, Window{0, 0, 2, 2}, 4, 4), 3.f / 3.f) << "a window smaller than the period";
  EXPECT_TRUE(std::isnan(stride_noise_share(H, W, all, 1, 1)));
  // A period-4 pattern is not periodic with 3, and a smooth blob plus the pattern is in between.
  EXPECT_LT(stride_periodic_share(periodic.data(), 1, H, W, all, 3, 3), 0.3f);
  std::vector<float> mix(periodic.size());
  for (size_t i = 0; i < mix.size(); ++i) mix[i] = periodic[i] + 10 * smooth[i];
  const float m = stride_periodic_share(mix.data(), 1, H, W, all, 4, 4);
  EXPECT_GT(m, 0.05f);
  EXPECT_LT(m, 0.95f);
  // Only the window counts, and flat input or a 1x1 period has no answer.
  EXPECT_NEAR(stride_periodic_share(periodic.data(), 1, H, W, Window{4, 4, 12, 20}, 4, 4), 1.f, 1e-5f);
  EXPECT_TRUE(std::isnan(stride_periodic_share(periodic.data(), 1, H, W, all, 1, 1)));
  std::vector<float> flat(periodic.size(), 2.f);
  EXPECT_TRUE(std::isnan(stride_periodic_share(flat.data(), 1, H, W, all, 2, 2)));
}

TEST(HealthMetrics, BadShapeThrows) {
  Tensor w({3, 4});
  EXPECT_THROW(filter_rms(w), Error);
  EXPECT_THROW(frequency_shares(w, HealthThresholds{}), Error);
  EXPECT_THROW(filter_redundancy(w), Error);
}

// --- compute_health on a tiny trained run ------------------------------------------------

class HealthRun : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    root_ = testutil::make_temp_dir("health");
    data_ = root_ + "/data";
    fs::create_directories(data_);
    testutil::write_synthetic_mnist(data_, 300, 100);
  }
  static void TearDownTestSuite() {
    std::error_code ec;
    fs::remove_all(root_, ec);
  }
  // The tiny run of train/synthetic_run.hpp; `layers`, if given, replace its layer lines.
  static Config config(const std::string& run, std::vector<std::string> extra = {},
                       const std::vector<std::string>& layers = {}) {
    std::vector<std::string> more = {"--train.epochs",         "2",   "--snapshot.epochs",   "0,1,2",
                                     "--analysis.probe_limit", "100", "--analysis.features", "3",
                                     "--analysis.batch",       "32"};
    more.insert(more.end(), extra.begin(), extra.end());
    std::vector<std::string> args = testutil::tiny_run_args(data_, run, more);
    if (!layers.empty()) {
      std::vector<std::string> kept;
      for (size_t i = 0; i < args.size(); ++i) {
        if (args[i] == "--model.layer") {
          ++i;
          continue;
        }
        kept.push_back(args[i]);
      }
      for (const std::string& l : layers) kept.insert(kept.end(), {"--model.layer", l});
      args = kept;
    }
    return load_config(args);
  }
  static std::string root_, data_;
};
std::string HealthRun::root_, HealthRun::data_;

TEST_F(HealthRun, DoctoredSnapshotShowsDeadDominatingAndCopiedFilters) {
  const std::string run = root_ + "/doctored";
  const Config cfg = config(run);
  train(cfg, TrainOptions{}, Comm::world());
  // Epoch 2: c1's filter 0 zeroed with a bias that keeps it off, filter 1 twenty times
  // stronger, filter 3 a copy of filter 2.
  const auto snaps = list_snapshots(RunPaths::of(run).snapshots);
  ASSERT_EQ(snaps.back().first, 2);
  Snapshot s = read_snapshot(snaps.back().second);
  Tensor& w = s.params[0].weights;  // (4, 1, 3, 3)
  const size_t per = 9;
  for (size_t j = 0; j < per; ++j) {
    w.data[j] = 0.f;
    w.data[per + j] *= 20.f;
    w.data[3 * per + j] = w.data[2 * per + j];
  }
  s.params[0].bias.data[0] = -1.f;
  write_snapshot(snaps.back().second, s);

  HealthOptions opt;
  opt.quiet = true;
  opt.probe_limit = 100;
  const HealthResult h = compute_health(Run::open(run, cfg), opt);
  ASSERT_EQ(h.epochs, (std::vector<int>{0, 1, 2}));
  ASSERT_EQ(h.layers.size(), 2u);
  EXPECT_EQ(h.probe_count, 100);
  const LayerHealth& c1 = h.layers[0];
  EXPECT_EQ(c1.layer, "c1");
  EXPECT_TRUE(c1.is_first());
  EXPECT_FALSE(h.layers[1].is_first());
  const size_t O = 4, last = 2 * O;
  EXPECT_TRUE(c1.never_fires[last + 0]);
  EXPECT_TRUE(c1.collapsed[last + 0]);
  EXPECT_TRUE(c1.dead[last + 0]);
  EXPECT_EQ(c1.dead_since[0], 2);
  EXPECT_EQ(c1.fire_rate[last + 0], 0.f);
  EXPECT_TRUE(c1.dominating[last + 1]);
  EXPECT_FALSE(c1.dominating[last + 2]);
  EXPECT_FLOAT_EQ(c1.max_correlation[last + 3], 1.f);
  EXPECT_EQ(c1.partner[last + 3], 2);
  for (size_t o = 1; o < O; ++o) EXPECT_FALSE(c1.dead[last + o]) << o;
  const LayerEpochSummary sum = summarize(c1, h.thresholds, 2);
  EXPECT_FLOAT_EQ(sum.dead, 0.25f);
  EXPECT_FLOAT_EQ(sum.dominating, 0.25f);
  EXPECT_GE(sum.redundant, 0.5f);
  EXPECT_GT(sum.max_rms_ratio, 3.f);
  EXPECT_TRUE(std::isfinite(sum.mid_coverage));
  EXPECT_FALSE(h.layers[1].has_aliasing());
  EXPECT_NE(h.aliasing_note.find("stride 1"), std::string::npos) << h.aliasing_note;

  // health.h5 round trip and the CSV files.
  const std::string file = root_ + "/doctored-health.h5";
  write_health(file, h);
  const HealthResult back = read_health(file);
  EXPECT_EQ(back.epochs, h.epochs);
  ASSERT_EQ(back.layers.size(), h.layers.size());
  for (size_t l = 0; l < h.layers.size(); ++l) {
    EXPECT_EQ(back.layers[l].layer, h.layers[l].layer);
    EXPECT_EQ(back.layers[l].rms, h.layers[l].rms);
    EXPECT_EQ(back.layers[l].dead, h.layers[l].dead);
    EXPECT_EQ(back.layers[l].partner, h.layers[l].partner);
    EXPECT_EQ(back.layers[l].dead_since, h.layers[l].dead_since);
    EXPECT_EQ(back.layers[l].kernel, h.layers[l].kernel);
    EXPECT_EQ(back.layers[l].mid_coverage.size(), h.layers[l].mid_coverage.size());
  }
  EXPECT_EQ(back.aliasing_note, h.aliasing_note);
  EXPECT_FLOAT_EQ(back.thresholds.dominating_ratio, h.thresholds.dominating_ratio);

  write_health_csv(root_ + "/doctored-csv", h);
  const CsvTable rows = read_csv(root_ + "/doctored-csv/health.csv");
  EXPECT_EQ(rows.rows.size(), 3 * (4 + 6u));
  EXPECT_GE(rows.column("dominating"), 0);
  const CsvTable layers = read_csv(root_ + "/doctored-csv/health_summary.csv");
  EXPECT_EQ(layers.rows.size(), 3 * 2u);
  EXPECT_EQ(layers.rows[2][layers.column("dead_fraction")], "0.25");
}

TEST_F(HealthRun, AliasingFromTheAnalysisOfAStridedRun) {
  const std::string run = root_ + "/strided";
  const Config cfg = config(run, {},
                            {"c1 conv out=4 kernel=3 stride=2 pad=1", "r1 relu", "p1 maxpool kernel=2",
                             "c2 conv out=6 kernel=3 pad=1", "r2 relu", "f3 fc out=10"});
  train(cfg, TrainOptions{}, Comm::world());
  HealthOptions opt;
  opt.quiet = true;
  opt.probe_limit = 64;
  HealthResult h = compute_health(Run::open(run, cfg), opt);
  EXPECT_FALSE(h.layers[1].has_aliasing());
  EXPECT_NE(h.aliasing_note.find("not analysed"), std::string::npos) << h.aliasing_note;

  AnalyzeOptions aopt;
  aopt.quiet = true;
  run_analysis(Run::open(run, cfg), aopt);
  h = compute_health(Run::open(run, cfg), opt);
  EXPECT_EQ(h.aliasing_note, "");
  EXPECT_EQ(h.aliasing_layer, "c2");
  EXPECT_EQ(h.aliasing_stride, (std::array<int, 2>{2, 2}));
  ASSERT_TRUE(h.layers[1].has_aliasing());
  for (size_t e = 0; e < h.epochs.size(); ++e) {
    const float a = h.layers[1].aliasing_mean[e];
    EXPECT_TRUE(std::isfinite(a)) << "epoch " << h.epochs[e];
    EXPECT_GE(a, 0.f);
    EXPECT_LE(a, 1.f);
    EXPECT_GT(h.layers[1].aliasing_noise[e], 0.f);
  }

  // A damaged analysis file costs the aliasing figure only, with the reason.
  { std::ofstream(RunPaths::of(run).analysis + "/analysis.h5", std::ios::trunc) << "not hdf5"; }
  h = compute_health(Run::open(run, cfg), opt);
  EXPECT_FALSE(h.layers[1].has_aliasing());
  EXPECT_NE(h.aliasing_note.find("could not be read"), std::string::npos) << h.aliasing_note;
}

TEST(HealthProbe, TheAnalysisImagesByDefault) {
  Config cfg;
  cfg.data.train_limit = 2000;
  HealthOptions opt;
  // No analysis: the run's own training images, as analyze would take them.
  ProbeSet p = health_probe(cfg, opt, nullptr);
  EXPECT_EQ(p.split, ds::ProbeSplit::train);
  EXPECT_EQ(p.limit, 2000);
  EXPECT_NE(p.source.find("data.train_limit = 2000"), std::string::npos) << p.source;
  cfg.analysis.probe_limit = 500;
  EXPECT_EQ(health_probe(cfg, opt, nullptr).limit, 500);
  cfg.analysis.probe_limit = 0;
  cfg.data.train_limit = 0;
  EXPECT_EQ(health_probe(cfg, opt, nullptr).limit, 0) << "0 = every training image";
  // An analysis: exactly its images.
  AnalysisResult a;
  a.split = ds::ProbeSplit::test;
  a.probe_count = 321;
  p = health_probe(cfg, opt, &a);
  EXPECT_EQ(p.split, ds::ProbeSplit::test);
  EXPECT_EQ(p.limit, 321);
  EXPECT_NE(p.source.find("analyze searched"), std::string::npos) << p.source;
  // health.probe = N (or its shorthand --probe N) overrides both.
  opt.probe_limit = 64;
  p = health_probe(cfg, opt, &a);
  EXPECT_EQ(p.split, ds::ProbeSplit::train);
  EXPECT_EQ(p.limit, 64);
  EXPECT_EQ(p.source, "health.probe = 64");
}

TEST_F(HealthRun, ProbesTheImagesTheAnalysisSearched) {
  // Trained on the first 120 of 300 images, no analysis.probe_limit: analyze and health
  // should both look at those 120.
  const std::string run = root_ + "/limited";
  const Config cfg = load_config(testutil::tiny_run_args(
      data_, run, {"--train.epochs", "1", "--snapshot.epochs", "0,1", "--data.train_limit", "120",
                   "--analysis.features", "2", "--analysis.batch", "32"}));
  train(cfg, TrainOptions{}, Comm::world());
  HealthOptions opt;
  opt.quiet = true;
  HealthResult h = compute_health(Run::open(run, cfg), opt);
  EXPECT_EQ(h.split, "train");
  EXPECT_EQ(h.probe_count, 120) << h.probe_source;
  EXPECT_NE(h.probe_source.find("data.train_limit = 120"), std::string::npos) << h.probe_source;

  // Analysed on 70 images (a command-line override analyze does not store in config.cfg):
  // health follows the analysis file, with the run's unchanged config.
  Config analysed = cfg;
  analysed.analysis.probe_limit = 70;
  AnalyzeOptions aopt;
  aopt.quiet = true;
  run_analysis(Run::open(run, analysed), aopt);
  h = compute_health(Run::open(run, cfg), opt);
  EXPECT_EQ(h.probe_count, 70);
  EXPECT_NE(h.probe_source.find("analyze searched"), std::string::npos) << h.probe_source;
  const std::string file = root_ + "/limited-health.h5";
  write_health(file, h);
  EXPECT_EQ(read_health(file).probe_source, h.probe_source);

  // The page says which images were probed.
  write_health_page(run, h);
  std::ifstream in(run + "/report/health.html");
  const std::string page((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_NE(page.find("Probe images (fire rates, never fires, dead): the first 70 images of the train split"),
            std::string::npos);
  EXPECT_NE(page.find("analyze searched"), std::string::npos);
  // Tables fit a window: no table wider than 11 columns.
  for (size_t at = page.find("<tr>"); at != std::string::npos; at = page.find("<tr>", at + 1)) {
    const std::string row = page.substr(at, page.find("</tr>", at) - at);
    EXPECT_LE(count_cells(row), 11u) << row.substr(0, 200);
  }

  opt.probe_limit = 30;
  EXPECT_EQ(compute_health(Run::open(run, cfg), opt).probe_count, 30) << "--probe overrides";
}

TEST_F(HealthRun, RunWithoutSnapshotsIsRefused) {
  const std::string run = root_ + "/empty";
  fs::create_directories(run);
  try {
    compute_health(Run::open(run, config(run)));
    FAIL() << "expected ds::Error";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::snapshot);
    EXPECT_EQ(e.exit_code(), 2);
  }
}

TEST(HealthFile, RefusesOtherFiles) { EXPECT_THROW(read_health("/nonexistent/health.h5"), Error); }

// A health result of one conv layer (not the first), 2 epochs, 3 filters, made by hand.
HealthResult small_health() {
  HealthResult h;
  h.epochs = {0, 4};
  h.split = "train";
  h.dataset_path = "/data";
  h.probe_count = 10;
  h.aliasing_note = "stride 1";
  LayerHealth l;
  l.layer = "conv2";
  l.conv_index = 1;
  l.filters = 3;
  l.in_channels = 2;
  l.median_rms = {0.5f, 0.25f};
  l.rms = {0.5f, 0.f, 2.f, 0.25f, 0.f, 1.f};
  l.fire_rate = {0.5f, 0.f, 1.f, 0.25f, 0.f, 1.f};
  l.never_fires = {0, 1, 0, 0, 1, 0};
  l.collapsed = {0, 1, 0, 0, 1, 0};
  l.dominating = {0, 0, 1, 0, 0, 1};
  l.dead = {0, 1, 0, 0, 1, 0};
  l.max_correlation = {0.1f, 0.f, 0.2f, 0.3f, 0.f, 0.3f};
  l.partner = {2, -1, 0, 2, -1, 0};
  l.dead_since = {-1, 0, -1};
  h.layers.push_back(l);
  return h;
}

std::string health_scratch(const std::string& name) {
  const fs::path dir = fs::temp_directory_path() / ("deconvscope_health_file_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  return (dir / name).string();
}

void expect_health_refused(const std::string& path, const std::string& attr, const std::string& problem) {
  try {
    read_health(path);
    ADD_FAILURE() << "read_health accepted " << path;
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::snapshot) << e.what();
    EXPECT_EQ(e.where(), path + ": / attribute " + attr) << e.what();
    EXPECT_NE(e.problem().find(problem), std::string::npos) << e.what();
  }
}

// Flags are uint8 from format_version 2 on; version-1 files (int32 flags) read the same.
TEST(HealthFile, FlagsAreUint8AndVersionOneFilesStillRead) {
  const HealthResult h = small_health();
  const std::string path = health_scratch("v2.h5");
  write_health(path, h);
  {
    const h5::File f = h5::File::open_read(path);
    EXPECT_EQ(f.root().read_attr_int("format_version"), 2);
    const h5::Group g = f.root().open_group("layers/conv2");
    for (const char* flag : {"never_fires", "collapsed", "dominating", "dead"}) {
      h5::Handle ds(H5Dopen2(g.id(), flag, H5P_DEFAULT), H5Dclose);
      h5::Handle type(H5Dget_type(ds.get()), H5Tclose);
      EXPECT_EQ(h5::type_name(type.get()), "uint8") << flag;
    }
  }
  auto expect_same_flags = [&](const HealthResult& back) {
    ASSERT_EQ(back.layers.size(), 1u);
    EXPECT_EQ(back.layers[0].never_fires, h.layers[0].never_fires);
    EXPECT_EQ(back.layers[0].collapsed, h.layers[0].collapsed);
    EXPECT_EQ(back.layers[0].dominating, h.layers[0].dominating);
    EXPECT_EQ(back.layers[0].dead, h.layers[0].dead);
    EXPECT_EQ(back.layers[0].partner, h.layers[0].partner);
  };
  expect_same_flags(read_health(path));

  // The same file as version 1 wrote it: int32 flags, format_version 1.
  {
    h5::File f = h5::File::open_readwrite(path);
    {
      const h5::Group root = f.root();
      root.write_attr_int("format_version", 1);
      const h5::Group g = root.open_group("layers/conv2");
      const LayerHealth& l = h.layers[0];
      for (const auto& [name, v] : {std::pair<const char*, const std::vector<uint8_t>*>{"never_fires", &l.never_fires},
                                    {"collapsed", &l.collapsed},
                                    {"dominating", &l.dominating},
                                    {"dead", &l.dead}})
        g.write_dataset(name, {2, 3}, std::vector<int32_t>(v->begin(), v->end()));
    }
    f.close();
  }
  expect_same_flags(read_health(path));
  // ... but int32 flags in a version-2 file are refused, naming the dataset.
  {
    h5::File f = h5::File::open_readwrite(path);
    f.root().write_attr_int("format_version", 2);
    f.close();
  }
  try {
    read_health(path);
    ADD_FAILURE() << "int32 flags accepted in a version-2 file";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("/layers/conv2/never_fires: expected uint8, found int32"), std::string::npos)
        << e.what();
  }
}

// h5::check_format as the health reader uses it (it used to read a file without a format
// attribute as far as its first missing dataset).
TEST(HealthFile, FormatAndVersionAreChecked) {
  const std::string path = health_scratch("fmt.h5");
  write_health(path, small_health());
  auto edit = [&](auto&& fn) {
    h5::File f = h5::File::open_readwrite(path);
    fn(f.root());
    f.close();
  };
  edit([](const h5::Group& r) { H5Adelete(r.id(), "format"); });
  expect_health_refused(path, "format", "another program's HDF5 file: expected 'deconvscope.health', found no such attribute");
  edit([](const h5::Group& r) { r.write_attr_string("format", "deconvscope.analysis"); });
  expect_health_refused(path, "format", "expected 'deconvscope.health', found 'deconvscope.analysis'");
  edit([](const h5::Group& r) {
    r.write_attr_string("format", "deconvscope.health");
    r.write_attr_int("format_version", 3);
  });
  expect_health_refused(path, "format_version", "written by a newer deconvscope: expected 1 or 2, found 3");
  edit([](const h5::Group& r) { r.write_attr_int("format_version", 0); });
  expect_health_refused(path, "format_version", "expected 1 or 2, found 0");
  edit([](const h5::Group& r) { H5Adelete(r.id(), "format_version"); });
  expect_health_refused(path, "format_version", "expected 1 or 2, found no such attribute");
  fs::remove_all(fs::path(path).parent_path());
}

}  // namespace
}  // namespace ds
