// libFuzzer target: the IDX reader (MNIST / Fashion-MNIST), plain or gzipped. The first
// two bytes of an input say where the images file ends and the labels file begins; the
// rest is the two files. Any input must read or throw ds::Error, never crash, and never
// allocate more than the files hold (libFuzzer's -rss_limit_mb catches that).
// Leaves out: the folder and file-name logic of load_dataset (tests/data).
#include <cstddef>
#include <cstdint>

#include "deconvscope/core/error.hpp"
#include "deconvscope/data/dataset.hpp"
#include "fuzz_file.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  size_t split = (size_t(data[0]) << 8) | data[1];
  data += 2;
  size -= 2;
  if (split > size) split = size;
  const std::string images = ds::fuzz::write_scratch("images", data, split);
  const std::string labels = ds::fuzz::write_scratch("labels", data + split, size - split);
  for (int64_t limit : {0, 1}) {
    try {
      const ds::Dataset d = ds::read_idx_pair(images, labels, limit);
      if (d.pixels.size() != d.size() * d.image_bytes()) __builtin_trap();
      for (int32_t l : d.labels)
        if (l < 0 || l >= d.num_classes) __builtin_trap();
    } catch (const ds::Error&) {
    }
  }
  return 0;
}
