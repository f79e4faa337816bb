// Compile-fail test: the gradient checker on a float layer.
// As is, this compiles (a double Dense). With -DDEEPENERGY_FAIL the layer is
// float, and the first error must say that check_gradients runs in double
// (before this check the compiler said only "no matching function").
#include <deepenergy/gradient_check.hpp>
#include <deepenergy/layers.hpp>

#ifdef DEEPENERGY_FAIL
using S = float;
#else
using S = double;
#endif

int main() {
  deepenergy::Dense<S> dense(2, 3);
  const auto r =
      deepenergy::testing::check_gradients(dense, deepenergy::Matrix<double>::Ones(2, 4));
  return r.checked > 0 ? 0 : 1;
}
