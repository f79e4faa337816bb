// Compile-fail test: a float energy model trained with a double generator.
// As is, this compiles. With -DDEEPENERGY_FAIL the generator is double, and
// the first error must name the mismatch.
#include <deepenergy/energy_model.hpp>
#include <deepenergy/experts.hpp>
#include <deepenergy/generator.hpp>
#include <deepenergy/layers.hpp>
#include <deepenergy/trainer.hpp>

namespace de = deepenergy;

#ifdef DEEPENERGY_FAIL
using G = double;
#else
using G = float;
#endif

int main() {
  using Energy = de::EnergyModel<de::Sequential<de::Dense<float>>, de::SoftplusExperts<float>>;
  using Gen = de::Generator<de::Sequential<de::Dense<G>>, de::UniformLatent<G>>;
  de::DeepEnergyGAN<Energy, Gen> gan(
      Energy(de::Sequential<de::Dense<float>>(de::Dense<float>(2, 8)),
             de::SoftplusExperts<float>(8, 8)),
      Gen(de::Sequential<de::Dense<G>>(de::Dense<G>(4, 2)), de::UniformLatent<G>(4)));
  return gan.step_count() == 0 ? 0 : 1;
}
