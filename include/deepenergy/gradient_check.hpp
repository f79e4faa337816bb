// A public gradient checker: central finite differences in double precision,
// for layers, experts, energy models and the generator step's chain. Users
// run it on their own types exactly as the library's tests do.
#pragma once

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "deepenergy/concepts.hpp"
#include "deepenergy/rng.hpp"
#include "deepenergy/types.hpp"

namespace deepenergy::testing {

struct GradientCheckOptions {
  double step = 1e-5;  ///< finite-difference step h
  /// Relative error is |analytic - numeric| / max(|analytic|, |numeric|, scale_floor):
  /// the floor keeps gradients that are zero up to round-off from dominating.
  double scale_floor = 1e-4;
  /// Entries checked per parameter tensor (and for the input); 0 = all.
  /// A subset is chosen deterministically from `seed`.
  Index max_entries = 0;
  std::uint64_t seed = 1;
};

/// The result: the worst relative error and where it occurred.
struct GradientCheckReport {
  double max_relative_error = 0.0;
  std::string worst;                     ///< e.g. "Dense.W[3,1] (parameter 0)" or "input[0,2]"
  Index checked = 0;                     ///< number of entries compared
  double analytic = 0.0, numeric = 0.0;  ///< at the worst entry

  void merge(const GradientCheckReport& o) {
    checked += o.checked;
    if (o.max_relative_error > max_relative_error) {
      max_relative_error = o.max_relative_error;
      worst = o.worst;
      analytic = o.analytic;
      numeric = o.numeric;
    }
  }
};

namespace detail {

template <class T>
inline constexpr bool dependent_false = false;

// What each check_gradients overload below accepts; the last overload takes
// the rest and says what is missing.
template <class T>
concept CheckableLayer = Layer<T> && std::is_same_v<typename T::Scalar, double>;
template <class T>
concept CheckableExpert = Expert<T> && std::is_same_v<typename T::Scalar, double>;
// A model's Scalar, where it names one, must be double: a float model would
// match the calls below too, because Eigen's Matrix converts implicitly
// between scalar types at the declaration level.
template <class T>
constexpr bool double_or_no_scalar() {
  if constexpr (requires { typename T::Scalar; })
    return std::is_same_v<typename T::Scalar, double>;
  else
    return true;
}
template <class T>
concept CheckableModel = double_or_no_scalar<T>() &&
    requires(T& m, const Matrix<double>& x, const RowVector<double>& w) {
  m.energy(x);
  m.backward(w);
  m.input_gradient(w);
};

inline std::vector<Index> pick_entries(Index n, const GradientCheckOptions& opt) {
  std::vector<Index> idx(static_cast<std::size_t>(n));
  for (Index i = 0; i < n; ++i) idx[std::size_t(i)] = i;
  if (opt.max_entries > 0 && n > opt.max_entries) {
    Rng rng(opt.seed);
    for (Index i = 0; i < opt.max_entries; ++i)  // partial Fisher-Yates
      std::swap(idx[std::size_t(i)], idx[std::size_t(i + Index(rng.below(std::uint64_t(n - i))))]);
    idx.resize(std::size_t(opt.max_entries));
  }
  return idx;
}

inline void compare(GradientCheckReport& r, double a, double n, const std::string& where,
                    const GradientCheckOptions& opt) {
  const double scale = std::max({std::abs(a), std::abs(n), opt.scale_floor});
  const double rel = std::abs(a - n) / scale;
  ++r.checked;
  if (rel > r.max_relative_error || !std::isfinite(rel)) {
    r.max_relative_error = std::isfinite(rel) ? rel : INFINITY;
    r.worst = where;
    r.analytic = a;
    r.numeric = n;
  }
}

/// Compares `analytic` with central differences of loss() over the entries
/// of `m` (perturbed in place and restored).
template <class Loss>
void check_matrix(GradientCheckReport& r, Matrix<double>& m, const Matrix<double>& analytic,
                  const std::string& name, Loss&& loss, const GradientCheckOptions& opt) {
  for (Index k : pick_entries(m.size(), opt)) {
    const Index i = k % m.rows(), j = k / m.rows();
    const double saved = m(i, j);
    m(i, j) = saved + opt.step;
    const double up = loss();
    m(i, j) = saved - opt.step;
    const double down = loss();
    m(i, j) = saved;
    compare(r, analytic(i, j), (up - down) / (2 * opt.step),
            name + "[" + std::to_string(i) + "," + std::to_string(j) + "]", opt);
  }
}

template <class T>
void zero_all(T& t) {
  deepenergy::detail::visit_parameters(t, [](auto& p) { p.zero_grad(); });
}

template <class T>
std::vector<Matrix<double>> grads_of(T& t) {
  std::vector<Matrix<double>> g;
  deepenergy::detail::visit_parameters(t, [&](auto& p) { g.push_back(p.grad); });
  return g;
}

/// Checks every parameter of t against loss(), given analytic grads.
template <class T, class Loss>
void check_parameters(GradientCheckReport& r, T& t, const std::vector<Matrix<double>>& analytic,
                      Loss&& loss, const GradientCheckOptions& opt) {
  std::size_t i = 0;
  deepenergy::detail::visit_parameters(t, [&](Parameter<double>& p) {
    if (p.trainable)
      check_matrix(r, p.value, analytic[i], p.name + " (parameter " + std::to_string(i) + ")", loss,
                   opt);
    ++i;
  });
}

inline Matrix<double> random_like(Index rows, Index cols, Rng& rng) {
  Matrix<double> m(rows, cols);
  for (Index j = 0; j < cols; ++j)
    for (Index i = 0; i < rows; ++i) m(i, j) = rng.normal();
  return m;
}

}  // namespace detail

/// Layer: loss = sum(R .* forward(x)) for a fixed random R. Checks the
/// parameter gradients of backward, its input gradient, and that
/// backward_input returns the same input gradient without touching the
/// parameter gradients.
template <detail::CheckableLayer L>
GradientCheckReport check_gradients(L& layer, Matrix<double> x,
                                    const GradientCheckOptions& opt = {}) {
  Rng rng(opt.seed + 17);
  const Matrix<double> R = detail::random_like(layer.forward(x).rows(), x.cols(), rng);
  auto loss = [&] { return (layer.forward(x).array() * R.array()).sum(); };

  detail::zero_all(layer);
  layer.forward(x);
  const Matrix<double> dx = layer.backward(R);
  const auto grads = detail::grads_of(layer);

  GradientCheckReport r;
  detail::check_parameters(r, layer, grads, loss, opt);
  detail::check_matrix(r, x, dx, "input", loss, opt);

  if constexpr (deepenergy::detail::HasBackwardInput<L>) {
    detail::zero_all(layer);
    layer.forward(x);
    const Matrix<double> dx2 = layer.backward_input(R);
    for (Index k = 0; k < dx.size(); ++k)
      detail::compare(r, dx(k), dx2(k), "backward_input vs backward [" + std::to_string(k) + "]",
                      opt);
    deepenergy::detail::visit_parameters(layer, [&](auto& p) {
      detail::compare(r, p.grad.cwiseAbs().maxCoeff(), 0.0,
                      p.name + ": backward_input changed a parameter gradient", opt);
    });
  }
  return r;
}

/// Expert: loss = sum_j r_j E(input_j) for fixed random weights r.
template <detail::CheckableExpert E>
GradientCheckReport check_gradients(E& expert, Matrix<double> input,
                                    const GradientCheckOptions& opt = {}) {
  Rng rng(opt.seed + 29);
  const RowVector<double> w = detail::random_like(1, input.cols(), rng);
  RowVector<double> e;
  auto loss = [&] {
    e.setZero(input.cols());
    expert.forward(input, e);
    return e.dot(w);
  };
  detail::zero_all(expert);
  loss();
  Matrix<double> g = Matrix<double>::Zero(input.rows(), input.cols());
  expert.backward(w, g);
  const auto grads = detail::grads_of(expert);

  GradientCheckReport r;
  detail::check_parameters(r, expert, grads, loss, opt);
  detail::check_matrix(r, input, g, "input", loss, opt);

  if constexpr (deepenergy::detail::HasExpertBackwardInput<E>) {
    detail::zero_all(expert);
    loss();
    Matrix<double> g2 = Matrix<double>::Zero(input.rows(), input.cols());
    expert.backward_input(w, g2);
    for (Index k = 0; k < g.size(); ++k)
      detail::compare(r, g(k), g2(k), "backward_input vs backward [" + std::to_string(k) + "]",
                      opt);
    deepenergy::detail::visit_parameters(expert, [&](auto& p) {
      detail::compare(r, p.grad.cwiseAbs().maxCoeff(), 0.0,
                      p.name + ": backward_input changed a parameter gradient", opt);
    });
  }
  return r;
}

/// Energy model (anything with energy / backward / input_gradient, such as
/// EnergyModel): loss = sum_j r_j E(x_j). Checks parameters and input.
template <detail::CheckableModel M>
GradientCheckReport check_gradients(M& model, Matrix<double> x,
                                    const GradientCheckOptions& opt = {}) {
  Rng rng(opt.seed + 31);
  const RowVector<double> w = detail::random_like(1, x.cols(), rng);
  auto loss = [&] { return model.energy(x).dot(w); };
  detail::zero_all(model);
  loss();
  model.backward(w);
  const auto grads = detail::grads_of(model);
  loss();
  const Matrix<double> dx = model.input_gradient(w);

  GradientCheckReport r;
  detail::check_parameters(r, model, grads, loss, opt);
  detail::check_matrix(r, x, dx, "input", loss, opt);

  // input_gradient must not have touched the parameter gradients.
  std::size_t i = 0;
  deepenergy::detail::visit_parameters(model, [&](auto& p) {
    detail::compare(r, (p.grad - grads[i]).cwiseAbs().maxCoeff(), 0.0,
                    p.name + ": input_gradient changed a parameter gradient", opt);
    ++i;
  });
  return r;
}

/// The generator step's chain: loss = sum_j r_j E(G(z_j)), checked against
/// the generator's parameter gradients computed as the trainer does
/// (input_gradient of E, then backward through G). Also checks that no
/// energy parameter gradient was computed.
template <class Gen, class M>
GradientCheckReport check_gradients(Gen& generator, M& energy, const Matrix<double>& z,
                                    const GradientCheckOptions& opt = {}) {
  Rng rng(opt.seed + 37);
  const RowVector<double> w = detail::random_like(1, z.cols(), rng);
  auto loss = [&] { return energy.energy(generator.forward(z)).dot(w); };
  detail::zero_all(generator);
  detail::zero_all(energy);
  loss();
  generator.backward(energy.input_gradient(w));
  const auto grads = detail::grads_of(generator);

  GradientCheckReport r;
  detail::check_parameters(r, generator, grads, loss, opt);
  deepenergy::detail::visit_parameters(energy, [&](auto& p) {
    detail::compare(r, p.grad.cwiseAbs().maxCoeff(), 0.0,
                    p.name + ": the generator step computed an energy parameter gradient", opt);
  });
  return r;
}

/// Any other type in the two-argument form: instead of "no matching
/// function", one sentence that says what is missing. A type with a one-
/// argument forward is taken for a Layer and one with forward(input, energy)
/// for an Expert, and their contract checks (concepts.hpp) name the missing
/// member; everything else gets the list of what check_gradients accepts.
template <class T>
requires(!detail::CheckableLayer<T> && !detail::CheckableExpert<T> &&
         !detail::CheckableModel<T>) GradientCheckReport
    check_gradients(T&, Matrix<double>, const GradientCheckOptions& = {}) {
  if constexpr (!requires { typename T::Scalar; }) {
    static_assert(detail::dependent_false<T>,
                  "deepenergy: check_gradients needs a Layer, an Expert or an energy model; "
                  "this type has no `using Scalar = double;`");
  } else if constexpr (!std::is_same_v<typename T::Scalar, double>) {
    static_assert(detail::dependent_false<T>,
                  "deepenergy: check_gradients runs in double precision: instantiate your type "
                  "with Scalar = double");
  } else if constexpr (requires(T & t, const Matrix<double>& m) { t.forward(m); }) {
    static_assert(check_layer<T>());  // names the missing member
  } else if constexpr (requires(T & t, const Matrix<double>& m, RowVector<double>& r) {
                         t.forward(m, r);
                       }) {
    static_assert(check_expert<T>());  // names the missing member
  } else {
    static_assert(detail::dependent_false<T>,
                  "deepenergy: check_gradients needs a Layer (forward, backward), an Expert "
                  "(forward(input, energy), backward(weight, grad_input)) or an energy model "
                  "(energy, backward, input_gradient); this type is none of them");
  }
  return {};
}

}  // namespace deepenergy::testing
