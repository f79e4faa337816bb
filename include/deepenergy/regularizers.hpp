// Loss terms (the LossTerm contract in trainer.hpp) that make training reach
// the density rather than only the data's support.
#pragma once

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <limits>
#include <numbers>
#include <string>
#include <type_traits>
#include <vector>

#include "deepenergy/batch_norm.hpp"
#include "deepenergy/math.hpp"
#include "deepenergy/optimizers.hpp"
#include "deepenergy/rng.hpp"
#include "deepenergy/trainer.hpp"
#include "deepenergy/types.hpp"

namespace deepenergy {

/// Generator entropy through a kernel estimate of the generator's score.
///
/// The paper's generator loss E_z[E(G(z))] (eq. 5) is minimised by collapsing
/// onto the energy's minima. Adding -lambda H(P_G) makes it
///   E_z[E(G(z))] - lambda H(P_G) = KL(P_G || P_E) - log Z   (lambda = 1),
/// so the generator samples the energy's distribution and the negative phase
/// (eq. 4) becomes the maximum-likelihood one. Its gradient with respect to a
/// sample is (lambda / B) * d log p_G(x_i) / dx_i (the score). Following the
/// nearest-neighbour estimator of Dai et al. 2017 ("Calibrating energy-based
/// GANs"), which moves each sample away from the mean of its neighbours, we
/// estimate the score with Gaussian kernel weights over the batch:
///   score_i ~ (mu_i - x_i) / h^2,  mu_i = sum_{j != i} k_ij x_j / sum_{j != i} k_ij,
///   k_ij = exp(-|x_i - x_j|^2 / (2 h^2)),
/// h^2 = median_{i<j} |x_i - x_j|^2 / (2 log(B + 1)) by default (the median
/// heuristic), so the weights concentrate on each sample's near neighbours.
/// The value returned (for reporting) is -lambda * H estimated by leave-one-out
/// kernel density, up to a constant.
///
/// With `neighbours` = k > 0 the weights are Dai et al.'s instead: mu_i is the
/// plain mean of x_i's k nearest neighbours in the batch, and
///   score_i ~ c_k (mu_i - x_i) / r_i^2,   c_k = d (d + 2) k / (d k + 2),
/// r_i the distance to the k-th neighbour, d the dimension, so no bandwidth
/// needs choosing. The factor is the mean shift's (Fukunaga and Hostetler
/// 1975): given r_i, the k - 1 nearer neighbours fill the ball, each offset
/// averaging r^2 / (d + 2) grad log p, and the k-th lies on its sphere,
/// averaging r^2 / d grad log p; c_k undoes their mean (d + 2 for many
/// neighbours, d for one). The value returned is then -lambda times the
/// Kozachenko-Leonenko entropy estimate,
///   H ~ psi(B) - psi(k) + log V_d + (d / B) sum_i log r_i.
/// A batch needs more than k samples.
template <class S = float>
class KernelEntropy {
 public:
  explicit KernelEntropy(double lambda = 1.0, double bandwidth = 0.0, Index neighbours = 0)
      : lambda_(lambda), bandwidth_(bandwidth), neighbours_(neighbours) {
    if (!(lambda >= 0.0) || !std::isfinite(lambda))
      throw Error("KernelEntropy: lambda = " + std::to_string(lambda) +
                  ", expected a non-negative finite number");
    if (!(bandwidth >= 0.0) || !std::isfinite(bandwidth))
      throw Error("KernelEntropy: bandwidth = " + std::to_string(bandwidth) +
                  ", expected 0 (median heuristic) or a positive finite number");
    if (neighbours < 0)
      throw Error("KernelEntropy: neighbours = " + std::to_string(neighbours) +
                  ", expected 0 (kernel weights) or a positive count");
    if (neighbours > 0 && bandwidth > 0.0)
      throw Error("KernelEntropy: bandwidth = " + std::to_string(bandwidth) +
                  " and neighbours = " + std::to_string(neighbours) +
                  " both given; the k-nearest-neighbour estimate sets its own scale, "
                  "so pass bandwidth 0");
  }

  double lambda() const { return lambda_; }
  Index neighbours() const { return neighbours_; }

  template <class Gen>
  double generator_term(Gen&, const Matrix<S>& x, Matrix<S>& grad_x) {
    const Index B = x.cols();
    if (neighbours_ > 0 && lambda_ != 0.0 && B <= neighbours_)
      throw Error("KernelEntropy: neighbours = " + std::to_string(neighbours_) +
                  " needs a batch of at least " + std::to_string(neighbours_ + 1) +
                  " samples, got " + std::to_string(B));
    if (B < 2 || lambda_ == 0.0) return 0.0;
    if (neighbours_ > 0) return nearest_neighbour_term(x, grad_x);
    // Pairwise squared distances via the Gram matrix (one small GEMM).
    sqn_.noalias() = x.colwise().squaredNorm();
    d2_.noalias() = S(-2) * (x.transpose() * x);
    d2_.colwise() += sqn_.transpose();
    d2_.rowwise() += sqn_;
    d2_ = d2_.cwiseMax(S(0));
    double h2 = bandwidth_ * bandwidth_;
    if (h2 == 0.0) {
      med_.clear();
      med_.reserve(std::size_t(B * (B - 1) / 2));
      for (Index j = 0; j < B; ++j)
        for (Index i = 0; i < j; ++i) med_.push_back(double(d2_(i, j)));
      auto mid = med_.begin() + std::ptrdiff_t(med_.size() / 2);
      std::nth_element(med_.begin(), mid, med_.end());
      h2 = std::max(*mid, 1e-12) / (2.0 * std::log(double(B) + 1.0));
    }
    k_ = (d2_.array() * S(-0.5 / h2)).exp().matrix();
    k_.diagonal().setZero();
    ksum_.noalias() = k_.colwise().sum();  // symmetric: column sums = row sums
    // mu_i - x_i = (X K)_i / ksum_i - x_i
    mu_.noalias() = x * k_;
    const S scale = S(lambda_ / (double(B) * h2));
    double log_p = 0.0;
    for (Index i = 0; i < B; ++i) {
      const S ks = std::max(ksum_(i), std::numeric_limits<S>::min());
      grad_x.col(i) += scale * (mu_.col(i) / ks - x.col(i));
      log_p += std::log(double(ks) / double(B - 1));
    }
    return lambda_ * log_p / double(B);
  }

 private:
  // The k-nearest-neighbour form (class comment).
  double nearest_neighbour_term(const Matrix<S>& x, Matrix<S>& grad_x) {
    const Index B = x.cols(), d = x.rows(), k = neighbours_;
    // Distances by differences, not through the Gram matrix: the ranking must
    // hold for nearly coincident samples too (a collapsing generator).
    d2_.resize(B, B);
    for (Index i = 0; i < B; ++i)
      for (Index j = 0; j < B; ++j) d2_(j, i) = (x.col(j) - x.col(i)).squaredNorm();
    constexpr double pi = std::numbers::pi;
    const double log_ball = 0.5 * double(d) * std::log(pi) - std::lgamma(0.5 * double(d) + 1.0);
    const double c = double(d * (d + 2) * k) / double(d * k + 2);
    const double scale = lambda_ * c / double(B);
    idx_.resize(std::size_t(B - 1));  // keeps its capacity: no allocation after the first step
    mu_.resize(d, 1);
    double sum_log_r2 = 0.0;
    for (Index i = 0; i < B; ++i) {
      std::size_t n = 0;
      for (Index j = 0; j < B; ++j)
        if (j != i) idx_[n++] = j;
      const auto kth = idx_.begin() + std::ptrdiff_t(k - 1);
      std::nth_element(idx_.begin(), kth, idx_.end(),
                       [&](Index a, Index b) { return d2_(a, i) < d2_(b, i); });
      const double r2 = double(d2_(*kth, i));
      mu_.setZero();
      for (Index m = 0; m < k; ++m) mu_ += x.col(idx_[std::size_t(m)]);
      // k duplicates of x_i give r = 0 and mu = x_i: no push, and a finite log.
      if (r2 > 0.0) grad_x.col(i) += S(scale / r2) * (mu_ / S(k) - x.col(i));
      sum_log_r2 += std::log(std::max(r2, 1e-30));
    }
    const double entropy = math::digamma_int(B) - math::digamma_int(k) + log_ball +
                           0.5 * double(d) * sum_log_r2 / double(B);
    return -lambda_ * entropy;
  }

  double lambda_, bandwidth_;
  Index neighbours_;
  std::vector<double> med_;
  std::vector<Index> idx_;
  // Workspaces, sized once per batch size (no allocation in steady state).
  Matrix<S> d2_, k_, mu_;
  RowVector<S> sqn_, ksum_;
};

/// Energy magnitude penalty (Du and Mordatch 2019):
///   alpha * (mean_j E(x+_j)^2 + mean_j E(x-_j)^2)
/// on the data batch and the negative batch. It stops the energies from
/// drifting as a whole, which the two phases of eq. 1 cannot see.
class EnergyMagnitudePenalty {
 public:
  explicit EnergyMagnitudePenalty(double alpha = 1e-3) : alpha_(alpha) {
    if (!(alpha >= 0.0) || !std::isfinite(alpha))
      throw Error("EnergyMagnitudePenalty: alpha = " + std::to_string(alpha) +
                  ", expected a non-negative finite number");
  }
  double alpha() const { return alpha_; }

  template <class S>
  double energy_term(Phase, const RowVector<S>& e, RowVector<S>& weights) {
    if (alpha_ == 0.0) return 0.0;  // off: not even 0 * inf from a huge energy
    const double n = double(e.cols());
    weights.array() += S(2.0 * alpha_ / n) * e.array();
    return alpha_ * double(e.squaredNorm()) / n;
  }

 private:
  double alpha_;
};

/// Gradient penalty on the data (as in Kumar et al. 2019, MEG):
///   lambda * mean_j |dE(x_j)/dx_j|^2,  x_j the data batch.
/// Its parameter gradient, (2 lambda / B) sum_j d/dtheta [g_j . v_j] with
/// v_j = g_j held fixed, is a Hessian-vector product; it is computed by
/// central differences of the parameter gradient along v_j,
///   d/dtheta [g_j . v_j] ~ (dE(x_j + eps v_j)/dtheta - dE(x_j - eps v_j)/dtheta) / (2 eps),
/// two extra energy passes, with eps = step / max_j |v_j| so that the largest
/// displacement is `step` in input units (error O(step^2)).
template <class S = float>
class GradientPenalty {
 public:
  explicit GradientPenalty(double lambda = 0.1, double step = 1e-2) : lambda_(lambda), step_(step) {
    if (!(lambda >= 0.0) || !std::isfinite(lambda))
      throw Error("GradientPenalty: lambda = " + std::to_string(lambda) +
                  ", expected a non-negative finite number");
    if (!(step > 0.0) || !std::isfinite(step))
      throw Error("GradientPenalty: step = " + std::to_string(step) +
                  ", expected a positive finite number");
  }
  double lambda() const { return lambda_; }

  template <class Energy>
  double energy_extra(Phase phase, Energy& energy, const Matrix<S>& x) {
    if (phase != Phase::positive || lambda_ == 0.0) return 0.0;
    const Index B = x.cols();
    ones_.setOnes(B);
    // Per-sample input gradients of the last energy() call (on x).
    v_ = energy.input_gradient(ones_);
    const double sq = double(v_.squaredNorm());
    const double vmax = std::sqrt(double(v_.colwise().squaredNorm().maxCoeff()));
    if (!(vmax > 0.0)) return lambda_ * sq / double(B);
    const double eps = step_ / vmax;
    const S w = S(lambda_ / (double(B) * eps));
    xs_ = x + S(eps) * v_;
    energy.energy(xs_);
    ones_.setConstant(B, w);
    energy.backward(ones_);
    xs_ = x - S(eps) * v_;
    energy.energy(xs_);
    ones_.setConstant(B, -w);
    energy.backward(ones_);
    return lambda_ * sq / double(B);
  }

 private:
  double lambda_, step_;
  Matrix<S> v_, xs_;
  RowVector<S> ones_;
};

/// Batch-normalisation entropy from the extended version of the paper: with
/// BatchNorm layers in G, the generator's entropy is approximated by
///   H ~ sum over BN units of 1/2 log(2 pi e gamma^2),
/// and -lambda H is added to G's loss (gradient -lambda / gamma on each
/// BatchNorm.gamma of the generator). Needs BatchNorm layers in G.
class BatchNormEntropy {
 public:
  explicit BatchNormEntropy(double lambda = 1.0) : lambda_(lambda) {
    if (!(lambda >= 0.0) || !std::isfinite(lambda))
      throw Error("BatchNormEntropy: lambda = " + std::to_string(lambda) +
                  ", expected a non-negative finite number");
  }

  template <class Gen, class S>
  double generator_term(Gen& generator, const Matrix<S>&, Matrix<S>&) {
    double h = 0.0;
    generator.for_each_parameter([&](auto& p) {
      if (p.name != "BatchNorm.gamma") return;
      for (Index i = 0; i < p.value.rows(); ++i) {
        const double g = double(p.value(i, 0));
        h += 0.5 * std::log(2.0 * std::numbers::pi * std::numbers::e * g * g);
        p.grad(i, 0) -= std::remove_cvref_t<decltype(p.value(i, 0))>(lambda_ / g);
      }
    });
    return -lambda_ * h;
  }

 private:
  double lambda_;
};

/// Mutual-information entropy (Kumar et al. 2019, "Maximum entropy generators
/// for energy-based models", MEG). For X = G(Z) + noise, I(X; Z) = H(X) - H(noise),
/// so raising the mutual information between G's samples and their latents
/// raises G's entropy. It is estimated with a small statistics network
/// T(x, z) (one ReLU hidden layer) and the Jensen-Shannon bound of Hjelm et al.
/// 2019 (Deep InfoMax), which MEG uses:
///   I ~ mean_i [-softplus(-T(x_i, z_i))] - mean_i [softplus(T(x_i, z_{i+1}))],
/// the second pairs each sample with the next sample's latent (a sample from
/// the product of the marginals; the batch's latents are independent). Its
/// maximum over T lies in [-2 log 2, 0], -2 log 2 (a constant T) when x and z
/// are independent; an untrained T can give less. Each generator_term call
/// first takes one AdaGrad step of T's parameters up the bound on the batch,
/// then adds -lambda dI/dx_i to grad_x and returns -lambda I. With
/// learning_rate 0, G pushes against a fixed random T (for tests).
///
/// Contract: the generator passed to generator_term provides latents(), the z
/// of the x it is called with. Generator does, and DeepEnergyGAN keeps it so:
/// a generator term turns off the generator's column blocks, so the update
/// draws the whole batch with sample(). T's parameters and its AdaGrad state
/// (`seed` initialises T, apart from the trainer's seed) are visited by
/// for_each_parameter, so DeepEnergyGAN's checkpoints (format 4 on) and
/// rollback snapshots hold them; a rollback does not scale T's learning rate.
template <class S = float>
class MutualInformationEntropy {
 public:
  explicit MutualInformationEntropy(double lambda = 1.0, Index hidden = 64,
                                    double learning_rate = 0.01, std::uint64_t seed = 1)
      : lambda_(lambda), hidden_(hidden), seed_(seed) {
    if (!(lambda >= 0.0) || !std::isfinite(lambda))
      throw Error("MutualInformationEntropy: lambda = " + std::to_string(lambda) +
                  ", expected a non-negative finite number");
    if (hidden < 1)
      throw Error("MutualInformationEntropy: hidden = " + std::to_string(hidden) +
                  ", expected at least 1 unit");
    if (!(learning_rate >= 0.0) || !std::isfinite(learning_rate))
      throw Error("MutualInformationEntropy: learning_rate = " + std::to_string(learning_rate) +
                  ", expected a non-negative finite number (0 = T is not trained)");
    optimizer_.learning_rate = learning_rate;
  }

  double lambda() const { return lambda_; }

  template <class Gen, class T>
  double generator_term(Gen& generator, const Matrix<T>& x, Matrix<T>& grad_x) {
    // Matched on any scalar, so that a mismatch is an error, not a term the
    // trainer silently never calls.
    static_assert(std::is_same_v<T, S>,
                  "MutualInformationEntropy<S>: S differs from the trainer's Scalar");
    if (lambda_ == 0.0 || x.cols() < 2) return 0.0;
    const Matrix<S>& z = generator.latents();
    train_step(x, z);
    const double mi = estimate(x, z, &gx_);
    grad_x -= S(lambda_) * gx_;
    return -lambda_ * mi;
  }

  /// One AdaGrad step of T's parameters up the bound on (x, z).
  void train_step(const Matrix<S>& x, const Matrix<S>& z) {
    if (optimizer_.learning_rate == 0.0 || x.cols() < 2) return;
    statistics_gradient(x, z);
    for (auto& p : t_params_) optimizer_.update(p);
  }

  /// The bound I for (x, z) at T's current parameters (T unchanged); with
  /// grad_x, also dI/dx (same shape as x). T is built on the first call that
  /// needs it, for x's rows plus z's as its input.
  double estimate(const Matrix<S>& x, const Matrix<S>& z, Matrix<S>* grad_x = nullptr) {
    check(x, z);
    if (x.cols() < 2) {
      if (grad_x) grad_x->setZero(x.rows(), x.cols());
      return 0.0;
    }
    return evaluate(x, z, grad_x, false);
  }

  /// Sets each of T's parameter grads to d(-I)/dtheta on (x, z), the loss T
  /// descends, and returns I.
  double statistics_gradient(const Matrix<S>& x, const Matrix<S>& z) {
    check(x, z);
    if (x.cols() < 2) {
      for (auto& p : t_params_) p.grad.setZero(p.value.rows(), p.value.cols());
      return 0.0;
    }
    return evaluate(x, z, nullptr, true);
  }

  /// T's parameters ("MutualInformationEntropy.W1", ".b1", ".w2", ".b2"),
  /// each 0x0 until T is built. Values restored into them (a checkpoint) are
  /// checked against the samples, latents and hidden size at the next use.
  template <class F>
  void for_each_parameter(F&& f) {
    name_parameters();
    for (auto& p : t_params_) f(p);
  }

 private:
  // Any parameter non-empty: T is built (or restored), and check() then
  // refuses a partly restored one rather than rebuilding over it.
  bool built() const {
    for (const auto& p : t_params_)
      if (p.value.size() > 0) return true;
    return false;
  }

  void check(const Matrix<S>& x, const Matrix<S>& z) {
    if (z.cols() != x.cols())
      throw Error("MutualInformationEntropy: " + std::to_string(x.cols()) + " samples but " +
                  std::to_string(z.cols()) +
                  " latents; the generator's latents() must be the z of the samples");
    const Index in = x.rows() + z.rows();
    const Index rows[] = {hidden_, hidden_, hidden_, 1}, cols[] = {in, 1, 1, 1};
    if (!built()) {
      Rng rng(seed_);
      name_parameters();
      for (std::size_t k = 0; k < 4; ++k) {
        auto& p = t_params_[k];
        p.value.setZero(rows[k], cols[k]);
        p.grad.setZero(rows[k], cols[k]);
      }
      // He initialisation for the ReLU layer, 1/sqrt(fan-in) for the output.
      for (Index k = 0; k < w1().size(); ++k)
        w1()(k) = S(rng.normal() * std::sqrt(2.0 / double(in)));
      for (Index k = 0; k < hidden_; ++k) w2()(k) = S(rng.normal() / std::sqrt(double(hidden_)));
    } else {
      // T keeps the shape it was built with or restored to (a checkpoint):
      // it must be the one these samples, latents and hidden units need.
      for (std::size_t k = 0; k < 4; ++k) {
        const auto& p = t_params_[k];
        if (p.value.rows() != rows[k] || p.value.cols() != cols[k])
          throw Error(p.name + " is " + std::to_string(p.value.rows()) + "x" +
                      std::to_string(p.value.cols()) + " but samples of " +
                      std::to_string(x.rows()) + " and latents of " + std::to_string(z.rows()) +
                      " dimensions with " + std::to_string(hidden_) + " hidden units need " +
                      std::to_string(rows[k]) + "x" + std::to_string(cols[k]) +
                      " (T keeps the shape it was first built with or restored to)");
        if (p.grad.rows() != rows[k] || p.grad.cols() != cols[k])
          t_params_[k].grad.setZero(rows[k], cols[k]);
      }
    }
  }

  void name_parameters() {
    const char* names[] = {"W1", "b1", "w2", "b2"};
    for (std::size_t k = 0; k < 4; ++k)
      if (t_params_[k].name.empty())
        t_params_[k].name = std::string("MutualInformationEntropy.") + names[k];
  }

  Matrix<S>& w1() { return t_params_[0].value; }
  Matrix<S>& b1() { return t_params_[1].value; }
  Matrix<S>& w2() { return t_params_[2].value; }
  Matrix<S>& b2() { return t_params_[3].value; }

  // Forward through T on the joint pairs and the shifted ones; backward of
  // the bound into T's parameter grads (as -dI/dtheta) or into x (dI/dx).
  double evaluate(const Matrix<S>& x, const Matrix<S>& z, Matrix<S>* grad_x, bool params) {
    const Index B = x.cols(), dx = x.rows(), dz = z.rows();
    u_.resize(dx + dz, 2 * B);
    u_.topLeftCorner(dx, B) = x;
    u_.topRightCorner(dx, B) = x;
    u_.bottomLeftCorner(dz, B) = z;
    u_.block(dx, B, dz, B - 1) = z.rightCols(B - 1);  // x_i with z_{i+1}
    u_.bottomRightCorner(dz, 1) = z.leftCols(1);      // and the last with z_0
    a_.noalias() = w1() * u_;
    a_.colwise() += b1().col(0);
    h_ = a_.cwiseMax(S(0));
    t_.noalias() = w2().transpose() * h_;
    double mi = 0.0;
    g_t_.resize(1, 2 * B);
    for (Index i = 0; i < 2 * B; ++i) {
      const double t = double(t_(0, i)) + double(b2()(0, 0));
      if (i < B) {  // joint: -softplus(-t), d/dt = sigmoid(-t)
        mi -= math::softplus(-t);
        g_t_(0, i) = S(math::sigmoid(-t) / double(B));
      } else {  // shifted: -softplus(t), d/dt = -sigmoid(t)
        mi -= math::softplus(t);
        g_t_(0, i) = S(-math::sigmoid(t) / double(B));
      }
    }
    mi /= double(B);
    g_a_.noalias() = w2() * g_t_;
    g_a_.array() *= (a_.array() > S(0)).template cast<S>();
    if (params) {
      // In column chunks: over all 2B columns at once, Eigen's GEMM would
      // put its blocking buffers on the heap (past its stack limit) each step.
      const Index chunk = std::max<Index>(16, 8192 / hidden_);
      t_params_[0].grad.setZero();
      for (Index j = 0; j < 2 * B; j += chunk) {
        const Index n = std::min(chunk, 2 * B - j);
        t_params_[0].grad.noalias() -= g_a_.middleCols(j, n) * u_.middleCols(j, n).transpose();
      }
      t_params_[1].grad = -g_a_.rowwise().sum();
      t_params_[2].grad.noalias() = -h_ * g_t_.transpose();
      t_params_[3].grad.setConstant(1, 1, -g_t_.sum());
    }
    if (grad_x) {
      g_u_.noalias() = w1().leftCols(dx).transpose() * g_a_;
      *grad_x = g_u_.leftCols(B) + g_u_.rightCols(B);
    }
    return mi;
  }

  double lambda_;
  Index hidden_;
  std::uint64_t seed_;
  AdaGrad optimizer_;
  // T's parameters (W1, b1, w2, b2), and workspaces.
  std::array<Parameter<S>, 4> t_params_;
  Matrix<S> u_, a_, h_, t_, g_t_, g_a_, g_u_, gx_;
};

}  // namespace deepenergy
