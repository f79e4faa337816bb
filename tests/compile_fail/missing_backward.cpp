// Compile-fail test: a Layer without backward.
// As is, this compiles. With -DDEEPENERGY_FAIL the layer loses
// backward(grad_out), and the first error must say so.
#include <deepenergy/layers.hpp>

namespace {

using deepenergy::Matrix;

// A parameter-free layer: y = 2 x.
struct Double {
  using Scalar = float;
  const Matrix<float>& forward(const Matrix<float>& x) {
    y_ = 2.0f * x;
    return y_;
  }
#ifndef DEEPENERGY_FAIL
  const Matrix<float>& backward(const Matrix<float>& g) {
    dx_ = 2.0f * g;
    return dx_;
  }
#endif
  Matrix<float> y_, dx_;
};

}  // namespace

int main() {
  deepenergy::Sequential<deepenergy::Dense<float>, Double> net(deepenergy::Dense<float>(2, 3),
                                                               Double{});
  const Matrix<float> x = Matrix<float>::Zero(2, 5);
  return net.forward(x).rows() == 3 ? 0 : 1;
}
