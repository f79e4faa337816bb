// Compile-fail test: an optimiser without update().
// As is, this compiles. With -DDEEPENERGY_FAIL the optimiser loses its
// update(Parameter<S>&) member, and the first error must say so.
#include <deepenergy/energy_model.hpp>
#include <deepenergy/experts.hpp>
#include <deepenergy/generator.hpp>
#include <deepenergy/layers.hpp>
#include <deepenergy/trainer.hpp>

namespace de = deepenergy;

namespace {

// Plain gradient descent.
struct Descent {
  double learning_rate = 0.01;
#ifndef DEEPENERGY_FAIL
  template <class S>
  void update(de::Parameter<S>& p) const {
    p.value -= S(learning_rate) * p.grad;
    ++p.updates;
  }
#endif
};

}  // namespace

int main() {
  using Energy = de::EnergyModel<de::Sequential<de::Dense<float>>, de::SoftplusExperts<float>>;
  using Gen = de::Generator<de::Sequential<de::Dense<float>>, de::UniformLatent<float>>;
  de::DeepEnergyGAN<Energy, Gen, Descent> gan(
      Energy(de::Sequential<de::Dense<float>>(de::Dense<float>(2, 8)),
             de::SoftplusExperts<float>(8, 8)),
      Gen(de::Sequential<de::Dense<float>>(de::Dense<float>(4, 2)), de::UniformLatent<float>(4)));
  const de::Matrix<float> data = de::Matrix<float>::Zero(2, 10);
  return gan.step(data).step == 1 ? 0 : 1;
}
