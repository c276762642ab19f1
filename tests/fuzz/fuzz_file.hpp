// Shared by the file-reader fuzz targets: the readers take paths, so each input is
// written to files in a private temp folder first (removed at exit).
#pragma once

#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>

namespace ds::fuzz {

inline const std::string& scratch_dir() {
  static const std::string dir = [] {
    std::string d = (std::filesystem::temp_directory_path() / "deconvscope-fuzz-XXXXXX").string();
    if (!::mkdtemp(d.data())) __builtin_trap();
    return d;
  }();
  static const bool cleanup = [] {
    std::atexit([] {
      std::error_code ec;
      std::filesystem::remove_all(scratch_dir(), ec);
    });
    return true;
  }();
  (void)cleanup;
  return dir;
}

inline std::string write_scratch(const std::string& name, const uint8_t* data, size_t size) {
  const std::string path = scratch_dir() + "/" + name;
  FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) __builtin_trap();
  if (size && std::fwrite(data, 1, size, f) != size) __builtin_trap();
  std::fclose(f);
  return path;
}

}  // namespace ds::fuzz
