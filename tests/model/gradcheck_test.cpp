// Gradients of every layer type, two ways: against the naive reference backward
// (analytic vs analytic, tight tolerance), and against central finite differences of the
// loss with the shared checker (gradcheck.hpp), which also covers dropout in training.
// Networks whose layer 0 is "pass" (dropout with rate 0) also check the input gradient.
#include <gtest/gtest.h>

#include <iostream>
#include <random>

#include "deconvscope/model/network.hpp"
#include "model/gradcheck.hpp"
#include "model/naive.hpp"
#include "model/test_util.hpp"

namespace ds {
namespace {

using namespace testutil;

std::vector<int32_t> random_labels(int n, int classes, std::mt19937& rng) {
  std::uniform_int_distribution<int32_t> u(0, classes - 1);
  std::vector<int32_t> l(static_cast<size_t>(n));
  for (auto& v : l) v = u(rng);
  return l;
}

// Plain copy of layer 0's diff_src (the input gradient when layer 0 is "pass").
Tensor input_grad(Network& net) {
  const dnnl::memory& g = net.layer(0).diff_src();
  Tensor t({net.batch(), net.input().channels, net.input().height, net.input().width});
  dnnl::memory::desc md(t.dims, dnnl::memory::data_type::f32, dnnl::memory::format_tag::nchw);
  dnnl::stream strm(g.get_engine());
  dnnl::memory plain(md, g.get_engine(), t.ptr());
  dnnl::reorder(g, plain).execute(strm, const_cast<dnnl::memory&>(g), plain);
  strm.wait();
  return t;
}

// --- analytic vs the naive reference -------------------------------------------------

void expect_backward_matches_naive(const std::vector<LayerSpec>& specs, InputShape in, int batch, unsigned seed) {
  std::mt19937 rng(seed);
  Network net(specs, in, batch);
  randomize_params(net, rng);
  const Tensor input = random_input(net, rng);
  const std::vector<LayerParams> params = net.export_params();
  const naive::Trace trace = naive::forward(specs, params, input);
  Tensor diff_logits;
  naive::softmax_cross_entropy(trace.outputs.back(), random_labels(batch, net.num_classes(), rng), &diff_logits);
  const naive::Gradients want = naive::backward(specs, params, trace, input, diff_logits);

  net.set_step(1);
  net.forward(input.ptr(), Mode::train);
  net.backward(diff_logits.ptr());
  for (size_t i = 0; i < specs.size(); ++i) {
    if (!specs[i].has_params()) continue;
    const LayerParams& got = net.layer(i).grads();
    const float ws = std::max(1e-3f, max_abs(want.params[i].weights)), bs = std::max(1e-3f, max_abs(want.params[i].bias));
    EXPECT_TRUE(tensors_close(got.weights, want.params[i].weights, 1e-3f, 1e-4f * ws)) << specs[i].name << " weights";
    EXPECT_TRUE(tensors_close(got.bias, want.params[i].bias, 1e-3f, 1e-4f * bs)) << specs[i].name << " bias";
  }
  if (specs[0].type == LayerType::dropout) {
    const float s = std::max(1e-3f, max_abs(want.input));
    EXPECT_TRUE(tensors_close(input_grad(net), want.input, 1e-3f, 1e-4f * s)) << "input gradient";
  }
}

TEST(BackwardVsNaive, ConvStride2PadAndNonSquare) {
  LayerSpec c2 = conv("conv2", 5, 3, 5, 1, 0);
  c2.pad = {1, 2};
  expect_backward_matches_naive({dropout("pass", 0.f), conv("conv1", 4, 3, 3, 2, 1), c2, fc("fc", 3)}, {3, 9, 9}, 2, 31);
}

TEST(BackwardVsNaive, FirstLayerConvWithoutInputGradient) {
  expect_backward_matches_naive({conv("conv1", 16, 3, 3, 2, 1), relu("relu1"), fc("fc", 3)}, {3, 8, 8}, 2, 32);
}

TEST(BackwardVsNaive, ZfnetLikeStack) {
  expect_backward_matches_naive({dropout("pass", 0.f), conv("conv1", 8, 3, 3, 2, 1), relu("relu1"),
                                 maxpool("pool1", 3, 2, 1), lrn("norm1", 5, 2.f, 0.75f, 2.f),
                                 conv("conv2", 16, 3, 3, 1, 1), relu("relu2"), maxpool("pool2", 3, 2, 0),
                                 fc("fc6", 12), relu("relu6"), fc("fc7", 5)},
                                {3, 17, 17}, 3, 33);
}

TEST(BackwardVsNaive, PoolingKinds) {
  expect_backward_matches_naive({dropout("pass", 0.f), maxpool("pool", 2, 2, 0), fc("fc", 3)}, {3, 8, 8}, 2, 34);
  expect_backward_matches_naive({dropout("pass", 0.f), maxpool("pool", 3, 2, 0), fc("fc", 3)}, {3, 9, 9}, 2, 35);
  expect_backward_matches_naive({dropout("pass", 0.f), maxpool("pool", 3, 2, 1), fc("fc", 3)}, {3, 8, 8}, 2, 36);
}

TEST(BackwardVsNaive, LrnSizes) {
  expect_backward_matches_naive({dropout("pass", 0.f), lrn("norm", 5, 2.f, 0.75f, 2.f), fc("fc", 3)}, {7, 3, 3}, 2, 37);
  expect_backward_matches_naive({dropout("pass", 0.f), lrn("norm", 3, 1.f, 0.5f, 1.f), fc("fc", 3)}, {5, 3, 3}, 2, 38);
}

// The naive LRN backward is derived by hand; check it against differences of the naive
// forward so that the comparison above rests on something.
TEST(NaiveReference, LrnBackwardMatchesFiniteDifferences) {
  std::mt19937 rng(39);
  for (int size : {3, 5}) {
    const Tensor x = random_tensor({1, 6, 2, 2}, rng);
    const Tensor g = random_tensor({1, 6, 2, 2}, rng);
    const float alpha = 2.f, beta = 0.75f, k = 1.5f;
    const Tensor analytic = naive::lrn_backward(x, g, size, alpha, beta, k);
    auto dot = [&](const Tensor& t) {
      const Tensor y = naive::lrn_forward(t, size, alpha, beta, k);
      double s = 0;
      for (size_t i = 0; i < y.size(); ++i) s += double(y.data[i]) * g.data[i];
      return s;
    };
    for (size_t i = 0; i < x.size(); ++i) {
      Tensor up = x, down = x;
      up.data[i] += 1e-2f;
      down.data[i] -= 1e-2f;
      const double numeric = (dot(up) - dot(down)) / (double(up.data[i]) - double(down.data[i]));
      EXPECT_NEAR(analytic.data[i], numeric, 1e-3 + 1e-2 * std::abs(numeric)) << "size " << size << " at " << i;
    }
  }
}

// --- finite differences ---------------------------------------------------------------

void expect_gradients(const std::vector<LayerSpec>& specs, InputShape in, int batch, unsigned seed,
                      gradcheck::Options o = {}) {
  std::mt19937 rng(seed);
  Network net(specs, in, batch, /*seed =*/seed);
  randomize_params(net, rng);
  const Tensor input = random_input(net, rng);
  std::vector<int32_t> labels = random_labels(batch, net.num_classes(), rng);
  o.check_input = specs[0].type == LayerType::dropout && specs[0].rate == 0.f;
  o.seed = seed;
  const gradcheck::Result r = gradcheck::check(net, input, labels, o);
  EXPECT_TRUE(r.ok()) << r.summary();
  std::cout << "[ gradcheck] " << r.summary() << "\n";
}

TEST(GradCheck, ConvStride2Pad) {
  expect_gradients({dropout("pass", 0.f), conv("conv1", 4, 3, 3, 2, 1), fc("fc", 3)}, {3, 7, 7}, 2, 41);
}

TEST(GradCheck, ConvNonSquareKernel) {
  LayerSpec c = conv("conv1", 4, 3, 5, 1, 0);
  c.pad = {1, 2};
  expect_gradients({dropout("pass", 0.f), c, fc("fc", 3)}, {2, 6, 7}, 2, 42);
}

TEST(GradCheck, Relu) {
  expect_gradients({dropout("pass", 0.f), conv("conv1", 4, 3, 3, 1, 1), relu("relu1"), fc("fc", 3)}, {2, 5, 5}, 2, 43);
}

TEST(GradCheck, MaxPoolOverlappingWithPad) {
  expect_gradients({dropout("pass", 0.f), maxpool("pool", 3, 2, 1), fc("fc", 3)}, {3, 7, 7}, 2, 44);
  expect_gradients({dropout("pass", 0.f), maxpool("pool", 3, 2, 0), fc("fc", 3)}, {3, 7, 7}, 2, 45);
}

TEST(GradCheck, MaxPool2x2) {
  expect_gradients({dropout("pass", 0.f), maxpool("pool", 2, 2, 0), fc("fc", 3)}, {3, 6, 6}, 2, 46);
}

TEST(GradCheck, Lrn) {
  expect_gradients({dropout("pass", 0.f), lrn("norm", 5, 2.f, 0.75f, 2.f), fc("fc", 3)}, {7, 3, 3}, 2, 47);
  expect_gradients({dropout("pass", 0.f), lrn("norm", 3, 1.f, 0.75f, 1.f), fc("fc", 3)}, {5, 3, 3}, 2, 48);
}

TEST(GradCheck, FcAfterFcAndAfterFourDimensionalInput) {
  expect_gradients({dropout("pass", 0.f), fc("fc1", 8), relu("relu1"), fc("fc2", 3)}, {2, 3, 4}, 3, 49);
}

TEST(GradCheck, DropoutInTraining) {
  expect_gradients({dropout("pass", 0.f), fc("fc1", 16), dropout("drop1", 0.5f), fc("fc2", 3)}, {2, 3, 3}, 2, 50);
}

// The stack the paper's network is made of, with every layer type in training mode.
TEST(GradCheck, ZfnetLikeStack) {
  const std::vector<LayerSpec> body{conv("conv1", 6, 3, 3, 2, 1), relu("relu1"), maxpool("pool1", 3, 2, 0),
                                    lrn("norm1", 5, 2.f, 0.75f, 2.f), conv("conv2", 8, 3, 3, 1, 1), relu("relu2"),
                                    fc("fc6", 16), dropout("drop6", 0.5f), fc("fc7", 4)};
  // As is (the first layer computes no input gradient) ...
  expect_gradients(body, {3, 11, 11}, 2, 51);
  // ... and behind "pass", for the input gradient.
  std::vector<LayerSpec> with_pass{dropout("pass", 0.f)};
  with_pass.insert(with_pass.end(), body.begin(), body.end());
  expect_gradients(with_pass, {3, 11, 11}, 2, 52);
}

TEST(GradCheck, IgnoredRowsGiveNoGradient) {
  // Row 1 is padding (label -1): its input gradient must be exactly zero.
  std::mt19937 rng(53);
  Network net({dropout("pass", 0.f), conv("conv1", 4, 3, 3, 1, 1), relu("relu1"), fc("fc", 3)}, {2, 5, 5}, 2);
  randomize_params(net, rng);
  const Tensor input = random_input(net, rng);
  const std::vector<int32_t> labels{1, -1};
  gradcheck::Options o;
  o.check_input = true;
  const gradcheck::Result r = gradcheck::check(net, input, labels, o);
  EXPECT_TRUE(r.ok()) << r.summary();
  net.set_step(1);
  net.forward(input.ptr(), Mode::train);
  Tensor logits({2, 3}), diff;
  std::copy(net.logits(), net.logits() + 6, logits.data.begin());
  naive::softmax_cross_entropy(logits, labels, &diff);
  net.backward(diff.ptr());
  const Tensor g = input_grad(net);
  const size_t per = g.size() / 2;
  for (size_t i = per; i < g.size(); ++i) ASSERT_EQ(g.data[i], 0.f) << "at " << i;
  double first = 0;
  for (size_t i = 0; i < per; ++i) first += std::abs(g.data[i]);
  EXPECT_GT(first, 0.0);
}

}  // namespace
}  // namespace ds
