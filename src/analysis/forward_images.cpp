// See include/deconvscope/analysis/forward_images.hpp.
#include "deconvscope/analysis/forward_images.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

namespace ds {

void forward_images(Network& net, const float* images, int64_t count, int last,
                    const std::function<void(int64_t first, int n)>& on_batch) {
  const InputShape& in = net.input();
  const size_t image = size_t(in.channels) * size_t(in.height) * size_t(in.width);
  const int B = net.batch();
  std::vector<float> batch(size_t(B) * image, 0.f);
  for (int64_t first = 0; first < count; first += B) {
    const int n = int(std::min<int64_t>(B, count - first));
    std::memcpy(batch.data(), images + size_t(first) * image, size_t(n) * image * sizeof(float));
    if (n < B) std::fill(batch.begin() + long(size_t(n) * image), batch.end(), 0.f);
    net.forward(batch.data(), Mode::infer, last);
    on_batch(first, n);
  }
}

void softmax_rows(const float* logits, int n, int classes, float* probabilities, int32_t* predicted) {
  for (int i = 0; i < n; ++i) {
    const float* z = logits + size_t(i) * size_t(classes);
    float* p = probabilities + size_t(i) * size_t(classes);
    const float top = *std::max_element(z, z + classes);
    double sum = 0;
    for (int c = 0; c < classes; ++c) sum += (p[c] = std::exp(z[c] - top));
    for (int c = 0; c < classes; ++c) p[c] = float(p[c] / sum);
    if (predicted) predicted[i] = int32_t(std::max_element(z, z + classes) - z);
  }
}

}  // namespace ds
