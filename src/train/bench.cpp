// The benchmark; see include/deconvscope/train/bench.hpp. Input shape comes from the
// data section's dataset without loading it: 1x28x28 for (fashion-)mnist, 3x32x32 for
// cifar10 (data.resize applies).
#include "deconvscope/train/bench.hpp"

#include <chrono>
#include <random>

#include "deconvscope/model/loss.hpp"
#include "deconvscope/model/network.hpp"
#include "deconvscope/train/sgd.hpp"
#include "deconvscope/train/trainer.hpp"

namespace ds {

BenchResult run_bench(const Config& cfg, const BenchOptions& opt) {
  set_threads(cfg.run.threads);
  InputShape in{1, 28, 28};
  if (cfg.data.dataset == "cifar10") in = {3, 32, 32};
  if (cfg.data.resize > 0) in.height = in.width = cfg.data.resize;
  const int B = cfg.train.batch;
  Network net(cfg.layers, in, B, cfg.run.seed);
  std::mt19937_64 rng(cfg.run.seed);
  init_params(net, cfg.train, rng);
  std::normal_distribution<float> normal;
  std::vector<float> x(size_t(B) * in.channels * in.height * in.width);
  for (float& v : x) v = normal(rng);
  std::vector<int32_t> y(static_cast<size_t>(B));
  for (auto& v : y) v = int32_t(rng() % uint64_t(net.num_classes()));
  std::vector<float> diff(size_t(B) * net.num_classes());
  std::vector<LayerParams> momentum;
  uint64_t step = 0;
  auto train_step = [&] {
    net.set_step(step++);
    net.forward(x.data(), Mode::train);
    softmax_cross_entropy(net.logits(), y.data(), B, net.num_classes(), diff.data());
    net.backward(diff.data());
    sgd_step(net, momentum, cfg.train.lr, cfg.train.momentum, cfg.train.weight_decay, nullptr);
    net.sync_params();
  };
  using clock = std::chrono::steady_clock;
  BenchResult r;
  for (int i = 0; i < opt.warmup; ++i) train_step();
  auto t0 = clock::now();
  for (int i = 0; i < opt.iters; ++i) train_step();
  r.train_images_per_s = double(opt.iters) * B / std::chrono::duration<double>(clock::now() - t0).count();
  for (int i = 0; i < opt.warmup; ++i) net.forward(x.data(), Mode::infer);
  t0 = clock::now();
  for (int i = 0; i < opt.iters; ++i) net.forward(x.data(), Mode::infer);
  r.infer_images_per_s = double(opt.iters) * B / std::chrono::duration<double>(clock::now() - t0).count();
  return r;
}

}  // namespace ds
