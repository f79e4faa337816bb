// The composed energy model and the generator step's chain.
#include <doctest/doctest.h>

#include <deepenergy/deepenergy.hpp>

#include "helpers.hpp"

using namespace deepenergy;
using deepenergy::test::random_batch;

namespace {

paper::Config small() {
  paper::Config c;
  c.hidden = 9;
  c.base_sigma = 1.3;
  c.learn_sigma = true;
  return c;
}

}  // namespace

TEST_CASE("gradient check: paper energy model, parameters and input") {
  auto e = paper::make_energy<double>(small());
  Rng rng(1);
  e.initialize(rng);
  // Non-zero biases so every path is exercised.
  e.expert<0>().bias().value.setRandom();
  auto r = testing::check_gradients(e, random_batch(2, 6, 2));
  MESSAGE("EnergyModel: worst relative error " << r.max_relative_error << " at " << r.worst << " ("
                                               << r.checked << " entries)");
  CHECK(r.checked > 100);
  CHECK(r.max_relative_error < 1e-6);
}

TEST_CASE("gradient check: energy model with a LinearBase and smooth features") {
  using Net = Sequential<Dense<double>, Softplus<double>>;
  EnergyModel<Net, SoftplusExperts<double>, QuadraticBase<double>, LinearBase<double>> e(
      Net(Dense<double>(3, 5), Softplus<double>()), SoftplusExperts<double>(5, 4),
      QuadraticBase<double>(3), LinearBase<double>(3));
  Rng rng(3);
  e.initialize(rng);
  e.expert<2>().bias().value.setRandom();
  auto r = testing::check_gradients(e, random_batch(3, 5, 4));
  MESSAGE("EnergyModel+LinearBase: worst relative error " << r.max_relative_error << " at "
                                                          << r.worst);
  CHECK(r.max_relative_error < 1e-6);
}

TEST_CASE("gradient check: generator step chain d E(G(z)) / d phi") {
  auto e = paper::make_energy<double>(small());
  auto g = paper::make_generator<double>(small());
  Rng rng(5);
  e.initialize(rng);
  g.initialize(rng);
  auto r = testing::check_gradients(g, e, random_batch(4, 6, 6));
  MESSAGE("Generator chain: worst relative error " << r.max_relative_error << " at " << r.worst
                                                   << " (" << r.checked << " entries)");
  CHECK(r.checked > 100);
  CHECK(r.max_relative_error < 1e-6);
}

TEST_CASE("gradient check: the extended paper's BatchNorm generator, d E(G(z)) / d phi") {
  // BatchNorm in training mode couples the batch's samples: the check's loss
  // is over the whole batch, so the coupling is in the finite differences too.
  auto e = paper::make_energy<double>(small());
  auto g = paper::make_batchnorm_generator<double>(small());
  Rng rng(8);
  e.initialize(rng);
  g.initialize(rng);
  // Scales and shifts away from 1 and 0, so a wrong gamma or beta gradient shows.
  g.for_each_parameter([&](auto& p) {
    if (p.name == "BatchNorm.gamma") p.value.setConstant(0.5), p.value(0, 0) = 1.7;
    if (p.name == "BatchNorm.beta") p.value.setConstant(0.2), p.value(1, 0) = -0.4;
  });
  auto r = testing::check_gradients(g, e, random_batch(4, 6, 9));
  MESSAGE("BatchNorm generator chain: worst relative error "
          << r.max_relative_error << " at " << r.worst << " (analytic " << r.analytic
          << ", numeric " << r.numeric << "; " << r.checked << " entries)");
  CHECK(r.checked > 100);
  // A Dense bias right before a training-mode BatchNorm has gradient 0 (the
  // batch mean removes it): there both sides are round-off, about 2e-10
  // against the checker's floor of 1e-4, hence 1e-5 rather than 1e-6.
  CHECK(r.max_relative_error < 1e-5);
}

TEST_CASE("the gradient checker catches a wrong gradient") {
  // A layer whose backward is off by a factor: the checker must report it.
  struct Wrong {
    using Scalar = double;
    Identity<double> id;
    Matrix<double> g2;
    const Matrix<double>& forward(const Matrix<double>& x) { return id.forward(x); }
    const Matrix<double>& backward(const Matrix<double>& g) {
      g2 = 1.01 * g;
      return g2;
    }
  } wrong;
  auto r = testing::check_gradients(wrong, random_batch(3, 4, 7));
  CHECK(r.max_relative_error > 1e-3);
  CHECK(r.worst.find("input") != std::string::npos);
}

TEST_CASE_TEMPLATE("EnergyModel names sizes that disagree", S, float, double) {
  using Net = Sequential<Dense<S>, ReLU<S>>;
  using M = EnergyModel<Net, SoftplusExperts<S>, QuadraticBase<S>>;
  CHECK_THROWS_WITH_AS(
      M(Net(Dense<S>(2, 8), ReLU<S>()), SoftplusExperts<S>(7, 4), QuadraticBase<S>(2)),
      doctest::Contains("expert 0 expects input size 7 but the feature network "
                        "output has size 8"),
      Error);
  CHECK_THROWS_WITH_AS(
      M(Net(Dense<S>(2, 8), ReLU<S>()), SoftplusExperts<S>(8, 4), QuadraticBase<S>(3)),
      doctest::Contains("expert 1 expects input size 3 but the model input has "
                        "size 2"),
      Error);
}

TEST_CASE_TEMPLATE("Generator draws latents in [-c, c] and maps them", S, float, double) {
  using Net = Sequential<Identity<S>>;
  Generator<Net, UniformLatent<S>> g(Net(Identity<S>()), UniformLatent<S>(3, 2.5));
  Rng rng(8);
  const Matrix<S>& x = g.sample(4000, rng);
  CHECK(x.rows() == 3);
  CHECK(x.maxCoeff() <= S(2.5));
  CHECK(x.minCoeff() >= S(-2.5));
  CHECK(double(x.array().square().mean()) == doctest::Approx(2.5 * 2.5 / 3).epsilon(0.05));
  Generator<Net, GaussianLatent<S>> gg(Net(Identity<S>()), GaussianLatent<S>(2, 0.5));
  const Matrix<S>& y = gg.sample(4000, rng);
  CHECK(double(y.array().square().mean()) == doctest::Approx(0.25).epsilon(0.05));
  CHECK_THROWS_WITH_AS(UniformLatent<S>(2, 0.0), doctest::Contains("latent bound c"), Error);
}

TEST_CASE("Generator names a latent/network size mismatch") {
  using Net = Sequential<Dense<float>, ReLU<float>>;
  CHECK_THROWS_WITH_AS((Generator<Net, UniformLatent<float>>(Net(Dense<float>(4, 8), ReLU<float>()),
                                                             UniformLatent<float>(3))),
                       doctest::Contains("latent has dimension 3 but the network expects input "
                                         "size 4"),
                       Error);
}
