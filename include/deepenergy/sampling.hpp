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
#include <cstdint>
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
  /// A round of mode-jumping moves between the block's samples
  /// (differential_evolution_jumps below) after every `jump_every` steps:
  /// before the 0-based steps jump_every, 2 jump_every, ... < steps, so a
  /// moved sample always takes steps afterwards (none with jump_every >=
  /// steps). Why: steps small enough to resolve a narrow well rarely leave
  /// it, so each well's share of the samples stays their starting share
  /// (the generator's); the jumps move samples between wells as exp(-E)
  /// says, among the wells that some sample of the block is in. Each round
  /// costs three forward passes of E over the block (its energies, then one
  /// per half). A block of fewer than 4 columns (a small last one) only
  /// takes the steps. 0 = off (the default).
  Index jump_every = 0;
};

/// Rounds of differential-evolution Metropolis moves between the columns of
/// x (ter Braak 2006, "A Markov chain Monte Carlo version of the genetic
/// algorithm Differential Evolution", jump factor gamma = 1), in place,
/// updated in two halves as Goodman and Weare's ensemble samplers are run in
/// parallel: in a round, each column i of the first half h = n / 2 proposes
/// x_i' = x_i + (x_k - x_l), k != l drawn from the other columns, and moves
/// there with probability min(1, exp(E(x_i) - E(x_i'))); then the last h
/// columns against the first n - h (with an odd n the middle column only
/// serves as a reference). The proposal is symmetric while the other half
/// stands still, so each half-round leaves prod_i exp(-E(x_i)) invariant. A
/// column in one mode, with k in another and l in its own, lands in k's mode,
/// so the moves reach every mode that some column is in.
///
/// `energies(x, e)` writes E of each column of x into the row vector e; its
/// values must not depend on the other columns (no BatchNorm in training
/// mode). `e` holds E(x) on entry and on return; `proposal` and `proposal_e`
/// are workspace. Draws, per round and half, two indices and one uniform
/// per moving column, whatever the energies. A non-finite proposal energy is
/// a rejection. Does nothing with fewer than 4 columns.
template <class S, class Energies>
void differential_evolution_jumps(Matrix<S>& x, RowVector<S>& e, Index rounds, Rng& rng,
                                  Energies&& energies, Matrix<S>& proposal,
                                  RowVector<S>& proposal_e) {
  const Index n = x.cols();
  if (rounds <= 0 || n < 4) return;
  const Index h = n / 2;
  for (Index r = 0; r < rounds; ++r) {
    for (const Index first : {Index(0), n - h}) {
      // The reference columns: those outside [first, first + h).
      const Index other = first == 0 ? h : 0, m = n - h;
      proposal = x;
      for (Index j = first; j < first + h; ++j) {
        const Index k = other + Index(rng.below(std::uint64_t(m)));
        Index l = other + Index(rng.below(std::uint64_t(m - 1)));
        if (l >= k) ++l;
        proposal.col(j) += x.col(k) - x.col(l);
      }
      energies(proposal, proposal_e);
      for (Index j = first; j < first + h; ++j) {
        // One draw per column whatever the energies, so that the random
        // stream does not depend on their last bits.
        const double u = rng.uniform();
        const double rise = double(proposal_e(j)) - double(e(j));
        if (!std::isfinite(double(proposal_e(j))) || std::isnan(rise)) continue;
        if (rise <= 0.0 || u < std::exp(-rise)) {
          x.col(j) = proposal.col(j);
          e(j) = proposal_e(j);
        }
      }
    }
  }
}

/// Runs options.steps steps of unadjusted Langevin dynamics on E from every
/// column of x (dims x n), in place:
///   x <- x - eps^2/2 dE/dx(x) + eps xi,   xi ~ N(0, I),
/// whose stationary density approaches exp(-E(x)) / Z as eps -> 0 (there is no
/// Metropolis correction, so a finite eps biases it by O(eps^2)); with
/// options.jump_every > 0, rounds of jumps between each block's samples
/// come between the steps (their draws are part of the random stream).
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
  if (options.jump_every < 0)
    fail("jump_every = " + std::to_string(options.jump_every) +
         "; expected 0 (off) or a positive number of steps");
  if (options.block <= 0)
    fail("block = " + std::to_string(options.block) + "; expected a positive number of columns");
  for (Index j = 0; j < x.cols(); ++j)
    if (!x.col(j).allFinite())
      fail("x has a non-finite value in column " + std::to_string(j) + " (before any step)");
  const S eps = S(options.step_size);
  const S drift = S(0.5) * eps * eps;
  const Index n = x.cols();
  Matrix<S> out(x.rows(), n);  // x stays as it was until every block succeeded
  Matrix<S> block, proposal;
  RowVector<S> ones, e, proposal_e;
  const auto energies = [&](const Matrix<S>& at, RowVector<S>& out_e) {
    out_e = energy.energy(at);
  };
  for (Index first = 0; first < n; first += options.block) {
    const Index m = std::min(options.block, n - first);
    block = x.middleCols(first, m);
    ones.setConstant(m, S(1));
    for (Index t = 0; t < options.steps; ++t) {
      if (options.jump_every > 0 && t > 0 && t % options.jump_every == 0 && m >= 4) {
        energies(block, e);
        differential_evolution_jumps(block, e, 1, rng, energies, proposal, proposal_e);
      }
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
