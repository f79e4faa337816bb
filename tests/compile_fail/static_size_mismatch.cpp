// Compile-fail test: generator output size != energy input size, both fixed
// at compile time. As is, this compiles (the generator ends in
// Dense<float, 4, 2>). With -DDEEPENERGY_FAIL it ends in Dense<float, 4, 3>
// while the energy starts with Dense<float, 2, 8>, and the first error must
// name the size mismatch.
#include <deepenergy/energy_model.hpp>
#include <deepenergy/experts.hpp>
#include <deepenergy/generator.hpp>
#include <deepenergy/layers.hpp>
#include <deepenergy/trainer.hpp>

namespace de = deepenergy;

#ifdef DEEPENERGY_FAIL
inline constexpr int generator_out = 3;
#else
inline constexpr int generator_out = 2;
#endif

int main() {
  using EnergyIn = de::Dense<float, 2, 8>;
  using GenOut = de::Dense<float, 4, generator_out>;
  using Energy = de::EnergyModel<de::Sequential<EnergyIn>, de::SoftplusExperts<float>>;
  using Gen = de::Generator<de::Sequential<GenOut>, de::UniformLatent<float>>;
  de::DeepEnergyGAN<Energy, Gen> gan(
      Energy(de::Sequential<EnergyIn>(EnergyIn()), de::SoftplusExperts<float>(8, 8)),
      Gen(de::Sequential<GenOut>(GenOut()), de::UniformLatent<float>(4)));
  return gan.step_count() == 0 ? 0 : 1;
}
