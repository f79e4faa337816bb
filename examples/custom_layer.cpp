// Extending deepenergy with your own layer (README, "Extending").
//
// Residual below lives in the user's own namespace and is written against the
// Layer contract of deepenergy/concepts.hpp: a residual block
//   y = x + W2 relu(W1 x + b1) + b2,
// built from the library's own Dense and ReLU. The program
//   1. checks its gradients with deepenergy::testing::check_gradients (in
//      double precision) and exits 1 if the worst relative error exceeds 1e-6,
//   2. trains it (in float) inside the feature network (a Sequential) of the
//      energy model, in DeepEnergyGAN with KernelEntropy and an
//      EnergyMagnitudePenalty (the softplus experts are unbounded below, and
//      without it the energy drifts as a whole), on the standardised
//      two-spiral data,
//   3. writes <out>/figure.png: data and samples left, the energy right.
//
//   custom_layer [--steps N] [--out DIR] [--seed N]
#include <deepenergy/csv.hpp>
#include <deepenergy/datasets.hpp>
#include <deepenergy/deepenergy.hpp>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <string>
#include <string_view>

#include "common/figure.hpp"

namespace my {

using deepenergy::Index;

/// y = x + F(x), F = Dense -> ReLU -> Dense, the input size preserved. The
/// block starts close to the identity (F's last weights scaled by 0.1).
template <class S = float>
class Residual {
  using Mat = deepenergy::Matrix<S>;
  using Inner =
      deepenergy::Sequential<deepenergy::Dense<S>, deepenergy::ReLU<S>, deepenergy::Dense<S>>;

 public:
  using Scalar = S;
  Residual(Index dim, Index hidden)
      : f_(deepenergy::Dense<S>(dim, hidden, deepenergy::Init::he()), deepenergy::ReLU<S>(),
           deepenergy::Dense<S>(hidden, dim)) {}
  Index input_dim() const { return f_.input_dim(); }
  Index output_dim() const { return f_.output_dim(); }
  void initialize(deepenergy::Rng& rng) {
    f_.initialize(rng);
    f_.template layer<2>().weight().value *= S(0.1);
  }
  const Mat& forward(const Mat& x) {
    y_ = x + f_.forward(x);
    return y_;
  }
  const Mat& backward(const Mat& g) {  // dL/dx = g + dF/dx^T g; F's grads added
    dx_ = g + f_.backward(g);
    return dx_;
  }
  const Mat& backward_input(const Mat& g) {  // the same without parameter gradients
    dx_ = g + f_.backward_input(g);
    return dx_;
  }
  template <class F>
  void for_each_parameter(F&& f) {
    f_.for_each_parameter(f);
  }

 private:
  Inner f_;
  Mat y_, dx_;
};

// The model: features 2 -> 64, then two residual blocks (ReLU before each), as
// the input of 64 of the library's SoftplusExperts, plus its QuadraticBase on
// the raw input so that exp(-E) is normalisable.
constexpr Index width = 64;

template <class S>
using Features = deepenergy::Sequential<deepenergy::Dense<S>, deepenergy::ReLU<S>, Residual<S>,
                                        deepenergy::ReLU<S>, Residual<S>, deepenergy::ReLU<S>>;
template <class S>
using Energy = deepenergy::EnergyModel<Features<S>, deepenergy::SoftplusExperts<S>,
                                       deepenergy::QuadraticBase<S>>;

template <class S>
Energy<S> make_energy(Index w = width) {
  using namespace deepenergy;
  return Energy<S>(Features<S>(Dense<S>(2, w, Init::he()), ReLU<S>(), Residual<S>(w, w), ReLU<S>(),
                               Residual<S>(w, w), ReLU<S>()),
                   SoftplusExperts<S>(w, w), QuadraticBase<S>(2));
}

struct Args {
  std::int64_t steps = 12000;
  std::string out = "out/custom_layer";
  std::uint64_t seed = 1;
};

// --steps N, --out DIR, --seed N; anything else is an error.
Args parse(int argc, char** argv) {
  Args a;
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
      std::printf("usage: %s [--steps N (12000)] [--out DIR (out/custom_layer)] [--seed N (1)]\n",
                  argv[0]);
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

// 1. Gradient check in double: the layer alone, then inside the EnergyModel.
double check_gradients(std::uint64_t seed) {
  using namespace deepenergy;
  Rng rng(seed);
  Residual<double> block(4, 6);
  block.initialize(rng);
  Matrix<double> x(4, 7);
  for (Index k = 0; k < x.size(); ++k) x(k) = rng.normal();
  testing::GradientCheckReport report = testing::check_gradients(block, x);

  Energy<double> model = make_energy<double>(8);  // small, as in the library's own tests
  model.initialize(rng);
  // Biases start at zero, which puts ReLUs fed by an exact zero on their kink,
  // where finite differences are meaningless: move every parameter a little.
  model.for_each_parameter([&](Parameter<double>& p) {
    for (Index k = 0; k < p.value.size(); ++k) p.value(k) += 0.1 * rng.normal();
  });
  Matrix<double> x2(2, 5);
  for (Index k = 0; k < x2.size(); ++k) x2(k) = rng.normal();
  report.merge(testing::check_gradients(model, x2));
  std::printf("gradient check: %ld entries, worst relative error %.3g (%s)\n", long(report.checked),
              report.max_relative_error, report.worst.c_str());
  return report.max_relative_error;
}

}  // namespace my

int main(int argc, char** argv) try {
  using namespace deepenergy;
  const my::Args args = my::parse(argc, argv);
  // The networks are small: with OpenMP, Eigen's threads cost more than they
  // save (about 6x slower on a busy two-core machine), so use one.
  Eigen::setNbThreads(1);
  if (my::check_gradients(args.seed) > 1e-6) {
    std::fprintf(stderr, "custom_layer: the gradient check failed (worst error above 1e-6)\n");
    return 1;
  }

  // 2. Standardised two-spiral data; train the float model.
  Rng data_rng(args.seed);
  const Matrix<float> raw = datasets::two_spiral<float>(10000, data_rng);
  Standardizer<float> standardizer;
  standardizer.fit(raw);
  const Matrix<float> data = standardizer.transform(raw);

  TrainerOptions options;
  options.seed = args.seed;
  options.energy_learning_rate = 0.03;     // a little faster than the paper's 0.01,
  options.generator_learning_rate = 0.03;  // so that the default run takes seconds
  using Trainer = DeepEnergyGAN<my::Energy<float>, paper::Gen<float>, AdaGrad, KernelEntropy<float>,
                                EnergyMagnitudePenalty>;
  Trainer trainer(my::make_energy<float>(), paper::make_generator<float>(), options);
  struct Progress {
    std::int64_t every;
    void on_step(Trainer&, const StepInfo& s) {
      if (s.step % every == 0)
        std::printf("step %6ld  E(data) %8.3f  E(samples) %8.3f\n", long(s.step), s.data_energy,
                    s.sample_energy);
    }
  } progress{std::max<std::int64_t>(1, args.steps / 10)};
  trainer.train(data, args.steps, progress);

  // 3. The figure, in data units: samples mapped back, energy on a grid.
  const double w = datasets::info(datasets::Name::two_spiral).half_width;
  const figure::Box box{-w, w, -w, w};
  const Index n = 160;
  const Matrix<float> grid = standardizer.transform(figure::grid_points(box, n, n).cast<float>());
  trainer.energy().set_training(false);
  const Matrix<double> energy = figure::energy_grid(trainer.energy().energy(grid), n, n);
  const Matrix<float> samples =
      standardizer.inverse(trainer.generator().sample(2000, trainer.rng()));
  std::filesystem::create_directories(args.out);
  const std::string path = (std::filesystem::path(args.out) / "figure.png").string();
  figure::FigureOptions fig;
  // Colour range: from the lowest energy to the 99th percentile of the
  // data's energies, so the far corners do not wash out the spirals.
  const Matrix<float> shown = data.leftCols(2000);
  RowVector<float> e_data = trainer.energy().energy(shown);
  std::sort(e_data.begin(), e_data.end());
  fig.energy_min = energy.minCoeff();
  fig.energy_max = double(e_data(Index(0.99 * double(e_data.size()))));
  fig.right_title = "energy (user-defined residual layers)";
  figure::write_figure(path, raw.leftCols(2000).cast<double>(), samples.cast<double>(), energy, box,
                       fig);
  std::printf("wrote %s\n", path.c_str());
  return 0;
} catch (const std::exception& e) {
  std::fprintf(stderr, "custom_layer: %s\n", e.what());
  return 2;
}
