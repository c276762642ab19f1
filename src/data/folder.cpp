// Image-folder datasets: class subfolders of image files, decoded with OpenCV. Classes are
// the subfolder names sorted; files within a class are sorted by name. The image order is
// round-robin over the classes (first file of each class, then the second, ...), so that
// data.train_limit / test_limit ("the first N images") keep every class represented.
// Images stay 1-channel when every image of both splits is grayscale; otherwise all become
// RGB (converted from OpenCV's BGR; alpha dropped). Stored planar (C, H, W).
// This file holds the listing, the decoding shared with streaming_folder.cpp and the
// in-memory reader (the decoded set is held in memory, briefly twice while it is packed).
// Leaves out: 16-bit precision (scaled to 8 bits), nested class folders.
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <filesystem>
#include <iostream>
#include <string>
#include <vector>

#include "deconvscope/core/error.hpp"
#include "deconvscope/core/regular_file.hpp"
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
    const bool dir = e.is_directory(ec2);
    // In a class folder, anything that is not a plain subfolder is an image to read: a
    // FIFO, a dangling symlink or a folder named like a file ("x.png") is then refused by
    // data.bad_images = stop, or skipped and counted, never skipped unsaid.
    const bool looks_like_file = e.path().filename().string().find('.') != std::string::npos;
    if (want_dirs ? dir : (!dir || looks_like_file)) out.push_back(e.path());
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

// Round-robin over classes: see the file comment.
std::vector<FolderEntry> interleave(const ClassFiles& cf) {
  std::vector<FolderEntry> out;
  size_t longest = 0;
  for (const auto& f : cf.files) longest = std::max(longest, f.size());
  for (size_t i = 0; i < longest; ++i)
    for (size_t c = 0; c < cf.files.size(); ++c)
      if (i < cf.files[c].size()) out.push_back({cf.files[c][i], int32_t(c)});
  return out;
}

struct Split {
  const FolderSplit* files = nullptr;
  std::vector<cv::Mat> images; // decoded, HWC, 8-bit, 1 or 3 (BGR) channels
  std::vector<int32_t> labels;
};

// Decodes one file to 8-bit gray or BGR; an empty Mat if OpenCV cannot read it.
cv::Mat decode(const std::string& path) {
  cv::Mat img;
  try {
    // Not cv::imread: it opens the path itself, and blocks for ever on a FIFO. The one
    // reader of files that may be anything opens it without blocking, checks it is a
    // regular file and caps its size; OpenCV decodes the bytes.
    FileRules rules;
    rules.kind = ErrorKind::data;
    rules.what = "an image file";
    rules.max_bytes = uint64_t(256) << 20;
    const std::vector<char> bytes = read_regular_file(path, rules);
    if (bytes.empty()) return img;
    img = cv::imdecode(cv::Mat(1, int(bytes.size()), CV_8U, const_cast<char*>(bytes.data())), cv::IMREAD_ANYCOLOR);
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
  } catch (const Error&) {  // not a regular file, or too large: unreadable, as bad_images says
    return cv::Mat();
  }
  return img;
}

// Decodes all splits together so that size and channel decisions cover every image.
std::vector<Dataset> decode_splits(std::vector<Split>& splits, const FolderListing& listing, FolderReadState& st) {
  for (Split& s : splits) {
    const FolderSplit& f = *s.files;
    for (const FolderEntry& e : f.entries) {
      if (f.limit > 0 && int64_t(s.images.size()) >= f.limit) break;
      cv::Mat img = decode_folder_image(e.path, st.resize);
      if (!st.accept(e.path, !img.empty(), img.rows, img.cols, img.channels())) continue;
      s.images.push_back(img);
      s.labels.push_back(e.label);
    }
    st.check_split(f, s.images.size());
  }
  std::vector<Dataset> out;
  for (Split& s : splits) {
    Dataset d = st.dataset(listing, *s.files, std::move(s.labels));
    d.pixels.resize(d.labels.size() * d.image_bytes());
    for (size_t i = 0; i < s.images.size(); ++i) {
      folder_image_to_planar(s.images[i], d.channels, d.pixels.data() + i * d.image_bytes());
      s.images[i].release();  // as we go, to keep the peak lower
    }
    out.push_back(std::move(d));
  }
  return out;
}

}  // namespace

cv::Mat decode_folder_image(const std::string& path, int resize) {
  cv::Mat img = decode(path);
  if (img.empty() || resize <= 0 || (img.rows == resize && img.cols == resize)) return img;
  const bool shrink = img.rows >= resize && img.cols >= resize;
  cv::Mat resized;
  cv::resize(img, resized, cv::Size(resize, resize), 0, 0, shrink ? cv::INTER_AREA : cv::INTER_LINEAR);
  return resized;
}

void folder_image_to_planar(const cv::Mat& image, int channels, uint8_t* dst) {
  const cv::Mat img = image.isContinuous() ? image : image.clone();
  const size_t plane = size_t(img.rows) * img.cols;
  const uint8_t* src = img.ptr<uint8_t>();  // (H, W, 1 or 3 BGR)
  if (img.channels() == 1) {
    for (int c = 0; c < channels; ++c) std::copy(src, src + plane, dst + c * plane);
  } else if (channels == 3) {
    for (size_t p = 0; p < plane; ++p) {
      dst[p] = src[3 * p + 2];              // R
      dst[plane + p] = src[3 * p + 1];      // G
      dst[2 * plane + p] = src[3 * p + 0];  // B
    }
  } else {
    cv::Mat gray(img.rows, img.cols, CV_8UC1, dst);  // writes straight into dst
    cv::cvtColor(img, gray, cv::COLOR_BGR2GRAY);
  }
}

bool FolderReadState::accept(const std::string& path, bool readable, int rows, int cols, int channels) {
  if (!readable) {
    if (!skip_bad)
      throw Error(ErrorKind::data, path,
                  "OpenCV cannot decode this image (corrupt, truncated, unreadable or not an image)",
                  "remove or replace it, or set data.bad_images = skip to leave such images out (they are counted "
                  "in the log)");
    std::cerr << "deconvscope: warning: skipping unreadable image " << ds::printable(path) << "\n";
    ++skipped;
    return false;
  }
  if (resize <= 0) {
    if (first_file.empty()) {
      height = rows;
      width = cols;
      first_file = path;
    } else if (rows != height || cols != width) {
      throw Error(ErrorKind::data, path,
                  "image size differs from the others: " +
                      expected_found(std::to_string(width) + "x" + std::to_string(height) + " (as " + first_file + ")",
                                     std::to_string(cols) + "x" + std::to_string(rows)),
                  "set data.resize to bring every image to one size");
    }
  }
  any_colour = any_colour || channels == 3;
  return true;
}

void FolderReadState::check_split(const FolderSplit& f, size_t accepted) const {
  if (accepted == 0)
    throw Error(ErrorKind::data, f.folder,
                f.entries.empty() ? "no image files found" : "none of the image files could be read",
                "each class subfolder should hold images OpenCV can decode (png, jpg, ...)");
}

Dataset FolderReadState::dataset(const FolderListing& listing, const FolderSplit& f, std::vector<int32_t> labels) const {
  Dataset d;
  d.channels = any_colour ? 3 : 1;
  d.height = height;
  d.width = width;
  d.num_classes = int(listing.classes.size());
  d.class_names = listing.classes;
  d.source = f.folder;
  d.labels = std::move(labels);
  return d;
}

void FolderReadState::add_notes(DataSplits& s) const {
  if (skipped > 0)
    s.notes.push_back("skipped " + std::to_string(skipped) + " unreadable image" + (skipped == 1 ? "" : "s") +
                      " (data.bad_images = skip; each is named on stderr)");
}

Dataset read_image_folder(const std::string& folder, int resize, int64_t limit) {
  FolderListing listing;
  const ClassFiles cf = list_class_folders(folder);
  listing.classes = cf.classes;
  listing.train.folder = folder;
  listing.train.entries = interleave(cf);
  listing.train.limit = limit;
  std::vector<Split> splits(1);
  splits[0].files = &listing.train;
  FolderReadState st(resize, /*skip_bad=*/true);
  return std::move(decode_splits(splits, listing, st)[0]);
}

FolderListing list_image_folder_splits(const std::string& root, int64_t train_limit, int64_t test_limit) {
  std::error_code ec;
  if (!fs::is_directory(root, ec))
    throw Error(ErrorKind::data, root, "no such folder",
                "set data.path to a folder with train/ and test/ (or just class subfolders)");
  const fs::path train_dir = fs::path(root) / "train", test_dir = fs::path(root) / "test";
  const bool has_train = fs::is_directory(train_dir, ec), has_test = fs::is_directory(test_dir, ec);

  FolderListing out;
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
    out.train.folder = train_dir.string();
    out.test.folder = test_dir.string();
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
    out.train.folder = root;
    out.test.folder = root + " (every 10th image held out as test)";
  }
  out.classes = train_cf.classes;
  out.train.entries = interleave(train_cf);
  out.train.limit = train_limit;
  out.test.entries = interleave(test_cf);
  out.test.limit = test_limit;
  return out;
}

DataSplits read_image_folder_splits(const FolderListing& listing, const std::string& root, int resize, bool skip_bad) {
  std::vector<Split> splits(2);
  splits[0].files = &listing.train;
  splits[1].files = &listing.test;
  FolderReadState st(resize, skip_bad);
  std::vector<Dataset> sets = decode_splits(splits, listing, st);
  DataSplits out;
  out.train = std::move(sets[0]);
  out.test = std::move(sets[1]);
  out.path = root;
  st.add_notes(out);
  return out;
}

uint64_t estimate_folder_bytes(const FolderListing& listing, int resize) {
  auto count = [](const FolderSplit& s) {
    return s.limit > 0 ? std::min<uint64_t>(uint64_t(s.limit), s.entries.size()) : uint64_t(s.entries.size());
  };
  for (const FolderEntry& e : listing.train.entries) {
    const cv::Mat img = decode_folder_image(e.path, resize);
    if (img.empty()) continue;  // the real read reports it
    return (count(listing.train) + count(listing.test)) * uint64_t(img.total()) * uint64_t(img.channels());
  }
  return 0;
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
