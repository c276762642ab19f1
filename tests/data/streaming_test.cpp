// Tests of the streamed image folder (data.streaming) on a folder of a few thousand small
// JPEG and PNG files written here: the same images, labels, normalisation and batches
// (augmented, bit for bit) as the in-memory reader for the same seed, every image once
// per epoch, the prefetch queue within its bound, the report's image crops, the
// automatic switch on the memory budget, and a corrupt file stopping the read by name
// or skipped and counted.
#include <gtest/gtest.h>
#include <unistd.h>

#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "deconvscope/core/error.hpp"
#include "deconvscope/data/dataset.hpp"
#include "deconvscope/data/streaming_folder.hpp"
#include "deconvscope/report/render.hpp"

namespace fs = std::filesystem;

namespace {

constexpr int kClasses = 3;
constexpr int kPerClass = 700;  // 2100 files: 1890 training, 210 held out as test

// One folder for the suite: writing it is most of the test's time.
class StreamingTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    root_ = new fs::path(fs::temp_directory_path() / ("deconvscope_streaming_test_" + std::to_string(::getpid())));
    fs::remove_all(*root_);
    std::mt19937 rng(7);
    for (int c = 0; c < kClasses; ++c) {
      const fs::path dir = *root_ / ("class" + std::to_string(c));
      fs::create_directories(dir);
      for (int i = 0; i < kPerClass; ++i) {
        // Mostly colour, some gray; sizes vary (data.resize brings them to one); JPEG and PNG.
        const int side = 10 + int(rng() % 6);
        cv::Mat img(side, side, i % 7 == 0 ? CV_8UC1 : CV_8UC3);
        cv::randu(img, cv::Scalar::all(0), cv::Scalar::all(256));
        const std::string name = "img" + std::to_string(10000 + i) + (i % 2 ? ".png" : ".jpg");
        ASSERT_TRUE(cv::imwrite((dir / name).string(), img));
      }
    }
  }
  static void TearDownTestSuite() {
    fs::remove_all(*root_);
    delete root_;
  }

  static ds::DataConfig config(ds::Streaming streaming) {
    ds::DataConfig cfg;
    cfg.dataset = ds::DatasetKind::folder;
    cfg.path = root_->string();
    cfg.resize = 12;
    cfg.streaming = streaming;
    cfg.reader_threads = 2;
    cfg.prefetch_batches = 3;
    return cfg;
  }

  static fs::path* root_;
};
fs::path* StreamingTest::root_ = nullptr;

void expect_same_shape(const ds::Dataset& a, const ds::Dataset& b) {
  EXPECT_EQ(a.channels, b.channels);
  EXPECT_EQ(a.height, b.height);
  EXPECT_EQ(a.width, b.width);
  EXPECT_EQ(a.labels, b.labels);
  EXPECT_EQ(a.class_names, b.class_names);
}

TEST_F(StreamingTest, SameEpochsAsInMemory) {
  const ds::DataSplits mem = ds::load_dataset(config(ds::Streaming::off));
  const ds::DataSplits str = ds::load_dataset(config(ds::Streaming::on));
  ASSERT_EQ(mem.train.stream, nullptr);
  ASSERT_NE(str.train.stream, nullptr);
  EXPECT_TRUE(str.train.pixels.empty());  // nothing decoded is kept
  ASSERT_EQ(str.train.size(), size_t(kClasses * (kPerClass - kPerClass / 10)));
  ASSERT_EQ(str.test.size(), size_t(kClasses * (kPerClass / 10)));
  ASSERT_EQ(str.train.channels, 3);
  expect_same_shape(mem.train, str.train);
  expect_same_shape(mem.test, str.test);

  const ds::Normalization norm = ds::compute_normalization(mem.train);
  const ds::Normalization snorm = ds::compute_normalization(str.train);
  EXPECT_EQ(norm.mean, snorm.mean);  // exact: the same integer sums
  EXPECT_EQ(norm.std, snorm.std);

  // Two epochs as the trainer runs them: one rng for the shuffle and the augmentation.
  const ds::Augmentation aug{/*crop_pad=*/2, /*flip=*/true};
  const int batch = 64;
  const int64_t n = int64_t(str.train.size());
  std::mt19937_64 rng_mem(3), rng_str(3);
  std::vector<int64_t> order_mem(static_cast<size_t>(n)), order_str(static_cast<size_t>(n));
  const size_t per = size_t(batch) * str.train.image_bytes();
  std::vector<float> a(per), b(per);
  std::vector<int32_t> la(static_cast<size_t>(batch)), lb(static_cast<size_t>(batch));
  for (int epoch = 0; epoch < 2; ++epoch) {
    std::iota(order_mem.begin(), order_mem.end(), 0);
    std::shuffle(order_mem.begin(), order_mem.end(), rng_mem);
    std::iota(order_str.begin(), order_str.end(), 0);
    std::shuffle(order_str.begin(), order_str.end(), rng_str);
    ASSERT_EQ(order_mem, order_str);  // the epoch's shuffle over file indices
    ds::prefetch_epoch(str.train, order_str, batch, snorm, aug, rng_str);
    std::vector<int> seen(static_cast<size_t>(n), 0);
    for (int64_t s = 0; s < n / batch; ++s) {
      ds::make_batch(mem.train, order_mem.data() + s * batch, batch, norm, aug, rng_mem, a.data(), la.data());
      ds::make_batch(str.train, order_str.data() + s * batch, batch, snorm, aug, rng_str, b.data(), lb.data());
      ASSERT_EQ(la, lb) << "epoch " << epoch << " batch " << s;
      ASSERT_TRUE(a == b) << "epoch " << epoch << " batch " << s;
      for (int i = 0; i < batch; ++i) ++seen[size_t(order_str[size_t(s * batch + i)])];
    }
    // Every image of the full batches exactly once (the last partial batch is dropped).
    const int64_t full = (n / batch) * batch;
    EXPECT_EQ(std::count(seen.begin(), seen.end(), 1), full);
    EXPECT_EQ(std::count(seen.begin(), seen.end(), 0), n - full);
    EXPECT_TRUE(rng_mem == rng_str);  // the state a snapshot saves, for an exact resume
  }
  // The queue never held more than its bound, and the readers did run ahead.
  EXPECT_LE(str.train.stream->max_in_flight(), 3);
  EXPECT_GE(str.train.stream->max_in_flight(), 1);
  EXPECT_EQ(str.train.stream->batches_taken(), 2 * (n / batch));  // none decoded on the spot

  // Evaluation reads (not the planned batches) decode on the spot, the same values.
  std::vector<int64_t> first(static_cast<size_t>(batch));
  std::iota(first.begin(), first.end(), 0);
  std::mt19937_64 unused;
  ds::make_batch(mem.test, first.data(), batch, norm, ds::Augmentation{}, unused, a.data(), la.data());
  ds::make_batch(str.test, first.data(), batch, snorm, ds::Augmentation{}, unused, b.data(), lb.data());
  EXPECT_EQ(la, lb);
  EXPECT_TRUE(a == b);
  // The report's crops of a streamed probe image.
  const cv::Mat ma = ds::dataset_image(mem.test, 17), mb = ds::dataset_image(str.test, 17);
  ASSERT_EQ(ma.size(), mb.size());
  EXPECT_EQ(cv::norm(ma, mb, cv::NORM_INF), 0.0);
}

TEST_F(StreamingTest, AutoStreamsOverTheMemoryBudget) {
  ds::DataConfig cfg = config(ds::Streaming::automatic);
  cfg.memory_budget_mb = 1024;  // 2100 x 3 x 12 x 12 bytes: far below
  EXPECT_EQ(ds::load_dataset(cfg).train.stream, nullptr);
  cfg.memory_budget_mb = 1;
  cfg.resize = 400;
  cfg.train_limit = 8;  // the estimate counts the images used: 16 x 3 x 400 x 400 bytes, over 1 MiB
  cfg.test_limit = 8;
  const ds::DataSplits s = ds::load_dataset(cfg);
  ASSERT_NE(s.train.stream, nullptr);
  EXPECT_EQ(s.train.size(), 8u);
  ASSERT_FALSE(s.notes.empty());
  cfg.train_limit = cfg.test_limit = 0;
  cfg.resize = 12;
  cfg.memory_budget_mb = 0;
  EXPECT_THROW(ds::load_dataset(cfg), ds::Error);
}

// A small folder with one corrupt file among good ones.
class CorruptFolderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::temp_directory_path() / ("deconvscope_corrupt_test_" + std::to_string(::getpid()));
    fs::remove_all(root_);
    for (const char* split : {"train", "test"})
      for (int c = 0; c < 2; ++c) {
        const fs::path dir = root_ / split / ("c" + std::to_string(c));
        fs::create_directories(dir);
        for (int i = 0; i < 5; ++i)
          ASSERT_TRUE(cv::imwrite((dir / ("i" + std::to_string(i) + ".png")).string(),
                                  cv::Mat(6, 6, CV_8UC1, cv::Scalar(10 * i + c))));
      }
    bad_ = (root_ / "train" / "c1" / "i2.png").string();
    std::ofstream(bad_, std::ios::trunc) << "\x89PNG truncated";
  }
  void TearDown() override { fs::remove_all(root_); }

  ds::DataConfig config(ds::Streaming streaming, ds::BadImages policy) const {
    ds::DataConfig cfg;
    cfg.dataset = ds::DatasetKind::folder;
    cfg.path = root_.string();
    cfg.streaming = streaming;
    cfg.bad_images = policy;
    return cfg;
  }

  fs::path root_;
  std::string bad_;
};

TEST_F(CorruptFolderTest, StopNamesTheFileSkipCountsIt) {
  for (ds::Streaming mode : {ds::Streaming::off, ds::Streaming::on}) {
    SCOPED_TRACE(ds::to_string(mode));
    try {
      ds::load_dataset(config(mode, ds::BadImages::stop));
      ADD_FAILURE() << "a corrupt image did not stop the read";
    } catch (const ds::Error& e) {
      EXPECT_EQ(e.kind(), ds::ErrorKind::data);  // exit code 2
      EXPECT_NE(std::string(e.what()).find(bad_), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find("data.bad_images"), std::string::npos) << e.what();
    }
    const ds::DataSplits s = ds::load_dataset(config(mode, ds::BadImages::skip));
    EXPECT_EQ(s.train.size(), 9u);
    EXPECT_EQ(s.test.size(), 10u);
    bool counted = false;
    for (const std::string& n : s.notes) counted = counted || n.find("skipped 1 unreadable image") != std::string::npos;
    EXPECT_TRUE(counted);
  }
}

TEST_F(CorruptFolderTest, AFileBrokenDuringTheRunStopsTheEpochByName) {
  fs::remove(bad_);
  const ds::DataSplits s = ds::load_dataset(config(ds::Streaming::on, ds::BadImages::stop));
  ASSERT_EQ(s.train.size(), 9u);
  const std::string victim = (root_ / "train" / "c0" / "i3.png").string();
  std::ofstream(victim, std::ios::trunc) << "gone bad";
  const ds::Normalization norm = ds::compute_normalization(s.train);
  std::vector<int64_t> order(9);
  std::iota(order.begin(), order.end(), 0);
  std::mt19937_64 rng(1);
  ds::prefetch_epoch(s.train, order, 9, norm, ds::Augmentation{}, rng);
  std::vector<float> out(9 * s.train.image_bytes());
  std::vector<int32_t> labels(9);
  try {
    ds::make_batch(s.train, order.data(), 9, norm, ds::Augmentation{}, rng, out.data(), labels.data());
    ADD_FAILURE() << "a file broken during the run went unnoticed";
  } catch (const ds::Error& e) {
    EXPECT_NE(std::string(e.what()).find(victim), std::string::npos) << e.what();
  }
}

}  // namespace
