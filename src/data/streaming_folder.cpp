// The streamed image folder: the listing pass that finds the readable images, their shape,
// channels and the training set's per-channel sums without keeping any pixels, and the
// ImageStream whose reader threads decode an epoch's batches ahead of the trainer; see
// include/deconvscope/data/streaming_folder.hpp.
#include "deconvscope/data/streaming_folder.hpp"

#include <algorithm>
#include <numeric>
#include <utility>

#include "batch_bytes.hpp"
#include "deconvscope/core/error.hpp"
#include "folder_splits.hpp"

namespace ds {

ImageStream::ImageStream(std::vector<std::string> paths, std::vector<int32_t> labels, int channels, int height,
                         int width, int resize, int readers, int prefetch_batches)
    : paths_(std::move(paths)),
      labels_(std::move(labels)),
      channels_(channels),
      height_(height),
      width_(width),
      resize_(resize),
      readers_(std::max(1, readers)),
      prefetch_(std::max(1, prefetch_batches)) {}

ImageStream::~ImageStream() { stop_readers(); }

void ImageStream::stop_readers() {
  {
    std::lock_guard<std::mutex> lk(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  for (std::thread& t : threads_) t.join();
  threads_.clear();
}

void ImageStream::decode(int64_t i, uint8_t* dst) const {
  const std::string& path = paths_[size_t(i)];
  const cv::Mat img = decode_folder_image(path, resize_);
  // It decoded when the folder was listed: the file changed under the run.
  if (img.empty())
    throw Error(ErrorKind::data, path, "OpenCV cannot decode this image any more (it could when the folder was listed)",
                "the file changed during the run; restore it and continue with --resume");
  if (img.rows != height_ || img.cols != width_)
    throw Error(ErrorKind::data, path,
                "image size changed during the run: " +
                    expected_found(std::to_string(width_) + "x" + std::to_string(height_),
                                   std::to_string(img.cols) + "x" + std::to_string(img.rows)),
                "restore the file and continue with --resume");
  folder_image_to_planar(img, channels_, dst);
}

void ImageStream::plan(const std::vector<int64_t>& order, int batch, const Normalization& norm,
                       const Augmentation& aug, const std::mt19937_64& rng, const BatchSlice& slice) {
  if (batch < 1) throw Error(ErrorKind::config, "key train.batch", expected_found("1 or more", std::to_string(batch)));
  for (int64_t i : order)
    if (i < 0 || size_t(i) >= paths_.size())
      throw Error(ErrorKind::data, "streamed image folder",
                  "epoch order index out of range: " +
                      expected_found("0.." + std::to_string(paths_.size() - 1), std::to_string(i)));
  std::unique_lock<std::mutex> lk(mu_);
  // No new claims; let the readers finish the old plan's batches, then drop them.
  batches_ = 0;
  cv_.wait(lk, [&] { return working_ == 0; });
  ready_.clear();
  order_ = order;
  batch_ = batch;
  global_ = slice.global > 0 ? slice.global : batch;
  first_ = slice.first;
  batches_ = int64_t(order.size()) / global_;
  norm_ = norm;
  aug_ = aug;
  draw_rng_ = rng;
  draws_per_batch_ = batch_draws(aug, global_);
  next_claim_ = next_take_ = 0;
  if (threads_.empty())
    for (int t = 0; t < readers_; ++t) threads_.emplace_back([this] { reader_loop(); });
  lk.unlock();
  cv_.notify_all();
}

void ImageStream::reader_loop() {
  std::unique_lock<std::mutex> lk(mu_);
  for (;;) {
    // The bound: at most prefetch_ batches between the trainer's next and the last claimed.
    cv_.wait(lk, [&] { return stop_ || (next_claim_ < batches_ && next_claim_ < next_take_ + prefetch_); });
    if (stop_) return;
    const int64_t b = next_claim_++;
    max_in_flight_ = std::max(max_in_flight_, int(next_claim_ - next_take_));
    Ready r;
    r.rng = draw_rng_;
    // Batches are claimed in order, so this keeps draw_rng_ at the next batch's start.
    draw_rng_.discard(draws_per_batch_);
    const int n = batch_;
    const auto start = order_.begin() + b * global_ + first_;
    const std::vector<int64_t> indices(start, start + n);
    const BatchSlice slice{first_, global_};
    const Normalization norm = norm_;
    const Augmentation aug = aug_;
    ++working_;
    lk.unlock();
    try {
      Dataset bytes;  // this batch's images as bytes: (n, C, H, W)
      bytes.channels = channels_;
      bytes.height = height_;
      bytes.width = width_;
      bytes.pixels.resize(size_t(n) * bytes.image_bytes());
      bytes.labels.resize(size_t(n));
      for (int i = 0; i < n; ++i) {
        decode(indices[size_t(i)], bytes.pixels.data() + size_t(i) * bytes.image_bytes());
        bytes.labels[size_t(i)] = labels_[size_t(indices[size_t(i)])];
      }
      std::vector<int64_t> local(static_cast<size_t>(n));
      std::iota(local.begin(), local.end(), 0);
      r.input.resize(size_t(n) * bytes.image_bytes());
      r.labels.resize(size_t(n));
      std::mt19937_64 draws = r.rng;
      make_batch_bytes(bytes, local.data(), n, norm, aug, draws, r.input.data(), r.labels.data(), /*threads=*/false,
                       slice);
    } catch (...) {
      r.error = std::current_exception();
    }
    lk.lock();
    --working_;
    if (batches_ > 0) ready_[b] = std::move(r);  // a new plan (batches_ 0 meanwhile) drops it
    cv_.notify_all();
  }
}

bool ImageStream::take_planned(const int64_t* indices, int n, std::mt19937_64& rng, float* out, int32_t* labels_out) {
  std::unique_lock<std::mutex> lk(mu_);
  if (next_take_ >= batches_ || n != batch_ ||
      !std::equal(indices, indices + n, order_.begin() + next_take_ * global_ + first_))
    return false;
  const int64_t b = next_take_;
  cv_.wait(lk, [&] { return stop_ || ready_.count(b) > 0; });
  if (stop_) return false;
  auto it = ready_.find(b);
  // Drawn from another rng state than the caller's: not make_batch's values; decode anew.
  if (!(it->second.rng == rng)) return false;
  Ready r = std::move(it->second);
  ready_.erase(it);
  ++next_take_;
  ++taken_;
  lk.unlock();
  cv_.notify_all();
  if (r.error) std::rethrow_exception(r.error);
  std::copy(r.input.begin(), r.input.end(), out);
  std::copy(r.labels.begin(), r.labels.end(), labels_out);
  rng.discard(draws_per_batch_);
  return true;
}

int ImageStream::max_in_flight() const {
  std::lock_guard<std::mutex> lk(mu_);
  return max_in_flight_;
}

int64_t ImageStream::batches_taken() const {
  std::lock_guard<std::mutex> lk(mu_);
  return taken_;
}

namespace {

// What the listing pass learns of one image.
struct Scan {
  bool ok = false;
  int rows = 0, cols = 0, channels = 0;
  uint64_t sum[3] = {0, 0, 0}, sum_sq[3] = {0, 0, 0};  // R, G, B planes (gray: [0] only)
};

Scan scan_image(const std::string& path, int resize) {
  Scan s;
  const cv::Mat img = decode_folder_image(path, resize);
  if (img.empty()) return s;
  s.ok = true;
  s.rows = img.rows;
  s.cols = img.cols;
  s.channels = img.channels();
  const cv::Mat c = img.isContinuous() ? img : img.clone();
  const uint8_t* p = c.ptr<uint8_t>();  // (H, W, 1 or 3 BGR)
  const size_t plane = size_t(c.rows) * c.cols;
  for (size_t k = 0; k < plane; ++k)
    for (int ch = 0; ch < s.channels; ++ch) {
      const uint32_t v = p[k * size_t(s.channels) + size_t(ch)];
      const int rgb = s.channels == 3 ? 2 - ch : 0;  // BGR to R, G, B
      s.sum[rgb] += v;
      s.sum_sq[rgb] += v * v;
    }
  return s;
}

struct Accepted {
  std::vector<std::string> paths;
  std::vector<int32_t> labels;
};

}  // namespace

DataSplits stream_image_folder_splits(const FolderListing& listing, const std::string& root, const DataConfig& cfg) {
  FolderReadState st(cfg.resize, skips_bad_images(cfg.bad_images));
  uint64_t gray_sum = 0, gray_sq = 0, rgb_sum[3] = {0, 0, 0}, rgb_sq[3] = {0, 0, 0};  // training set
  Accepted accepted[2];
  const FolderSplit* splits[2] = {&listing.train, &listing.test};
  for (int si = 0; si < 2; ++si) {
    const FolderSplit& f = *splits[si];
    Accepted& acc = accepted[si];
    // Decoded in parallel a chunk at a time, accepted in order: the same images, the same
    // first error and the same limit as the in-memory reader.
    const size_t chunk = 512;
    for (size_t first = 0; first < f.entries.size(); first += chunk) {
      if (f.limit > 0 && int64_t(acc.paths.size()) >= f.limit) break;
      const size_t n = std::min(chunk, f.entries.size() - first);
      std::vector<Scan> scans(n);
#pragma omp parallel for schedule(dynamic)
      for (size_t i = 0; i < n; ++i) scans[i] = scan_image(f.entries[first + i].path, cfg.resize);
      for (size_t i = 0; i < n; ++i) {
        if (f.limit > 0 && int64_t(acc.paths.size()) >= f.limit) break;
        const FolderEntry& e = f.entries[first + i];
        const Scan& s = scans[i];
        if (!st.accept(e.path, s.ok, s.rows, s.cols, s.channels)) continue;
        if (si == 0) {
          if (s.channels == 1) {
            gray_sum += s.sum[0];
            gray_sq += s.sum_sq[0];
          } else {
            for (int c = 0; c < 3; ++c) {
              rgb_sum[c] += s.sum[c];
              rgb_sq[c] += s.sum_sq[c];
            }
          }
        }
        acc.paths.push_back(e.path);
        acc.labels.push_back(e.label);
      }
    }
    st.check_split(f, acc.paths.size());
  }

  DataSplits out;
  out.path = root;
  Dataset* sets[2] = {&out.train, &out.test};
  for (int si = 0; si < 2; ++si) {
    Dataset& d = *sets[si] = st.dataset(listing, *splits[si], accepted[si].labels);
    d.stream = std::make_shared<ImageStream>(std::move(accepted[si].paths), std::move(accepted[si].labels), d.channels,
                                             d.height, d.width, cfg.resize, cfg.reader_threads, cfg.prefetch_batches);
  }
  // A gray image in a colour set is the same bytes in each of the three planes.
  ImageStream& train = *out.train.stream;
  const int channels = out.train.channels;
  for (int c = 0; c < channels; ++c) {
    train.sum.push_back(gray_sum + (channels == 3 ? rgb_sum[c] : 0));
    train.sum_sq.push_back(gray_sq + (channels == 3 ? rgb_sq[c] : 0));
  }
  out.notes.push_back("streaming the images from disk (data.streaming = " + std::string(to_string(cfg.streaming)) + "): " +
                      std::to_string(cfg.reader_threads) + " reader threads, " +
                      std::to_string(cfg.prefetch_batches) + " batches ahead");
  st.add_notes(out);
  return out;
}

}  // namespace ds
