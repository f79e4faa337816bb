// A tiny program that uses an installed deepenergy (find_package and
// pkg-config consumer tests). Exits 0 on success.
#include <deepenergy/deepenergy.hpp>

#include <cmath>
#include <cstdio>

int main() {
  deepenergy::Rng rng(7);
  deepenergy::Matrix<float> m(3, 4);
  for (deepenergy::Index j = 0; j < m.cols(); ++j)
    for (deepenergy::Index i = 0; i < m.rows(); ++i) m(i, j) = static_cast<float>(rng.uniform());

  const deepenergy::Matrix<float> gram = m.transpose() * m;
  deepenergy::Rng same(7);
  // The paper's trainer, every path instantiated (this consumer builds with
  // -Wall -Wextra -Werror and without OpenMP).
  deepenergy::paper::Config c;
  c.hidden = 4;
  deepenergy::TrainerOptions o;
  o.langevin_steps = 1;
  o.langevin_restart = 0.5;
  o.energy_average = 0.9;
  auto t = deepenergy::paper::make_trainer<float>(c, o);
  const deepenergy::Matrix<float> data = deepenergy::Matrix<float>::Random(2, 50);
  const deepenergy::StepInfo info = t.train(data, 2);
  bool swapped = false;
  {
    const deepenergy::EnergyAverageScope averaged(t, deepenergy::EnergyValues::average);
    swapped = t.energy_average_swapped();
  }
  t.set_energy_average(t.energy_average());
  const bool ok = gram.rows() == 4 && gram.cols() == 4 && m.minCoeff() >= 0.0f &&
                  m.maxCoeff() < 1.0f && static_cast<float>(same.uniform()) == m(0, 0) &&
                  info.step == 2 && std::isfinite(info.energy_loss) && swapped &&
                  !t.energy_average_swapped();
  std::printf("deepenergy consumer: %s\n", ok ? "ok" : "FAILED");
  return ok ? 0 : 1;
}
