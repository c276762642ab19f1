// Helpers shared by the training and analysis tests: a fresh temp folder, a file read
// whole, a synthetic and easily learnable MNIST-format (IDX) dataset written to disk, and
// the command-line arguments of a tiny run that trains on it in a second or two.
//
// The dataset: 12x12 grey images, 10 classes; class c is a bright 3x3 blob at its own
// position over dim noise, so a conv + pool + fc network separates them in a few epochs.
// Leaves out: gzip (the data tests cover it), other datasets.
#pragma once

#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace ds::testutil {

// A new empty folder under the system temp folder; `tag` makes it recognisable.
inline std::string make_temp_dir(const std::string& tag) {
  std::string pattern = (std::filesystem::temp_directory_path() / ("deconvscope-" + tag + "-XXXXXX")).string();
  if (!mkdtemp(pattern.data())) throw std::runtime_error("mkdtemp failed for " + pattern);
  return pattern;
}

// The whole of a file, as bytes; empty if it cannot be read.
inline std::string read_text(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::ostringstream s;
  s << f.rdbuf();
  return s.str();
}

constexpr int kSynthSide = 12;
constexpr int kSynthClasses = 10;

// Top-left corner of class c's blob; the blobs do not overlap.
inline std::pair<int, int> synth_blob(int c) {
  static const int pos[kSynthClasses][2] = {{0, 0}, {0, 4}, {0, 8}, {4, 0}, {4, 4},
                                            {4, 8}, {8, 0}, {8, 4}, {8, 8}, {2, 6}};
  return {pos[c][0], pos[c][1]};
}

// n images (n, 12, 12) and labels; label of image i is i % 10 (balanced, interleaved).
inline void synth_images(int n, uint64_t seed, std::vector<uint8_t>& pixels, std::vector<uint8_t>& labels) {
  std::mt19937_64 rng(seed);
  std::uniform_int_distribution<int> noise(0, 40), bright(180, 255);
  pixels.assign(size_t(n) * kSynthSide * kSynthSide, 0);
  labels.assign(size_t(n), 0);
  for (int i = 0; i < n; ++i) {
    const int c = i % kSynthClasses;
    labels[size_t(i)] = uint8_t(c);
    uint8_t* img = pixels.data() + size_t(i) * kSynthSide * kSynthSide;
    for (int k = 0; k < kSynthSide * kSynthSide; ++k) img[k] = uint8_t(noise(rng));
    const auto [y0, x0] = synth_blob(c);
    for (int y = y0; y < y0 + 3; ++y)
      for (int x = x0; x < x0 + 3; ++x) img[y * kSynthSide + x] = uint8_t(bright(rng));
  }
}

inline void put_be32(std::ofstream& f, uint32_t v) {
  const char b[4] = {char(v >> 24), char(v >> 16), char(v >> 8), char(v)};
  f.write(b, 4);
}

inline void write_idx_pair(const std::string& dir, const std::string& prefix, int n, uint64_t seed) {
  std::vector<uint8_t> pixels, labels;
  synth_images(n, seed, pixels, labels);
  std::ofstream img(dir + "/" + prefix + "-images-idx3-ubyte", std::ios::binary);
  put_be32(img, 0x00000803);
  put_be32(img, uint32_t(n));
  put_be32(img, kSynthSide);
  put_be32(img, kSynthSide);
  img.write(reinterpret_cast<const char*>(pixels.data()), std::streamsize(pixels.size()));
  std::ofstream lab(dir + "/" + prefix + "-labels-idx1-ubyte", std::ios::binary);
  put_be32(lab, 0x00000801);
  put_be32(lab, uint32_t(n));
  lab.write(reinterpret_cast<const char*>(labels.data()), std::streamsize(labels.size()));
  if (!img || !lab) throw std::runtime_error("could not write the synthetic IDX files in " + dir);
}

// Writes train (n_train images) and t10k (n_test) IDX files into dir.
inline void write_synthetic_mnist(const std::string& dir, int n_train = 300, int n_test = 100) {
  write_idx_pair(dir, "train", n_train, /*seed=*/11);
  write_idx_pair(dir, "t10k", n_test, /*seed=*/22);
}

// Arguments for ds::load_config: a tiny network on the synthetic data in data_dir, run
// folder run_dir; `extra` is appended (later keys override nothing: each key once).
inline std::vector<std::string> tiny_run_args(const std::string& data_dir, const std::string& run_dir,
                                              std::vector<std::string> extra = {}) {
  std::vector<std::string> a = {
      "--run.name", "tiny", "--run.dir", run_dir, "--run.seed", "3", "--run.threads", "2",
      "--data.dataset", "mnist", "--data.path", data_dir,
      "--model.layer", "c1 conv out=4 kernel=3 pad=1",  // 4x12x12
      "--model.layer", "r1 relu",
      "--model.layer", "p1 maxpool kernel=2",           // 4x6x6
      "--model.layer", "c2 conv out=6 kernel=3 pad=1",  // 6x6x6
      "--model.layer", "r2 relu",
      "--model.layer", "f3 fc out=10",
      "--train.batch", "16", "--train.lr", "0.05", "--train.init", "he", "--train.probe_batch", "32"};
  a.insert(a.end(), extra.begin(), extra.end());
  return a;
}

}  // namespace ds::testutil
