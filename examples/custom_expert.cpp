// Extending deepenergy with your own expert (README, "Extending").
//
// RbfExperts below lives in the user's own namespace and is written against
// the Expert contract of deepenergy/concepts.hpp; the library needs nothing
// else to use it. The program
//   1. checks its gradients with deepenergy::testing::check_gradients (in
//      double precision) and exits 1 if the worst relative error exceeds 1e-6,
//   2. trains it (in float) as the experts of an EnergyModel in DeepEnergyGAN,
//      with KernelEntropy, on the standardised two-spiral data,
//   3. writes <out>/figure.png: data and samples left, the energy right.
//
//   custom_expert [--steps N] [--out DIR] [--seed N]
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

/// K Gaussian radial-basis experts on the features h = f(x):
///   E(h) = -sum_k exp(-|h - c_k|^2 / (2 sigma_k^2)),   sigma_k = exp(s_k),
/// with learned centres c_k and log-widths s_k: each expert lowers the energy
/// around its centre in feature space.
template <class S = float>
class RbfExperts {
  using Mat = deepenergy::Matrix<S>;

 public:
  using Scalar = S;
  RbfExperts(Index features, Index experts)
      : c_("RbfExperts.centres", features, experts), s_("RbfExperts.log_width", experts, 1) {}
  Index input_dim() const { return c_.value.rows(); }
  void initialize(deepenergy::Rng& rng) {
    for (Index k = 0; k < c_.value.size(); ++k) c_.value(k) = S(rng.normal());
    s_.value.setConstant(S(0.5 * std::log(double(input_dim()))));  // sigma^2 = features
  }
  void forward(const Mat& h, deepenergy::RowVector<S>& energy) {
    h_ = &h;
    inv_var_ = (S(-2) * s_.value.array()).exp();       // 1 / sigma_k^2
    d2_.noalias() = S(-2) * c_.value.transpose() * h;  // |h_j - c_k|^2, K x B
    d2_.colwise() += c_.value.colwise().squaredNorm().transpose();
    d2_.rowwise() += h.colwise().squaredNorm();
    q_ = (d2_.array().colwise() * (S(-0.5) * inv_var_.array())).exp().matrix();
    energy -= q_.colwise().sum();
  }
  void backward(const deepenergy::RowVector<S>& w, Mat& grad_h) {
    backward_input(w, grad_h);  // also sets g_(k, j) = w_j q_kj / sigma_k^2
    c_.grad.noalias() -= *h_ * g_.transpose();
    c_.grad += c_.value * g_.rowwise().sum().asDiagonal();
    s_.grad -= (g_.array() * d2_.array()).rowwise().sum().matrix();
  }
  void backward_input(const deepenergy::RowVector<S>& w, Mat& grad_h) {
    g_ = ((q_.array().colwise() * inv_var_.array()).rowwise() * w.array()).matrix();
    grad_h += (h_->array().rowwise() * g_.colwise().sum().array()).matrix() - c_.value * g_;
  }
  template <class F>
  void for_each_parameter(F&& f) {
    f(c_);
    f(s_);
  }

 private:
  deepenergy::Parameter<S> c_, s_;
  const Mat* h_ = nullptr;
  Mat d2_, q_, g_;
  deepenergy::Vector<S> inv_var_;
};

// The model: features 2 -> 64 -> 64 -> 8 (ReLU between), 64 RBF experts on
// them, and the library's QuadraticBase on the raw input so that exp(-E) is
// normalisable whatever the experts do far from the data.
constexpr Index hidden = 64, features = 8, experts = 64;

template <class S>
using Features =
    deepenergy::Sequential<deepenergy::Dense<S>, deepenergy::ReLU<S>, deepenergy::Dense<S>,
                           deepenergy::ReLU<S>, deepenergy::Dense<S>>;
template <class S>
using Energy = deepenergy::EnergyModel<Features<S>, RbfExperts<S>, deepenergy::QuadraticBase<S>>;

template <class S>
Energy<S> make_energy(Index h = hidden, Index f = features, Index k = experts) {
  using namespace deepenergy;
  return Energy<S>(Features<S>(Dense<S>(2, h, Init::he()), ReLU<S>(), Dense<S>(h, h, Init::he()),
                               ReLU<S>(), Dense<S>(h, f)),
                   RbfExperts<S>(f, k), QuadraticBase<S>(2));
}

struct Args {
  std::int64_t steps = 20000;
  std::string out = "out/custom_expert";
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
      std::printf("usage: %s [--steps N (20000)] [--out DIR (out/custom_expert)] [--seed N (1)]\n",
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

// 1. Gradient check in double: the expert alone, then inside an EnergyModel.
double check_gradients(std::uint64_t seed) {
  using namespace deepenergy;
  Rng rng(seed);
  RbfExperts<double> expert(features, 5);
  expert.initialize(rng);
  Matrix<double> h(features, 7);
  for (Index k = 0; k < h.size(); ++k) h(k) = rng.normal();
  testing::GradientCheckReport report = testing::check_gradients(expert, h);

  Energy<double> model = make_energy<double>(8, 4, 6);  // small, as in the library's tests
  model.initialize(rng);
  // Biases start at zero, which can put a ReLU fed by an exact zero on its
  // kink, where finite differences are meaningless: move every parameter.
  model.for_each_parameter([&](Parameter<double>& p) {
    for (Index k = 0; k < p.value.size(); ++k) p.value(k) += 0.1 * rng.normal();
  });
  Matrix<double> x(2, 5);
  for (Index k = 0; k < x.size(); ++k) x(k) = rng.normal();
  report.merge(testing::check_gradients(model, x));
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
    std::fprintf(stderr, "custom_expert: the gradient check failed (worst error above 1e-6)\n");
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
  using Trainer =
      DeepEnergyGAN<my::Energy<float>, paper::Gen<float>, AdaGrad, KernelEntropy<float>>;
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
  fig.right_title = "energy (user-defined rbf experts)";
  figure::write_figure(path, raw.leftCols(2000).cast<double>(), samples.cast<double>(), energy, box,
                       fig);
  std::printf("wrote %s\n", path.c_str());
  return 0;
} catch (const std::exception& e) {
  std::fprintf(stderr, "custom_expert: %s\n", e.what());
  return 2;
}
