// Small helpers shared by the test files.
#pragma once

#include <cmath>
#include <cstdint>
#include <deepenergy/rng.hpp>
#include <deepenergy/types.hpp>
#include <string>

namespace deepenergy::test {

/// rows x cols of independent N(0, scale^2) values from a fixed seed.
inline Matrix<double> random_batch(Index rows, Index cols, std::uint64_t seed, double scale = 1.0) {
  Rng rng(seed);
  Matrix<double> x(rows, cols);
  for (Index k = 0; k < x.size(); ++k) x(k) = scale * rng.normal();
  return x;
}

/// The message of the deepenergy::Error that call() throws, or
/// "(no Error thrown)".
inline std::string message_of(auto&& call) {
  try {
    call();
  } catch (const Error& e) {
    return e.what();
  }
  return "(no Error thrown)";
}

/// A fixed double well along x0 for the mode-jumping tests:
/// E(x) = a (x0^2 - 1)^2 + t x0 + x1^2 / 2, the well at x0 = -1 about 2t
/// nats deeper, the barrier between the wells about a nats.
struct DoubleWellShape {
  static constexpr double a = 6.0, t = 0.5;
  static double energy_of(double x0, double x1) {
    return a * (x0 * x0 - 1.0) * (x0 * x0 - 1.0) + t * x0 + 0.5 * x1 * x1;
  }
  /// dE/dx0.
  static double slope_of(double x0) { return 4.0 * a * x0 * (x0 * x0 - 1.0) + t; }
  /// The deep well's (x0 < 0) share of exp(-E), by quadrature along x0: 0.723.
  static double deep_share() {
    double deep = 0.0, all = 0.0;
    for (double x0 = -3.0; x0 < 3.0; x0 += 1e-4) {
      const double p = std::exp(-energy_of(x0, 0.0));
      all += p;
      if (x0 < 0.0) deep += p;
    }
    return deep / all;
  }
};

}  // namespace deepenergy::test
