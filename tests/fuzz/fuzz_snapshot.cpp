// libFuzzer target: whole snapshot files through read_snapshot, as `analyze`, `health` and
// `train --resume` read them: the checksum header, then libhdf5 in the child that parses
// every file first (sealed or not), then every value check. Seeds are real snapshots of a tiny run
// (tests/fuzz/seeds/snapshot). The input is the file, unchanged: a mutated sealed file
// must be refused by its checksum, an unsealed one parsed without bringing the process
// down. Any input must read or throw ds::Error, never crash or hang.
// Leaves out: analysis.h5 and health.h5 (the same checksum and h5 wrapper).
#include <cstddef>
#include <cstdint>

#include "deconvscope/core/error.hpp"
#include "deconvscope/io/snapshot.hpp"
#include "fuzz_file.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // Named like a snapshot, so that the epoch-versus-name check runs too.
  const std::string path = ds::fuzz::write_scratch("epoch-0001.h5", data, size);
  try {
    const ds::Snapshot s = ds::read_snapshot(path);
    if (s.epoch != 1 || s.params.size() != s.layers.size() || s.content_sha256.size() != 64) __builtin_trap();
  } catch (const ds::Error&) {
  }
  return 0;
}
