// Basic types shared by every component: batches, parameters and the library's
// exception type.
#pragma once

#include <Eigen/Core>

#include <array>
#include <cstdint>
#include <stdexcept>
#include <string>

namespace deepenergy {

/// A batch: one sample per column (features x batch), column-major.
template <class S>
using Matrix = Eigen::Matrix<S, Eigen::Dynamic, Eigen::Dynamic>;
/// One value per sample of a batch (energies, per-sample weights).
template <class S>
using RowVector = Eigen::Matrix<S, 1, Eigen::Dynamic>;
template <class S>
using Vector = Eigen::Matrix<S, Eigen::Dynamic, 1>;

using Index = Eigen::Index;

/// Marks a size known only at run time (the default everywhere).
inline constexpr int Dynamic = -1;

/// Every error the library reports on purpose. The message names what was
/// wrong (parameter, file, line and column where they apply) and what was
/// expected.
class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// A trainable tensor with its gradient and the optimiser's state.
///
/// The optimiser's per-parameter state lives here, next to the value it
/// belongs to, so copying or moving a network copies or moves its optimiser
/// state with it (never a map keyed by an address).
template <class S>
struct Parameter {
  std::string name;  ///< e.g. "Dense.W"; used in reports and checkpoints
  Matrix<S> value;
  Matrix<S> grad;                 ///< same shape as value; accumulated by backward
  std::array<Matrix<S>, 2> slot;  ///< optimiser state (AdaGrad uses slot[0])
  std::int64_t updates = 0;       ///< how many optimiser updates were applied
  /// False for state that is saved with the model but not learned by
  /// gradient (BatchNorm's running averages): optimisers and the gradient
  /// checker skip it.
  bool trainable = true;

  Parameter() = default;
  Parameter(std::string n, Index rows, Index cols)
      : name(std::move(n)), value(Matrix<S>::Zero(rows, cols)), grad(Matrix<S>::Zero(rows, cols)) {}

  void zero_grad() { grad.setZero(); }
};

}  // namespace deepenergy
