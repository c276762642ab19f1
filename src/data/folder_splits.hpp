// Private to src/data: the `folder` case of load_dataset, shared by the in-memory reader
// (folder.cpp) and the streaming one (streaming_folder.cpp): both list the same files in
// the same order and decode each one with the same code, so that the two modes see the
// same images, labels and bytes.
#pragma once

#include <opencv2/core.hpp>

#include <cstdint>
#include <string>
#include <vector>

#include "deconvscope/data/dataset.hpp"

namespace ds {

struct FolderEntry {
  std::string path;
  int32_t label;
};

struct FolderSplit {
  std::string folder;               // for messages and Dataset::source
  std::vector<FolderEntry> entries; // candidates in order; unreadable ones are skipped or stop the read
  int64_t limit = 0;                // the first `limit` readable images; 0 = all
};

// The files of root/train and root/test (class subfolders in each), or, when root has
// neither, of root itself as train with every 10th image of each class held out as test.
struct FolderListing {
  std::vector<std::string> classes;  // sorted training subfolder names
  FolderSplit train, test;
};
FolderListing list_image_folder_splits(const std::string& root, int64_t train_limit, int64_t test_limit);

// Decodes one file to 8-bit gray or BGR, resized to resize x resize when resize > 0 (area
// interpolation when shrinking); an empty Mat if OpenCV cannot read it.
cv::Mat decode_folder_image(const std::string& path, int resize);

// img (H, W, 1 or 3 BGR) to dst (channels, H, W), planar RGB; gray is copied to every plane.
void folder_image_to_planar(const cv::Mat& img, int channels, uint8_t* dst);

// data.bad_images as the readers' flag: skip an image OpenCV cannot decode, or stop.
inline bool skips_bad_images(BadImages b) {
  switch (b) {
    case BadImages::stop: return false;
    case BadImages::skip: return true;
  }
  return false;
}

// What both readers decide image by image, in listing order, so that they agree: the first
// readable image fixes the size when resize is 0 (another size is an error naming the
// file), any colour image makes the set RGB, and an unreadable image stops the read
// (data.bad_images = stop) or is left out, warned about on stderr and counted.
struct FolderReadState {
  int resize = 0;
  bool skip_bad = false;
  int height = 0, width = 0;
  std::string first_file;  // the image that fixed the size when resize is 0
  bool any_colour = false;
  int64_t skipped = 0;

  FolderReadState(int resize_, bool skip_bad_) : resize(resize_), skip_bad(skip_bad_), height(resize_), width(resize_) {}
  // False when the image is left out; throws ds::Error(data) naming it when it must stop the read.
  bool accept(const std::string& path, bool readable, int rows, int cols, int channels);
  // After a split: an error naming its folder if no image of it was accepted.
  void check_split(const FolderSplit& f, size_t accepted) const;
  // A dataset of the split's accepted labels, with shape and classes but no pixels.
  Dataset dataset(const FolderListing& listing, const FolderSplit& f, std::vector<int32_t> labels) const;
  // For the run's log: how many images were skipped, if any.
  void add_notes(DataSplits& s) const;
};

// Reads every image of the listing into memory.
DataSplits read_image_folder_splits(const FolderListing& listing, const std::string& root, int resize,
                                    bool skip_bad);

// Lists the images without keeping them (one decode pass for shapes, channels and the
// training set's per-channel sums), and returns datasets that decode on demand.
DataSplits stream_image_folder_splits(const FolderListing& listing, const std::string& root, const DataConfig& cfg);

// The bytes the decoded set would take in memory, estimated from the first readable image.
uint64_t estimate_folder_bytes(const FolderListing& listing, int resize);

}  // namespace ds
