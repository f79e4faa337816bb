// Langevin sampling from exp(-E) (sampling.hpp).
#include <doctest/doctest.h>

#include <algorithm>
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

// helpers.hpp's double well with the interface langevin_sample needs.
struct DoubleWell : deepenergy::test::DoubleWellShape {
  const Matrix<double>* x = nullptr;
  RowVector<double> e;
  Matrix<double> g;

  const RowVector<double>& energy(const Matrix<double>& in) {
    x = &in;
    e.resize(in.cols());
    for (Index j = 0; j < in.cols(); ++j) e(j) = energy_of(in(0, j), in(1, j));
    return e;
  }
  const Matrix<double>& input_gradient(const RowVector<double>& w) {
    g.resize(2, x->cols());
    for (Index j = 0; j < x->cols(); ++j) {
      const double x0 = (*x)(0, j);
      g(0, j) = w(j) * slope_of(x0);
      g(1, j) = w(j) * (*x)(1, j);
    }
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

TEST_CASE("langevin_sample's jumps move samples between wells to exp(-E)'s shares") {
  // Half the samples start in each well. Steps of 0.05 do not cross the
  // 6-nat barrier in 200 steps, so without jumps the deep well keeps its
  // half; with a round of jumps every 2 steps its share must reach exp(-E)'s.
  const double expected = DoubleWell::deep_share();  // 0.723
  const Index n = 4002;                              // blocks of 256 and a last one of 162
  const auto deep_share = [&](Index jump_every) {
    Rng rng(5);
    Matrix<double> x(2, n);
    for (Index j = 0; j < n; ++j) x.col(j) << (j % 2 == 0 ? 1.0 : -1.0), rng.normal();
    DoubleWell w;
    LangevinOptions o;
    o.steps = 200;
    o.step_size = 0.05;
    o.jump_every = jump_every;
    langevin_sample(w, x, o, rng);
    CHECK(x.allFinite());
    return (x.row(0).array() < 0.0).cast<double>().mean();
  };
  const double without = deep_share(0), with = deep_share(2);
  MESSAGE("share of the samples in the deep well: " << without << " without jumps, " << with
                                                    << " with jumps, exp(-E) " << expected);
  CHECK(std::abs(without - 0.5) < 0.03);
  CHECK(std::abs(with - expected) < 0.03);
}

TEST_CASE("langevin_sample's jumps come after every jump_every steps, block by block") {
  // The same chains built by hand: blocks of 16, 16 and 8 columns; 7 steps
  // with a round of jumps (from freshly computed energies) before the
  // 0-based steps 3 and 6.
  DoubleWell w;
  Rng start_rng(4);
  Matrix<double> x(2, 40);
  for (Index j = 0; j < x.cols(); ++j) x.col(j) << (j % 2 == 0 ? 1.0 : -1.0), start_rng.normal();
  LangevinOptions o;
  o.steps = 7;
  o.step_size = 0.3;  // large, so that the jumps' proposals get accepted and rejected
  o.jump_every = 3;
  o.block = 16;
  Rng rng(8), by_hand(8);
  Matrix<double> sampled = x;
  langevin_sample(w, sampled, o, rng);

  const auto energies = [&](const Matrix<double>& at, RowVector<double>& e) { e = w.energy(at); };
  Matrix<double> expected = x, proposal;
  RowVector<double> e, proposal_e;
  Index moved = 0;
  for (Index first = 0; first < x.cols(); first += o.block) {
    const Index m = std::min(o.block, x.cols() - first);
    Matrix<double> block = x.middleCols(first, m);
    for (Index t = 0; t < o.steps; ++t) {
      if (t == 3 || t == 6) {
        energies(block, e);
        const Matrix<double> before = block;
        differential_evolution_jumps(block, e, 1, by_hand, energies, proposal, proposal_e);
        moved += (block.array() != before.array()).colwise().any().count();
      }
      w.energy(block);
      block -= 0.5 * o.step_size * o.step_size * w.input_gradient(RowVector<double>::Ones(m));
      for (Index k = 0; k < block.size(); ++k) block(k) += o.step_size * by_hand.normal();
    }
    expected.middleCols(first, m) = block;
  }
  CHECK(moved > 0);
  CHECK(sampled == expected);
  CHECK(rng == by_hand);
}

TEST_CASE("differential_evolution_jumps keeps E up to date and leaves small sets alone") {
  DoubleWell w;
  const auto energies = [&](const Matrix<double>& at, RowVector<double>& e) { e = w.energy(at); };
  Matrix<double> proposal;
  RowVector<double> proposal_e;
  Rng rng(9);
  Matrix<double> x(2, 9);
  for (Index j = 0; j < x.cols(); ++j) x.col(j) << (j % 3 == 0 ? 1.0 : -1.0), rng.normal();
  const Matrix<double> start = x;
  RowVector<double> e = w.energy(x);
  differential_evolution_jumps(x, e, 20, rng, energies, proposal, proposal_e);
  CHECK(x != start);  // 20 rounds of 9 columns: some move
  CHECK((e - w.energy(x)).cwiseAbs().maxCoeff() == 0.0);
  // The middle column of an odd set only serves as a reference.
  CHECK(x.col(4) == start.col(4));
  // Fewer than 4 columns, or no rounds: nothing moves and nothing is drawn.
  Matrix<double> three = start.leftCols(3);
  RowVector<double> e3 = w.energy(three);
  const Rng before = rng;
  differential_evolution_jumps(three, e3, 5, rng, energies, proposal, proposal_e);
  differential_evolution_jumps(x, e, 0, rng, energies, proposal, proposal_e);
  CHECK(three == start.leftCols(3));
  CHECK(rng == before);
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
  o.jump_every = -1;
  CHECK(run(o) ==
        "deepenergy::langevin_sample: jump_every = -1; expected 0 (off) or a positive number of "
        "steps");
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
