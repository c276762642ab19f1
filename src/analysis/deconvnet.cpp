// Scan and projection; see include/deconvscope/analysis/deconvnet.hpp.
#include "deconvscope/analysis/deconvnet.hpp"

#include <algorithm>
#include <cstring>
#include <limits>

#include "deconvscope/core/comm.hpp"
#include "deconvscope/core/error.hpp"
#include "deconvscope/model/evaluate.hpp"

namespace ds {

Window receptive_field(const std::vector<LayerSpec>& specs, const InputShape& in, int layer, int y, int x) {
  // Walk the inclusive range [lo, hi] of positions down to the input, unclipped.
  int64_t y_lo = y, y_hi = y, x_lo = x, x_hi = x;
  for (int i = layer; i >= 0; --i) {
    const LayerSpec& s = specs[size_t(i)];
    if (s.type != LayerType::conv && s.type != LayerType::maxpool) continue;
    y_lo = y_lo * s.stride[0] - s.pad[0];
    y_hi = y_hi * s.stride[0] - s.pad[0] + s.kernel[0] - 1;
    x_lo = x_lo * s.stride[1] - s.pad[1];
    x_hi = x_hi * s.stride[1] - s.pad[1] + s.kernel[1] - 1;
  }
  Window w;
  w.y0 = int32_t(std::max<int64_t>(0, y_lo));
  w.x0 = int32_t(std::max<int64_t>(0, x_lo));
  w.y1 = int32_t(std::min<int64_t>(in.height, y_hi + 1));
  w.x1 = int32_t(std::min<int64_t>(in.width, x_hi + 1));
  return w;
}

namespace {

// Strongest first; exact ties to the lower image index.
bool stronger(const Activation& a, const Activation& b) {
  if (a.value != b.value) return a.value > b.value;
  return a.image < b.image;
}

// Keeps the k strongest of one feature in a min-heap (weakest on top).
struct TopK {
  std::vector<Activation> heap;
  void offer(const Activation& a, int k) {
    if (int(heap.size()) < k) {
      heap.push_back(a);
      std::push_heap(heap.begin(), heap.end(), stronger);
    } else if (stronger(a, heap.front())) {
      std::pop_heap(heap.begin(), heap.end(), stronger);
      heap.back() = a;
      std::push_heap(heap.begin(), heap.end(), stronger);
    }
  }
};

// One batch of layer `out`'s output: each image's best position per channel (the model's
// channel_maxima, read where oneDNN left it) is offered to that channel's top-k.
// rectified: the output is a ReLU's, where 0 everywhere means the feature did not fire on
// that image; such an image is not offered, so a feature that never fired keeps image -1.
void scan_output(const Network& net, int out, int64_t first, int n, int k, bool rectified, std::vector<TopK>& top,
                 std::vector<float>& best, std::vector<int32_t>& where) {
  const LayerShape& s = net.shapes()[size_t(out)];
  const int64_t C = s.channels, W = s.width;
  best.resize(size_t(n) * size_t(C));
  where.resize(best.size());
  net.channel_maxima(out, n, best.data(), where.data());
#pragma omp parallel for schedule(static)
  for (int64_t c = 0; c < C; ++c)
    for (int b = 0; b < n; ++b) {
      const float v = best[size_t(b * C + c)];
      if (rectified && !(v > 0.f)) continue;
      const int32_t at = where[size_t(b * C + c)];
      top[size_t(c)].offer(Activation{first + b, int32_t(at / W), int32_t(at % W), v}, k);
    }
}

// Under MPI: every rank's top-k of every feature (its share of the probe), merged into the
// top-k of the whole probe. Each image lives on one rank, so the union of the ranks'
// lists holds the k strongest; sorting it by `stronger` breaks ties by image index as a
// single scan does. Every rank ends with the same result.
void merge_across_ranks(Comm& comm, const std::vector<ScanRequest>& requests,
                        std::vector<std::vector<Activation>>& result) {
  for (size_t r = 0; r < requests.size(); ++r) {
    const size_t k = size_t(requests[r].k), n = result[r].size();  // n = features * k
    const std::vector<char> bytes = comm.all_gather_bytes(result[r].data(), n * sizeof(Activation));
    std::vector<Activation> all(n * size_t(comm.size()));
    std::memcpy(all.data(), bytes.data(), bytes.size());
    std::vector<Activation> candidates;
    for (size_t f = 0; f * k < n; ++f) {
      candidates.clear();
      for (int rank = 0; rank < comm.size(); ++rank)
        for (size_t j = 0; j < k; ++j) {
          const Activation& a = all[size_t(rank) * n + f * k + j];
          if (a.image >= 0) candidates.push_back(a);
        }
      std::sort(candidates.begin(), candidates.end(), stronger);
      candidates.resize(k);  // missing ranks: image -1, as in one scan
      std::copy(candidates.begin(), candidates.end(), result[r].begin() + long(f * k));
    }
  }
}

}  // namespace

std::vector<std::vector<Activation>> scan_topk(Network& net, const Dataset& probe, const Normalization& norm,
                                               int64_t count, const std::vector<ScanRequest>& requests,
                                               Progress* bar, Comm* comm) {
  const int64_t total = std::min<int64_t>(count > 0 ? count : int64_t(probe.size()), int64_t(probe.size()));
  // Under mpirun each rank scans a contiguous share of the probe's batches (all of it in
  // one process), each image in the batch slot a single scan gives it.
  const int rank = comm ? comm->rank() : 0, ranks = comm ? comm->size() : 1;
  const Share share = share_of_batches(total, net.batch(), rank, ranks);
  int last = 0;
  std::vector<int> out_layer;
  std::vector<std::vector<TopK>> tops;
  for (const ScanRequest& r : requests) {
    out_layer.push_back(rectified_output_layer(net.specs(), r.conv));
    last = std::max(last, out_layer.back());
    tops.emplace_back(size_t(net.shapes()[size_t(r.conv)].channels));
  }
  std::vector<float> input, best;
  std::vector<int32_t> labels, where;
  const int B = net.batch();
  for (int64_t done = 0; done < share.count; done += B) {
    const int64_t first = share.first + done;
    const int n = int(std::min<int64_t>(B, share.count - done));
    fill_batch(probe, first, n, norm, B, input, labels);
    net.forward(input.data(), Mode::infer, last);
    for (size_t r = 0; r < requests.size(); ++r)
      scan_output(net, out_layer[r], first, n, requests[r].k, out_layer[r] != requests[r].conv, tops[r], best, where);
    // Rank 0's bar counts for the job: every rank scans a share of the same size.
    if (bar) bar->update(std::min<int64_t>(total, (done + n) * ranks));
  }
  std::vector<std::vector<Activation>> result(requests.size());
  for (size_t r = 0; r < requests.size(); ++r) {
    const int k = requests[r].k;
    for (TopK& t : tops[r]) {
      std::sort(t.heap.begin(), t.heap.end(), stronger);
      t.heap.resize(size_t(k));  // missing ranks (fewer images fired than k): image -1
      result[r].insert(result[r].end(), t.heap.begin(), t.heap.end());
    }
  }
  if (ranks > 1) merge_across_ranks(*comm, requests, result);
  return result;
}

void project_activations(Network& net, const Dataset& probe, const Normalization& norm, int conv,
                         const std::vector<int32_t>& features, const std::vector<Activation>& acts, float* out) {
  if (features.size() != acts.size())
    throw Error(ErrorKind::usage, "layer " + net.specs()[size_t(conv)].name,
                "project_activations: " + expected_found(std::to_string(acts.size()) + " feature indices",
                                                         std::to_string(features.size())));
  const int top = rectified_output_layer(net.specs(), conv);
  const LayerShape& s = net.shapes()[size_t(top)];
  const InputShape& in = net.input();
  const size_t image_size = size_t(in.channels) * in.height * in.width;
  const size_t act_size = size_t(s.channels) * s.height * s.width;
  const int B = net.batch();
  std::vector<float> input(size_t(B) * image_size), signal(size_t(B) * act_size), result(size_t(B) * image_size);
  std::vector<int64_t> images(static_cast<size_t>(B));
  std::vector<int32_t> labels(static_cast<size_t>(B));
  std::mt19937_64 unused;
  for (size_t first = 0; first < acts.size(); first += size_t(B)) {
    const int n = int(std::min<size_t>(size_t(B), acts.size() - first));
    // One activation per batch slot, each with its own image and so its own switches.
    for (int b = 0; b < B; ++b) images[size_t(b)] = b < n && acts[first + b].image >= 0 ? acts[first + b].image : 0;
    make_batch(probe, images.data(), B, norm, Augmentation{}, unused, input.data(), labels.data());
    net.forward(input.data(), Mode::deconv, top);
    std::fill(signal.begin(), signal.end(), 0.f);
    for (int b = 0; b < n; ++b) {
      const Activation& a = acts[first + size_t(b)];
      if (a.image < 0) continue;
      const int32_t f = features[first + size_t(b)];
      if (f < 0 || f >= s.channels || a.y < 0 || a.y >= s.height || a.x < 0 || a.x >= s.width)
        throw Error(ErrorKind::usage, "layer " + net.specs()[size_t(conv)].name,
                    "activation position outside the layer's output");
      signal[size_t(b) * act_size + (size_t(f) * s.height + size_t(a.y)) * s.width + size_t(a.x)] = a.value;
    }
    net.project(top, signal.data(), result.data());
    for (int b = 0; b < n; ++b) {
      float* o = out + (first + size_t(b)) * image_size;
      if (acts[first + size_t(b)].image < 0) std::fill(o, o + image_size, 0.f);
      else std::copy(result.begin() + long(size_t(b) * image_size), result.begin() + long(size_t(b + 1) * image_size), o);
    }
  }
}

}  // namespace ds
