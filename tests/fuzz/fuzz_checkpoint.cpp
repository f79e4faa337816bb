// libFuzzer harness for the checkpoint loader. Random bytes rarely get past
// the magic and the checksum, so each input is parsed twice: as given, and
// with its size field and checksum repaired, which sends mutations into the
// body parser and the model checks. Either way the result must be a loaded
// model or a deepenergy::Error.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <deepenergy/checkpoint.hpp>
#include <deepenergy/deepenergy.hpp>
#include <string>

#include "repair_checkpoint.hpp"

namespace {

using Trainer = deepenergy::paper::Trainer<float>;

Trainer& trainer() {
  static Trainer t = [] {
    deepenergy::paper::Config c;
    c.hidden = 4;
    return deepenergy::paper::make_trainer<float>(c);
  }();
  return t;
}

void try_load(const std::string& buf) {
  namespace cd = deepenergy::checkpoint_detail;
  try {
    auto c = cd::parse<float>("fuzz.ckpt", buf);
    cd::check_network("fuzz.ckpt", trainer().energy(), c.nets[0], "energy");
    cd::check_network("fuzz.ckpt", trainer().generator(), c.nets[1], "generator");
    cd::check_chains("fuzz.ckpt", trainer(), c.chains);
    cd::check_average("fuzz.ckpt", trainer().energy(), c.average);
  } catch (const deepenergy::Error&) {
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string buf(reinterpret_cast<const char*>(data), size);
  try_load(buf);
  if (deepenergy::fuzz::repair_checkpoint(buf)) try_load(buf);
  return 0;
}
