// Tests of the synthetic data sets (include/deepenergy/datasets.hpp).
#include "deepenergy/datasets.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <numbers>
#include <set>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

namespace ds = deepenergy::datasets;
using deepenergy::Index;
using deepenergy::Matrix;
using deepenergy::Rng;

namespace {

/// Index of the nearest centre and the distance to it, for every column of x.
struct Nearest {
  std::vector<Index> index;
  std::vector<double> distance;
};

template <class S>
Nearest nearest_centres(const Matrix<S>& x, const Matrix<double>& centres) {
  Nearest out;
  for (Index j = 0; j < x.cols(); ++j) {
    const Eigen::Vector2d p = x.col(j).template cast<double>();
    Index best = 0;
    double best_d = std::numeric_limits<double>::infinity();
    for (Index c = 0; c < centres.cols(); ++c) {
      const double d = (p - centres.col(c)).norm();
      if (d < best_d) {
        best_d = d;
        best = c;
      }
    }
    out.index.push_back(best);
    out.distance.push_back(best_d);
  }
  return out;
}

}  // namespace

TEST_CASE_TEMPLATE("two-spiral: centres follow the two arms", S, float, double) {
  const Matrix<S> c = ds::two_spiral_centres<S>();
  REQUIRE(c.rows() == 2);
  REQUIRE(c.cols() == 100);
  const double pi = std::numbers::pi;
  // First and last angles are 120 and 480 degrees; arm B mirrors arm A.
  const double t0 = 120.0 * pi / 180.0;
  const double t1 = 480.0 * pi / 180.0;
  const double tol = std::is_same_v<S, float> ? 1e-5 : 1e-12;
  CHECK(std::abs(c(0, 0) - S(-std::cos(t0) * t0)) < tol);
  CHECK(std::abs(c(1, 0) - S(std::sin(t0) * t0)) < tol);
  CHECK(std::abs(c(0, 49) - S(-std::cos(t1) * t1)) < tol);
  CHECK(std::abs(c(1, 49) - S(std::sin(t1) * t1)) < tol);
  for (Index i = 0; i < 50; ++i) {
    CHECK(c(0, 50 + i) == -c(0, i));
    CHECK(c(1, 50 + i) == -c(1, i));
    // Radius of centre i is t_i itself.
    const double t = (120.0 + 360.0 * static_cast<double>(i) / 49.0) * pi / 180.0;
    CHECK(std::abs(static_cast<double>(c.col(i).norm()) - t) < 10 * tol);
  }
  CHECK(ds::two_spiral_stddev == 0.45);
}

TEST_CASE_TEMPLATE("two-spiral: size, mean and covariance match the mixture", S, float, double) {
  Rng rng(2016);
  const Matrix<S> xs = ds::two_spiral<S>(rng);
  REQUIRE(xs.rows() == 2);
  REQUIRE(xs.cols() == 10000);
  const Matrix<double> x = xs.template cast<double>();
  const double n = static_cast<double>(x.cols());

  // The mixture's moments: mean of the centres; covariance of the centres
  // (each weighted 1/100) plus the noise covariance 0.45^2 I.
  const Matrix<double> c = ds::two_spiral_centres<double>();
  const Eigen::Vector2d mu = c.rowwise().mean();
  const Matrix<double> cc = c.colwise() - mu;
  const Eigen::Matrix2d sigma = cc * cc.transpose() / 100.0 + ds::two_spiral_stddev *
                                                                  ds::two_spiral_stddev *
                                                                  Eigen::Matrix2d::Identity();

  // Sample mean: its standard error per coordinate is sqrt(sigma_ii / n);
  // allow five of them.
  const Eigen::Vector2d m = x.rowwise().mean();
  for (int i = 0; i < 2; ++i) {
    const double se = std::sqrt(sigma(i, i) / n);
    CHECK(std::abs(m(i) - mu(i)) < 5.0 * se);
  }

  // Sample covariance: entry (i, j) is the mean of the products
  // p = (x_i - m_i)(x_j - m_j), whose standard error is sd(p) / sqrt(n)
  // (plug-in sd from the sample itself); allow five of those, plus the O(1/n)
  // bias of centring on the sample mean.
  const Matrix<double> xc = x.colwise() - m;
  for (int i = 0; i < 2; ++i) {
    for (int j = 0; j < 2; ++j) {
      const Eigen::ArrayXd p = (xc.row(i).array() * xc.row(j).array()).transpose();
      const double cov = p.mean();
      const double sd_p = std::sqrt((p - cov).square().mean());
      const double tol = 5.0 * sd_p / std::sqrt(n) + std::abs(sigma(i, j)) / n;
      CAPTURE(i);
      CAPTURE(j);
      CAPTURE(cov);
      CAPTURE(sigma(i, j));
      CAPTURE(tol);
      CHECK(std::abs(cov - sigma(i, j)) < tol);
    }
  }
}

TEST_CASE_TEMPLATE("two-spiral: points lie near a centre and every centre is used", S, float,
                   double) {
  Rng rng(7);
  std::vector<Index> component;
  const Matrix<S> x = ds::two_spiral<S>(10000, rng, &component);
  const Matrix<double> c = ds::two_spiral_centres<double>();
  const Nearest near = nearest_centres(x, c);
  const double radius = 3.0 * ds::two_spiral_stddev;
  const auto inside = std::count_if(near.distance.begin(), near.distance.end(),
                                    [&](double d) { return d <= radius; });
  CHECK(static_cast<double>(inside) / 10000.0 > 0.99);

  // The reported components: all 100 appear, and each point lies within
  // 6 std of its own centre.
  REQUIRE(component.size() == 10000);
  CHECK(std::set<Index>(component.begin(), component.end()).size() == 100);
  for (Index j = 0; j < x.cols(); ++j) {
    const Eigen::Vector2d d =
        x.col(j).template cast<double>() - c.col(component[static_cast<std::size_t>(j)]);
    CHECK(d.norm() < 6.0 * ds::two_spiral_stddev);
  }
}

TEST_CASE("two-spiral: the log-density integrates to one") {
  // Riemann sum on a fine grid over a box holding all centres (radius at most
  // 480 degrees = 8.38) with more than 8 std of margin on every side. With a
  // step of 0.05 = std / 9 the sum of a Gaussian is accurate far below 1e-3.
  const double half = 12.5;
  const double h = 0.05;
  const Index m = static_cast<Index>(std::lround(2.0 * half / h)) + 1;
  double total = 0.0;
  Matrix<double> row(2, m);
  for (Index i = 0; i < m; ++i) {
    const double y = -half + h * static_cast<double>(i);
    for (Index j = 0; j < m; ++j) {
      row(0, j) = -half + h * static_cast<double>(j);
      row(1, j) = y;
    }
    total += ds::two_spiral_log_density(row).array().exp().sum() * h * h;
  }
  CHECK(std::abs(total - 1.0) < 1e-3);
}

TEST_CASE("two-spiral: log-density values") {
  // At a point far from everything the log-sum-exp keeps the value finite.
  Matrix<double> far(2, 1);
  far << 1000.0, -1000.0;
  const double lf = ds::two_spiral_log_density(far)(0);
  CHECK(std::isfinite(lf));
  CHECK(lf < -1e6);

  // At any point it equals the direct sum of the 100 Gaussian densities.
  Matrix<double> p(2, 3);
  p << 0.0, 3.0, -5.5, 0.0, -2.0, 1.25;
  const Matrix<double> c = ds::two_spiral_centres<double>();
  const double s2 = ds::two_spiral_stddev * ds::two_spiral_stddev;
  const auto lp = ds::two_spiral_log_density(p);
  for (Index j = 0; j < p.cols(); ++j) {
    double sum = 0.0;
    for (Index k = 0; k < 100; ++k) {
      sum += std::exp(-(p.col(j) - c.col(k)).squaredNorm() / (2.0 * s2)) /
             (2.0 * std::numbers::pi * s2);
    }
    CHECK(lp(j) == doctest::Approx(std::log(sum / 100.0)).epsilon(1e-12));
  }

  CHECK_THROWS_AS(ds::two_spiral_log_density(Matrix<double>::Zero(3, 4)), deepenergy::Error);
}

TEST_CASE_TEMPLATE("four-spin: radius statistics match |w| and the arms are balanced", S, float,
                   double) {
  Rng rng(42);
  std::vector<Index> arm;
  const Matrix<S> xs = ds::four_spin<S>(10000, rng, &arm);
  REQUIRE(xs.rows() == 2);
  REQUIRE(xs.cols() == 10000);
  const Matrix<double> x = xs.template cast<double>();

  // The rotation keeps |x| = |w| with w ~ N((1, 0), diag(0.22^2, 0.1^2)).
  // E|w| and sd|w| by quadrature over the density of w (8 std each way).
  const double s0 = ds::four_spin_stddev[0];
  const double s1 = ds::four_spin_stddev[1];
  const int steps = 800;
  const double h0 = 16.0 * s0 / steps;
  const double h1 = 16.0 * s1 / steps;
  double mass = 0.0, m1 = 0.0, m2 = 0.0;
  for (int a = 0; a <= steps; ++a) {
    const double w0 = 1.0 - 8.0 * s0 + h0 * a;
    for (int b = 0; b <= steps; ++b) {
      const double w1 = -8.0 * s1 + h1 * b;
      const double dens =
          std::exp(-0.5 * ((w0 - 1.0) * (w0 - 1.0) / (s0 * s0) + w1 * w1 / (s1 * s1))) /
          (2.0 * std::numbers::pi * s0 * s1);
      const double r = std::hypot(w0, w1);
      mass += dens * h0 * h1;
      m1 += dens * r * h0 * h1;
      m2 += dens * r * r * h0 * h1;
    }
  }
  REQUIRE(mass == doctest::Approx(1.0).epsilon(1e-6));
  const double mean_r = m1;
  const double sd_r = std::sqrt(m2 - m1 * m1);
  const Eigen::ArrayXd r = x.colwise().norm().transpose().array();
  const double n = 10000.0;
  CHECK(std::abs(r.mean() - mean_r) < 5.0 * sd_r / std::sqrt(n));
  const double sample_sd = std::sqrt((r - r.mean()).square().mean());
  CHECK(sample_sd == doctest::Approx(sd_r).epsilon(0.05));

  // Arms: each count is Binomial(n, 1/4), sd = sqrt(n 3/16) ~ 43; allow 6 sd.
  REQUIRE(arm.size() == 10000);
  std::vector<int> count(4, 0);
  for (const Index k : arm) {
    REQUIRE(k >= 0);
    REQUIRE(k < 4);
    ++count[static_cast<std::size_t>(k)];
  }
  for (const int cnt : count) CHECK(std::abs(cnt - 2500) < 260);

  // Four symmetric arms: the mean is near the origin.
  const Eigen::Vector2d m = x.rowwise().mean();
  CHECK(m.norm() < 0.05);

  // Points of arm k rotated back by 2 pi k / 4 look like arm 0: their mean
  // angle agrees across arms.
  std::vector<double> mean_angle(4, 0.0);
  for (Index j = 0; j < x.cols(); ++j) {
    const auto k = arm[static_cast<std::size_t>(j)];
    const double back = -std::numbers::pi / 2.0 * static_cast<double>(k);
    const double u = std::cos(back) * x(0, j) - std::sin(back) * x(1, j);
    const double v = std::sin(back) * x(0, j) + std::cos(back) * x(1, j);
    mean_angle[static_cast<std::size_t>(k)] +=
        std::atan2(v, u) / count[static_cast<std::size_t>(k)];
  }
  for (int k = 1; k < 4; ++k) CHECK(std::abs(mean_angle[k] - mean_angle[0]) < 0.1);
}

TEST_CASE_TEMPLATE("eight and twenty-five Gaussians cover every mode tightly", S, float, double) {
  struct Case {
    ds::Name name;
    Matrix<double> centres;
    double stddev;
  };
  const std::vector<Case> cases{
      {ds::Name::eight_gaussians, ds::eight_gaussians_centres<double>(),
       ds::eight_gaussians_stddev},
      {ds::Name::twenty_five_gaussians, ds::twenty_five_gaussians_centres<double>(),
       ds::twenty_five_gaussians_stddev},
  };
  for (const Case& cs : cases) {
    CAPTURE(ds::to_string(cs.name));
    Rng rng(99);
    const Matrix<S> x = ds::make<S>(cs.name, 10000, rng);
    REQUIRE(x.rows() == 2);
    REQUIRE(x.cols() == 10000);
    const Nearest near = nearest_centres(x, cs.centres);
    const double worst = *std::max_element(near.distance.begin(), near.distance.end());
    CHECK(worst < 5.0 * cs.stddev);
    CHECK(std::set<Index>(near.index.begin(), near.index.end()).size() ==
          static_cast<std::size_t>(cs.centres.cols()));
  }
  // The centres themselves.
  const Matrix<double> e = ds::eight_gaussians_centres<double>();
  REQUIRE(e.cols() == 8);
  for (Index k = 0; k < 8; ++k) CHECK(e.col(k).norm() == doctest::Approx(2.0));
  CHECK(e(0, 0) == doctest::Approx(2.0));
  CHECK(e(1, 2) == doctest::Approx(2.0));
  const Matrix<double> t = ds::twenty_five_gaussians_centres<double>();
  REQUIRE(t.cols() == 25);
  std::set<std::pair<double, double>> grid;
  for (Index k = 0; k < 25; ++k) grid.insert({t(0, k), t(1, k)});
  CHECK(grid.size() == 25);
  for (const auto& [a, b] : grid) {
    CHECK(std::abs(a) <= 4.0);
    CHECK(std::abs(b) <= 4.0);
    CHECK(std::fmod(a + 4.0, 2.0) == 0.0);
    CHECK(std::fmod(b + 4.0, 2.0) == 0.0);
  }
}

TEST_CASE_TEMPLATE("same seed gives identical data, another seed different data", S, float,
                   double) {
  for (const auto& inf : ds::all_datasets) {
    CAPTURE(inf.id);
    Rng a(5), b(5), c(6);
    const Matrix<S> xa = ds::make<S>(inf.name, 500, a);
    const Matrix<S> xb = ds::make<S>(inf.name, 500, b);
    const Matrix<S> xc = ds::make<S>(inf.name, 500, c);
    CHECK(xa == xb);
    CHECK(xa != xc);
    CHECK(a == b);
  }
  // The seed overloads are a fresh Rng(seed).
  Rng r(11);
  CHECK(ds::two_spiral<S>(300, std::uint64_t{11}) == ds::two_spiral<S>(300, r));
  r.reseed(11);
  CHECK(ds::four_spin<S>(300, std::uint64_t{11}) == ds::four_spin<S>(300, r));
  r.reseed(11);
  CHECK(ds::eight_gaussians<S>(300, std::uint64_t{11}) == ds::eight_gaussians<S>(300, r));
  r.reseed(11);
  CHECK(ds::twenty_five_gaussians<S>(300, std::uint64_t{11}) ==
        ds::twenty_five_gaussians<S>(300, r));
}

TEST_CASE("float data are the double data rounded") {
  for (const auto& inf : ds::all_datasets) {
    CAPTURE(inf.id);
    Rng a(3), b(3);
    const Matrix<float> xf = ds::make<float>(inf.name, 200, a);
    const Matrix<double> xd = ds::make<double>(inf.name, 200, b);
    CHECK(xf == xd.cast<float>());
  }
}

TEST_CASE("a negative size is rejected and zero points are fine") {
  Rng rng(1);
  CHECK_THROWS_AS(ds::two_spiral<float>(-1, rng), deepenergy::Error);
  CHECK_THROWS_AS(ds::four_spin<double>(-5, rng), deepenergy::Error);
  CHECK(ds::eight_gaussians<float>(0, rng).cols() == 0);
  CHECK(ds::eight_gaussians<float>(0, rng).rows() == 2);
}

TEST_CASE("data sets by name") {
  CHECK(ds::parse_name("two-spiral") == ds::Name::two_spiral);
  CHECK(ds::parse_name("two_spiral") == ds::Name::two_spiral);
  CHECK(ds::parse_name("four-spin") == ds::Name::four_spin);
  CHECK(ds::parse_name("eight-gaussians") == ds::Name::eight_gaussians);
  CHECK(ds::parse_name("twenty_five_gaussians") == ds::Name::twenty_five_gaussians);
  for (const auto& inf : ds::all_datasets) {
    CHECK(ds::parse_name(std::string(inf.id)) == inf.name);
    CHECK(ds::to_string(inf.name) == inf.id);
    CHECK(ds::info(inf.name).half_width > 0.0);
    Rng rng(0);
    const auto x = ds::make(inf.name, 1000, rng);
    CHECK(x.rows() == 2);
    CHECK(x.cols() == 1000);
    // The plotting box holds the points.
    CHECK(x.cwiseAbs().maxCoeff() < inf.half_width);
  }

  std::string message;
  try {
    ds::parse_name("three-spiral");
  } catch (const deepenergy::Error& e) {
    message = e.what();
  }
  CHECK(message.find("three-spiral") != std::string::npos);
  for (const char* valid :
       {"two-spiral", "four-spin", "eight-gaussians", "twenty-five-gaussians"}) {
    CAPTURE(valid);
    CHECK(message.find(valid) != std::string::npos);
  }
}
