// libFuzzer target: the CIFAR-10 binary batch reader. Each input is one batch file. Any
// input must read or throw ds::Error, never crash; what is read must be consistent.
// Leaves out: batches.meta.txt and the folder layout (tests/data).
#include <cstddef>
#include <cstdint>

#include "deconvscope/core/error.hpp"
#include "deconvscope/data/dataset.hpp"
#include "fuzz_file.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string batch = ds::fuzz::write_scratch("batch.bin", data, size);
  for (int64_t limit : {0, 1}) {
    try {
      const ds::Dataset d = ds::read_cifar_batches({batch, batch}, limit);
      if (d.pixels.size() != d.size() * d.image_bytes()) __builtin_trap();
      for (int32_t l : d.labels)
        if (l < 0 || l >= d.num_classes) __builtin_trap();
    } catch (const ds::Error&) {
    }
  }
  return 0;
}
