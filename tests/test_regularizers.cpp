// Loss terms that stabilise training, and the BatchNorm layer.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <deepenergy/batch_norm.hpp>
#include <deepenergy/deepenergy.hpp>
#include <numbers>
#include <string>
#include <utility>
#include <vector>

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
  SUBCASE("by hand, k = 1: the factor is d, not the mean shift's d + 2") {
    // With one neighbour, which lies on the ball's edge, the offset averages
    // r^2 / d grad log p: score_i = 2 (x_nn - x_i) / |x_nn - x_i|^2 in 2D.
    Matrix<double> x(2, 4);
    x << 0.0, 1.0, 0.0, 3.0,  //
        0.0, 0.0, 2.0, 0.0;
    KernelEntropy<double> h(0.5, 0.0, 1);
    Matrix<double> g = Matrix<double>::Zero(2, 4);
    int dummy = 0;
    h.generator_term(dummy, x, g);
    // Nearest neighbours: 0 -> 1 (r 1), 1 -> 0 (r 1), 2 -> 0 (r 2), 3 -> 1 (r 2);
    // lambda / B = 1/8.
    Matrix<double> expect(2, 4);
    expect << 2.0 / 8.0, -2.0 / 8.0, 0.0, -2.0 * 2.0 / 4.0 / 8.0,  //
        0.0, 0.0, -2.0 * 2.0 / 4.0 / 8.0, 0.0;
    CHECK((g - expect).norm() < 1e-15);
  }
  SUBCASE("against a plain reference: full sort, the mean of the k nearest, k = 1, 2, 3") {
    // The reference sorts every sample's neighbours and takes the first k;
    // the term adds lambda / B * c_k (mu_i - x_i) / r_i^2, c_k = d(d+2)k/(dk+2),
    // and returns -lambda (psi(B) - psi(k) + log pi + (d/B) sum log r_i).
    Matrix<double> x(2, 6);
    x << 0.0, 1.0, 0.0, 3.0, -1.5, 0.6,  //
        0.0, 0.0, 2.0, 0.0, 1.2, -2.5;   // no two neighbours of a point tie up to k = 3
    const Index B = x.cols(), d = 2;
    const double lambda = 0.5;
    for (Index k : {1, 2, 3}) {
      CAPTURE(k);
      KernelEntropy<double> h(lambda, 0.0, k);
      Matrix<double> g = Matrix<double>::Constant(2, B, 0.25);  // the term adds to it
      int dummy = 0;
      const double value = h.generator_term(dummy, x, g);
      const double c = double(d * (d + 2) * k) / double(d * k + 2);
      double sum_log_r = 0.0;
      for (Index i = 0; i < B; ++i) {
        std::vector<std::pair<double, Index>> by_distance;
        for (Index j = 0; j < B; ++j)
          if (j != i) by_distance.push_back({(x.col(j) - x.col(i)).squaredNorm(), j});
        std::sort(by_distance.begin(), by_distance.end());
        Eigen::Vector2d mu = Eigen::Vector2d::Zero();
        for (Index m = 0; m < k; ++m) mu += x.col(by_distance[std::size_t(m)].second);
        mu /= double(k);
        const double r2 = by_distance[std::size_t(k - 1)].first;
        sum_log_r += 0.5 * std::log(r2);
        const Eigen::Vector2d expect = lambda / double(B) * c * (mu - x.col(i)) / r2;
        CHECK(g(0, i) - 0.25 == doctest::Approx(expect(0)).epsilon(1e-12));
        CHECK(g(1, i) - 0.25 == doctest::Approx(expect(1)).epsilon(1e-12));
      }
      double psi_b = -0.57721566490153286061, psi_k = psi_b;
      for (Index j = 1; j < B; ++j) psi_b += 1.0 / double(j);
      for (Index j = 1; j < k; ++j) psi_k += 1.0 / double(j);
      const double entropy = psi_b - psi_k + std::log(std::numbers::pi) + d * sum_log_r / double(B);
      CHECK(value == doctest::Approx(-lambda * entropy).epsilon(1e-12));
    }
  }
  SUBCASE("the score and entropy of Gaussian batches") {
    // N(0, I): the score is -x, the entropy log(2 pi e). Each sample's score
    // estimate is noisy (the mean of 20 neighbours): the regression slope of
    // the estimates on x has a standard error of about 0.035 per batch of 2000
    // (it falls as 1/k, not with B), 0.013 over 8 batches. The estimate is also
    // smoothed: in the tails the 20 neighbours span wide balls over which the
    // density is far from linear, which pulls the slope about 5% toward 0
    // (-0.94 here). The bounds catch a wrong constant (d / (d + 2) of it, say)
    // rather than those few percent, which the exact reference above pins.
    const Index B = 2000, batches = 8;
    KernelEntropy<double> h(1.0, 0.0, 20);
    double slope = 0.0, entropy = 0.0;
    for (Index b = 0; b < batches; ++b) {
      const Matrix<double> x = random_batch(2, B, 5 + std::uint64_t(b));
      Matrix<double> g = Matrix<double>::Zero(2, B);
      int dummy = 0;
      entropy -= h.generator_term(dummy, x, g) / double(batches);
      slope += (g.array() * x.array()).sum() * double(B) / x.squaredNorm() / double(batches);
    }
    MESSAGE("k = 20: score slope "
            << slope << " (exact -1); entropy " << entropy
            << " (exact log(2 pi e) = " << std::log(2 * std::numbers::pi * std::numbers::e) << ")");
    CHECK(slope == doctest::Approx(-1.0).epsilon(0.1));
    CHECK(entropy ==
          doctest::Approx(std::log(2 * std::numbers::pi * std::numbers::e)).epsilon(0.03));
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
    // The loss gradient points at its neighbours at the origin, so descent
    // moves it away from them: the entropy term spreads the samples.
    CHECK(g(0, 4) < 0.0);
  }
  SUBCASE("bad settings and too small a batch") {
    CHECK_THROWS_WITH_AS(KernelEntropy<float>(1.0, 0.0, -3), doctest::Contains("neighbours = -3"),
                         Error);
    CHECK_THROWS_WITH_AS(KernelEntropy<float>(1.0, 0.5, 4), doctest::Contains("both given"), Error);
    KernelEntropy<double> h(1.0, 0.0, 8);
    const Matrix<double> x = random_batch(2, 8, 1);
    Matrix<double> g = Matrix<double>::Zero(2, 8);
    int dummy = 0;
    CHECK_THROWS_WITH_AS(
        h.generator_term(dummy, x, g),
        doctest::Contains("neighbours = 8 needs a batch of at least 9 samples, got 8"), Error);
    CHECK(g.norm() == 0.0);
  }
}

namespace {
// What MutualInformationEntropy needs of a generator: the latents of the
// samples it is called with.
struct FixedLatents {
  Matrix<double> z;
  const Matrix<double>& latents() const { return z; }
};
}  // namespace

TEST_CASE("MutualInformationEntropy: gradient, training and contract") {
  SUBCASE("dI/dx matches central differences (T fixed, double precision)") {
    MutualInformationEntropy<double> mi(1.0, 16, 0.05, 3);
    const Matrix<double> x = random_batch(2, 9, 1), z = random_batch(4, 9, 2);
    for (int k = 0; k < 5; ++k) mi.train_step(x, z);  // a T that is not at its start
    Matrix<double> g;
    const double value = mi.estimate(x, z, &g);
    REQUIRE(g.rows() == 2);
    REQUIRE(g.cols() == 9);
    CHECK(value < 0.0);
    const double h = 1e-6;
    double worst = 0.0;
    for (Index j = 0; j < x.cols(); ++j)
      for (Index i = 0; i < x.rows(); ++i) {
        Matrix<double> xp = x, xm = x;
        xp(i, j) += h;
        xm(i, j) -= h;
        const double num = (mi.estimate(xp, z) - mi.estimate(xm, z)) / (2 * h);
        worst = std::max(worst, std::abs(num - g(i, j)) / std::max(1e-3, std::abs(num)));
      }
    CHECK(worst < 1e-5);
  }
  SUBCASE("the bound by hand: x_i with z_i, and x_i with z_{(i+1) mod B}") {
    for (const Index B : {2, 5}) {
      MutualInformationEntropy<double> mi(1.0, 6, 0.05, 3);
      const Matrix<double> x = random_batch(2, B, 4), z = random_batch(3, B, 5);
      mi.train_step(x, z);  // biases away from zero
      std::vector<Matrix<double>> p;
      mi.for_each_parameter([&](Parameter<double>& q) { p.push_back(q.value); });
      REQUIRE(p.size() == 4);
      const auto T = [&](Index i, Index j) {
        Vector<double> u(5);
        u << x.col(i), z.col(j);
        const Vector<double> h = (p[0] * u + p[1].col(0)).cwiseMax(0.0);
        return double(p[2].col(0).dot(h)) + p[3](0, 0);
      };
      double expected = 0.0;
      for (Index i = 0; i < B; ++i)
        expected -= math::softplus(-T(i, i)) + math::softplus(T(i, (i + 1) % B));
      CHECK(mi.estimate(x, z) == doctest::Approx(expected / double(B)).epsilon(1e-12));
    }
  }
  SUBCASE("weight 0 changes nothing; learning rate 0 leaves T as it is") {
    FixedLatents gen{random_batch(4, 9, 2)};
    const Matrix<double> x = random_batch(2, 9, 1);
    Matrix<double> grad_x = Matrix<double>::Ones(2, 9);
    MutualInformationEntropy<double> off(0.0);
    CHECK(off.generator_term(gen, x, grad_x) == 0.0);
    CHECK(grad_x == Matrix<double>::Ones(2, 9));
    MutualInformationEntropy<double> fixed(1.0, 8, 0.0, 3);
    const double before = fixed.estimate(x, gen.z);
    fixed.generator_term(gen, x, grad_x);
    fixed.generator_term(gen, x, grad_x);
    CHECK(fixed.estimate(x, gen.z) == before);
    CHECK(grad_x != Matrix<double>::Ones(2, 9));
  }
  SUBCASE("T's parameter gradient matches central differences (double precision)") {
    MutualInformationEntropy<double> mi(1.0, 8, 0.05, 3);
    const Matrix<double> x = random_batch(2, 7, 4), z = random_batch(3, 7, 5);
    for (int k = 0; k < 5; ++k) mi.train_step(x, z);
    mi.statistics_gradient(x, z);
    std::vector<std::string> names;
    double worst = 0.0;
    const double h = 1e-6;
    mi.for_each_parameter([&](Parameter<double>& p) {
      names.push_back(p.name);
      const Matrix<double> analytic = p.grad;  // d(-I)/dtheta
      for (Index k = 0; k < p.value.size(); ++k) {
        const double v = p.value(k);
        p.value(k) = v + h;
        const double up = mi.estimate(x, z);
        p.value(k) = v - h;
        const double down = mi.estimate(x, z);
        p.value(k) = v;
        const double num = -(up - down) / (2 * h);
        worst = std::max(worst, std::abs(num - analytic(k)) / std::max(1e-3, std::abs(num)));
      }
    });
    CHECK(names ==
          std::vector<std::string>{"MutualInformationEntropy.W1", "MutualInformationEntropy.b1",
                                   "MutualInformationEntropy.w2", "MutualInformationEntropy.b2"});
    CHECK(worst < 1e-5);
  }
  SUBCASE("generator_term adds -lambda dI/dx and returns -lambda I, after training T") {
    MutualInformationEntropy<double> a(0.5, 16, 0.05, 3), b(0.5, 16, 0.05, 3);
    FixedLatents gen{random_batch(4, 9, 2)};
    const Matrix<double> x = random_batch(2, 9, 1);
    Matrix<double> grad_x = Matrix<double>::Ones(2, 9);
    const double value = a.generator_term(gen, x, grad_x);
    b.train_step(x, gen.z);  // the same step, by hand
    Matrix<double> g;
    const double mi = b.estimate(x, gen.z, &g);
    CHECK(value == doctest::Approx(-0.5 * mi).epsilon(1e-12));
    CHECK((grad_x - (Matrix<double>::Ones(2, 9) - 0.5 * g)).cwiseAbs().maxCoeff() < 1e-12);
  }
  SUBCASE("T learns to tell dependent pairs from shuffled ones, and not independent ones") {
    // x = a smooth function of z: I grows from -2 log 2 toward 0. x drawn
    // independently of z: no T does better than -2 log 2 on fresh batches.
    const auto trained = [](bool dependent) {
      MutualInformationEntropy<double> mi(1.0, 32, 0.05, 7);
      Rng rng(11);
      double last = 0.0;
      for (int step = 0; step < 600; ++step) {
        Matrix<double> z(2, 64), x(2, 64);
        for (Index k = 0; k < z.size(); ++k) z(k) = rng.uniform(-1.0, 1.0);
        for (Index k = 0; k < x.size(); ++k) x(k) = rng.uniform(-1.0, 1.0);
        if (dependent) x = (2.0 * z).array().sin().matrix();
        if (step < 500) {
          mi.train_step(x, z);
        } else {
          last += mi.estimate(x, z) / 100.0;  // fresh batches: no overfitting
        }
      }
      return last;
    };
    const double floor = -2.0 * std::log(2.0);
    const double dependent = trained(true), independent = trained(false);
    MESSAGE("I estimate: dependent " << dependent << ", independent " << independent << ", floor "
                                     << floor);
    CHECK(dependent > floor + 0.5);
    CHECK(independent < floor + 0.1);
  }
  SUBCASE("bad settings and mismatched latents are named") {
    CHECK(test::message_of([] { MutualInformationEntropy<double>(-1.0); }).find("lambda = -1") !=
          std::string::npos);
    CHECK(test::message_of([] { MutualInformationEntropy<double>(1.0, 0); }).find("hidden = 0") !=
          std::string::npos);
    CHECK(test::message_of([] {
            MutualInformationEntropy<double>(1.0, 8, -0.1);
          }).find("learning_rate") != std::string::npos);
    MutualInformationEntropy<double> mi;
    const Matrix<double> x = random_batch(2, 9, 1);
    CHECK(test::message_of([&] {
            mi.estimate(x, random_batch(4, 8, 2));
          }).find("9 samples but 8 latents") != std::string::npos);
    mi.estimate(x, random_batch(4, 9, 2));
    CHECK(test::message_of([&] { mi.estimate(x, random_batch(3, 9, 2)); })
              .find("MutualInformationEntropy.W1 is 64x6 but samples of 2 and latents of 3 "
                    "dimensions with 64 hidden units need 64x5") != std::string::npos);
    // Restored values (a checkpoint's) of another shape are named the same way.
    mi.for_each_parameter([](Parameter<double>& p) {
      if (p.name.ends_with(".b1")) p.value.resize(3, 1);
    });
    CHECK(test::message_of([&] { mi.estimate(x, random_batch(4, 9, 2)); })
              .find("MutualInformationEntropy.b1 is 3x1 but samples of 2 and latents of 4 "
                    "dimensions with 64 hidden units need 64x1") != std::string::npos);
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

TEST_CASE("MutualInformationEntropy in DeepEnergyGAN: G's samples spread wider than without it") {
  // The same run (seed, data, energy) with the term at weight 1 and at 0:
  // eq. 5 alone pulls G toward the energy's minima; the term pushes back.
  const auto spread = [](double weight) {
    paper::Config c;
    c.hidden = 16;
    TrainerOptions opt;
    opt.seed = 3;
    DeepEnergyGAN<paper::Energy<float>, paper::Gen<float>, AdaGrad, EnergyMagnitudePenalty,
                  MutualInformationEntropy<float>>
        t(paper::make_energy<float>(c), paper::make_generator<float>(c), opt, AdaGrad{},
          EnergyMagnitudePenalty(1e-2), MutualInformationEntropy<float>(weight, 32, 0.01, 5));
    const Matrix<float> data = random_batch(2, 500, 9).cast<float>();
    const StepInfo info = t.train(data, 300);
    CHECK(std::isfinite(info.generator_loss));
    Rng rng(1);
    const Matrix<double> x = t.generator().sample(1000, rng).cast<double>();
    const Matrix<double> centred = x.colwise() - x.rowwise().mean();
    const Matrix<double> cov = centred * centred.transpose() / 1000.0;
    return std::sqrt(cov(0, 0) * cov(1, 1) - cov(0, 1) * cov(1, 0));
  };
  const double with = spread(1.0), without = spread(0.0);
  MESSAGE("sqrt det cov of G's samples: " << with << " with the term, " << without << " without");
  CHECK(with > 1.5 * without);  // 1.9 measured
}
