// load_dataset: turns data.* config keys into train and test sets (picking the reader,
// the default path, the files inside the folder, limits and resizing), and the per-channel
// normalisation computed from the training set. The formats themselves live in idx.cpp,
// cifar.cpp, folder.cpp and streaming_folder.cpp (a folder too large for memory).
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <iostream>
#include <string>
#include <vector>

#include "deconvscope/core/error.hpp"
#include "deconvscope/core/regular_file.hpp"
#include "deconvscope/data/dataset.hpp"
#include "deconvscope/data/streaming_folder.hpp"
#include "folder_splits.hpp"

namespace fs = std::filesystem;

namespace ds {

namespace {

constexpr const char* kFashionMnistPath = "/usr/share/datasets/fashion-mnist";

// `name` or `name.gz` inside folder, whichever exists (plain first: it reads faster).
std::string find_idx_file(const std::string& folder, const std::string& name, const std::string& hint) {
  std::error_code ec;
  const fs::path plain = fs::path(folder) / name;
  if (fs::is_regular_file(plain, ec)) return plain.string();
  const fs::path gz = fs::path(folder) / (name + ".gz");
  if (fs::is_regular_file(gz, ec)) return gz.string();
  throw Error(ErrorKind::data, plain.string(), "missing (neither " + name + " nor " + name + ".gz is there)", hint);
}

void require_folder(const std::string& path, const std::string& hint) {
  std::error_code ec;
  if (!fs::exists(path, ec)) throw Error(ErrorKind::data, path, "no such folder", hint);
  if (!fs::is_directory(path, ec)) throw Error(ErrorKind::data, path, "not a folder", hint);
}

DataSplits load_idx(const DataConfig& cfg, const std::string& path, const std::string& hint) {
  require_folder(path, hint);
  DataSplits s;
  s.path = path;
  s.train = read_idx_pair(find_idx_file(path, "train-images-idx3-ubyte", hint),
                          find_idx_file(path, "train-labels-idx1-ubyte", hint), cfg.train_limit);
  s.test = read_idx_pair(find_idx_file(path, "t10k-images-idx3-ubyte", hint),
                         find_idx_file(path, "t10k-labels-idx1-ubyte", hint), cfg.test_limit);
  return s;
}

// batches.meta.txt lists one class name a line; anything but 10 names is ignored.
std::vector<std::string> cifar_class_names(const std::string& folder, std::vector<std::string> fallback) {
  const fs::path meta = fs::path(folder) / "batches.meta.txt";
  std::error_code ec;
  if (!fs::exists(meta, ec)) return fallback;
  FileRules rules;
  rules.kind = ErrorKind::data;
  rules.what = "a list of class names";
  rules.max_bytes = 1 << 20;
  std::istringstream in(read_regular_text(meta.string(), rules));
  std::vector<std::string> names;
  std::string line;
  while (std::getline(in, line)) {
    const size_t b = line.find_first_not_of(" \t\r");
    if (b == std::string::npos) continue;
    const size_t e = line.find_last_not_of(" \t\r");
    names.push_back(line.substr(b, e - b + 1));
  }
  if (names.size() != fallback.size()) {
    std::cerr << "deconvscope: warning: " << meta.string() << " holds " << names.size()
              << " class names, expected " << fallback.size() << "; using the standard CIFAR-10 names\n";
    return fallback;
  }
  return names;
}

DataSplits load_cifar(const DataConfig& cfg, const std::string& path) {
  const std::string hint = "data.path must be the folder cifar-10-batches-bin from cifar-10-binary.tar.gz";
  require_folder(path, hint);
  std::vector<std::string> train_files;
  for (int i = 1; i <= 5; ++i) train_files.push_back((fs::path(path) / ("data_batch_" + std::to_string(i) + ".bin")).string());
  DataSplits s;
  s.path = path;
  s.train = read_cifar_batches(train_files, cfg.train_limit);
  s.test = read_cifar_batches({(fs::path(path) / "test_batch.bin").string()}, cfg.test_limit);
  s.train.source = s.test.source = path;
  s.train.class_names = s.test.class_names = cifar_class_names(path, s.train.class_names);
  return s;
}

void check_limit(int64_t v, const char* key) {
  if (v < 0)
    throw Error(ErrorKind::config, std::string("key ") + key,
                expected_found("0 (all) or a positive number of images", std::to_string(v)));
}

// Held in memory, or streamed when data.streaming says so or the decoded set would not fit
// in data.memory_budget_mb.
DataSplits load_folder(const DataConfig& cfg, const std::string& path) {
  if (cfg.memory_budget_mb < 1)
    throw Error(ErrorKind::config, "key data.memory_budget_mb",
                expected_found("1 or more MiB", std::to_string(cfg.memory_budget_mb)));
  if (cfg.reader_threads < 1 || cfg.prefetch_batches < 1)
    throw Error(ErrorKind::config, cfg.reader_threads < 1 ? "key data.reader_threads" : "key data.prefetch_batches",
                expected_found("1 or more", std::to_string(std::min(cfg.reader_threads, cfg.prefetch_batches))));
  const FolderListing listing = list_image_folder_splits(path, cfg.train_limit, cfg.test_limit);
  bool stream = false;
  std::string why;
  switch (cfg.streaming) {
    case Streaming::on: stream = true; break;
    case Streaming::off: stream = false; break;
    case Streaming::automatic: {
      const uint64_t bytes = estimate_folder_bytes(listing, cfg.resize);
      stream = bytes > uint64_t(cfg.memory_budget_mb) << 20;
      if (stream)
        why = "the decoded images would take about " + std::to_string(bytes >> 20) +
              " MiB, over data.memory_budget_mb = " + std::to_string(cfg.memory_budget_mb);
      break;
    }
  }
  if (!stream) return read_image_folder_splits(listing, path, cfg.resize, skips_bad_images(cfg.bad_images));
  DataSplits s = stream_image_folder_splits(listing, path, cfg);
  if (!why.empty()) s.notes.push_back(why);
  return s;
}

}  // namespace

DataSplits load_dataset(const DataConfig& cfg) {
  check_limit(cfg.train_limit, "data.train_limit");
  check_limit(cfg.test_limit, "data.test_limit");
  if (cfg.resize < 0)
    throw Error(ErrorKind::config, "key data.resize", expected_found("0 (keep) or a size in pixels", std::to_string(cfg.resize)));

  std::string path = cfg.path;
  if (path.empty()) {
    if (cfg.dataset != DatasetKind::fashion_mnist)
      throw Error(ErrorKind::config, "key data.path",
                  "data.dataset = " + std::string(to_string(cfg.dataset)) + " needs data.path",
                  "set data.path to the folder holding the dataset");
    path = kFashionMnistPath;
  }

  const std::string idx_hint = path == kFashionMnistPath
                                   ? "apt-get install dataset-fashion-mnist, or set data.path"
                                   : "data.path must hold train-images-idx3-ubyte, train-labels-idx1-ubyte, "
                                     "t10k-images-idx3-ubyte and t10k-labels-idx1-ubyte (optionally .gz)";
  DataSplits s;
  bool resized = false;  // the folder readers resize while decoding
  switch (cfg.dataset) {
    case DatasetKind::fashion_mnist:
      s = load_idx(cfg, path, idx_hint);
      s.train.class_names = s.test.class_names = {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                                                  "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"};
      break;
    case DatasetKind::mnist:
      s = load_idx(cfg, path, idx_hint);
      s.train.class_names = s.test.class_names = {"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"};
      break;
    case DatasetKind::cifar10: s = load_cifar(cfg, path); break;
    case DatasetKind::folder:
      s = load_folder(cfg, path);
      resized = true;
      break;
  }
  if (!resized && cfg.resize > 0) {
    resize_dataset(s.train, cfg.resize);
    resize_dataset(s.test, cfg.resize);
  }
  if (s.train.size() == 0) throw Error(ErrorKind::data, s.train.source, "the training set is empty");
  if (s.test.size() == 0) throw Error(ErrorKind::data, s.test.source, "the test set is empty");
  if (s.train.channels != s.test.channels || s.train.height != s.test.height || s.train.width != s.test.width)
    throw Error(ErrorKind::data, s.test.source,
                "test images differ in shape from training images: " +
                    expected_found(std::to_string(s.train.channels) + "x" + std::to_string(s.train.height) + "x" +
                                       std::to_string(s.train.width),
                                   std::to_string(s.test.channels) + "x" + std::to_string(s.test.height) + "x" +
                                       std::to_string(s.test.width)),
                "set data.resize");
  return s;
}

Normalization compute_normalization(const Dataset& train) {
  const int C = train.channels;
  const size_t plane = size_t(train.height) * train.width;
  // Integer sums are exact: 255^2 * 2^40 pixels still fits in 64 bits.
  std::vector<uint64_t> sum(size_t(C), 0), sum_sq(size_t(C), 0);
  if (train.stream) {  // summed when the folder was listed
    sum = train.stream->sum;
    sum_sq = train.stream->sum_sq;
  }
  for (size_t i = 0; !train.stream && i < train.size(); ++i) {
    const uint8_t* img = train.image(i);  // (C, H, W)
    for (int c = 0; c < C; ++c) {
      const uint8_t* p = img + size_t(c) * plane;
      uint64_t s = 0, sq = 0;
      for (size_t k = 0; k < plane; ++k) {
        s += p[k];
        sq += uint32_t(p[k]) * p[k];
      }
      sum[size_t(c)] += s;
      sum_sq[size_t(c)] += sq;
    }
  }
  Normalization n;
  const double count = double(train.size()) * double(plane);
  for (int c = 0; c < C; ++c) {
    double mean = 0, std = 1;
    if (count > 0) {
      mean = double(sum[size_t(c)]) / count / 255.0;
      const double var = double(sum_sq[size_t(c)]) / count / (255.0 * 255.0) - mean * mean;
      std = var > 0 ? std::sqrt(var) : 0.0;
      if (std < 1e-6) std = 1.0;  // a constant channel: leave it centred, do not blow it up
    }
    n.mean.push_back(float(mean));
    n.std.push_back(float(std));
  }
  return n;
}

}  // namespace ds
