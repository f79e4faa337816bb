// Compile-fail test: an Expert without an energy.
// As is, this compiles. With -DDEEPENERGY_FAIL the expert loses
// forward(input, energy), and the first error must say that it has no energy.
#include <deepenergy/energy_model.hpp>
#include <deepenergy/layers.hpp>

namespace {

using deepenergy::Matrix;
using deepenergy::RowVector;

// A parameter-free expert on the features: E(h) = sum_i h_i.
struct SumExpert {
  using Scalar = float;
#ifndef DEEPENERGY_FAIL
  void forward(const Matrix<float>& h, RowVector<float>& energy) {
    energy += h.colwise().sum();
  }
#endif
  void backward(const RowVector<float>& weight, Matrix<float>& grad_h) {
    grad_h.rowwise() += weight;
  }
};

}  // namespace

int main() {
  using Features = deepenergy::Sequential<deepenergy::Dense<float>, deepenergy::ReLU<float>>;
  deepenergy::EnergyModel<Features, SumExpert> model(
      Features(deepenergy::Dense<float>(2, 4), deepenergy::ReLU<float>()), SumExpert{});
  const Matrix<float> x = Matrix<float>::Zero(2, 3);
  return model.energy(x).size() == 3 ? 0 : 1;
}
