// Batch normalisation (Ioffe and Szegedy 2015), a Layer (see concepts.hpp).
#pragma once

#include <cmath>
#include <string>

#include "deepenergy/rng.hpp"
#include "deepenergy/types.hpp"

namespace deepenergy {

/// y = gamma * (x - mean) / sqrt(var + eps) + beta, per feature.
///
/// Training mode (the default) normalises with the batch's own mean and
/// variance and updates running averages; inference mode uses the running
/// averages. The running averages are Parameters marked not trainable, so
/// checkpoints carry them and optimisers leave them alone.
/// In a generator, the scales gamma give the batch-normalisation entropy of
/// the extended paper (see BatchNormEntropy in regularizers.hpp).
template <class S = float>
class BatchNorm {
 public:
  using Scalar = S;

  explicit BatchNorm(Index features, double momentum = 0.1, double epsilon = 1e-5)
      : gamma_("BatchNorm.gamma", features, 1),
        beta_("BatchNorm.beta", features, 1),
        running_mean_("BatchNorm.running_mean", features, 1),
        running_var_("BatchNorm.running_var", features, 1),
        momentum_(S(momentum)),
        eps_(S(epsilon)) {
    if (features <= 0)
      throw Error("BatchNorm: features must be positive, got " + std::to_string(features));
    if (!(momentum >= 0.0 && momentum <= 1.0))
      throw Error("BatchNorm: momentum = " + std::to_string(momentum) + ", expected in [0, 1]");
    if (!(epsilon > 0.0))
      throw Error("BatchNorm: epsilon = " + std::to_string(epsilon) + ", expected > 0");
    gamma_.value.setOnes();
    running_var_.value.setOnes();
    running_mean_.trainable = running_var_.trainable = false;
  }

  Index input_dim() const { return gamma_.value.rows(); }
  Index output_dim() const { return gamma_.value.rows(); }
  void set_training(bool on) { training_ = on; }
  bool training() const { return training_; }

  void initialize(Rng&) {
    gamma_.value.setOnes();
    beta_.value.setZero();
    running_mean_.value.setZero();
    running_var_.value.setOnes();
  }

  const Matrix<S>& forward(const Matrix<S>& x) {
    const Index B = x.cols();
    if (training_) {
      mean_.noalias() = x.rowwise().mean();
      xhat_ = x.colwise() - mean_;
      var_.noalias() = xhat_.rowwise().squaredNorm() / S(B);
      running_mean_.value.col(0) =
          (S(1) - momentum_) * running_mean_.value.col(0) + momentum_ * mean_;
      running_var_.value.col(0) = (S(1) - momentum_) * running_var_.value.col(0) + momentum_ * var_;
    } else {
      mean_ = running_mean_.value.col(0);
      var_ = running_var_.value.col(0);
      xhat_ = x.colwise() - mean_;
    }
    inv_std_ = (var_.array() + eps_).rsqrt().matrix();
    xhat_ = inv_std_.asDiagonal() * xhat_;
    y_ = gamma_.value.col(0).asDiagonal() * xhat_;
    y_.colwise() += beta_.value.col(0);
    return y_;
  }

  const Matrix<S>& backward(const Matrix<S>& g) {
    beta_.grad.col(0) += g.rowwise().sum();
    gamma_.grad.col(0) += (g.cwiseProduct(xhat_)).rowwise().sum();
    return backward_input(g);
  }

  const Matrix<S>& backward_input(const Matrix<S>& g) {
    if (!training_) {
      dx_ = (gamma_.value.col(0).cwiseProduct(inv_std_)).asDiagonal() * g;
      return dx_;
    }
    // dx = gamma / sqrt(var + eps) * (g - mean(g) - xhat * mean(g * xhat))
    const Index B = g.cols();
    gsum_.noalias() = g.rowwise().sum() / S(B);
    gxsum_.noalias() = g.cwiseProduct(xhat_).rowwise().sum() / S(B);
    dx_ = g.colwise() - gsum_;
    dx_ -= gxsum_.asDiagonal() * xhat_;
    dx_ = (gamma_.value.col(0).cwiseProduct(inv_std_)).asDiagonal() * dx_;
    return dx_;
  }

  template <class F>
  void for_each_parameter(F&& f) {
    f(gamma_);
    f(beta_);
    f(running_mean_);
    f(running_var_);
  }

  Parameter<S>& gamma() { return gamma_; }
  Parameter<S>& beta() { return beta_; }
  const Parameter<S>& running_mean() const { return running_mean_; }
  const Parameter<S>& running_var() const { return running_var_; }

 private:
  Parameter<S> gamma_, beta_, running_mean_, running_var_;
  S momentum_, eps_;
  bool training_ = true;
  Vector<S> mean_, var_, inv_std_, gsum_, gxsum_;
  Matrix<S> xhat_, y_, dx_;
};

}  // namespace deepenergy
