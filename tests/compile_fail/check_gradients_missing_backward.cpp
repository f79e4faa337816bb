// Compile-fail test: the gradient checker on a layer without backward.
// As is, this compiles. With -DDEEPENERGY_FAIL the layer loses
// backward(grad_out), and the first error must name it (before this check
// the compiler said only "no matching function for call to check_gradients").
#include <deepenergy/gradient_check.hpp>

namespace {

using deepenergy::Matrix;

// A parameter-free layer: y = 2 x.
struct Double {
  using Scalar = double;
  const Matrix<double>& forward(const Matrix<double>& x) {
    y_ = 2.0 * x;
    return y_;
  }
#ifndef DEEPENERGY_FAIL
  const Matrix<double>& backward(const Matrix<double>& g) {
    dx_ = 2.0 * g;
    return dx_;
  }
#endif
  Matrix<double> y_, dx_;
};

}  // namespace

int main() {
  Double layer;
  const auto r = deepenergy::testing::check_gradients(layer, Matrix<double>::Ones(2, 4));
  return r.max_relative_error < 1e-6 ? 0 : 1;
}
