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
#include <deepenergy/deepenergy.hpp>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <string>

#include "common/extension_demo.hpp"

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
  const extension_demo::Args args = extension_demo::parse_args(argc, argv, "custom_expert", 20000);
  // The networks are small: with OpenMP, Eigen's threads cost more than they
  // save (about 6x slower on a busy two-core machine), so use one.
  Eigen::setNbThreads(1);
  if (my::check_gradients(args.seed) > 1e-6) {
    std::fprintf(stderr, "custom_expert: the gradient check failed (worst error above 1e-6)\n");
    return 1;
  }

  // 2. Standardised two-spiral data; train the float model.
  const extension_demo::SpiralData spiral(args.seed);
  TrainerOptions options;
  options.seed = args.seed;
  options.energy_learning_rate = 0.03;     // a little faster than the paper's 0.01,
  options.generator_learning_rate = 0.03;  // so that the default run takes seconds
  using Trainer =
      DeepEnergyGAN<my::Energy<float>, paper::Gen<float>, AdaGrad, KernelEntropy<float>>;
  Trainer trainer(my::make_energy<float>(), paper::make_generator<float>(), options);
  trainer.train(spiral.data, args.steps, extension_demo::Progress(args.steps));

  // 3. The figure, in data units.
  const std::string path =
      extension_demo::write_figure(trainer, spiral, args.out, "energy (user-defined rbf experts)");
  std::printf("wrote %s\n", path.c_str());
  return 0;
} catch (const std::exception& e) {
  std::fprintf(stderr, "custom_expert: %s\n", e.what());
  return 2;
}
