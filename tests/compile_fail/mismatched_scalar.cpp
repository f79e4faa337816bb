// Compile-fail test: float and double layers in one Sequential.
// As is, this compiles. With -DDEEPENERGY_FAIL the second layer is double
// while the first is float, and the first error must name the mismatch.
#include <deepenergy/layers.hpp>

#ifdef DEEPENERGY_FAIL
using Second = double;
#else
using Second = float;
#endif

int main() {
  deepenergy::Sequential<deepenergy::Dense<float>, deepenergy::ReLU<Second>> net(
      deepenergy::Dense<float>(2, 3), deepenergy::ReLU<Second>());
  const deepenergy::Matrix<float> x = deepenergy::Matrix<float>::Zero(2, 5);
  return net.forward(x).rows() == 3 ? 0 : 1;
}
