// Writing a picture so that a reader never sees half a PNG: encode in memory, write to a
// temporary name in the same folder, fsync and rename into place (io/atomic_file.hpp).
#pragma once

#include <string>

#include <opencv2/core.hpp>

namespace ds {

// Throws ds::Error(io) naming `path` and the reason (the OS error, e.g. "No space left
// on device") if the picture is empty, cannot be encoded or cannot be written.
void write_png(const cv::Mat& picture, const std::string& path);

}  // namespace ds
