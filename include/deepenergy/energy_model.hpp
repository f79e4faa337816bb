// The deep energy model: E(x) = sum_k E_k(f(x)) + sum_m B_m(x), experts E_k on
// the deep features f(x) and base terms B_m on the raw input (paper eq. 2).
#pragma once

#include <string>
#include <tuple>
#include <utility>

#include "deepenergy/concepts.hpp"
#include "deepenergy/types.hpp"

namespace deepenergy {

/// EnergyModel<FeatureNet, Experts...>: FeatureNet is a Layer (usually a
/// Sequential) computing f(x); each expert satisfies the Expert contract.
///
/// Usage, for a batch x (dims x batch):
///   const auto& e = model.energy(x);           // E per sample (a row vector)
///   model.backward(w);      // grads += sum_j w_j dE(x_j)/dtheta
///   model.input_gradient(w) // returns sum_j w_j dE(x_j)/dx_j, no parameter grads
/// backward and input_gradient refer to the last energy() call.
template <class FeatureNet, class... Experts>
class EnergyModel {
  static_assert(check_layer<FeatureNet>());
  static_assert(sizeof...(Experts) > 0, "deepenergy: an EnergyModel needs at least one Expert");
  static_assert((check_expert<Experts>() && ...));

 public:
  using Scalar = typename FeatureNet::Scalar;
  // Experts must use the feature network's Scalar (all float or all double).
  static_assert((std::is_same_v<Scalar, typename Experts::Scalar> && ...),
                "deepenergy: mismatched scalar types: every Expert must have the feature "
                "network's Scalar");
  static constexpr int static_input_dim = detail::static_input_dim_of<FeatureNet>() >= 0
                                              ? detail::static_input_dim_of<FeatureNet>()
                                              : Dynamic;

  /// Every part processes samples independently (see Layer in concepts.hpp).
  static constexpr bool independent_samples =
      detail::IndependentSamples<FeatureNet> && (detail::IndependentSamples<Experts> && ...);

  explicit EnergyModel(FeatureNet features, Experts... experts)
      : features_(std::move(features)), experts_(std::move(experts)...) {
    check_sizes();
  }

  /// Input size, or -1 if neither the network nor a base term fixes it.
  Index input_dim() const { return input_dim_; }

  /// E(x_j) for every column of x. The reference is valid until the next call.
  const RowVector<Scalar>& energy(const Matrix<Scalar>& x) {
    x_ = &x;
    const Matrix<Scalar>& h = features_.forward(x);
    h_ = &h;
    e_.setZero(x.cols());
    for_each_expert([&](auto& ex) {
      if constexpr (detail::ReadsRawInput<std::remove_reference_t<decltype(ex)>>)
        ex.forward(x, e_);
      else
        ex.forward(h, e_);
    });
    return e_;
  }

  /// Adds sum_j weight(j) dE(x_j)/dtheta to the parameters' grads (for the
  /// batch of the last energy() call).
  void backward(const RowVector<Scalar>& weight) { propagate<false>(weight); }

  /// sum_j weight(j) dE(x_j)/dx_j for the last batch, column j. No parameter
  /// gradient is computed or touched.
  const Matrix<Scalar>& input_gradient(const RowVector<Scalar>& weight) {
    return propagate<true>(weight);
  }

  template <class F>
  void for_each_parameter(F&& f) {
    detail::visit_parameters(features_, f);
    for_each_expert([&](auto& ex) { detail::visit_parameters(ex, f); });
  }
  void initialize(Rng& rng) {
    detail::initialize_if_possible(features_, rng);
    for_each_expert([&](auto& ex) { detail::initialize_if_possible(ex, rng); });
  }
  void set_training(bool on) {
    if constexpr (detail::HasSetTraining<FeatureNet>) features_.set_training(on);
  }

  FeatureNet& features() { return features_; }
  const FeatureNet& features() const { return features_; }
  template <std::size_t I>
  auto& expert() {
    return std::get<I>(experts_);
  }

 private:
  template <class F>
  void for_each_expert(F&& f) {
    std::apply([&](auto&... ex) { (f(ex), ...); }, experts_);
  }

  template <bool InputOnly>
  const Matrix<Scalar>& propagate(const RowVector<Scalar>& weight) {
    // Experts on the features first, then back through the feature network.
    gh_.setZero(h_->rows(), h_->cols());
    gx_.setZero(x_->rows(), x_->cols());
    for_each_expert([&](auto& ex) {
      using E = std::remove_reference_t<decltype(ex)>;
      Matrix<Scalar>& g = detail::ReadsRawInput<E> ? gx_ : gh_;
      if constexpr (InputOnly && detail::HasParameters<E>)
        ex.backward_input(weight, g);
      else
        ex.backward(weight, g);
    });
    if constexpr (has_feature_experts) {
      if constexpr (InputOnly && detail::HasParameters<FeatureNet>)
        gx_ += features_.backward_input(gh_);
      else
        gx_ += features_.backward(gh_);
    }
    return gx_;
  }

  static constexpr bool has_feature_experts = (!detail::ReadsRawInput<Experts> || ...);

  void check_sizes() {
    const Index net_in = detail::HasInputDim<FeatureNet> ? dim_of_input() : -1;
    const Index net_out = detail::HasOutputDim<FeatureNet> ? dim_of_output() : -1;
    input_dim_ = net_in;
    std::size_t i = 0;
    for_each_expert([&](auto& ex) {
      using E = std::remove_reference_t<decltype(ex)>;
      if constexpr (detail::HasInputDim<E>) {
        const bool raw = detail::ReadsRawInput<E>;
        const Index want = raw ? input_dim_ : net_out;
        if (want >= 0 && ex.input_dim() != want)
          throw Error("EnergyModel: expert " + std::to_string(i) + " expects input size " +
                      std::to_string(ex.input_dim()) + " but the " +
                      (raw ? std::string("model input") : std::string("feature network output")) +
                      " has size " + std::to_string(want));
        if (raw && input_dim_ < 0) input_dim_ = ex.input_dim();
      }
      ++i;
    });
  }
  Index dim_of_input() const {
    if constexpr (detail::HasInputDim<FeatureNet>) return features_.input_dim();
    return -1;
  }
  Index dim_of_output() const {
    if constexpr (detail::HasOutputDim<FeatureNet>) return features_.output_dim();
    return -1;
  }

  FeatureNet features_;
  std::tuple<Experts...> experts_;
  Index input_dim_ = -1;
  const Matrix<Scalar>* x_ = nullptr;
  const Matrix<Scalar>* h_ = nullptr;
  RowVector<Scalar> e_;
  Matrix<Scalar> gh_, gx_;
};

}  // namespace deepenergy
