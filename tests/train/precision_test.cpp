// train.precision = bf16: the clear refusal on a CPU without native bf16 kernels, and where
// there are some, one SGD step in bf16 against the same step in f32, the f32 master
// weights, and the bench's bf16 figures.
//
// bf16 keeps 8 bits of mantissa: every activation and weight in the compute is rounded to
// about 0.4% relative, and the errors add up over a few layers. One step's weight change
// is therefore compared at 5% of its norm per layer, loose on purpose: a wrong gradient
// (a missed reorder, a wrong data type) is off by 100%, not by 5%.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>

#include "deconvscope/config/config.hpp"
#include "deconvscope/core/error.hpp"
#include "deconvscope/model/loss.hpp"
#include "deconvscope/model/network.hpp"
#include "deconvscope/train/bench.hpp"
#include "deconvscope/train/sgd.hpp"
#include "model/test_util.hpp"

namespace ds {
namespace {

using namespace testutil;

std::vector<LayerSpec> small_zfnet() {
  return {conv("conv1", 16, 5, 5, 1, 2), relu("relu1"), maxpool("pool1", 3, 2, 1), lrn("norm1", 5, 1e-4f, 0.75f, 2.f),
          conv("conv2", 32, 3, 3, 1, 1), relu("relu2"), maxpool("pool2", 3, 2, 1), fc("fc3", 64), relu("relu3"),
          dropout("drop3", 0.5f), fc("fc4", 10)};
}
const InputShape kInput{1, 16, 16};
constexpr int kBatch = 8;

NetworkOptions bf16() {
  NetworkOptions o;
  o.precision = Precision::bf16;
  return o;
}

std::string no_bf16_here() {
  return "this CPU (" + cpu_isa_name() + ") has no native bf16 kernels in oneDNN; the refusal is tested instead";
}

TEST(Precision, Bf16IsRefusedClearlyWithoutCpuSupport) {
  if (cpu_has_bf16()) GTEST_SKIP() << "this CPU has bf16; the refusal cannot happen here";
  try {
    Network net(small_zfnet(), kInput, kBatch, 0, bf16());
    FAIL() << "a bf16 network was built on " << cpu_isa_name();
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::config);
    const std::string m = e.what();
    for (const std::string& part : {std::string("train.precision"), std::string("AVX512_BF16"), cpu_isa_name(),
                                    std::string("train.precision = f32")})
      EXPECT_NE(m.find(part), std::string::npos) << m << "\nlacks: " << part;
  }
}

// Weight changes of one SGD step (with dropout, momentum and weight decay) in both precisions.
TEST(Precision, Bf16StepChangesWeightsLikeF32) {
  if (!cpu_has_bf16()) GTEST_SKIP() << no_bf16_here();
  Network f32(small_zfnet(), kInput, kBatch, /*seed =*/3);
  Network b16(small_zfnet(), kInput, kBatch, /*seed =*/3, bf16());
  std::mt19937 rng(3);
  randomize_params(f32, rng);
  b16.import_params(f32.export_params());
  const std::vector<LayerParams> before = f32.export_params();
  const Tensor input = random_input(f32, rng);
  std::vector<int32_t> labels(kBatch);
  for (auto& l : labels) l = int32_t(rng() % 10);
  for (Network* net : {&f32, &b16}) {
    std::vector<float> diff(size_t(kBatch) * 10);
    std::vector<LayerParams> momentum;
    net->set_step(1);
    net->forward(input.ptr(), Mode::train);
    softmax_cross_entropy(net->logits(), labels.data(), kBatch, 10, diff.data());
    net->backward(diff.data());
    sgd_step(*net, momentum, /*lr =*/0.1f, /*momentum =*/0.9f, /*weight_decay =*/5e-4f, nullptr);
    net->sync_params();
  }
  const std::vector<LayerParams> a = f32.export_params(), b = b16.export_params();
  int off_grid = 0;  // master values a bf16 copy could not hold
  for (size_t i = 0; i < a.size(); ++i) {
    if (a[i].weights.empty()) continue;
    double num = 0, den = 0;
    for (size_t j = 0; j < a[i].weights.size(); ++j) {
      const double da = a[i].weights.data[j] - before[i].weights.data[j];
      const double db = b[i].weights.data[j] - before[i].weights.data[j];
      num += (da - db) * (da - db);
      den += da * da;
      uint32_t bits;
      std::memcpy(&bits, &b[i].weights.data[j], sizeof bits);
      off_grid += (bits & 0xffffu) != 0;
    }
    ASSERT_GT(den, 0) << small_zfnet()[i].name << " did not change";
    EXPECT_LT(std::sqrt(num / den), 0.05) << small_zfnet()[i].name;
  }
  // The update happened on f32 master weights, not on bf16 ones.
  EXPECT_GT(off_grid, 0);
}

TEST(Precision, Bf16BenchPrintsBothFigures) {
  if (!cpu_has_bf16()) GTEST_SKIP() << no_bf16_here();
  Config cfg = load_config({"--train.precision", "bf16", "--train.batch", "8"});
  const BenchResult r = run_bench(cfg, BenchOptions{/*iters =*/2, /*warmup =*/1, /*profile =*/true});
  EXPECT_GT(r.train_images_per_s, 0);
  EXPECT_GT(r.infer_images_per_s, 0);
  EXPECT_NE(r.profile.find("bf16"), std::string::npos) << r.profile;
}

}  // namespace
}  // namespace ds
