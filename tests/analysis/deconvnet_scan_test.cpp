// Tests of the analysis core (src/analysis/deconvnet.cpp, analyze.cpp): scan_topk
// against a brute-force scan (every image's per-feature maximum, sorted by the rules in
// deconvnet.hpp, ties included), receptive_field against windows worked by hand,
// project_activations against Network::project called by hand and against the naive
// deconvnet, and run_analysis end to end on a tiny trained run (incremental, forced,
// no snapshots).
#include <gtest/gtest.h>

#include <hdf5.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <numeric>
#include <random>
#include <tuple>

#include "deconvscope/analysis/analysis_file.hpp"
#include "deconvscope/analysis/analyze.hpp"
#include "deconvscope/analysis/deconvnet.hpp"
#include "deconvscope/cli/pipelines.hpp"
#include "deconvscope/config/config.hpp"
#include "deconvscope/core/error.hpp"
#include "deconvscope/io/h5.hpp"
#include "deconvscope/io/snapshot.hpp"
#include "deconvscope/model/evaluate.hpp"
#include "deconvscope/train/trainer.hpp"
#include "model/naive.hpp"
#include "model/test_util.hpp"
#include "naive_spearman.hpp"
#include "train/synthetic_run.hpp"

namespace fs = std::filesystem;

namespace ds {
namespace {

using testutil::conv;
using testutil::fc;
using testutil::maxpool;
using testutil::relu;

// Two conv layers, each rectified, with a max pool between: 1x10x10 -> 4x10x10 -> 4x5x5
// -> 5x5x5 -> 3 classes.
std::vector<LayerSpec> scan_specs() {
  return {conv("c1", 4, 3, 3, 1, 1), relu("r1"), maxpool("p1", 2, 2, 0), conv("c2", 5, 3, 3, 1, 1), relu("r2"),
          fc("f3", 3)};
}
const InputShape kScanInput{1, 10, 10};

// n random 1x10x10 images; image dup_of[j] is copied onto image j for each pair given.
Dataset random_dataset(int n, unsigned seed, const std::vector<std::pair<int, int>>& copies = {}) {
  Dataset d;
  d.channels = kScanInput.channels;
  d.height = kScanInput.height;
  d.width = kScanInput.width;
  d.num_classes = 3;
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> px(0, 255);
  d.pixels.resize(size_t(n) * d.image_bytes());
  for (uint8_t& p : d.pixels) p = uint8_t(px(rng));
  for (int i = 0; i < n; ++i) d.labels.push_back(i % 3);
  for (const auto& [to, from] : copies)
    std::copy(d.image(size_t(from)), d.image(size_t(from)) + d.image_bytes(), d.pixels.begin() + long(size_t(to) * d.image_bytes()));
  d.source = "random";
  return d;
}

// Network of scan_specs() at `batch` with random weights; biases pushed up a little so
// that most features fire somewhere.
Network scan_network(int batch, unsigned seed) {
  Network net(scan_specs(), kScanInput, batch, /*seed=*/1);
  std::mt19937 rng(seed);
  testutil::randomize_params(net, rng);
  for (size_t i = 0; i < net.size(); ++i)
    for (float& b : net.layer(i).params().bias.data) b += 0.1f;
  net.sync_params();
  return net;
}

// Every image's best activation per feature of layer `out` (the rectified output),
// found with the same network in the same batches as the scan, with plain loops: the
// first maximum in row-major order. best[f][image].
std::vector<std::vector<Activation>> per_image_best(Network& net, const Dataset& d, const Normalization& norm,
                                                    int out, int64_t count) {
  const LayerShape& s = net.shapes()[size_t(out)];
  std::vector<std::vector<Activation>> best(size_t(s.channels));
  std::vector<float> input;
  std::vector<int32_t> labels;
  Tensor act;
  for (int64_t first = 0; first < count; first += net.batch()) {
    const int n = int(std::min<int64_t>(net.batch(), count - first));
    fill_batch(d, first, n, norm, net.batch(), input, labels);
    net.forward(input.data(), Mode::infer);
    net.read_output(out, act);  // (B, C, H, W)
    for (int b = 0; b < n; ++b)
      for (int c = 0; c < s.channels; ++c) {
        Activation a;
        a.image = first + b;
        a.value = -1.f;
        for (int y = 0; y < s.height; ++y)
          for (int x = 0; x < s.width; ++x) {
            const float v = act.data[((size_t(b) * s.channels + c) * s.height + y) * s.width + x];
            if (v > a.value) {
              a.value = v;
              a.y = y;
              a.x = x;
            }
          }
        best[size_t(c)].push_back(a);
      }
  }
  return best;
}

// The documented top-k: the images where the feature fired (best value > 0) by value
// descending, exact ties to the lower image; image -1 where fewer than k images fired.
std::vector<Activation> brute_topk(const std::vector<std::vector<Activation>>& best, int k) {
  std::vector<Activation> out;
  for (std::vector<Activation> f : best) {
    f.erase(std::remove_if(f.begin(), f.end(), [](const Activation& a) { return !(a.value > 0.f); }), f.end());
    std::sort(f.begin(), f.end(), [](const Activation& a, const Activation& b) {
      return a.value > b.value || (a.value == b.value && a.image < b.image);
    });
    f.resize(size_t(k));
    out.insert(out.end(), f.begin(), f.end());
  }
  return out;
}

void expect_same_acts(const std::vector<Activation>& got, const std::vector<Activation>& want, int k) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i) {
    SCOPED_TRACE("feature " + std::to_string(i / size_t(k)) + ", rank " + std::to_string(i % size_t(k)));
    EXPECT_EQ(got[i].image, want[i].image);
    EXPECT_EQ(got[i].value, want[i].value);
    EXPECT_EQ(got[i].y, want[i].y);
    EXPECT_EQ(got[i].x, want[i].x);
  }
}

TEST(ScanTopK, MatchesABruteForceScan) {
  // Images 7 and 23 are the same picture, in the same batch slot (batch 8): equal values.
  const Dataset d = random_dataset(50, 1, {{23, 7}});
  const Normalization norm = compute_normalization(d);
  Network net = scan_network(/*batch=*/8, 2);
  const auto tops = scan_topk(net, d, norm, 0, {{/*conv=*/0, /*k=*/3}, {/*conv=*/3, /*k=*/60}});
  ASSERT_EQ(tops.size(), 2u);
  const auto best1 = per_image_best(net, d, norm, /*r1=*/1, 50), best2 = per_image_best(net, d, norm, /*r2=*/4, 50);
  expect_same_acts(tops[0], brute_topk(best1, 3), 3);
  expect_same_acts(tops[1], brute_topk(best2, 60), 60);

  // k = 60 > 50 images: every image where the feature fired once, the other ranks empty;
  // the twin images are neighbours, the lower index first.
  for (int f = 0; f < 5; ++f) {
    const Activation* t = tops[1].data() + f * 60;
    std::vector<int64_t> images, fired;
    for (int i = 0; i < 50; ++i)
      if (best2[size_t(f)][size_t(i)].value > 0) fired.push_back(i);
    const int n = int(fired.size());
    for (int r = 0; r < n; ++r) images.push_back(t[r].image);
    std::sort(images.begin(), images.end());
    EXPECT_EQ(images, fired) << "feature " << f;
    for (int r = n; r < 60; ++r) EXPECT_EQ(t[r].image, -1) << "feature " << f << " rank " << r;
    ASSERT_EQ(best2[size_t(f)][7].value, best2[size_t(f)][23].value) << "twin images must give equal values";
    if (best2[size_t(f)][7].value <= 0) continue;  // neither twin fired
    auto rank_of = [&](int64_t image) {
      return int(std::find_if(t, t + 50, [&](const Activation& a) { return a.image == image; }) - t);
    };
    const int at7 = rank_of(7), at23 = rank_of(23);
    EXPECT_LT(at7, at23) << "feature " << f;
    for (int r = at7; r <= at23 && r < 50; ++r) EXPECT_EQ(t[r].value, t[at7].value) << "feature " << f;
  }
}

// The scan reads oneDNN's outputs in their own layout. With 16, 20 and 48 channels oneDNN
// blocks the channels (nChw8c or nChw16c, by CPU); 20 is not a multiple of either block,
// so the last block is partly padding. The scan must match the plain-loop reference there.
TEST(ScanTopK, BlockedLayoutsWithPaddedChannelBlocksMatchABruteForceScan) {
  const std::vector<LayerSpec> specs = {conv("c1", 16, 3, 3, 1, 1), relu("r1"), maxpool("p1", 2, 2, 0),
                                        conv("c2", 20, 3, 3, 1, 1), relu("r2"), conv("c3", 48, 3, 3, 1, 1),
                                        relu("r3"), fc("f4", 3)};
  Network net(specs, kScanInput, /*batch=*/8, /*seed=*/1);
  std::mt19937 rng(5);
  testutil::randomize_params(net, rng);
  for (size_t i = 0; i < net.size(); ++i)
    for (float& b : net.layer(i).params().bias.data) b += 0.1f;
  net.sync_params();
  const Dataset d = random_dataset(30, 3);
  const Normalization norm = compute_normalization(d);
  const auto tops = scan_topk(net, d, norm, 0, {{/*conv=*/0, /*k=*/4}, {/*conv=*/3, /*k=*/4}, {/*conv=*/5, /*k=*/4}});
  ASSERT_EQ(tops.size(), 3u);
  int blocked = 0;
  const int rectified[] = {1, 4, 6};
  for (int r = 0; r < 3; ++r) {
    const auto& blk = net.layer(size_t(rectified[r])).dst().get_desc().data.format_desc.blocking;
    if (blk.inner_nblks == 1 && blk.inner_idxs[0] == 1 && blk.inner_blks[0] > 1) ++blocked;
    expect_same_acts(tops[size_t(r)], brute_topk(per_image_best(net, d, norm, rectified[r], 30), 4), 4);
  }
  // Otherwise this test would check only what the 4- and 5-channel tests check.
  EXPECT_EQ(blocked, 3) << "oneDNN chose a plain layout for a conv output of 16, 20 or 48 channels";
}

TEST(ScanTopK, AFeatureThatNeverFiresIsAllMinusOneAndProjectsToZero) {
  const Dataset d = random_dataset(20, 11);
  const Normalization norm = compute_normalization(d);
  Network net = scan_network(/*batch=*/8, 12);
  net.layer(0).params().bias.data[2] = -1e6f;  // c1 feature 2: below zero everywhere, ReLU gives 0
  net.sync_params();
  const auto tops = scan_topk(net, d, norm, 0, {{0, 3}});
  for (int r = 0; r < 3; ++r) {
    const Activation& a = tops[0][size_t(2 * 3 + r)];
    EXPECT_EQ(a.image, -1) << "rank " << r;
    EXPECT_EQ(a.value, 0.f);
    EXPECT_GE(tops[0][size_t(r)].image, 0) << "feature 0 fires";
  }
  std::vector<float> out(size_t(2) * 100, 1.f);
  project_activations(net, d, norm, 0, {2, 2}, {tops[0][6], tops[0][7]}, out.data());
  for (float v : out) EXPECT_EQ(v, 0.f);
}

// Top-k lists of `channels` features (k = 2) where feature c fired iff alive[c].
std::vector<Activation> tops_with(const std::vector<bool>& alive) {
  std::vector<Activation> t(alive.size() * 2);
  for (size_t c = 0; c < alive.size(); ++c)
    if (alive[c]) t[c * 2] = Activation{int64_t(c), 0, 0, 1.f};
  return t;
}

TEST(ChooseFollowed, SpreadsEvenlyOverTheAliveFeatures) {
  // 12 features, alive: 1, 2, 4, 5, 7, 8, 10, 11 (m = 8).
  std::vector<bool> alive(12, true);
  for (int c : {0, 3, 6, 9}) alive[size_t(c)] = false;
  const auto t = tops_with(alive);
  EXPECT_EQ(choose_followed(t, 2, 4), (std::vector<int32_t>{1, 4, 7, 10}));  // alive[0, 2, 4, 6]
  EXPECT_EQ(choose_followed(t, 2, 3), (std::vector<int32_t>{1, 4, 8}));      // alive[0, 2, 5]
  EXPECT_EQ(choose_followed(t, 2, 8), (std::vector<int32_t>{1, 2, 4, 5, 7, 8, 10, 11}));
  EXPECT_EQ(choose_followed(t, 2, 20), (std::vector<int32_t>{1, 2, 4, 5, 7, 8, 10, 11}));  // all alive, no dead
  EXPECT_EQ(choose_followed(t, 2, -1).size(), 12u);  // all: every feature, dead ones too
}

TEST(ChooseFollowed, ALayerWithoutLiveFeaturesSpreadsOverAll) {
  const auto t = tops_with(std::vector<bool>(6, false));
  EXPECT_EQ(choose_followed(t, 2, 3), (std::vector<int32_t>{0, 2, 4}));
  EXPECT_EQ(choose_followed(t, 2, 9).size(), 6u);
}

TEST(ScanTopK, TiesGoToTheLowerImage) {
  // Six copies of one image in one batch: the ranking of every feature that fires on it
  // is 0, 1, 2, ...; one that does not fire has only empty ranks.
  const Dataset d = random_dataset(6, 3, {{1, 0}, {2, 0}, {3, 0}, {4, 0}, {5, 0}});
  const Normalization norm = compute_normalization(d);
  Network net = scan_network(/*batch=*/8, 4);
  const auto tops = scan_topk(net, d, norm, 0, {{0, 4}, {3, 6}});
  int firing = 0;
  for (const auto& [request, k, features] : {std::tuple<size_t, int, int>{0, 4, 4}, {1, 6, 5}})
    for (int f = 0; f < features; ++f) {
      const bool fires = tops[request][size_t(f * k)].image >= 0;
      firing += fires;
      for (int r = 0; r < k; ++r) {
        EXPECT_EQ(tops[request][size_t(f * k + r)].image, fires ? r : -1) << "request " << request << " feature " << f;
        EXPECT_EQ(tops[request][size_t(f * k + r)].value, tops[request][size_t(f * k)].value);
      }
    }
  EXPECT_GE(firing, 5) << "too few features fire to test ties";
}

TEST(ScanTopK, CountLimitsTheProbeAndAPartialBatchIsIgnoredBeyondIt) {
  const Dataset d = random_dataset(50, 5);
  const Normalization norm = compute_normalization(d);
  Network net = scan_network(/*batch=*/8, 6);
  const auto tops = scan_topk(net, d, norm, /*count=*/20, {{3, 25}});
  expect_same_acts(tops[0], brute_topk(per_image_best(net, d, norm, 4, 20), 25), 25);
  for (const Activation& a : tops[0]) EXPECT_LT(a.image, 20);
}

TEST(ScanTopK, StrongestEqualsADirectScanOfTheMaximum) {
  const Dataset d = random_dataset(50, 7);
  const Normalization norm = compute_normalization(d);
  Network net = scan_network(/*batch=*/8, 8);
  const auto tops = scan_topk(net, d, norm, 0, {{0, 3}, {3, 3}});

  // The naive reference over all 50 images at once: the maximum of each feature's map.
  Tensor input({50, 1, 10, 10});
  std::vector<int64_t> all(50);
  std::iota(all.begin(), all.end(), 0);
  std::vector<int32_t> labels(50);
  std::mt19937_64 unused;
  make_batch(d, all.data(), 50, norm, Augmentation{}, unused, input.ptr(), labels.data());
  const naive::Trace trace = naive::forward(net.specs(), net.export_params(), input);
  for (const auto& [r, out] : {std::pair<int, int>{0, 1}, std::pair<int, int>{1, 4}}) {
    const Tensor& o = trace.outputs[size_t(out)];  // (50, C, H, W)
    const int64_t C = o.dims[1], HW = o.dims[2] * o.dims[3];
    for (int64_t c = 0; c < C; ++c) {
      float m = 0;
      for (int64_t n = 0; n < 50; ++n)
        for (int64_t j = 0; j < HW; ++j) m = std::max(m, o.data[size_t((n * C + c) * HW + j)]);
      const Activation& top = tops[size_t(r)][size_t(c * 3)];
      EXPECT_NEAR(top.value, m, 1e-4f * std::max(1.f, m)) << "request " << r << " feature " << c;
      // And the value sits where the scan says it does.
      const float there = o.data[size_t((top.image * C + c) * HW + top.y * o.dims[3] + top.x)];
      EXPECT_NEAR(there, top.value, 1e-4f * std::max(1.f, m));
    }
  }
}

TEST(ReceptiveField, HandComputedWindows) {
  // conv 5x5 s1 p2 -> relu -> pool 3x3 s2 p1 -> conv 3x3 s1 p1, on 28x28.
  const std::vector<LayerSpec> s = {conv("c1", 4, 5, 5, 1, 2), relu("r1"), maxpool("p1", 3, 2, 1),
                                    conv("c2", 4, 3, 3, 1, 1), relu("r2"), fc("f", 2)};
  const InputShape in{1, 28, 28};
  auto expect = [&](int layer, int y, int x, Window w) {
    const Window got = receptive_field(s, in, layer, y, x);
    EXPECT_EQ(got.y0, w.y0) << "layer " << layer << " at (" << y << ", " << x << ")";
    EXPECT_EQ(got.x0, w.x0) << "layer " << layer << " at (" << y << ", " << x << ")";
    EXPECT_EQ(got.y1, w.y1) << "layer " << layer << " at (" << y << ", " << x << ")";
    EXPECT_EQ(got.x1, w.x1) << "layer " << layer << " at (" << y << ", " << x << ")";
  };
  expect(0, 10, 10, {8, 8, 13, 13});   // rows 10-2 .. 10+2
  expect(1, 10, 10, {8, 8, 13, 13});   // the relu sees what its conv sees
  expect(0, 0, 0, {0, 0, 3, 3});       // [-2, 2] clipped
  expect(0, 27, 27, {25, 25, 28, 28}); // [25, 29] clipped
  expect(0, 3, 20, {1, 18, 6, 23});
  // pool at 5: [9, 11] in c1's output -> [7, 13] in pixels.
  expect(2, 5, 5, {7, 7, 14, 14});
  expect(2, 0, 0, {0, 0, 4, 4});       // [-1, 1] -> [-3, 3]
  // c2 at 5: [4, 6] in the pool's output -> [7, 13] -> [5, 15].
  expect(3, 5, 5, {5, 5, 16, 16});
  expect(4, 5, 5, {5, 5, 16, 16});
  expect(4, 13, 13, {21, 21, 28, 28}); // [12, 14] -> [23, 29] -> [21, 31] clipped

  // Non-square kernels, strides and pads, on a non-square input.
  LayerSpec a = conv("a", 2, 5, 3, 1, 0);
  a.stride = {2, 1};
  a.pad = {2, 1};
  const InputShape wide{1, 9, 20};
  const Window w = receptive_field({a, fc("f", 2)}, wide, 0, 2, 7);
  EXPECT_EQ(w.y0, 2);  // rows 2*2-2 .. 2*2-2+4
  EXPECT_EQ(w.y1, 7);
  EXPECT_EQ(w.x0, 6);  // cols 7-1 .. 7+1
  EXPECT_EQ(w.x1, 9);
  const Window last = receptive_field({a, fc("f", 2)}, wide, 0, 4, 19);
  EXPECT_EQ(last.y0, 6);
  EXPECT_EQ(last.y1, 9);  // [6, 10] clipped to 9 rows
  EXPECT_EQ(last.x0, 18);
  EXPECT_EQ(last.x1, 20);
}

TEST(ReceptiveField, BenchNetworkConv2) {
  const Config cfg = load_config({});  // the default network is zfnet-mini
  ASSERT_GE(cfg.layers.size(), 6u);
  ASSERT_EQ(cfg.layers[4].name, "conv2");
  const InputShape in{1, 28, 28};
  // conv2's output is 14x14. Centre (7, 7): conv2 [5, 9] -> pool1 [9, 19] -> conv1 [7, 21].
  Window w = receptive_field(cfg.layers, in, 5, 7, 7);  // relu2
  EXPECT_EQ(w.y0, 7);
  EXPECT_EQ(w.y1, 22);  // 15 pixels: ZFNet's conv2 field at this scale
  EXPECT_EQ(w.x0, 7);
  EXPECT_EQ(w.x1, 22);
  // Corner (0, 0): [-2, 2] -> [-5, 5] -> [-7, 7] -> rows 0..7.
  w = receptive_field(cfg.layers, in, 4, 0, 0);
  EXPECT_EQ(w.y0, 0);
  EXPECT_EQ(w.y1, 8);
  EXPECT_EQ(w.x0, 0);
  EXPECT_EQ(w.x1, 8);
  // conv1 (5x5, pad 2) at its centre.
  w = receptive_field(cfg.layers, in, 0, 14, 14);
  EXPECT_EQ(w.y0, 12);
  EXPECT_EQ(w.y1, 17);
}

TEST(RectifiedOutputLayer, TheReluRightAfterTheConv) {
  const std::vector<LayerSpec> s = {conv("c1", 2, 3, 3, 1, 1), relu("r1"), conv("c2", 2, 3, 3, 1, 1),
                                    maxpool("p", 2, 2, 0), fc("f", 2)};
  EXPECT_EQ(rectified_output_layer(s, 0), 1);
  EXPECT_EQ(rectified_output_layer(s, 2), 2);  // no relu after c2: its raw output
}

// The projection of one activation, computed by hand: the image in batch slot 0, a
// forward in deconv mode, one non-zero in the signal, Network::project.
Tensor project_by_hand(Network& net, const Dataset& d, const Normalization& norm, int conv_layer, int feature,
                       const Activation& a) {
  const int top = rectified_output_layer(net.specs(), conv_layer);
  const LayerShape& s = net.shapes()[size_t(top)];
  const InputShape& in = net.input();
  std::vector<float> input;
  std::vector<int32_t> labels;
  fill_batch(d, a.image, 1, norm, net.batch(), input, labels);
  net.forward(input.data(), Mode::deconv, top);
  std::vector<float> signal(size_t(net.batch()) * s.channels * s.height * s.width, 0.f);
  signal[(size_t(feature) * s.height + size_t(a.y)) * s.width + size_t(a.x)] = a.value;
  Tensor out({net.batch(), in.channels, in.height, in.width});
  net.project(top, signal.data(), out.ptr());
  out.dims[0] = 1;
  out.data.resize(size_t(in.channels) * in.height * in.width);
  return out;
}

// The same with the naive reference of tests/model/naive.hpp.
Tensor project_naive(const Network& net, const Dataset& d, const Normalization& norm, int conv_layer, int feature,
                     const Activation& a) {
  const int top = rectified_output_layer(net.specs(), conv_layer);
  const InputShape& in = net.input();
  Tensor input({1, in.channels, in.height, in.width});
  int32_t label = 0;
  std::mt19937_64 unused;
  make_batch(d, &a.image, 1, norm, Augmentation{}, unused, input.ptr(), &label);
  const std::vector<LayerParams> params = net.export_params();
  const naive::Trace trace = naive::forward(net.specs(), params, input);
  Tensor signal(trace.outputs[size_t(top)].dims);
  const LayerShape& s = net.shapes()[size_t(top)];
  signal.data[(size_t(feature) * s.height + size_t(a.y)) * s.width + size_t(a.x)] = a.value;
  return naive::deconvnet(net.specs(), params, trace, input, top, signal);
}

TEST(ProjectActivations, MatchesProjectByHandAndTheNaiveDeconvnet) {
  const Dataset d = random_dataset(30, 9);
  const Normalization norm = compute_normalization(d);
  Network net = scan_network(/*batch=*/3, 10);
  const auto tops = scan_topk(net, d, norm, 0, {{0, 2}, {3, 2}});
  const size_t image_size = 100;
  for (const auto& [r, conv_layer] : {std::pair<int, int>{0, 0}, std::pair<int, int>{1, 3}}) {
    SCOPED_TRACE("conv layer " + std::to_string(conv_layer));
    // 7 activations at batch 3: three batches, the last one partial; two with image -1.
    std::vector<Activation> acts;
    std::vector<int32_t> feats;
    const int F = net.shapes()[size_t(conv_layer)].channels;
    for (int i = 0; i < 7; ++i) {
      const int f = i % F;
      acts.push_back(tops[size_t(r)][size_t(f * 2 + i % 2)]);
      feats.push_back(f);
    }
    acts[2].image = -1;
    acts[5].image = -1;
    acts[6].value = 1.5f;  // any value at any position projects; the projection is linear in it
    acts[6].y = 1;
    acts[6].x = 3;
    std::vector<float> out(7 * image_size, 42.f);
    project_activations(net, d, norm, conv_layer, feats, acts, out.data());
    Network other = scan_network(/*batch=*/3, 10);  // the same weights, its own buffers
    for (size_t i = 0; i < 7; ++i) {
      SCOPED_TRACE("activation " + std::to_string(i));
      Tensor got({1, 1, 10, 10});
      std::copy(out.begin() + long(i * image_size), out.begin() + long((i + 1) * image_size), got.data.begin());
      if (acts[i].image < 0) {
        EXPECT_EQ(testutil::max_abs(got), 0.f);
        continue;
      }
      const Tensor hand = project_by_hand(other, d, norm, conv_layer, feats[i], acts[i]);
      EXPECT_TRUE(testutil::tensors_close(got, hand, 1e-5f, 1e-6f * testutil::max_abs(hand)));
      const Tensor ref = project_naive(net, d, norm, conv_layer, feats[i], acts[i]);
      EXPECT_TRUE(testutil::tensors_close(got, ref, 1e-4f, 1e-4f * testutil::max_abs(ref)));
      if (acts[i].value > 0) {
        EXPECT_GT(testutil::max_abs(got), 0.f);
      }
    }
  }
}

TEST(ProjectActivations, APositionOutsideTheLayerIsAUsageError) {
  const Dataset d = random_dataset(4, 11);
  const Normalization norm = compute_normalization(d);
  Network net = scan_network(/*batch=*/2, 12);
  std::vector<float> out(100);
  Activation a;
  a.image = 0;
  a.value = 1.f;
  a.y = 10;  // c1's output is 10x10
  try {
    project_activations(net, d, norm, 0, {0}, {a}, out.data());
    FAIL() << "expected ds::Error(usage)";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::usage);
  }
  a.y = 0;
  try {
    project_activations(net, d, norm, 0, {4}, {a}, out.data());  // c1 has features 0..3
    FAIL() << "expected ds::Error(usage)";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::usage);
  }
}

// A tiny run trained for two epochs on the synthetic IDX data, shared by the tests below.
class AnalyzeRun : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    data_dir_ = testutil::make_temp_dir("analyze-data");
    testutil::write_synthetic_mnist(data_dir_, /*n_train=*/160, /*n_test=*/40);
    run_dir_ = testutil::make_temp_dir("analyze-run");
    cfg_ = load_config(testutil::tiny_run_args(
        data_dir_, run_dir_,
        {"--train.epochs", "2", "--snapshot.epochs", "0,1", "--analysis.probe_limit", "40", "--analysis.features",
         "3", "--analysis.topk", "4", "--analysis.batch", "8"}));
    train(cfg_, TrainOptions{}, Comm::world());
  }
  static void TearDownTestSuite() {
    std::error_code ec;
    fs::remove_all(data_dir_, ec);
    fs::remove_all(run_dir_, ec);
  }
  static std::string data_dir_, run_dir_;
  static Config cfg_;
};
std::string AnalyzeRun::data_dir_, AnalyzeRun::run_dir_;
Config AnalyzeRun::cfg_;

TEST_F(AnalyzeRun, WritesTheFileAndReportThenReusesThenForces) {
  AnalyzeOptions opt;
  opt.quiet = true;
  const RunWorkspace ws(run_dir_, /*writes=*/true);
  const AnalyzeOutcome o1 = analyze_and_report(cfg_, ws, opt);
  const AnalyzeSummary& s1 = o1.analysis;
  EXPECT_EQ(s1.epochs, (std::vector<int>{0, 1, 2}));
  EXPECT_EQ(s1.computed, (std::vector<int>{0, 1, 2}));
  ASSERT_TRUE(fs::exists(s1.analysis_file));
  EXPECT_TRUE(fs::exists(o1.report));
  EXPECT_EQ(fs::path(o1.report).filename(), "index.html");

  const AnalysisResult r = read_analysis(s1.analysis_file);
  EXPECT_EQ(r.epochs, (std::vector<int>{0, 1, 2}));
  EXPECT_EQ(r.layers, (std::vector<std::string>{"c1", "c2"}));
  EXPECT_EQ(r.probe_count, 40);
  EXPECT_EQ(r.split, ds::ProbeSplit::train);
  ASSERT_EQ(r.evolution.size(), 2u);
  const size_t image_size = 12 * 12;
  for (const LayerEvolution& ev : r.evolution) {
    SCOPED_TRACE("layer " + ev.layer);
    ASSERT_EQ(ev.features.size(), 3u);
    ASSERT_EQ(ev.strongest.size(), 9u);
    EXPECT_EQ(ev.projections.dims, (std::vector<int64_t>{3, 3, 1, 12, 12}));
    int fired = 0;
    for (size_t i = 0; i < 9; ++i) {
      const Activation& a = ev.strongest[i];
      // Followed features are alive in the last snapshot; earlier they may be inactive.
      EXPECT_GE(a.image, i >= 6 ? 0 : -1);
      EXPECT_LT(a.image, 40);
      if (a.image < 0) {
        EXPECT_EQ(a.value, 0.f);
      }
      const float* p = ev.projections.ptr() + i * image_size;
      const float m = std::abs(*std::max_element(p, p + image_size, [](float x, float y) { return std::abs(x) < std::abs(y); }));
      if (a.value > 0) {
        ++fired;
        EXPECT_GT(m, 0.f) << "epoch row " << i / 3 << " feature " << ev.features[i % 3] << " fires at " << a.value;
      }
    }
    EXPECT_GT(fired, 0);
  }
  // Top-k grids at the last snapshot only (analysis.topk_epochs is empty).
  ASSERT_EQ(r.topk.size(), 1u);
  ASSERT_EQ(r.topk.count(2), 1u);
  const LayerTopK& t = r.topk.at(2)[0];
  EXPECT_EQ(t.layer, "c1");
  EXPECT_EQ(t.k, 4);
  EXPECT_EQ(t.features, 4);
  EXPECT_EQ(t.acts.size(), 16u);

  // The file agrees with a scan by hand of the last snapshot over the same 40 images.
  const Snapshot last = read_snapshot(RunPaths::of(run_dir_).snapshots + "/" + snapshot_file_name(2));
  Network net(last.layers, last.input, 8, cfg_.run.seed);
  net.import_params(last.params);
  DataConfig dc = cfg_.data;
  dc.train_limit = 40;
  const DataSplits data = load_dataset(dc);
  const auto tops = scan_topk(net, data.train, Normalization{last.input_mean, last.input_std}, 0, {{0, 4}});
  for (size_t i = 0; i < 16; ++i) {
    EXPECT_EQ(t.acts[i].image, tops[0][i].image) << i;
    EXPECT_EQ(t.acts[i].value, tops[0][i].value) << i;
  }
  for (size_t j = 0; j < 3; ++j) {
    const Activation& a = r.evolution[0].strongest[2 * 3 + j];
    EXPECT_EQ(a.image, tops[0][size_t(r.evolution[0].features[j]) * 4].image);
  }
  // The documented choice of followed features, from that scan.
  EXPECT_EQ(r.evolution[0].features, choose_followed(tops[0], 4, 3));

  // Again: everything is reused.
  const AnalyzeSummary s2 = run_analysis(Run::open(run_dir_, cfg_), opt);
  EXPECT_EQ(s2.epochs, (std::vector<int>{0, 1, 2}));
  EXPECT_TRUE(s2.computed.empty());
  const AnalysisResult r2 = read_analysis(s2.analysis_file);
  EXPECT_EQ(r2.evolution[1].projections.data, r.evolution[1].projections.data);
  EXPECT_EQ(r2.topk.count(2), 1u);

  // Forced: everything again, with the same results.
  opt.force = true;
  const AnalyzeSummary s3 = run_analysis(Run::open(run_dir_, cfg_), opt);
  EXPECT_EQ(s3.computed, (std::vector<int>{0, 1, 2}));
  const AnalysisResult r3 = read_analysis(s3.analysis_file);
  EXPECT_EQ(r3.evolution[0].projections.data, r.evolution[0].projections.data);
}

TEST_F(AnalyzeRun, AnExplicitFeatureListIsFollowedAsGivenAndChecked) {
  Config cfg = cfg_;
  cfg.analysis.feature_list = {3, 0};
  AnalysisPlan plan = plan_analysis(Run::open(run_dir_, cfg));
  EXPECT_FALSE(plan.follow_alive);
  ASSERT_EQ(plan.followed.size(), 2u);
  for (const LayerEvolution& ev : plan.followed) EXPECT_EQ(ev.features, (std::vector<int32_t>{3, 0})) << ev.layer;

  cfg.analysis.feature_list = {0, 5};  // c1 has 4 features, c2 6
  try {
    plan_analysis(Run::open(run_dir_, cfg));
    FAIL() << "expected ds::Error(config)";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::config);
    EXPECT_NE(std::string(e.what()).find("analysis.features"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("layer c1"), std::string::npos) << e.what();
  }
  cfg.analysis.layers = {"c2"};  // fine there
  EXPECT_EQ(plan_analysis(Run::open(run_dir_, cfg)).followed[0].features, (std::vector<int32_t>{0, 5}));

  cfg.analysis.feature_list.clear();
  cfg.analysis.features = -1;  // all
  EXPECT_EQ(plan_analysis(Run::open(run_dir_, cfg)).followed[0].features, (std::vector<int32_t>{0, 1, 2, 3, 4, 5}));
}

TEST_F(AnalyzeRun, TheProbeIsTheRunsOwnTrainingImagesByDefault) {
  Config cfg = cfg_;
  cfg.analysis.probe_limit = 0;
  cfg.data.train_limit = 50;  // as if the run had trained on 50 of the 160 images
  EXPECT_EQ(plan_analysis(Run::open(run_dir_, cfg)).probe().size(), 50u);
  cfg.data.train_limit = 0;
  EXPECT_EQ(plan_analysis(Run::open(run_dir_, cfg)).probe().size(), 160u);
  cfg.analysis.probe_limit = 70;  // asked for: more than the run used
  cfg.data.train_limit = 50;
  EXPECT_EQ(plan_analysis(Run::open(run_dir_, cfg)).probe().size(), 70u);
  cfg.analysis.probe = ds::ProbeSplit::test;
  cfg.analysis.probe_limit = 0;
  cfg.data.test_limit = 30;
  EXPECT_EQ(plan_analysis(Run::open(run_dir_, cfg)).probe().size(), 30u);
}

TEST_F(AnalyzeRun, ATopKEpochWithoutASnapshotOnDiskIsWarnedAbout) {
  // As if the run had planned a snapshot at epoch 3 and stopped after epoch 2.
  Config cfg = cfg_;
  cfg.snapshot.epochs = {0, 1, 2, 3};
  cfg.analysis.topk_epochs = {1, 3};
  testing::internal::CaptureStderr();
  run_analysis(Run::open(run_dir_, cfg), AnalyzeOptions{});
  const std::string err = testing::internal::GetCapturedStderr();
  EXPECT_NE(err.find("warning: analysis.topk_epochs: epoch 3 has no snapshot"), std::string::npos) << err;
  const AnalysisResult r = read_analysis((fs::path(RunPaths::of(run_dir_).analysis) / "analysis.h5").string());
  ASSERT_EQ(r.topk.size(), 1u);
  EXPECT_EQ(r.topk.count(1), 1u);
}

// NaN-aware equality of two figure vectors.
void expect_same_figures(const std::vector<float>& a, const std::vector<float>& b) {
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i)
    if (!(std::isnan(a[i]) && std::isnan(b[i]))) {
      EXPECT_EQ(a[i], b[i]) << "entry " << i;
    }
}

TEST_F(AnalyzeRun, TheSanityBaselineIsWrittenKeptOnReuseAndAddedToAVersion2File) {
  AnalyzeOptions opt;
  opt.quiet = true;
  opt.force = true;
  run_analysis(Run::open(run_dir_, cfg_), opt);
  const RunPaths paths = RunPaths::of(run_dir_);
  const AnalysisResult r = read_analysis(paths.analysis_file);
  const size_t E = r.epochs.size();
  int figures = 0;
  for (size_t l = 0; l < r.layers.size(); ++l) {
    const LayerEvolution& ev = r.evolution[l];
    const size_t F = ev.features.size();
    SCOPED_TRACE("layer " + ev.layer);
    ASSERT_EQ(ev.init_rank_correlation.size(), E * F);
    ASSERT_EQ(r.convergence[l].init_rank_correlation.size(), E);
    for (size_t i = 0; i < E * F; ++i) {
      const float v = ev.init_rank_correlation[i];
      if (ev.strongest[i].image < 0) {
        EXPECT_TRUE(std::isnan(v)) << i;
      } else if (i < F) {
        EXPECT_EQ(v, 1.f) << i;
      } else if (!std::isnan(v)) {
        EXPECT_GE(v, -1.f);
        EXPECT_LE(v, 1.f);
        ++figures;
      }
    }
  }
  EXPECT_GT(figures, 0);

  // As docs/analysis-format.md describes it, by the naive deconvnet: every figure of c2 at
  // the last epoch, from the first snapshot's weights and the stored activation and window.
  const Snapshot first = read_snapshot(paths.snapshots + "/" + snapshot_file_name(r.epochs[0]));
  Network first_net(first.layers, first.input, 1, cfg_.run.seed);
  first_net.import_params(first.params);
  DataConfig dc = cfg_.data;
  dc.train_limit = 40;
  const DataSplits data = load_dataset(dc);
  const Normalization norm{first.input_mean, first.input_std};
  const LayerEvolution& c2 = r.evolution[1];
  const int c2_index = 3;
  ASSERT_EQ(first.layers[size_t(c2_index)].name, "c2");
  const size_t F = c2.features.size();
  int recomputed = 0;
  for (size_t f = 0; f < F; ++f) {
    const size_t i = (E - 1) * F + f;
    Activation unit = c2.strongest[i];
    if (unit.image < 0) continue;
    unit.value = 1.f;
    const Tensor b = project_naive(first_net, data.train, norm, c2_index, c2.features[f], unit);
    const Window& w = c2.windows[i];
    std::vector<float> pa, pb;
    for (int y = w.y0; y < w.y1; ++y)
      for (int x = w.x0; x < w.x1; ++x) {
        pa.push_back(std::abs(c2.projections.data[i * 144 + size_t(y * 12 + x)]));
        pb.push_back(std::abs(b.data[size_t(y * 12 + x)]));
      }
    const double want = testutil::naive_spearman(pa, pb);
    if (std::isnan(want)) {
      EXPECT_TRUE(std::isnan(c2.init_rank_correlation[i])) << f;
    } else {
      EXPECT_NEAR(c2.init_rank_correlation[i], want, 1e-3) << "feature " << c2.features[f];
    }
    ++recomputed;
  }
  EXPECT_GT(recomputed, 0);

  // convergence.csv: the median as its last column.
  std::ifstream csv(paths.analysis + "/convergence.csv");
  std::string header, row;
  std::getline(csv, header);
  EXPECT_EQ(header.substr(header.rfind(',') + 1), "init_rank_correlation");
  std::getline(csv, row);  // c1, the first epoch: 1 when a followed feature is active
  EXPECT_EQ(row.substr(row.rfind(',') + 1), std::isnan(r.convergence[0].init_rank_correlation[0]) ? "" : "1");

  // Reused: every epoch and its figures.
  opt.force = false;
  EXPECT_TRUE(run_analysis(Run::open(run_dir_, cfg_), opt).computed.empty());
  const AnalysisResult again = read_analysis(paths.analysis_file);
  for (size_t l = 0; l < r.layers.size(); ++l) {
    expect_same_figures(again.evolution[l].init_rank_correlation, r.evolution[l].init_rank_correlation);
    expect_same_figures(again.convergence[l].init_rank_correlation, r.convergence[l].init_rank_correlation);
  }

  // The file as version 2 wrote it: the epochs are reused, the figures computed anew.
  {
    h5::File f = h5::File::open_readwrite(paths.analysis_file);
    for (const std::string& name : r.layers) {
      H5Ldelete(f.root().id(), ("evolution/" + name + "/init_rank_correlation").c_str(), H5P_DEFAULT);
      H5Ldelete(f.root().id(), ("metrics/convergence/" + name + "/init_rank_correlation").c_str(), H5P_DEFAULT);
    }
    f.root().write_attr_int("format_version", 2);
    f.close();
  }
  ASSERT_TRUE(read_analysis(paths.analysis_file).evolution[0].init_rank_correlation.empty());
  EXPECT_TRUE(run_analysis(Run::open(run_dir_, cfg_), opt).computed.empty());
  const AnalysisResult upgraded = read_analysis(paths.analysis_file);
  for (size_t l = 0; l < r.layers.size(); ++l)
    expect_same_figures(upgraded.evolution[l].init_rank_correlation, r.evolution[l].init_rank_correlation);
}

TEST(Analyze, ARunWithoutSnapshotsIsASnapshotError) {
  const std::string dir = testutil::make_temp_dir("analyze-empty");
  const Config cfg = load_config({"--run.dir", dir});
  for (int pass = 0; pass < 2; ++pass) {  // no snapshots folder, then an empty one
    try {
      run_analysis(Run::open(dir, cfg), AnalyzeOptions{});
      ADD_FAILURE() << "expected ds::Error(snapshot), pass " << pass;
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::snapshot) << e.what();
    }
    fs::create_directories(RunPaths::of(dir).snapshots);
  }
  std::error_code ec;
  fs::remove_all(dir, ec);
}

}  // namespace
}  // namespace ds
