// Tests of the data stage: IDX (plain and gzip), CIFAR-10 binary and image-folder readers
// on small files written here, every malformed-file error naming its file, limits,
// resizing, normalisation, batches with and without augmentation, and the real
// Fashion-MNIST when Debian's dataset-fashion-mnist is installed.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

#include "deconvscope/core/error.hpp"
#include "deconvscope/data/dataset.hpp"

namespace fs = std::filesystem;
using Bytes = std::vector<uint8_t>;

namespace {

// A fresh folder per test, removed afterwards.
class DataTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = fs::temp_directory_path() /
           ("deconvscope_data_test_" + std::to_string(::getpid()) + "_" + info->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string path(const std::string& name) const { return (dir_ / name).string(); }

  fs::path dir_;
};

void put_be32(Bytes& b, uint32_t v) {
  b.push_back(uint8_t(v >> 24));
  b.push_back(uint8_t(v >> 16));
  b.push_back(uint8_t(v >> 8));
  b.push_back(uint8_t(v));
}

// idx3 file of n images h x w; pixel k of image i is (i * 16 + k) % 256.
Bytes idx_images(uint32_t n, uint32_t h, uint32_t w, uint32_t magic = 0x00000803) {
  Bytes b;
  put_be32(b, magic);
  put_be32(b, n);
  put_be32(b, h);
  put_be32(b, w);
  for (uint32_t i = 0; i < n; ++i)
    for (uint32_t k = 0; k < h * w; ++k) b.push_back(uint8_t((i * 16 + k) % 256));
  return b;
}

Bytes idx_labels(const std::vector<int>& labels, uint32_t magic = 0x00000801) {
  Bytes b;
  put_be32(b, magic);
  put_be32(b, uint32_t(labels.size()));
  for (int l : labels) b.push_back(uint8_t(l));
  return b;
}

void write_plain(const std::string& path, const Bytes& b) {
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(b.data()), std::streamsize(b.size()));
}

void write_gz(const std::string& path, const Bytes& b) {
  gzFile f = gzopen(path.c_str(), "wb");
  ASSERT_NE(f, nullptr);
  if (!b.empty()) {
    ASSERT_EQ(gzwrite(f, b.data(), unsigned(b.size())), int(b.size()));
  }
  gzclose(f);
}

Bytes read_all(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return Bytes(std::istreambuf_iterator<char>(in), {});
}

// Runs f, expects a ds::Error of kind data whose message contains each of `parts`.
void expect_data_error(const std::function<void()>& f, const std::vector<std::string>& parts) {
  try {
    f();
    ADD_FAILURE() << "no error thrown";
  } catch (const ds::Error& e) {
    EXPECT_EQ(e.kind(), ds::ErrorKind::data) << e.what();
    for (const std::string& p : parts) EXPECT_NE(std::string(e.what()).find(p), std::string::npos)
        << "message lacks '" << p << "': " << e.what();
  }
}

const std::vector<int> kLabels5{3, 1, 4, 1, 5};

// ---------------------------------------------------------------- IDX

TEST_F(DataTest, IdxPlainAndGzipReadTheSame) {
  write_plain(path("img"), idx_images(5, 3, 4));
  write_plain(path("lab"), idx_labels(kLabels5));
  write_gz(path("img.gz"), idx_images(5, 3, 4));
  write_gz(path("lab.gz"), idx_labels(kLabels5));
  for (const auto& [img, lab] : {std::pair{"img", "lab"}, std::pair{"img.gz", "lab.gz"}}) {
    const ds::Dataset d = ds::read_idx_pair(path(img), path(lab), 0);
    ASSERT_EQ(d.size(), 5u);
    EXPECT_EQ(d.channels, 1);
    EXPECT_EQ(d.height, 3);
    EXPECT_EQ(d.width, 4);
    EXPECT_EQ(d.num_classes, 10);
    EXPECT_EQ(d.labels, (std::vector<int32_t>{3, 1, 4, 1, 5}));
    ASSERT_EQ(d.pixels.size(), 5u * 12);
    EXPECT_EQ(d.image(2)[5], 2 * 16 + 5);
  }
}

TEST_F(DataTest, IdxLimitTakesTheFirstImages) {
  write_gz(path("img.gz"), idx_images(5, 3, 4));
  write_plain(path("lab"), idx_labels(kLabels5));
  const ds::Dataset d = ds::read_idx_pair(path("img.gz"), path("lab"), 2);
  ASSERT_EQ(d.size(), 2u);
  EXPECT_EQ(d.pixels.size(), 2u * 12);
  EXPECT_EQ(d.labels, (std::vector<int32_t>{3, 1}));
  EXPECT_EQ(ds::read_idx_pair(path("img.gz"), path("lab"), 99).size(), 5u);
}

TEST_F(DataTest, IdxWrongMagic) {
  write_plain(path("img"), idx_images(5, 3, 4, /*magic=*/0x00000801));
  write_plain(path("lab"), idx_labels(kLabels5));
  expect_data_error([&] { ds::read_idx_pair(path("img"), path("lab"), 0); },
                    {path("img"), "0x00000803", "0x00000801"});
  write_plain(path("img"), idx_images(5, 3, 4));
  write_plain(path("lab"), idx_labels(kLabels5, /*magic=*/0x00000803));
  expect_data_error([&] { ds::read_idx_pair(path("img"), path("lab"), 0); }, {path("lab"), "0x00000801"});
}

TEST_F(DataTest, IdxTruncatedImages) {
  Bytes img = idx_images(5, 3, 4);
  img.resize(16 + 3 * 12);  // three of five images
  write_plain(path("img"), img);
  write_gz(path("img.gz"), img);
  write_plain(path("lab"), idx_labels(kLabels5));
  expect_data_error([&] { ds::read_idx_pair(path("img"), path("lab"), 0); },
                    {path("img"), "expected 60 bytes", "found 36 bytes"});
  expect_data_error([&] { ds::read_idx_pair(path("img.gz"), path("lab"), 0); },
                    {path("img.gz"), "expected 60 bytes", "found 36 bytes"});
  // A limit inside the present part reads fine.
  EXPECT_EQ(ds::read_idx_pair(path("img"), path("lab"), 3).size(), 3u);
}

TEST_F(DataTest, IdxTruncatedHeader) {
  Bytes img = idx_images(5, 3, 4);
  img.resize(10);
  write_plain(path("img"), img);
  write_plain(path("lab"), idx_labels(kLabels5));
  expect_data_error([&] { ds::read_idx_pair(path("img"), path("lab"), 0); }, {path("img"), "header"});
  write_plain(path("empty"), {});
  expect_data_error([&] { ds::read_idx_pair(path("empty"), path("lab"), 0); }, {path("empty")});
}

TEST_F(DataTest, IdxTruncatedLabels) {
  write_plain(path("img"), idx_images(5, 3, 4));
  Bytes lab = idx_labels(kLabels5);
  lab.resize(lab.size() - 2);
  write_plain(path("lab"), lab);
  expect_data_error([&] { ds::read_idx_pair(path("img"), path("lab"), 0); },
                    {path("lab"), "expected 5 bytes", "found 3 bytes"});
}

TEST_F(DataTest, IdxTruncatedGzipStream) {
  write_gz(path("img.gz"), idx_images(200, 28, 28));
  Bytes gz = read_all(path("img.gz"));
  gz.resize(gz.size() / 2);
  write_plain(path("img.gz"), gz);
  write_plain(path("lab"), idx_labels(std::vector<int>(200, 0)));
  expect_data_error([&] { ds::read_idx_pair(path("img.gz"), path("lab"), 0); }, {path("img.gz")});
}

TEST_F(DataTest, IdxCorruptGzip) {
  write_gz(path("img.gz"), idx_images(50, 28, 28));
  Bytes gz = read_all(path("img.gz"));
  for (size_t i = 20; i < gz.size() - 8; ++i) gz[i] = uint8_t(i * 131 + 7);  // keep the gzip header
  write_plain(path("img.gz"), gz);
  write_plain(path("lab"), idx_labels(std::vector<int>(50, 0)));
  expect_data_error([&] { ds::read_idx_pair(path("img.gz"), path("lab"), 0); }, {path("img.gz")});
}

TEST_F(DataTest, IdxCountMismatchNamesBothFiles) {
  write_plain(path("img"), idx_images(5, 3, 4));
  write_plain(path("lab"), idx_labels({1, 2, 3}));
  expect_data_error([&] { ds::read_idx_pair(path("img"), path("lab"), 0); },
                    {path("img"), path("lab"), "5", "3"});
}

TEST_F(DataTest, IdxLabelOutOfRange) {
  write_plain(path("img"), idx_images(5, 3, 4));
  write_plain(path("lab"), idx_labels({1, 2, 10, 3, 4}));
  expect_data_error([&] { ds::read_idx_pair(path("img"), path("lab"), 0); }, {path("lab"), "found 10"});
}

TEST_F(DataTest, IdxAbsurdHeaderDoesNotAllocate) {
  Bytes img;
  put_be32(img, 0x00000803);
  put_be32(img, 0xFFFFFFFFu);
  put_be32(img, 60000);
  put_be32(img, 60000);
  for (int i = 0; i < 100; ++i) img.push_back(1);
  write_plain(path("img"), img);
  write_gz(path("img.gz"), img);
  Bytes lab;
  put_be32(lab, 0x00000801);
  put_be32(lab, 0xFFFFFFFFu);
  write_plain(path("lab"), lab);
  expect_data_error([&] { ds::read_idx_pair(path("img"), path("lab"), 0); }, {path("img"), "found 100 bytes"});
  expect_data_error([&] { ds::read_idx_pair(path("img.gz"), path("lab"), 0); }, {path("img.gz"), "found 100 bytes"});
  // Sides beyond any real image are refused from the header alone.
  Bytes wide;
  put_be32(wide, 0x00000803);
  put_be32(wide, 1);
  put_be32(wide, 1);
  put_be32(wide, 0xFFFFFFFFu);
  write_plain(path("wide"), wide);
  expect_data_error([&] { ds::read_idx_pair(path("wide"), path("lab"), 0); }, {path("wide")});
}

TEST_F(DataTest, IdxMissingFile) {
  write_plain(path("lab"), idx_labels(kLabels5));
  expect_data_error([&] { ds::read_idx_pair(path("nope"), path("lab"), 0); }, {path("nope")});
}

// Writes an MNIST-named folder, images gzipped for train and plain for test.
void write_mnist_folder(const fs::path& dir) {
  fs::create_directories(dir);
  write_gz((dir / "train-images-idx3-ubyte.gz").string(), idx_images(6, 28, 28));
  write_gz((dir / "train-labels-idx1-ubyte.gz").string(), idx_labels({0, 1, 2, 3, 4, 5}));
  write_plain((dir / "t10k-images-idx3-ubyte").string(), idx_images(4, 28, 28));
  write_plain((dir / "t10k-labels-idx1-ubyte").string(), idx_labels({6, 7, 8, 9}));
}

TEST_F(DataTest, LoadMnistFolderWithLimitsAndResize) {
  write_mnist_folder(dir_ / "mnist");
  ds::DataConfig cfg;
  cfg.dataset = ds::DatasetKind::mnist;
  cfg.path = path("mnist");
  ds::DataSplits s = ds::load_dataset(cfg);
  EXPECT_EQ(s.train.size(), 6u);
  EXPECT_EQ(s.test.size(), 4u);
  EXPECT_EQ(s.train.class_names[3], "3");
  EXPECT_EQ(s.path, path("mnist"));

  cfg.dataset = ds::DatasetKind::fashion_mnist;
  cfg.train_limit = 2;
  cfg.test_limit = 3;
  cfg.resize = 14;
  s = ds::load_dataset(cfg);
  EXPECT_EQ(s.train.size(), 2u);
  EXPECT_EQ(s.test.size(), 3u);
  EXPECT_EQ(s.train.height, 14);
  EXPECT_EQ(s.train.width, 14);
  EXPECT_EQ(s.train.pixels.size(), 2u * 14 * 14);
  EXPECT_EQ(s.test.pixels.size(), 3u * 14 * 14);
  EXPECT_EQ(s.train.class_names[9], "Ankle boot");
}

TEST_F(DataTest, LoadMissingPathAndFiles) {
  ds::DataConfig cfg;
  cfg.dataset = ds::DatasetKind::mnist;
  cfg.path = path("absent");
  expect_data_error([&] { ds::load_dataset(cfg); }, {path("absent")});
  fs::create_directories(dir_ / "partial");
  write_plain(path("partial/train-images-idx3-ubyte"), idx_images(2, 2, 2));
  cfg.path = path("partial");
  expect_data_error([&] { ds::load_dataset(cfg); }, {"train-labels-idx1-ubyte"});
  // mnist has no default folder: that is a config error about data.path.
  cfg.path.clear();
  try {
    ds::load_dataset(cfg);
    ADD_FAILURE() << "no error";
  } catch (const ds::Error& e) {
    EXPECT_EQ(e.kind(), ds::ErrorKind::config);
    EXPECT_NE(std::string(e.what()).find("data.path"), std::string::npos);
  }
}

// ---------------------------------------------------------------- CIFAR-10

// n records; label of record i is (first_label + i) % 10, pixel k is (i + k) % 256.
Bytes cifar_records(int n, int first_label) {
  Bytes b;
  for (int i = 0; i < n; ++i) {
    b.push_back(uint8_t((first_label + i) % 10));
    for (int k = 0; k < 3072; ++k) b.push_back(uint8_t((i + k) % 256));
  }
  return b;
}

TEST_F(DataTest, CifarReadsRecordsAcrossFilesWithLimit) {
  write_plain(path("a.bin"), cifar_records(3, 0));
  write_plain(path("b.bin"), cifar_records(2, 7));
  ds::Dataset d = ds::read_cifar_batches({path("a.bin"), path("b.bin")}, 0);
  ASSERT_EQ(d.size(), 5u);
  EXPECT_EQ(d.channels, 3);
  EXPECT_EQ(d.height, 32);
  EXPECT_EQ(d.labels, (std::vector<int32_t>{0, 1, 2, 7, 8}));
  EXPECT_EQ(d.image(4)[0], 1);         // record 1 of b.bin, red (0, 0)
  EXPECT_EQ(d.image(1)[1024], 1025 % 256);  // green plane starts at 1024
  EXPECT_EQ(d.class_names[0], "airplane");
  d = ds::read_cifar_batches({path("a.bin"), path("b.bin")}, 4);
  EXPECT_EQ(d.size(), 4u);
  EXPECT_EQ(d.pixels.size(), 4u * 3072);
}

TEST_F(DataTest, CifarMalformedFiles) {
  Bytes odd = cifar_records(2, 0);
  odd.pop_back();
  write_plain(path("odd.bin"), odd);
  expect_data_error([&] { ds::read_cifar_batches({path("odd.bin")}, 0); }, {path("odd.bin"), "3073", "6145"});
  write_plain(path("empty.bin"), {});
  expect_data_error([&] { ds::read_cifar_batches({path("empty.bin")}, 0); }, {path("empty.bin"), "empty"});
  Bytes bad = cifar_records(2, 0);
  bad[3073] = 12;
  write_plain(path("bad.bin"), bad);
  expect_data_error([&] { ds::read_cifar_batches({path("bad.bin")}, 0); }, {path("bad.bin"), "found 12"});
  expect_data_error([&] { ds::read_cifar_batches({path("none.bin")}, 0); }, {path("none.bin")});
}

TEST_F(DataTest, LoadCifarFolderWithMeta) {
  const fs::path c = dir_ / "cifar";
  fs::create_directories(c);
  for (int i = 1; i <= 5; ++i) write_plain((c / ("data_batch_" + std::to_string(i) + ".bin")).string(), cifar_records(2, i));
  write_plain((c / "test_batch.bin").string(), cifar_records(3, 0));
  std::ofstream((c / "batches.meta.txt").string()) << "a\nb\nc\nd\ne\nf\ng\nh\ni\nj\n\n";
  ds::DataConfig cfg;
  cfg.dataset = ds::DatasetKind::cifar10;
  cfg.path = c.string();
  cfg.train_limit = 7;
  cfg.resize = 16;
  const ds::DataSplits s = ds::load_dataset(cfg);
  EXPECT_EQ(s.train.size(), 7u);
  EXPECT_EQ(s.test.size(), 3u);
  EXPECT_EQ(s.train.height, 16);
  EXPECT_EQ(s.train.pixels.size(), 7u * 3 * 16 * 16);
  EXPECT_EQ(s.test.class_names[9], "j");
  fs::remove(c / "data_batch_4.bin");
  expect_data_error([&] { ds::load_dataset(cfg); }, {"data_batch_4.bin"});
}

// ---------------------------------------------------------------- image folders

void write_png(const fs::path& p, const cv::Mat& img) {
  fs::create_directories(p.parent_path());
  ASSERT_TRUE(cv::imwrite(p.string(), img));
}

cv::Mat gray(int h, int w, int v) { return cv::Mat(h, w, CV_8UC1, cv::Scalar(v)); }

TEST_F(DataTest, FolderTrainTestWithUnreadableFile) {
  const fs::path r = dir_ / "shapes";
  for (int i = 0; i < 3; ++i) write_png(r / "train" / "cat" / ("c" + std::to_string(i) + ".png"), gray(4, 5, 10 + i));
  for (int i = 0; i < 2; ++i) write_png(r / "train" / "dog" / ("d" + std::to_string(i) + ".png"), gray(4, 5, 100 + i));
  write_png(r / "test" / "dog" / "t.png", gray(4, 5, 200));
  std::ofstream((r / "train" / "dog" / "zz_broken.png").string()) << "not an image";

  ds::DataConfig cfg;
  cfg.dataset = ds::DatasetKind::folder;
  cfg.path = r.string();
  cfg.bad_images = ds::BadImages::skip;  // the default, stop, is tested in streaming_test.cpp
  const ds::DataSplits s = ds::load_dataset(cfg);
  ASSERT_EQ(s.train.size(), 5u);  // zz_broken.png skipped
  EXPECT_EQ(s.train.channels, 1);
  EXPECT_EQ(s.train.height, 4);
  EXPECT_EQ(s.train.width, 5);
  EXPECT_EQ(s.train.class_names, (std::vector<std::string>{"cat", "dog"}));
  // Round-robin over classes: cat0 dog0 cat1 dog1 cat2.
  EXPECT_EQ(s.train.labels, (std::vector<int32_t>{0, 1, 0, 1, 0}));
  EXPECT_EQ(s.train.image(1)[0], 100);
  EXPECT_EQ(s.train.image(4)[19], 12);
  ASSERT_EQ(s.test.size(), 1u);
  EXPECT_EQ(s.test.labels[0], 1);  // dog is the training set's class 1
  EXPECT_EQ(s.test.num_classes, 2);

  cfg.train_limit = 2;
  EXPECT_EQ(ds::load_dataset(cfg).train.labels, (std::vector<int32_t>{0, 1}));
}

// A FIFO, a dangling symlink or a folder named like an image among the images is an
// unreadable image (issue 21): data.bad_images = stop names it, at once (a FIFO never
// blocks the reader), and skip counts it; none is skipped unsaid.
TEST_F(DataTest, FolderSpecialFilesAreUnreadableImagesNeverSkippedUnsaid) {
  for (const std::string what : {"fifo", "dangling", "folder"}) {
    SCOPED_TRACE(what);
    const fs::path r = dir_ / ("special-" + what);
    for (int i = 0; i < 10; ++i) {
      write_png(r / "a" / ("ok" + std::to_string(i) + ".png"), gray(2, 2, 50));
      write_png(r / "b" / ("ok" + std::to_string(i) + ".png"), gray(2, 2, 60));
    }
    const fs::path odd = r / "a" / "x.png";
    if (what == "fifo") {
      ASSERT_EQ(::mkfifo(odd.c_str(), 0600), 0);
    }
    if (what == "dangling") fs::create_symlink(r / "nowhere.png", odd);
    if (what == "folder") fs::create_directories(odd);
    ds::DataConfig cfg;
    cfg.dataset = ds::DatasetKind::folder;
    cfg.path = r.string();
    cfg.streaming = ds::Streaming::off;
    expect_data_error([&] { ds::load_dataset(cfg); }, {odd.string()});
    cfg.bad_images = ds::BadImages::skip;
    testing::internal::CaptureStderr();
    const ds::DataSplits s = ds::load_dataset(cfg);
    const std::string err = testing::internal::GetCapturedStderr();
    EXPECT_EQ(s.train.size() + s.test.size(), 20u);
    EXPECT_NE(err.find("skipping unreadable image " + odd.string()), std::string::npos) << err;
  }
}

// A file name is untrusted bytes: the warning prints it escaped (issue 10, item 6).
TEST_F(DataTest, FolderWarningEscapesTheFileName) {
  const fs::path r = dir_ / "names";
  write_png(r / "a" / "ok.png", gray(2, 2, 50));
  std::ofstream((r / "a" / "x\x1b[2Jy.png").string()) << "not an image";
  testing::internal::CaptureStderr();
  EXPECT_EQ(ds::read_image_folder(r.string(), 0, 0).size(), 1u);
  const std::string err = testing::internal::GetCapturedStderr();
  EXPECT_NE(err.find("skipping unreadable image " + (r / "a").string() + "/x\\x1b[2Jy.png"), std::string::npos) << err;
  EXPECT_EQ(err.find('\x1b'), std::string::npos) << err;
}

TEST_F(DataTest, FolderColourIsPlanarRgbAndGrayIsExpanded) {
  const fs::path r = dir_ / "colour";
  write_png(r / "a" / "gray.png", gray(2, 2, 50));
  write_png(r / "b" / "bgr.png", cv::Mat(2, 2, CV_8UC3, cv::Scalar(10, 20, 30)));  // B, G, R
  const ds::Dataset d = ds::read_image_folder(r.string(), 0, 0);
  ASSERT_EQ(d.channels, 3);
  ASSERT_EQ(d.size(), 2u);
  EXPECT_EQ(d.image(0)[0], 50);
  EXPECT_EQ(d.image(0)[8], 50);
  EXPECT_EQ(d.image(1)[0], 30);  // R plane
  EXPECT_EQ(d.image(1)[4], 20);  // G plane
  EXPECT_EQ(d.image(1)[8], 10);  // B plane
}

TEST_F(DataTest, FolderSizeMismatchNeedsResize) {
  const fs::path r = dir_ / "sizes";
  write_png(r / "a" / "small.png", gray(4, 4, 1));
  write_png(r / "a" / "zbig.png", gray(8, 8, 2));
  expect_data_error([&] { ds::read_image_folder(r.string(), 0, 0); }, {"zbig.png", "data.resize"});
  const ds::Dataset d = ds::read_image_folder(r.string(), 6, 0);
  EXPECT_EQ(d.height, 6);
  EXPECT_EQ(d.pixels.size(), 2u * 36);
  EXPECT_EQ(d.image(1)[35], 2);
}

TEST_F(DataTest, FolderAllUnreadableIsAnError) {
  const fs::path r = dir_ / "junk";
  fs::create_directories(r / "a");
  std::ofstream((r / "a" / "x.png").string()) << "junk";
  expect_data_error([&] { ds::read_image_folder(r.string(), 0, 0); }, {r.string()});
  expect_data_error([&] { ds::read_image_folder(path("nowhere"), 0, 0); }, {path("nowhere")});
}

TEST_F(DataTest, FolderWithoutSplitsHoldsOutEveryTenthImage) {
  const fs::path r = dir_ / "flat";
  for (int i = 0; i < 12; ++i) write_png(r / "x" / ("i" + std::to_string(100 + i) + ".png"), gray(3, 3, i));
  for (int i = 0; i < 10; ++i) write_png(r / "y" / ("i" + std::to_string(100 + i) + ".png"), gray(3, 3, 50 + i));
  ds::DataConfig cfg;
  cfg.dataset = ds::DatasetKind::folder;
  cfg.path = r.string();
  const ds::DataSplits s = ds::load_dataset(cfg);
  EXPECT_EQ(s.train.size(), 20u);
  ASSERT_EQ(s.test.size(), 2u);
  EXPECT_EQ(s.test.image(0)[0], 9);   // x: file 9
  EXPECT_EQ(s.test.image(1)[0], 59);  // y: file 9
  EXPECT_EQ(s.test.labels, (std::vector<int32_t>{0, 1}));
}

// ---------------------------------------------------------------- normalisation, batches

ds::Dataset tiny(int c, int h, int w, const std::vector<Bytes>& images) {
  ds::Dataset d;
  d.channels = c;
  d.height = h;
  d.width = w;
  d.num_classes = 10;
  for (size_t i = 0; i < images.size(); ++i) {
    d.pixels.insert(d.pixels.end(), images[i].begin(), images[i].end());
    d.labels.push_back(int32_t(i % 10));
  }
  return d;
}

TEST(Normalization, KnownValues) {
  // Channel 0: 0, 255, 255, 0 -> mean 0.5, std 0.5. Channel 1: constant 51 -> mean 0.2, std 1.
  const ds::Dataset d = tiny(2, 1, 2, {{0, 255, 51, 51}, {255, 0, 51, 51}});
  const ds::Normalization n = ds::compute_normalization(d);
  ASSERT_EQ(n.mean.size(), 2u);
  EXPECT_NEAR(n.mean[0], 0.5, 1e-6);
  EXPECT_NEAR(n.std[0], 0.5, 1e-6);
  EXPECT_NEAR(n.mean[1], 0.2, 1e-6);
  EXPECT_EQ(n.std[1], 1.f);
}

TEST(MakeBatch, NormalisesWithoutAugmentation) {
  const ds::Dataset d = tiny(2, 2, 2, {{0, 1, 2, 3, 4, 5, 6, 7}, {255, 128, 64, 32, 16, 8, 4, 2}});
  const ds::Normalization n{{0.25f, 0.5f}, {0.5f, 0.25f}};
  const int64_t idx[] = {1, 0, 1};
  std::vector<float> out(3 * 8, -99.f);
  int32_t labels[3];
  std::mt19937_64 rng(7);
  const std::mt19937_64 before = rng;
  ds::make_batch(d, idx, 3, n, ds::Augmentation{}, rng, out.data(), labels);
  EXPECT_EQ(rng, before);  // no augmentation, no draws
  for (int b = 0; b < 3; ++b)
    for (int c = 0; c < 2; ++c)
      for (int k = 0; k < 4; ++k) {
        const float v = d.image(size_t(idx[b]))[c * 4 + k];
        EXPECT_NEAR(out[size_t(b * 8 + c * 4 + k)], (v / 255.f - n.mean[size_t(c)]) / n.std[size_t(c)], 1e-5);
      }
  EXPECT_EQ(labels[0], 1);
  EXPECT_EQ(labels[1], 0);
  const int64_t bad[] = {2};
  expect_data_error([&] { ds::make_batch(d, bad, 1, n, ds::Augmentation{}, rng, out.data(), labels); }, {"2"});
}

// Image h x w of distinct non-zero values, normalised by mean 0 std 1/255 to the values.
TEST(MakeBatch, AugmentationIsDeterministicAndAShiftedCrop) {
  const int H = 6, W = 7, pad = 2, n = 64;
  Bytes img(size_t(H * W));
  for (int k = 0; k < H * W; ++k) img[size_t(k)] = uint8_t(k + 1);
  const ds::Dataset d = tiny(1, H, W, {img});
  const ds::Normalization norm{{0.f}, {1.f / 255.f}};  // output = pixel value
  std::vector<int64_t> idx(n, 0);
  std::vector<int32_t> labels(n);
  ds::Augmentation aug;
  aug.crop_pad = pad;
  aug.flip = true;

  std::vector<float> a(size_t(n * H * W)), b(a.size());
  std::mt19937_64 r1(42), r2(42);
  ds::make_batch(d, idx.data(), n, norm, aug, r1, a.data(), labels.data());
  ds::make_batch(d, idx.data(), n, norm, aug, r2, b.data(), labels.data());
  EXPECT_EQ(a, b);
  EXPECT_EQ(r1, r2);

  // Each output is the image shifted by some (dy, dx) in [-pad, pad], zeros outside,
  // possibly mirrored; over 64 draws both shifts and flips occur.
  int shifted = 0, flipped = 0;
  for (int i = 0; i < n; ++i) {
    const float* o = a.data() + size_t(i) * H * W;
    bool found = false;
    for (int f = 0; f < 2 && !found; ++f)
      for (int dy = -pad; dy <= pad && !found; ++dy)
        for (int dx = -pad; dx <= pad && !found; ++dx) {
          bool match = true;
          for (int y = 0; y < H && match; ++y)
            for (int x = 0; x < W && match; ++x) {
              const int cx = f ? W - 1 - x : x;  // column of the crop before the flip
              const int sy = y + dy, sx = cx + dx;
              const float want = (sy >= 0 && sy < H && sx >= 0 && sx < W) ? float(img[size_t(sy * W + sx)]) : 0.f;
              match = std::fabs(o[y * W + x] - want) < 1e-3f;
            }
          if (match) {
            found = true;
            shifted += (dy != 0 || dx != 0);
            flipped += f;
          }
        }
    EXPECT_TRUE(found) << "batch image " << i << " is not a shifted crop of the image";
  }
  EXPECT_GT(shifted, 0);
  EXPECT_GT(flipped, 0);
  EXPECT_LT(flipped, n);

  // A different seed gives a different batch.
  std::mt19937_64 r3(43);
  ds::make_batch(d, idx.data(), n, norm, aug, r3, b.data(), labels.data());
  EXPECT_NE(a, b);
}

// ---------------------------------------------------------------- the real thing

TEST(FashionMnist, LoadsFromDebianPackage) {
  const std::string root = "/usr/share/datasets/fashion-mnist";
  if (!fs::is_directory(root)) GTEST_SKIP() << root << " not installed (apt-get install dataset-fashion-mnist)";
  const ds::DataSplits s = ds::load_dataset(ds::DataConfig{});
  EXPECT_EQ(s.path, root);
  EXPECT_EQ(s.train.size(), 60000u);
  EXPECT_EQ(s.test.size(), 10000u);
  EXPECT_EQ(s.train.channels, 1);
  EXPECT_EQ(s.train.height, 28);
  EXPECT_EQ(s.train.width, 28);
  EXPECT_EQ(s.train.num_classes, 10);
  std::vector<int> counts(10, 0);
  for (int32_t l : s.train.labels) counts[size_t(l)]++;
  for (int c : counts) EXPECT_EQ(c, 6000);  // Fashion-MNIST is balanced
  const ds::Normalization n = ds::compute_normalization(s.train);
  EXPECT_NEAR(n.mean[0], 0.2860, 1e-3);
  EXPECT_NEAR(n.std[0], 0.3530, 1e-3);
}

}  // namespace
