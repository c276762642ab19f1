// The finite-difference gradient checker; see gradcheck.hpp.
#include "model/gradcheck.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>
#include <sstream>
#include <stdexcept>

#include "model/naive.hpp"

namespace ds::gradcheck {

namespace {

// Which entries of a tensor of n elements to check: all, or `samples` distinct ones.
std::vector<size_t> pick(size_t n, int samples, std::mt19937& rng) {
  std::vector<size_t> idx(n);
  std::iota(idx.begin(), idx.end(), size_t(0));
  if (n > size_t(samples)) {
    std::shuffle(idx.begin(), idx.end(), rng);
    idx.resize(size_t(samples));
  }
  return idx;
}

// Plain (N, C, H, W) copy of the gradient of the input, read from layer 0's diff_src
// through a reorder (it may be in any layout).
Tensor read_input_grad(Network& net) {
  const dnnl::memory& g = net.layer(0).diff_src();
  if (!g) throw std::logic_error("gradcheck: layer 0 has no diff_src");
  Tensor t({net.batch(), net.input().channels, net.input().height, net.input().width});
  dnnl::memory::desc plain_md(t.dims, dnnl::memory::data_type::f32, dnnl::memory::format_tag::nchw);
  dnnl::engine eng = g.get_engine();
  dnnl::stream strm(eng);
  dnnl::memory plain(plain_md, eng, t.ptr());
  dnnl::reorder(g, plain).execute(strm, const_cast<dnnl::memory&>(g), plain);
  strm.wait();
  return t;
}

// Losses at p - eps, p, p + eps of one entry, and the steps float really took.
struct Probe {
  double down, mid, up;
  double step_down, step_up;
};

// Compares one entry and records it in r. A kink inside [p - eps, p + eps] (a ReLU input
// or a max-pool runner-up crossing) shows as one-sided differences that disagree; the
// central difference is then meaningless there and the entry is skipped, not failed.
// A wrong analytic gradient cannot hide this way: it leaves the one-sided differences
// of a smooth loss in agreement.
void compare(Result& r, const std::string& what, double analytic, const Probe& p, const Options& o) {
  const double numeric = (p.up - p.down) / (p.step_up + p.step_down);
  const double fwd = (p.up - p.mid) / p.step_up, bwd = (p.mid - p.down) / p.step_down;
  const double tol = std::max(double(o.atol), double(o.rtol) * std::max(std::abs(analytic), std::abs(numeric)));
  if (std::abs(fwd - bwd) > tol) {
    ++r.skipped;
    return;
  }
  ++r.checked;
  const double ratio = std::abs(analytic - numeric) / tol;
  r.worst_ratio = std::max(r.worst_ratio, ratio);
  if (!(ratio <= 1.0)) {
    std::ostringstream m;
    m << what << ": analytic " << analytic << ", numeric " << numeric;
    r.failures.push_back(m.str());
  }
}

}  // namespace

std::string Result::summary() const {
  std::ostringstream m;
  m << checked << " entries checked, " << skipped << " skipped at kinks, " << failures.size()
    << " failed, worst |a-n|/tol " << worst_ratio;
  for (size_t i = 0; i < failures.size() && i < 10; ++i) m << "\n  " << failures[i];
  return m.str();
}

bool Result::ok() const { return failures.empty() && checked > 0 && skipped * 5 <= checked; }

double loss_at(Network& net, const Tensor& input, const std::vector<int32_t>& labels, uint64_t step) {
  net.set_step(step);
  net.forward(input.ptr(), Mode::train);
  Tensor logits({net.batch(), net.num_classes()});
  std::copy(net.logits(), net.logits() + logits.size(), logits.data.begin());
  return naive::softmax_cross_entropy(logits, labels);
}

Result check(Network& net, const Tensor& input, const std::vector<int32_t>& labels, const Options& o) {
  if (o.check_input && !(net.specs()[0].type == LayerType::dropout && net.specs()[0].rate == 0.f))
    throw std::invalid_argument("gradcheck: check_input needs layer 0 to be a dropout with rate 0");

  // Analytic gradients: one forward at the step, the loss gradient from the reference
  // softmax cross-entropy (the library's own is tested in loss_test.cpp), one backward.
  net.set_step(o.step);
  net.forward(input.ptr(), Mode::train);
  Tensor logits({net.batch(), net.num_classes()}), diff;
  std::copy(net.logits(), net.logits() + logits.size(), logits.data.begin());
  const double mid = naive::softmax_cross_entropy(logits, labels, &diff);
  net.backward(diff.ptr());
  std::vector<LayerParams> analytic;
  for (size_t i = 0; i < net.size(); ++i) analytic.push_back(net.layer(i).grads());
  Tensor input_grad;
  if (o.check_input) input_grad = read_input_grad(net);

  Result r;
  std::mt19937 rng(o.seed);
  for (size_t i = 0; i < net.size(); ++i) {
    for (int which = 0; which < 2; ++which) {
      Tensor& p = which == 0 ? net.layer(i).params().weights : net.layer(i).params().bias;
      const Tensor& a = which == 0 ? analytic[i].weights : analytic[i].bias;
      if (p.empty()) continue;
      for (size_t k : pick(p.size(), o.samples, rng)) {
        const float saved = p.data[k], hi = saved + o.eps, lo = saved - o.eps;
        Probe pr{0, mid, 0, double(saved) - lo, double(hi) - saved};  // the steps float really took
        p.data[k] = hi;
        net.sync_params();
        pr.up = loss_at(net, input, labels, o.step);
        p.data[k] = lo;
        net.sync_params();
        pr.down = loss_at(net, input, labels, o.step);
        p.data[k] = saved;
        net.sync_params();
        compare(r, "layer " + net.specs()[i].name + (which == 0 ? " weights[" : " bias[") + std::to_string(k) + "]",
                a.data[k], pr, o);
      }
    }
  }
  if (o.check_input) {
    Tensor x = input;
    for (size_t k : pick(x.size(), o.samples, rng)) {
      const float saved = x.data[k], hi = saved + o.eps, lo = saved - o.eps;
      Probe pr{0, mid, 0, double(saved) - lo, double(hi) - saved};
      x.data[k] = hi;
      pr.up = loss_at(net, x, labels, o.step);
      x.data[k] = lo;
      pr.down = loss_at(net, x, labels, o.step);
      x.data[k] = saved;
      compare(r, "input[" + std::to_string(k) + "]", input_grad.data[k], pr, o);
    }
  }
  return r;
}

}  // namespace ds::gradcheck
