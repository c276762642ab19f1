// Forward pass of every layer type against the naive loop reference (tests/model/naive),
// inside tiny networks (the network wants an fc last, so each layer is wrapped, e.g.
// [conv, fc]); dropout by its properties; the export/import round trip of parameters.
// Leaves out: gradients (gradcheck_test.cpp), the deconvnet (deconvnet_test.cpp), HDF5
// (the io stage).
#include <gtest/gtest.h>

#include <cmath>
#include <memory>
#include <random>

#include "deconvscope/core/error.hpp"
#include "deconvscope/model/network.hpp"
#include "model/naive.hpp"
#include "model/test_util.hpp"

namespace ds {
namespace {

using namespace testutil;

constexpr float kRtol = 1e-4f;

// Runs `net` on `input` in `mode` and compares every layer's output with the naive
// forward. A ReLU works in place on the output of the layer below it, so what
// read_output() shows for a layer followed by a ReLU is the rectified output.
void expect_forward_matches(Network& net, const Tensor& input, Mode mode) {
  const naive::Trace ref = naive::forward(net.specs(), net.export_params(), input);
  net.forward(input.ptr(), mode);
  for (size_t i = 0; i < net.size(); ++i) {
    Tensor got;
    net.read_output(int(i), got);
    Tensor want = ref.outputs[i];
    if (i + 1 < net.size() && net.specs()[i + 1].type == LayerType::relu) want = naive::relu_forward(want);
    EXPECT_TRUE(tensors_close(got, want, kRtol, kRtol * std::max(1.f, max_abs(want))))
        << "layer " << i << " (" << net.specs()[i].name << ")";
  }
  // logits() is the plain (N, classes) view of the last output.
  const Tensor& last = ref.outputs.back();
  Tensor logits(last.dims);
  std::copy(net.logits(), net.logits() + logits.size(), logits.data.begin());
  EXPECT_TRUE(tensors_close(logits, last, kRtol, kRtol * std::max(1.f, max_abs(last)))) << "logits";
}

// Builds, randomizes and checks a network in every mode that must compute evaluation
// values: all of them, unless a dropout layer makes training differ.
void check_network(const std::vector<LayerSpec>& specs, InputShape in, int batch, unsigned seed) {
  std::mt19937 rng(seed);
  Network net(specs, in, batch);
  randomize_params(net, rng);
  const Tensor input = random_input(net, rng);
  bool drops = false;
  for (const LayerSpec& s : specs) drops |= s.type == LayerType::dropout && s.rate > 0.f;
  for (Mode mode : {Mode::infer, Mode::deconv, Mode::train}) {
    if (mode == Mode::train && drops) continue;
    SCOPED_TRACE(mode == Mode::infer ? "infer" : mode == Mode::deconv ? "deconv" : "train");
    expect_forward_matches(net, input, mode);
  }
}

TEST(Conv, Stride2Pad1) {
  check_network({conv("conv1", 4, 3, 3, 2, 1), fc("fc", 3)}, {3, 9, 9}, 2, 1);
}

TEST(Conv, Stride2LeavesLastColumnUnused) {
  // 8 + 0 - 3 = 5, 5 / 2 = 2 rest 1: the last row and column are never read.
  check_network({conv("conv1", 5, 3, 3, 2, 0), fc("fc", 3)}, {2, 8, 8}, 2, 2);
}

TEST(Conv, NonSquareKernel3x5) {
  LayerSpec c = conv("conv1", 6, 3, 5, 1, 0);
  c.pad = {1, 2};
  check_network({c, fc("fc", 4)}, {2, 7, 8}, 2, 3);
}

TEST(Conv, ManyChannelsThenConv) {
  // 16 and 32 channels make oneDNN pick blocked layouts between the layers.
  check_network({conv("conv1", 16, 5, 5, 2, 2), conv("conv2", 32, 3, 3, 1, 1), fc("fc", 5)}, {3, 12, 12}, 3, 4);
}

TEST(Relu, AfterConvAndOnInput) {
  check_network({conv("conv1", 8, 3, 3, 1, 1), relu("relu1"), fc("fc", 3)}, {3, 6, 6}, 2, 5);
  check_network({relu("relu0"), fc("fc", 3)}, {2, 5, 5}, 2, 6);
}

TEST(MaxPool, Kernel3Stride2Pad1) {
  check_network({maxpool("pool", 3, 2, 1), fc("fc", 3)}, {3, 9, 9}, 2, 7);
  check_network({maxpool("pool", 3, 2, 1), fc("fc", 3)}, {3, 8, 8}, 2, 8);
}

TEST(MaxPool, Kernel2Stride2Pad0) {
  check_network({maxpool("pool", 2, 2, 0), fc("fc", 3)}, {3, 8, 8}, 2, 9);
}

TEST(MaxPool, Kernel3Stride2Pad0Overlapping) {
  check_network({maxpool("pool", 3, 2, 0), fc("fc", 3)}, {2, 9, 9}, 2, 10);
  check_network({maxpool("pool", 3, 2, 0), fc("fc", 3)}, {2, 10, 10}, 2, 11);
}

TEST(MaxPool, AfterConvBlockedLayout) {
  check_network({conv("conv1", 16, 3, 3, 1, 1), relu("relu1"), maxpool("pool", 3, 2, 1), fc("fc", 4)},
                {3, 9, 9}, 2, 12);
}

TEST(Lrn, Size5StrongAlpha) {
  // alpha large enough that the denominator really depends on the neighbours.
  check_network({lrn("norm", 5, 2.f, 0.75f, 2.f), fc("fc", 3)}, {7, 4, 4}, 2, 13);
}

TEST(Lrn, Size5ZfnetConstants) {
  check_network({lrn("norm", 5, 1e-4f, 0.75f, 2.f), fc("fc", 3)}, {6, 3, 3}, 2, 14);
}

TEST(Lrn, Size3) {
  check_network({lrn("norm", 3, 1.5f, 0.5f, 1.f), fc("fc", 3)}, {5, 4, 4}, 2, 15);
}

TEST(Lrn, AfterConvBlockedLayout) {
  check_network({conv("conv1", 16, 3, 3, 1, 1), relu("relu1"), lrn("norm", 5, 3.f, 0.75f, 2.f), fc("fc", 4)},
                {3, 6, 6}, 2, 16);
}

// oneDNN's window for an even size is symmetric and one channel short,
// [c - (size-1)/2, c + (size-1)/2], while alpha is still divided by `size`: size 4 acts as
// size 3 with alpha * 3/4. Pinned here so that a change of either side is noticed.
TEST(Lrn, EvenSizeIsOneChannelShortInOneDnn) {
  std::mt19937 rng(26);
  const float alpha = 2.f, beta = 0.75f, k = 1.f;
  Network net({lrn("norm", 4, alpha, beta, k), fc("fc", 3)}, {8, 3, 3}, 2);
  randomize_params(net, rng);
  const Tensor input = random_input(net, rng);
  net.forward(input.ptr(), Mode::infer);
  Tensor got;
  net.read_output(0, got);
  EXPECT_TRUE(tensors_close(got, naive::lrn_forward(input, 3, alpha * 3.f / 4.f, beta, k), kRtol, kRtol));
  EXPECT_FALSE(tensors_close(got, naive::lrn_forward(input, 4, alpha, beta, k), 1e-3f, 1e-3f));
}

TEST(Fc, AfterFourDimensionalInput) {
  check_network({fc("fc", 6)}, {3, 4, 5}, 2, 17);
}

TEST(Fc, AfterTwoDimensionalInput) {
  check_network({fc("fc1", 8), relu("relu1"), fc("fc2", 4)}, {3, 4, 5}, 3, 18);
}

TEST(Fc, AfterConvBlockedLayout) {
  check_network({conv("conv1", 16, 3, 3, 1, 1), fc("fc", 5)}, {3, 5, 5}, 2, 19);
}

TEST(Dropout, IdentityOutsideTraining) {
  std::mt19937 rng(20);
  Network net({dropout("drop", 0.5f), fc("fc", 3)}, {3, 4, 4}, 2, /*seed =*/7);
  randomize_params(net, rng);
  const Tensor input = random_input(net, rng);
  for (Mode mode : {Mode::infer, Mode::deconv}) {
    net.forward(input.ptr(), mode);
    Tensor out;
    net.read_output(0, out);
    EXPECT_EQ(out.data, input.data);
  }
  // ... and so is the whole network in evaluation.
  expect_forward_matches(net, input, Mode::infer);
}

TEST(Dropout, TrainingDropsRateAndScalesTheRest) {
  std::mt19937 rng(21);
  const float rate = 0.3f;
  Network net({dropout("drop", rate), fc("fc", 3)}, {8, 16, 16}, 4, /*seed =*/11);
  randomize_params(net, rng);
  const Tensor input = random_tensor({4, 8, 16, 16}, rng, 0.5f, 1.5f);  // no zero in the input
  net.set_step(5);
  net.forward(input.ptr(), Mode::train);
  Tensor out;
  net.read_output(0, out);
  ASSERT_EQ(out.dims, input.dims);
  size_t zeros = 0;
  for (size_t i = 0; i < out.size(); ++i) {
    if (out.data[i] == 0.f) {
      ++zeros;
      continue;
    }
    ASSERT_NEAR(out.data[i], input.data[i] / (1.f - rate), 1e-6f) << "at " << i;
  }
  // 8192 Bernoulli(0.3) draws: the standard deviation of the fraction is 0.005.
  const double frac = double(zeros) / double(out.size());
  EXPECT_NEAR(frac, rate, 0.025);

  // The mask is a pure function of (seed, step): same step, same mask; another step, another.
  net.set_step(5);
  net.forward(input.ptr(), Mode::train);
  Tensor again;
  net.read_output(0, again);
  EXPECT_EQ(again.data, out.data);
  net.set_step(6);
  net.forward(input.ptr(), Mode::train);
  Tensor other;
  net.read_output(0, other);
  EXPECT_NE(other.data, out.data);

  // Images of a batch get different masks.
  const size_t per = out.size() / 4;
  std::vector<bool> m0(per), m1(per);
  for (size_t i = 0; i < per; ++i) {
    m0[i] = out.data[i] == 0.f;
    m1[i] = out.data[per + i] == 0.f;
  }
  EXPECT_NE(m0, m1);
}

TEST(Dropout, TinyRateKeepsEverything) {
  // 1 - 1e-9 is 1 in float: the keep threshold must saturate, not overflow to "drop all".
  std::mt19937 rng(25);
  Network net({dropout("drop", 1e-9f), fc("fc", 3)}, {2, 8, 8}, 2);
  randomize_params(net, rng);
  const Tensor input = random_tensor({2, 2, 8, 8}, rng, 0.5f, 1.5f);
  net.forward(input.ptr(), Mode::train);
  Tensor out;
  net.read_output(0, out);
  for (size_t i = 0; i < out.size(); ++i) ASSERT_NEAR(out.data[i], input.data[i], 1e-6f) << "at " << i;
}

TEST(Dropout, RateZeroIsIdentityInTraining) {
  std::mt19937 rng(22);
  Network net({dropout("drop", 0.f), fc("fc", 3)}, {2, 3, 3}, 2);
  randomize_params(net, rng);
  const Tensor input = random_input(net, rng);
  net.forward(input.ptr(), Mode::train);
  Tensor out;
  net.read_output(0, out);
  EXPECT_EQ(out.data, input.data);
}

// A ZFNet-like stack with every layer type, compared end to end.
TEST(Network, AllLayerTypesEndToEnd) {
  // 12 channels: oneDNN's 8- or 16-channel blocks are padded.
  check_network({conv("conv1", 12, 3, 3, 2, 1), relu("relu1"), maxpool("pool1", 3, 2, 1),
                 lrn("norm1", 5, 1.f, 0.75f, 2.f), conv("conv2", 20, 3, 3, 1, 1), relu("relu2"),
                 maxpool("pool2", 2, 2, 0), fc("fc6", 10), relu("relu6"), dropout("drop6", 0.5f), fc("fc7", 5)},
                {3, 15, 15}, 2, 23);
}

TEST(Network, ExportImportRoundTripGivesIdenticalLogits) {
  const std::vector<LayerSpec> specs{conv("conv1", 8, 3, 3, 2, 1), relu("relu1"), maxpool("pool1", 3, 2, 1),
                                     lrn("norm1", 5, 1e-4f, 0.75f, 2.f), fc("fc6", 6), dropout("drop6", 0.5f),
                                     fc("fc7", 4)};
  std::mt19937 rng(24);
  Network a(specs, {3, 11, 11}, 2);
  randomize_params(a, rng);
  const Tensor input = random_input(a, rng);
  a.forward(input.ptr(), Mode::infer);
  const std::vector<float> logits_a(a.logits(), a.logits() + 2 * a.num_classes());

  Network b(specs, {3, 11, 11}, 2);
  randomize_params(b, rng);  // different weights first, so the import must overwrite them
  b.import_params(a.export_params());
  b.forward(input.ptr(), Mode::infer);
  const std::vector<float> logits_b(b.logits(), b.logits() + 2 * b.num_classes());
  EXPECT_EQ(logits_a, logits_b);

  const std::vector<LayerParams> pa = a.export_params(), pb = b.export_params();
  ASSERT_EQ(pa.size(), specs.size());
  for (size_t i = 0; i < pa.size(); ++i) {
    EXPECT_EQ(pa[i].weights.dims, pb[i].weights.dims);
    EXPECT_EQ(pa[i].weights.data, pb[i].weights.data);
    EXPECT_EQ(pa[i].bias.data, pb[i].bias.data);
    EXPECT_EQ(pa[i].weights.empty(), !specs[i].has_params()) << specs[i].name;
  }
}

TEST(Network, ImportRefusesWrongShapes) {
  const std::vector<LayerSpec> specs{conv("conv1", 4, 3, 3, 1, 1), fc("fc", 3)};
  Network net(specs, {2, 5, 5}, 1);
  std::vector<LayerParams> p = net.export_params();
  p[0].weights = Tensor({4, 2, 5, 5});
  try {
    net.import_params(p);
    FAIL() << "expected ds::Error";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::shape);
    EXPECT_NE(e.where().find("conv1"), std::string::npos) << e.where();
  }
  p.pop_back();
  EXPECT_THROW(net.import_params(p), Error);
}

TEST(Network, LastLayerMustBeFc) {
  try {
    Network net({conv("conv1", 4, 3, 3, 1, 1), relu("relu1")}, {2, 5, 5}, 1);
    FAIL() << "expected ds::Error";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::config);
    EXPECT_NE(e.where().find("relu1"), std::string::npos) << e.where();
  }
}

// A layer whose primitives oneDNN refuses to create is refused as a typed error naming the
// layer, its type, its shapes and oneDNN's status, not as a bare dnnl::error that main would
// report as "internal error" without any of them. oneDNN 2.6 accepts every shape our walk
// lets through (even an LRN window of 0 channels), so the layer is built directly, as
// Network would, on an int32 input no LRN kernel takes.
TEST(Network, OneDnnErrorsNameTheLayer) {
  Ctx ctx;
  ctx.eng = dnnl::engine(dnnl::engine::kind::cpu, 0);
  ctx.strm = dnnl::stream(ctx.eng);
  const std::unique_ptr<Layer> norm = make_lrn_layer(lrn("norm1", 5, 1e-4f, 0.75f, 2.f));
  const dnnl::memory::desc src({7, 4, 5, 5}, dnnl::memory::data_type::s32, dnnl::memory::format_tag::nchw);
  EXPECT_THROW(norm->init(ctx, src, {4, 5, 5}), dnnl::error);  // what escaped before
  try {
    norm->build(ctx, src, {4, 5, 5});
    FAIL() << "oneDNN built an LRN on int32";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::shape) << e.what();  // exit 2: the layer line is what to change
    EXPECT_EQ(e.where(), "layer norm1 (lrn, src (7, 4, 5, 5), dst (7, 4, 5, 5))");
    EXPECT_NE(e.problem().find("oneDNN failed to create its primitives: "), std::string::npos) << e.what();
    EXPECT_NE(e.problem().find("(status dnnl_unimplemented)"), std::string::npos) << e.what();
    EXPECT_NE(e.hint().find("change its line"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace ds
