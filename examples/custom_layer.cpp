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
#include <deepenergy/deepenergy.hpp>

#include <cstdint>
#include <cstdio>
#include <exception>
#include <string>

#include "common/extension_demo.hpp"

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
  const extension_demo::Args args = extension_demo::parse_args(argc, argv, "custom_layer", 12000);
  // The networks are small: with OpenMP, Eigen's threads cost more than they
  // save (about 6x slower on a busy two-core machine), so use one.
  Eigen::setNbThreads(1);
  if (my::check_gradients(args.seed) > 1e-6) {
    std::fprintf(stderr, "custom_layer: the gradient check failed (worst error above 1e-6)\n");
    return 1;
  }

  // 2. Standardised two-spiral data; train the float model.
  const extension_demo::SpiralData spiral(args.seed);
  TrainerOptions options;
  options.seed = args.seed;
  options.energy_learning_rate = 0.03;     // a little faster than the paper's 0.01,
  options.generator_learning_rate = 0.03;  // so that the default run takes seconds
  using Trainer = DeepEnergyGAN<my::Energy<float>, paper::Gen<float>, AdaGrad, KernelEntropy<float>,
                                EnergyMagnitudePenalty>;
  Trainer trainer(my::make_energy<float>(), paper::make_generator<float>(), options);
  trainer.train(spiral.data, args.steps, extension_demo::Progress(args.steps));

  // 3. The figure, in data units.
  const std::string path = extension_demo::write_figure(trainer, spiral, args.out,
                                                        "energy (user-defined residual layers)");
  std::printf("wrote %s\n", path.c_str());
  return 0;
} catch (const std::exception& e) {
  std::fprintf(stderr, "custom_layer: %s\n", e.what());
  return 2;
}
