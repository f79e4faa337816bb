// Small helpers shared by the test files.
#pragma once

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

}  // namespace deepenergy::test
