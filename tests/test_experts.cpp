// Experts and base terms: values against hand computation, gradient checks.
#include <doctest/doctest.h>

#include <cmath>
#include <deepenergy/deepenergy.hpp>
#include <limits>
#include <vector>

#include "helpers.hpp"

using namespace deepenergy;
using deepenergy::test::random_batch;

namespace {

template <class E>
double worst_error(E& expert, Index in, const char* name) {
  auto r = testing::check_gradients(expert, random_batch(in, 6, 9));
  MESSAGE(std::string(name) << ": worst relative error " << r.max_relative_error << " at "
                            << r.worst << " (" << r.checked << " entries)");
  CHECK(r.checked > 0);
  return r.max_relative_error;
}

}  // namespace

TEST_CASE_TEMPLATE("SoftplusExperts energy is -sum softplus(W h + b)", S, float, double) {
  SoftplusExperts<S> ex(2, 3);
  ex.weight().value << 1, 0, 0, 1, 1, -1;
  ex.bias().value << S(0), S(1), S(-2);
  Matrix<S> h(2, 1);
  h << S(0.5), S(-1);
  RowVector<S> e = RowVector<S>::Zero(1);
  ex.forward(h, e);
  const double a0 = 0.5, a1 = -1 + 1, a2 = 0.5 + 1 - 2;
  const double want =
      -(std::log1p(std::exp(a0)) + std::log1p(std::exp(a1)) + std::log1p(std::exp(a2)));
  CHECK(double(e(0)) == doctest::Approx(want).epsilon(1e-6));
}

TEST_CASE_TEMPLATE("SoftplusExperts is finite for huge pre-activations", S, float, double) {
  SoftplusExperts<S> ex(1, 2);
  ex.weight().value << S(1), S(-1);
  Matrix<S> h(1, 2);
  h << S(1e4), S(-1e4);
  RowVector<S> e = RowVector<S>::Zero(2);
  ex.forward(h, e);
  CHECK(e.allFinite());
  CHECK(double(e(0)) == doctest::Approx(-1e4));
  Matrix<S> g = Matrix<S>::Zero(1, 2);
  RowVector<S> w = RowVector<S>::Ones(2);
  ex.backward(w, g);
  CHECK(g.allFinite());
  CHECK(double(g(0, 0)) == doctest::Approx(-1.0));  // -sigmoid(1e4) * 1 + sigmoid(-1e4) * -1 * -1
}

// The forward keeps sigmoid(a) for backward, computed without a sign
// function (experts.hpp); this pins it where that is delicate: a = 0, both
// signs of tiny, subnormal and large values.
TEST_CASE_TEMPLATE("SoftplusExperts backward is -sigmoid(a) at the edge pre-activations", S, float,
                   double) {
  const S tiny = std::numeric_limits<S>::min();
  const S denorm = std::numeric_limits<S>::denorm_min();
  const std::vector<S> as = {S(0),    S(-0.0),  denorm, -denorm, tiny,  -tiny,  S(1e-35), S(-1e-35),
                             S(1e-7), S(-1e-7), S(0.5), S(-0.5), S(30), S(-30), S(80),    S(-80)};
  const Index n = Index(as.size());
  SoftplusExperts<S> ex(1, 1);  // a = 1 * h + 0
  ex.weight().value(0, 0) = S(1);
  Matrix<S> h(1, n);
  for (Index j = 0; j < n; ++j) h(0, j) = as[std::size_t(j)];
  RowVector<S> e = RowVector<S>::Zero(n);
  ex.forward(h, e);
  Matrix<S> g = Matrix<S>::Zero(1, n);
  ex.backward(RowVector<S>::Ones(n), g);  // dE/dh = -sigmoid(a) * w, w = 1
  for (Index j = 0; j < n; ++j) {
    const double a = double(as[std::size_t(j)]);
    CAPTURE(a);
    // Relative (scale 0): at a = -80 the value is ~1e-35.
    CHECK(double(g(0, j)) == doctest::Approx(-math::sigmoid(a)).epsilon(1e-5).scale(0));
    if (std::abs(a) < 1e-20) CHECK(double(g(0, j)) == -0.5);  // e = 1 exactly
  }
}

TEST_CASE("gradient check: SoftplusExperts") {
  Rng rng(4);
  SoftplusExperts<double> ex(5, 7);
  ex.initialize(rng);
  ex.bias().value.setRandom();
  CHECK(worst_error(ex, 5, "SoftplusExperts") < 1e-6);
}

TEST_CASE("gradient check: QuadraticBase with fixed and learned sigma") {
  QuadraticBase<double> fixed(3, 1.7);
  CHECK(worst_error(fixed, 3, "QuadraticBase(fixed sigma)") < 1e-6);
  QuadraticBase<double> learned(3, 0.8, true);
  CHECK(worst_error(learned, 3, "QuadraticBase(learned sigma)") < 1e-6);
  int n = 0;
  fixed.for_each_parameter([&](auto&) { ++n; });
  CHECK(n == 0);
  learned.for_each_parameter([&](auto&) { ++n; });
  CHECK(n == 1);
}

TEST_CASE("QuadraticBase value and argument checks") {
  QuadraticBase<double> q(2, 2.0);
  Matrix<double> x(2, 1);
  x << 3, 4;
  RowVector<double> e = RowVector<double>::Zero(1);
  q.forward(x, e);
  CHECK(e(0) == doctest::Approx(25.0 / 8.0));
  CHECK_THROWS_WITH_AS(QuadraticBase<double>(2, -1.0), doctest::Contains("sigma"), Error);
  CHECK_THROWS_WITH_AS(QuadraticBase<double>(2, std::nan("")), doctest::Contains("sigma"), Error);
}

TEST_CASE("gradient check: LinearBase") {
  LinearBase<double> lin(4);
  lin.bias().value << 0.3, -1, 2, 0.5;
  CHECK(worst_error(lin, 4, "LinearBase") < 1e-6);
}
