// Synthetic 2D data sets: the paper's two-spiral and four-spin sets and two
// mode-coverage mixtures (eight and twenty-five Gaussians).
//
// Every generator returns a 2 x n batch (one point per column) and draws all
// its randomness from a deepenergy::Rng, so a seed gives the same points on
// every platform. Values are computed in double and rounded to S at the end,
// so the float and double versions of a data set agree to float precision.
#pragma once

#include "deepenergy/rng.hpp"
#include "deepenergy/types.hpp"

#include <array>
#include <cmath>
#include <cstdint>
#include <limits>
#include <numbers>
#include <string>
#include <string_view>
#include <vector>

namespace deepenergy::datasets {

/// The number of points the paper uses for each data set.
inline constexpr Index default_size = 10000;

namespace detail {

inline void check_size(Index n, const char* who) {
  if (n < 0) {
    throw Error(std::string("deepenergy::datasets::") + who + ": n = " + std::to_string(n) +
                "; expected a non-negative number of points");
  }
}

/// n points from the equal-weight isotropic Gaussian mixture with the given
/// centres (2 x K, in double) and standard deviation. Per point: the
/// component (rng.below(K)), then the two normal variates.
template <class S>
Matrix<S> sample_mixture(const Matrix<double>& centres, double stddev, Index n, Rng& rng,
                         std::vector<Index>* component) {
  const auto k = static_cast<std::uint64_t>(centres.cols());
  Matrix<S> x(2, n);
  if (component != nullptr) component->assign(static_cast<std::size_t>(n), 0);
  for (Index j = 0; j < n; ++j) {
    const auto c = static_cast<Index>(rng.below(k));
    const double e0 = rng.normal();
    const double e1 = rng.normal();
    x(0, j) = static_cast<S>(centres(0, c) + stddev * e0);
    x(1, j) = static_cast<S>(centres(1, c) + stddev * e1);
    if (component != nullptr) (*component)[static_cast<std::size_t>(j)] = c;
  }
  return x;
}

}  // namespace detail

/// Exact log-density of the equal-weight isotropic Gaussian mixture
///   p(x) = (1/K) sum_k N(x; c_k, stddev^2 I)
/// at every column of x (D x N, same D as the centres), computed with a
/// log-sum-exp over components so far-away points do not underflow to -inf.
inline RowVector<double> mixture_log_density(const Matrix<double>& centres, double stddev,
                                             const Matrix<double>& x) {
  if (centres.cols() == 0) {
    throw Error("deepenergy::datasets::mixture_log_density: no centres; expected at least one");
  }
  if (!(stddev > 0.0) || !std::isfinite(stddev)) {
    throw Error("deepenergy::datasets::mixture_log_density: stddev = " + std::to_string(stddev) +
                "; expected a finite positive number");
  }
  if (x.rows() != centres.rows()) {
    throw Error("deepenergy::datasets::mixture_log_density: x has " + std::to_string(x.rows()) +
                " rows; expected " + std::to_string(centres.rows()) +
                " (the dimension of the centres)");
  }
  const double d = static_cast<double>(centres.rows());
  const double k = static_cast<double>(centres.cols());
  const double log_norm =
      -std::log(k) - 0.5 * d * std::log(2.0 * std::numbers::pi * stddev * stddev);
  const double inv_two_var = 1.0 / (2.0 * stddev * stddev);
  RowVector<double> out(x.cols());
  std::vector<double> terms(static_cast<std::size_t>(centres.cols()));
  for (Index j = 0; j < x.cols(); ++j) {
    double top = -std::numeric_limits<double>::infinity();
    for (Index c = 0; c < centres.cols(); ++c) {
      const double t = -(x.col(j) - centres.col(c)).squaredNorm() * inv_two_var;
      terms[static_cast<std::size_t>(c)] = t;
      if (t > top) top = t;
    }
    double sum = 0.0;
    for (const double t : terms) sum += std::exp(t - top);
    out(j) = log_norm + top + std::log(sum);
  }
  return out;
}

// ---------------------------------------------------------------------------
// Two spirals

/// Standard deviation of the Gaussian noise around each two-spiral centre.
inline constexpr double two_spiral_stddev = 0.45;
/// Centres per arm; the set has two arms, so 2 * 50 = 100 centres.
inline constexpr Index two_spiral_centres_per_arm = 50;

/// The 100 two-spiral centres (2 x 100). With t_i, i = 0..49, evenly spaced
/// from 120 to 480 degrees (both ends included, in radians), column i is arm
/// A's centre (-cos(t) t, sin(t) t) and column 50 + i is arm B's centre
/// (cos(t) t, -sin(t) t), the point reflection of arm A.
template <class S = float>
Matrix<S> two_spiral_centres() {
  const Index m = two_spiral_centres_per_arm;
  Matrix<S> c(2, 2 * m);
  const double deg = std::numbers::pi / 180.0;
  for (Index i = 0; i < m; ++i) {
    const double t =
        (120.0 + (480.0 - 120.0) * static_cast<double>(i) / static_cast<double>(m - 1)) * deg;
    c(0, i) = static_cast<S>(-std::cos(t) * t);
    c(1, i) = static_cast<S>(std::sin(t) * t);
    c(0, m + i) = static_cast<S>(std::cos(t) * t);
    c(1, m + i) = static_cast<S>(-std::sin(t) * t);
  }
  return c;
}

/// n points (2 x n) of the two-spiral set: each point is one of the 100
/// centres chosen uniformly plus N(0, 0.45^2 I) noise. If `component` is
/// given it receives each point's centre index (0..99).
template <class S = float>
Matrix<S> two_spiral(Index n, Rng& rng, std::vector<Index>* component = nullptr) {
  detail::check_size(n, "two_spiral");
  return detail::sample_mixture<S>(two_spiral_centres<double>(), two_spiral_stddev, n, rng,
                                   component);
}
/// default_size (10000) two-spiral points.
template <class S = float>
Matrix<S> two_spiral(Rng& rng) {
  return two_spiral<S>(default_size, rng);
}
/// n two-spiral points from a fresh Rng(seed).
template <class S = float>
Matrix<S> two_spiral(Index n, std::uint64_t seed) {
  Rng rng(seed);
  return two_spiral<S>(n, rng);
}

/// Exact log-density of the two-spiral distribution at every column of x
/// (2 x N): log of (1/100) sum_k N(x; c_k, 0.45^2 I).
inline RowVector<double> two_spiral_log_density(const Matrix<double>& x) {
  return mixture_log_density(two_spiral_centres<double>(), two_spiral_stddev, x);
}

// ---------------------------------------------------------------------------
// Four spins

/// w ~ N(four_spin_mean, diag(four_spin_stddev^2)).
inline constexpr std::array<double, 2> four_spin_mean{1.0, 0.0};
inline constexpr std::array<double, 2> four_spin_stddev{0.22, 0.1};
/// The rotation angle grows as four_spin_twist * exp(w_0).
inline constexpr double four_spin_twist = 0.52;
inline constexpr Index four_spin_arms = 4;

/// n points (2 x n) of the four-spin set. Per point: w ~ N((1, 0),
/// diag(0.22^2, 0.1^2)), an arm k uniform in {0, 1, 2, 3}, the angle
/// a = 2 pi k / 4 + 0.52 exp(w_0) and x = R(a) w with R(a) the rotation by a.
/// The rotation keeps |x| = |w|. The distribution's differential entropy is
/// about 0.39 nats (an estimate; it is not computed here). If `component` is
/// given it receives each point's arm k. Random draws per point: w_0, w_1,
/// then rng.below(4).
template <class S = float>
Matrix<S> four_spin(Index n, Rng& rng, std::vector<Index>* component = nullptr) {
  detail::check_size(n, "four_spin");
  Matrix<S> x(2, n);
  if (component != nullptr) component->assign(static_cast<std::size_t>(n), 0);
  for (Index j = 0; j < n; ++j) {
    const double w0 = four_spin_mean[0] + four_spin_stddev[0] * rng.normal();
    const double w1 = four_spin_mean[1] + four_spin_stddev[1] * rng.normal();
    const auto k = static_cast<Index>(rng.below(static_cast<std::uint64_t>(four_spin_arms)));
    const double a =
        2.0 * std::numbers::pi * static_cast<double>(k) / static_cast<double>(four_spin_arms) +
        four_spin_twist * std::exp(w0);
    const double c = std::cos(a);
    const double s = std::sin(a);
    x(0, j) = static_cast<S>(c * w0 - s * w1);
    x(1, j) = static_cast<S>(s * w0 + c * w1);
    if (component != nullptr) (*component)[static_cast<std::size_t>(j)] = k;
  }
  return x;
}
template <class S = float>
Matrix<S> four_spin(Rng& rng) {
  return four_spin<S>(default_size, rng);
}
template <class S = float>
Matrix<S> four_spin(Index n, std::uint64_t seed) {
  Rng rng(seed);
  return four_spin<S>(n, rng);
}

// ---------------------------------------------------------------------------
// Mode-coverage mixtures

/// Eight Gaussians on the circle of radius 2, at angles 2 pi k / 8.
inline constexpr double eight_gaussians_radius = 2.0;
inline constexpr double eight_gaussians_stddev = 0.02;

/// The 8 centres (2 x 8): column k is 2 (cos(2 pi k/8), sin(2 pi k/8)).
template <class S = float>
Matrix<S> eight_gaussians_centres() {
  Matrix<S> c(2, 8);
  for (Index k = 0; k < 8; ++k) {
    const double a = 2.0 * std::numbers::pi * static_cast<double>(k) / 8.0;
    c(0, k) = static_cast<S>(eight_gaussians_radius * std::cos(a));
    c(1, k) = static_cast<S>(eight_gaussians_radius * std::sin(a));
  }
  return c;
}

/// n points (2 x n): a centre chosen uniformly plus N(0, 0.02^2 I).
template <class S = float>
Matrix<S> eight_gaussians(Index n, Rng& rng, std::vector<Index>* component = nullptr) {
  detail::check_size(n, "eight_gaussians");
  return detail::sample_mixture<S>(eight_gaussians_centres<double>(), eight_gaussians_stddev, n,
                                   rng, component);
}
template <class S = float>
Matrix<S> eight_gaussians(Rng& rng) {
  return eight_gaussians<S>(default_size, rng);
}
template <class S = float>
Matrix<S> eight_gaussians(Index n, std::uint64_t seed) {
  Rng rng(seed);
  return eight_gaussians<S>(n, rng);
}

/// Twenty-five Gaussians centred on the grid {-4, -2, 0, 2, 4}^2.
inline constexpr double twenty_five_gaussians_stddev = 0.05;

/// The 25 centres (2 x 25): column 5 i + j is (-4 + 2 i, -4 + 2 j).
template <class S = float>
Matrix<S> twenty_five_gaussians_centres() {
  Matrix<S> c(2, 25);
  for (Index i = 0; i < 5; ++i) {
    for (Index j = 0; j < 5; ++j) {
      c(0, 5 * i + j) = static_cast<S>(-4.0 + 2.0 * static_cast<double>(i));
      c(1, 5 * i + j) = static_cast<S>(-4.0 + 2.0 * static_cast<double>(j));
    }
  }
  return c;
}

/// n points (2 x n): a centre chosen uniformly plus N(0, 0.05^2 I).
template <class S = float>
Matrix<S> twenty_five_gaussians(Index n, Rng& rng, std::vector<Index>* component = nullptr) {
  detail::check_size(n, "twenty_five_gaussians");
  return detail::sample_mixture<S>(twenty_five_gaussians_centres<double>(),
                                   twenty_five_gaussians_stddev, n, rng, component);
}
template <class S = float>
Matrix<S> twenty_five_gaussians(Rng& rng) {
  return twenty_five_gaussians<S>(default_size, rng);
}
template <class S = float>
Matrix<S> twenty_five_gaussians(Index n, std::uint64_t seed) {
  Rng rng(seed);
  return twenty_five_gaussians<S>(n, rng);
}

// ---------------------------------------------------------------------------
// Choosing a data set by name (command lines of the examples)

enum class Name { two_spiral, four_spin, eight_gaussians, twenty_five_gaussians };

/// What an example needs to know about a data set besides its points.
struct Info {
  Name name;
  std::string_view id;           ///< the command-line spelling, e.g. "two-spiral"
  std::string_view description;  ///< one line for --help and reports
  double half_width;  ///< [-half_width, half_width]^2 holds essentially all points (plots)
};

/// Every data set, in the order of the enum.
inline constexpr std::array<Info, 4> all_datasets{{
    {Name::two_spiral, "two-spiral", "two spiral arms of 50 Gaussians each (std 0.45)", 11.0},
    {Name::four_spin, "four-spin", "four rotated arms, x = R(pi k/2 + 0.52 exp(w0)) w", 2.5},
    {Name::eight_gaussians, "eight-gaussians", "8 Gaussians (std 0.02) on a circle of radius 2",
     3.0},
    {Name::twenty_five_gaussians, "twenty-five-gaussians",
     "25 Gaussians (std 0.05) on the grid {-4,-2,0,2,4}^2", 5.5},
}};

inline const Info& info(Name name) {
  for (const Info& i : all_datasets) {
    if (i.name == name) return i;
  }
  throw Error("deepenergy::datasets::info: unknown data set enum value " +
              std::to_string(static_cast<int>(name)));
}

inline std::string_view to_string(Name name) {
  return info(name).id;
}

/// The valid names, comma separated, for messages and --help.
inline std::string valid_names() {
  std::string s;
  for (const Info& i : all_datasets) {
    if (!s.empty()) s += ", ";
    s += i.id;
  }
  return s;
}

/// The data set called `text`. Accepts the ids ("two-spiral") and the enum
/// spellings with underscores ("two_spiral"). Throws Error listing the valid
/// names otherwise.
inline Name parse_name(const std::string& text) {
  std::string key = text;
  for (char& ch : key) {
    if (ch == '_') ch = '-';
  }
  for (const Info& i : all_datasets) {
    if (key == i.id) return i.name;
  }
  throw Error("unknown data set \"" + text + "\"; expected one of: " + valid_names());
}

/// n points (2 x n) of the named data set.
template <class S = float>
Matrix<S> make(Name name, Index n, Rng& rng) {
  switch (name) {
    case Name::two_spiral:
      return two_spiral<S>(n, rng);
    case Name::four_spin:
      return four_spin<S>(n, rng);
    case Name::eight_gaussians:
      return eight_gaussians<S>(n, rng);
    case Name::twenty_five_gaussians:
      return twenty_five_gaussians<S>(n, rng);
  }
  throw Error("deepenergy::datasets::make: unknown data set enum value " +
              std::to_string(static_cast<int>(name)));
}

}  // namespace deepenergy::datasets
