// Writing a file so that a crash or a full disk never leaves a half-written
// file under the final name: checkpoints, CSV outputs and figures all go
// through write_file_atomically.
#pragma once

#include <cstdio>
#include <filesystem>
#include <string>
#include <system_error>

#if __has_include(<unistd.h>)
#include <unistd.h>
#define DEEPENERGY_HAS_FSYNC 1
#endif

#include "deepenergy/types.hpp"

namespace deepenergy {

/// Writes `bytes` to `path + ".tmp"`, flushes it to the disk (fsync where
/// available), then renames it over `path`. On failure removes the temporary
/// file, leaves any existing `path` untouched and throws Error with a message
/// that starts with `path`.
inline void write_file_atomically(const std::string& path, const std::string& bytes) {
  const std::string tmp = path + ".tmp";
  std::FILE* f = std::fopen(tmp.c_str(), "wb");
  if (f == nullptr) throw Error(path + ": cannot open " + tmp + " for writing");
  bool ok = std::fwrite(bytes.data(), 1, bytes.size(), f) == bytes.size();
  ok = std::fflush(f) == 0 && ok;
#ifdef DEEPENERGY_HAS_FSYNC
  ok = ::fsync(::fileno(f)) == 0 && ok;
#endif
  ok = std::fclose(f) == 0 && ok;
  std::error_code ec;
  if (!ok) {
    std::filesystem::remove(tmp, ec);
    throw Error(path + ": writing " + tmp + " failed (disk full or not writable?)");
  }
  std::filesystem::rename(tmp, path, ec);
  if (ec) {
    std::error_code ignored;
    std::filesystem::remove(tmp, ignored);
    throw Error(path + ": cannot rename " + tmp + " to " + path + ": " + ec.message());
  }
}

}  // namespace deepenergy
