// Datasets held as bytes in memory (N, C, H, W) uint8, with labels, and the batches the
// network eats: floats normalised per channel with the training set's mean and std,
// (pixel/255 - mean) / std, optionally augmented (random crop with padding, flip).
#pragma once

#include <cstdint>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "deconvscope/config/config.hpp"

namespace ds {

class ImageStream;  // deconvscope/data/streaming_folder.hpp

struct Dataset {
  int channels = 0, height = 0, width = 0;
  std::vector<uint8_t> pixels;   // (N, C, H, W)
  std::vector<int32_t> labels;   // (N), each in [0, num_classes)
  int num_classes = 0;
  std::vector<std::string> class_names;
  std::string source;            // file or folder it came from, for messages and reports
  // A streamed folder (data.streaming): pixels stays empty and images are decoded on demand
  // by make_batch; image(i) must not be called.
  std::shared_ptr<ImageStream> stream;

  size_t size() const { return labels.size(); }
  size_t image_bytes() const { return size_t(channels) * height * width; }
  const uint8_t* image(size_t i) const { return pixels.data() + i * image_bytes(); }
};

struct DataSplits {
  Dataset train;
  Dataset test;
  std::string path;  // resolved data.path
  std::vector<std::string> notes;  // for the run's log: streaming on, images skipped
};

// Loads the dataset a config names (data.dataset, data.path, limits, resize). Throws
// ds::Error(data) naming the file and what was wrong (missing, truncated, bad magic,
// label count not matching image count).
DataSplits load_dataset(const DataConfig& cfg);

// Readers, one per format; each throws ds::Error(data) naming the file.
// IDX (MNIST/Fashion-MNIST), gzipped or not: images idx3 (N, H, W), labels idx1 (N).
Dataset read_idx_pair(const std::string& images_path, const std::string& labels_path, int64_t limit);
// CIFAR-10 binary batches: records of 1 label byte + 3072 pixel bytes (3, 32, 32).
Dataset read_cifar_batches(const std::vector<std::string>& paths, int64_t limit);
// A folder of class subfolders of images, decoded with OpenCV; classes sorted by name.
// Unreadable images are skipped with a warning on stderr; an error if none is left.
// (load_dataset follows data.bad_images instead and may stream; see streaming_folder.hpp.)
Dataset read_image_folder(const std::string& folder, int resize, int64_t limit);
// Resizes every image to size x size (OpenCV, area interpolation when shrinking).
void resize_dataset(Dataset& d, int size);

struct Normalization {
  std::vector<float> mean;  // per channel, of pixel/255 over the training set
  std::vector<float> std;
};
Normalization compute_normalization(const Dataset& train);

struct Augmentation {
  int crop_pad = 0;
  bool flip = false;
  bool enabled() const { return crop_pad > 0 || flip; }
};

// The part of a global batch one process computes when a batch is split across the ranks
// of an MPI job: images [first, first + n) of a batch of `global` images. The random
// draws of the whole global batch are taken in order and the slice uses its own, so an
// image's crop and flip depend on its place in the global batch, never on the rank count;
// rng ends where one process drawing the whole batch leaves it. global 0: the batch is whole.
struct BatchSlice {
  int first = 0;
  int global = 0;
};

// Writes n normalised images (indices[0..n)) into out (n, C, H, W) and their labels into
// labels_out; augments with rng when aug is enabled. A streamed dataset gives the same
// values and leaves rng in the same state, from its prefetch queue when the indices are
// the next batch of the epoch given to prefetch_epoch, else decoding them now.
void make_batch(const Dataset& d, const int64_t* indices, int n, const Normalization& norm,
                const Augmentation& aug, std::mt19937_64& rng, float* out, int32_t* labels_out,
                const BatchSlice& slice = {});

// Hands a streamed dataset the epoch's order (batches of `batch` taken in turn from it,
// the last partial one dropped; of each, the images of `slice` when given) and the rng as
// make_batch will find it, so that its readers decode and augment a few batches ahead.
// Does nothing for an in-memory dataset.
void prefetch_epoch(const Dataset& d, const std::vector<int64_t>& order, int batch, const Normalization& norm,
                    const Augmentation& aug, const std::mt19937_64& rng, const BatchSlice& slice = {});

}  // namespace ds
