// Atomic PNG writes: encode in memory with cv::imencode, then write the bytes through
// io/atomic_file.hpp (temp file, fsync, rename). Our own write, not cv::imwrite, so that a
// full disk or a missing folder is reported with the OS error instead of OpenCV's bare
// "false".
#include "deconvscope/report/png.hpp"

#include <opencv2/imgcodecs.hpp>

#include <vector>

#include "deconvscope/core/error.hpp"
#include "deconvscope/io/atomic_file.hpp"

namespace ds {

void write_png(const cv::Mat& picture, const std::string& path) {
  if (picture.empty()) throw Error(ErrorKind::io, path, "refusing to write an empty picture");
  std::vector<uchar> bytes;
  std::string why;
  try {
    if (!cv::imencode(".png", picture, bytes))
      why = "OpenCV's PNG encoder refused a " + std::to_string(picture.cols) + "x" + std::to_string(picture.rows) +
            " picture with " + std::to_string(picture.channels()) + " channels of depth " +
            std::to_string(picture.depth());
  } catch (const cv::Exception& e) {
    why = e.what();
  }
  if (!why.empty()) throw Error(ErrorKind::io, path, "cannot encode the PNG: " + why);
  write_file_atomic(path, bytes.data(), bytes.size());
}

}  // namespace ds
