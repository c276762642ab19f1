// Jump and convergence metrics on hand-made inputs whose answers are known by hand:
// identical and orthogonal vectors, features whose strongest image changes with and
// without a change of projection, and a filter-similarity sequence that dips and recovers.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "deconvscope/analysis/analysis_file.hpp"
#include "deconvscope/analysis/evolution_metrics.hpp"
#include "deconvscope/core/error.hpp"

namespace ds {
namespace {

// One layer "conv1", epochs as given, followed features as given, projections (E, F, 1, 1, 2)
// zero and strongest images -1 until the test sets them.
AnalysisResult one_layer(std::vector<int> epochs, std::vector<int32_t> features) {
  AnalysisResult r;
  r.split = ds::ProbeSplit::train;
  r.epochs = epochs;
  r.layers = {"conv1"};
  r.input = InputShape{1, 1, 2};
  LayerEvolution ev;
  ev.layer = "conv1";
  ev.features = features;
  const size_t E = epochs.size(), F = features.size();
  ev.strongest.assign(E * F, Activation{});
  ev.windows.assign(E * F, Window{});
  ev.projections = Tensor({static_cast<int64_t>(E), static_cast<int64_t>(F), 1, 1, 2});
  r.evolution.push_back(ev);
  return r;
}

// Weights (O, 1, 1, 2) with the given filters.
Tensor weights(const std::vector<std::vector<float>>& filters) {
  Tensor w({static_cast<int64_t>(filters.size()), 1, 1, 2});
  for (size_t o = 0; o < filters.size(); ++o)
    for (size_t i = 0; i < 2; ++i) w.data[o * 2 + i] = filters[o][i];
  return w;
}

void set_projection(AnalysisResult& r, size_t e, size_t f, float a, float b) {
  const size_t F = r.evolution[0].features.size();
  r.evolution[0].projections.data[(e * F + f) * 2 + 0] = a;
  r.evolution[0].projections.data[(e * F + f) * 2 + 1] = b;
}

TEST(CosineSimilarity, IdenticalOrthogonalOppositeAndZero) {
  const float a[] = {1.f, 2.f, 3.f}, b[] = {1.f, 2.f, 3.f}, c[] = {-3.f, 0.f, 1.f}, z[] = {0.f, 0.f, 0.f};
  const float neg[] = {-1.f, -2.f, -3.f};
  EXPECT_NEAR(cosine_similarity(a, b, 3), 1.f, 1e-6f);
  EXPECT_NEAR(cosine_similarity(a, c, 3), 0.f, 1e-6f);
  EXPECT_NEAR(cosine_similarity(a, neg, 3), -1.f, 1e-6f);
  EXPECT_EQ(cosine_similarity(z, z, 3), 1.f);  // both never fired: the same
  EXPECT_EQ(cosine_similarity(a, z, 3), 0.f);  // one never fired: unrelated
  EXPECT_EQ(cosine_similarity(z, a, 3), 0.f);
}

TEST(Jumps, ChangedImageWithDissimilarProjectionIsAJump) {
  // Three followed features over epochs 1 -> 2:
  //   f0 (filter 0): image 5 -> 7, projection (1, 0) -> (0, 1): orthogonal, a jump
  //   f1 (filter 2): image 3 -> 4, projection (1, 1) -> (1, 1.01): same look, no jump
  //   f2 (filter 1): image 9 -> 9, projection (1, 0) -> (0, 1): image kept, no jump
  AnalysisResult r = one_layer({1, 2}, {0, 2, 1});
  auto& s = r.evolution[0].strongest;  // [E * F]
  s[0].image = 5, s[3].image = 7;
  s[1].image = 3, s[4].image = 4;
  s[2].image = 9, s[5].image = 9;
  set_projection(r, 0, 0, 1.f, 0.f), set_projection(r, 1, 0, 0.f, 1.f);
  set_projection(r, 0, 1, 1.f, 1.f), set_projection(r, 1, 1, 1.f, 1.01f);
  set_projection(r, 0, 2, 1.f, 0.f), set_projection(r, 1, 2, 0.f, 1.f);
  // Filter 0: (3, 4) -> (3, 9), change 5 / 5 = 1. Filter 1: unchanged. Filter 2: (1, 0) -> (0, 0).
  std::vector<std::vector<Tensor>> filters = {
      {weights({{3, 4}, {1, 1}, {1, 0}}), weights({{3, 9}, {1, 1}, {0, 0}})}};

  compute_jumps(r, filters);
  ASSERT_EQ(r.jumps.size(), 1u);
  const LayerJumps& j = r.jumps[0];
  ASSERT_EQ(j.jump.size(), 3u);  // (E-1) * F
  EXPECT_EQ(j.image_changed, (std::vector<uint8_t>{1, 1, 0}));
  EXPECT_EQ(j.jump, (std::vector<uint8_t>{1, 0, 0}));
  EXPECT_NEAR(j.projection_similarity[0], 0.f, 1e-6f);
  EXPECT_GT(j.projection_similarity[1], 0.99f);
  EXPECT_NEAR(j.projection_similarity[2], 0.f, 1e-6f);
  EXPECT_NEAR(j.filter_change[0], 1.f, 1e-6f);
  EXPECT_NEAR(j.filter_change[1], 1.f, 1e-6f);  // filter 2: (1, 0) -> (0, 0)
  EXPECT_NEAR(j.filter_change[2], 0.f, 1e-6f);  // filter 1 kept
}

TEST(Jumps, ThresholdDecides) {
  // Image changes, projections at 60 degrees: cosine 0.5. A jump only below the threshold.
  AnalysisResult r = one_layer({0, 1}, {0});
  r.evolution[0].strongest[0].image = 1;
  r.evolution[0].strongest[1].image = 2;
  set_projection(r, 0, 0, 1.f, 0.f);
  set_projection(r, 1, 0, 0.5f, std::sqrt(3.f) / 2.f);
  std::vector<std::vector<Tensor>> filters = {{weights({{1, 0}}), weights({{1, 0}})}};
  r.jump_threshold = 0.6f;
  compute_jumps(r, filters);
  EXPECT_EQ(r.jumps[0].jump[0], 1);
  r.jump_threshold = 0.4f;
  compute_jumps(r, filters);
  EXPECT_EQ(r.jumps[0].jump[0], 0);
}

TEST(Jumps, FallingSilentAndComingBackAreCountedApartFromJumps) {
  // Epochs 0, 1, 2, 3; image -1 = inactive (fired on no probe image), projection zero.
  //   f0: 5 -> -1 -> -1 -> 8   went silent into 1, inactive 1 -> 2, came back into 3
  //   f1: 3 ->  4 ->  4 -> -1  jump into 1 (orthogonal projections), same, went silent into 3
  AnalysisResult r = one_layer({0, 1, 2, 3}, {0, 1});
  auto& s = r.evolution[0].strongest;  // [E * F]
  const int64_t images[4][2] = {{5, 3}, {-1, 4}, {-1, 4}, {8, -1}};
  for (size_t e = 0; e < 4; ++e)
    for (size_t f = 0; f < 2; ++f) {
      s[e * 2 + f].image = images[e][f];
      s[e * 2 + f].value = images[e][f] < 0 ? 0.f : 1.f;
    }
  set_projection(r, 0, 0, 1.f, 0.f), set_projection(r, 3, 0, 1.f, 0.f);  // f0 comes back looking the same
  set_projection(r, 0, 1, 1.f, 0.f), set_projection(r, 1, 1, 0.f, 1.f), set_projection(r, 2, 1, 0.f, 1.f);
  const Tensor w = weights({{1, 0}, {0, 1}});
  const std::vector<std::vector<Tensor>> filters = {{w, w, w, w}};
  compute_jumps(r, filters);
  compute_convergence(r, filters);
  const LayerJumps& j = r.jumps[0];
  // Rows (e-1) * F + f: [1<-0: f0, f1], [2<-1: f0, f1], [3<-2: f0, f1].
  EXPECT_EQ(j.went_silent, (std::vector<uint8_t>{1, 0, 0, 0, 0, 1}));
  EXPECT_EQ(j.came_back, (std::vector<uint8_t>{0, 0, 0, 0, 1, 0}));
  EXPECT_EQ(j.image_changed, (std::vector<uint8_t>{0, 1, 0, 0, 0, 0}));
  EXPECT_EQ(j.jump, (std::vector<uint8_t>{0, 1, 0, 0, 0, 0}));  // 5 -> inactive, projection cosine 0, is no jump

  const char* kinds[3][2] = {{"went_silent", "jump"}, {"inactive", "same"}, {"came_back", "went_silent"}};
  for (size_t e = 1; e < 4; ++e)
    for (size_t f = 0; f < 2; ++f) EXPECT_STREQ(transition_kind(r.evolution[0], j, e, f), kinds[e - 1][f]) << e << f;

  const TransitionCounts n = count_transitions(r.evolution[0], j, 4);
  EXPECT_EQ(n.jumps, (std::vector<int>{0, 1, 0, 0}));
  EXPECT_EQ(n.went_silent, (std::vector<int>{0, 1, 0, 1}));
  EXPECT_EQ(n.came_back, (std::vector<int>{0, 0, 0, 1}));
  EXPECT_EQ(n.inactive, (std::vector<int>{0, 1, 1, 1}));

  // Final images (8, -1): f0 counts where it has image 8, f1 where it is inactive too.
  EXPECT_EQ(r.convergence[0].final_image_share, (std::vector<float>{0.f, 0.f, 0.f, 1.f}));
}

// The same 3x3 pattern at two places of an 8x8 picture: the same appearance.
TEST(AlignedCosine, SamePatternElsewhereIsSimilar) {
  std::vector<float> a(64, 0.f), b(64, 0.f);
  const float pattern[9] = {1, -2, 3, 0, 5, -1, 2, 2, -4};
  for (int y = 0; y < 3; ++y)
    for (int x = 0; x < 3; ++x) {
      a[(1 + y) * 8 + 2 + x] = pattern[y * 3 + x];  // window rows [1, 4), cols [2, 5)
      b[(4 + y) * 8 + 5 + x] = pattern[y * 3 + x];  // window rows [4, 7), cols [5, 8)
    }
  const ds::Window wa{1, 2, 4, 5}, wb{4, 5, 7, 8};
  EXPECT_NEAR(ds::aligned_cosine(a.data(), wa, b.data(), wb, 1, 8, 8), 1.f, 1e-6f);
  EXPECT_NEAR(ds::cosine_similarity(a.data(), b.data(), 64), 0.f, 1e-6f);  // unaligned: nothing in common
  // A window clipped at the top edge lines up by its end: a's field is rows [-1, 2).
  std::vector<float> c(64, 0.f);
  for (int y = 1; y < 3; ++y)
    for (int x = 0; x < 3; ++x) c[(y - 1) * 8 + 2 + x] = pattern[y * 3 + x];
  const ds::Window wc{0, 2, 2, 5};
  std::vector<float> d(64, 0.f);
  for (int y = 1; y < 3; ++y)
    for (int x = 0; x < 3; ++x) d[(4 + y) * 8 + 5 + x] = pattern[y * 3 + x];  // same rows of the pattern
  EXPECT_NEAR(ds::aligned_cosine(c.data(), wc, d.data(), wb, 1, 8, 8), 1.f, 1e-6f);
}

TEST(Jumps, OneEpochGivesNoRows) {
  AnalysisResult r = one_layer({3}, {0, 1});
  compute_jumps(r, {{weights({{1, 0}, {0, 1}})}});
  ASSERT_EQ(r.jumps.size(), 1u);
  EXPECT_TRUE(r.jumps[0].image_changed.empty());
  EXPECT_TRUE(r.jumps[0].projection_similarity.empty());
  EXPECT_TRUE(r.jumps[0].filter_change.empty());
  EXPECT_TRUE(r.jumps[0].jump.empty());
}

TEST(Convergence, IdenticalFiltersConvergeAtOnce) {
  AnalysisResult r = one_layer({1, 2, 3}, {0});
  Tensor w = weights({{1, 2}, {-3, 4}});
  compute_convergence(r, {{w, w, w}});
  const LayerConvergence& c = r.convergence[0];
  for (int e = 0; e < 3; ++e) {
    EXPECT_NEAR(c.filter_similarity[e], 1.f, 1e-6f);
    EXPECT_EQ(c.weight_change[e], 0.f);
    EXPECT_EQ(c.final_image_share[e], 1.f);  // all images -1 throughout: unchanged
  }
  EXPECT_EQ(c.converged_at, 1);
}

TEST(Convergence, OrthogonalFiltersHaveSimilarityZero) {
  AnalysisResult r = one_layer({0, 10}, {0});
  // Epoch 0: both filters orthogonal to their final selves; mean cosine 0.
  compute_convergence(r, {{weights({{1, 0}, {0, 2}}), weights({{0, 3}, {4, 0}})}});
  const LayerConvergence& c = r.convergence[0];
  EXPECT_NEAR(c.filter_similarity[0], 0.f, 1e-6f);
  EXPECT_EQ(c.filter_similarity[1], 1.f);
  EXPECT_EQ(c.weight_change[0], 0.f);
  // ||W_1 - W_0|| / ||W_0|| = sqrt(1 + 9 + 16 + 4) / sqrt(1 + 4)
  EXPECT_NEAR(c.weight_change[1], std::sqrt(30.f) / std::sqrt(5.f), 1e-5f);
  EXPECT_EQ(c.converged_at, 10);
  EXPECT_EQ(c.weight_progress[0], 0.f);  // the whole way still to go
  EXPECT_EQ(c.weight_progress[1], 1.f);
  EXPECT_EQ(c.progress_converged_at, 10);
}

// Weights that travel most of their way early converge early by weight_progress, even
// when the random start keeps filter_similarity high throughout.
TEST(Convergence, WeightProgressIsTheShareOfTheWayTravelled) {
  AnalysisResult r = one_layer({0, 1, 2, 3}, {0});
  const Tensor w0 = weights({{10, 0}, {0, 10}});
  compute_convergence(r, {{w0, weights({{10, 0.95f}, {0, 10}}), weights({{10, 0.97f}, {0, 10}}),
                           weights({{10, 1}, {0, 10}})}});
  const LayerConvergence& c = r.convergence[0];
  EXPECT_NEAR(c.weight_progress[1], 0.95f, 1e-5f);
  EXPECT_NEAR(c.weight_progress[2], 0.97f, 1e-5f);
  EXPECT_EQ(c.weight_progress[3], 1.f);
  EXPECT_EQ(c.progress_converged_at, 1);
  EXPECT_EQ(c.converged_at, 0);  // cosine to the final filters is near 1 from the start
}

TEST(Convergence, DipBelowThresholdThenStaysAbove) {
  // One filter at angle theta_e to its final direction: similarity cos(theta_e) =
  // 0.95, 0.5 (dip), 0.92, 0.97, 1 at epochs 1, 2, 5, 10, 20.
  const std::vector<int> epochs = {1, 2, 5, 10, 20};
  const std::vector<float> cosines = {0.95f, 0.5f, 0.92f, 0.97f, 1.f};
  AnalysisResult r = one_layer(epochs, {0});
  std::vector<Tensor> w;
  for (float c : cosines) w.push_back(weights({{c, std::sqrt(1.f - c * c)}}));

  r.convergence_threshold = 0.9f;
  compute_convergence(r, {w});
  const LayerConvergence& c = r.convergence[0];
  for (size_t e = 0; e < epochs.size(); ++e) EXPECT_NEAR(c.filter_similarity[e], cosines[e], 1e-5f) << e;
  EXPECT_EQ(c.converged_at, 5);  // the epoch, not its index 2
  // Unit vectors: ||w_1 - w_0|| = sqrt(2 - 2 cos(theta_1 - theta_0)).
  const double t0 = std::acos(0.95), t1 = std::acos(0.5);
  EXPECT_NEAR(c.weight_change[1], std::sqrt(2.0 - 2.0 * std::cos(t1 - t0)), 1e-5);

  r.convergence_threshold = 0.99f;
  compute_convergence(r, {w});
  EXPECT_EQ(r.convergence[0].converged_at, 20);  // at worst the final epoch
  r.convergence_threshold = 1.5f;
  compute_convergence(r, {w});
  EXPECT_EQ(r.convergence[0].converged_at, -1);  // never
}

TEST(Convergence, FinalImageShare) {
  // Two followed features; final images (4, 8). Epoch 0: (4, 6) -> 1/2; epoch 1: (3, 6) -> 0.
  AnalysisResult r = one_layer({0, 1, 2}, {0, 1});
  auto& s = r.evolution[0].strongest;
  s[0].image = 4, s[1].image = 6;
  s[2].image = 3, s[3].image = 6;
  s[4].image = 4, s[5].image = 8;
  Tensor w = weights({{1, 0}, {0, 1}});
  compute_convergence(r, {{w, w, w}});
  EXPECT_EQ(r.convergence[0].final_image_share, (std::vector<float>{0.5f, 0.f, 1.f}));
}

TEST(Convergence, SingleEpochConvergesThere) {
  AnalysisResult r = one_layer({7}, {0});
  compute_convergence(r, {{weights({{1, 1}})}});
  EXPECT_EQ(r.convergence[0].filter_similarity, std::vector<float>{1.f});
  EXPECT_EQ(r.convergence[0].weight_change, std::vector<float>{0.f});
  EXPECT_EQ(r.convergence[0].converged_at, 7);
}

TEST(Metrics, InconsistentInputsThrowNamingTheLayer) {
  AnalysisResult r = one_layer({1, 2}, {0});
  Tensor w = weights({{1, 0}});
  try {
    compute_jumps(r, {{w}});  // one epoch of weights for two epochs
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::internal);
    EXPECT_EQ(e.where(), "layer conv1");
  }
  EXPECT_THROW(compute_convergence(r, {{w, weights({{1, 0}, {0, 1}})}}), Error);  // shape changes
  EXPECT_THROW(compute_jumps(r, {}), Error);                                      // no layer weights
  AnalysisResult bad = one_layer({1, 2}, {5});  // filter 5 of a 1-filter layer
  EXPECT_THROW(compute_jumps(bad, {{w, w}}), Error);
  EXPECT_TRUE(bad.jumps.empty());  // left unchanged
}

}  // namespace
}  // namespace ds
