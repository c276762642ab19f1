// Tests of the optimizer and what goes with it (src/train/sgd.cpp): three SGD steps
// against a hand computation and against a double-precision reference, the UpdateStats,
// the paper's filter renormalisation, the learning-rate schedules, the initialisation,
// and Progress::format_duration. Gradients are written by hand into grads(), so no
// forward or backward pass is involved.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "deconvscope/config/config.hpp"
#include "deconvscope/core/progress.hpp"
#include "deconvscope/model/network.hpp"
#include "deconvscope/train/sgd.hpp"
#include "model/test_util.hpp"

namespace ds {
namespace {

using testutil::conv;
using testutil::fc;
using testutil::relu;

// conv (2 filters, 1x2x2) -> relu -> fc (2 x 8) on a 1x3x3 input.
Network small_net(int batch = 1) {
  return Network({conv("c1", 2, 2, 2, 1, 0), relu("r1"), fc("f2", 2)}, InputShape{1, 3, 3}, batch);
}

void fill(Tensor& t, float v) { std::fill(t.data.begin(), t.data.end(), v); }

TEST(SgdStep, ThreeStepsMatchAHandComputation) {
  Network net = small_net();
  for (size_t i : {size_t(0), size_t(2)}) {
    fill(net.layer(i).params().weights, 1.f);
    fill(net.layer(i).params().bias, 1.f);
    fill(net.layer(i).grads().weights, 0.5f);
    fill(net.layer(i).grads().bias, 0.5f);
  }
  std::vector<LayerParams> momentum;
  // lr 0.1, momentum 0.9, weight decay 0.01; the gradient stays 0.5 every step.
  //   weights: v1 = 0.5 + 0.01*1 = 0.51,                     w1 = 1 - 0.051 = 0.949
  //            v2 = 0.9*0.51 + 0.5 + 0.01*0.949 = 0.96849,   w2 = 0.852151
  //            v3 = 0.9*0.96849 + 0.5 + 0.01*0.852151 = 1.38016251, w3 = 0.714134749
  //   bias (no decay): v = 0.5, 0.95, 1.355; b = 0.95, 0.855, 0.7195
  const double w_want[] = {0.949, 0.852151, 0.714134749}, b_want[] = {0.95, 0.855, 0.7195};
  const double v_want[] = {0.51, 0.96849, 1.38016251}, vb_want[] = {0.5, 0.95, 1.355};
  const double w_before[] = {1.0, 0.949, 0.852151};
  for (int s = 0; s < 3; ++s) {
    std::vector<UpdateStats> stats;
    sgd_step(net, momentum, /*lr=*/0.1f, /*momentum=*/0.9f, /*weight_decay=*/0.01f, &stats);
    ASSERT_EQ(momentum.size(), net.size());
    ASSERT_EQ(stats.size(), net.size());
    for (size_t i : {size_t(0), size_t(2)}) {
      SCOPED_TRACE("step " + std::to_string(s + 1) + ", layer " + net.specs()[i].name);
      const LayerParams& p = net.layer(i).params();
      for (float w : p.weights.data) EXPECT_NEAR(w, w_want[s], 1e-6);
      for (float b : p.bias.data) EXPECT_NEAR(b, b_want[s], 1e-6);
      for (float v : momentum[i].weights.data) EXPECT_NEAR(v, v_want[s], 1e-6);
      for (float v : momentum[i].bias.data) EXPECT_NEAR(v, vb_want[s], 1e-6);
      // Stats over weights only: the weights before the step, the gradient, lr * v.
      EXPECT_NEAR(stats[i].weight_rms, w_before[s], 1e-6);
      EXPECT_NEAR(stats[i].grad_rms, 0.5, 1e-7);
      EXPECT_NEAR(stats[i].update_rms, 0.1 * v_want[s], 1e-6);
    }
    // The relu has no parameters: no momentum, zero stats.
    EXPECT_TRUE(momentum[1].weights.empty());
    EXPECT_EQ(stats[1].weight_rms, 0.0);
    EXPECT_EQ(stats[1].update_rms, 0.0);
  }
}

TEST(SgdStep, RandomValuesMatchADoubleReference) {
  Network net = small_net();
  std::mt19937 rng(5);
  std::normal_distribution<float> normal;
  std::vector<LayerParams> v_ref(net.size());
  for (size_t i = 0; i < net.size(); ++i) {
    LayerParams& p = net.layer(i).params();
    for (float& x : p.weights.data) x = normal(rng);
    for (float& x : p.bias.data) x = normal(rng);
    v_ref[i].weights = Tensor(p.weights.dims);
    v_ref[i].bias = Tensor(p.bias.dims);
  }
  std::vector<LayerParams> momentum;
  const float lr = 0.03f, mu = 0.9f, wd = 0.05f;
  for (int s = 0; s < 3; ++s) {
    // New gradients each step; the reference runs in double from the same float inputs.
    std::vector<LayerParams> before = net.export_params();
    for (size_t i = 0; i < net.size(); ++i) {
      for (float& g : net.layer(i).grads().weights.data) g = normal(rng);
      for (float& g : net.layer(i).grads().bias.data) g = normal(rng);
    }
    std::vector<UpdateStats> stats;
    sgd_step(net, momentum, lr, mu, wd, &stats);
    for (size_t i = 0; i < net.size(); ++i) {
      const LayerParams& p = net.layer(i).params();
      const LayerParams& g = net.layer(i).grads();
      if (p.weights.empty()) continue;
      double sq = 0;
      for (size_t j = 0; j < p.weights.size(); ++j) {
        float& v = v_ref[i].weights.data[j];
        v = float(double(mu) * v + g.weights.data[j] + double(wd) * before[i].weights.data[j]);
        const double want = before[i].weights.data[j] - double(lr) * v;
        EXPECT_NEAR(p.weights.data[j], want, 1e-5) << "step " << s << " layer " << i << " weight " << j;
        sq += double(lr) * v * double(lr) * v;
      }
      for (size_t j = 0; j < p.bias.size(); ++j) {
        float& v = v_ref[i].bias.data[j];
        v = float(double(mu) * v + g.bias.data[j]);  // no decay on biases
        EXPECT_NEAR(p.bias.data[j], before[i].bias.data[j] - double(lr) * v, 1e-5) << "bias " << j;
      }
      EXPECT_NEAR(stats[i].weight_rms, rms(before[i].weights.data), 1e-6);
      EXPECT_NEAR(stats[i].grad_rms, rms(g.weights.data), 1e-6);
      EXPECT_NEAR(stats[i].update_rms, std::sqrt(sq / double(p.weights.size())), 1e-6);
    }
  }
}

TEST(SgdStep, NoStatsRequestedLeavesThePointerAlone) {
  Network net = small_net();
  std::vector<LayerParams> momentum;
  sgd_step(net, momentum, 0.1f, 0.9f, 0.f, nullptr);  // must not crash
  EXPECT_EQ(momentum.size(), net.size());
}

TEST(Rms, OfKnownVectors) {
  EXPECT_EQ(rms({}), 0.0);
  EXPECT_NEAR(rms({3.f, -4.f}), std::sqrt(12.5), 1e-12);
}

// Sets conv filter o of layer 0 so that its RMS is `r` (all entries equal to +-r).
void set_filter_rms(Network& net, int o, float r) {
  Tensor& w = net.layer(0).params().weights;  // (O, I, kh, kw)
  const size_t per = w.size() / size_t(w.dims[0]);
  for (size_t j = 0; j < per; ++j) w.data[size_t(o) * per + j] = j % 2 ? -r : r;
}

double filter_rms(const Network& net, int o) {
  const Tensor& w = net.layer(0).params().weights;
  const size_t per = w.size() / size_t(w.dims[0]);
  return rms(std::vector<float>(w.data.begin() + long(size_t(o) * per), w.data.begin() + long(size_t(o + 1) * per)));
}

TEST(Renormalize, ScalesOnlyConvFiltersAboveTheRadius) {
  Network net = small_net();
  // Filter 0: uneven entries with RMS above the radius; filter 1: below it.
  Tensor& w = net.layer(0).params().weights;  // (2, 1, 2, 2)
  const std::vector<float> big = {0.9f, -0.3f, 0.5f, 0.1f};
  std::copy(big.begin(), big.end(), w.data.begin());
  set_filter_rms(net, 1, 0.05f);
  fill(net.layer(2).params().weights, 5.f);  // fc: far above the radius, never renormalised
  const std::vector<float> small_before(w.data.begin() + 4, w.data.end());

  EXPECT_EQ(renormalize_filters(net, 0.2f), 1);
  EXPECT_NEAR(filter_rms(net, 0), 0.2, 1e-6);
  // Scaled, not clipped: the direction is kept.
  const double scale = 0.2 / rms(big);
  for (size_t j = 0; j < 4; ++j) EXPECT_NEAR(w.data[j], big[j] * scale, 1e-6);
  EXPECT_EQ(std::vector<float>(w.data.begin() + 4, w.data.end()), small_before);  // untouched, bit for bit
  for (float v : net.layer(2).params().weights.data) EXPECT_EQ(v, 5.f);

  // A second pass finds nothing above the radius (allowing for rounding at the radius).
  EXPECT_EQ(renormalize_filters(net, 0.2f * (1 + 1e-6f)), 0);
}

TEST(Renormalize, RadiusZeroIsOff) {
  Network net = small_net();
  set_filter_rms(net, 0, 3.f);
  set_filter_rms(net, 1, 7.f);
  const std::vector<float> before = net.layer(0).params().weights.data;
  EXPECT_EQ(renormalize_filters(net, 0.f), 0);
  EXPECT_EQ(renormalize_filters(net, -1.f), 0);
  EXPECT_EQ(net.layer(0).params().weights.data, before);
}

TEST(Schedule, StepDropsEveryLrStepEpochs) {
  TrainConfig c;
  c.lr = 0.1f;
  c.lr_schedule = ds::LrSchedule::step;
  c.lr_step = 2;
  c.lr_gamma = 0.5f;
  EXPECT_FLOAT_EQ(step_schedule_lr(c, 1), 0.1f);
  EXPECT_FLOAT_EQ(step_schedule_lr(c, 2), 0.1f);
  EXPECT_FLOAT_EQ(step_schedule_lr(c, 3), 0.05f);
  EXPECT_FLOAT_EQ(step_schedule_lr(c, 4), 0.05f);
  EXPECT_FLOAT_EQ(step_schedule_lr(c, 5), 0.025f);
  c.lr_step = 0;  // never
  EXPECT_FLOAT_EQ(step_schedule_lr(c, 9), 0.1f);
  c.lr_step = 1;
  c.lr_schedule = ds::LrSchedule::none;
  EXPECT_FLOAT_EQ(step_schedule_lr(c, 9), 0.1f);
}

TEST(Schedule, PlateauLowersAfterPatienceEpochsWithoutImprovement) {
  TrainConfig c;
  c.lr_schedule = ds::LrSchedule::plateau;
  c.lr_patience = 2;
  c.lr_gamma = 0.1f;
  OptimizerState s;
  s.lr = 1.f;
  s.epochs_since_best = -1;  // as the trainer starts: no loss seen yet
  plateau_update(c, 5.f, s);  // the first loss is the best so far, whatever it is
  EXPECT_FLOAT_EQ(s.best_val_loss, 5.f);
  EXPECT_EQ(s.epochs_since_best, 0);
  plateau_update(c, 4.f, s);  // improves
  EXPECT_FLOAT_EQ(s.best_val_loss, 4.f);
  EXPECT_FLOAT_EQ(s.lr, 1.f);
  plateau_update(c, 4.00001f, s);  // worse by a hair: no improvement
  EXPECT_EQ(s.epochs_since_best, 1);
  EXPECT_FLOAT_EQ(s.lr, 1.f);
  plateau_update(c, 3.99999f, s);  // better by less than the 1e-4 margin: still none
  EXPECT_FLOAT_EQ(s.lr, 0.1f);     // patience 2 reached: lowered
  EXPECT_EQ(s.epochs_since_best, 0);
  EXPECT_FLOAT_EQ(s.best_val_loss, 4.f);
  plateau_update(c, 4.5f, s);
  EXPECT_FLOAT_EQ(s.lr, 0.1f);
  plateau_update(c, 3.f, s);  // a real improvement resets the count
  EXPECT_EQ(s.epochs_since_best, 0);
  EXPECT_FLOAT_EQ(s.best_val_loss, 3.f);
  EXPECT_FLOAT_EQ(s.lr, 0.1f);
}

// A network with enough weights for the sample std to be close to the true one.
Network init_net() {
  return Network({conv("c1", 64, 3, 3, 1, 1), relu("r1"), conv("c2", 32, 3, 3, 1, 1), fc("f3", 10)},
                 InputShape{8, 6, 6}, /*batch=*/2);
}

double sample_std(const std::vector<float>& v) {
  double m = 0, s = 0;
  for (float x : v) m += x;
  m /= double(v.size());
  for (float x : v) s += (x - m) * (x - m);
  return std::sqrt(s / double(v.size()));
}

TEST(InitParams, HeStdAndZeroBiases) {
  Network net = init_net();
  for (size_t i = 0; i < net.size(); ++i) fill(net.layer(i).params().bias, 3.f);
  TrainConfig c;
  c.init = ds::InitScheme::he;
  std::mt19937_64 rng(1);
  init_params(net, c, rng);
  // fan_in: c1 8*3*3 = 72, c2 64*3*3 = 576, f3 32*6*6 = 1152.
  const std::pair<size_t, double> want[] = {{0, std::sqrt(2.0 / 72)}, {2, std::sqrt(2.0 / 576)},
                                            {3, std::sqrt(2.0 / 1152)}};
  for (const auto& [i, std] : want) {
    const LayerParams& p = net.layer(i).params();
    EXPECT_NEAR(sample_std(p.weights.data), std, 0.05 * std) << net.specs()[i].name;
    for (float b : p.bias.data) EXPECT_EQ(b, 0.f);
  }
}

TEST(InitParams, GaussianStd) {
  Network net = init_net();
  TrainConfig c;
  c.init = ds::InitScheme::gaussian;
  c.init_std = 0.02f;
  std::mt19937_64 rng(2);
  init_params(net, c, rng);
  for (size_t i : {size_t(0), size_t(2), size_t(3)}) {
    const LayerParams& p = net.layer(i).params();
    EXPECT_NEAR(sample_std(p.weights.data), 0.02, 0.001) << net.specs()[i].name;
    for (float b : p.bias.data) EXPECT_EQ(b, 0.f);
  }
}

TEST(InitParams, SameSeedSameWeights) {
  TrainConfig c;
  c.init = ds::InitScheme::he;
  Network a = init_net(), b = init_net(), other = init_net();
  std::mt19937_64 ra(9), rb(9), ro(10);
  init_params(a, c, ra);
  init_params(b, c, rb);
  init_params(other, c, ro);
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a.layer(i).params().weights.data, b.layer(i).params().weights.data);
    if (!a.layer(i).params().weights.empty()) {
      EXPECT_NE(a.layer(i).params().weights.data, other.layer(i).params().weights.data);
    }
  }
}

TEST(InitParams, TheNetworkRunsOnTheNewWeights) {
  // init_params syncs: a forward after it sees the new weights, not the zero ones.
  Network net = small_net();
  TrainConfig c;
  c.init = ds::InitScheme::gaussian;
  c.init_std = 1.f;
  std::mt19937_64 rng(4);
  init_params(net, c, rng);
  std::vector<float> x(9, 1.f);
  net.forward(x.data(), Mode::infer);
  EXPECT_TRUE(net.logits()[0] != 0.f || net.logits()[1] != 0.f);
}

TEST(Progress, FormatDuration) {
  EXPECT_EQ(Progress::format_duration(0), "0s");
  EXPECT_EQ(Progress::format_duration(0.4), "0s");
  EXPECT_EQ(Progress::format_duration(59.4), "59s");
  EXPECT_EQ(Progress::format_duration(59.6), "1m00s");
  EXPECT_EQ(Progress::format_duration(61), "1m01s");
  EXPECT_EQ(Progress::format_duration(3599), "59m59s");
  EXPECT_EQ(Progress::format_duration(3600), "1h00m");
  EXPECT_EQ(Progress::format_duration(3725), "1h02m");
  EXPECT_EQ(Progress::format_duration(90061), "25h01m");
}

}  // namespace
}  // namespace ds
