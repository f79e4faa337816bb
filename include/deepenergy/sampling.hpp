// Sampling from exp(-E) with unadjusted Langevin dynamics, started from a
// generator's samples.
//
// The generator of eq. 5 is an amortised sampler: it is trained to put its
// samples where E is low, but a continuous map from a connected latent box
// cannot split cleanly between separated modes, so some of its samples lie
// on the ridges between them. A few hundred Langevin steps on E move those
// samples into the wells that the energy has learned. Starting MCMC from the
// generator is the sampling scheme of Xie et al. 2018 (CoopNets) and of Che et
// al. 2020 (DDLS, there in latent space); Kumar et al. 2019 (MEG) sample the
// same way in latent space.
#pragma once

#include <algorithm>
#include <cmath>
#include <sstream>
#include <string>

#include "deepenergy/rng.hpp"
#include "deepenergy/types.hpp"

namespace deepenergy {

/// Options of langevin_sample.
struct LangevinOptions {
  Index steps = 100;        ///< number of steps
  double step_size = 0.01;  ///< eps: x -= eps^2/2 dE/dx, then x += eps N(0, I)
  /// The last `quench_steps` steps drop the noise (gradient descent on E
  /// with the same step): the chain ends at the bottom of its well instead of
  /// at one draw of its noise. 0 keeps every step a Langevin step.
  Index quench_steps = 0;
  /// Columns per energy evaluation, so memory does not grow with the number
  /// of samples (the energy's activations are hidden x block). Each block
  /// runs all its steps before the next starts, drawing its own noise, so
  /// the samples depend on block as well as on the seed.
  Index block = 256;
};

/// Runs options.steps steps of unadjusted Langevin dynamics on E from every
/// column of x (dims x n), in place:
///   x <- x - eps^2/2 dE/dx(x) + eps xi,   xi ~ N(0, I),
/// whose stationary density approaches exp(-E(x)) / Z as eps -> 0 (there is no
/// Metropolis correction, so a finite eps biases it by O(eps^2)).
///
/// Energy needs `energy(const Matrix<S>&)` and `input_gradient(const
/// RowVector<S>&)` with the meaning of EnergyModel's (energy_model.hpp). It
/// runs in its current mode: put a BatchNorm inside it in inference mode
/// first. Afterwards the energy's last input was a local block: call energy()
/// again before its backward() or input_gradient().
/// Throws Error, leaving x unchanged, on bad options, a non-finite input, or a
/// sample that became non-finite (the step is too large for the energy's
/// curvature).
template <class Energy, class S>
void langevin_sample(Energy& energy, Matrix<S>& x, const LangevinOptions& options, Rng& rng) {
  const auto fail = [](const std::string& what) {
    throw Error("deepenergy::langevin_sample: " + what);
  };
  const auto num = [](double v) {
    std::ostringstream s;
    s << v;
    return s.str();
  };
  if (options.steps < 0) fail("steps = " + std::to_string(options.steps) + "; expected >= 0");
  if (!(options.step_size > 0.0) || !std::isfinite(options.step_size))
    fail("step_size = " + num(options.step_size) + "; expected a finite value > 0");
  if (options.quench_steps < 0 || options.quench_steps > options.steps)
    fail("quench_steps = " + std::to_string(options.quench_steps) + "; expected 0 to steps (" +
         std::to_string(options.steps) + ")");
  if (options.block <= 0)
    fail("block = " + std::to_string(options.block) + "; expected a positive number of columns");
  for (Index j = 0; j < x.cols(); ++j)
    if (!x.col(j).allFinite())
      fail("x has a non-finite value in column " + std::to_string(j) + " (before any step)");
  const S eps = S(options.step_size);
  const S drift = S(0.5) * eps * eps;
  const Index n = x.cols();
  Matrix<S> out(x.rows(), n);  // x stays as it was until every block succeeded
  Matrix<S> block;
  RowVector<S> ones;
  for (Index first = 0; first < n; first += options.block) {
    const Index m = std::min(options.block, n - first);
    block = x.middleCols(first, m);
    ones.setConstant(m, S(1));
    for (Index t = 0; t < options.steps; ++t) {
      energy.energy(block);
      block.noalias() -= drift * energy.input_gradient(ones);
      if (t < options.steps - options.quench_steps)
        for (Index k = 0; k < block.size(); ++k) block(k) += eps * S(rng.normal());
    }
    if (!block.allFinite())
      fail("a sample became non-finite after " + std::to_string(options.steps) + " steps of size " +
           num(options.step_size) + "; use a smaller step_size");
    out.middleCols(first, m) = block;
  }
  x = out;
}

}  // namespace deepenergy
