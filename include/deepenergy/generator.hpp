// The deep directed generative model x = G(z), z drawn from a simple latent
// distribution (paper eq. 3).
#pragma once

#include <string>
#include <utility>

#include "deepenergy/concepts.hpp"
#include "deepenergy/rng.hpp"
#include "deepenergy/types.hpp"

namespace deepenergy {

/// z_i ~ U[-c, c], i = 1..d (paper eq. 3; c = 1 by default).
template <class S = float>
class UniformLatent {
 public:
  using Scalar = S;
  explicit UniformLatent(Index dim, double bound = 1.0) : dim_(dim) {
    if (dim <= 0) throw Error("UniformLatent: dim must be positive, got " + std::to_string(dim));
    set_bound(bound);
  }
  Index dim() const { return dim_; }
  double bound() const { return c_; }
  void set_bound(double c) {
    if (!(c > 0.0) || !std::isfinite(c))
      throw Error("UniformLatent: latent bound c must be a positive finite number, got " +
                  std::to_string(c));
    c_ = c;
  }
  void sample(Matrix<S>& z, Index batch, Rng& rng) const {
    z.resize(dim_, batch);
    for (Index j = 0; j < batch; ++j)
      for (Index i = 0; i < dim_; ++i) z(i, j) = S(rng.uniform(-c_, c_));
  }

 private:
  Index dim_;
  double c_ = 1.0;
};

/// z_i ~ N(0, s^2).
template <class S = float>
class GaussianLatent {
 public:
  using Scalar = S;
  explicit GaussianLatent(Index dim, double stddev = 1.0) : dim_(dim), s_(stddev) {
    if (dim <= 0) throw Error("GaussianLatent: dim must be positive, got " + std::to_string(dim));
    if (!(stddev > 0.0) || !std::isfinite(stddev))
      throw Error("GaussianLatent: stddev must be a positive finite number, got " +
                  std::to_string(stddev));
  }
  Index dim() const { return dim_; }
  void sample(Matrix<S>& z, Index batch, Rng& rng) const {
    z.resize(dim_, batch);
    for (Index j = 0; j < batch; ++j)
      for (Index i = 0; i < dim_; ++i) z(i, j) = S(rng.normal(0.0, s_));
  }

 private:
  Index dim_;
  double s_;
};

/// Generator<Net, Latent>: a deterministic network on latent samples.
template <class Net, class Latent>
class Generator {
  static_assert(check_layer<Net>());

 public:
  using Scalar = typename Net::Scalar;
  static_assert(std::is_same_v<Scalar, typename Latent::Scalar>,
                "deepenergy: mismatched scalar types: the latent and the generator network "
                "must have the same Scalar");
  static constexpr int static_output_dim =
      detail::static_output_dim_of<Net>() >= 0 ? detail::static_output_dim_of<Net>() : Dynamic;
  /// Samples are generated independently when the network's layers say so.
  static constexpr bool independent_samples = detail::IndependentSamples<Net>;

  Generator(Net net, Latent latent) : net_(std::move(net)), latent_(std::move(latent)) {
    if constexpr (detail::HasInputDim<Net>)
      if (net_.input_dim() >= 0 && net_.input_dim() != latent_.dim())
        throw Error("Generator: the latent has dimension " + std::to_string(latent_.dim()) +
                    " but the network expects input size " + std::to_string(net_.input_dim()));
  }

  Index latent_dim() const { return latent_.dim(); }
  /// Output size, or -1 if the network does not fix it.
  Index output_dim() const {
    if constexpr (detail::HasOutputDim<Net>) return net_.output_dim();
    return -1;
  }

  /// Draws `batch` latents and returns G(z). Valid until the next call.
  const Matrix<Scalar>& sample(Index batch, Rng& rng) {
    latent_.sample(z_, batch, rng);
    return net_.forward(z_);
  }
  /// Draws a batch of latents (what sample() feeds the network), without the
  /// forward pass: the trainer runs it on column blocks of them.
  const Matrix<Scalar>& sample_latents(Index batch, Rng& rng) {
    latent_.sample(z_, batch, rng);
    return z_;
  }
  /// G(z) for given latents (kept alive by the caller until backward).
  const Matrix<Scalar>& forward(const Matrix<Scalar>& z) { return net_.forward(z); }
  /// Adds dL/dphi to the generator's parameter grads, given dL/dx.
  void backward(const Matrix<Scalar>& grad_x) { net_.backward(grad_x); }

  const Matrix<Scalar>& latents() const { return z_; }

  template <class F>
  void for_each_parameter(F&& f) {
    detail::visit_parameters(net_, f);
  }
  void initialize(Rng& rng) { detail::initialize_if_possible(net_, rng); }
  void set_training(bool on) {
    if constexpr (detail::HasSetTraining<Net>) net_.set_training(on);
  }

  Net& net() { return net_; }
  const Net& net() const { return net_; }
  Latent& latent() { return latent_; }
  const Latent& latent() const { return latent_; }

 private:
  Net net_;
  Latent latent_;
  Matrix<Scalar> z_;
};

}  // namespace deepenergy
