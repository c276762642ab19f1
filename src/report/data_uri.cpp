// Base64 and PNG data URIs; see include/deconvscope/report/data_uri.hpp.
#include "deconvscope/report/data_uri.hpp"

#include <openssl/evp.h>

#include <limits>
#include <opencv2/imgcodecs.hpp>
#include <vector>

#include "deconvscope/core/error.hpp"

namespace ds {

std::string base64_encode(const std::string& in) {
  // EVP_EncodeBlock writes whole 4-character quanta with '=' padding and no line breaks,
  // then a NUL: room for 4*ceil(n/3)+1 characters. It takes an int length; a PNG of a
  // page's picture is far below 1.5 GiB.
  if (in.size() > size_t(std::numeric_limits<int>::max()) / 4 * 3)
    throw Error(ErrorKind::io, "base64_encode", "refusing to encode " + std::to_string(in.size()) + " bytes in one page");
  std::string out((in.size() + 2) / 3 * 4 + 1, '\0');
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(&out[0]),
                                reinterpret_cast<const unsigned char*>(in.data()), int(in.size()));
  out.resize(size_t(n));  // drops the NUL
  return out;
}

std::string png_data_uri(const cv::Mat& picture) {
  if (picture.empty()) throw Error(ErrorKind::io, "png_data_uri", "refusing to encode an empty picture");
  std::vector<uchar> png;
  bool ok = false;
  try {
    ok = cv::imencode(".png", picture, png);
  } catch (const cv::Exception& e) {
    throw Error(ErrorKind::io, "png_data_uri", std::string("cannot encode PNG: ") + e.what());
  }
  if (!ok) throw Error(ErrorKind::io, "png_data_uri", "cannot encode PNG: the encoder returned false");
  return "data:image/png;base64," + base64_encode(std::string(png.begin(), png.end()));
}

}  // namespace ds
