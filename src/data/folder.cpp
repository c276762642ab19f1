// Image-folder datasets: class subfolders of image files, decoded with OpenCV. Classes are
// the subfolder names sorted; files within a class are sorted by name. The image order is
// round-robin over the classes (first file of each class, then the second, ...), so that
// data.train_limit / test_limit ("the first N images") keep every class represented.
// Images stay 1-channel when every image of both splits is grayscale; otherwise all become
// RGB (converted from OpenCV's BGR; alpha dropped). Stored planar (C, H, W).
// Leaves out: 16-bit precision (scaled to 8 bits), streaming (the decoded set is held in
// memory, briefly twice while it is packed), nested class folders.
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <filesystem>
#include <iostream>
#include <string>
#include <vector>

#include "deconvscope/core/error.hpp"
#include "deconvscope/data/dataset.hpp"
#include "folder_splits.hpp"

namespace fs = std::filesystem;

namespace ds {

namespace {

struct ClassFiles {
  std::vector<std::string> classes;               // sorted subfolder names
  std::vector<std::vector<std::string>> files;    // per class, sorted paths
};

bool hidden(const fs::path& p) {
  const std::string name = p.filename().string();
  return name.empty() || name[0] == '.';
}

std::vector<fs::path> sorted_entries(const fs::path& dir, bool want_dirs) {
  std::vector<fs::path> out;
  std::error_code ec;
  fs::directory_iterator it(dir, ec);
  if (ec) throw Error(ErrorKind::data, dir.string(), "cannot list the folder: " + ec.message());
  for (const fs::directory_entry& e : it) {
    if (hidden(e.path())) continue;
    std::error_code ec2;
    if (want_dirs ? e.is_directory(ec2) : e.is_regular_file(ec2)) out.push_back(e.path());
  }
  std::sort(out.begin(), out.end());
  return out;
}

ClassFiles list_class_folders(const std::string& folder) {
  std::error_code ec;
  if (!fs::is_directory(folder, ec))
    throw Error(ErrorKind::data, folder, "no such folder",
                "a folder dataset is a folder of class subfolders holding images");
  ClassFiles cf;
  for (const fs::path& dir : sorted_entries(folder, /*want_dirs=*/true)) {
    cf.classes.push_back(dir.filename().string());
    cf.files.emplace_back();
    for (const fs::path& f : sorted_entries(dir, /*want_dirs=*/false)) cf.files.back().push_back(f.string());
  }
  if (cf.classes.empty())
    throw Error(ErrorKind::data, folder, "no class subfolders",
                "put the images of each class in a subfolder named after the class");
  return cf;
}

struct Entry {
  std::string path;
  int32_t label;
};

// Round-robin over classes: see the file comment.
std::vector<Entry> interleave(const ClassFiles& cf) {
  std::vector<Entry> out;
  size_t longest = 0;
  for (const auto& f : cf.files) longest = std::max(longest, f.size());
  for (size_t i = 0; i < longest; ++i)
    for (size_t c = 0; c < cf.files.size(); ++c)
      if (i < cf.files[c].size()) out.push_back({cf.files[c][i], int32_t(c)});
  return out;
}

struct Split {
  std::string folder;          // for messages and Dataset::source
  std::vector<Entry> entries;  // candidates in order; unreadable ones are skipped
  int64_t limit = 0;
  std::vector<cv::Mat> images; // decoded, HWC, 8-bit, 1 or 3 (BGR) channels
  std::vector<int32_t> labels;
};

// Decodes one file to 8-bit gray or BGR; an empty Mat if OpenCV cannot read it.
cv::Mat decode(const std::string& path) {
  cv::Mat img;
  try {
    img = cv::imread(path, cv::IMREAD_ANYCOLOR);
    if (img.empty()) return img;
    if (img.depth() != CV_8U) {
      const double scale = img.depth() == CV_16U ? 1.0 / 257.0 : img.depth() == CV_8S ? 1.0 : 255.0;
      cv::Mat converted;
      img.convertTo(converted, CV_8U, scale);
      img = converted;
    }
    if (img.channels() == 4) cv::cvtColor(img, img, cv::COLOR_BGRA2BGR);
    else if (img.channels() == 2) {  // gray + alpha: keep the gray plane
      cv::Mat gray;
      cv::extractChannel(img, gray, 0);
      img = gray;
    }
    if (img.channels() != 1 && img.channels() != 3) return cv::Mat();
  } catch (const cv::Exception&) {
    return cv::Mat();
  }
  return img;
}

// Decodes all splits together so that size and channel decisions cover every image.
std::vector<Dataset> decode_splits(std::vector<Split>& splits, int resize, const std::vector<std::string>& classes) {
  bool any_colour = false;
  int height = resize, width = resize;
  std::string first_file;  // the image that fixed the size when resize is 0
  for (Split& s : splits) {
    for (const Entry& e : s.entries) {
      if (s.limit > 0 && int64_t(s.images.size()) >= s.limit) break;
      cv::Mat img = decode(e.path);
      if (img.empty()) {
        std::cerr << "deconvscope: warning: skipping unreadable image " << ds::printable(e.path) << "\n";
        continue;
      }
      if (resize > 0) {
        if (img.rows != resize || img.cols != resize) {
          const bool shrink = img.rows >= resize && img.cols >= resize;
          cv::Mat resized;
          cv::resize(img, resized, cv::Size(resize, resize), 0, 0, shrink ? cv::INTER_AREA : cv::INTER_LINEAR);
          img = resized;
        }
      } else if (first_file.empty()) {
        height = img.rows;
        width = img.cols;
        first_file = e.path;
      } else if (img.rows != height || img.cols != width) {
        throw Error(ErrorKind::data, e.path,
                    "image size differs from the others: " +
                        expected_found(std::to_string(width) + "x" + std::to_string(height) + " (as " +
                                           first_file + ")",
                                       std::to_string(img.cols) + "x" + std::to_string(img.rows)),
                    "set data.resize to bring every image to one size");
      }
      any_colour = any_colour || img.channels() == 3;
      s.images.push_back(img);
      s.labels.push_back(e.label);
    }
    if (s.images.empty())
      throw Error(ErrorKind::data, s.folder,
                  s.entries.empty() ? "no image files found" : "none of the image files could be read",
                  "each class subfolder should hold images OpenCV can decode (png, jpg, ...)");
  }

  const int channels = any_colour ? 3 : 1;
  std::vector<Dataset> out;
  for (Split& s : splits) {
    Dataset d;
    d.channels = channels;
    d.height = height;
    d.width = width;
    d.num_classes = int(classes.size());
    d.class_names = classes;
    d.source = s.folder;
    d.labels = std::move(s.labels);
    const size_t plane = size_t(height) * width;
    d.pixels.resize(d.labels.size() * channels * plane);
    for (size_t i = 0; i < s.images.size(); ++i) {
      cv::Mat& img = s.images[i];
      if (!img.isContinuous()) img = img.clone();
      uint8_t* dst = d.pixels.data() + i * channels * plane;  // (C, H, W)
      const uint8_t* src = img.ptr<uint8_t>();               // (H, W, 1 or 3 BGR)
      if (img.channels() == 1) {
        for (int c = 0; c < channels; ++c) std::copy(src, src + plane, dst + c * plane);
      } else {
        for (size_t p = 0; p < plane; ++p) {
          dst[p] = src[3 * p + 2];              // R
          dst[plane + p] = src[3 * p + 1];      // G
          dst[2 * plane + p] = src[3 * p + 0];  // B
        }
      }
      img.release();  // as we go, to keep the peak lower
    }
    out.push_back(std::move(d));
  }
  return out;
}

}  // namespace

Dataset read_image_folder(const std::string& folder, int resize, int64_t limit) {
  const ClassFiles cf = list_class_folders(folder);
  std::vector<Split> splits(1);
  splits[0].folder = folder;
  splits[0].entries = interleave(cf);
  splits[0].limit = limit;
  return std::move(decode_splits(splits, resize, cf.classes)[0]);
}

DataSplits read_image_folder_splits(const std::string& root, int resize, int64_t train_limit,
                                    int64_t test_limit) {
  std::error_code ec;
  if (!fs::is_directory(root, ec))
    throw Error(ErrorKind::data, root, "no such folder",
                "set data.path to a folder with train/ and test/ (or just class subfolders)");
  const fs::path train_dir = fs::path(root) / "train", test_dir = fs::path(root) / "test";
  const bool has_train = fs::is_directory(train_dir, ec), has_test = fs::is_directory(test_dir, ec);

  std::vector<Split> splits(2);
  ClassFiles train_cf, test_cf;
  if (has_train || has_test) {
    if (!has_train || !has_test)
      throw Error(ErrorKind::data, (has_train ? test_dir : train_dir).string(), "no such folder",
                  "a folder dataset has both train/ and test/, or neither (then every 10th image is held out)");
    train_cf = list_class_folders(train_dir.string());
    const ClassFiles raw_test = list_class_folders(test_dir.string());
    // Labels follow the training classes; a test class the network never saw is an error.
    test_cf.classes = train_cf.classes;
    test_cf.files.resize(train_cf.classes.size());
    for (size_t c = 0; c < raw_test.classes.size(); ++c) {
      const auto it = std::find(train_cf.classes.begin(), train_cf.classes.end(), raw_test.classes[c]);
      if (it == train_cf.classes.end())
        throw Error(ErrorKind::data, (test_dir / raw_test.classes[c]).string(),
                    "test class has no training folder " + (train_dir / raw_test.classes[c]).string(),
                    "train/ and test/ must have the same class subfolders");
      test_cf.files[size_t(it - train_cf.classes.begin())] = raw_test.files[c];
    }
    splits[0].folder = train_dir.string();
    splits[1].folder = test_dir.string();
  } else {
    // No train/ and test/: the whole folder is the training set, minus every 10th image of
    // each class (files 9, 19, 29, ... in name order), which becomes the test set. It is
    // deterministic so that a resumed or repeated run sees the same split.
    const ClassFiles all = list_class_folders(root);
    train_cf.classes = test_cf.classes = all.classes;
    train_cf.files.resize(all.classes.size());
    test_cf.files.resize(all.classes.size());
    for (size_t c = 0; c < all.files.size(); ++c)
      for (size_t i = 0; i < all.files[c].size(); ++i)
        (i % 10 == 9 ? test_cf : train_cf).files[c].push_back(all.files[c][i]);
    splits[0].folder = root;
    splits[1].folder = root + " (every 10th image held out as test)";
  }
  splits[0].entries = interleave(train_cf);
  splits[0].limit = train_limit;
  splits[1].entries = interleave(test_cf);
  splits[1].limit = test_limit;

  std::vector<Dataset> sets = decode_splits(splits, resize, train_cf.classes);
  DataSplits out;
  out.train = std::move(sets[0]);
  out.test = std::move(sets[1]);
  out.path = root;
  return out;
}

void resize_dataset(Dataset& d, int size) {
  if (size <= 0 || (d.height == size && d.width == size)) return;
  const bool shrink = d.height >= size && d.width >= size;
  const size_t planes = d.size() * size_t(d.channels);
  const size_t src_plane = size_t(d.height) * d.width, dst_plane = size_t(size) * size;
  std::vector<uint8_t> resized(planes * dst_plane);
  // Each (H, W) plane on its own: area and bilinear interpolation do not mix channels.
  for (size_t p = 0; p < planes; ++p) {
    const cv::Mat src(d.height, d.width, CV_8UC1, d.pixels.data() + p * src_plane);
    cv::Mat dst(size, size, CV_8UC1, resized.data() + p * dst_plane);
    cv::resize(src, dst, cv::Size(size, size), 0, 0, shrink ? cv::INTER_AREA : cv::INTER_LINEAR);
  }
  d.pixels = std::move(resized);
  d.height = d.width = size;
}

}  // namespace ds
