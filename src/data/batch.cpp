// make_batch: bytes to the normalised floats the network eats, (pixel/255 - mean) / std
// per channel through a 256-entry table, with optional augmentation: a random crop of the
// image padded by crop_pad pixels of the mean (0 after normalisation), then a random
// horizontal flip. The random draws are made first, one image after another in a fixed
// order (crop y, crop x, flip), straight from the engine's bits rather than through
// std::uniform_int_distribution, whose output differs between standard libraries: the
// same rng state gives the same batch anywhere, which resuming a run relies on. Under MPI
// each rank takes the draws of the whole global batch and uses its slice's (BatchSlice).
// A streamed dataset (streaming_folder.hpp) gives the same values through the same code.
// Leaves out colour jitter, scaling and the paper's ten-crop testing.
#include <algorithm>
#include <exception>
#include <numeric>
#include <string>
#include <vector>

#include "batch_bytes.hpp"
#include "deconvscope/core/error.hpp"
#include "deconvscope/data/dataset.hpp"
#include "deconvscope/data/streaming_folder.hpp"

namespace ds {

namespace {

struct Draw {
  int dy = 0, dx = 0;  // source offset of the crop relative to the image: in [-pad, pad]
  bool flip = false;
};

// dst (H, W) = lut[src (H, W)] shifted by (dy, dx), zeros outside, mirrored if flip.
void copy_plane(const uint8_t* src, const float* lut, int H, int W, const Draw& d, float* dst) {
  for (int y = 0; y < H; ++y) {
    float* out = dst + size_t(y) * W;
    const int sy = y + d.dy;
    if (sy < 0 || sy >= H) {
      std::fill(out, out + W, 0.f);
      continue;
    }
    const uint8_t* row = src + size_t(sy) * W;
    // Output columns x whose source column x + dx lies inside the image.
    const int x0 = std::max(0, -d.dx), x1 = std::min(W, W - d.dx);
    if (x0 >= x1) {
      std::fill(out, out + W, 0.f);
      continue;
    }
    if (!d.flip) {
      std::fill(out, out + x0, 0.f);
      for (int x = x0; x < x1; ++x) out[x] = lut[row[x + d.dx]];
      std::fill(out + x1, out + W, 0.f);
    } else {
      // The crop's column x lands at W-1-x.
      std::fill(out + (W - x0), out + W, 0.f);
      for (int x = x0; x < x1; ++x) out[W - 1 - x] = lut[row[x + d.dx]];
      std::fill(out, out + (W - x1), 0.f);
    }
  }
}

void check_indices(const Dataset& d, const int64_t* indices, int n) {
  const int64_t N = int64_t(d.size());
  for (int i = 0; i < n; ++i)
    if (indices[i] < 0 || indices[i] >= N)
      throw Error(ErrorKind::data, d.source,
                  "batch index out of range: " +
                      expected_found("0.." + std::to_string(N - 1), std::to_string(indices[i])));
}

}  // namespace

uint64_t batch_draws(const Augmentation& aug, int n) {
  if (!aug.enabled() || n <= 0) return 0;
  return uint64_t(n) * uint64_t((aug.crop_pad > 0 ? 2 : 0) + (aug.flip ? 1 : 0));
}

void make_batch(const Dataset& d, const int64_t* indices, int n, const Normalization& norm,
                const Augmentation& aug, std::mt19937_64& rng, float* out, int32_t* labels_out,
                const BatchSlice& slice) {
  if (!d.stream) return make_batch_bytes(d, indices, n, norm, aug, rng, out, labels_out, /*threads=*/true, slice);
  check_indices(d, indices, n);
  if (d.stream->take_planned(indices, n, rng, out, labels_out)) return;
  // Not the epoch's next batch (evaluation, probes): decode these images now.
  Dataset bytes;
  bytes.channels = d.channels;
  bytes.height = d.height;
  bytes.width = d.width;
  bytes.source = d.source;
  bytes.pixels.resize(size_t(std::max(n, 0)) * d.image_bytes());
  bytes.labels.resize(size_t(std::max(n, 0)));
  std::exception_ptr error;
#pragma omp parallel for schedule(dynamic)
  for (int i = 0; i < n; ++i) {
    try {
      d.stream->decode(indices[i], bytes.pixels.data() + size_t(i) * d.image_bytes());
    } catch (...) {
#pragma omp critical
      if (!error) error = std::current_exception();
    }
    bytes.labels[size_t(i)] = d.labels[size_t(indices[i])];
  }
  if (error) std::rethrow_exception(error);
  std::vector<int64_t> local(bytes.labels.size());
  std::iota(local.begin(), local.end(), 0);
  make_batch_bytes(bytes, local.data(), n, norm, aug, rng, out, labels_out, /*threads=*/true, slice);
}

void prefetch_epoch(const Dataset& d, const std::vector<int64_t>& order, int batch, const Normalization& norm,
                    const Augmentation& aug, const std::mt19937_64& rng, const BatchSlice& slice) {
  if (d.stream) d.stream->plan(order, batch, norm, aug, rng, slice);
}

void make_batch_bytes(const Dataset& d, const int64_t* indices, int n, const Normalization& norm,
                      const Augmentation& aug, std::mt19937_64& rng, float* out, int32_t* labels_out, bool threads,
                      const BatchSlice& slice) {
  const int C = d.channels, H = d.height, W = d.width;
  if (int(norm.mean.size()) != C || int(norm.std.size()) != C)
    throw Error(ErrorKind::data, d.source,
                "normalisation does not fit the images: " +
                    expected_found(std::to_string(C) + " channel means and stds",
                                   std::to_string(norm.mean.size()) + " means, " +
                                       std::to_string(norm.std.size()) + " stds"));
  if (aug.crop_pad < 0)
    throw Error(ErrorKind::config, "key data.crop_pad", expected_found("0 or more", std::to_string(aug.crop_pad)));

  // lut[c][v] = (v/255 - mean[c]) / std[c] = v * scale + shift
  std::vector<float> lut(size_t(C) * 256);
  for (int c = 0; c < C; ++c) {
    const float s = norm.std[size_t(c)] > 0 ? norm.std[size_t(c)] : 1.f;
    const float scale = 1.f / (255.f * s), shift = -norm.mean[size_t(c)] / s;
    for (int v = 0; v < 256; ++v) lut[size_t(c) * 256 + size_t(v)] = float(v) * scale + shift;
  }

  check_indices(d, indices, n);
  const int global = slice.global > 0 ? slice.global : n;
  if (slice.first < 0 || slice.first + n > global)
    throw Error(ErrorKind::usage, d.source,
                "batch slice outside its batch: " + expected_found("images within 0.." + std::to_string(global - 1),
                                                                   std::to_string(slice.first) + ".." +
                                                                       std::to_string(slice.first + n - 1)));
  // The draws of the images before this slice in the global batch (none in one process).
  rng.discard(batch_draws(aug, slice.first));
  std::vector<Draw> draws(size_t(std::max(n, 0)));
  for (int i = 0; i < n; ++i) {
    if (!aug.enabled()) continue;
    Draw& dr = draws[size_t(i)];
    if (aug.crop_pad > 0) {
      // Crop offsets uniform in [0, 2*pad] of the padded image, i.e. [-pad, pad] of the image.
      const uint64_t span = uint64_t(2 * aug.crop_pad + 1);
      dr.dy = int(rng() % span) - aug.crop_pad;
      dr.dx = int(rng() % span) - aug.crop_pad;
    }
    if (aug.flip) dr.flip = (rng() >> 63) != 0;
  }
  rng.discard(batch_draws(aug, global - slice.first - n));  // and those after it

  const size_t plane = size_t(H) * W;
  const size_t image = size_t(C) * plane;
  const bool parallel = threads && size_t(std::max(n, 0)) * image >= (size_t(1) << 18);
#pragma omp parallel for schedule(static) if (parallel)
  for (int i = 0; i < n; ++i) {
    const uint8_t* src = d.image(size_t(indices[i]));  // (C, H, W) bytes
    float* dst = out + size_t(i) * image;               // (C, H, W) floats
    const Draw& dr = draws[size_t(i)];
    for (int c = 0; c < C; ++c) {
      const float* l = lut.data() + size_t(c) * 256;
      if (dr.dy == 0 && dr.dx == 0 && !dr.flip) {
        const uint8_t* p = src + size_t(c) * plane;
        float* q = dst + size_t(c) * plane;
        for (size_t k = 0; k < plane; ++k) q[k] = l[p[k]];
      } else {
        copy_plane(src + size_t(c) * plane, l, H, W, dr, dst + size_t(c) * plane);
      }
    }
    labels_out[i] = d.labels[size_t(indices[i])];
  }
}

}  // namespace ds
