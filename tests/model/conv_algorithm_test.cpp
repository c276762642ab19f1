// The convolution algorithm of each conv layer (model.conv_algorithm): the fallback to
// direct where oneDNN has no Winograd kernel, and Winograd's numbers against the naive
// reference (forward, backward, finite differences) and, for the deconvnet, against the
// direct algorithm.
//
// Winograd F(4x4, 3x3) computes output tiles from transformed input and filter tiles; the
// transforms add and subtract terms several times larger than the result, so its float32
// rounding error is about ten times direct's: 1e-3 relative here (direct: 1e-4).
// oneDNN 2.6 has Winograd kernels only on avx512_core and up. On other CPUs the Winograd
// layers fall back to direct; the fallback is tested everywhere and the Winograd-only
// tests skip, saying why.
#include <gtest/gtest.h>

#include <iostream>
#include <random>

#include "deconvscope/core/error.hpp"
#include "deconvscope/model/network.hpp"
#include "model/gradcheck.hpp"
#include "model/naive.hpp"
#include "model/test_util.hpp"

namespace ds {
namespace {

using namespace testutil;

constexpr float kDirectRtol = 1e-4f;
constexpr float kWinogradRtol = 1e-3f;  // see the top of the file

NetworkOptions with(ConvAlgorithm a) {
  NetworkOptions o;
  o.conv_algorithm = a;
  return o;
}

// 3x3 stride-1 layers with channels in multiples of 16: what oneDNN's Winograd kernel takes.
std::vector<LayerSpec> winograd_specs() {
  return {conv("conv1", 16, 3, 3, 1, 1), relu("relu1"), conv("conv2", 32, 3, 3, 1, 1), relu("relu2"), fc("fc", 5)};
}
const InputShape kWinogradInput{16, 8, 8};
constexpr int kBatch = 4;

bool uses_winograd(const Network& net) {
  for (size_t i = 0; i < net.size(); ++i)
    if (net.layer(i).algorithm().find("winograd") != std::string::npos) return true;
  return false;
}

std::string no_winograd_here() {
  return "oneDNN has no Winograd kernel for these layers on this CPU (" + cpu_isa_name() +
         "; oneDNN 2.6 has them on avx512_core); the direct fallback is tested instead";
}

// Forward outputs and backward parameter gradients of net against the naive reference.
void expect_matches_naive(Network& net, float rtol, unsigned seed) {
  std::mt19937 rng(seed);
  randomize_params(net, rng);
  const Tensor input = random_input(net, rng);
  const std::vector<LayerParams> params = net.export_params();
  const naive::Trace trace = naive::forward(net.specs(), params, input);
  std::vector<int32_t> labels(size_t(net.batch()));
  for (auto& l : labels) l = int32_t(rng() % uint32_t(net.num_classes()));
  Tensor diff_logits;
  naive::softmax_cross_entropy(trace.outputs.back(), labels, &diff_logits);
  const naive::Gradients want = naive::backward(net.specs(), params, trace, input, diff_logits);

  net.set_step(1);
  net.forward(input.ptr(), Mode::train);
  for (size_t i = 0; i < net.size(); ++i) {
    if (net.specs()[i].type != LayerType::conv) continue;
    Tensor got;
    net.read_output(int(i), got);
    Tensor ref = trace.outputs[i];
    if (i + 1 < net.size() && net.specs()[i + 1].type == LayerType::relu) ref = naive::relu_forward(ref);
    EXPECT_TRUE(tensors_close(got, ref, rtol, rtol * std::max(1.f, max_abs(ref)))) << net.specs()[i].name;
  }
  net.backward(diff_logits.ptr());
  for (size_t i = 0; i < net.size(); ++i) {
    if (!net.specs()[i].has_params()) continue;
    const LayerParams& got = net.layer(i).grads();
    const float ws = std::max(1e-3f, max_abs(want.params[i].weights)), bs = std::max(1e-3f, max_abs(want.params[i].bias));
    EXPECT_TRUE(tensors_close(got.weights, want.params[i].weights, 10 * rtol, rtol * ws)) << net.specs()[i].name;
    EXPECT_TRUE(tensors_close(got.bias, want.params[i].bias, 10 * rtol, rtol * bs)) << net.specs()[i].name;
  }
}

TEST(ConvAlgorithm, LibraryDefaultIsDirect) {
  Network net(winograd_specs(), kWinogradInput, kBatch);
  EXPECT_EQ(net.layer(0).algorithm(), "direct");
  EXPECT_EQ(net.layer(2).algorithm(), "direct");
  EXPECT_EQ(net.layer(1).algorithm(), "-");  // relu: no algorithm to choose
  EXPECT_NE(net.layer(0).impl(), "-");        // oneDNN's implementation name, for bench --profile
}

TEST(ConvAlgorithm, WinogradFallsBackToDirectWhereItHasNoKernel) {
  // 5x5 stride 2: no Winograd kernel on any CPU. Asking for it still builds and computes.
  Network net({conv("conv1", 16, 5, 5, 2, 2), relu("relu1"), fc("fc", 3)}, {16, 9, 9}, 2, 0,
              with(ConvAlgorithm::winograd));
  EXPECT_EQ(net.layer(0).algorithm(), "direct");
  expect_matches_naive(net, kDirectRtol, 1);
}

// model.conv_algorithms: a run's recorded choice is taken as it is, pass by pass, with no
// timing; it reads back from the text it is written as; and bad entries name the key.
TEST(ConvAlgorithm, ResolvedChoicesAreTakenAsRecorded) {
  NetworkOptions o = with(ConvAlgorithm::automatic);
  o.resolved_convs = parse_resolved_convs("conv1=direct,conv2=direct", "test");
  Network net(winograd_specs(), kWinogradInput, kBatch, 0, o);
  EXPECT_EQ(format_resolved_convs(net.resolved_convs()), "conv1=direct,conv2=direct");
  // What auto chose, fed back, builds the same network, whatever the timing says now.
  Network timed(winograd_specs(), kWinogradInput, kBatch, 0, with(ConvAlgorithm::automatic));
  NetworkOptions again = with(ConvAlgorithm::automatic);
  again.resolved_convs = timed.resolved_convs();
  Network rebuilt(winograd_specs(), kWinogradInput, kBatch, 0, again);
  EXPECT_EQ(format_resolved_convs(rebuilt.resolved_convs()), format_resolved_convs(timed.resolved_convs()));
}

TEST(ConvAlgorithm, ResolvedTextRoundTripsAndRefusesBadEntries) {
  const std::string text = "conv1=direct,conv3=winograd/winograd/direct";
  EXPECT_EQ(format_resolved_convs(parse_resolved_convs(text, "k")), text);
  EXPECT_EQ(format_resolved_convs(parse_resolved_convs(" conv1=winograd/winograd/winograd ", "k")), "conv1=winograd");
  EXPECT_TRUE(parse_resolved_convs("", "k").empty());
  for (const char* bad : {"conv1", "conv1=fast", "=direct", "conv1=direct/direct", "conv1=direct,conv1=winograd",
                          "conv1=auto"}) {
    try {
      parse_resolved_convs(bad, "model.conv_algorithms");
      ADD_FAILURE() << "accepted " << bad;
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::config) << bad;
      EXPECT_NE(std::string(e.what()).find("model.conv_algorithms"), std::string::npos) << e.what();
    }
  }
}

TEST(ConvAlgorithm, ResolvedChoicesThatCannotBeBuiltAreConfigErrors) {
  auto refused = [](const std::string& text, const std::string& says) {
    NetworkOptions o;
    o.resolved_convs = parse_resolved_convs(text, "model.conv_algorithms");
    try {
      Network net({conv("conv1", 16, 5, 5, 2, 2), relu("relu1"), fc("fc", 3)}, {16, 9, 9}, 2, 0, o);
      ADD_FAILURE() << "built with " << text;
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::config) << e.what();
      const std::string m = e.what();
      EXPECT_NE(m.find("model.conv_algorithms"), std::string::npos) << m;
      EXPECT_NE(m.find(says), std::string::npos) << m;
    }
  };
  refused("relu1=direct", "a relu layer");
  refused("conv9=direct", "no such layer");
  // 5x5 stride 2 has no Winograd kernel on any CPU: a recorded winograd cannot silently
  // become direct (the run would no longer compute as it did).
  refused("conv1=winograd", "no Winograd kernel");
}

// One input channel: the forward reads the plain input, and on AVX2 backward weights then
// takes a blocked copy of it (oneDNN has only a reference kernel for the plain one).
TEST(ConvAlgorithm, OneInputChannelBackwardMatchesNaive) {
  Network net({conv("conv1", 16, 5, 5, 1, 2), relu("relu1"), fc("fc", 3)}, {1, 12, 12}, 4);
  expect_matches_naive(net, kDirectRtol, 6);
}

TEST(ConvAlgorithm, WinogradMatchesNaive) {
  Network net(winograd_specs(), kWinogradInput, kBatch, 0, with(ConvAlgorithm::winograd));
  if (!uses_winograd(net)) GTEST_SKIP() << no_winograd_here();
  EXPECT_EQ(net.layer(0).algorithm(), "winograd");
  expect_matches_naive(net, kWinogradRtol, 2);
}

TEST(ConvAlgorithm, AutoMatchesNaiveWhicheverItPicked) {
  Network net(winograd_specs(), kWinogradInput, kBatch, 0, with(ConvAlgorithm::automatic));
  std::cout << "[ auto     ] conv1 " << net.layer(0).algorithm() << ", conv2 " << net.layer(2).algorithm() << "\n";
  expect_matches_naive(net, kWinogradRtol, 3);
}

// auto times Winograd only where both channel counts reach 32: narrower layers, where its
// transforms cost more than they save, stay direct on every CPU, whatever timing would say.
TEST(ConvAlgorithm, AutoLeavesNarrowLayersDirect) {
  Network net({conv("conv1", 16, 3, 3, 1, 1), relu("relu1"), conv("conv2", 64, 3, 3, 1, 1), fc("fc", 3)},
              {64, 8, 8}, kBatch, 0, with(ConvAlgorithm::automatic));
  EXPECT_EQ(net.layer(0).algorithm(), "direct") << "64 in, 16 out: too narrow to time";
  EXPECT_EQ(net.layer(2).algorithm(), "direct") << "16 in, 64 out: too narrow to time";
  // The rule itself, which the layers above could also meet by timing.
  EXPECT_FALSE(auto_times_winograd(16, 64));
  EXPECT_FALSE(auto_times_winograd(64, 31));
  EXPECT_TRUE(auto_times_winograd(32, 32));
  EXPECT_TRUE(auto_times_winograd(96, 64));
}

TEST(ConvAlgorithm, WinogradGradientsMatchFiniteDifferences) {
  const std::vector<LayerSpec> specs{dropout("pass", 0.f), conv("conv1", 16, 3, 3, 1, 1), relu("relu1"),
                                     conv("conv2", 16, 3, 3, 1, 1), fc("fc", 3)};
  Network net(specs, {16, 6, 6}, 2, /*seed =*/4, with(ConvAlgorithm::winograd));
  if (!uses_winograd(net)) GTEST_SKIP() << no_winograd_here();
  std::mt19937 rng(4);
  randomize_params(net, rng);
  const Tensor input = random_input(net, rng);
  gradcheck::Options o;
  o.check_input = true;  // through Winograd's backward data
  o.seed = 4;
  const gradcheck::Result r = gradcheck::check(net, input, {0, 2}, o);
  EXPECT_TRUE(r.ok()) << r.summary();
}

// The deconvnet's filter step is the backward-data pass: Winograd's projections stay
// within 1e-3 relative (of the largest value) of direct's.
TEST(ConvAlgorithm, WinogradDeconvnetWithin1e3OfDirect) {
  Network direct(winograd_specs(), kWinogradInput, kBatch, 0, with(ConvAlgorithm::direct));
  Network wino(winograd_specs(), kWinogradInput, kBatch, 0, with(ConvAlgorithm::winograd));
  if (!uses_winograd(wino)) GTEST_SKIP() << no_winograd_here();
  std::mt19937 rng(5);
  randomize_params(direct, rng);
  wino.import_params(direct.export_params());
  const Tensor input = random_input(direct, rng);
  const int top = 3;  // relu2: the rectified output of conv2
  direct.forward(input.ptr(), Mode::deconv, top);
  wino.forward(input.ptr(), Mode::deconv, top);
  Tensor signal;
  direct.read_output(top, signal);
  Tensor a({kBatch, kWinogradInput.channels, kWinogradInput.height, kWinogradInput.width}), b(a.dims);
  direct.project(top, signal.ptr(), a.ptr());
  wino.project(top, signal.ptr(), b.ptr());
  EXPECT_TRUE(tensors_close(b, a, 0.f, 1e-3f * max_abs(a)));
}

}  // namespace
}  // namespace ds
