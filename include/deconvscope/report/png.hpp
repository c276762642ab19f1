// Writing a picture so that a reader never sees half a PNG: encode to a temporary name
// in the same folder (ending in .png, since cv::imwrite picks the format from it), then
// fsync and rename into place (io/atomic_file.hpp).
#pragma once

#include <string>

#include <opencv2/core.hpp>

namespace ds {

// Throws ds::Error(io) naming `path` if the picture is empty or cannot be written.
void write_png(const cv::Mat& picture, const std::string& path);

}  // namespace ds
