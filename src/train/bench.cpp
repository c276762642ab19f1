// The benchmark; see include/deconvscope/train/bench.hpp. Input shape comes from the
// data section's dataset without loading it: 1x28x28 for (fashion-)mnist, 3x32x32 for
// cifar10, 3 x resize x resize for an image folder (data.resize applies).
#include "deconvscope/train/bench.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <random>
#include <vector>

#include "deconvscope/core/comm.hpp"
#include "deconvscope/core/error.hpp"
#include "deconvscope/core/threads.hpp"
#include "deconvscope/model/loss.hpp"
#include "deconvscope/model/network.hpp"
#include "deconvscope/train/sgd.hpp"
#include "deconvscope/train/trainer.hpp"

namespace ds {

namespace {

// Times every layer's forward and backward over `iters` more training steps (each layer
// waited for, so the total is a little above the unprofiled step) and the forward in
// evaluation mode; milliseconds per step.
template <class Step>
std::string profile_table(Network& net, int batch, int iters, Step& train_step, double& loss_s, double& update_s) {
  net.set_profiling(true);
  loss_s = update_s = 0;
  for (int i = 0; i < iters; ++i) train_step();
  const std::vector<Network::LayerTime> train = net.layer_times();
  net.set_profiling(true);
  std::vector<float> x(size_t(batch) * net.input().channels * net.input().height * net.input().width, 0.5f);
  for (int i = 0; i < iters; ++i) net.forward(x.data(), Mode::infer);
  const std::vector<Network::LayerTime> infer = net.layer_times();
  net.set_profiling(false);
  std::string out;
  char line[256];
  std::snprintf(line, sizeof line, "precision=%s conv_algorithm=%s cpu_isa=%s\n", precision_name(net.options().precision),
                conv_algorithm_name(net.options().conv_algorithm), cpu_isa_name().c_str());
  out += line;
  std::snprintf(line, sizeof line, "%-10s %-8s %12s %12s %12s  %-5s %-24s %s\n", "layer", "type", "train_fwd_ms",
                "train_bwd_ms", "infer_fwd_ms", "dtype", "algorithm", "onednn_fwd_impl");
  out += line;
  double sf = 0, sb = 0, si = 0;
  for (size_t i = 0; i < net.size(); ++i) {
    const double f = 1e3 * train[i].forward / iters, b = 1e3 * train[i].backward / iters,
                 inf = 1e3 * infer[i].forward / iters;
    sf += f, sb += b, si += inf;
    const Layer& l = net.layer(i);
    const std::string dtype = l.output_type();
    std::snprintf(line, sizeof line, "%-10s %-8s %12.3f %12.3f %12.3f  %-5s %-24s %s\n", net.specs()[i].name.c_str(),
                  layer_type_name(net.specs()[i].type), f, b, inf, dtype.c_str(), l.algorithm().c_str(), l.impl().c_str());
    out += line;
  }
  std::snprintf(line, sizeof line, "%-10s %-8s %12.3f\n%-10s %-8s %12.3f\n%-10s %-8s %12.3f %12.3f %12.3f\n", "loss", "",
                1e3 * loss_s / iters, "update", "(sgd, renorm, param reorders)", 1e3 * update_s / iters, "total", "", sf, sb, si);
  out += line;
  return out;
}

}  // namespace

namespace {

// The image size the config's dataset would give, without reading it.
InputShape bench_input(const Config& cfg) {
  InputShape in{1, 28, 28};
  switch (cfg.data.dataset) {
    case DatasetKind::fashion_mnist:
    case DatasetKind::mnist: break;
    case DatasetKind::cifar10:
    case DatasetKind::folder: in = {3, 32, 32}; break;
  }
  if (cfg.data.resize > 0) in.height = in.width = cfg.data.resize;
  return in;
}

}  // namespace

AllreduceTiming time_gradient_allreduce(const Config& cfg, int iters, Comm& comm) {
  if (iters < 1) throw Error(ErrorKind::usage, "allreduce bench", expected_found("iters >= 1", std::to_string(iters)));
  // Batch 1: the gradient's size does not depend on the batch, the memory does.
  Network net(cfg.layers, bench_input(cfg), /*batch=*/1, cfg.run.seed);
  AllreduceTiming t;
  t.ranks = comm.size();
  for (size_t i = 0; i < net.size(); ++i) t.bytes += int64_t(net.layer(i).grads().weights.size() + net.layer(i).grads().bias.size()) * 4;
  std::vector<double> ms;
  for (int it = 0; it <= iters; ++it) {  // the first round warms up
    comm.barrier();
    const auto t0 = std::chrono::steady_clock::now();
    // As a training step sums them: one sum per layer's weights and biases, all pending
    // at once (here with no backward pass to hide them behind).
    for (size_t i = net.size(); i-- > 0;) {
      LayerParams& g = net.layer(i).grads();
      comm.start_allreduce_sum(g.weights.ptr(), g.weights.size());
      comm.start_allreduce_sum(g.bias.ptr(), g.bias.size());
    }
    comm.wait_all();
    if (it > 0) ms.push_back(1e3 * std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  std::sort(ms.begin(), ms.end());
  t.median_ms = ms[ms.size() / 2];
  t.min_ms = ms.front();
  return t;
}

BenchResult run_bench(const Config& cfg, const BenchOptions& opt) {
  // No steps timed would print a rate of 0/0; negative counts would print negative rates.
  if (opt.iters < 1 || opt.warmup < 0)
    throw Error(ErrorKind::usage, "bench",
                expected_found("iters >= 1 and warmup >= 0",
                               "iters " + std::to_string(opt.iters) + ", warmup " + std::to_string(opt.warmup)));
  set_threads(cfg.run.threads);
  const InputShape in = bench_input(cfg);
  const int B = cfg.train.batch;
  Network net(cfg.layers, in, B, cfg.run.seed, NetworkOptions{cfg.conv_algorithm, cfg.train.precision, cfg.conv_algorithms});
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
  using clock = std::chrono::steady_clock;
  double loss_s = 0, update_s = 0;
  auto seconds_since = [](clock::time_point t) { return std::chrono::duration<double>(clock::now() - t).count(); };
  auto train_step = [&] {
    net.set_step(step++);
    net.forward(x.data(), Mode::train);
    auto t = clock::now();
    softmax_cross_entropy(net.logits(), y.data(), B, net.num_classes(), diff.data());
    loss_s += seconds_since(t);
    net.backward(diff.data());
    t = clock::now();
    sgd_step(net, momentum, cfg.train.lr, cfg.train.momentum, cfg.train.weight_decay, nullptr);
    renormalize_filters(net, cfg.train.renorm_radius);
    net.sync_params();
    update_s += seconds_since(t);
  };
  BenchResult r;
  for (int i = 0; i < opt.warmup; ++i) train_step();
  auto t0 = clock::now();
  for (int i = 0; i < opt.iters; ++i) train_step();
  r.train_images_per_s = double(opt.iters) * B / std::chrono::duration<double>(clock::now() - t0).count();
  for (int i = 0; i < opt.warmup; ++i) net.forward(x.data(), Mode::infer);
  t0 = clock::now();
  for (int i = 0; i < opt.iters; ++i) net.forward(x.data(), Mode::infer);
  r.infer_images_per_s = double(opt.iters) * B / std::chrono::duration<double>(clock::now() - t0).count();
  if (opt.profile) r.profile = profile_table(net, B, opt.iters, train_step, loss_s, update_s);
  return r;
}

}  // namespace ds
