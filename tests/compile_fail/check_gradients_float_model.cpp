// Compile-fail test: the gradient checker on a float energy model.
// As is, this compiles (the paper's energy in double). With -DDEEPENERGY_FAIL
// the model is float, and the first error must say that check_gradients runs
// in double (a float model used to be accepted by the overload and then fail
// deep inside Eigen, which does not mix scalar types).
#include <deepenergy/gradient_check.hpp>
#include <deepenergy/paper.hpp>

#ifdef DEEPENERGY_FAIL
using S = float;
#else
using S = double;
#endif

int main() {
  auto energy = deepenergy::paper::make_energy<S>(deepenergy::paper::Config{});
  const auto r =
      deepenergy::testing::check_gradients(energy, deepenergy::Matrix<double>::Ones(2, 4));
  return r.checked > 0 ? 0 : 1;
}
