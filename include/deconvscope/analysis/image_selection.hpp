// Which dataset images an analysis looks at, written on the command line or in a config
// key as "<split>:<indices>": "test:0-4" (a range, both ends included), "train:3,7,9",
// or a mix "test:0-2,10". The analyses choose images through Run::select_images (run.hpp).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace ds {

struct ImageSelection {
  bool train_split = false;      // "train:" or "test:"
  std::vector<int64_t> indices;  // in the order written, no repeats
};

// Parses text; ds::Error(config) naming `key` with what was expected and found when the
// split is not train/test, an index is not a non-negative integer, a range runs
// backwards, an index repeats, or there is no index at all.
ImageSelection parse_image_selection(const std::string& text, const std::string& key);

// ds::Error(config) naming `key` when an index is not below split_size (the number of
// images in the chosen split).
void check_image_selection(const ImageSelection& selection, int64_t split_size, const std::string& key);

}  // namespace ds
