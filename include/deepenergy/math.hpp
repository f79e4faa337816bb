// Numerically stable scalar functions used by layers, experts and estimators.
#pragma once

#include <cmath>

namespace deepenergy::math {

/// softplus(a) = log(1 + e^a), exact for large |a| in both directions.
template <class S>
S softplus(S a) {
  return (a > S(0) ? a : S(0)) + std::log1p(std::exp(-std::abs(a)));
}

/// sigmoid(a) = 1 / (1 + e^-a), never computing e^(large).
template <class S>
S sigmoid(S a) {
  if (a >= S(0)) return S(1) / (S(1) + std::exp(-a));
  const S e = std::exp(a);
  return e / (S(1) + e);
}

/// psi(n), the digamma function, at a positive integer n:
/// -gamma + sum_{j=1}^{n-1} 1/j (the k-nearest-neighbour entropy estimates).
inline double digamma_int(long long n) {
  double s = -0.57721566490153286061;
  for (long long j = 1; j < n; ++j) s += 1.0 / static_cast<double>(j);
  return s;
}

}  // namespace deepenergy::math
