// Experts: the terms whose sum is the energy (paper eq. 2), and the base terms
// on the raw input that make exp(-E) normalisable. Each satisfies the Expert
// contract in concepts.hpp.
#pragma once

#include <cmath>
#include <limits>
#include <string>

#include "deepenergy/concepts.hpp"
#include "deepenergy/layers.hpp"
#include "deepenergy/math.hpp"
#include "deepenergy/types.hpp"

namespace deepenergy {

/// K logistic experts on the features h = f(x):
///   E(h) = -sum_k softplus(w_k . h + b_k)          (paper eq. 2)
/// Each expert is the free energy of one binary hidden unit of an RBM whose
/// visible input is the deep feature vector.
template <class S = float>
class SoftplusExperts {
 public:
  using Scalar = S;
  static constexpr bool independent_samples = true;

  SoftplusExperts(Index features, Index experts, Init init = Init::glorot())
      : W_("SoftplusExperts.W", experts, features),
        b_("SoftplusExperts.b", experts, 1),
        init_(init) {
    if (features <= 0 || experts <= 0)
      throw Error("SoftplusExperts: sizes must be positive, got features=" +
                  std::to_string(features) + " experts=" + std::to_string(experts));
  }

  Index input_dim() const { return W_.value.cols(); }
  Index experts() const { return W_.value.rows(); }

  void initialize(Rng& rng) {
    // Reuse Dense's initialisers for the same shape.
    Dense<S> tmp(input_dim(), experts(), init_);
    tmp.initialize(rng);
    W_.value = tmp.weight().value;
    b_.value.setZero();
  }

  void forward(const Matrix<S>& h, RowVector<S>& energy) {
    h_ = &h;
    a_.resize(W_.value.rows(), h.cols());
    detail::affine_product(a_, W_.value, h, b_.value);  // heap-free GEMM, see layers.hpp
    // The energy needs softplus(a); backward keeps sigmoid(a) = dsoftplus/da.
    // Both from one exponential per element, with Eigen's vectorised exp and
    // log1p (calling math::softplus and math::sigmoid per element cost two
    // scalar exp and one log1p, ~15% of a training step). With e = exp(-|a|):
    //   softplus(a) = max(a, 0) + log1p(e)
    //   sigmoid(a)  = max(e, s) / (1 + e),  s = min(a * 2^100, 1)
    // (1/(1+e) for a > 0, e/(1+e) for a < 0, 1/2 at a = 0; Eigen 3.4 has no
    // vectorised sign or select. s is 1 for a >= 2^-100, <= 0 for a <= 0, and
    // below that e = 1 anyway, so max(e, s) is 1 or e as needed, without a
    // second division). g_ is the workspace for e; backward overwrites it.
    // Column blocks: split between threads at large batches (layers.hpp).
    g_.resize(a_.rows(), a_.cols());
    detail::for_column_blocks(a_.rows(), a_.cols(), [&](Index j, Index n) {
      auto a = a_.middleCols(j, n).array();
      auto e = g_.middleCols(j, n).array();
      e = (-a.abs()).exp();
      energy.middleCols(j, n).noalias() -= (a.max(S(0)) + e.log1p()).matrix().colwise().sum();
      a = (a * S(0x1p100)).min(S(1)).max(e) / (S(1) + e);
    });
  }

  void backward(const RowVector<S>& weight, Matrix<S>& grad_h) {
    scale(weight);
    detail::tiled_product<true>(W_.grad, g_, h_->transpose());
    b_.grad.col(0).noalias() += g_.rowwise().sum().transpose();
    detail::tiled_product<true>(grad_h, W_.value.transpose(), g_);
  }

  void backward_input(const RowVector<S>& weight, Matrix<S>& grad_h) {
    scale(weight);
    detail::tiled_product<true>(grad_h, W_.value.transpose(), g_);
  }

  template <class F>
  void for_each_parameter(F&& f) {
    f(W_);
    f(b_);
  }

  Parameter<S>& weight() { return W_; }
  Parameter<S>& bias() { return b_; }

 private:
  // dE/da = -sigmoid(a), times each sample's weight.
  void scale(const RowVector<S>& weight) {
    g_.resize(a_.rows(), a_.cols());
    detail::for_column_blocks(a_.rows(), a_.cols(), [&](Index j, Index n) {
      g_.middleCols(j, n).array() =
          -(a_.middleCols(j, n).array().rowwise() * weight.middleCols(j, n).array());
    });
  }

  Parameter<S> W_, b_;
  Init init_;
  const Matrix<S>* h_ = nullptr;
  Matrix<S> a_, g_;
};

/// E(x) = |x|^2 / (2 sigma^2) on the raw input (the extended paper's base
/// term): with it exp(-E) is normalisable whatever the experts do far away.
/// sigma is fixed, or learned through log sigma (so it stays positive).
template <class S = float>
class QuadraticBase {
 public:
  using Scalar = S;
  static constexpr bool reads_raw_input = true;
  static constexpr bool independent_samples = true;

  explicit QuadraticBase(Index dim, double sigma = 1.0, bool learn_sigma = false)
      : dim_(dim), log_sigma_("QuadraticBase.log_sigma", 1, 1), learn_(learn_sigma) {
    if (dim <= 0) throw Error("QuadraticBase: dim must be positive, got " + std::to_string(dim));
    if (!(sigma > 0.0) || !std::isfinite(sigma))
      throw Error("QuadraticBase: sigma must be a positive finite number, got " +
                  std::to_string(sigma));
    log_sigma_.value(0, 0) = S(std::log(sigma));
  }

  Index input_dim() const { return dim_; }
  S sigma() const { return std::exp(log_sigma_.value(0, 0)); }
  bool learns_sigma() const { return learn_; }

  void forward(const Matrix<S>& x, RowVector<S>& energy) {
    x_ = &x;
    sq_.noalias() = x.colwise().squaredNorm();
    energy.noalias() += sq_ * (S(0.5) * inv_var());
  }

  void backward(const RowVector<S>& weight, Matrix<S>& grad_x) {
    // d/dlog_sigma |x|^2 / (2 sigma^2) = -|x|^2 / sigma^2
    if (learn_) log_sigma_.grad(0, 0) -= inv_var() * sq_.dot(weight);
    backward_input(weight, grad_x);
  }

  void backward_input(const RowVector<S>& weight, Matrix<S>& grad_x) {
    grad_x.noalias() += ((x_->array().rowwise() * weight.array()) * inv_var()).matrix();
  }

  /// Visits log sigma only when it is learned.
  template <class F>
  void for_each_parameter(F&& f) {
    if (learn_) f(log_sigma_);
  }

 private:
  S inv_var() const { return std::exp(S(-2) * log_sigma_.value(0, 0)); }

  Index dim_;
  Parameter<S> log_sigma_;
  bool learn_;
  const Matrix<S>* x_ = nullptr;
  RowVector<S> sq_;
};

/// E(x) = -b . x on the raw input, b learned (starts at zero): the visible
/// bias of an RBM.
template <class S = float>
class LinearBase {
 public:
  using Scalar = S;
  static constexpr bool reads_raw_input = true;
  static constexpr bool independent_samples = true;

  explicit LinearBase(Index dim) : b_("LinearBase.b", dim, 1) {
    if (dim <= 0) throw Error("LinearBase: dim must be positive, got " + std::to_string(dim));
  }

  Index input_dim() const { return b_.value.rows(); }

  void forward(const Matrix<S>& x, RowVector<S>& energy) {
    x_ = &x;
    energy.noalias() -= b_.value.transpose() * x;
  }
  void backward(const RowVector<S>& weight, Matrix<S>& grad_x) {
    b_.grad.noalias() -= *x_ * weight.transpose();
    backward_input(weight, grad_x);
  }
  void backward_input(const RowVector<S>& weight, Matrix<S>& grad_x) {
    grad_x.noalias() -= b_.value * weight;
  }

  template <class F>
  void for_each_parameter(F&& f) {
    f(b_);
  }
  Parameter<S>& bias() { return b_; }

 private:
  Parameter<S> b_;
  const Matrix<S>* x_ = nullptr;
};

}  // namespace deepenergy
