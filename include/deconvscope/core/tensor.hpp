// A plain, row-major float tensor: the boundary format of the project (HDF5, OpenCV,
// tests). Inside the network oneDNN keeps its own blocked layouts; whatever crosses out
// of it is reordered to this (nchw for activations, oihw for conv weights, oi for fc).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace ds {

struct Tensor {
  std::vector<int64_t> dims;  // e.g. (N, C, H, W) or (O, I, kh, kw)
  std::vector<float> data;    // size() == product of dims

  Tensor() = default;
  explicit Tensor(std::vector<int64_t> d) : dims(std::move(d)), data(count(dims), 0.f) {}

  static size_t count(const std::vector<int64_t>& d) {
    size_t n = 1;
    for (int64_t x : d) n *= static_cast<size_t>(x);
    return n;
  }
  size_t size() const { return data.size(); }
  bool empty() const { return data.empty(); }
  float* ptr() { return data.data(); }
  const float* ptr() const { return data.data(); }
};

// "(N, C, H, W)"-style text of a shape, for messages.
std::string shape_str(const std::vector<int64_t>& dims);

}  // namespace ds
