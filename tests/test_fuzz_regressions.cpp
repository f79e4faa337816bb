// Replays the fuzz corpus and every input the fuzzers ever crashed on
// (tests/fuzz/regressions) through the loaders, under the normal test
// builds (and the asan preset): each must load or throw deepenergy::Error.
#include <doctest/doctest.h>

#include <deepenergy/checkpoint.hpp>
#include <deepenergy/csv.hpp>
#include <deepenergy/deepenergy.hpp>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "fuzz/repair_checkpoint.hpp"

namespace fs = std::filesystem;

namespace {

std::vector<fs::path> files_in(const std::vector<std::string>& dirs) {
  std::vector<fs::path> out;
  for (const auto& d : dirs) {
    const fs::path dir = fs::path(DEEPENERGY_FUZZ_DIR) / d;
    if (!fs::is_directory(dir)) continue;  // git keeps no empty folder
    for (const auto& e : fs::directory_iterator(dir))
      if (e.is_regular_file()) out.push_back(e.path());
  }
  return out;
}

}  // namespace

TEST_CASE("fuzz regressions: CSV inputs load or give a clear error") {
  const auto files = files_in({"corpus/csv", "regressions/csv"});
  CHECK(files.size() >= 5);
  for (const auto& f : files) {
    CAPTURE(f.string());
    try {
      const auto csv = deepenergy::read_csv<double>(f.string());
      CHECK(csv.values.allFinite());
    } catch (const deepenergy::Error& e) {
      CHECK(std::string(e.what()).find(f.string()) != std::string::npos);
    }
  }
}

TEST_CASE("fuzz regressions: damaged checkpoints give a clear error") {
  const auto files = files_in({"regressions/checkpoint"});
  CHECK(files.size() >= 1);
  deepenergy::paper::Config c;
  c.hidden = 4;
  auto t = deepenergy::paper::make_trainer<float>(c);
  for (const auto& f : files) {
    CAPTURE(f.string());
    std::ifstream in(f, std::ios::binary);
    std::string buf((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    // As the fuzzer does: once as stored, once with size and checksum repaired.
    for (int repaired = 0; repaired < 2; ++repaired) {
      if (repaired) deepenergy::fuzz::repair_checkpoint(buf);  // too short: parsed as is
      CHECK_THROWS_AS(deepenergy::checkpoint_detail::parse<float>(f.string(), buf),
                      deepenergy::Error);
    }
    CHECK_THROWS_WITH_AS(deepenergy::load_checkpoint(f.string(), t),
                         doctest::Contains(f.string().c_str()), deepenergy::Error);
  }
}
