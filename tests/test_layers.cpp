// Layers: shapes in float and double, gradient checks in double, composition.
#include <doctest/doctest.h>

#include <cmath>
#include <type_traits>

#include <deepenergy/deepenergy.hpp>

#include "helpers.hpp"

using namespace deepenergy;
using deepenergy::test::random_batch;

namespace {

template <class L>
double worst_error(L& layer, Index in, const char* name) {
  auto r = testing::check_gradients(layer, random_batch(in, 7, 5));
  MESSAGE(std::string(name) << ": worst relative error " << r.max_relative_error << " at "
                            << r.worst << " (" << r.checked << " entries)");
  CHECK(r.checked > 0);
  return r.max_relative_error;
}

}  // namespace

TEST_CASE_TEMPLATE("Dense computes W x + b column by column", S, float, double) {
  Dense<S> d(3, 2);
  d.weight().value << 1, 2, 3, -1, 0, 4;
  d.bias().value << S(0.5), S(-1);
  Matrix<S> x(3, 2);
  x << 1, 0, 1, 1, 2, -1;
  const Matrix<S>& y = d.forward(x);
  REQUIRE(y.rows() == 2);
  REQUIRE(y.cols() == 2);
  CHECK(y(0, 0) == doctest::Approx(1 + 2 + 6 + 0.5));
  CHECK(y(1, 0) == doctest::Approx(-1 + 0 + 8 - 1));
  CHECK(y(0, 1) == doctest::Approx(0 + 2 - 3 + 0.5));
  CHECK(y(1, 1) == doctest::Approx(0 + 0 - 4 - 1));
}

TEST_CASE("Dense initialisers have the documented scale") {
  Rng rng(1);
  Dense<double> g(200, 300, Init::glorot());
  g.initialize(rng);
  const double a = std::sqrt(6.0 / 500.0);
  CHECK(g.weight().value.maxCoeff() <= a);
  CHECK(g.weight().value.minCoeff() >= -a);
  CHECK(g.weight().value.array().square().mean() == doctest::Approx(a * a / 3).epsilon(0.05));
  Dense<double> h(200, 300, Init::he());
  h.initialize(rng);
  CHECK(h.weight().value.array().square().mean() == doctest::Approx(2.0 / 200).epsilon(0.05));
  Dense<double> n(200, 300, Init::gaussian(0.1));
  n.initialize(rng);
  CHECK(n.weight().value.array().square().mean() == doctest::Approx(0.01).epsilon(0.05));
  CHECK(n.bias().value.isZero());
}

TEST_CASE("Dense rejects sizes that are not positive or disagree with static sizes") {
  CHECK_THROWS_WITH_AS(Dense<float>(0, 3), doctest::Contains("in=0"), Error);
  CHECK_THROWS_WITH_AS((Dense<float, 2, 3>(2, 4)), doctest::Contains("static sizes 2x3"), Error);
}

TEST_CASE("gradient check: Dense with each initialiser") {
  Rng rng(2);
  for (Init init : {Init::glorot(), Init::he(), Init::gaussian(0.5)}) {
    Dense<double> d(4, 5, init);
    d.initialize(rng);
    d.bias().value.setRandom();
    CHECK(worst_error(d, 4, "Dense") < 1e-6);
  }
}

TEST_CASE("gradient check: every activation") {
  ReLU<double> relu;
  LeakyReLU<double> leaky(0.1);
  ELU<double> elu(0.7);
  Tanh<double> tanh_;
  Sigmoid<double> sigmoid;
  Softplus<double> softplus;
  Identity<double> identity;
  CHECK(worst_error(relu, 6, "ReLU") < 1e-6);
  CHECK(worst_error(leaky, 6, "LeakyReLU") < 1e-6);
  CHECK(worst_error(elu, 6, "ELU") < 1e-6);
  CHECK(worst_error(tanh_, 6, "Tanh") < 1e-6);
  CHECK(worst_error(sigmoid, 6, "Sigmoid") < 1e-6);
  CHECK(worst_error(softplus, 6, "Softplus") < 1e-6);
  CHECK(worst_error(identity, 6, "Identity") < 1e-6);
}

TEST_CASE("FourierFeatures: sin(Omega x + phi), fixed features, gradient check") {
  Rng rng(4);
  FourierFeatures<double> ff(3, 8, 2.0);
  ff.initialize(rng);
  Matrix<double> omega, phi;
  Index params = 0;
  ff.for_each_parameter([&](Parameter<double>& p) {
    CHECK_FALSE(p.trainable);  // drawn once, then fixed: optimisers skip them
    (params == 0 ? omega : phi) = p.value;
    ++params;
  });
  REQUIRE(params == 2);
  REQUIRE(omega.rows() == 8);
  REQUIRE(omega.cols() == 3);
  // Entries N(0, 2^2): the same draws as at scale 1, doubled; phases in [0, 2 pi).
  FourierFeatures<double> unit(3, 8, 1.0);
  Rng same(4);
  unit.initialize(same);
  Matrix<double> omega1;
  unit.for_each_parameter([&](Parameter<double>& p) {
    if (omega1.size() == 0) omega1 = p.value;
  });
  CHECK(omega.isApprox(2.0 * omega1, 1e-15));
  CHECK(phi.minCoeff() >= 0.0);
  CHECK(phi.maxCoeff() < 2.0 * 3.14159265358979323846);

  const Matrix<double> x = random_batch(3, 5, 6);
  const Matrix<double> y = ff.forward(x);
  for (Index j = 0; j < x.cols(); ++j)
    for (Index i = 0; i < 8; ++i)
      CHECK(y(i, j) == doctest::Approx(std::sin(omega.row(i).dot(x.col(j)) + phi(i, 0))));
  CHECK(worst_error(ff, 3, "FourierFeatures") < 1e-6);

  // In a network: Fourier features in front of a trainable Dense layer.
  Sequential<FourierFeatures<double>, Dense<double>, ReLU<double>> net(
      FourierFeatures<double>(2, 6, 1.5), Dense<double>(6, 4), ReLU<double>());
  net.initialize(rng);
  CHECK(worst_error(net, 2, "FourierFeatures + Dense") < 1e-6);
}

TEST_CASE_TEMPLATE("tiled_product equals Eigen's product, one thread and several", S, float,
                   double) {
  // Shapes of the paper's step at batch 1024: a forward product (split by
  // columns when threads run), a weight gradient (n = 128) and a thin result
  // (split along the inner dimension), plus a small one left serial.
  struct Shape {
    Index m, k, n;
  };
#ifndef _OPENMP
  MESSAGE("built without OpenMP: only the serial tiled product is checked");
#endif
  const int saved = Eigen::nbThreads();
  for (int threads : {1, 2, 3}) {
    Eigen::setNbThreads(threads);
    for (Shape sh :
         {Shape{128, 128, 1024}, Shape{128, 1024, 128}, Shape{96, 1500, 40}, Shape{7, 5, 3}}) {
      const Matrix<S> a = random_batch(sh.m, sh.k, 11).template cast<S>();
      const Matrix<S> b = random_batch(sh.k, sh.n, 12).template cast<S>();
      const Matrix<S> want = a * b;
      Matrix<S> got(sh.m, sh.n);
      detail::tiled_product<false>(got, a, b);
      const double tol = std::is_same_v<S, float> ? 1e-4 : 1e-12;
      CHECK((got - want).norm() <= tol * want.norm());
      detail::tiled_product<true>(got, a, b);  // accumulates
      CHECK((got - S(2) * want).norm() <= tol * want.norm());
      Matrix<S> gotT(sh.m, sh.n);
      const Matrix<S> bt = b.transpose();
      detail::tiled_product<false>(gotT, a, bt.transpose());  // an expression operand
      CHECK((gotT - want).norm() <= tol * want.norm());
      const Matrix<S> at = a.transpose();  // a transposed left operand, as in W^T g
      detail::tiled_product<false>(gotT, at.transpose(), b);
      CHECK((gotT - want).norm() <= tol * want.norm());
    }
  }
  Eigen::setNbThreads(saved);
}

TEST_CASE("activations and softplus experts give the same result on column blocks with threads") {
  // 128 x 1024 is above for_column_blocks' threshold: with 2 and 3 threads the
  // element-wise passes run on column blocks, which must not change a value.
  const Matrix<float> x = random_batch(128, 1024, 21).cast<float>();
  const Matrix<float> g = random_batch(128, 1024, 22).cast<float>();
  RowVector<float> w(1024);
  for (Index j = 0; j < w.size(); ++j) w(j) = float(j % 7) - 3.0f;
  const int saved = Eigen::nbThreads();
  auto run = [&](int threads) {
    Eigen::setNbThreads(threads);
    ELU<float> elu(0.7f);
    Matrix<float> out = Matrix<float>::Zero(129, 1024 * 3);  // row 128: the energies
    out.topLeftCorner(128, 1024) = elu.forward(x);
    out.block(0, 1024, 128, 1024) = elu.backward(g);
    Rng rng(5);
    SoftplusExperts<float> ex(128, 128);  // 128 x 1024: above the threshold too
    ex.initialize(rng);
    RowVector<float> e = RowVector<float>::Zero(1024);
    ex.forward(x, e);
    Matrix<float> gh = Matrix<float>::Zero(128, 1024);
    ex.backward_input(w, gh);
    out.block(0, 2048, 128, 1024) = gh;
    out.row(128).head(1024) = e;
    return out;
  };
  const Matrix<float> one = run(1);
  for (int threads : {2, 3}) CHECK(run(threads) == one);
  Eigen::setNbThreads(saved);
}

TEST_CASE("FourierFeatures rejects bad sizes and scales") {
  CHECK_THROWS_WITH_AS(FourierFeatures<float>(0, 4, 1.0), doctest::Contains("in=0"), Error);
  CHECK_THROWS_WITH_AS(FourierFeatures<float>(2, 4, 0.0), doctest::Contains("scale = 0"), Error);
  CHECK_THROWS_WITH_AS(FourierFeatures<float>(2, 4, std::nan("")),
                       doctest::Contains("expected a positive finite number"), Error);
  CHECK_THROWS_WITH_AS((FourierFeatures<float, 2, 4>(3, 4, 1.0)),
                       doctest::Contains("differ from the static sizes"), Error);
}

TEST_CASE_TEMPLATE("Sigmoid and Softplus stay finite and exact for large arguments", S, float,
                   double) {
  Matrix<S> x(1, 4);
  x << S(-1000), S(-40), S(40), S(1000);
  Sigmoid<S> sig;
  const Matrix<S> s = sig.forward(x);
  CHECK(s.allFinite());
  CHECK(s(0, 0) == S(0));
  CHECK(s(0, 3) == S(1));
  Softplus<S> sp;
  const Matrix<S> p = sp.forward(x);
  CHECK(p.allFinite());
  CHECK(p(0, 3) == S(1000));
  CHECK(p(0, 2) == doctest::Approx(40));
  CHECK(p(0, 0) == S(0));
}

TEST_CASE("gradient check: Sequential, and backward_input leaves parameters alone") {
  Rng rng(3);
  Sequential<Dense<double>, Tanh<double>, Dense<double>, ELU<double>, Dense<double>> net(
      Dense<double>(3, 6), Tanh<double>(), Dense<double>(6, 5), ELU<double>(), Dense<double>(5, 2));
  net.initialize(rng);
  CHECK(net.input_dim() == 3);
  CHECK(net.output_dim() == 2);
  CHECK(worst_error(net, 3, "Sequential") < 1e-6);
}

TEST_CASE("Sequential names the layers whose sizes disagree") {
  using Net = Sequential<Dense<float>, ReLU<float>, Dense<float>>;
  CHECK_THROWS_WITH_AS(
      Net(Dense<float>(2, 8), ReLU<float>(), Dense<float>(9, 1)),
      doctest::Contains("layer 2 expects input size 9 but layer 1 produces size 8"), Error);
}

TEST_CASE("static sizes propagate through Sequential") {
  using Net = Sequential<Dense<float, 2, 8>, ReLU<float>, Dense<float, 8, 3>>;
  static_assert(Net::static_input_dim == 2);
  static_assert(Net::static_output_dim == 3);
  using Dyn = Sequential<Dense<float>, ReLU<float>>;
  static_assert(Dyn::static_input_dim == Dynamic);
  Net net{Dense<float, 2, 8>{}, ReLU<float>{}, Dense<float, 8, 3>{}};
  CHECK(net.output_dim() == 3);
}
