// Small helpers shared by the model tests: layer-spec builders that read like config
// lines, random tensors and parameters, and a tolerance comparison of two tensors that
// names the first element that differs.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "deconvscope/core/tensor.hpp"
#include "deconvscope/model/network.hpp"

namespace ds::testutil {

inline LayerSpec conv(const std::string& name, int out, int kh, int kw, int stride, int pad) {
  LayerSpec s;
  s.name = name;
  s.type = LayerType::conv;
  s.out = out;
  s.kernel = {kh, kw};
  s.stride = {stride, stride};
  s.pad = {pad, pad};
  return s;
}
inline LayerSpec relu(const std::string& name) {
  LayerSpec s;
  s.name = name;
  s.type = LayerType::relu;
  return s;
}
inline LayerSpec maxpool(const std::string& name, int kernel, int stride, int pad) {
  LayerSpec s;
  s.name = name;
  s.type = LayerType::maxpool;
  s.kernel = {kernel, kernel};
  s.stride = {stride, stride};
  s.pad = {pad, pad};
  return s;
}
inline LayerSpec lrn(const std::string& name, int size, float alpha, float beta, float k) {
  LayerSpec s;
  s.name = name;
  s.type = LayerType::lrn;
  s.size = size;
  s.alpha = alpha;
  s.beta = beta;
  s.k = k;
  return s;
}
inline LayerSpec fc(const std::string& name, int out) {
  LayerSpec s;
  s.name = name;
  s.type = LayerType::fc;
  s.out = out;
  return s;
}
inline LayerSpec dropout(const std::string& name, float rate) {
  LayerSpec s;
  s.name = name;
  s.type = LayerType::dropout;
  s.rate = rate;
  return s;
}

// Uniform in [lo, hi): continuous values, so max-pool ties and ReLU zeros do not happen.
inline Tensor random_tensor(std::vector<int64_t> dims, std::mt19937& rng, float lo = -1.f, float hi = 1.f) {
  Tensor t(std::move(dims));
  std::uniform_real_distribution<float> u(lo, hi);
  for (float& v : t.data) v = u(rng);
  return t;
}

// Random weights with a fan-in scale that keeps activations of order 1, random biases;
// written into the network's plain master copies and synced.
inline void randomize_params(Network& net, std::mt19937& rng, float gain = 1.f) {
  for (size_t i = 0; i < net.size(); ++i) {
    LayerParams& p = net.layer(i).params();
    if (p.weights.empty()) continue;
    const int64_t fan_in = int64_t(p.weights.size()) / p.weights.dims[0];
    const float a = gain * std::sqrt(3.f / float(fan_in));
    std::uniform_real_distribution<float> w(-a, a), b(-0.2f, 0.2f);
    for (float& v : p.weights.data) v = w(rng);
    for (float& v : p.bias.data) v = b(rng);
  }
  net.sync_params();
}

// Input batch of the network's shape.
inline Tensor random_input(const Network& net, std::mt19937& rng) {
  return random_tensor({net.batch(), net.input().channels, net.input().height, net.input().width}, rng);
}

// |a - b| <= atol + rtol * max(|a|, |b|) everywhere, dims equal.
inline ::testing::AssertionResult tensors_close(const Tensor& got, const Tensor& want, float rtol, float atol) {
  if (got.dims != want.dims)
    return ::testing::AssertionFailure() << "dims " << shape_str(got.dims) << " vs expected " << shape_str(want.dims);
  size_t bad = 0, first = 0;
  double worst = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    const double a = got.data[i], b = want.data[i];
    const double err = std::abs(a - b), tol = atol + rtol * std::max(std::abs(a), std::abs(b));
    if (!(err <= tol)) {
      if (bad++ == 0) first = i;
      worst = std::max(worst, err);
    }
  }
  if (bad == 0) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << bad << " of " << got.size() << " elements differ; first at flat index "
                                       << first << ": got " << got.data[first] << ", expected " << want.data[first]
                                       << " (worst abs error " << worst << ")";
}

// Largest |value| of a tensor, to scale an absolute tolerance.
inline float max_abs(const Tensor& t) {
  float m = 0;
  for (float v : t.data) m = std::max(m, std::abs(v));
  return m;
}

}  // namespace ds::testutil
