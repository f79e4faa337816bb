// libFuzzer harness for the CSV loader: any bytes must give data or a
// deepenergy::Error, never a crash, a hang or a sanitizer report.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <deepenergy/csv.hpp>
#include <fstream>
#include <string>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  // The loader reads files; a per-process temporary file keeps runs apart.
  static const std::string path = "/tmp/deepenergy_fuzz_csv_" + std::to_string(::getpid()) + ".csv";
  {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(data), std::streamsize(size));
  }
  try {
    const auto csv = deepenergy::read_csv<double>(path);
    // Whatever was accepted must satisfy the loader's promises.
    if (csv.values.size() == 0 || !csv.values.allFinite()) __builtin_trap();
  } catch (const deepenergy::Error&) {
  }
  try {
    (void)deepenergy::load_csv<float>(path, 2);
  } catch (const deepenergy::Error&) {
  }
  return 0;
}
