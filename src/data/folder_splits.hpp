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

// The error for an image OpenCV cannot decode under data.bad_images = stop.
[[noreturn]] void throw_bad_image(const std::string& path);

// Reads every image of the listing into memory.
DataSplits read_image_folder_splits(const FolderListing& listing, const std::string& root, int resize,
                                    bool skip_bad);

// Lists the images without keeping them (one decode pass for shapes, channels and the
// training set's per-channel sums), and returns datasets that decode on demand.
DataSplits stream_image_folder_splits(const FolderListing& listing, const std::string& root, const DataConfig& cfg);

// The bytes the decoded set would take in memory, estimated from the first readable image.
uint64_t estimate_folder_bytes(const FolderListing& listing, int resize);

}  // namespace ds
