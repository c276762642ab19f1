// Evaluation passes; see include/deconvscope/model/evaluate.hpp.
#include "deconvscope/model/evaluate.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <numeric>

#include "deconvscope/core/error.hpp"
#include "deconvscope/model/loss.hpp"

namespace ds {

void fill_batch(const Dataset& d, int64_t first, int n, const Normalization& norm, int batch,
                std::vector<float>& input, std::vector<int32_t>& labels) {
  const size_t per = d.image_bytes();
  input.resize(size_t(batch) * per);
  labels.assign(size_t(batch), -1);
  std::vector<int64_t> idx(static_cast<size_t>(n));
  std::iota(idx.begin(), idx.end(), first);
  std::mt19937_64 unused;
  make_batch(d, idx.data(), n, norm, Augmentation{}, unused, input.data(), labels.data());
  std::fill(input.begin() + int64_t(n) * int64_t(per), input.end(), 0.f);
  std::fill(labels.begin() + n, labels.end(), -1);
}

namespace {
std::string value_text(float v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", double(v));
  return buf;
}
}  // namespace

void check_network_finite(Network& net, const Dataset& d, const Normalization& norm, int64_t count,
                          const std::string& file, const std::string& what, bool deconvnet) {
  const int n = int(std::min<int64_t>({count, int64_t(net.batch()), int64_t(d.size())}));
  if (n <= 0) return;
  std::vector<float> input;
  std::vector<int32_t> labels;
  fill_batch(d, 0, n, norm, net.batch(), input, labels);
  for (size_t k = 0; k < input.size(); ++k)
    if (!std::isfinite(input[k]))
      throw Error(ErrorKind::snapshot, file + ": / attribute input_std",
                  "normalising the images with the file's input_mean and input_std gives " + value_text(input[k]) +
                      ": " + expected_found("finite network inputs", "a non-finite one"),
                  "the file's normalisation is not the run's: restore the file or move it away");
  const std::string hint = "its values are too large for float32 arithmetic: restore the file or move it away";
  // Deconv mode keeps the switches, so the deconvnet can run below (the analyses' path).
  net.forward(input.data(), deconvnet ? Mode::deconv : Mode::infer);
  Tensor out;
  for (size_t i = 0; i < net.size(); ++i) {
    net.read_output(int(i), out);
    // Padding rows (zero images) overflow no less than real ones; all are checked.
    for (float v : out.data)
      if (!std::isfinite(v))
        throw Error(ErrorKind::snapshot, file + ": layer " + net.specs()[i].name,
                    "the network overflows: with " + what + ", layer " + net.specs()[i].name +
                        "'s output holds " + value_text(v) + " on the first " + std::to_string(n) +
                        " images: " + expected_found("finite activations", "a non-finite one"),
                    hint);
  }
  // Finite activations can still overflow on the way down: the deconvnet multiplies by
  // the same filters again (conv2 x1e30 gave finite outputs and -inf projections, which
  // analyze then blamed on itself). Every conv layer's whole rectified output is
  // projected, a superset of the single activations the analyses project.
  std::vector<float> pixels(input.size());
  for (size_t c = 0; deconvnet && c < net.size() && net.specs()[c].type != LayerType::fc; ++c) {
    if (net.specs()[c].type != LayerType::conv) continue;
    const int top = rectified_output_layer(net.specs(), int(c));
    net.read_output(top, out);
    net.project(top, out.data.data(), pixels.data());
    for (float v : pixels)
      if (!std::isfinite(v))
        throw Error(ErrorKind::snapshot, file + ": layer " + net.specs()[c].name,
                    "the deconvnet overflows: with " + what + ", the projection of layer " + net.specs()[c].name +
                        "'s output to pixels holds " + value_text(v) + " on the first " + std::to_string(n) +
                        " images: " + expected_found("finite projections", "a non-finite one"),
                    hint);
  }
}

EvalSums evaluate_sums(Network& net, const Dataset& d, const Normalization& norm, int64_t first, int64_t count,
                       Progress* bar) {
  const int B = net.batch();
  std::vector<float> input;
  std::vector<int32_t> labels;
  EvalSums s;
  for (int64_t done = 0; done < count; done += B) {
    const int n = int(std::min<int64_t>(B, count - done));
    fill_batch(d, first + done, n, norm, B, input, labels);
    net.forward(input.data(), Mode::infer);
    const LossResult lr = softmax_cross_entropy(net.logits(), labels.data(), B, net.num_classes(), nullptr);
    s.loss_sum += lr.loss_sum;
    s.correct += lr.correct;
    if (bar) bar->update(done + n);
  }
  s.count = count;
  return s;
}

EvalResult evaluate(Network& net, const Dataset& d, const Normalization& norm, int64_t limit, Progress* bar) {
  const int64_t total = limit > 0 ? std::min<int64_t>(limit, int64_t(d.size())) : int64_t(d.size());
  const EvalSums s = evaluate_sums(net, d, norm, 0, total, bar);
  EvalResult r;
  r.count = total;
  r.loss = total ? s.loss_sum / double(total) : 0;
  r.accuracy = total ? double(s.correct) / double(total) : 0;
  return r;
}

std::vector<std::vector<int64_t>> fire_counts(Network& net, const Dataset& probe, const Normalization& norm,
                                              int64_t first, int64_t count, const std::vector<int>& convs,
                                              Progress* bar) {
  std::vector<int> out_layer;
  int last = 0;
  std::vector<std::vector<int64_t>> fired;
  for (int c : convs) {
    out_layer.push_back(rectified_output_layer(net.specs(), c));
    last = std::max(last, out_layer.back());
    fired.emplace_back(size_t(net.shapes()[size_t(c)].channels), 0);
  }
  std::vector<float> input;
  std::vector<int32_t> labels;
  Tensor act;
  const int B = net.batch();
  for (int64_t done = 0; done < count; done += B) {
    const int n = int(std::min<int64_t>(B, count - done));
    fill_batch(probe, first + done, n, norm, B, input, labels);
    net.forward(input.data(), Mode::infer, last);
    for (size_t l = 0; l < convs.size(); ++l) {
      net.read_output(out_layer[l], act);  // (B, C, H, W) plain
      const int64_t C = act.dims[1], HW = act.dims[2] * act.dims[3];
      for (int b = 0; b < n; ++b)  // padding rows past n are not images
        for (int64_t c = 0; c < C; ++c) {
          const float* p = act.ptr() + (b * C + c) * HW;
          if (std::any_of(p, p + HW, [](float v) { return v > 0.f; })) ++fired[l][size_t(c)];
        }
    }
    if (bar) bar->update(done + n);
  }
  return fired;
}

std::vector<std::vector<float>> fire_rates(Network& net, const Dataset& probe, const Normalization& norm, int64_t total,
                                           const std::vector<int>& convs, Progress* bar) {
  const std::vector<std::vector<int64_t>> fired = fire_counts(net, probe, norm, 0, total, convs, bar);
  std::vector<std::vector<float>> rates(convs.size());
  for (size_t l = 0; l < convs.size(); ++l)
    for (int64_t f : fired[l]) rates[l].push_back(total > 0 ? float(double(f) / double(total)) : std::numeric_limits<float>::quiet_NaN());
  return rates;
}

}  // namespace ds
