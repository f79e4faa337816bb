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

// With a loss term that has parameters (its statistics network, built on
// first use; one step builds it), so the loss terms' section is checked too
// (make_seeds.cpp writes the same model).
using Trainer =
    deepenergy::DeepEnergyGAN<deepenergy::paper::Energy<float>, deepenergy::paper::Gen<float>,
                              deepenergy::AdaGrad, deepenergy::MutualInformationEntropy<float>>;

Trainer& trainer() {
  static Trainer t = [] {
    deepenergy::paper::Config c;
    c.hidden = 4;
    Trainer built(deepenergy::paper::make_energy<float>(c),
                  deepenergy::paper::make_generator<float>(c), {}, {},
                  deepenergy::MutualInformationEntropy<float>(1.0, 4));
    built.train(deepenergy::Matrix<float>::Random(2, 50), 1);
    return built;
  }();
  return t;
}

void try_load(const std::string& buf) {
  namespace cd = deepenergy::checkpoint_detail;
  try {
    auto c = cd::parse<float>("fuzz.ckpt", buf);
    cd::check_network("fuzz.ckpt", trainer().energy(), c.nets[0], "energy network");
    cd::check_network("fuzz.ckpt", trainer().generator(), c.nets[1], "generator network");
    cd::check_chains("fuzz.ckpt", trainer(), c.chains);
    cd::check_average("fuzz.ckpt", trainer().energy(), c.average);
    cd::TermParameters<Trainer> terms{trainer()};
    cd::check_network("fuzz.ckpt", terms, c.terms, "loss terms", "have", true);
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
