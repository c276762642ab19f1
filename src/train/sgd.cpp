// The optimizer and what goes with it; see include/deconvscope/train/sgd.hpp.
#include "deconvscope/train/sgd.hpp"

#include <cmath>
#include <string>

#include "deconvscope/core/error.hpp"

#include "deconvscope/model/network.hpp"

namespace ds {

double rms(const std::vector<float>& v) {
  if (v.empty()) return 0;
  double s = 0;
  for (float x : v) s += double(x) * x;
  return std::sqrt(s / double(v.size()));
}

void init_params(Network& net, const TrainConfig& cfg, std::mt19937_64& rng) {
  for (size_t i = 0; i < net.size(); ++i) {
    LayerParams& p = net.layer(i).params();
    if (p.weights.empty()) continue;
    const int64_t fan_in = int64_t(p.weights.size()) / p.weights.dims[0];
    double std = 0;
    switch (cfg.init) {
      case InitScheme::he: std = std::sqrt(2.0 / double(fan_in)); break;
      case InitScheme::gaussian: std = double(cfg.init_std); break;
    }
    std::normal_distribution<double> normal(0.0, std);
    for (float& w : p.weights.data) w = float(normal(rng));
    // deconvscope never writes a non-finite weight, its own first snapshot included.
    for (float w : p.weights.data)
      if (!std::isfinite(w))
        throw Error(ErrorKind::config, "key train.init_std", "layer " + net.layer(i).spec().name +
                    ": the init draws non-finite weights: " + expected_found("a std whose draws fit in float32",
                    "std " + std::to_string(std)), "use train.init = he, or a train.init_std such as 0.01");
    std::fill(p.bias.data.begin(), p.bias.data.end(), 0.f);
  }
  net.sync_params();
}

namespace {

// v = mu * v + g + wd * w; w -= lr * v; returns sum of (lr * v)^2.
double update(std::vector<float>& w, const std::vector<float>& g, std::vector<float>& v, float lr, float mu,
              float wd) {
  double sq = 0;
  const int64_t n = int64_t(w.size());
#pragma omp parallel for reduction(+ : sq) if (n > 65536)
  for (int64_t i = 0; i < n; ++i) {
    v[i] = mu * v[i] + g[i] + wd * w[i];
    const float u = lr * v[i];
    w[i] -= u;
    sq += double(u) * u;
  }
  return sq;
}

}  // namespace

void sgd_step(Network& net, std::vector<LayerParams>& momentum, float lr, float mu, float wd,
              std::vector<UpdateStats>* stats) {
  if (momentum.size() != net.size()) {
    momentum.assign(net.size(), LayerParams{});
    for (size_t i = 0; i < net.size(); ++i) {
      const LayerParams& p = net.layer(i).params();
      if (p.weights.empty()) continue;
      momentum[i].weights = Tensor(p.weights.dims);
      momentum[i].bias = Tensor(p.bias.dims);
    }
  }
  if (stats) stats->assign(net.size(), UpdateStats{});
  for (size_t i = 0; i < net.size(); ++i) {
    LayerParams& p = net.layer(i).params();
    if (p.weights.empty()) continue;
    const LayerParams& g = net.layer(i).grads();
    if (stats) {
      (*stats)[i].weight_rms = rms(p.weights.data);
      (*stats)[i].grad_rms = rms(g.weights.data);
    }
    const double sq = update(p.weights.data, g.weights.data, momentum[i].weights.data, lr, mu, wd);
    update(p.bias.data, g.bias.data, momentum[i].bias.data, lr, mu, 0.f);
    if (stats) (*stats)[i].update_rms = std::sqrt(sq / double(p.weights.size()));
  }
}

int renormalize_filters(Network& net, float radius) {
  if (radius <= 0) return 0;
  int scaled = 0;
  for (size_t i = 0; i < net.size(); ++i) {
    if (net.specs()[i].type != LayerType::conv) continue;
    Tensor& w = net.layer(i).params().weights;  // (O, I, kh, kw)
    const size_t per = w.size() / size_t(w.dims[0]);
    for (int64_t o = 0; o < w.dims[0]; ++o) {
      float* f = w.ptr() + size_t(o) * per;
      double s = 0;
      for (size_t j = 0; j < per; ++j) s += double(f[j]) * f[j];
      const double r = std::sqrt(s / double(per));
      if (r <= radius) continue;
      const float scale = float(radius / r);
      for (size_t j = 0; j < per; ++j) f[j] *= scale;
      ++scaled;
    }
  }
  return scaled;
}

float step_schedule_lr(const TrainConfig& cfg, int epoch) {
  switch (cfg.lr_schedule) {
    case LrSchedule::step: break;
    case LrSchedule::none:
    case LrSchedule::plateau: return cfg.lr;
  }
  if (cfg.lr_step <= 0) return cfg.lr;
  return cfg.lr * float(std::pow(double(cfg.lr_gamma), double((epoch - 1) / cfg.lr_step)));
}

void plateau_update(const TrainConfig& cfg, float val_loss, OptimizerState& state) {
  if (state.epochs_since_best < 0 || val_loss < state.best_val_loss - 1e-4f) {
    state.best_val_loss = val_loss;
    state.epochs_since_best = 0;
    return;
  }
  if (++state.epochs_since_best >= cfg.lr_patience) {
    state.lr *= cfg.lr_gamma;
    state.epochs_since_best = 0;
  }
}

}  // namespace ds
