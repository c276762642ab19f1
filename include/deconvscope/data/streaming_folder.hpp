// A streamed image folder (data.streaming): the images stay on disk and are decoded with
// OpenCV when a batch needs them, so resident memory does not grow with the folder.
// During training a pool of reader threads decodes, resizes, augments and normalises the
// epoch's batches in order into a bounded queue a few batches ahead of the trainer;
// other reads (evaluation, probes) decode their batch on the spot. The bytes, the order
// and the random draws are the in-memory reader's, so a streamed run trains the same
// weights as one that holds the set. Leaves out: caching decoded images across epochs.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <exception>
#include <map>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "deconvscope/data/dataset.hpp"

namespace ds {

class ImageStream {
 public:
  // paths[i] is image i, of label labels[i]; every image decodes to (channels, height,
  // width) after resize. The readers start with the first plan.
  ImageStream(std::vector<std::string> paths, std::vector<int32_t> labels, int channels, int height, int width,
              int resize, int readers, int prefetch_batches);
  ~ImageStream();
  ImageStream(const ImageStream&) = delete;
  ImageStream& operator=(const ImageStream&) = delete;

  size_t size() const { return paths_.size(); }
  // Image i as (C, H, W) bytes into dst; ds::Error(data) naming the file if it no longer decodes.
  void decode(int64_t i, uint8_t* dst) const;

  // Per channel sums of pixel and pixel^2 over the whole set (filled by the listing pass),
  // for compute_normalization without a second pass.
  std::vector<uint64_t> sum, sum_sq;

  // See prefetch_epoch and make_batch in dataset.hpp.
  void plan(const std::vector<int64_t>& order, int batch, const Normalization& norm, const Augmentation& aug,
            const std::mt19937_64& rng, const BatchSlice& slice = {});
  // True (and out, labels_out, rng filled as make_batch would) when the indices are the
  // next planned batch; false when they are not, and nothing was touched.
  bool take_planned(const int64_t* indices, int n, std::mt19937_64& rng, float* out, int32_t* labels_out);

  // The most batches ever queued or being decoded at once; never above prefetch_batches().
  int max_in_flight() const;
  // Batches make_batch took from the queue (not decoded on the spot), over all epochs.
  int64_t batches_taken() const;
  int prefetch_batches() const { return prefetch_; }

 private:
  struct Ready {
    std::mt19937_64 rng;         // at the start of the batch: make_batch's rng must equal it
    std::vector<float> input;    // (batch, C, H, W)
    std::vector<int32_t> labels;
    std::exception_ptr error;
  };
  void reader_loop();
  void stop_readers();

  const std::vector<std::string> paths_;
  const std::vector<int32_t> labels_;
  const int channels_, height_, width_, resize_, readers_, prefetch_;

  mutable std::mutex mu_;
  std::condition_variable cv_;  // any change of the state below
  std::vector<std::thread> threads_;
  bool stop_ = false;
  // The epoch's plan.
  std::vector<int64_t> order_;
  int batch_ = 0;              // images per batch this process takes
  int global_ = 0, first_ = 0;  // of a global batch of global_ images, from first_ (BatchSlice)
  int64_t batches_ = 0;       // planned batches this epoch
  Normalization norm_;
  Augmentation aug_;
  std::mt19937_64 draw_rng_;  // the rng at the start of batch next_claim_
  uint64_t draws_per_batch_ = 0;
  int64_t next_claim_ = 0;    // the next batch a reader will decode
  int64_t next_take_ = 0;     // the next batch the trainer will take
  int working_ = 0;           // readers decoding a batch now
  std::map<int64_t, Ready> ready_;
  int max_in_flight_ = 0;
  int64_t taken_ = 0;
};

}  // namespace ds
