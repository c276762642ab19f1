// The sanity baseline (src/analysis/sanity_baseline.cpp): Spearman's rank correlation
// against a naive O(n^2) reference and a case worked by hand (ties included), the
// window and median rules, a tiny network whose projections are known by hand, 1 when the
// two weight sets are the same network, NaN for an inactive feature, and a two-layer
// network with max-pool switches against the naive deconvnet of tests/model/naive.hpp.
#include <gtest/gtest.h>

#include <cmath>
#include <memory>
#include <random>
#include <vector>

#include "deconvscope/analysis/deconvnet.hpp"
#include "deconvscope/analysis/sanity_baseline.hpp"
#include "deconvscope/model/evaluate.hpp"
#include "model/naive.hpp"
#include "model/test_util.hpp"
#include "naive_spearman.hpp"

namespace ds {
namespace {

using testutil::conv;
using testutil::fc;
using testutil::maxpool;
using testutil::relu;

using testutil::naive_spearman;

TEST(Spearman, HandWorkedWithATie) {
  // a = (1, 2, 2, 4): ranks (1, 2.5, 2.5, 4); b = (10, 30, 20, 40): ranks (1, 3, 2, 4).
  // Centred at 2.5: (-1.5, 0, 0, 1.5) and (-1.5, 0.5, -0.5, 1.5): 4.5 / sqrt(4.5 * 5) = 3 / sqrt(10).
  EXPECT_NEAR(spearman({1, 2, 2, 4}, {10, 30, 20, 40}), 3 / std::sqrt(10.0), 1e-12);
  EXPECT_EQ(average_ranks({1, 2, 2, 4}), (std::vector<double>{1, 2.5, 2.5, 4}));
  EXPECT_EQ(average_ranks({5, 5, 5}), (std::vector<double>{2, 2, 2}));
  EXPECT_EQ(spearman({1, 2, 3}, {30, 20, 10}), -1.0);
  EXPECT_EQ(spearman({1, 2, 3}, {1, 4, 9}), 1.0);  // any increasing map
}

TEST(Spearman, UndefinedIsNaN) {
  EXPECT_TRUE(std::isnan(spearman({0, 0, 0}, {1, 2, 3})));  // constant: no order
  EXPECT_TRUE(std::isnan(spearman({1, 2, 3}, {7, 7, 7})));
  EXPECT_TRUE(std::isnan(spearman({1}, {2})));  // n < 2
  EXPECT_TRUE(std::isnan(spearman({1, NAN}, {2, 3})));
}

TEST(Spearman, MatchesTheNaiveReferenceWithManyTies) {
  std::mt19937 rng(7);
  for (int trial = 0; trial < 50; ++trial) {
    const size_t n = 2 + size_t(trial) * 3;
    std::uniform_int_distribution<int> small(0, trial % 5 + 1);  // few distinct values: many ties
    std::normal_distribution<float> g;
    std::vector<float> a(n), b(n);
    for (size_t i = 0; i < n; ++i) {
      a[i] = float(small(rng));
      b[i] = trial % 2 ? g(rng) : float(small(rng)) - a[i];
    }
    const double want = naive_spearman(a, b);
    SCOPED_TRACE("trial " + std::to_string(trial));
    if (std::isnan(want)) {
      EXPECT_TRUE(std::isnan(spearman(a, b)));
    } else {
      EXPECT_NEAR(spearman(a, b), want, 1e-12);
    }
  }
}

TEST(WindowRankCorrelation, AbsoluteValuesInsideTheWindowOnly) {
  // (C=2, H=2, W=3); window rows [0, 2), columns [1, 3): values (c, y, x) for x in 1..2.
  const std::vector<float> p = {9, 1, -2, 9, 3, 4,  /**/ -9, 5, 6, -9, 7, -8};
  const std::vector<float> q = {0, -1, 2, 0, 3, 4, /**/ 0, -5, 6, 0, 7, -8};
  // Inside: |p| = (1, 2, 3, 4, 5, 6, 7, 8) and |q| the same: 1, whatever lies outside.
  EXPECT_EQ(window_rank_correlation(p.data(), q.data(), Window{0, 1, 2, 3}, 2, 2, 3), 1.f);
  // Over the whole array the outside values (9 against 0) disagree.
  const float whole = window_rank_correlation(p.data(), q.data(), Window{0, 0, 2, 3}, 2, 2, 3);
  std::vector<float> ap, aq;
  for (float v : p) ap.push_back(std::abs(v));
  for (float v : q) aq.push_back(std::abs(v));
  EXPECT_NEAR(whole, naive_spearman(ap, aq), 1e-6);
  EXPECT_LT(whole, 0.9f);
}

TEST(MedianOfFinite, OddEvenAndNone) {
  EXPECT_EQ(median_of_finite({NAN, 0.2f, 0.8f, 0.4f}), 0.4f);
  EXPECT_EQ(median_of_finite({0.1f, NAN, 0.3f}), 0.2f);
  EXPECT_TRUE(std::isnan(median_of_finite({NAN, NAN})));
  EXPECT_TRUE(std::isnan(median_of_finite({})));
}

// One layer's evolution over epochs {0, 1}: at each epoch the given activations of the
// features, projected with that epoch's network, and their receptive fields.
AnalysisResult evolution_of(const std::vector<Network*>& nets, const Dataset& d, const Normalization& norm, int conv_layer,
                            const std::vector<int32_t>& features, const std::vector<Activation>& strongest) {
  AnalysisResult r;
  r.epochs = {0, 1};
  r.layers = {nets[0]->specs()[size_t(conv_layer)].name};
  const InputShape& in = nets[0]->input();
  const size_t image_size = size_t(in.channels) * in.height * in.width, F = features.size();
  LayerEvolution ev;
  ev.layer = r.layers[0];
  ev.features = features;
  ev.strongest = strongest;
  ev.projections = Tensor({2, int64_t(F), in.channels, in.height, in.width});
  const int top = rectified_output_layer(nets[0]->specs(), conv_layer);
  for (size_t e = 0; e < 2; ++e) {
    const std::vector<Activation> acts(strongest.begin() + long(e * F), strongest.begin() + long((e + 1) * F));
    project_activations(*nets[e], d, norm, conv_layer, features, acts, ev.projections.ptr() + e * F * image_size);
    for (const Activation& a : acts) ev.windows.push_back(receptive_field(nets[0]->specs(), in, top, a.y, a.x));
  }
  r.evolution.push_back(ev);
  r.convergence.resize(1);
  return r;
}

Dataset images(int n, int c, int h, int w, unsigned seed) {
  Dataset d;
  d.channels = c, d.height = h, d.width = w, d.num_classes = 2;
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> px(0, 255);
  d.pixels.resize(size_t(n) * d.image_bytes());
  for (uint8_t& p : d.pixels) p = uint8_t(px(rng));
  for (int i = 0; i < n; ++i) d.labels.push_back(i % 2);
  return d;
}

TEST(InitRankCorrelation, HandWorkedOnATinyNetwork) {
  // Input 1x1x4, conv c: 2 features of 1x4 (one output position), ReLU, fc. Projecting
  // a signal s at feature 0 rectifies it (s > 0 stays) and multiplies it by the filter:
  // the projection is s * w[0]. Trained w[0] = (3, 1, -4, 2); first w[0] = (1, -2, 2, 0.5).
  // |trained| = (3, 1, 4, 2): ranks (3, 1, 4, 2); |first| = (1, 2, 2, 0.5): ranks
  // (2, 3.5, 3.5, 1), the tie averaged. Centred at 2.5: (0.5, -1.5, 1.5, -0.5) and
  // (-0.5, 1, 1, -1.5): 0.5 / sqrt(5 * 4.5) = 1 / (3 sqrt(10)).
  const std::vector<LayerSpec> specs = {conv("c", 2, 1, 4, 1, 0), relu("r"), fc("f", 2)};
  const InputShape in{1, 1, 4};
  auto network = [&](std::vector<float> w0) {
    auto net = std::make_unique<Network>(specs, in, /*batch=*/2, /*seed=*/1);
    LayerParams& p = net->layer(0).params();
    std::vector<float> w = w0;
    w.insert(w.end(), {0.5f, 0.5f, 0.5f, 0.5f});  // feature 1
    p.weights.data = w;
    std::fill(p.bias.data.begin(), p.bias.data.end(), 0.f);
    net->sync_params();
    return net;
  };
  auto first = network({1, -2, 2, 0.5f}), trained = network({3, 1, -4, 2});
  const Dataset d = images(3, 1, 1, 4, 5);
  const Normalization norm{{0.f}, {1.f}};
  // Epoch 0: both features fire on image 1; epoch 1: feature 0 on image 2 with 2.5,
  // feature 1 inactive (image -1).
  const std::vector<Activation> strongest = {{1, 0, 0, 1.f}, {1, 0, 0, 0.7f}, {2, 0, 0, 2.5f}, {-1, 0, 0, 0.f}};
  AnalysisResult r = evolution_of({first.get(), trained.get()}, d, norm, 0, {0, 1}, strongest);
  const float* stored = r.evolution[0].projections.ptr() + 2 * 4;  // epoch 1, feature 0
  const float by_hand[] = {7.5f, 2.5f, -10.f, 5.f};                // 2.5 * trained w[0]
  for (int x = 0; x < 4; ++x) EXPECT_NEAR(stored[x], by_hand[x], 1e-5f) << x;

  compute_init_rank_correlation(*first, d, norm, {0}, r);
  const std::vector<float>& v = r.evolution[0].init_rank_correlation;
  ASSERT_EQ(v.size(), 4u);
  EXPECT_EQ(v[0], 1.f);  // the first epoch, by definition
  EXPECT_EQ(v[1], 1.f);
  EXPECT_NEAR(v[2], 1 / (3 * std::sqrt(10.0)), 1e-6);
  EXPECT_TRUE(std::isnan(v[3]));  // inactive
  // The layer's medians over its defined figures.
  ASSERT_EQ(r.convergence[0].init_rank_correlation.size(), 2u);
  EXPECT_EQ(r.convergence[0].init_rank_correlation[0], 1.f);
  EXPECT_EQ(r.convergence[0].init_rank_correlation[1], v[2]);

  // Only epoch 1 asked for: epoch 0 keeps what it held.
  r.evolution[0].init_rank_correlation = {0.25f, 0.5f, 0.f, 0.f};
  compute_init_rank_correlation(*first, d, norm, {0}, r, {false, true});
  EXPECT_EQ(r.evolution[0].init_rank_correlation[0], 0.25f);
  EXPECT_NEAR(r.evolution[0].init_rank_correlation[2], 1 / (3 * std::sqrt(10.0)), 1e-6);
}

// Two rectified conv layers with a max pool between (switches): 1x10x10 -> 4x10x10 ->
// 4x5x5 -> 5x5x5 -> 3 classes, random weights with biases pushed up so most features fire.
std::unique_ptr<Network> pooled_network(unsigned seed) {
  const std::vector<LayerSpec> specs = {conv("c1", 4, 3, 3, 1, 1), relu("r1"), maxpool("p1", 2, 2, 0),
                                        conv("c2", 5, 3, 3, 1, 1), relu("r2"), fc("f3", 3)};
  auto net = std::make_unique<Network>(specs, InputShape{1, 10, 10}, /*batch=*/3, /*seed=*/1);
  std::mt19937 rng(seed);
  testutil::randomize_params(*net, rng);
  for (size_t i = 0; i < net->size(); ++i)
    for (float& b : net->layer(i).params().bias.data) b += 0.1f;
  net->sync_params();
  return net;
}

// The strongest activation of every feature of conv layer `conv_layer` at two epochs
// (scanned with each epoch's network), [2 * F].
std::vector<Activation> strongest_of(const std::vector<Network*>& nets, const Dataset& d, const Normalization& norm,
                                     int conv_layer) {
  std::vector<Activation> out;
  for (Network* net : nets) {
    const auto tops = scan_topk(*net, d, norm, 0, {{conv_layer, 1}});
    out.insert(out.end(), tops[0].begin(), tops[0].end());
  }
  return out;
}

TEST(InitRankCorrelation, IsOneWhenTheWeightsAreTheFirstSnapshotsAndNaNWhereInactive) {
  const Dataset d = images(12, 1, 10, 10, 3);
  const Normalization norm = compute_normalization(d);
  auto net = pooled_network(10);
  for (int conv_layer : {0, 3}) {
    SCOPED_TRACE("conv layer " + std::to_string(conv_layer));
    const int F = net->shapes()[size_t(conv_layer)].channels;
    std::vector<int32_t> features(static_cast<size_t>(F));
    for (int f = 0; f < F; ++f) features[size_t(f)] = f;
    std::vector<Activation> strongest = strongest_of({net.get(), net.get()}, d, norm, conv_layer);
    strongest[size_t(F) + 1] = Activation{};  // feature 1 silent at epoch 1
    AnalysisResult r = evolution_of({net.get(), net.get()}, d, norm, conv_layer, features, strongest);
    compute_init_rank_correlation(*net, d, norm, {conv_layer}, r);
    const std::vector<float>& v = r.evolution[0].init_rank_correlation;
    ASSERT_EQ(v.size(), size_t(2 * F));
    int active = 0;
    for (size_t i = 0; i < v.size(); ++i) {
      if (strongest[i].image < 0) {
        EXPECT_TRUE(std::isnan(v[i])) << i;
        continue;
      }
      ++active;
      // The stored projection had the activation's value as its signal, the baseline 1:
      // the same picture up to the scale, so the same ranks.
      EXPECT_EQ(v[i], 1.f) << "entry " << i << " (epoch " << i / size_t(F) << ")";
    }
    EXPECT_GT(active, F);
    EXPECT_TRUE(std::isnan(v[size_t(F) + 1]));
  }
}

TEST(InitRankCorrelation, MatchesTheNaiveDeconvnetThroughTheFirstNetworksSwitches) {
  const Dataset d = images(15, 1, 10, 10, 4);
  const Normalization norm = compute_normalization(d);
  auto first = pooled_network(10), trained = pooled_network(20);
  const int conv_layer = 3, top = 4, F = 5;
  const std::vector<int32_t> features = {0, 1, 2, 3, 4};
  const std::vector<Activation> strongest = strongest_of({first.get(), trained.get()}, d, norm, conv_layer);
  AnalysisResult r = evolution_of({first.get(), trained.get()}, d, norm, conv_layer, features, strongest);
  compute_init_rank_correlation(*first, d, norm, {conv_layer}, r);
  const LayerEvolution& ev = r.evolution[0];
  const std::vector<LayerParams> params = first->export_params();
  int checked = 0;
  for (int f = 0; f < F; ++f) {
    const size_t i = size_t(F + f);  // epoch 1
    const Activation& a = strongest[i];
    if (a.image < 0) {
      EXPECT_TRUE(std::isnan(ev.init_rank_correlation[i]));
      continue;
    }
    // The same image through the first network (its own switches), a unit signal at the
    // trained network's strongest position, walked down by the naive deconvnet.
    Tensor input({1, 1, 10, 10});
    int32_t label = 0;
    std::mt19937_64 unused;
    make_batch(d, &a.image, 1, norm, Augmentation{}, unused, input.ptr(), &label);
    const naive::Trace trace = naive::forward(first->specs(), params, input);
    Tensor signal(trace.outputs[size_t(top)].dims);
    signal.data[(size_t(f) * 5 + size_t(a.y)) * 5 + size_t(a.x)] = 1.f;
    const Tensor baseline = naive::deconvnet(first->specs(), params, trace, input, top, signal);
    const Window& w = ev.windows[i];
    std::vector<float> p, q;
    for (int y = w.y0; y < w.y1; ++y)
      for (int x = w.x0; x < w.x1; ++x) {
        p.push_back(std::abs(ev.projections.data[i * 100 + size_t(y * 10 + x)]));
        q.push_back(std::abs(baseline.data[size_t(y * 10 + x)]));
      }
    const double want = naive_spearman(p, q);
    SCOPED_TRACE("feature " + std::to_string(f) + ": " + std::to_string(want));
    if (std::isnan(want)) {  // a constant picture: undefined
      EXPECT_TRUE(std::isnan(ev.init_rank_correlation[i]));
      continue;
    }
    EXPECT_NEAR(ev.init_rank_correlation[i], want, 1e-3);  // naive and oneDNN round apart
    EXPECT_LT(ev.init_rank_correlation[i], 1.f);          // other weights, another picture
    ++checked;
  }
  EXPECT_GE(checked, 3);
}

}  // namespace
}  // namespace ds
