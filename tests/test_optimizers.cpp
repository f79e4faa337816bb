// Optimisers against values computed by hand.
#include <doctest/doctest.h>

#include <cmath>
#include <deepenergy/deepenergy.hpp>

using namespace deepenergy;

namespace {
template <class S>
Parameter<S> scalar_param(double v) {
  Parameter<S> p("p", 1, 1);
  p.value(0, 0) = S(v);
  return p;
}
}  // namespace

TEST_CASE_TEMPLATE("AdaGrad matches hand-computed steps", S, float, double) {
  AdaGrad opt{0.1, 1e-8};
  auto p = scalar_param<S>(1.0);
  // g = 2, then 1, then -3: G = 4, 5, 14.
  const double grads[] = {2.0, 1.0, -3.0};
  double v = 1.0, G = 0.0;
  for (double g : grads) {
    p.grad(0, 0) = S(g);
    opt.update(p);
    G += g * g;
    v -= 0.1 * g / (std::sqrt(G) + 1e-8);
    CHECK(double(p.value(0, 0)) == doctest::Approx(v).epsilon(1e-6));
  }
  CHECK(double(p.value(0, 0)) ==
        doctest::Approx(1.0 - 0.1 - 0.1 / std::sqrt(5.0) + 0.3 / std::sqrt(14.0)).epsilon(1e-6));
  CHECK(p.updates == 3);
  CHECK(double(p.slot[0](0, 0)) == doctest::Approx(14.0));
}

TEST_CASE_TEMPLATE("SGD with momentum matches hand-computed steps", S, float, double) {
  SGD opt{0.5, 0.9};
  auto p = scalar_param<S>(0.0);
  p.grad(0, 0) = S(1);
  opt.update(p);  // v = 1, x = -0.5
  CHECK(double(p.value(0, 0)) == doctest::Approx(-0.5));
  opt.update(p);  // v = 1.9, x = -0.5 - 0.95
  CHECK(double(p.value(0, 0)) == doctest::Approx(-1.45));
  SGD plain{0.5};
  auto q = scalar_param<S>(0.0);
  q.grad(0, 0) = S(2);
  plain.update(q);
  plain.update(q);
  CHECK(double(q.value(0, 0)) == doctest::Approx(-2.0));
}

TEST_CASE_TEMPLATE("Adam matches hand-computed steps", S, float, double) {
  Adam opt{0.1, 0.9, 0.999, 1e-8};
  auto p = scalar_param<S>(0.0);
  // Step 1 with bias correction moves by exactly lr * sign(g).
  p.grad(0, 0) = S(3);
  opt.update(p);
  CHECK(double(p.value(0, 0)) == doctest::Approx(-0.1).epsilon(1e-5));
  // Step 2: m = 0.09*3... compute directly.
  p.grad(0, 0) = S(-1);
  opt.update(p);
  const double m = 0.9 * 0.3 + 0.1 * -1, v = 0.999 * 0.009 + 0.001 * 1;
  const double mh = m / (1 - 0.81), vh = v / (1 - 0.999 * 0.999);
  CHECK(double(p.value(0, 0)) ==
        doctest::Approx(-0.1 - 0.1 * mh / (std::sqrt(vh) + 1e-8)).epsilon(1e-5));
}

TEST_CASE("optimiser state is copied with its parameter") {
  AdaGrad opt;
  auto p = scalar_param<double>(1.0);
  p.grad(0, 0) = 2.0;
  opt.update(p);
  Parameter<double> q = p;  // copy carries the accumulated G
  p.grad(0, 0) = q.grad(0, 0) = 1.0;
  opt.update(p);
  opt.update(q);
  CHECK(p.value(0, 0) == q.value(0, 0));
}
