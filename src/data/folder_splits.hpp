// Private to src/data: the `folder` case of load_dataset, kept next to the folder reader
// because both splits must agree on classes, channels and image size.
#pragma once

#include <cstdint>
#include <string>

#include "deconvscope/data/dataset.hpp"

namespace ds {

// Reads root/train and root/test (class subfolders in each), or, when root has neither,
// root itself as train with every 10th image of each class held out as test.
DataSplits read_image_folder_splits(const std::string& root, int resize, int64_t train_limit,
                                    int64_t test_limit);

}  // namespace ds
