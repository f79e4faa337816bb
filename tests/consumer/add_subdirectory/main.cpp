// A tiny program that uses deepenergy through add_subdirectory (consumer test).
// Exits 0 on success.
#include <deepenergy/deepenergy.hpp>

#include <cstdio>

int main() {
  deepenergy::Rng rng(7);
  deepenergy::Matrix<float> m(3, 4);
  for (deepenergy::Index j = 0; j < m.cols(); ++j)
    for (deepenergy::Index i = 0; i < m.rows(); ++i) m(i, j) = static_cast<float>(rng.uniform());

  const deepenergy::Matrix<float> gram = m.transpose() * m;
  deepenergy::Rng same(7);
  const bool ok = gram.rows() == 4 && gram.cols() == 4 && m.minCoeff() >= 0.0f &&
                  m.maxCoeff() < 1.0f && static_cast<float>(same.uniform()) == m(0, 0);
  std::printf("deepenergy consumer: %s\n", ok ? "ok" : "FAILED");
  return ok ? 0 : 1;
}
