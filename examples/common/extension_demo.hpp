// What the "Extending" examples (custom_expert.cpp, custom_layer.cpp) share:
// their three flags, the standardised two-spiral data, a progress line and the
// figure. Each example keeps only what its extension needs: the new type, its
// gradient check and the model and trainer built from it.
//
// Like figure.hpp, deliberately outside include/: none of this is library API.
#pragma once

#include <deepenergy/csv.hpp>
#include <deepenergy/datasets.hpp>
#include <deepenergy/deepenergy.hpp>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <string_view>

#include "common/figure.hpp"

namespace extension_demo {

using deepenergy::Index;
using deepenergy::Matrix;

struct Args {
  std::int64_t steps = 0;
  std::string out;
  std::uint64_t seed = 1;
};

/// --steps N, --out DIR, --seed N; anything else throws deepenergy::Error
/// naming the flag. `name` is the program's: --out defaults to out/<name>.
/// --help prints the usage and exits 0.
inline Args parse_args(int argc, char** argv, const std::string& name, std::int64_t default_steps) {
  Args a;
  a.steps = default_steps;
  a.out = "out/" + name;
  auto number = [](std::string_view flag, const char* text) {
    char* end = nullptr;
    errno = 0;
    const long long v = std::strtoll(text, &end, 10);
    if (errno != 0 || end == text || *end != '\0' || v < 0)
      throw deepenergy::Error(std::string(flag) + " = '" + text +
                              "', expected a non-negative integer");
    return v;
  };
  for (int i = 1; i < argc; ++i) {
    const std::string_view flag = argv[i];
    if (flag == "--help" || flag == "-h") {
      std::printf("usage: %s [--steps N (%lld)] [--out DIR (%s)] [--seed N (1)]\n", argv[0],
                  static_cast<long long>(default_steps), a.out.c_str());
      std::exit(0);
    }
    if (flag != "--steps" && flag != "--out" && flag != "--seed")
      throw deepenergy::Error("unknown option '" + std::string(flag) + "' (try --help)");
    if (i + 1 >= argc) throw deepenergy::Error(std::string(flag) + " needs a value");
    const char* value = argv[++i];
    if (flag == "--steps") a.steps = number(flag, value);
    if (flag == "--seed") a.seed = std::uint64_t(number(flag, value));
    if (flag == "--out") a.out = value;
  }
  if (a.out.empty()) throw deepenergy::Error("--out must not be empty");
  return a;
}

/// 10,000 two-spiral points (data units) and their standardised copy, which
/// the model trains on.
struct SpiralData {
  Matrix<float> raw;
  deepenergy::Standardizer<float> standardizer;
  Matrix<float> data;

  explicit SpiralData(std::uint64_t seed) {
    deepenergy::Rng rng(seed);
    raw = deepenergy::datasets::two_spiral<float>(10000, rng);
    standardizer.fit(raw);
    data = standardizer.transform(raw);
  }
};

/// A training callback: E(data) and E(samples) at every tenth of `steps`.
struct Progress {
  std::int64_t every;
  explicit Progress(std::int64_t steps) : every(std::max<std::int64_t>(1, steps / 10)) {}
  template <class Trainer>
  void on_step(Trainer&, const deepenergy::StepInfo& s) {
    if (s.step % every == 0)
      std::printf("step %6ld  E(data) %8.3f  E(samples) %8.3f\n", long(s.step), s.data_energy,
                  s.sample_energy);
  }
};

/// Writes <out>/figure.png, in data units: the data and 2000 generator
/// samples left, the trained energy on a 160 x 160 grid right (titled
/// `energy_title`). Returns the file's path. Puts the energy in inference mode.
template <class Trainer>
std::string write_figure(Trainer& trainer, const SpiralData& spiral, const std::string& out,
                         const std::string& energy_title) {
  using namespace deepenergy;
  const double w = datasets::info(datasets::Name::two_spiral).half_width;
  const figure::Box box{-w, w, -w, w};
  const Index n = 160;
  const Matrix<float> grid =
      spiral.standardizer.transform(figure::grid_points(box, n, n).cast<float>());
  trainer.energy().set_training(false);
  const Matrix<double> energy = figure::energy_grid(trainer.energy().energy(grid), n, n);
  const Matrix<float> samples =
      spiral.standardizer.inverse(trainer.generator().sample(2000, trainer.rng()));
  std::filesystem::create_directories(out);
  const std::string path = (std::filesystem::path(out) / "figure.png").string();
  figure::FigureOptions fig;
  // Colour range: from the lowest energy to the 99th percentile of the
  // data's energies, so the far corners do not wash out the spirals.
  const Matrix<float> shown = spiral.data.leftCols(2000);
  RowVector<float> e_data = trainer.energy().energy(shown);
  std::sort(e_data.begin(), e_data.end());
  fig.energy_min = energy.minCoeff();
  fig.energy_max = double(e_data(Index(0.99 * double(e_data.size()))));
  fig.right_title = energy_title;
  figure::write_figure(path, spiral.raw.leftCols(2000).cast<double>(), samples.cast<double>(),
                       energy, box, fig);
  return path;
}

}  // namespace extension_demo
