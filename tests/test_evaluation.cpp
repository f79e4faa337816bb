// Tests of the evaluation tools (include/deepenergy/evaluation.hpp).
#include "deepenergy/evaluation.hpp"

#include <doctest/doctest.h>
#include <Eigen/LU>

#include <cmath>
#include <numbers>
#include <string>

#include "deepenergy/datasets.hpp"
#include "helpers.hpp"

namespace {

using deepenergy::Error;
using deepenergy::Index;
using deepenergy::Matrix;
using deepenergy::Rng;
using deepenergy::RowVector;
using deepenergy::Vector;
namespace eval = deepenergy::eval;
using deepenergy::test::message_of;

constexpr double kPi = std::numbers::pi;

/// E(x) = |x - m|^2 / (2 s^2); Z = (2 pi s^2)^{d/2}.
struct Quadratic {
  Vector<double> m;
  double s;
  RowVector<double> operator()(const Matrix<double>& x) const {
    return (x.colwise() - m).colwise().squaredNorm() / (2.0 * s * s);
  }
};

/// E(x) = (x - m)^T P (x - m) / 2 with precision P = Sigma^{-1}.
struct Gaussian2 {
  Vector<double> m;
  Matrix<double> precision;
  RowVector<double> operator()(const Matrix<double>& x) const {
    const Matrix<double> c = x.colwise() - m;
    return 0.5 * (c.array() * (precision * c).array()).colwise().sum().matrix();
  }
};

/// n samples of N(m, L L^T).
Matrix<double> gaussian_samples(const Vector<double>& m, const Matrix<double>& chol, Index n,
                                Rng& rng) {
  Matrix<double> z(m.size(), n);
  for (Index j = 0; j < n; ++j)
    for (Index i = 0; i < m.size(); ++i) z(i, j) = rng.normal();
  Matrix<double> x = chol * z;
  x.colwise() += m;
  return x;
}

eval::Box box2(double lo0, double hi0, double lo1, double hi1) {
  eval::Box b;
  b.lo = Vector<double>(2);
  b.hi = Vector<double>(2);
  b.lo << lo0, lo1;
  b.hi << hi0, hi1;
  return b;
}

}  // namespace

TEST_CASE("log_partition of a quadratic energy in 2D is log(2 pi s^2)") {
  Vector<double> m(2);
  m << 0.3, -0.7;
  const double s = 0.8;
  const Quadratic f{m, s};
  const eval::Box box = box2(m(0) - 8 * s, m(0) + 8 * s, m(1) - 8 * s, m(1) + 8 * s);
  const double exact = std::log(2.0 * kPi * s * s);
  const double lz = eval::log_partition(f, box, 100);
  CHECK(std::abs(lz - exact) <= 1e-6 * std::abs(exact));

  const eval::PartitionEstimate est = eval::log_partition_with_error(f, box, 100);
  CHECK(std::abs(est.log_z - exact) <= 1e-6 * std::abs(exact));
  CHECK(est.n == 200);
  CHECK(std::isfinite(est.resolution_diff));
  CHECK(std::isfinite(est.box_diff));
  CHECK(est.resolution_diff < 1e-9);
  CHECK(est.box_diff < 1e-9);
  CHECK(est.error_estimate == doctest::Approx(est.resolution_diff + est.box_diff));
  CHECK(est.box.lo == box.lo);
}

TEST_CASE("log_partition in 1D is log(sqrt(2 pi) s)") {
  Vector<double> m(1);
  m << 2.0;
  const double s = 0.3;
  const Quadratic f{m, s};
  eval::Box box;
  box.lo = Vector<double>::Constant(1, m(0) - 9 * s);
  box.hi = Vector<double>::Constant(1, m(0) + 9 * s);
  const double exact = 0.5 * std::log(2.0 * kPi * s * s);
  CHECK(std::abs(eval::log_partition(f, box, 200) - exact) <= 1e-6 * std::abs(exact));
}

TEST_CASE("the error estimate sees a box that cuts off mass") {
  Vector<double> m(2);
  m << 0.0, 0.0;
  const Quadratic f{m, 1.0};
  // The box [-1.5, 1.5]^2 holds about 75% of the mass, the widened box
  // [-3, 3]^2 about 99.5%: box_diff is the log of their ratio.
  const eval::PartitionEstimate est =
      eval::log_partition_with_error(f, box2(-1.5, 1.5, -1.5, 1.5), 40);
  const double missing =
      2.0 * (std::log(std::erf(3.0 / std::sqrt(2.0))) - std::log(std::erf(1.5 / std::sqrt(2.0))));
  CHECK(est.box_diff == doctest::Approx(missing).epsilon(1e-3));
  CHECK(est.error_estimate >= est.box_diff);
  CHECK(est.resolution_diff < 1e-3);
}

TEST_CASE("box_from_data widens the data range by the margin") {
  Matrix<double> x(2, 3);
  x << 0.0, 4.0, 2.0,  //
      1.0, 1.0, 1.0;
  const eval::Box b = eval::box_from_data(x, 0.25, 0.5);
  CHECK(b.dims() == 2);
  CHECK(b.lo(0) == doctest::Approx(-1.0));
  CHECK(b.hi(0) == doctest::Approx(5.0));
  CHECK(b.lo(1) == doctest::Approx(0.5));  // zero range: min margin
  CHECK(b.hi(1) == doctest::Approx(1.5));
}

TEST_CASE("log_partition rejects bad boxes, n and non-finite energies") {
  const auto f = [](const Matrix<double>& x) -> RowVector<double> {
    return x.colwise().squaredNorm();
  };
  eval::Box b3;
  b3.lo = Vector<double>::Zero(3);
  b3.hi = Vector<double>::Ones(3);
  CHECK(message_of([&] { eval::log_partition(f, b3, 10); }).find("3 dimensions") !=
        std::string::npos);
  CHECK(message_of([&] { eval::log_partition_with_error(f, b3, 10); }).find("expected 1 or 2") !=
        std::string::npos);
  CHECK(message_of([&] { eval::log_partition(f, box2(0, 1, 0, 1), 1); }).find("n = 1") !=
        std::string::npos);
  CHECK(message_of([&] { eval::log_partition(f, box2(1, 0, 0, 1), 10); }).find("lo < hi") !=
        std::string::npos);

  // Infinite energy on the half plane x_0 > 0.5: 5 of the 10 columns.
  const auto bad = [](const Matrix<double>& x) -> RowVector<double> {
    RowVector<double> e = x.colwise().squaredNorm();
    for (Index j = 0; j < x.cols(); ++j)
      if (x(0, j) > 0.5) e(j) = std::numeric_limits<double>::quiet_NaN();
    return e;
  };
  const std::string msg = message_of([&] { eval::log_partition(bad, box2(0, 1, 0, 1), 10); });
  CHECK(msg.find("50 of 100 grid points") != std::string::npos);
  CHECK(msg.find("nan") != std::string::npos);

  const auto wrong_size = [](const Matrix<double>&) { return RowVector<double>::Zero(3).eval(); };
  CHECK(message_of([&] {
          eval::log_partition(wrong_size, box2(0, 1, 0, 1), 10);
        }).find("returned 3 values") != std::string::npos);
}

TEST_CASE("NLL of a Gaussian energy on its own samples matches its entropy") {
  Vector<double> m(2);
  m << 1.0, -2.0;
  Matrix<double> chol(2, 2);
  chol << 0.9, 0.0,  //
      0.4, 0.5;
  const Matrix<double> sigma = chol * chol.transpose();
  const Gaussian2 f{m, sigma.inverse()};
  const eval::Box box = box2(m(0) - 8, m(0) + 8, m(1) - 8, m(1) + 8);
  const double lz = eval::log_partition(f, box, 200);
  CHECK(lz ==
        doctest::Approx(std::log(2.0 * kPi) + 0.5 * std::log(sigma.determinant())).epsilon(1e-8));

  Rng rng(7);
  const Matrix<double> x = gaussian_samples(m, chol, 20000, rng);
  const RowVector<double> lp = eval::log_density(f, x, lz);
  const double nll = eval::nll(f, x, lz);
  CHECK(nll == doctest::Approx(-lp.mean()));
  const double sd = std::sqrt((lp.array() + nll).square().sum() / (x.cols() - 1.0));
  const double se = sd / std::sqrt(static_cast<double>(x.cols()));
  const double entropy =
      std::log(2.0 * kPi * std::numbers::e) + 0.5 * std::log(sigma.determinant());
  CHECK(std::abs(nll - entropy) < 4.0 * se);
}

TEST_CASE("MMD^2 is near zero for equal distributions and positive for shifted ones") {
  Rng rng(11);
  Vector<double> m(2);
  m << 0.0, 0.0;
  const Matrix<double> chol = Matrix<double>::Identity(2, 2);
  const Matrix<double> a = gaussian_samples(m, chol, 1000, rng);
  const Matrix<double> b = gaussian_samples(m, chol, 1000, rng);
  Vector<double> shift(2);
  shift << 1.0, 0.0;
  const Matrix<double> c = gaussian_samples(shift, chol, 1000, rng);
  const double h = eval::median_heuristic_bandwidth(a, b);
  // The median distance between two N(0, I_2) points is 2 sqrt(log 2) ~ 1.67.
  CHECK(h == doctest::Approx(2.0 * std::sqrt(std::log(2.0))).epsilon(0.05));
  const double same = eval::mmd2_unbiased(a, b, h);
  const double shifted = eval::mmd2_unbiased(a, c, h);
  CHECK(std::abs(same) < 0.005);
  CHECK(shifted > 0.05);
  CHECK(shifted > 20.0 * std::abs(same));
  // Symmetric in its arguments.
  CHECK(eval::mmd2_unbiased(c, a, h) == doctest::Approx(shifted).epsilon(1e-12));
  CHECK(message_of([&] {
          eval::mmd2_unbiased(a, Matrix<double>::Zero(3, 10), h);
        }).find("same number") != std::string::npos);
}

TEST_CASE("Kozachenko-Leonenko entropy of a 2D Gaussian is within 0.05 nats") {
  Rng rng(5);
  Vector<double> m(2);
  m << 3.0, 1.0;
  Matrix<double> chol(2, 2);
  chol << 1.2, 0.0,  //
      -0.5, 0.7;
  const Matrix<double> sigma = chol * chol.transpose();
  const double exact =
      0.5 * std::log(std::pow(2.0 * kPi * std::numbers::e, 2) * sigma.determinant());
  const Matrix<double> x = gaussian_samples(m, chol, 2000, rng);
  CHECK(std::abs(eval::knn_entropy(x, 3) - exact) < 0.05);
  CHECK(std::abs(eval::knn_entropy(x, 1) - exact) < 0.05);

  // KL(P_G || P_E) of a generator that samples the energy's own distribution.
  const Gaussian2 f{m, sigma.inverse()};
  const double lz = std::log(2.0 * kPi) + 0.5 * std::log(sigma.determinant());
  CHECK(std::abs(eval::alignment_kl(f, x, lz)) < 0.05);
  // A generator twice as wide is clearly misaligned:
  // KL(N(0, 4S) || N(0, S)) = 0.5 (tr(4 I) - 2 - log det(4 I)) = 3 - 2 log 2.
  Matrix<double> wide = 2.0 * (x.colwise() - m);
  wide.colwise() += m;
  CHECK(eval::alignment_kl(f, wide, lz) ==
        doctest::Approx(3.0 - 2.0 * std::log(2.0)).epsilon(0.05));

  Matrix<double> dup(2, 5);
  dup.setZero();
  CHECK(message_of([&] { eval::knn_entropy(dup, 2); }).find("duplicate") != std::string::npos);
  CHECK(message_of([&] { eval::knn_entropy(dup, 5); }).find("more than k = 5") !=
        std::string::npos);
}

TEST_CASE("mode_coverage counts 20 of 25 modes and the exact high-quality fraction") {
  const double sd = 0.05;
  Matrix<double> centres(2, 25);
  for (Index i = 0; i < 5; ++i)
    for (Index j = 0; j < 5; ++j) centres.col(5 * i + j) << 2.0 * i - 4.0, 2.0 * j - 4.0;
  // 50 samples at each of the first 20 centres, spread up to 2.5 sd away, plus
  // 100 samples far from every centre and 5 samples on centre 24.
  Matrix<double> s(2, 20 * 50 + 100 + 5);
  Index col = 0;
  for (Index c = 0; c < 20; ++c)
    for (Index t = 0; t < 50; ++t) {
      const double ang = 2.0 * kPi * static_cast<double>(t) / 50.0;
      const double rad = 2.5 * sd * static_cast<double>(t % 5) / 4.0;
      s.col(col++) = centres.col(c) + rad * Vector<double>{{std::cos(ang), std::sin(ang)}};
    }
  for (Index t = 0; t < 100; ++t) s.col(col++) << -5.0 + 0.1 * static_cast<double>(t), 1.0;
  for (Index t = 0; t < 5; ++t) s.col(col++) = centres.col(24);
  REQUIRE(col == s.cols());

  const eval::ModeCoverage cov = eval::mode_coverage(s, centres, sd);
  CHECK(cov.min_count == 9);  // ceil(0.2 * 1105 / 25)
  CHECK(cov.modes_covered == 20);
  CHECK(cov.high_quality_fraction == doctest::Approx(1005.0 / 1105.0).epsilon(1e-15));
  CHECK(cov.counts[0] == 50);
  CHECK(cov.counts[24] == 5);
  CHECK(eval::mode_coverage(s, centres, sd, 1).modes_covered == 21);
}

TEST_CASE("mixture_entropy of one component is the Gaussian's entropy") {
  Rng rng(3);
  Matrix<double> c(2, 1);
  c << 0.5, -1.0;
  const double sd = 0.7;
  const eval::Estimate h = eval::mixture_entropy(c, sd, 20000, rng);
  const double exact = std::log(2.0 * kPi * std::numbers::e * sd * sd);
  CHECK(h.standard_error > 0.0);
  CHECK(std::abs(h.value - exact) < 4.0 * h.standard_error);

  // Far-apart components: H = H(component) + log K.
  Matrix<double> far(2, 4);
  far << 0.0, 100.0, 0.0, 100.0,  //
      0.0, 0.0, 100.0, 100.0;
  const eval::Estimate h4 = eval::mixture_entropy(far, sd, 20000, rng);
  CHECK(std::abs(h4.value - (exact + std::log(4.0))) < 4.0 * h4.standard_error + 1e-12);
}

TEST_CASE("four-spin sampler matches the datasets module") {
  Rng a(42), b(42);
  const Matrix<double> x = eval::four_spin_sample(500, a);
  const Matrix<double> y = deepenergy::datasets::four_spin<double>(500, b);
  CHECK((x - y).cwiseAbs().maxCoeff() < 1e-12);
}

TEST_CASE("four-spin density has the right Jacobian and integrates to 1") {
  // Finite-difference check of det dx/dw = 1 - 0.52 w_1 exp(w_0) on arm 1.
  const auto map = [](double w0, double w1) {
    const double a = kPi / 2.0 + 0.52 * std::exp(w0);
    return Vector<double>{
        {std::cos(a) * w0 - std::sin(a) * w1, std::sin(a) * w0 + std::cos(a) * w1}};
  };
  const double w0 = 1.3, w1 = 0.17, e = 1e-6;
  const Vector<double> d0 = (map(w0 + e, w1) - map(w0 - e, w1)) / (2 * e);
  const Vector<double> d1 = (map(w0, w1 + e) - map(w0, w1 - e)) / (2 * e);
  CHECK(d0(0) * d1(1) - d1(0) * d0(1) ==
        doctest::Approx(1.0 - 0.52 * w1 * std::exp(w0)).epsilon(1e-7));

  // Midpoint rule on [-2.6, 2.6]^2 (the mass outside is below 1e-10). Near the
  // folds the density has integrable 1/sqrt singularities, which slow the
  // rule's convergence: 1 - 2e-6 here, within 1e-7 at twice the resolution.
  const Index n = 260;
  const double lo = -2.6, h = 5.2 / static_cast<double>(n);
  Matrix<double> grid(2, n * n);
  for (Index i = 0; i < n * n; ++i) {
    grid(0, i) = lo + (static_cast<double>(i % n) + 0.5) * h;
    grid(1, i) = lo + (static_cast<double>(i / n) + 0.5) * h;
  }
  const double total = eval::four_spin_log_density(grid).array().exp().sum() * h * h;
  CHECK(std::abs(total - 1.0) < 1e-5);
}

TEST_CASE("four-spin density is exact where arms overlap and at folds") {
  // At x = (1.49, -0.63) (r ~ 1.62) the angle map folds; a coarse search
  // misses two close preimages and underestimates log p by about 45 nats.
  Matrix<double> x(2, 2);
  x << 1.49, -0.11,  //
      -0.63, -0.07;
  const RowVector<double> lp = eval::four_spin_log_density(x);
  // Reference values from a brute-force scan of 200000 angles with bisection.
  CHECK(lp(0) == doctest::Approx(-6.8901476086728).epsilon(1e-6));
  CHECK(lp(1) == doctest::Approx(-7.152175974837954).epsilon(1e-6));
  // Far away the density underflows to zero.
  CHECK(eval::four_spin_log_density(Matrix<double>::Constant(2, 1, 100.0))(0) ==
        -std::numeric_limits<double>::infinity());
}

TEST_CASE("four-spin entropy is about 0.396 nats") {
  Rng rng(9);
  const eval::Estimate h = eval::four_spin_entropy(50000, rng);
  CHECK(h.standard_error > 0.0);
  CHECK(h.standard_error < 0.002);
  // Reference: 0.39612 +- 0.00016 from 10^6 draws (seed 9).
  CHECK(std::abs(h.value - 0.39612) < 4.0 * h.standard_error + 0.0005);
  // The plain estimate -mean log p(x) agrees within its (larger) error.
  Rng again(9);
  const Matrix<double> x = eval::four_spin_sample(50000, again);
  const RowVector<double> lp = eval::four_spin_log_density(x);
  const double plain = -lp.mean();
  const double se = std::sqrt((lp.array() + plain).square().sum() / (x.cols() - 1.0) / x.cols());
  CHECK(std::abs(plain - h.value) < 4.0 * se);
}

TEST_CASE("KDE picks a bandwidth near Silverman's and its NLL is near the entropy") {
  Rng rng(21);
  Vector<double> m(2);
  m << 0.0, 0.0;
  const Matrix<double> chol = Matrix<double>::Identity(2, 2);
  const Matrix<double> train = gaussian_samples(m, chol, 5000, rng);
  const Matrix<double> valid = gaussian_samples(m, chol, 500, rng);
  const Matrix<double> test = gaussian_samples(m, chol, 5000, rng);
  const eval::Kde kde = eval::fit_kde(train, valid);
  // Silverman's rule for a standard normal in 2D: (4 / (4 N))^{1/6} = N^{-1/6}.
  const double silverman = std::pow(5000.0, -1.0 / 6.0);
  CHECK(kde.bandwidth > silverman / 2.0);
  CHECK(kde.bandwidth < silverman * 2.0);
  CHECK(kde.points.cols() == 5000);
  const double nll = -eval::kde_log_density(kde, test).mean();
  const double entropy = std::log(2.0 * kPi * std::numbers::e);
  CHECK(std::abs(nll - entropy) < 0.05);

  // The log density is stable far from every point and matches a direct sum.
  Matrix<double> q(2, 2);
  q << 0.3, 60.0,  //
      -0.2, 0.0;
  const RowVector<double> lp = eval::kde_log_density(kde, q);
  double direct = 0.0;
  for (Index j = 0; j < train.cols(); ++j)
    direct +=
        std::exp(-(q.col(0) - train.col(j)).squaredNorm() / (2 * kde.bandwidth * kde.bandwidth));
  direct /= 2.0 * kPi * kde.bandwidth * kde.bandwidth * static_cast<double>(train.cols());
  CHECK(lp(0) == doctest::Approx(std::log(direct)).epsilon(1e-10));
  CHECK(std::isfinite(lp(1)));

  CHECK(message_of([&] {
          eval::fit_kde(train, Matrix<double>::Zero(3, 4));
        }).find("expected 2 rows") != std::string::npos);
  CHECK(message_of([&] {
          eval::fit_kde(train, valid, {0.1, -1.0});
        }).find("bandwidth -1") != std::string::npos);
}
