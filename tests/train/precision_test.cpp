// train.precision = bf16: the clear refusal on a CPU without native bf16 kernels, and where
// there are some, one SGD step in bf16 against the same step in f32, the f32 master
// weights, and the bench's bf16 figures.
//
// bf16 keeps 8 bits of mantissa: every stored activation, weight and gradient is rounded
// to about 0.4% relative. Where a pooling layer follows, rounding also reorders
// near-equal values in a window and moves a few switches (0.2-0.3% of them here), and each
// moved switch sends its whole gradient to another position: that, not the rounding
// itself, makes the conv layers' gradients differ by 4-8% from f32. The tolerances
// below come from measuring that against the exact naive reference with the same
// operands rounded to bf16 (Bf16GradientsErrAsTheFormatAllows), which errs as much.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <random>
#include <set>

#include "deconvscope/config/config.hpp"
#include "deconvscope/core/error.hpp"
#include "deconvscope/model/loss.hpp"
#include "deconvscope/model/network.hpp"
#include "deconvscope/train/bench.hpp"
#include "deconvscope/train/sgd.hpp"
#include "model/naive.hpp"
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

// Rounds to the nearest bfloat16 (ties to even), as oneDNN's reorders do.
float round_bf16(float f) {
  uint32_t u;
  std::memcpy(&u, &f, sizeof u);
  u += 0x7fffu + ((u >> 16) & 1u);
  u &= 0xffff0000u;
  std::memcpy(&f, &u, sizeof f);
  return f;
}

Tensor round_bf16_copy(Tensor t) {
  for (float& v : t.data) v = round_bf16(v);
  return t;
}

// |a - b| / |b| over two tensors of the same size.
double rel_l2(const Tensor& a, const Tensor& b) {
  double num = 0, den = 0;
  for (size_t j = 0; j < b.size(); ++j) {
    const double d = double(a.data[j]) - double(b.data[j]);
    num += d * d;
    den += double(b.data[j]) * double(b.data[j]);
  }
  return std::sqrt(num / den);
}

// The bf16 network's rounding, on the naive reference: the network stores conv and fc
// srcs and weights, every activation and every gradient between layers in bf16, except an
// fc's output (f32, and the ReLU fused into it); it accumulates in f32, and the weight
// gradients and the biases stay f32.
naive::Rounding bf16_storage(const std::vector<LayerSpec>& specs) {
  std::set<std::string> f32_outputs;
  for (size_t i = 0; i < specs.size(); ++i)
    if (specs[i].type == LayerType::fc) {
      f32_outputs.insert(specs[i].name);
      if (i + 1 < specs.size() && specs[i + 1].type == LayerType::relu) f32_outputs.insert(specs[i + 1].name);
    }
  return [f32_outputs](Tensor& t, naive::Stored what, const LayerSpec& spec) {
    if (what == naive::Stored::output && f32_outputs.count(spec.name)) return;
    for (float& v : t.data) v = round_bf16(v);
  };
}

// Where bf16's error comes from, layer by layer down the backward chain: one batch's
// gradients from oneDNN in bf16 against oneDNN in f32, beside the naive reference with the
// same operands rounded to bf16 against the exact naive reference (the error the format
// itself allows). Printed, and the bf16 path must stay within twice the format's error
// (a missed reorder or a bf16 accumulation would be many times it).
TEST(Precision, Bf16GradientsErrAsTheFormatAllows) {
  if (!cpu_has_bf16()) GTEST_SKIP() << no_bf16_here();
  std::vector<LayerSpec> specs = small_zfnet();
  specs.erase(specs.begin() + 9);  // drop3: the reference has no training-mode dropout
  Network f32(specs, kInput, kBatch, /*seed =*/3);
  Network b16(specs, kInput, kBatch, /*seed =*/3, bf16());
  std::mt19937 rng(3);
  randomize_params(f32, rng);
  b16.import_params(f32.export_params());
  const std::vector<LayerParams> params = f32.export_params();
  const Tensor input = random_input(f32, rng);
  std::vector<int32_t> labels(kBatch);
  for (auto& l : labels) l = int32_t(rng() % 10);

  std::vector<std::vector<LayerParams>> dnnl_grads;
  for (Network* net : {&f32, &b16}) {
    Tensor diff({kBatch, 10});
    net->set_step(1);
    net->forward(input.ptr(), Mode::train);
    softmax_cross_entropy(net->logits(), labels.data(), kBatch, 10, diff.ptr());
    net->backward(diff.ptr());
    std::vector<LayerParams> g;
    for (size_t i = 0; i < net->size(); ++i) g.push_back(net->layer(i).grads());
    dnnl_grads.push_back(std::move(g));
  }
  const naive::Rounding round = bf16_storage(specs);
  std::vector<naive::Gradients> ref;
  std::vector<naive::Trace> traces;
  std::vector<std::vector<Tensor>> ref_diffs(2);
  for (int r = 0; r < 2; ++r) {
    const naive::Rounding& how = r == 0 ? naive::Rounding{} : round;
    Tensor x = input;
    if (how) for (float& v : x.data) v = round_bf16(v);
    traces.push_back(naive::forward(specs, params, x, how));
    const naive::Trace& t = traces.back();
    Tensor diff(t.outputs.back().dims);
    naive::softmax_cross_entropy(t.outputs.back(), labels, &diff);
    ref.push_back(naive::backward(specs, params, t, x, diff, how, &ref_diffs[size_t(r)]));
  }
  // The cause: rounding the activations to 8 bits of mantissa reorders near-equal values in
  // a pooling window, so some switches differ, and unpooling sends those gradients to
  // another position: the received gradient jumps below each pooling layer, not at LRN.
  for (size_t i = 0; i < specs.size(); ++i) {
    if (specs[i].type != LayerType::maxpool) continue;
    const auto& a = traces[0].switches[i];
    const auto& b = traces[1].switches[i];
    size_t moved = 0;
    for (size_t j = 0; j < a.size(); ++j) moved += a[j] != b[j];
    std::printf("%s: %zu of %zu switches move when activations are stored in bf16\n", specs[i].name.c_str(), moved,
                a.size());
    EXPECT_GT(moved, 0u) << "the explanation above no longer holds for " << specs[i].name;
  }
  std::printf("bf16 error, |g_bf16 - g_f32| / |g_f32|, on %s (one batch of %d)\n", cpu_isa_name().c_str(), kBatch);
  std::printf("%-7s %12s %16s %14s\n", "layer", "oneDNN bf16", "format allows", "diff received");
  for (size_t i = specs.size(); i-- > 0;) {
    const double chain = rel_l2(round_bf16_copy(ref_diffs[1][i]), ref_diffs[0][i]);
    if (params[i].weights.empty()) {
      std::printf("%-7s %12s %16s %14.4f\n", specs[i].name.c_str(), "", "", chain);
      continue;
    }
    const double got = rel_l2(dnnl_grads[1][i].weights, dnnl_grads[0][i].weights);
    const double allowed = rel_l2(ref[1].params[i].weights, ref[0].params[i].weights);
    // oneDNN's f32 path is the exact reference's, to float rounding.
    EXPECT_LT(rel_l2(dnnl_grads[0][i].weights, ref[0].params[i].weights), 1e-4) << specs[i].name;
    std::printf("%-7s %12.4f %16.4f %14.4f\n", specs[i].name.c_str(), got, allowed, chain);
    EXPECT_LT(got, 2 * allowed + 1e-3) << specs[i].name;
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
    // Below the first pooling layer a switch that bf16 moved sends its gradient elsewhere
    // (Bf16GradientsErrAsTheFormatAllows): measured 9.8% (conv1) and 5.9% (conv2) on
    // avx512_core_bf16 with this batch and mask, and the exact reference with bf16 operands
    // errs as much. Above the pooling layers only the rounding remains (0.5% measured).
    const bool below_pooling = small_zfnet()[i].type == LayerType::conv;
    const double tolerance = below_pooling ? 0.15 : 0.02;
    std::printf("%s: one step's weight change %.4f from f32's (tolerance %.2f)\n", small_zfnet()[i].name.c_str(),
                std::sqrt(num / den), tolerance);
    EXPECT_LT(std::sqrt(num / den), tolerance) << small_zfnet()[i].name;
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
