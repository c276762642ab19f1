// Atomic PNG writes: encode to a temporary .png name, then commit_file (fsync + rename).
#include "deconvscope/report/png.hpp"

#include <opencv2/imgcodecs.hpp>

#include "deconvscope/core/error.hpp"
#include "deconvscope/io/atomic_file.hpp"

namespace ds {

void write_png(const cv::Mat& picture, const std::string& path) {
  if (picture.empty()) throw Error(ErrorKind::io, path, "refusing to write an empty picture");
  // cv::imwrite picks the encoder from the extension, hence the .png ending.
  TempFileGuard temp(temp_path_for(path) + ".png");
  bool ok = false;
  std::string why = "the encoder returned false";
  try {
    ok = cv::imwrite(temp.path(), picture);
  } catch (const cv::Exception& e) {
    why = e.what();
  }
  if (!ok)
    throw Error(ErrorKind::io, path, "cannot write PNG " + temp.path() + ": " + why,
                "check the folder's permissions and free space");
  commit_file(temp.path(), path);
  temp.dismiss();
}

}  // namespace ds
