// The Zeiler & Fergus deconvnet (Network::project) against the naive reference on small
// random networks, one activation at a time, each image of a batch with its own
// switches; and a tiny case worked by hand where two overlapping pooling windows share
// a switch, so the switch must receive the sum of both signals.
#include <gtest/gtest.h>

#include <random>

#include "deconvscope/core/error.hpp"
#include "deconvscope/model/network.hpp"
#include "model/naive.hpp"
#include "model/test_util.hpp"

namespace ds {
namespace {

using namespace testutil;

// Image b of a batch tensor, as a batch of one.
Tensor image(const Tensor& batch, int64_t b) {
  std::vector<int64_t> dims = batch.dims;
  dims[0] = 1;
  Tensor t(dims);
  const size_t per = t.size();
  std::copy(batch.data.begin() + long(b * per), batch.data.begin() + long((b + 1) * per), t.data.begin());
  return t;
}

struct Net {
  std::vector<LayerSpec> specs;
  InputShape in;
  int batch;
};

// conv stride 1 and 2 with padding, max pool with padding and with overlapping windows,
// LRN, three conv layers; 16 and 12 channels so that oneDNN keeps blocked layouts inside,
// some of them padded.
Net zfnet_like() {
  return {{conv("conv1", 16, 3, 3, 1, 1), relu("relu1"), maxpool("pool1", 3, 2, 1), lrn("norm1", 5, 1.f, 0.75f, 2.f),
           conv("conv2", 12, 3, 3, 2, 1), relu("relu2"), maxpool("pool2", 3, 1, 0), conv("conv3", 8, 3, 3, 1, 1),
           relu("relu3"), fc("fc", 3)},
          {3, 13, 13},
          3};
}

// A stride-2 first layer with an even kernel and a pool that leaves a column unused.
Net strided() {
  return {{conv("conv1", 8, 4, 4, 2, 1), relu("relu1"), maxpool("pool1", 2, 2, 0), conv("conv2", 4, 3, 3, 1, 0),
           relu("relu2"), fc("fc", 2)},
          {1, 16, 16},
          2};
}

// For every ReLU layer (and a pool, an LRN and a conv layer) as the top, for every image
// b: the signal is one activation of image b (its value at one (f, y, x), zeros
// elsewhere, zeros in the other images); the projection of image b must equal the naive
// deconvnet run with image b's own switches, and the other images' projections are 0.
void check_single_activations(const Net& n, unsigned seed) {
  std::mt19937 rng(seed);
  Network net(n.specs, n.in, n.batch);
  randomize_params(net, rng);
  const Tensor input = random_input(net, rng);  // a different image in every slot
  const std::vector<LayerParams> params = net.export_params();
  std::vector<naive::Trace> traces;
  for (int b = 0; b < n.batch; ++b) traces.push_back(naive::forward(n.specs, params, image(input, b)));

  for (size_t top = 0; top + 1 < n.specs.size(); ++top) {
    if (n.specs[top].type == LayerType::fc) break;
    net.forward(input.ptr(), Mode::deconv, int(top));
    Tensor act;
    net.read_output(int(top), act);  // (N, C, H, W)
    const int64_t C = act.dims[1], HW = act.dims[2] * act.dims[3], per = C * HW;
    for (int b = 0; b < n.batch; ++b) {
      for (int trial = 0; trial < 2; ++trial) {
        // Trial 0: the strongest activation of a random feature; trial 1: a random position.
        std::uniform_int_distribution<int64_t> uf(0, C - 1), up(0, HW - 1);
        const int64_t f = uf(rng);
        int64_t pos = up(rng);
        if (trial == 0)
          for (int64_t p = 0; p < HW; ++p)
            if (act.data[size_t(b * per + f * HW + p)] > act.data[size_t(b * per + f * HW + pos)]) pos = p;
        const size_t at = size_t(b * per + f * HW + pos);
        Tensor signal(act.dims);
        signal.data[at] = act.data[at] != 0.f ? act.data[at] : 1.f;

        Tensor got(input.dims);  // the reconstruction has the input's shape
        net.project(int(top), signal.ptr(), got.ptr());

        const Tensor want = naive::deconvnet(n.specs, params, traces[size_t(b)], image(input, b), int(top),
                                             image(signal, b));
        SCOPED_TRACE("top " + n.specs[top].name + ", image " + std::to_string(b) + ", feature " +
                     std::to_string(f) + ", position " + std::to_string(pos));
        EXPECT_TRUE(tensors_close(image(got, b), want, 1e-4f, 1e-4f * std::max(1e-3f, max_abs(want))));
        for (int o = 0; o < n.batch; ++o) {
          if (o == b) continue;
          EXPECT_EQ(max_abs(image(got, o)), 0.f) << "image " << o << " got signal of image " << b;
        }
      }
    }
  }
}

TEST(DeconvnetVsNaive, ZfnetLikeSingleActivations) { check_single_activations(zfnet_like(), 71); }

TEST(DeconvnetVsNaive, StridedSingleActivations) { check_single_activations(strided(), 72); }

// All images at once, each with its own activation and a dense random (signed) signal at a
// middle ReLU: rectification of negative values, and every image unpooled with its own
// switches. Using another image's switches would give another answer.
TEST(DeconvnetVsNaive, WholeBatchDenseSignedSignal) {
  const Net n = zfnet_like();
  std::mt19937 rng(73);
  Network net(n.specs, n.in, n.batch);
  randomize_params(net, rng);
  const Tensor input = random_input(net, rng);
  const std::vector<LayerParams> params = net.export_params();
  const int top = net.find("relu2");
  ASSERT_GE(top, 0);
  net.forward(input.ptr(), Mode::deconv);  // a full forward also keeps the switches
  Tensor act;
  net.read_output(top, act);
  const Tensor signal = random_tensor(act.dims, rng);
  Tensor got(input.dims);
  net.project(top, signal.ptr(), got.ptr());
  for (int b = 0; b < n.batch; ++b) {
    const naive::Trace own = naive::forward(n.specs, params, image(input, b));
    const Tensor want = naive::deconvnet(n.specs, params, own, image(input, b), top, image(signal, b));
    EXPECT_TRUE(tensors_close(image(got, b), want, 1e-4f, 1e-4f * std::max(1e-3f, max_abs(want)))) << "image " << b;
    const naive::Trace other = naive::forward(n.specs, params, image(input, (b + 1) % n.batch));
    const Tensor wrong = naive::deconvnet(n.specs, params, other, image(input, b), top, image(signal, b));
    EXPECT_FALSE(tensors_close(want, wrong, 1e-3f, 1e-3f * max_abs(want))) << "the test cannot tell switches apart";
  }
}

// Train-mode forward keeps switches too (the deconvnet may follow a training step).
TEST(DeconvnetVsNaive, AfterTrainForward) {
  const Net n = strided();
  std::mt19937 rng(74);
  Network net(n.specs, n.in, n.batch);
  randomize_params(net, rng);
  const Tensor input = random_input(net, rng);
  const std::vector<LayerParams> params = net.export_params();
  net.forward(input.ptr(), Mode::train);
  const int top = net.find("relu2");
  Tensor act;
  net.read_output(top, act);
  const Tensor signal = random_tensor(act.dims, rng, 0.f, 1.f);
  Tensor got(input.dims);
  net.project(top, signal.ptr(), got.ptr());
  for (int b = 0; b < n.batch; ++b) {
    const Tensor want = naive::deconvnet(n.specs, params, naive::forward(n.specs, params, image(input, b)),
                                         image(input, b), top, image(signal, b));
    EXPECT_TRUE(tensors_close(image(got, b), want, 1e-4f, 1e-4f * std::max(1e-3f, max_abs(want)))) << "image " << b;
  }
}

// --- worked by hand ----------------------------------------------------------------------
//
// Input X (1x4x4) and one 2x2 filter W, no bias: Y[y][x] = X[y][x] - X[y+1][x+1].
//   X = 1.84 0.77 0.36 0.05      W =  1  0      Y = relu(Y) = 0.1 0.2 0.3
//       1.93 1.74 0.57 0.06           0 -1                    0.4 0.9 0.5
//       0.62 1.53 0.84 0.07                                   0.6 1.5 0.8
//       0.01 0.02 0.03 0.04
// Max pool 2x2 stride 1 (overlapping windows): the windows at (0,0) and (0,1) both take
// 0.9 at Y(1,1); the windows at (1,0) and (1,1) both take 1.5 at Y(2,1). Pooled:
//   0.9 0.9
//   1.5 1.5
class HandWorked : public ::testing::Test {
 protected:
  HandWorked() : net_({conv("conv", 1, 2, 2, 1, 0), relu("relu"), maxpool("pool", 2, 1, 0), fc("fc", 2)}, {1, 4, 4}, 1) {
    LayerParams& c = net_.layer(0).params();
    c.weights.data = {1.f, 0.f, 0.f, -1.f};
    c.bias.data = {0.f};
    LayerParams& f = net_.layer(3).params();
    f.weights.data = {0.1f, -0.2f, 0.3f, 0.4f, -0.5f, 0.6f, 0.7f, -0.8f};
    f.bias.data = {0.f, 0.f};
    net_.sync_params();
    input_.data = {1.84f, 0.77f, 0.36f, 0.05f, 1.93f, 1.74f, 0.57f, 0.06f,
                   0.62f, 1.53f, 0.84f, 0.07f, 0.01f, 0.02f, 0.03f, 0.04f};
    net_.forward(input_.ptr(), Mode::deconv);
  }

  Tensor project(int top, std::vector<float> signal) {
    Tensor out({1, 1, 4, 4});
    net_.project(top, signal.data(), out.ptr());
    return out;
  }

  Network net_;
  Tensor input_{{1, 1, 4, 4}};
};

TEST_F(HandWorked, ForwardIsAsWorkedOut) {
  Tensor y, p;
  net_.read_output(0, y);  // the ReLU works in place: what conv shows is relu(Y) = Y here
  net_.read_output(2, p);
  Tensor want_y({1, 1, 3, 3}), want_p({1, 1, 2, 2});
  want_y.data = {0.1f, 0.2f, 0.3f, 0.4f, 0.9f, 0.5f, 0.6f, 1.5f, 0.8f};
  want_p.data = {0.9f, 0.9f, 1.5f, 1.5f};
  EXPECT_TRUE(tensors_close(y, want_y, 1e-5f, 1e-5f));
  EXPECT_TRUE(tensors_close(p, want_p, 1e-5f, 1e-5f));
}

TEST_F(HandWorked, SharedSwitchReceivesTheSum) {
  // Signal at the pool output: 1 and 2 go to Y(1,1), which gets 3; 0.5 and 0.25 go to
  // Y(2,1), which gets 0.75. Rectify keeps both. The transposed filter puts u * W at
  // (y + i, x + j): 3 at (1,1), -3 at (2,2), 0.75 at (2,1), -0.75 at (3,2).
  const Tensor got = project(2, {1.f, 2.f, 0.5f, 0.25f});
  Tensor want({1, 1, 4, 4});
  want.data = {0, 0, 0, 0,  //
               0, 3, 0, 0,  //
               0, 0.75f, -3, 0,  //
               0, 0, -0.75f, 0};
  EXPECT_TRUE(tensors_close(got, want, 1e-6f, 1e-6f));

  // The reconstruction is exactly the input's size: nothing is written past 1x1x4x4.
  std::vector<float> buf(16 + 8, 42.f), sig{1.f, 2.f, 0.5f, 0.25f};
  net_.project(2, sig.data(), buf.data());
  for (size_t i = 0; i < 16; ++i) EXPECT_NEAR(buf[i], want.data[i], 1e-6f) << "at " << i;
  for (size_t i = 16; i < buf.size(); ++i) EXPECT_EQ(buf[i], 42.f) << "written past the input at " << i;
}

TEST_F(HandWorked, RectifyActsOnTheUnpooledSum) {
  // 0.5 and -0.75 meet at Y(2,1): their sum -0.25 is rectified to 0 (rectifying each
  // value before adding would leave 0.5).
  const Tensor got = project(2, {1.f, 2.f, 0.5f, -0.75f});
  Tensor want({1, 1, 4, 4});
  want.data = {0, 0, 0, 0,  //
               0, 3, 0, 0,  //
               0, 0, -3, 0,  //
               0, 0, 0, 0};
  EXPECT_TRUE(tensors_close(got, want, 1e-6f, 1e-6f));
}

TEST_F(HandWorked, SignedPixelsFromTheTransposedFilter) {
  // One activation at relu(0, 0): W lands on (0,0)..(1,1), its -1 gives a negative pixel.
  std::vector<float> s(9, 0.f);
  s[0] = 1.f;
  Tensor got = project(1, s);
  Tensor want({1, 1, 4, 4});
  want.data[0] = 1.f;
  want.data[5] = -1.f;
  EXPECT_TRUE(tensors_close(got, want, 1e-6f, 1e-6f));
  float lowest = 0;
  for (float v : got.data) lowest = std::min(lowest, v);
  EXPECT_LT(lowest, 0.f);
  // A negative activation is rectified away at the ReLU.
  s[0] = -1.f;
  got = project(1, s);
  EXPECT_EQ(max_abs(got), 0.f);
}

TEST(Deconvnet, RefusesToWalkThroughFc) {
  std::mt19937 rng(75);
  Network net({conv("conv1", 4, 3, 3, 1, 1), fc("fc1", 6), relu("relu1"), fc("fc2", 2)}, {1, 5, 5}, 1);
  randomize_params(net, rng);
  const Tensor input = random_input(net, rng);
  net.forward(input.ptr(), Mode::deconv);
  std::vector<float> signal(6, 1.f), out(25);
  try {
    net.project(2, signal.data(), out.data());
    FAIL() << "expected ds::Error";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::usage);
    EXPECT_NE(e.where().find("fc1"), std::string::npos) << e.where();
  }
  EXPECT_THROW(net.project(1, signal.data(), out.data()), Error);   // the fc itself
  EXPECT_THROW(net.project(4, signal.data(), out.data()), Error);   // no such layer
  EXPECT_THROW(net.project(-1, signal.data(), out.data()), Error);
}

}  // namespace
}  // namespace ds
