// Pictures inside an HTML page: a PNG encoded in memory (cv::imencode) and written as a
// base64 `data:` URI, so that a page is one self-contained file that can be mailed or
// moved on its own.
// Left out: other image formats; every picture here is a PNG.
#pragma once

#include <opencv2/core.hpp>
#include <string>

namespace ds {

// RFC 4648 base64 with '=' padding, no line breaks (OpenSSL's EVP_EncodeBlock).
std::string base64_encode(const std::string& bytes);

// "data:image/png;base64,..." of the picture. Throws ds::Error(io) if it is empty or
// cannot be encoded.
std::string png_data_uri(const cv::Mat& picture);

}  // namespace ds
