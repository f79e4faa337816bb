// Loss terms that stabilise training, and the BatchNorm layer.
#include <doctest/doctest.h>

#include <cmath>
#include <deepenergy/batch_norm.hpp>
#include <deepenergy/deepenergy.hpp>
#include <numbers>

#include "helpers.hpp"

using namespace deepenergy;
using deepenergy::test::random_batch;

namespace {

paper::Energy<double> small_energy(std::uint64_t seed) {
  paper::Config c;
  c.hidden = 7;
  auto e = paper::make_energy<double>(c);
  Rng rng(seed);
  e.initialize(rng);
  return e;
}

std::vector<Matrix<double>> grads(paper::Energy<double>& e) {
  std::vector<Matrix<double>> g;
  e.for_each_parameter([&](auto& p) { g.push_back(p.grad); });
  return g;
}

// Central difference of loss() with respect to entry (i, j) of parameter k.
template <class Loss>
double numeric(paper::Energy<double>& e, std::size_t k, Index i, Index j, Loss&& loss) {
  auto bump = [&](double d) {
    std::size_t n = 0;
    e.for_each_parameter([&](auto& p) {
      if (n++ == k) p.value(i, j) += d;
    });
  };
  const double h = 1e-5;
  bump(h);
  const double up = loss();
  bump(-2 * h);
  const double down = loss();
  bump(h);
  return (up - down) / (2 * h);
}

}  // namespace

TEST_CASE("KernelEntropy estimates the score of a Gaussian batch") {
  // For N(0, I) the score is -x; the kernel estimate is a smoothed version,
  // so it must point the same way with a comparable slope.
  KernelEntropy<double> h(1.0);
  const Matrix<double> x = random_batch(2, 400, 1);
  Matrix<double> g = Matrix<double>::Zero(2, 400);
  int dummy = 0;
  h.generator_term(dummy, x, g);
  const Matrix<double> score = g * 400.0;  // undo the 1/B weight
  const double slope = (score.array() * x.array()).sum() / x.squaredNorm();
  const double corr = (score.array() * x.array()).sum() / (score.norm() * x.norm());
  MESSAGE("score slope " << slope << " (exact -1), correlation " << corr);
  CHECK(slope < -0.4);
  CHECK(slope > -1.5);
  CHECK(corr < -0.8);
  CHECK_THROWS_WITH_AS(KernelEntropy<float>(-1.0), doctest::Contains("lambda = -1"), Error);
}

TEST_CASE("KernelEntropy with neighbours: Dai et al.'s mean of the k nearest") {
  SUBCASE("by hand: each sample's nearest neighbour, k = 1") {
    // Four points in 2D; with k = 1, score_i = (d + 2)(x_nn - x_i) / |x_nn - x_i|^2.
    Matrix<double> x(2, 4);
    x << 0.0, 1.0, 0.0, 3.0,  //
        0.0, 0.0, 2.0, 0.0;
    KernelEntropy<double> h(0.5, 0.0, 1);
    Matrix<double> g = Matrix<double>::Constant(2, 4, 0.25);  // the term adds to it
    int dummy = 0;
    const double value = h.generator_term(dummy, x, g);
    // Nearest neighbours: 0 -> 1 (r 1), 1 -> 0 (r 1), 2 -> 0 (r 2), 3 -> 1 (r 2).
    const int nn[4] = {1, 0, 0, 1};
    for (Index i = 0; i < 4; ++i) {
      const Eigen::Vector2d diff = x.col(nn[i]) - x.col(i);
      const Eigen::Vector2d expect = 0.5 / 4.0 * 4.0 * diff / diff.squaredNorm();
      CHECK(g(0, i) - 0.25 == doctest::Approx(expect(0)).epsilon(1e-12));
      CHECK(g(1, i) - 0.25 == doctest::Approx(expect(1)).epsilon(1e-12));
    }
    // lambda * mean log(k / ((B - 1) pi r_i^2)), r = 1, 1, 2, 2.
    double log_p = 0.0;
    for (double r : {1.0, 1.0, 2.0, 2.0}) log_p += std::log(1.0 / (3.0 * std::numbers::pi * r * r));
    CHECK(value == doctest::Approx(0.5 * log_p / 4.0).epsilon(1e-12));
  }
  SUBCASE("the score of a Gaussian batch, slope about -1") {
    // N(0, I): the score is -x. Each sample's estimate is noisy (the mean of
    // 20 neighbours), the regression slope over 2000 samples is not.
    const Index B = 2000;
    KernelEntropy<double> h(1.0, 0.0, 20);
    const Matrix<double> x = random_batch(2, B, 5);
    Matrix<double> g = Matrix<double>::Zero(2, B);
    int dummy = 0;
    const double value = h.generator_term(dummy, x, g);
    const Matrix<double> score = g * double(B);
    const double slope = (score.array() * x.array()).sum() / x.squaredNorm();
    MESSAGE("k-NN score slope " << slope << " (exact -1); -H estimate " << value
                                << " (exact -log(2 pi e) = "
                                << -std::log(2 * std::numbers::pi * std::numbers::e) << ")");
    CHECK(slope < -0.8);
    CHECK(slope > -1.2);
    // The k-NN entropy estimate of N(0, I): H = log(2 pi e) = 2.84 nats.
    CHECK(-value ==
          doctest::Approx(std::log(2 * std::numbers::pi * std::numbers::e)).epsilon(0.05));
  }
  SUBCASE("duplicated samples get no push and a finite value") {
    Matrix<double> x = Matrix<double>::Zero(2, 5);
    x(0, 4) = 1.0;  // four copies of the origin and one point at (1, 0)
    KernelEntropy<double> h(1.0, 0.0, 2);
    Matrix<double> g = Matrix<double>::Zero(2, 5);
    int dummy = 0;
    CHECK(std::isfinite(h.generator_term(dummy, x, g)));
    CHECK(g.allFinite());
    CHECK(g.leftCols(4).norm() == 0.0);
    CHECK(g(0, 4) < 0.0);  // pulled toward its neighbours at the origin
  }
  SUBCASE("bad settings and too small a batch") {
    CHECK_THROWS_WITH_AS(KernelEntropy<float>(1.0, 0.0, -3), doctest::Contains("neighbours = -3"),
                         Error);
    CHECK_THROWS_WITH_AS(KernelEntropy<float>(1.0, 0.5, 4), doctest::Contains("both given"), Error);
    KernelEntropy<double> h(1.0, 0.0, 8);
    const Matrix<double> x = random_batch(2, 8, 1);
    Matrix<double> g = Matrix<double>::Zero(2, 8);
    int dummy = 0;
    CHECK_THROWS_WITH_AS(h.generator_term(dummy, x, g),
                         doctest::Contains("a batch of 8 samples has fewer than 8 neighbours"),
                         Error);
    CHECK(g.norm() == 0.0);
  }
}

TEST_CASE("EnergyMagnitudePenalty adds alpha mean E^2 with the right gradient") {
  auto e = small_energy(2);
  const Matrix<double> x = random_batch(2, 6, 3);
  EnergyMagnitudePenalty pen(0.3);
  auto loss = [&] {
    const RowVector<double> en = e.energy(x);
    return en.mean() + 0.3 * en.squaredNorm() / 6.0;
  };
  e.for_each_parameter([](auto& p) { p.zero_grad(); });
  const RowVector<double> en = e.energy(x);
  RowVector<double> w = RowVector<double>::Constant(6, 1.0 / 6);
  const double value = pen.energy_term(Phase::positive, en, w);
  CHECK(value == doctest::Approx(0.3 * en.squaredNorm() / 6.0));
  e.backward(w);
  const auto g = grads(e);
  for (std::size_t k = 0; k < g.size(); ++k)
    CHECK(g[k](0, 0) == doctest::Approx(numeric(e, k, 0, 0, loss)).epsilon(1e-6));
}

TEST_CASE("GradientPenalty's parameter gradient matches finite differences") {
  auto e = small_energy(4);
  const Matrix<double> x = random_batch(2, 5, 5);
  const double lambda = 0.7;
  GradientPenalty<double> gp(lambda, 1e-4);
  auto loss = [&] {
    e.energy(x);
    return lambda * e.input_gradient(RowVector<double>::Ones(5)).squaredNorm() / 5.0;
  };
  e.for_each_parameter([](auto& p) { p.zero_grad(); });
  e.energy(x);
  const double value = gp.energy_extra(Phase::positive, e, x);
  CHECK(value == doctest::Approx(loss()));
  const auto g = grads(e);
  double worst = 0;
  for (std::size_t k = 0; k < g.size(); ++k)
    for (Index i = 0; i < std::min<Index>(g[k].rows(), 3); ++i) {
      const double n = numeric(e, k, i, 0, loss);
      worst = std::max(worst, std::abs(g[k](i, 0) - n) / std::max({std::abs(n), 1e-4}));
    }
  MESSAGE("GradientPenalty: worst relative error " << worst);
  CHECK(worst < 1e-5);
  // The negative phase is left alone.
  e.for_each_parameter([](auto& p) { p.zero_grad(); });
  CHECK(gp.energy_extra(Phase::negative, e, x) == 0.0);
}

TEST_CASE("gradient check: BatchNorm in training and inference mode") {
  BatchNorm<double> bn(3);
  bn.gamma().value << 1.5, -0.5, 2.0;
  bn.beta().value << 0.1, 0.2, -0.3;
  auto r = testing::check_gradients(bn, random_batch(3, 8, 6, 2.0));
  MESSAGE("BatchNorm(train): worst relative error " << r.max_relative_error << " at " << r.worst);
  CHECK(r.max_relative_error < 1e-6);
  bn.set_training(false);
  r = testing::check_gradients(bn, random_batch(3, 8, 7, 2.0));
  MESSAGE("BatchNorm(inference): worst relative error " << r.max_relative_error);
  CHECK(r.max_relative_error < 1e-6);
}

TEST_CASE_TEMPLATE("BatchNorm normalises in training and tracks running averages", S, float,
                   double) {
  BatchNorm<S> bn(2, 1.0);  // momentum 1: running stats = last batch's
  Matrix<S> x(2, 4);
  x << 1, 2, 3, 4, 10, 10, 20, 20;
  const Matrix<S> y = bn.forward(x);
  CHECK(std::abs(double(y.row(0).mean())) < 1e-6);
  CHECK(double(y.row(1).squaredNorm() / 4) == doctest::Approx(1.0).epsilon(1e-3));
  CHECK(double(bn.running_mean().value(1, 0)) == doctest::Approx(15.0));
  bn.set_training(false);
  const Matrix<S> y2 = bn.forward(x);
  CHECK((y2 - y).cwiseAbs().maxCoeff() < S(1e-3));
  CHECK_THROWS_WITH_AS(BatchNorm<S>(0), doctest::Contains("features must be positive"), Error);
}

TEST_CASE("BatchNormEntropy: value and gradient on the generator's gammas") {
  using Net = Sequential<Dense<double>, BatchNorm<double>, ReLU<double>, Dense<double>>;
  Generator<Net, UniformLatent<double>> g(
      Net(Dense<double>(2, 3), BatchNorm<double>(3), ReLU<double>(), Dense<double>(3, 2)),
      UniformLatent<double>(2));
  g.net().layer<1>().gamma().value << 1.0, 2.0, 0.5;
  g.for_each_parameter([](auto& p) { p.zero_grad(); });
  BatchNormEntropy term(2.0);
  Matrix<double> x, gx;
  const double v = term.generator_term(g, x, gx);
  const double h = 1.5 * std::log(2 * std::numbers::pi * std::numbers::e) + 0.5 * std::log(4.0) +
                   0.5 * std::log(0.25);
  CHECK(v == doctest::Approx(-2.0 * h));
  const auto& gg = g.net().layer<1>().gamma().grad;
  CHECK(gg(0, 0) == doctest::Approx(-2.0));
  CHECK(gg(1, 0) == doctest::Approx(-1.0));
  CHECK(gg(2, 0) == doctest::Approx(-4.0));
}

TEST_CASE("a BatchNorm generator with every stabiliser trains and stays finite") {
  using GNet = Sequential<Dense<float>, BatchNorm<float>, ReLU<float>, Dense<float>>;
  using Gen = Generator<GNet, UniformLatent<float>>;
  paper::Config c;
  c.hidden = 16;
  TrainerOptions opt;
  opt.seed = 3;
  DeepEnergyGAN<paper::Energy<float>, Gen, AdaGrad, BatchNormEntropy, EnergyMagnitudePenalty,
                GradientPenalty<float>, KernelEntropy<float>>
      t(paper::make_energy<float>(c),
        Gen(GNet(Dense<float>(4, 16), BatchNorm<float>(16), ReLU<float>(), Dense<float>(16, 2)),
            UniformLatent<float>(4)),
        opt, AdaGrad{}, BatchNormEntropy(0.1), EnergyMagnitudePenalty(1e-3),
        GradientPenalty<float>(0.1), KernelEntropy<float>(1.0));
  const Matrix<float> data = random_batch(2, 500, 9).cast<float>();
  const StepInfo info = t.train(data, 200);
  CHECK(std::isfinite(info.energy_loss));
  CHECK(std::isfinite(info.generator_loss));
  Rng rng(1);
  CHECK(t.generator().sample(100, rng).allFinite());
}
