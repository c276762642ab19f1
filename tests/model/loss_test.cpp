// Softmax cross-entropy of the library (model/loss.hpp) against the naive reference:
// the loss, its gradient of the mean, accuracy, ignored rows (label -1), and values that
// would overflow a naive exp.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "deconvscope/model/loss.hpp"
#include "model/naive.hpp"
#include "model/test_util.hpp"

namespace ds {
namespace {

using testutil::random_tensor;

TEST(Loss, MatchesNaiveValueAndGradient) {
  std::mt19937 rng(61);
  const int n = 5, k = 7;
  const Tensor logits = random_tensor({n, k}, rng, -3.f, 3.f);
  const std::vector<int32_t> labels{0, 6, 3, 3, 1};
  Tensor want_diff;
  const double want = naive::softmax_cross_entropy(logits, labels, &want_diff);
  std::vector<float> diff(size_t(n * k), -1.f);
  const LossResult r = softmax_cross_entropy(logits.ptr(), labels.data(), n, k, diff.data());
  EXPECT_NEAR(r.loss_sum / n, want, 1e-6 * std::max(1.0, want));
  for (size_t i = 0; i < diff.size(); ++i) EXPECT_NEAR(diff[i], want_diff.data[i], 1e-6f) << "at " << i;

  // Accuracy: argmax of each row against its label.
  int correct = 0;
  for (int i = 0; i < n; ++i) {
    const float* z = logits.ptr() + i * k;
    correct += int(std::max_element(z, z + k) - z) == labels[size_t(i)];
  }
  EXPECT_EQ(r.correct, correct);

  // Evaluation only: no gradient asked, same loss.
  const LossResult e = softmax_cross_entropy(logits.ptr(), labels.data(), n, k, nullptr);
  EXPECT_EQ(e.loss_sum, r.loss_sum);
  EXPECT_EQ(e.correct, r.correct);
}

TEST(Loss, GradientIsTheDerivativeOfTheMean) {
  // d mean loss / d z by central differences of the library's own loss.
  std::mt19937 rng(62);
  const int n = 3, k = 4;
  Tensor logits = random_tensor({n, k}, rng, -2.f, 2.f);
  const std::vector<int32_t> labels{2, 0, 3};
  std::vector<float> diff(size_t(n * k));
  softmax_cross_entropy(logits.ptr(), labels.data(), n, k, diff.data());
  for (size_t i = 0; i < logits.size(); ++i) {
    const float saved = logits.data[i];
    logits.data[i] = saved + 1e-2f;
    const double up = softmax_cross_entropy(logits.ptr(), labels.data(), n, k, nullptr).loss_sum / n;
    logits.data[i] = saved - 1e-2f;
    const double down = softmax_cross_entropy(logits.ptr(), labels.data(), n, k, nullptr).loss_sum / n;
    logits.data[i] = saved;
    EXPECT_NEAR(diff[i], (up - down) / 2e-2, 2e-4) << "at " << i;
  }
}

TEST(Loss, IgnoredRowsCountNeitherInLossNorInN) {
  std::mt19937 rng(63);
  const int n = 4, k = 3;
  const Tensor logits = random_tensor({n, k}, rng, -2.f, 2.f);
  const std::vector<int32_t> labels{1, -1, 2, -1};
  Tensor want_diff;
  const double want_mean = naive::softmax_cross_entropy(logits, labels, &want_diff);
  std::vector<float> diff(size_t(n * k), 123.f);
  const LossResult r = softmax_cross_entropy(logits.ptr(), labels.data(), n, k, diff.data());
  EXPECT_NEAR(r.loss_sum / 2, want_mean, 1e-6);  // two valid rows
  for (size_t i = 0; i < diff.size(); ++i) EXPECT_NEAR(diff[i], want_diff.data[i], 1e-6f) << "at " << i;
  for (int j = 0; j < k; ++j) {
    EXPECT_EQ(diff[size_t(1 * k + j)], 0.f);  // ignored rows get a zero gradient
    EXPECT_EQ(diff[size_t(3 * k + j)], 0.f);
  }
  // The valid rows' gradient is (softmax - onehot) / 2, not / 4: each row sums to 0
  // and the label entry is (p - 1) / 2.
  double row0 = 0;
  for (int j = 0; j < k; ++j) row0 += diff[size_t(j)];
  EXPECT_NEAR(row0, 0.0, 1e-6);
  EXPECT_LE(r.correct, 2);

  // Only ignored rows: nothing to learn, no division by zero.
  const std::vector<int32_t> none{-1, -1, -1, -1};
  const LossResult z = softmax_cross_entropy(logits.ptr(), none.data(), n, k, diff.data());
  EXPECT_EQ(z.loss_sum, 0.0);
  EXPECT_EQ(z.correct, 0);
  for (float v : diff) EXPECT_EQ(v, 0.f);
}

TEST(Loss, LargeLogitsStayFinite) {
  const int n = 2, k = 3;
  const std::vector<float> logits{1000.f, 0.f, -1000.f, 50.f, 90.f, 89.f};
  const std::vector<int32_t> labels{2, 1};
  std::vector<float> diff(6);
  const LossResult r = softmax_cross_entropy(logits.data(), labels.data(), n, k, diff.data());
  // Row 0: -log p(2) = 2000 (log-sum-exp is 1000 + tiny); row 1: log(1 + e^-1 + e^-40).
  const double want = 2000.0 + std::log(1.0 + std::exp(-1.0) + std::exp(-40.0));
  EXPECT_NEAR(r.loss_sum, want, 1e-3);
  for (float v : diff) EXPECT_TRUE(std::isfinite(v));
  EXPECT_NEAR(diff[0], 0.5f, 1e-6f);   // p = 1 for the wrong class, / 2 rows
  EXPECT_NEAR(diff[2], -0.5f, 1e-6f);  // p = 0 - 1 for the label, / 2 rows
  EXPECT_EQ(r.correct, 1);
}

}  // namespace
}  // namespace ds
