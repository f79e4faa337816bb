// Writes the checkpoint seed of the fuzz corpus (a small trained model) to
// the path given. Run by tests/fuzz/run.sh when the seed is missing.
#include <deepenergy/checkpoint.hpp>
#include <deepenergy/deepenergy.hpp>

int main(int argc, char** argv) {
  if (argc != 2) return 2;
  deepenergy::paper::Config c;
  c.hidden = 4;
  deepenergy::TrainerOptions o;
  o.langevin_steps = 1;  // persistent chains, so the seed has every field
  o.langevin_restart = 0.5;
  o.energy_average = 0.9;  // and an energy average
  // A loss term with parameters of its own, as fuzz_checkpoint.cpp's model.
  deepenergy::DeepEnergyGAN<deepenergy::paper::Energy<float>, deepenergy::paper::Gen<float>,
                            deepenergy::AdaGrad, deepenergy::MutualInformationEntropy<float>>
      t(deepenergy::paper::make_energy<float>(c), deepenergy::paper::make_generator<float>(c), o,
        {}, deepenergy::MutualInformationEntropy<float>(1.0, 4));
  deepenergy::Matrix<float> data = deepenergy::Matrix<float>::Random(2, 50);
  t.train(data, 3);
  deepenergy::save_checkpoint(argv[1], t, {{"mean", {0.5, -0.5}}, {"stddev", {1.0, 2.0}}});
  return 0;
}
