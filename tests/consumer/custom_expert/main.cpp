// A user-defined expert in an outside project, against the installed package:
// checked with deepenergy::testing::check_gradients, then trained a few steps
// in DeepEnergyGAN. Exits 0 on success.
#include <deepenergy/deepenergy.hpp>

#include <cmath>
#include <cstdio>

namespace app {

/// E(h) = 1/2 |A h|^2: a quadratic-form expert with a learned K x F matrix A.
template <class S>
class QuadraticForm {
 public:
  using Scalar = S;
  QuadraticForm(deepenergy::Index features, deepenergy::Index k)
      : A_("QuadraticForm.A", k, features) {}
  deepenergy::Index input_dim() const { return A_.value.cols(); }
  void initialize(deepenergy::Rng& rng) {
    for (deepenergy::Index i = 0; i < A_.value.size(); ++i) A_.value(i) = S(0.3 * rng.normal());
  }
  void forward(const deepenergy::Matrix<S>& h, deepenergy::RowVector<S>& energy) {
    h_ = &h;
    u_.noalias() = A_.value * h;
    energy += S(0.5) * u_.colwise().squaredNorm();
  }
  void backward(const deepenergy::RowVector<S>& w, deepenergy::Matrix<S>& grad_h) {
    backward_input(w, grad_h);
    A_.grad.noalias() += g_ * h_->transpose();
  }
  void backward_input(const deepenergy::RowVector<S>& w, deepenergy::Matrix<S>& grad_h) {
    g_ = (u_.array().rowwise() * w.array()).matrix();  // w_j A h_j
    grad_h.noalias() += A_.value.transpose() * g_;
  }
  template <class F>
  void for_each_parameter(F&& f) {
    f(A_);
  }

 private:
  deepenergy::Parameter<S> A_;
  const deepenergy::Matrix<S>* h_ = nullptr;
  deepenergy::Matrix<S> u_, g_;
};

template <class S>
using Features = deepenergy::Sequential<deepenergy::Dense<S>, deepenergy::Tanh<S>>;
template <class S>
using Energy = deepenergy::EnergyModel<Features<S>, QuadraticForm<S>, deepenergy::QuadraticBase<S>>;

template <class S>
Energy<S> make_energy() {
  return Energy<S>(Features<S>(deepenergy::Dense<S>(2, 8), deepenergy::Tanh<S>()),
                   QuadraticForm<S>(8, 4), deepenergy::QuadraticBase<S>(2));
}

}  // namespace app

int main() {
  using namespace deepenergy;
  Rng rng(5);

  // The expert alone and inside an energy model, in double precision.
  app::QuadraticForm<double> expert(3, 2);
  expert.initialize(rng);
  Matrix<double> h(3, 4);
  for (Index i = 0; i < h.size(); ++i) h(i) = rng.normal();
  testing::GradientCheckReport report = testing::check_gradients(expert, h);
  app::Energy<double> model = app::make_energy<double>();
  model.initialize(rng);
  Matrix<double> x(2, 4);
  for (Index i = 0; i < x.size(); ++i) x(i) = rng.normal();
  report.merge(testing::check_gradients(model, x));
  std::printf("gradient check: worst relative error %.3g at %s\n", report.max_relative_error,
              report.worst.c_str());

  // A few training steps in float.
  Matrix<float> data(2, 200);
  for (Index i = 0; i < data.size(); ++i) data(i) = float(rng.normal());
  TrainerOptions options;
  options.batch_size = 16;
  options.seed = 3;
  paper::Config small;
  small.hidden = 16;
  DeepEnergyGAN<app::Energy<float>, paper::Gen<float>> trainer(
      app::make_energy<float>(), paper::make_generator<float>(small), options);
  const StepInfo info = trainer.train(data, 20);
  std::printf("after %ld steps: energy loss %.4f, generator loss %.4f\n", long(info.step),
              info.energy_loss, info.generator_loss);

  const bool ok = report.max_relative_error < 1e-6 && info.step == 20 &&
                  std::isfinite(info.energy_loss) && std::isfinite(info.generator_loss);
  std::printf("deepenergy custom expert consumer: %s\n", ok ? "ok" : "FAILED");
  return ok ? 0 : 1;
}
