// CIFAR-10 binary batches (data_batch_1.bin .. test_batch.bin): records of 1 label byte
// followed by 3072 pixel bytes, already planar RGB (3, 32, 32), so they are copied as they
// are. The file size is checked before anything is allocated. Leaves out CIFAR-100 (two
// label bytes per record) and the Python pickle version.
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "deconvscope/core/error.hpp"
#include "deconvscope/data/dataset.hpp"

namespace ds {

namespace {
constexpr int kCifarSide = 32;
constexpr size_t kCifarImageBytes = 3 * kCifarSide * kCifarSide;  // (3, 32, 32)
constexpr size_t kCifarRecordBytes = 1 + kCifarImageBytes;        // label + image
constexpr int kCifarClasses = 10;
}  // namespace

Dataset read_cifar_batches(const std::vector<std::string>& paths, int64_t limit) {
  Dataset d;
  d.channels = 3;
  d.height = kCifarSide;
  d.width = kCifarSide;
  d.num_classes = kCifarClasses;
  d.class_names = {"airplane", "automobile", "bird", "cat", "deer",
                   "dog",      "frog",       "horse", "ship", "truck"};
  d.source = paths.empty() ? std::string() : paths.front();

  // First pass: sizes only, so the whole set is allocated once and no bad file is half-read.
  std::vector<size_t> records;
  size_t total = 0;
  for (const std::string& path : paths) {
    std::error_code ec;
    if (!std::filesystem::is_regular_file(path, ec)) throw Error(ErrorKind::data, path, "no such file");
    const auto bytes = std::filesystem::file_size(path, ec);
    if (ec) throw Error(ErrorKind::data, path, "cannot read its size: " + ec.message());
    if (bytes == 0)
      throw Error(ErrorKind::data, path, "file is empty", "download the CIFAR-10 binary version again");
    if (bytes % kCifarRecordBytes != 0)
      throw Error(ErrorKind::data, path,
                  "not a CIFAR-10 binary batch: " +
                      expected_found("a multiple of " + std::to_string(kCifarRecordBytes) +
                                         " bytes (1 label byte + 3x32x32 pixels per image)",
                                     std::to_string(bytes) + " bytes"),
                  "use the 'CIFAR-10 binary version' (cifar-10-binary.tar.gz), not the Python one");
    records.push_back(size_t(bytes / kCifarRecordBytes));
    total += records.back();
  }
  if (limit > 0) total = std::min(total, size_t(limit));
  d.pixels.resize(total * kCifarImageBytes);
  d.labels.resize(total);

  size_t n = 0;
  std::vector<uint8_t> record(kCifarRecordBytes);
  for (size_t f = 0; f < paths.size() && n < total; ++f) {
    std::ifstream in(paths[f], std::ios::binary);
    if (!in) throw Error(ErrorKind::data, paths[f], "cannot open");
    for (size_t r = 0; r < records[f] && n < total; ++r, ++n) {
      if (!in.read(reinterpret_cast<char*>(record.data()), std::streamsize(kCifarRecordBytes)))
        throw Error(ErrorKind::data, paths[f], "read failed at record " + std::to_string(r));
      if (record[0] >= kCifarClasses)
        throw Error(ErrorKind::data, paths[f],
                    "label of record " + std::to_string(r) + " is out of range: " +
                        expected_found("0..9", std::to_string(record[0])),
                    "is this a CIFAR-100 file? only CIFAR-10 is supported");
      d.labels[n] = record[0];
      std::copy(record.begin() + 1, record.end(), d.pixels.begin() + ptrdiff_t(n * kCifarImageBytes));
    }
  }
  return d;
}

}  // namespace ds
