// forward_images against one forward pass per image, and softmax_rows against the formula.
#include "deconvscope/analysis/forward_images.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "model/test_util.hpp"

namespace ds {
namespace {

std::vector<LayerSpec> tiny_net() {
  LayerSpec conv;
  conv.type = LayerType::conv;
  conv.name = "conv1";
  conv.out = 3;
  conv.kernel = {3, 3};
  conv.stride = {1, 1};
  conv.pad = {1, 1};
  LayerSpec relu;
  relu.type = LayerType::relu;
  relu.name = "relu1";
  LayerSpec fc;
  fc.type = LayerType::fc;
  fc.name = "fc";
  fc.out = 4;
  return {conv, relu, fc};
}

TEST(ForwardImages, BatchesMatchOneImageAtATime) {
  const InputShape in{1, 6, 6};
  Network batched(tiny_net(), in, 4, 7), single(tiny_net(), in, 1, 7);
  // Non-zero weights, so a reordered weight copy that was never written shows.
  std::mt19937 wrng(11);
  testutil::randomize_params(batched, wrng);
  single.import_params(batched.export_params());
  const int count = 7;  // two batches, the last one padded
  std::mt19937 rng(3);
  std::normal_distribution<float> g;
  std::vector<float> images(size_t(count) * 36);
  for (float& v : images) v = g(rng);
  std::vector<float> logits(size_t(count) * 4, NAN);
  int calls = 0;
  forward_images(batched, images.data(), count, -1, [&](int64_t first, int n) {
    ++calls;
    for (int i = 0; i < n * 4; ++i) logits[size_t(first) * 4 + size_t(i)] = batched.logits()[i];
  });
  EXPECT_EQ(calls, 2);
  for (int i = 0; i < count; ++i) {
    single.forward(images.data() + size_t(i) * 36, Mode::infer);
    for (int c = 0; c < 4; ++c) EXPECT_NEAR(logits[size_t(i) * 4 + size_t(c)], single.logits()[c], 1e-5f) << i;
  }
}

// A network is defined the moment it is built: before any init or import its weights are
// the zero master copies in every layout oneDNN chose (the batched fc's weights are a
// reordered copy on AVX-512), so every logit is exactly the zero bias.
TEST(ForwardImages, FreshNetworkComputesWithItsZeroMasterWeights) {
  const InputShape in{1, 6, 6};
  for (int batch : {1, 4, 64}) {
    Network net(tiny_net(), in, batch, 7);
    std::vector<float> images(size_t(batch) * 36, 1.f);
    net.forward(images.data(), Mode::infer);
    for (int i = 0; i < batch * 4; ++i) ASSERT_EQ(net.logits()[i], 0.f) << "batch " << batch << ", logit " << i;
  }
}

TEST(ForwardImages, SoftmaxRowsSumToOneAndPickTheLargest) {
  const std::vector<float> z = {1.f, 3.f, 2.f, -100.f, 0.f, 0.f};
  std::vector<float> p(6);
  std::vector<int32_t> top(2);
  softmax_rows(z.data(), 2, 3, p.data(), top.data());
  const double e = std::exp(1.0) + std::exp(3.0) + std::exp(2.0);
  EXPECT_NEAR(p[1], std::exp(3.0) / e, 1e-6);
  EXPECT_NEAR(p[3] + p[4] + p[5], 1.0, 1e-6);
  EXPECT_EQ(top[0], 1);
  EXPECT_EQ(top[1], 1) << "ties go to the first";
}

}  // namespace
}  // namespace ds
