// Base64 and PNG data URIs; see include/deconvscope/report/data_uri.hpp.
#include "deconvscope/report/data_uri.hpp"

#include <opencv2/imgcodecs.hpp>
#include <vector>

#include "deconvscope/core/error.hpp"

namespace ds {

std::string base64_encode(const std::string& in) {
  static const char* kAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((in.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    const uint32_t v = uint32_t(uint8_t(in[i])) << 16 | uint32_t(uint8_t(in[i + 1])) << 8 | uint8_t(in[i + 2]);
    out += kAlphabet[v >> 18 & 63];
    out += kAlphabet[v >> 12 & 63];
    out += kAlphabet[v >> 6 & 63];
    out += kAlphabet[v & 63];
  }
  if (i < in.size()) {  // one or two bytes left: pad to a full quantum
    const bool two = i + 1 < in.size();
    const uint32_t v = uint32_t(uint8_t(in[i])) << 16 | (two ? uint32_t(uint8_t(in[i + 1])) << 8 : 0u);
    out += kAlphabet[v >> 18 & 63];
    out += kAlphabet[v >> 12 & 63];
    out += two ? kAlphabet[v >> 6 & 63] : '=';
    out += '=';
  }
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
