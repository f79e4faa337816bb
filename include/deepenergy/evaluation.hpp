// Evaluation of 2D (and 1D) energy-based models against known answers.
//
// Everything here is generic over the model: an *energy* is any callable
//
//     f(const Matrix<double>& x) -> RowVector<double>   (one energy per column)
//
// and the unnormalised density it defines is p~(x) = exp(-E(x)). All
// computations are in double. Energies are evaluated in chunks of at most
// `energy_chunk` columns, so memory stays bounded however fine a grid is.
//
// What is here:
//   * partition function by quadrature on a 1D or 2D box, with an error
//     estimate (grid resolution and box truncation);
//   * log density and negative log-likelihood given log Z;
//   * oracle entropies: equal-weight isotropic Gaussian mixtures and the
//     paper's four-spin set (exact density by change of variables);
//   * sample quality: unbiased MMD^2 with an RBF kernel, the median heuristic,
//     mode coverage on Gaussian-mixture data;
//   * alignment of generator and energy: Kozachenko-Leonenko entropy and
//     KL(P_G || P_E);
//   * a kernel density estimate (KDE) baseline with a validated bandwidth.
#pragma once

#include <algorithm>
#include <cmath>
#include <concepts>
#include <cstdint>
#include <limits>
#include <numbers>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "deepenergy/math.hpp"
#include "deepenergy/rng.hpp"
#include "deepenergy/types.hpp"

namespace deepenergy::eval {

/// At most this many columns are passed to an energy at once.
inline constexpr Index energy_chunk = 4096;

/// An energy: maps a batch (dims x n) to n energies.
template <class F>
concept Energy = requires(F& f, const Matrix<double>& x) {
  { f(x) } -> std::convertible_to<RowVector<double>>;
};

/// A Monte Carlo estimate: the sample mean and its standard error
/// (sample standard deviation / sqrt(n)).
struct Estimate {
  double value = 0.0;
  double standard_error = 0.0;
};

namespace detail {

inline std::string num(double v) {
  std::ostringstream s;
  s.precision(6);
  s << v;
  return s.str();
}

inline void require(bool ok, const std::string& who, const std::string& what) {
  if (!ok) throw Error("deepenergy::eval::" + who + ": " + what);
}

inline void require_finite(const Matrix<double>& x, const std::string& who, const char* name) {
  for (Index j = 0; j < x.cols(); ++j)
    for (Index i = 0; i < x.rows(); ++i)
      if (!std::isfinite(x(i, j)))
        throw Error("deepenergy::eval::" + who + ": " + name + "(" + std::to_string(i) + ", " +
                    std::to_string(j) + ") = " + num(x(i, j)) + " is not finite");
}

/// f(block), checked to hold one energy per column of block.
template <class F>
RowVector<double> energy_block(F& f, const Matrix<double>& block, const std::string& who) {
  RowVector<double> e = f(block);
  require(e.size() == block.cols(), who,
          "the energy returned " + std::to_string(e.size()) + " values for a batch of " +
              std::to_string(block.cols()) + " columns");
  return e;
}

/// All energies of x, chunked.
template <class F>
RowVector<double> energies(F& f, const Matrix<double>& x, const std::string& who) {
  RowVector<double> out(x.cols());
  for (Index b = 0; b < x.cols(); b += energy_chunk) {
    const Index m = std::min(energy_chunk, x.cols() - b);
    const Matrix<double> block = x.middleCols(b, m);
    out.segment(b, m) = energy_block(f, block, who);
  }
  return out;
}

/// Running log-sum-exp: log sum_i exp(v_i), accumulated chunk by chunk.
class LogSumExp {
 public:
  void add(double v) {
    if (v == -std::numeric_limits<double>::infinity()) return;
    if (v > max_) {
      sum_ = sum_ * std::exp(max_ - v) + 1.0;
      max_ = v;
    } else {
      sum_ += std::exp(v - max_);
    }
  }
  double value() const {
    return sum_ == 0.0 ? -std::numeric_limits<double>::infinity() : max_ + std::log(sum_);
  }

 private:
  double max_ = -std::numeric_limits<double>::infinity();
  double sum_ = 0.0;
};

/// Squared Euclidean distances D(i, j) = |a_i - b_j|^2 between the columns of
/// a (d x m) and b (d x n), clamped at zero against rounding.
inline Matrix<double> squared_distances(const Matrix<double>& a, const Matrix<double>& b) {
  const Vector<double> a2 = a.colwise().squaredNorm().transpose();
  const RowVector<double> b2 = b.colwise().squaredNorm();
  Matrix<double> d = -2.0 * (a.transpose() * b);
  d.colwise() += a2;
  d.rowwise() += b2;
  return d.cwiseMax(0.0);
}

inline Estimate mean_and_error(const std::vector<double>& v) {
  const double n = static_cast<double>(v.size());
  double mean = 0.0;
  for (double t : v) mean += t;
  mean /= n;
  double ss = 0.0;
  for (double t : v) ss += (t - mean) * (t - mean);
  const double var = v.size() > 1 ? ss / (n - 1.0) : 0.0;
  return {mean, std::sqrt(var / n)};
}

}  // namespace detail

// ---------------------------------------------------------------------------
// Integration box and partition function
// ---------------------------------------------------------------------------

/// An axis-aligned box [lo_0, hi_0] x ... (1D or 2D for quadrature).
struct Box {
  Vector<double> lo, hi;
  Index dims() const { return lo.size(); }
};

/// The bounding box of the columns of x, widened on each side by
///     margin_i = max(margin_fraction * (max_i - min_i), min_margin),
/// i.e. [min_i - margin_i, max_i + margin_i] in every dimension. Throws for an
/// empty or non-finite x, a negative margin_fraction or a non-positive
/// min_margin.
inline Box box_from_data(const Matrix<double>& x, double margin_fraction = 0.25,
                         double min_margin = 1e-3) {
  const std::string who = "box_from_data";
  detail::require(x.rows() > 0 && x.cols() > 0, who,
                  "x is " + std::to_string(x.rows()) + " x " + std::to_string(x.cols()) +
                      "; expected at least one dimension and one column");
  detail::require(
      margin_fraction >= 0.0 && std::isfinite(margin_fraction), who,
      "margin_fraction = " + detail::num(margin_fraction) + "; expected a finite value >= 0");
  detail::require(min_margin > 0.0 && std::isfinite(min_margin), who,
                  "min_margin = " + detail::num(min_margin) + "; expected a finite value > 0");
  detail::require_finite(x, who, "x");
  Box box;
  box.lo = x.rowwise().minCoeff();
  box.hi = x.rowwise().maxCoeff();
  for (Index i = 0; i < x.rows(); ++i) {
    const double m = std::max(margin_fraction * (box.hi(i) - box.lo(i)), min_margin);
    box.lo(i) -= m;
    box.hi(i) += m;
  }
  return box;
}

namespace detail {

inline void check_box(const Box& box, Index n, const std::string& who) {
  require(box.lo.size() == box.hi.size(), who,
          "box.lo has " + std::to_string(box.lo.size()) + " entries but box.hi has " +
              std::to_string(box.hi.size()));
  require(box.dims() == 1 || box.dims() == 2, who,
          "box has " + std::to_string(box.dims()) + " dimensions; expected 1 or 2");
  for (Index i = 0; i < box.dims(); ++i)
    require(std::isfinite(box.lo(i)) && std::isfinite(box.hi(i)) && box.lo(i) < box.hi(i), who,
            "box dimension " + std::to_string(i) + " is [" + num(box.lo(i)) + ", " +
                num(box.hi(i)) + "]; expected finite lo < hi");
  require(n >= 2, who, "n = " + std::to_string(n) + "; expected n >= 2 cells per dimension");
}

/// Midpoint rule, see log_partition.
template <class F>
double midpoint_log_partition(F& f, const Box& box, Index n, const std::string& who) {
  const Index d = box.dims();
  const Vector<double> h = (box.hi - box.lo) / static_cast<double>(n);
  Index total = n;
  if (d == 2) {
    require(n <= Index{1} << 26, who, "n = " + std::to_string(n) + " is too large for a 2D grid");
    total = n * n;
  }
  LogSumExp lse;
  Index bad = 0;
  std::string example;
  Matrix<double> block;
  for (Index b = 0; b < total; b += energy_chunk) {
    const Index m = std::min(energy_chunk, total - b);
    block.resize(d, m);
    for (Index t = 0; t < m; ++t) {
      const Index g = b + t;
      block(0, t) = box.lo(0) + (static_cast<double>(g % n) + 0.5) * h(0);
      if (d == 2) block(1, t) = box.lo(1) + (static_cast<double>(g / n) + 0.5) * h(1);
    }
    const RowVector<double> e = energy_block(f, block, who);
    for (Index t = 0; t < m; ++t) {
      if (!std::isfinite(e(t))) {
        if (bad++ == 0) {
          example = "E(" + num(block(0, t));
          if (d == 2) example += ", " + num(block(1, t));
          example += ") = " + num(e(t));
        }
        continue;
      }
      lse.add(-e(t));
    }
  }
  if (bad > 0)
    throw Error("deepenergy::eval::" + who + ": the energy is not finite at " +
                std::to_string(bad) + " of " + std::to_string(total) + " grid points (e.g. " +
                example + ")");
  return lse.value() + h.array().log().sum();
}

}  // namespace detail

/// log Z = log of the integral over `box` of exp(-E(x)) dx, by the midpoint
/// rule on n cells per dimension (n in 1D, n x n in 2D):
///
///     log Z ~= log(h_0 [h_1]) + logsumexp_{cells c} (-E(x_c)),
///     h_i = (hi_i - lo_i) / n,  x_c = cell centre,
///
/// with the log-sum-exp accumulated stably over chunks of `energy_chunk`
/// points. For a smooth, rapidly decaying exp(-E) the midpoint rule converges
/// very fast once h is small against the scale on which E varies; the mass
/// outside the box is NOT included (see log_partition_with_error).
///
/// Throws Error if the box is not 1D or 2D (or has lo >= hi), if n < 2, if the
/// energy returns the wrong number of values, or if any grid energy is not
/// finite (the message gives how many and one location).
template <class F>
requires Energy<F>
double log_partition(F&& f, const Box& box, Index n) {
  const std::string who = "log_partition";
  detail::check_box(box, n, who);
  return detail::midpoint_log_partition(f, box, n, who);
}

/// log Z with an estimate of its error; see log_partition_with_error.
struct PartitionEstimate {
  double log_z = 0.0;            ///< log Z on `box` with n cells per dimension
  double resolution_diff = 0.0;  ///< |log Z(n_req) - log Z(2 n_req)| on the requested box
  double box_diff = 0.0;         ///< |log Z(box) - log Z(box widened)|, same cell size
  double error_estimate = 0.0;   ///< resolution_diff + box_diff
  Index n = 0;                   ///< cells per dimension behind log_z (twice the request)
  Box box;                       ///< the box behind log_z (the requested one)
};

/// log Z (as log_partition) with an error estimate made of two parts:
///
///     resolution_diff = |log Z_box(n) - log Z_box(2n)|
///     box_diff        = |log Z_box(2n) - log Z_wide(4n)|
///     error_estimate  = resolution_diff + box_diff
///
/// where `wide` is the box widened by 50% of its width on each side (twice the
/// width, so 4n cells keep the finer grid's cell size and the finer grid's
/// cell centres are among its own). The result's log_z is the finer value
/// log Z_box(2n) and its n is 2n. resolution_diff bounds the quadrature error
/// of the coarser grid (conservative for the finer one); box_diff is the mass
/// found just outside the box, a lower bound on what the box misses.
/// Cost: (1 + 2^d + 4^d) n^d energy evaluations. Throws as log_partition.
template <class F>
requires Energy<F> PartitionEstimate log_partition_with_error(F&& f, const Box& box, Index n) {
  const std::string who = "log_partition_with_error";
  detail::check_box(box, n, who);
  const double coarse = detail::midpoint_log_partition(f, box, n, who);
  const double fine = detail::midpoint_log_partition(f, box, 2 * n, who);
  Box wide = box;
  const Vector<double> width = box.hi - box.lo;
  wide.lo = box.lo - 0.5 * width;
  wide.hi = box.hi + 0.5 * width;
  const double widened = detail::midpoint_log_partition(f, wide, 4 * n, who);
  PartitionEstimate r;
  r.log_z = fine;
  r.resolution_diff = std::abs(coarse - fine);
  r.box_diff = std::abs(fine - widened);
  r.error_estimate = r.resolution_diff + r.box_diff;
  r.n = 2 * n;
  r.box = box;
  return r;
}

// ---------------------------------------------------------------------------
// Log density and negative log-likelihood
// ---------------------------------------------------------------------------

/// log p(x) = -E(x) - log Z for every column of x.
template <class F>
requires Energy<F> RowVector<double> log_density(F&& f, const Matrix<double>& x, double log_z) {
  RowVector<double> e = detail::energies(f, x, "log_density");
  return (-e.array() - log_z).matrix();
}

/// Negative log-likelihood in nats, averaged over the columns of x_test:
///     NLL = (1/N) sum_j (E(x_j) + log Z).
/// Throws for an empty x_test.
template <class F>
requires Energy<F>
double nll(F&& f, const Matrix<double>& x_test, double log_z) {
  detail::require(x_test.cols() > 0, "nll", "x_test has no columns");
  const RowVector<double> e = detail::energies(f, x_test, "nll");
  return e.mean() + log_z;
}

// ---------------------------------------------------------------------------
// Oracle entropies
// ---------------------------------------------------------------------------

/// Differential entropy (nats) of the equal-weight isotropic Gaussian mixture
///     p(x) = (1/K) sum_k N(x; c_k, stddev^2 I_d),   c_k = centres.col(k),
/// by Monte Carlo: H = -E_p[log p(x)] ~= -(1/n_mc) sum_j log p(x_j) with
/// x_j ~ p (component k = rng.below(K), then d normals), and
///     log p(x) = logsumexp_k(-|x - c_k|^2 / (2 stddev^2)) - log K
///                - (d/2) log(2 pi stddev^2).
/// Returns the estimate with its standard error. Works in any dimension d.
inline Estimate mixture_entropy(const Matrix<double>& centres, double stddev, Index n_mc,
                                Rng& rng) {
  const std::string who = "mixture_entropy";
  detail::require(centres.rows() > 0 && centres.cols() > 0, who,
                  "centres is " + std::to_string(centres.rows()) + " x " +
                      std::to_string(centres.cols()) + "; expected d x K with d, K >= 1");
  detail::require(stddev > 0.0 && std::isfinite(stddev), who,
                  "stddev = " + detail::num(stddev) + "; expected a finite value > 0");
  detail::require(n_mc >= 2, who, "n_mc = " + std::to_string(n_mc) + "; expected n_mc >= 2");
  detail::require_finite(centres, who, "centres");
  const Index d = centres.rows();
  const Index k_count = centres.cols();
  const double log_norm =
      std::log(static_cast<double>(k_count)) +
      0.5 * static_cast<double>(d) * std::log(2.0 * std::numbers::pi * stddev * stddev);
  std::vector<double> neg_log_p(static_cast<std::size_t>(n_mc));
  Vector<double> x(d);
  for (Index j = 0; j < n_mc; ++j) {
    const auto k = static_cast<Index>(rng.below(static_cast<std::uint64_t>(k_count)));
    for (Index i = 0; i < d; ++i) x(i) = centres(i, k) + stddev * rng.normal();
    detail::LogSumExp lse;
    for (Index c = 0; c < k_count; ++c)
      lse.add(-(x - centres.col(c)).squaredNorm() / (2.0 * stddev * stddev));
    neg_log_p[static_cast<std::size_t>(j)] = log_norm - lse.value();
  }
  return detail::mean_and_error(neg_log_p);
}

/// Parameters of the four-spin distribution (the paper's Figure 2a data):
///     w ~ N((1, 0), diag(0.22^2, 0.1^2)),  k ~ uniform{0, 1, 2, 3},
///     theta_k(w_0) = 2 pi k / 4 + 0.52 exp(w_0),   x = R(theta_k(w_0)) w,
/// with R(a) the rotation by angle a.
struct FourSpin {
  static constexpr double mean0 = 1.0;
  static constexpr double stddev0 = 0.22;
  static constexpr double stddev1 = 0.1;
  static constexpr double twist = 0.52;
  static constexpr int arms = 4;
};

/// n four-spin points (2 x n), the oracle's own sampler. Random draws per
/// point, in this order: w_0 = 1 + 0.22 rng.normal(), w_1 = 0.1 rng.normal(),
/// k = rng.below(4).
inline Matrix<double> four_spin_sample(Index n, Rng& rng) {
  detail::require(n >= 0, "four_spin_sample", "n = " + std::to_string(n) + "; expected n >= 0");
  Matrix<double> x(2, n);
  for (Index j = 0; j < n; ++j) {
    const double w0 = FourSpin::mean0 + FourSpin::stddev0 * rng.normal();
    const double w1 = FourSpin::stddev1 * rng.normal();
    const auto k = static_cast<double>(rng.below(FourSpin::arms));
    const double a = 2.0 * std::numbers::pi * k / FourSpin::arms + FourSpin::twist * std::exp(w0);
    x(0, j) = std::cos(a) * w0 - std::sin(a) * w1;
    x(1, j) = std::sin(a) * w0 + std::cos(a) * w1;
  }
  return x;
}

namespace detail {

/// The four-spin angle map at radius r, relative to the target angle phi, in
/// units of pi/2: L(a) = (a + 0.52 exp(r cos a) - phi) / (pi/2); see
/// four_spin_log_density.
struct FourSpinLevel {
  double r, phi;
  double operator()(double a) const {
    return (a + FourSpin::twist * std::exp(r * std::cos(a)) - phi) / (std::numbers::pi / 2.0);
  }
  /// dL/da times pi/2, which is also det dx/dw = 1 - 0.52 w_1 exp(w_0).
  double det(double a) const {
    return 1.0 - FourSpin::twist * r * std::sin(a) * std::exp(r * std::cos(a));
  }
};

/// The root of level(a) = target in [p, q], where level is monotone on
/// [p, q] and level(p) - target, level(q) - target do not have the same sign:
/// Newton steps, with bisection whenever a step leaves the bracket.
inline double four_spin_root(const FourSpinLevel& level, double p, double q, double target) {
  const double lp = level(p);
  const double lq = level(q);
  double lo = lq > lp ? p : q;  // level(lo) <= target
  double hi = lq > lp ? q : p;  // level(hi) >= target
  // Start from the secant through the end points.
  double a = p + (q - p) * std::clamp((target - lp) / (lq - lp), 0.0, 1.0);
  for (int it = 0; it < 200; ++it) {
    const double f = level(a) - target;
    if (f == 0.0) return a;
    if (f < 0.0)
      lo = a;
    else
      hi = a;
    double next = a - f * (std::numbers::pi / 2.0) / level.det(a);
    const bool newton = next > std::min(lo, hi) && next < std::max(lo, hi);
    if (!newton) next = 0.5 * (lo + hi);
    // A Newton step this small leaves an error of about its square.
    if ((newton && std::abs(next - a) <= 1e-10) || next == a ||
        std::abs(hi - lo) <= 4.0 * std::numeric_limits<double>::epsilon())
      return next;
    a = next;
  }
  return a;
}

/// The a in [lo, hi] where h(a) = 0.52 r sin(a) exp(r cos a) = 1, for h
/// monotone on [lo, hi] with the crossing inside (bisection to the last bit).
inline double four_spin_fold(double r, double lo, double hi) {
  const auto h = [r](double a) {
    return FourSpin::twist * r * std::sin(a) * std::exp(r * std::cos(a));
  };
  const bool increasing = h(hi) > h(lo);
  for (int it = 0; it < 200; ++it) {
    const double mid = 0.5 * (lo + hi);
    if (mid <= lo || mid >= hi) break;
    if ((h(mid) < 1.0) == increasing)
      lo = mid;
    else
      hi = mid;
  }
  return 0.5 * (lo + hi);
}

}  // namespace detail

/// Exact log density of the four-spin distribution at every column of x.
///
/// Derivation. Per arm the map w -> x = R(theta_k(w_0)) w keeps the radius,
/// |x| = |w| = r, and adds theta_k(w_0) to the polar angle. Writing
/// w = r (cos a, sin a), the polar angle of x is
///     phi = a + 2 pi k / 4 + g(a),   g(a) = 0.52 exp(r cos a)   (mod 2 pi).
/// In polar coordinates the Jacobian is triangular (r is kept), so
///     det dx/dw = d phi / d a = 1 - 0.52 r sin a exp(r cos a)
///               = 1 - 0.52 w_1 exp(w_0)
/// (the same as det(R) det(I + R^T R' w theta' e_0^T) = 1 - theta'(w_0) w_1).
/// The per-arm map is not injective in general, and the four arms overlap, so
///     p(x) = (1/4) sum_k sum_{w : T_k(w) = x} N(w) / |1 - 0.52 w_1 exp(w_0)|.
/// All preimages (k, w) of x together are the angles a in [0, 2 pi) with
///     L(a) = (a + g(a) - phi) / (pi / 2)   an integer
/// (the integer mod 4 names the arm). Since sin(a) exp(r cos a) is zero at 0
/// and pi, unimodal on [0, pi] (peak at cos a = (sqrt(1 + 4 r^2) - 1) / (2 r))
/// and negative on (pi, 2 pi), L is increasing on the whole circle when
/// 0.52 r max_a sin(a) exp(r cos a) <= 1 (then x has exactly one preimage per
/// arm), and otherwise has exactly two folds 0 < a_1 < a_2 < pi (det = 0),
/// increasing on [0, a_1], decreasing on [a_1, a_2] and increasing on
/// [a_2, 2 pi]. The folds are found by bisection; on each monotone piece every
/// integer between the end values of L is one root, found by safeguarded
/// Newton steps. Nothing is missed, so the sum is exact up to rounding
/// (folds occur from r ~= 1.17 on; near them 1/|det| makes the density large
/// but integrable). The tests check that p integrates to 1 on a fine grid.
///
/// Returns -infinity where the Gaussian factor underflows, i.e. where
/// (|x| - 1)^2 / (2 0.22^2) > 745 (|x| > ~9.5).
inline RowVector<double> four_spin_log_density(const Matrix<double>& x) {
  const std::string who = "four_spin_log_density";
  detail::require(x.rows() == 2, who,
                  "x has " + std::to_string(x.rows()) + " rows; expected 2 (one point per column)");
  constexpr double pi = std::numbers::pi;
  constexpr double c = FourSpin::twist;
  constexpr double s0 = FourSpin::stddev0;
  constexpr double s1 = FourSpin::stddev1;
  const double log_gauss_norm = std::log(2.0 * pi * s0 * s1);
  const double log_arms = std::log(static_cast<double>(FourSpin::arms));
  const auto log_gauss = [&](double w0, double w1) {
    const double z0 = (w0 - FourSpin::mean0) / s0;
    const double z1 = w1 / s1;
    return -0.5 * (z0 * z0 + z1 * z1) - log_gauss_norm;
  };
  RowVector<double> out(x.cols());
  for (Index j = 0; j < x.cols(); ++j) {
    const double x0 = x(0, j);
    const double x1 = x(1, j);
    detail::require(std::isfinite(x0) && std::isfinite(x1), who,
                    "column " + std::to_string(j) + " is not finite");
    const double r = std::hypot(x0, x1);
    if (r == 0.0) {
      // Only w = 0 maps to 0, on every arm, with det = 1.
      out(j) = log_gauss(0.0, 0.0);
      continue;
    }
    // |w - (1, 0)| >= |r - 1| and s1 < s0 bound the Gaussian factor.
    if (0.5 * (r - 1.0) * (r - 1.0) / (s0 * s0) > 745.0) {
      out(j) = -std::numeric_limits<double>::infinity();
      continue;
    }
    const detail::FourSpinLevel level{r, std::atan2(x1, x0)};
    // Monotone pieces of L on [0, 2 pi].
    std::vector<double> ends{0.0};
    const double peak = std::acos((std::sqrt(1.0 + 4.0 * r * r) - 1.0) / (2.0 * r));
    if (c * r * std::sin(peak) * std::exp(r * std::cos(peak)) > 1.0) {
      ends.push_back(detail::four_spin_fold(r, 0.0, peak));
      ends.push_back(detail::four_spin_fold(r, peak, pi));
    }
    ends.push_back(2.0 * pi);
    detail::LogSumExp lse;
    for (std::size_t p = 0; p + 1 < ends.size(); ++p) {
      const double l0 = level(ends[p]);
      const double l1 = level(ends[p + 1]);
      const double lo = std::min(l0, l1);
      const double hi = std::max(l0, l1);
      for (double target = std::floor(lo) + 1.0; target <= hi; target += 1.0) {
        const double a = detail::four_spin_root(level, ends[p], ends[p + 1], target);
        const double det = std::abs(level.det(a));
        lse.add(log_gauss(r * std::cos(a), r * std::sin(a)) - std::log(det));
      }
    }
    out(j) = lse.value() - log_arms;
  }
  return out;
}

/// Differential entropy (nats) of the four-spin distribution by Monte Carlo
/// with its exact density (see four_spin_log_density), with the Gaussian
/// factor's part taken in closed form as a control variate. Draw (w_j, k_j)
/// and x_j = T_{k_j}(w_j) exactly as four_spin_sample does; then
///     H = E[-log p(x)] = H(w) + E[log N(w) - log p(x)],
///     H(w) = log(2 pi e 0.22 0.1)   (the Gaussian's entropy, -0.979 nats),
/// and the expectation is the sample mean of v_j = log N(w_j) - log p(x_j),
/// which is log 4 + log|1 - 0.52 w_1 e^{w_0}| less a tiny correction where
/// other preimages overlap. That has far less variance than -log p(x_j)
/// itself and the same expectation. The standard error is that of the mean
/// of v_j. The value is about 0.397 nats (-0.979 + 1.386 - 0.011).
inline Estimate four_spin_entropy(Index n_mc, Rng& rng) {
  detail::require(n_mc >= 2, "four_spin_entropy",
                  "n_mc = " + std::to_string(n_mc) + "; expected n_mc >= 2");
  constexpr double pi = std::numbers::pi;
  constexpr double s0 = FourSpin::stddev0;
  constexpr double s1 = FourSpin::stddev1;
  Matrix<double> x(2, n_mc);
  std::vector<double> log_n(static_cast<std::size_t>(n_mc));
  for (Index j = 0; j < n_mc; ++j) {
    const double w0 = FourSpin::mean0 + s0 * rng.normal();
    const double w1 = s1 * rng.normal();
    const auto k = static_cast<double>(rng.below(FourSpin::arms));
    const double a = 2.0 * pi * k / FourSpin::arms + FourSpin::twist * std::exp(w0);
    x(0, j) = std::cos(a) * w0 - std::sin(a) * w1;
    x(1, j) = std::sin(a) * w0 + std::cos(a) * w1;
    const double z0 = (w0 - FourSpin::mean0) / s0;
    const double z1 = w1 / s1;
    log_n[static_cast<std::size_t>(j)] = -0.5 * (z0 * z0 + z1 * z1) - std::log(2.0 * pi * s0 * s1);
  }
  const RowVector<double> lp = four_spin_log_density(x);
  std::vector<double> v(static_cast<std::size_t>(n_mc));
  for (Index j = 0; j < n_mc; ++j)
    v[static_cast<std::size_t>(j)] = log_n[static_cast<std::size_t>(j)] - lp(j);
  Estimate e = detail::mean_and_error(v);
  e.value += std::log(2.0 * pi * std::numbers::e * s0 * s1);
  return e;
}

// ---------------------------------------------------------------------------
// Sample quality
// ---------------------------------------------------------------------------

namespace detail {

/// Sum of k(a_i, b_j) = exp(-|a_i - b_j|^2 / (2 h^2)) over all pairs, or over
/// the pairs i != j when `same` (a and b are the same matrix).
inline double kernel_sum(const Matrix<double>& a, const Matrix<double>& b, double bandwidth,
                         bool same) {
  constexpr Index block = 1024;
  const double scale = -1.0 / (2.0 * bandwidth * bandwidth);
  double total = 0.0;
  for (Index i = 0; i < a.cols(); i += block) {
    const Index mi = std::min(block, a.cols() - i);
    for (Index j = 0; j < b.cols(); j += block) {
      const Index mj = std::min(block, b.cols() - j);
      Matrix<double> k = (scale * squared_distances(a.middleCols(i, mi), b.middleCols(j, mj)))
                             .array()
                             .exp()
                             .matrix();
      if (same && i == j) k.diagonal().setZero();
      total += k.sum();
    }
  }
  return total;
}

}  // namespace detail

/// Unbiased estimate of the squared maximum mean discrepancy between the
/// distributions of the columns of x (m samples) and y (n samples), with the
/// RBF kernel k(a, b) = exp(-|a - b|^2 / (2 h^2)):
///
///     MMD^2_u = 1/(m(m-1)) sum_{i != j} k(x_i, x_j)
///             + 1/(n(n-1)) sum_{i != j} k(y_i, y_j)
///             - 2/(m n)    sum_{i, j}   k(x_i, y_j).
///
/// Zero in expectation when both have the same distribution (so it can be
/// slightly negative). Needs m, n >= 2 and equal dimensions; O(m n) time,
/// memory bounded by 1024 x 1024 blocks.
inline double mmd2_unbiased(const Matrix<double>& x, const Matrix<double>& y, double bandwidth) {
  const std::string who = "mmd2_unbiased";
  detail::require(x.rows() == y.rows() && x.rows() > 0, who,
                  "x has " + std::to_string(x.rows()) + " rows and y has " +
                      std::to_string(y.rows()) + "; expected the same number (>= 1)");
  detail::require(x.cols() >= 2 && y.cols() >= 2, who,
                  "x has " + std::to_string(x.cols()) + " and y has " + std::to_string(y.cols()) +
                      " columns; expected at least 2 each");
  detail::require(bandwidth > 0.0 && std::isfinite(bandwidth), who,
                  "bandwidth = " + detail::num(bandwidth) + "; expected a finite value > 0");
  const auto m = static_cast<double>(x.cols());
  const auto n = static_cast<double>(y.cols());
  return detail::kernel_sum(x, x, bandwidth, true) / (m * (m - 1.0)) +
         detail::kernel_sum(y, y, bandwidth, true) / (n * (n - 1.0)) -
         2.0 * detail::kernel_sum(x, y, bandwidth, false) / (m * n);
}

/// The median heuristic for the RBF bandwidth: h = the median of the pairwise
/// Euclidean distances |a - b| over distinct pairs of the pooled columns of x
/// and y (used as-is in k = exp(-|a - b|^2 / (2 h^2))). When the pool has more
/// than max_points columns, the deterministic subsample of columns
/// floor(i * N / max_points), i = 0 .. max_points - 1, is used. Throws if the
/// median is zero (mostly duplicate points).
inline double median_heuristic_bandwidth(const Matrix<double>& x, const Matrix<double>& y,
                                         Index max_points = 1000) {
  const std::string who = "median_heuristic_bandwidth";
  detail::require(x.rows() == y.rows() && x.rows() > 0, who,
                  "x has " + std::to_string(x.rows()) + " rows and y has " +
                      std::to_string(y.rows()) + "; expected the same number (>= 1)");
  detail::require(max_points >= 2, who,
                  "max_points = " + std::to_string(max_points) + "; expected >= 2");
  const Index total = x.cols() + y.cols();
  detail::require(total >= 2, who, "fewer than 2 points in x and y together");
  const Index p = std::min(total, max_points);
  Matrix<double> pool(x.rows(), p);
  for (Index i = 0; i < p; ++i) {
    const auto src = static_cast<Index>((static_cast<std::int64_t>(i) * total) / p);
    pool.col(i) = src < x.cols() ? x.col(src) : y.col(src - x.cols());
  }
  const Matrix<double> d2 = detail::squared_distances(pool, pool);
  std::vector<double> v;
  v.reserve(static_cast<std::size_t>(p * (p - 1) / 2));
  for (Index j = 1; j < p; ++j)
    for (Index i = 0; i < j; ++i) v.push_back(d2(i, j));
  const std::size_t half = v.size() / 2;
  std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(half), v.end());
  double med = v[half];
  if (v.size() % 2 == 0) {
    const double below =
        *std::max_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(half));
    med = 0.5 * (med + below);
  }
  med = std::sqrt(med);
  detail::require(med > 0.0 && std::isfinite(med), who,
                  "the median pairwise distance is " + detail::num(med) + "; expected > 0");
  return med;
}

/// Result of mode_coverage.
struct ModeCoverage {
  Index modes_covered = 0;             ///< modes with >= min_count high-quality samples
  double high_quality_fraction = 0.0;  ///< high-quality samples / all samples
  Index min_count = 0;                 ///< the threshold that was used
  std::vector<Index> counts;           ///< high-quality samples per mode
};

/// Mode coverage of samples from a model of a Gaussian mixture with the given
/// centres (d x K) and per-component stddev (VEEGAN's / PacGAN's protocol):
///   * a sample is *high quality* if its Euclidean distance to its nearest
///     centre is <= 3 stddev; it is then assigned to that centre;
///   * a mode is *covered* if at least min_count high-quality samples are
///     assigned to it.
/// min_count <= 0 selects the default max(1, ceil(0.2 n / K)) for n samples:
/// a covered mode holds at least a fifth of its fair share (with 2500 samples
/// on 25 modes that is PacGAN's 20), so a handful of stray samples does not
/// count as capturing a mode. Pass 1 for "at least one sample".
inline ModeCoverage mode_coverage(const Matrix<double>& samples, const Matrix<double>& centres,
                                  double stddev, Index min_count = 0) {
  const std::string who = "mode_coverage";
  detail::require(samples.rows() == centres.rows() && samples.rows() > 0, who,
                  "samples have " + std::to_string(samples.rows()) + " rows and centres " +
                      std::to_string(centres.rows()) + "; expected the same number (>= 1)");
  detail::require(centres.cols() > 0, who, "centres has no columns");
  detail::require(samples.cols() > 0, who, "samples has no columns");
  detail::require(stddev > 0.0 && std::isfinite(stddev), who,
                  "stddev = " + detail::num(stddev) + "; expected a finite value > 0");
  const Index k_count = centres.cols();
  ModeCoverage r;
  r.min_count = min_count > 0 ? min_count
                              : std::max<Index>(1, static_cast<Index>(std::ceil(
                                                       0.2 * static_cast<double>(samples.cols()) /
                                                       static_cast<double>(k_count))));
  r.counts.assign(static_cast<std::size_t>(k_count), 0);
  const double limit2 = 9.0 * stddev * stddev;
  Index good = 0;
  for (Index b = 0; b < samples.cols(); b += energy_chunk) {
    const Index m = std::min(energy_chunk, samples.cols() - b);
    const Matrix<double> d2 = detail::squared_distances(centres, samples.middleCols(b, m));
    for (Index j = 0; j < m; ++j) {
      Index best = 0;
      const double dmin = d2.col(j).minCoeff(&best);
      if (dmin <= limit2) {
        ++good;
        ++r.counts[static_cast<std::size_t>(best)];
      }
    }
  }
  for (Index c : r.counts)
    if (c >= r.min_count) ++r.modes_covered;
  r.high_quality_fraction = static_cast<double>(good) / static_cast<double>(samples.cols());
  return r;
}

// ---------------------------------------------------------------------------
// Alignment of the generator with the energy
// ---------------------------------------------------------------------------

/// Kozachenko-Leonenko k-nearest-neighbour entropy estimate (nats) of the
/// distribution of the N columns of x (d dims):
///
///     H = psi(N) - psi(k) + log V_d + (d / N) sum_i log r_{i,k},
///     V_d = pi^{d/2} / Gamma(d/2 + 1)   (volume of the unit Euclidean ball),
///
/// with r_{i,k} the Euclidean distance from x_i to its k-th nearest other
/// point. Brute force, O(N^2 d) time and O(512 N) memory: fine up to some ten
/// thousand points. Throws if N <= k, k < 1, or some r_{i,k} is zero
/// (duplicate points).
inline double knn_entropy(const Matrix<double>& x, Index k = 3) {
  const std::string who = "knn_entropy";
  detail::require(k >= 1, who, "k = " + std::to_string(k) + "; expected k >= 1");
  detail::require(x.rows() > 0 && x.cols() > k, who,
                  "x is " + std::to_string(x.rows()) + " x " + std::to_string(x.cols()) +
                      "; expected at least one row and more than k = " + std::to_string(k) +
                      " columns");
  detail::require_finite(x, who, "x");
  const Index n = x.cols();
  const auto d = static_cast<double>(x.rows());
  constexpr Index block = 512;
  double sum_log_r = 0.0;
  std::vector<double> col(static_cast<std::size_t>(n));
  for (Index b = 0; b < n; b += block) {
    const Index m = std::min(block, n - b);
    const Matrix<double> d2 = detail::squared_distances(x, x.middleCols(b, m));
    for (Index j = 0; j < m; ++j) {
      for (Index i = 0; i < n; ++i) col[static_cast<std::size_t>(i)] = d2(i, j);
      col[static_cast<std::size_t>(b + j)] = std::numeric_limits<double>::infinity();
      std::nth_element(col.begin(), col.begin() + static_cast<std::ptrdiff_t>(k - 1), col.end());
      const double r2 = col[static_cast<std::size_t>(k - 1)];
      if (!(r2 > 0.0))
        throw Error("deepenergy::eval::knn_entropy: the distance from column " +
                    std::to_string(b + j) + " to its neighbour number " + std::to_string(k) +
                    " is zero (duplicate points); expected distinct points");
      sum_log_r += 0.5 * std::log(r2);
    }
  }
  const double log_vd = 0.5 * d * std::log(std::numbers::pi) - std::lgamma(0.5 * d + 1.0);
  return math::digamma_int(n) - math::digamma_int(k) + log_vd +
         d * sum_log_r / static_cast<double>(n);
}

/// KL divergence of the generator's distribution P_G from the energy model
/// P_E(x) = exp(-E(x)) / Z, estimated from generator samples:
///
///     KL(P_G || P_E) = E_{P_G}[log P_G - log P_E]
///                    = mean_j E(x_j) + log Z - H(P_G),
///
/// with H(P_G) by knn_entropy(gen_samples, k). Zero when the generator
/// matches the energy model (up to estimation error, mostly the entropy
/// estimator's bias).
template <class F>
requires Energy<F>
double alignment_kl(F&& f, const Matrix<double>& gen_samples, double log_z, Index k = 3) {
  const double h = knn_entropy(gen_samples, k);
  const RowVector<double> e = detail::energies(f, gen_samples, "alignment_kl");
  return e.mean() + log_z - h;
}

// ---------------------------------------------------------------------------
// Kernel density estimate baseline
// ---------------------------------------------------------------------------

/// An isotropic Gaussian kernel density estimate on d dims:
///     p(x) = (1/N) sum_j N(x; points_j, bandwidth^2 I_d).
struct Kde {
  Matrix<double> points;  ///< d x N
  double bandwidth = 1.0;
};

namespace detail {

/// Mean validation log-likelihood of a KDE on `train` for every bandwidth, one
/// pass over the distances (queries chunked to keep N x chunk <= 2^18).
inline std::vector<double> kde_mean_log_likelihoods(const Matrix<double>& train,
                                                    const Matrix<double>& query,
                                                    const std::vector<double>& bandwidths,
                                                    RowVector<double>* per_point = nullptr) {
  const Index n = train.cols();
  const auto d = static_cast<double>(train.rows());
  const Index chunk = std::max<Index>(1, (Index{1} << 18) / std::max<Index>(1, n));
  std::vector<double> total(bandwidths.size(), 0.0);
  if (per_point != nullptr) per_point->resize(query.cols());
  Matrix<double> d2;
  for (Index b = 0; b < query.cols(); b += chunk) {
    const Index m = std::min(chunk, query.cols() - b);
    d2 = squared_distances(train, query.middleCols(b, m));
    const RowVector<double> dmin = d2.colwise().minCoeff();
    d2.rowwise() -= dmin;  // now d2 - dmin >= 0 per column
    for (std::size_t t = 0; t < bandwidths.size(); ++t) {
      const double h = bandwidths[t];
      const double s = 1.0 / (2.0 * h * h);
      const double log_norm =
          std::log(static_cast<double>(n)) + 0.5 * d * std::log(2.0 * std::numbers::pi * h * h);
      // log sum_j exp(-s d2_j) = -s dmin + log sum_j exp(-s (d2_j - dmin)).
      // Exponents are clamped at -60: the largest term is 1, so the clamp
      // changes the sum by at most N e^-60 relative (4e-23 for N = 5000) and
      // keeps exp off its slow path for huge negative arguments.
      const RowVector<double> sums = (d2.array() * (-s)).max(-60.0).exp().colwise().sum().matrix();
      const RowVector<double> lp = (-s * dmin.array() + sums.array().log() - log_norm).matrix();
      total[t] += lp.sum();
      if (per_point != nullptr) per_point->segment(b, m) = lp;
    }
  }
  for (double& t : total) t /= static_cast<double>(query.cols());
  return total;
}

inline void check_kde_inputs(const Matrix<double>& points, double bandwidth,
                             const Matrix<double>& x, const std::string& who) {
  require(points.rows() > 0 && points.cols() > 0, who, "the KDE has no points");
  require(x.rows() == points.rows(), who,
          "x has " + std::to_string(x.rows()) + " rows but the KDE points have " +
              std::to_string(points.rows()));
  require(bandwidth > 0.0 && std::isfinite(bandwidth), who,
          "bandwidth = " + num(bandwidth) + "; expected a finite value > 0");
}

}  // namespace detail

/// log p(x) of the KDE at every column of x:
///     log p(x) = logsumexp_j(-|x - p_j|^2 / (2 h^2)) - log N - (d/2) log(2 pi h^2),
/// evaluated stably (shifted by the nearest point's distance) and in chunks.
inline RowVector<double> kde_log_density(const Kde& kde, const Matrix<double>& x) {
  detail::check_kde_inputs(kde.points, kde.bandwidth, x, "kde_log_density");
  RowVector<double> lp;
  detail::kde_mean_log_likelihoods(kde.points, x, {kde.bandwidth}, &lp);
  return lp;
}

/// The default bandwidth grid of fit_kde: 30 values log-spaced from h_s / 100
/// to 3 h_s, where h_s = s (4 / ((d + 2) N))^{1/(d+4)} is Silverman's rule with
/// s the root mean per-dimension variance of `train` (N columns, d dims). The
/// low end reaches the much smaller bandwidths that multimodal data need.
inline std::vector<double> default_kde_bandwidths(const Matrix<double>& train) {
  detail::require(train.rows() > 0 && train.cols() >= 2, "default_kde_bandwidths",
                  "train is " + std::to_string(train.rows()) + " x " +
                      std::to_string(train.cols()) + "; expected at least 2 columns");
  const auto n = static_cast<double>(train.cols());
  const auto d = static_cast<double>(train.rows());
  const Vector<double> mean = train.rowwise().mean();
  const double var = (train.colwise() - mean).squaredNorm() / ((n - 1.0) * d);
  double s = std::sqrt(var);
  if (!(s > 0.0)) s = 1.0;
  const double hs = s * std::pow(4.0 / ((d + 2.0) * n), 1.0 / (d + 4.0));
  constexpr int count = 30;
  std::vector<double> h(count);
  const double lo = std::log(hs / 100.0);
  const double hi = std::log(3.0 * hs);
  for (int i = 0; i < count; ++i)
    h[static_cast<std::size_t>(i)] = std::exp(lo + (hi - lo) * i / (count - 1));
  return h;
}

/// A KDE on `train` whose bandwidth maximises the mean validation
/// log-likelihood (1/M) sum_i log p_h(v_i) over the candidate bandwidths
/// (default_kde_bandwidths(train) when none are given). The chosen value may
/// sit at an end of the grid; pass a wider grid if it does. Cost: one
/// distance matrix N x M plus one exp per entry per candidate.
inline Kde fit_kde(const Matrix<double>& train, const Matrix<double>& validation,
                   std::vector<double> bandwidths = {}) {
  const std::string who = "fit_kde";
  detail::require(train.rows() > 0 && train.cols() > 0, who, "train has no points");
  detail::require(validation.rows() == train.rows() && validation.cols() > 0, who,
                  "validation is " + std::to_string(validation.rows()) + " x " +
                      std::to_string(validation.cols()) + "; expected " +
                      std::to_string(train.rows()) + " rows and at least one column");
  detail::require_finite(train, who, "train");
  detail::require_finite(validation, who, "validation");
  if (bandwidths.empty()) bandwidths = default_kde_bandwidths(train);
  for (double h : bandwidths)
    detail::require(h > 0.0 && std::isfinite(h), who,
                    "candidate bandwidth " + detail::num(h) + "; expected finite values > 0");
  const std::vector<double> ll = detail::kde_mean_log_likelihoods(train, validation, bandwidths);
  const auto best = static_cast<std::size_t>(std::max_element(ll.begin(), ll.end()) - ll.begin());
  return Kde{train, bandwidths[best]};
}

}  // namespace deepenergy::eval
