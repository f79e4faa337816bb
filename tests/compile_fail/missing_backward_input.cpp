// Compile-fail test: a Layer with parameters but no backward_input.
// As is, this compiles. With -DDEEPENERGY_FAIL the layer loses
// backward_input(grad_out), which a layer with parameters must have, and the
// first error must say so.
#include <deepenergy/layers.hpp>

namespace {

using deepenergy::Matrix;
using deepenergy::Parameter;

// y = a * x with one learned scale a.
struct Scale {
  using Scalar = float;
  Parameter<float> a{"Scale.a", 1, 1};
  const Matrix<float>* x_ = nullptr;
  Matrix<float> y_, dx_;

  const Matrix<float>& forward(const Matrix<float>& x) {
    x_ = &x;
    y_ = a.value(0, 0) * x;
    return y_;
  }
  const Matrix<float>& backward(const Matrix<float>& g) {
    a.grad(0, 0) += (g.array() * x_->array()).sum();
    dx_ = a.value(0, 0) * g;
    return dx_;
  }
#ifndef DEEPENERGY_FAIL
  const Matrix<float>& backward_input(const Matrix<float>& g) {
    dx_ = a.value(0, 0) * g;
    return dx_;
  }
#endif
  template <class F>
  void for_each_parameter(F&& f) {
    f(a);
  }
};

}  // namespace

int main() {
  deepenergy::Sequential<deepenergy::Dense<float>, Scale> net(deepenergy::Dense<float>(2, 3),
                                                              Scale{});
  const Matrix<float> x = Matrix<float>::Zero(2, 5);
  return net.forward(x).rows() == 3 ? 0 : 1;
}
