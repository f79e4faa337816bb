// Langevin sampling from exp(-E) (sampling.hpp).
#include <doctest/doctest.h>

#include <cmath>
#include <deepenergy/deepenergy.hpp>
#include <limits>
#include <string>

#include "helpers.hpp"

using namespace deepenergy;
using deepenergy::test::message_of;

namespace {

// E(x) = |x - m|^2 / (2 s^2) for every column. Unadjusted Langevin with step
// eps keeps N(m, v I) stationary, v = s^2 / (1 - eps^2 / (4 s^2)): the
// O(eps^2) bias of the missing Metropolis correction, exact for this energy.
struct GaussianWell {
  Vector<double> m;
  double s = 1.0;
  const Matrix<double>* x = nullptr;
  RowVector<double> e;
  Matrix<double> g;
  int evaluations = 0;

  const RowVector<double>& energy(const Matrix<double>& in) {
    x = &in;
    ++evaluations;
    e = (in.colwise() - m).colwise().squaredNorm() / (2 * s * s);
    return e;
  }
  const Matrix<double>& input_gradient(const RowVector<double>& w) {
    g = ((x->colwise() - m) / (s * s)) * w.asDiagonal();
    return g;
  }
};

GaussianWell well() {
  GaussianWell w;
  w.m = Vector<double>(2);
  w.m << 1.0, -2.0;
  w.s = 0.5;
  return w;
}

}  // namespace

TEST_CASE("langevin_sample reaches the stationary law of a Gaussian well") {
  GaussianWell w = well();
  const Index n = 4000;
  Matrix<double> x = Matrix<double>::Constant(2, n, 5.0);  // far from the well
  LangevinOptions o;
  o.steps = 300;  // contraction 1 - eps^2/(2 s^2) = 0.875 per step: 0.875^300 ~ 4e-18
  o.step_size = 0.25;
  Rng rng(3);
  langevin_sample(w, x, o, rng);
  const double v = w.s * w.s / (1.0 - o.step_size * o.step_size / (4 * w.s * w.s));
  const Vector<double> mean = x.rowwise().mean();
  const Vector<double> var = (x.colwise() - mean).array().square().rowwise().mean();
  // Standard errors: sqrt(v / n) = 0.008 for the mean, v sqrt(2 / n) = 0.006
  // for the variance; the tolerances are 5 of them.
  for (Index i = 0; i < 2; ++i) {
    CHECK(std::abs(mean(i) - w.m(i)) < 0.04);
    CHECK(std::abs(var(i) - v) < 0.03);
  }
  // The two coordinates are independent under the stationary law.
  const double cov = ((x.row(0).array() - mean(0)) * (x.row(1).array() - mean(1))).mean();
  CHECK(std::abs(cov) < 0.03);
}

TEST_CASE("langevin_sample with every step quenched descends to the minimum") {
  GaussianWell w = well();
  Matrix<double> start(2, 5);
  start << 5, -3, 0, 2, 1, 4, 0, -7, 1, 9;
  LangevinOptions o;
  o.steps = 200;
  o.quench_steps = 200;  // no noise at all: gradient descent with step eps^2/2
  o.step_size = 0.25;
  Matrix<double> a = start;
  Rng rng(1);
  langevin_sample(w, a, o, rng);
  CHECK(((a.colwise() - w.m).cwiseAbs().maxCoeff()) < 1e-9);
  // Without noise the block size changes nothing: blocks of 2 columns (the
  // last one short) give the same result, in three times as many evaluations.
  o.block = 2;
  Matrix<double> b = start;
  const int before = w.evaluations;
  langevin_sample(w, b, o, rng);
  CHECK(w.evaluations - before == 3 * 200);
  CHECK((a - b).cwiseAbs().maxCoeff() < 1e-12);
}

TEST_CASE("langevin_sample keeps noise up to the quenched tail") {
  // 100 steps of which the last 20 are quenched: the samples end closer to the
  // minimum than the stationary spread (0.875^20 ~ 0.07 of it), but not on it.
  GaussianWell w = well();
  Matrix<double> x = Matrix<double>::Constant(2, 2000, 0.0);
  LangevinOptions o;
  o.steps = 100;
  o.quench_steps = 20;
  o.step_size = 0.25;
  Rng rng(2);
  langevin_sample(w, x, o, rng);
  const double spread = std::sqrt((x.colwise() - w.m).array().square().mean());
  CHECK(spread > 1e-3);
  CHECK(spread < 0.1 * w.s);
}

TEST_CASE("langevin_sample runs the paper's energy and is reproducible from the seed") {
  paper::Config c;
  c.hidden = 9;
  auto e = paper::make_energy<float>(c);
  Rng init(5);
  e.initialize(init);
  Matrix<float> start(2, 7);
  Rng data(6);
  for (Index k = 0; k < start.size(); ++k) start(k) = float(data.normal());
  LangevinOptions o;
  o.steps = 25;
  o.step_size = 0.05;
  o.block = 4;
  Matrix<float> a = start, b = start;
  Rng r1(9), r2(9);
  langevin_sample(e, a, o, r1);
  langevin_sample(e, b, o, r2);
  CHECK(a.rows() == 2);
  CHECK(a.cols() == 7);
  CHECK(a.allFinite());
  CHECK(a == b);
  CHECK((a - start).norm() > 0.0f);
  // Zero steps leave the samples as they are.
  o.steps = 0;
  Matrix<float> same = start;
  langevin_sample(e, same, o, r1);
  CHECK(same == start);
}

TEST_CASE("langevin_sample rejects bad options and reports divergence") {
  GaussianWell w = well();
  Matrix<double> x = Matrix<double>::Zero(2, 3);
  Rng rng(1);
  const auto run = [&](LangevinOptions o) {
    return message_of([&] { langevin_sample(w, x, o, rng); });
  };
  LangevinOptions o;
  o.steps = -1;
  CHECK(run(o) == "deepenergy::langevin_sample: steps = -1; expected >= 0");
  o = {};
  o.step_size = 0.0;
  CHECK(run(o).find("deepenergy::langevin_sample: step_size = 0") == 0);
  o.step_size = std::numeric_limits<double>::quiet_NaN();
  CHECK(run(o).find("deepenergy::langevin_sample: step_size = nan") == 0);
  o = {};
  o.quench_steps = o.steps + 1;
  CHECK(run(o) == "deepenergy::langevin_sample: quench_steps = 101; expected 0 to steps (100)");
  o.quench_steps = -1;
  CHECK(run(o) == "deepenergy::langevin_sample: quench_steps = -1; expected 0 to steps (100)");
  o = {};
  o.block = 0;
  CHECK(run(o).find("deepenergy::langevin_sample: block = 0") == 0);
  o.block = -3;
  CHECK(run(o).find("deepenergy::langevin_sample: block = -3") == 0);
  // A non-finite input is named by its column, even with no steps to take.
  o = {};
  o.steps = 0;
  x(1, 2) = std::numeric_limits<double>::quiet_NaN();
  CHECK(run(o) ==
        "deepenergy::langevin_sample: x has a non-finite value in column 2 (before any "
        "step)");
  // A step of 3 s overshoots the well (contraction factor -3.5): a sample off
  // the minimum blows up to inf and then NaN, and the function says so
  // instead of returning it. Without noise the first column, at the minimum,
  // stays there and its block finishes first; x is still left as it was.
  o = {};
  o.steps = 1000;
  o.quench_steps = 1000;
  o.step_size = 3 * w.s;
  o.block = 1;
  x.setConstant(0.5);
  x.col(0) = w.m;
  const Matrix<double> before = x;
  const std::string m = run(o);
  CHECK(m.find("deepenergy::langevin_sample: a sample became non-finite") == 0);
  CHECK(m.find("use a smaller step_size") != std::string::npos);
  CHECK(x == before);
}
