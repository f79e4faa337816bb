// DeepEnergyGAN: trains an energy model and a generator against each other
// (paper section 2).
//
// One training step is
//   k energy updates, each:   grad = mean_{x ~ data} dE(x)/dtheta            (positive phase)
//                                  - mean_{z ~ U} dE(G(z))/dtheta           (negative phase)
//                             (paper eq. 1 with the negative phase of eq. 4)
//   one generator update:     grad = mean_{z ~ U} dE(G(z))/dphi               (paper eq. 5)
//                             through E to x and through G; no energy weight
//                             gradient is computed.
// plus whatever extra loss terms were plugged in (see LossTerm below).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <exception>
#include <optional>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include "deepenergy/concepts.hpp"
#include "deepenergy/energy_average.hpp"
#include "deepenergy/optimizers.hpp"
#include "deepenergy/rng.hpp"
#include "deepenergy/sampling.hpp"
#include "deepenergy/types.hpp"

#ifdef _OPENMP
#include <omp.h>
#endif

namespace deepenergy {

/// Thrown when training produces a non-finite loss or gradient.
class DivergenceError : public Error {
 public:
  DivergenceError(const std::string& what, std::int64_t step) : Error(what), step_(step) {}
  std::int64_t step() const { return step_; }

 private:
  std::int64_t step_;
};

/// Hyper-parameters of DeepEnergyGAN. validate() names the first bad one.
struct TrainerOptions {
  Index batch_size = 64;
  double energy_learning_rate = 0.01;     ///< the paper's AdaGrad rate
  double generator_learning_rate = 0.01;  ///< the paper's AdaGrad rate
  Index energy_updates_per_generator_update = 1;
  std::optional<double> latent_bound;  ///< when set, overrides the latent's c (U[-c, c])
  std::uint64_t seed = 0;
  double clip_norm = 0.0;  ///< clip each network's gradient to this global L2 norm; 0 = off
  /// Langevin refinement of the negative phase: this many steps of
  /// x <- x - (eps^2 / 2) dE/dx + eps N(0, I) on the generator's samples
  /// before eq. 4 sees them (0 = off, the paper's negative phase).
  Index langevin_steps = 0;
  double langevin_step_size = 0.01;  ///< eps above, in the data's (model) units
  /// Persistent negative chains (Tieleman 2008's persistent contrastive
  /// divergence; Du and Mordatch 2019 restart 5% of their chains from noise):
  /// at each energy update a column of the negative batch starts from a fresh
  /// generator sample with this probability and otherwise continues from the
  /// previous update's refined sample in that column, so a chain runs
  /// langevin_steps / langevin_restart steps on average and reaches parts of
  /// exp(-E) the generator does not (yet) cover. 1 = every chain starts at the
  /// generator (the default); 0 = the chains never restart after the first
  /// update (plain persistent contrastive divergence). Needs langevin_steps > 0
  /// when below 1. The chains move on only when the energy update succeeds
  /// (negative_phase() called alone continues them but does not keep them).
  /// With langevin_data_restart = q > 0 a chain also ends when it starts at
  /// the data, so it runs langevin_steps / (r + q - r q) steps on average.
  double langevin_restart = 1.0;
  /// Negative chains started at the data (Hinton 2002's contrastive
  /// divergence): at each energy update, after the persistent chains are
  /// continued, a column of the negative batch is replaced by the same
  /// column of that update's data batch with this probability, and then
  /// refined (jumps and Langevin steps) like the others. Why: the jumps
  /// only reach modes some chain is in, and a mode that no generator sample
  /// reaches gets no negative samples, so eq. 4 deepens its well at every
  /// step; chains started in every mode, with jumps between them, put each
  /// mode's share of the negative phase where exp(-E) puts it (README,
  /// "Chains started at the data": on the 8 and 25 Gaussians the held-out
  /// NLL stops rising, at a cost in the refined samples' mode coverage).
  /// One uniform draw per column when above 0 and a data batch of the
  /// negative batch's size has been drawn (see negative_phase()). Needs
  /// langevin_steps > 0 when above 0. 0 = off (the default).
  double langevin_data_restart = 0.0;
  /// Mode-jumping moves in the negative phase: before the Langevin steps,
  /// this many rounds of differential-evolution Metropolis moves between the
  /// negative batch's chains (differential_evolution_jumps in sampling.hpp,
  /// after ter Braak 2006, with jump factor gamma = 1: each chain of one half
  /// proposes x_i + (x_k - x_l), k != l from the other half, accepted with
  /// probability min(1, exp(E(x_i) - E(x_i'))); each half-round leaves
  /// prod_i exp(-E(x_i)) invariant). Why: Langevin steps small enough to
  /// stay inside a narrow mode never cross between modes, so each mode's
  /// share of the negative phase stays the generator's (or the chains'
  /// first) share, and nothing in eq. 4 corrects the modes' relative depths;
  /// a chain in one mode, with k in another and l in its own, lands in k's
  /// mode and stays there as often as exp(-E) says. The moves only reach
  /// modes that some chain is in. Each round costs two forward passes of the
  /// energy over the batch (no gradient; plus one before the first round).
  /// The energy's values must not depend on the batch (no BatchNorm in
  /// training mode inside it; a BatchNorm there would also update its
  /// running averages at each pass). Needs langevin_steps > 0 and
  /// batch_size >= 4. 0 = off (the default).
  Index langevin_jumps = 0;
  /// Batches wider than this many columns per thread go through the
  /// networks (forward, backward, Langevin) in equal column blocks of at most
  /// that width per thread, their gradients summed:
  /// each block's activations then stay in the core's L2 cache instead of
  /// streaming from L3 (with -march=native on an AVX2 VM, train_step 1.11x faster at batch
  /// 1024 and 1.18x at 4096; README, Performance). The result is the same
  /// sum in another order. The energy runs in blocks only when it declares
  /// independent_samples (concepts.hpp) and no loss term has energy_term or
  /// energy_extra hooks (they see the whole batch); the generator as well
  /// when it declares it too and no loss term has a generator_term. Hooks
  /// count by type: a term whose weight is 0 still keeps the batch whole.
  /// With several threads (OpenMP, Eigen::nbThreads() > 1) the blocks are
  /// at most block_columns wide and shared out between the threads, each
  /// running its blocks from the first layer to the last through its own
  /// copy of the networks (made at the first such pass; parameter values
  /// copied in before every pass, gradients summed after), so the last bits
  /// of the result depend on the thread count. Networks that are not
  /// copy-constructible, and calls from inside another OpenMP parallel
  /// region, run the blocks on one thread. The copies are why
  /// independent_samples also promises (concepts.hpp) that a copy is deep
  /// and that forward and backward change nothing but the parameters' grads
  /// and the layer's own workspaces.
  /// After a step in blocks, the networks' last forward was a block.
  /// 0 = always whole batches.
  Index block_columns = 256;
  /// An exponential moving average of the energy's parameter values, for
  /// evaluation and sampling (Polyak and Juditsky 1992's averaging, in the
  /// exponential form common in GAN training, e.g. Yazici et al. 2019):
  /// after every successful energy update of step t (1-based),
  /// avg <- d_t avg + (1 - d_t) theta with d_t = min(d, (1 + t) / (10 + t)),
  /// starting from theta after the first update. The warm-up in d_t (as in
  /// TensorFlow's ExponentialMovingAverage with num_updates) keeps a short
  /// run's average from holding on to its first steps; from t = 9 / (1 - d)
  /// - 10 on (8,990 for d = 0.999) the decay is d. t is the trainer's step
  /// counter plus one: all k energy updates of a step use the same d_t, an
  /// average that restarts late (a format-2 checkpoint, set_energy_average
  /// with nothing) gets no warm-up, and energy_update() called in a loop of
  /// your own, without step(), stays at t = 1 unless you set_step_count().
  /// Training itself never uses the average; swap_energy_average() puts it
  /// into the energy. 0 = off (the default; the examples use 0.999).
  double energy_average = 0.0;

  /// What train() does when a step produces a non-finite loss or gradient.
  enum class OnDivergence {
    /// throw DivergenceError naming the step; no update computed from a
    /// non-finite value is applied (the check runs before each optimiser step)
    stop,
    rollback,  ///< restore the last snapshot, scale both learning rates, go on
  };
  OnDivergence on_divergence = OnDivergence::stop;
  Index max_rollbacks = 3;          ///< rollback: then stop as above
  double rollback_lr_factor = 0.5;  ///< rollback: learning rates are multiplied by this
  Index snapshot_interval = 100;    ///< rollback: steps between snapshots of the good state

  void validate() const {
    auto bad = [](const std::string& name, const std::string& got, const std::string& want) {
      throw Error("TrainerOptions: " + name + " = " + got + ", expected " + want);
    };
    if (batch_size <= 0) bad("batch_size", std::to_string(batch_size), "a positive integer");
    if (!(energy_learning_rate > 0.0) || !std::isfinite(energy_learning_rate))
      bad("energy_learning_rate", std::to_string(energy_learning_rate), "a positive finite number");
    if (!(generator_learning_rate > 0.0) || !std::isfinite(generator_learning_rate))
      bad("generator_learning_rate", std::to_string(generator_learning_rate),
          "a positive finite number");
    if (energy_updates_per_generator_update <= 0)
      bad("energy_updates_per_generator_update",
          std::to_string(energy_updates_per_generator_update), "a positive integer");
    if (latent_bound && (!(*latent_bound > 0.0) || !std::isfinite(*latent_bound)))
      bad("latent_bound", std::to_string(*latent_bound), "a positive finite number");
    if (!(clip_norm >= 0.0) || !std::isfinite(clip_norm))
      bad("clip_norm", std::to_string(clip_norm), "zero (off) or a positive finite number");
    if (block_columns < 0)
      bad("block_columns", std::to_string(block_columns), "zero (off) or a positive integer");
    if (langevin_steps < 0)
      bad("langevin_steps", std::to_string(langevin_steps), "zero (off) or a positive integer");
    if (!(langevin_step_size > 0.0) || !std::isfinite(langevin_step_size))
      bad("langevin_step_size", std::to_string(langevin_step_size), "a positive finite number");
    if (!(langevin_restart >= 0.0 && langevin_restart <= 1.0))
      bad("langevin_restart", std::to_string(langevin_restart), "a number in [0, 1]");
    if (langevin_restart < 1.0 && langevin_steps == 0)
      bad("langevin_restart", std::to_string(langevin_restart),
          "1 when langevin_steps = 0 (persistent chains need Langevin steps)");
    if (!(langevin_data_restart >= 0.0 && langevin_data_restart <= 1.0))
      bad("langevin_data_restart", std::to_string(langevin_data_restart), "a number in [0, 1]");
    if (langevin_data_restart > 0.0 && langevin_steps == 0)
      bad("langevin_data_restart", std::to_string(langevin_data_restart),
          "0 when langevin_steps = 0 (a chain started at the data needs Langevin steps)");
    if (langevin_jumps < 0)
      bad("langevin_jumps", std::to_string(langevin_jumps), "zero (off) or a positive integer");
    if (langevin_jumps > 0 && langevin_steps == 0)
      bad("langevin_jumps", std::to_string(langevin_jumps),
          "0 when langevin_steps = 0 (the jumps are part of the Langevin refinement)");
    if (langevin_jumps > 0 && batch_size < 4)
      bad("langevin_jumps", std::to_string(langevin_jumps),
          "0 when batch_size < 4 (a chain jumps by the difference of two chains of the other "
          "half of the batch)");
    if (max_rollbacks < 0)
      bad("max_rollbacks", std::to_string(max_rollbacks), "a non-negative integer");
    if (!(rollback_lr_factor > 0.0 && rollback_lr_factor < 1.0))
      bad("rollback_lr_factor", std::to_string(rollback_lr_factor), "a number in (0, 1)");
    if (snapshot_interval <= 0)
      bad("snapshot_interval", std::to_string(snapshot_interval), "a positive integer");
    if (!(energy_average >= 0.0 && energy_average < 1.0))
      bad("energy_average", std::to_string(energy_average), "zero (off) or a decay in (0, 1)");
  }
};

/// What one training step reports to callbacks.
struct StepInfo {
  std::int64_t step = 0;        ///< 1-based number of the step just taken
  double energy_loss = 0.0;     ///< mean E(data) - mean E(G(z)) (+ extra terms), last energy update
  double generator_loss = 0.0;  ///< mean E(G(z)) (+ extra terms)
  double data_energy = 0.0;     ///< mean E on the last data batch
  double sample_energy = 0.0;   ///< mean E on the last negative-phase batch
};

/// Which half of the energy update a loss term is called for.
enum class Phase { positive, negative };

// ---------------------------------------------------------------------------
// LossTerm: extra terms added to either network's loss (regularisers,
// entropy estimates), passed as DeepEnergyGAN's trailing template arguments
// and stored by value (default-constructed when the trainer's constructor is
// not given them).
//
// MAY provide any subset of these hooks (a term with none is never called):
//
//   template <class S>
//   double energy_term(Phase phase, const RowVector<S>& energies, RowVector<S>& weights);
//       Called in each phase of an energy update with the batch's energies and
//       the per-sample weights that backward will use (+1/B positive, -1/B
//       negative, plus what earlier terms added). Add d(extra loss)/dE_j to
//       weights(j); do not resize it. Return the extra loss's value.
//       Example: alpha * mean(E^2) adds 2 alpha E_j / B.
//
//   template <class Energy, class S>
//   double energy_extra(Phase phase, Energy& energy, const Matrix<S>& x);
//       Called in each phase after that phase's backward, with the batch x.
//       May run its own energy()/backward()/input_gradient() passes (on
//       perturbed inputs, say) to add the gradient of a term that is not a
//       function of E(x_j) alone, such as a gradient penalty; it must only ADD
//       to the parameters' grads. Returns the term's value.
//
//   template <class Gen, class S>
//   double generator_term(Gen& generator, const Matrix<S>& x, Matrix<S>& grad_x);
//       Called in the generator update after grad_x = dL/dx for the samples
//       x = G(z) is computed and before it is backpropagated through G. Add
//       d(extra loss)/dx_j to column j of grad_x, and/or add gradients to the
//       generator's parameters directly; return the extra loss's value.
//
//   template <class F> void for_each_parameter(F&& f);
//       For a term with trainable state of its own (a statistics network,
//       say): calls f(Parameter<S>&) for each of its parameters, always the
//       same ones in the same order, with names that do not change (a
//       checkpoint is matched by them). The trainer's checkpoints and
//       rollback snapshots then hold them (value, optimiser slots, update
//       count); the term itself computes, zeroes and applies their
//       gradients, and a rollback does not scale their learning rate. A
//       parameter may stay 0x0 until the term first runs; loading a
//       checkpoint gives it the stored shape (or 0x0, from a file saved
//       before it was built; a file of format 1 to 3 leaves it as it is),
//       so a term that builds itself lazily must check a restored shape
//       before using it.
//
// Hooks are detected, not required: a hook whose name or signature does not
// match is silently not called, so test a new term (a gradient check of its
// weights, or a unit test that its value moves the loss).
//
// The library guarantees: terms are called in the order given, in every
// energy update (k per step) and every generator update; the values they
// return are added to StepInfo's energy_loss / generator_loss and checked to
// be finite; the matrices they receive stay valid for the whole call.
// ---------------------------------------------------------------------------

// ---------------------------------------------------------------------------
// Callbacks passed to trainer.train(data, steps, callbacks...): any objects,
// taken by reference, each implementing only the hooks it needs.
//
// MAY provide
//   void on_train_begin(Trainer&);
//   void on_step(Trainer&, const StepInfo&);   or   bool on_step(...)
//       Called after every completed step; returning false stops training
//       after this step.
//   void on_train_end(Trainer&);
// where Trainer is this DeepEnergyGAN (write the parameter as `auto&`).
// As for loss terms, a hook with a mismatched signature is silently ignored.
//
// The library guarantees: on_train_begin once before the first step, on_step
// once per completed step in the order the callbacks were passed, on_train_end
// once when the loop ends normally (not when an exception, such as
// DivergenceError, leaves train()). trainer.request_stop() from any hook also
// stops training after the current step. Hooks may read and change the
// trainer (learning rates, parameters) between steps.
// ---------------------------------------------------------------------------

// Optimizer must satisfy UpdatePolicy (concepts.hpp). It is checked by the
// static_assert at the top of the class rather than by a constrained template
// parameter, so that a missing member is reported as one sentence.
template <class EnergyNet, class GenNet, class Optimizer = AdaGrad, class... LossTerms>
class DeepEnergyGAN {
  static_assert(check_update_policy<Optimizer>());

 public:
  using Scalar = typename EnergyNet::Scalar;
  using S = Scalar;
  // The energy model and the generator must use the same Scalar (float or double).
  static_assert(std::is_same_v<Scalar, typename GenNet::Scalar>,
                "deepenergy: mismatched scalar types: the energy model and the generator must "
                "have the same Scalar");
  // The generator's output is the energy model's input: make their sizes equal.
  static_assert(EnergyNet::static_input_dim == Dynamic || GenNet::static_output_dim == Dynamic ||
                    EnergyNet::static_input_dim == GenNet::static_output_dim,
                "deepenergy: size mismatch: the generator's output size differs from the energy "
                "model's input size");

  DeepEnergyGAN(EnergyNet energy, GenNet generator, TrainerOptions options = {},
                Optimizer optimizer = {}, LossTerms... terms)
      : energy_(std::move(energy)),
        generator_(std::move(generator)),
        options_(options),
        energy_opt_(optimizer),
        generator_opt_(optimizer),
        terms_(std::move(terms)...),
        rng_(options.seed) {
    options_.validate();
    energy_opt_.learning_rate = options_.energy_learning_rate;
    generator_opt_.learning_rate = options_.generator_learning_rate;
    if (options_.latent_bound) {
      if constexpr (requires { generator_.latent().set_bound(1.0); })
        generator_.latent().set_bound(*options_.latent_bound);
      else
        throw Error("TrainerOptions: latent_bound is set but this generator's latent has no bound");
    }
    const Index ein = energy_.input_dim(), gout = generator_.output_dim();
    if (ein >= 0 && gout >= 0 && ein != gout)
      throw Error("DeepEnergyGAN: the generator produces samples of size " + std::to_string(gout) +
                  " but the energy model expects input of size " + std::to_string(ein));
    energy_.initialize(rng_);
    generator_.initialize(rng_);
  }

  /// Loss terms default-constructed (when there are any and they allow it).
  DeepEnergyGAN(EnergyNet energy, GenNet generator, TrainerOptions options = {},
                Optimizer optimizer = {}) requires(sizeof...(LossTerms) > 0 &&
                                                   (std::is_default_constructible_v<LossTerms> &&
                                                    ...))
      : DeepEnergyGAN(std::move(energy), std::move(generator), options, optimizer, LossTerms{}...) {
  }

  // ---- one step and its parts ---------------------------------------------

  /// k energy updates then one generator update; returns what it measured.
  StepInfo step(const Matrix<S>& data) {
    require_raw_values("step");
    StepInfo info;
    for (Index k = 0; k < options_.energy_updates_per_generator_update; ++k)
      energy_update(data, info);
    generator_update(info);
    info.step = ++step_;
    return info;
  }

  /// One energy update (eq. 1 with eq. 4): positive phase on a data batch,
  /// negative phase on generator samples, then the optimiser step.
  void energy_update(const Matrix<S>& data, StepInfo& info) {
    require_raw_values("energy_update");
    zero_grads(energy_);
    sample_data(data);
    double loss = positive_phase(data_batch_);
    info.data_energy = last_mean_;
    loss += negative_phase();
    info.sample_energy = last_mean_;
    info.energy_loss = loss;
    check_finite(loss, "energy loss");
    clip_and_update(energy_, energy_opt_, "energy");
    keep_chains();  // only after the checks: a failed step leaves the chains as they were
    update_energy_average();
  }

  /// Adds mean_j dE(x_j)/dtheta over the batch to the energy's grads and
  /// returns mean_j E(x_j) plus any extra energy terms.
  double positive_phase(const Matrix<S>& batch) {
    return energy_phase(batch, Phase::positive, S(1) / S(batch.cols()));
  }
  /// Draws G(z) for a batch of latents (with langevin_steps > 0: refined by
  /// Langevin, continuing the persistent chains where langevin_restart < 1
  /// and starting some at the data where langevin_data_restart > 0: at the
  /// columns of the last energy_update()'s data batch, none before the first)
  /// and adds -mean_j dE(x_j)/dtheta over those samples x_j to the energy's
  /// grads; returns -mean_j E(x_j) plus any extra terms.
  double negative_phase() {
    const Index B = options_.batch_size;
    if constexpr (generator_in_blocks) {
      if (use_blocks(B) && options_.langevin_steps > 0) {
        // G on column blocks of the latents into negative_, then Langevin
        // and the phase on blocks of it.
        const Matrix<S>& z = generator_.sample_latents(B, rng_);
        // Threads may share negative_ only when its size is known beforehand
        // (no thread may resize it).
        const Index dim =
            generator_.output_dim() >= 0 ? generator_.output_dim() : energy_.input_dim();
        if (dim >= 0) negative_.resize(dim, B);
        for_each_block(B, Reduce::none, dim >= 0, [&](Lane& l, Index first, Index n, Index skip) {
          l.block_z = z.middleCols(first, n);
          const Matrix<S>& x = l.generator.forward(l.block_z);
          if (x.rows() != negative_.rows() || negative_.cols() != B) {
            if (dim >= 0)
              throw Error("DeepEnergyGAN: the generator produced samples of size " +
                          std::to_string(x.rows()) + ", expected " + std::to_string(dim));
            negative_.resize(x.rows(), B);  // the first block, on one thread
          }
          negative_.middleCols(first + skip, n - skip) = x.rightCols(n - skip);
        });
        continue_chains();
        restart_from_data();
        refine_negative();
        return energy_phase(negative_, Phase::negative, S(-1) / S(B));
      }
      if (use_blocks(B)) {
        // G and E on column blocks of the latents (TrainerOptions::block_columns).
        const Matrix<S>& z = generator_.sample_latents(B, rng_);
        const double sum =
            for_each_block(B, Reduce::energy, true, [&](Lane& l, Index first, Index n, Index skip) {
              l.block_z = z.middleCols(first, n);
              l.sum += double(l.energy.energy(l.generator.forward(l.block_z)).tail(n - skip).sum());
              l.weights.setConstant(n, S(-1) / S(B));
              l.weights.head(skip).setZero();
              l.energy.backward(l.weights);
            });
        last_mean_ = sum / double(B);
        return -last_mean_;
      }
    }
    const Matrix<S>& x = generator_.sample(options_.batch_size, rng_);
    if (options_.langevin_steps == 0)
      return energy_phase(x, Phase::negative, S(-1) / S(options_.batch_size));
    negative_ = x;
    continue_chains();
    restart_from_data();
    refine_negative();
    return energy_phase(negative_, Phase::negative, S(-1) / S(options_.batch_size));
  }

  /// Runs options().langevin_jumps rounds of jumps (none when x has fewer
  /// than 4 columns) and then options().langevin_steps Langevin steps on E
  /// from x (the generator's samples); the result is negative_samples(). Short-run
  /// Langevin from a generator's samples is the sampling half of Xie et al.
  /// 2018's cooperative training (CoopNets; here G still learns from eq. 5,
  /// not from the refined samples): the negative phase sees samples closer to
  /// exp(-E) than G's own, so eq. 4 is nearer the maximum-likelihood gradient
  /// even while G lags behind the energy. The energy runs in its current mode,
  /// so a BatchNorm inside it updates its running averages at every step.
  void langevin_refine(const Matrix<S>& x) {
    negative_ = x;
    refine_negative();
  }

  /// The last negative batch after its Langevin steps (the negative phase's,
  /// or langevin_refine's, whichever ran last).
  const Matrix<S>& negative_samples() const { return negative_; }

  /// The persistent chains' states (TrainerOptions::langevin_restart < 1):
  /// the last negative batch, empty before the first one. Saved in
  /// checkpoints so that a resumed run continues the same chains.
  const Matrix<S>& persistent_chains() const { return chains_; }
  /// Replaces the chains (e.g. from a checkpoint). Chains of another batch
  /// size (not dims x batch_size), e.g. an empty matrix, are not continued:
  /// every chain restarts from the generator at the next energy update; with
  /// langevin_restart = 1 they are dropped. Throws Error for points of another
  /// size than the energy's input or non-finite values.
  void set_persistent_chains(Matrix<S> chains) {
    const Index dim = energy_.input_dim();
    if (chains.size() > 0 && dim >= 0 && chains.rows() != dim)
      throw Error("set_persistent_chains: points of size " + std::to_string(chains.rows()) +
                  ", the energy's input has size " + std::to_string(dim));
    if (!chains.allFinite())
      throw Error("set_persistent_chains: the chains hold non-finite values");
    if (options_.langevin_restart < 1.0)
      chains_ = std::move(chains);
    else
      chains_.resize(0, 0);
  }

  /// TrainerOptions::energy_average: the average of each energy parameter's
  /// value, in for_each_parameter order; empty when averaging is off or
  /// before the first energy update. Saved in checkpoints. While the average
  /// is swapped in (swap_energy_average) this holds the values it replaced.
  const std::vector<Matrix<S>>& energy_average() const { return average_; }
  /// Replaces the average (e.g. from a checkpoint). An empty one restarts
  /// averaging from the next update's values; with energy_average = 0 the
  /// average is dropped. Throws Error, changing nothing, when the average
  /// does not have one finite matrix per energy parameter, of that
  /// parameter's shape, or while the average is swapped in (swap it back
  /// first).
  void set_energy_average(std::vector<Matrix<S>> average) {
    require_raw_values("set_energy_average");
    check_energy_average("set_energy_average: the average", energy_, average);
    if (options_.energy_average > 0.0)
      average_ = std::move(average);
    else
      average_.clear();
  }
  /// Exchanges the energy's parameter values with their average, so that
  /// energy() evaluates (and samples) the averaged model; a second call
  /// exchanges them back. While it is swapped in, train(), step(),
  /// energy_update(), generator_update() and set_energy_average() throw
  /// Error (they would train or replace the average); save_checkpoint and
  /// load_checkpoint handle either state. EnergyAverageScope
  /// (energy_average.hpp) swaps it in for a scope and back. Throws Error
  /// when there is no average. Allocates nothing (the matrices trade buffers).
  void swap_energy_average() {
    if (average_.empty())
      throw Error("swap_energy_average: there is no average (TrainerOptions::energy_average is " +
                  std::string(options_.energy_average > 0.0
                                  ? "set, but no energy update has run since it was last reset"
                                  : "0") +
                  ")");
    std::size_t i = 0;
    energy_.for_each_parameter([&](auto& p) { p.value.swap(average_[i++]); });
    average_swapped_ = !average_swapped_;
  }
  /// Whether swap_energy_average() has put the average into the energy.
  bool energy_average_swapped() const { return average_swapped_; }

 private:
  void require_raw_values(const char* what) const {
    if (average_swapped_)
      throw Error(std::string(what) +
                  ": the energy holds its parameters' average (swap_energy_average); swap it "
                  "back first");
  }
  // TrainerOptions::energy_average, after an energy update of step step_ + 1.
  // avg += (1 - d)(theta - avg) rather than d avg + (1 - d) theta: a
  // parameter that does not change (a fixed Fourier frequency, say) keeps
  // its value exactly.
  void update_energy_average() {
    if (options_.energy_average <= 0.0) return;
    const double t = double(step_ + 1);
    const S w = S(1.0 - std::min(options_.energy_average, (1.0 + t) / (10.0 + t)));
    if (average_.empty()) {
      // Complete or not at all (a copy that throws leaves no partial average).
      std::vector<Matrix<S>> first;
      energy_.for_each_parameter([&](auto& p) { first.push_back(p.value); });
      average_ = std::move(first);
      return;
    }
    std::size_t i = 0;
    energy_.for_each_parameter([&](auto& p) {
      average_[i] += w * (p.value - average_[i]);
      ++i;
    });
  }

  // TrainerOptions::langevin_restart: columns of negative_ (the generator's
  // samples) that continue their chain take the chain's last state instead.
  void continue_chains() {
    if (options_.langevin_restart >= 1.0 || chains_.rows() != negative_.rows() ||
        chains_.cols() != negative_.cols())
      return;
    for (Index j = 0; j < negative_.cols(); ++j)
      if (rng_.uniform() >= options_.langevin_restart) negative_.col(j) = chains_.col(j);
  }
  // TrainerOptions::langevin_data_restart: columns of negative_ that start
  // at the data batch's column instead (energy_update drew it just before;
  // negative_phase() called alone uses the last one, if any, of that size).
  void restart_from_data() {
    if (options_.langevin_data_restart <= 0.0 || data_batch_.rows() != negative_.rows() ||
        data_batch_.cols() != negative_.cols())
      return;
    for (Index j = 0; j < negative_.cols(); ++j)
      if (rng_.uniform() < options_.langevin_data_restart) negative_.col(j) = data_batch_.col(j);
  }
  void keep_chains() {
    if (options_.langevin_restart < 1.0) chains_ = negative_;
  }

  // TrainerOptions::langevin_jumps, on negative_ in place (sampling.hpp).
  // Every energy pass is over a whole batch (the proposals of the half that
  // moves, the other half as it is), so no workspace changes size.
  void jump_negative() {
    if (options_.langevin_jumps == 0 || negative_.cols() < 4) return;
    batch_energies(negative_, jump_energy_);
    differential_evolution_jumps(
        negative_, jump_energy_, options_.langevin_jumps, rng_,
        [this](const Matrix<S>& x, RowVector<S>& e) { batch_energies(x, e); }, jump_to_, jump_new_);
  }
  // E of each column of x into e, in the Langevin steps' column blocks.
  void batch_energies(const Matrix<S>& x, RowVector<S>& e) {
    const Index B = x.cols();
    if (!(energy_in_blocks && use_blocks(B))) {
      e = energy_.energy(x);
      return;
    }
    e.resize(B);
    for_each_block(B, Reduce::none, true, [&](Lane& l, Index first, Index n, Index skip) {
      l.block_x = x.middleCols(first, n);
      e.segment(first + skip, n - skip) = l.energy.energy(l.block_x).tail(n - skip);
    });
  }

  // langevin_refine's steps, on negative_ in place.
  void refine_negative() {
    jump_negative();
    const S eps = S(options_.langevin_step_size);
    const S drift = S(0.5) * eps * eps;
    const Index B = negative_.cols();
    const bool blocks = energy_in_blocks && use_blocks(B);
    for (Index t = 0; t < options_.langevin_steps; ++t) {
      if (blocks) {
        // On several threads the blocks read this step's starting points
        // from a copy: the last block overlaps the one before, which another
        // thread may be moving.
        const bool copy = block_threads() > 1;
        if (copy) langevin_from_ = negative_;
        const Matrix<S>& from = copy ? langevin_from_ : negative_;
        for_each_block(B, Reduce::none, true, [&](Lane& l, Index first, Index n, Index skip) {
          l.block_x = from.middleCols(first, n);
          l.energy.energy(l.block_x);
          l.weights.setConstant(n, S(1));
          negative_.middleCols(first + skip, n - skip).noalias() =
              l.block_x.rightCols(n - skip) -
              drift * l.energy.input_gradient(l.weights).rightCols(n - skip);
        });
      } else {
        energy_.energy(negative_);
        weights_.setConstant(B, S(1));
        negative_.noalias() -= drift * energy_.input_gradient(weights_);
      }
      for (Index k = 0; k < negative_.size(); ++k) negative_(k) += eps * S(rng_.normal());
    }
  }

 public:
  /// One generator update (eq. 5): descend mean_j E(G(z_j)).
  void generator_update(StepInfo& info) {
    require_raw_values("generator_update");
    zero_grads(generator_);
    const double loss = generator_gradient();
    info.generator_loss = loss;
    check_finite(loss, "generator loss");
    clip_and_update(generator_, generator_opt_, "generator");
  }

  /// Adds d mean_j E(G(z_j)) / dphi to the generator's grads, through E to x
  /// and through G, without computing any energy parameter gradient. Returns
  /// the generator's loss.
  double generator_gradient() {
    const Index B = options_.batch_size;
    if constexpr (generator_in_blocks) {
      if (use_blocks(B)) {
        // G forward, E, and G backward on column blocks of the latents.
        const Matrix<S>& z = generator_.sample_latents(B, rng_);
        const double loss = for_each_block(
            B, Reduce::generator, true, [&](Lane& l, Index first, Index n, Index skip) {
              l.block_z = z.middleCols(first, n);
              l.sum += double(l.energy.energy(l.generator.forward(l.block_z)).tail(n - skip).sum());
              l.weights.setConstant(n, S(1) / S(B));
              l.weights.head(skip).setZero();
              l.generator.backward(l.energy.input_gradient(l.weights));
            });
        return loss / double(B);
      }
    }
    const Matrix<S>& x = generator_.sample(B, rng_);
    double loss = 0.0;
    if (energy_in_blocks && use_blocks(B)) {
      // The energy's part in column blocks (see TrainerOptions::block_columns).
      grad_x_.resize(x.rows(), B);
      loss = for_each_block(B, Reduce::none, true, [&](Lane& l, Index first, Index n, Index skip) {
        l.block_x = x.middleCols(first, n);
        l.sum += double(l.energy.energy(l.block_x).tail(n - skip).sum());
        l.weights.setConstant(n, S(1) / S(B));
        grad_x_.middleCols(first + skip, n - skip) =
            l.energy.input_gradient(l.weights).rightCols(n - skip);
      });
      loss /= double(B);
    } else {
      const RowVector<S>& e = energy_.energy(x);
      loss = double(e.mean());
      weights_.setConstant(B, S(1) / S(B));
      grad_x_ = energy_.input_gradient(weights_);
    }
    for_each_term([&](auto& term) {
      if constexpr (requires { term.generator_term(generator_, x, grad_x_); })
        loss += double(term.generator_term(generator_, x, grad_x_));
    });
    generator_.backward(grad_x_);
    return loss;
  }

  // ---- training loop ----------------------------------------------------------

  /// Runs `steps` steps on `data` (dims x N, one sample per column), calling
  /// the callbacks' hooks. Returns the last step's info.
  template <class... Callbacks>
  StepInfo train(const Matrix<S>& data, std::int64_t steps, Callbacks&&... callbacks) {
    if (steps < 0) throw Error("train: steps = " + std::to_string(steps) + ", expected >= 0");
    require_raw_values("train");
    check_data(data);
    stop_ = false;
    (call_begin(callbacks), ...);
    StepInfo info;
    const bool rollback = options_.on_divergence == TrainerOptions::OnDivergence::rollback;
    if (rollback) take_snapshot();
    const std::int64_t end = step_ + steps;
    while (step_ < end && !stop_) {
      if (!rollback) {
        info = step(data);
      } else {
        try {
          info = step(data);
        } catch (const DivergenceError& e) {
          if (rollbacks_ >= options_.max_rollbacks)
            throw DivergenceError(
                std::string(e.what()) + " (after " + std::to_string(rollbacks_) + " rollbacks)",
                e.step());
          ++rollbacks_;
          restore_snapshot();
          energy_opt_.learning_rate *= options_.rollback_lr_factor;
          generator_opt_.learning_rate *= options_.rollback_lr_factor;
          continue;
        }
        if (step_ % options_.snapshot_interval == 0) take_snapshot();
      }
      (call_step(callbacks, info), ...);
    }
    (call_end(callbacks), ...);
    return info;
  }

  /// How many times train() rolled back after a divergence (rollback policy).
  Index rollbacks() const { return rollbacks_; }

  /// Stops train() after the current step.
  void request_stop() { stop_ = true; }

  /// Throws Error unless data is non-empty, finite and of the energy's input size.
  void check_data(const Matrix<S>& data) const {
    if (data.cols() == 0 || data.rows() == 0)
      throw Error("train: the data set is empty (" + std::to_string(data.rows()) + " x " +
                  std::to_string(data.cols()) + ")");
    const Index ein = energy_.input_dim();
    if (ein >= 0 && data.rows() != ein)
      throw Error("train: the data have dimension " + std::to_string(data.rows()) +
                  " but the energy model expects input of size " + std::to_string(ein));
    for (Index j = 0; j < data.cols(); ++j)
      for (Index i = 0; i < data.rows(); ++i)
        if (!std::isfinite(data(i, j)))
          throw Error("train: data point " + std::to_string(j) + " (0-based column), dimension " +
                      std::to_string(i) + " is not finite");
  }

  // ---- access ------------------------------------------------------------------
  EnergyNet& energy() { return energy_; }
  const EnergyNet& energy() const { return energy_; }
  GenNet& generator() { return generator_; }
  const GenNet& generator() const { return generator_; }
  const TrainerOptions& options() const { return options_; }
  Optimizer& energy_optimizer() { return energy_opt_; }
  Optimizer& generator_optimizer() { return generator_opt_; }
  Rng& rng() { return rng_; }
  std::int64_t step_count() const { return step_; }
  void set_step_count(std::int64_t s) { step_ = s; }
  template <std::size_t I>
  auto& loss_term() {
    return std::get<I>(terms_);
  }
  /// Visits the trainable state of the loss terms that have some (a
  /// for_each_parameter hook, see LossTerm), in the terms' order: saved in
  /// checkpoints and rollback snapshots with the networks' parameters.
  template <class F>
  void for_each_term_parameter(F&& f) {
    for_each_term([&](auto& term) {
      if constexpr (requires { term.for_each_parameter(f); }) term.for_each_parameter(f);
    });
  }

 private:
  // Loss-term hooks that see the whole batch (LossTerm).
  template <class T>
  static constexpr bool has_energy_term = requires(T& t, Phase p, const RowVector<S>& e,
                                                   RowVector<S>& w) {
    t.energy_term(p, e, w);
  };
  template <class T>
  static constexpr bool has_energy_extra = requires(T& t, Phase p, EnergyNet& en,
                                                    const Matrix<S>& x) {
    t.energy_extra(p, en, x);
  };
  template <class T>
  static constexpr bool has_generator_term = requires(T& t, GenNet& g, const Matrix<S>& x,
                                                      Matrix<S>& gx) {
    t.generator_term(g, x, gx);
  };
  // The generator must also draw its latents apart from the forward pass.
  static constexpr bool generator_samples_latents =
      requires(GenNet & g, Index b, Rng& r, const Matrix<S>& z) {
    g.sample_latents(b, r);
    g.forward(z);
  };
  // Which passes may run on column blocks (TrainerOptions::block_columns).
  // Each network is either always in blocks or never, so that its
  // workspaces keep one size from pass to pass (no allocation).
  static constexpr bool energy_in_blocks =
      detail::IndependentSamples<EnergyNet> &&
      !((has_energy_term<LossTerms> || has_energy_extra<LossTerms>) || ...);
  static constexpr bool generator_in_blocks =
      energy_in_blocks && detail::IndependentSamples<GenNet> && generator_samples_latents &&
      !(has_generator_term<LossTerms> || ...);

  Index block_limit() const { return options_.block_columns * std::max(1, Eigen::nbThreads()); }
  bool use_blocks(Index B) const { return options_.block_columns > 0 && B > block_limit(); }

  // How many threads share the column blocks: Eigen::nbThreads() with
  // OpenMP, but one inside a parallel region someone else opened.
  static int block_threads() {
#ifdef _OPENMP
    return omp_in_parallel() ? 1 : std::max(1, Eigen::nbThreads());
#else
    return 1;
#endif
  }

  // What one column block works on: the trainer's own networks and buffers
  // (lane 0) or a replica's (the other threads). `sum` collects what the
  // block function adds to it; for_each_block returns the lanes' total.
  struct Lane {
    EnergyNet& energy;
    GenNet& generator;
    Matrix<S>& block_x;
    Matrix<S>& block_z;
    RowVector<S>& weights;
    double& sum;
  };
  // A copy of both networks for one more thread: made at the first threaded
  // pass, its parameter values refreshed from the trainer's before every
  // threaded pass, its gradients added to the trainer's after it.
  struct Replica {
    EnergyNet energy;
    GenNet generator;
    Matrix<S> block_x, block_z;
    RowVector<S> weights;
    double sum = 0.0;
  };
  // Threads need copies of the networks.
  static constexpr bool replicable =
      std::is_copy_constructible_v<EnergyNet> && std::is_copy_constructible_v<GenNet>;
  // Whose parameter gradients a pass accumulates (summed over the replicas).
  enum class Reduce { none, energy, generator };

  // Calls f(lane, first, n, skip) for column blocks [first, first + n)
  // covering [0, B): all of one width (so no workspace is resized between
  // blocks) and at most block_columns per thread. The last block may start
  // before the previous one ends; its first `skip` columns were done already
  // and must be ignored (weight 0, energies and gradients not read). Returns
  // the sum of what the blocks added to lane.sum.
  //
  // With several threads the blocks are at most block_columns wide and,
  // when `threaded`, shared out between the threads, each running its
  // blocks through its own copy of the networks: two cores then work on
  // separate blocks from start to end instead of meeting at every product
  // (two threads at batch 1024: README, Performance). f must then write only
  // its own columns of shared buffers and must not resize them. The layout
  // does not depend on `threaded`, so a pass on one thread sizes the
  // workspaces as the others do.
  template <class F>
  double for_each_block(Index B, Reduce reduce, bool threaded, F&& f) {
    const int threads = replicable && use_blocks(B) ? block_threads() : 1;
    const Index limit = threads > 1 ? options_.block_columns : block_limit();
    Index count = use_blocks(B) ? (B + limit - 1) / limit : 1;
    count = (count + threads - 1) / threads * threads;  // about equal shares per thread
    const Index width = (B + count - 1) / count;
    // No block may lie wholly inside columns done already (skip >= n).
    count = (B + width - 1) / width;
    double main_sum = 0.0;
    auto run = [&](Lane& lane, Index k) {
      const Index first = std::min(k * width, B - width);
      f(lane, first, width, k * width - first);
    };
#ifdef _OPENMP
    if constexpr (replicable) {
      if (threaded && threads > 1) return threaded_blocks(threads, count, reduce, run);
    }
#endif
    (void)reduce, (void)threaded;  // used only with OpenMP
    Lane lane{energy_, generator_, block_x_, block_z_, weights_, main_sum};
    for (Index k = 0; k < count; ++k) run(lane, k);
    return main_sum;
  }

#ifdef _OPENMP
  // for_each_block's blocks 0 .. count - 1 shared between the threads.
  template <class Run>
  double threaded_blocks(int threads, Index count, Reduce reduce, Run& run) {
    double main_sum = 0.0;
    prepare_replicas(threads, reduce);
    std::exception_ptr error;
#pragma omp parallel for num_threads(threads) schedule(static)
    for (Index k = 0; k < count; ++k) {
      try {
        const int t = omp_get_thread_num();
        if (t == 0) {
          Lane lane{energy_, generator_, block_x_, block_z_, weights_, main_sum};
          run(lane, k);
        } else {
          Replica& r = replicas_[std::size_t(t - 1)];
          Lane lane{r.energy, r.generator, r.block_x, r.block_z, r.weights, r.sum};
          run(lane, k);
        }
      } catch (...) {
#pragma omp critical(deepenergy_for_each_block)
        if (!error) error = std::current_exception();
      }
    }
    if (error) std::rethrow_exception(error);
    for (int t = 1; t < threads; ++t) {
      Replica& r = replicas_[std::size_t(t - 1)];
      if (reduce == Reduce::energy) add_grads(r.energy, energy_);
      if (reduce == Reduce::generator) add_grads(r.generator, generator_);
      main_sum += r.sum;
    }
    return main_sum;
  }
#endif

  // Replicas for threads 1 .. threads - 1 with the trainer's parameter
  // values, zero sums, and zero gradients where the pass accumulates them.
  void prepare_replicas(int threads, Reduce reduce) {
    while (replicas_.size() < std::size_t(threads - 1))
      replicas_.push_back(Replica{energy_, generator_, {}, {}, {}, 0.0});
    for (int t = 1; t < threads; ++t) {
      Replica& r = replicas_[std::size_t(t - 1)];
      copy_values(energy_, r.energy);
      copy_values(generator_, r.generator);
      if (reduce == Reduce::energy) zero_grads(r.energy);
      if (reduce == Reduce::generator) zero_grads(r.generator);
      r.sum = 0.0;
    }
  }
  // Both networks list their parameters in the same order (they are copies).
  template <class Net>
  void copy_values(Net& from, Net& to) {
    collect_parameters(from);
    std::size_t i = 0;
    to.for_each_parameter([&](auto& p) { p.value = next_parameter(i).value; });
  }
  template <class Net>
  void add_grads(Net& from, Net& to) {
    collect_parameters(from);
    std::size_t i = 0;
    to.for_each_parameter([&](auto& p) { p.grad += next_parameter(i).grad; });
  }
  Parameter<S>& next_parameter(std::size_t& i) {
    if (i >= parameter_list_.size())
      throw Error("DeepEnergyGAN: a copy of a network lists more parameters than the network");
    return *parameter_list_[i++];
  }
  template <class Net>
  void collect_parameters(Net& net) {
    parameter_list_.clear();  // keeps its capacity: no allocation after the first pass
    net.for_each_parameter([&](Parameter<S>& p) { parameter_list_.push_back(&p); });
  }

  double energy_phase(const Matrix<S>& x, Phase phase, S w) {
    if constexpr (energy_in_blocks) {
      if (use_blocks(x.cols())) {
        const double sum = for_each_block(
            x.cols(), Reduce::energy, true, [&](Lane& l, Index first, Index n, Index skip) {
              l.block_x = x.middleCols(first, n);
              l.sum += double(l.energy.energy(l.block_x).tail(n - skip).sum());
              l.weights.setConstant(n, w);
              l.weights.head(skip).setZero();
              l.energy.backward(l.weights);
            });
        last_mean_ = sum / double(x.cols());
        return phase == Phase::positive ? last_mean_ : -last_mean_;
      }
    }
    const RowVector<S>& e = energy_.energy(x);
    last_mean_ = double(e.mean());
    double loss = phase == Phase::positive ? last_mean_ : -last_mean_;
    weights_.setConstant(x.cols(), w);
    for_each_term([&](auto& term) {
      if constexpr (requires { term.energy_term(phase, e, weights_); })
        loss += double(term.energy_term(phase, e, weights_));
    });
    energy_.backward(weights_);
    for_each_term([&](auto& term) {
      if constexpr (requires { term.energy_extra(phase, energy_, x); })
        loss += double(term.energy_extra(phase, energy_, x));
    });
    return loss;
  }

  // The last good state, for the rollback policy: parameter values and
  // optimiser state (the networks' and the loss terms'; not names or work
  // buffers), the random stream, the step,
  // the persistent chains and the energy's average. Refilled in place, so a
  // snapshot allocates only when a shape changes: the first time, and when a
  // loss term builds its parameters (restoring one taken before the
  // first update empties the chains and the average, which the next update
  // refills).
  struct Snapshot {
    std::vector<Matrix<S>> value, slot0, slot1;
    std::vector<std::int64_t> updates;
    Rng::State rng;
    std::int64_t step = 0;
    Matrix<S> chains;
    std::vector<Matrix<S>> average;
  };
  template <class F>
  void for_each_saved_parameter(F&& f) {
    energy_.for_each_parameter(f);
    generator_.for_each_parameter(f);
    for_each_term_parameter(f);
  }
  void take_snapshot() {
    std::size_t i = 0;
    for_each_saved_parameter([&](auto& p) {
      if (snapshot_.value.size() <= i) {
        snapshot_.value.emplace_back();
        snapshot_.slot0.emplace_back();
        snapshot_.slot1.emplace_back();
        snapshot_.updates.emplace_back();
      }
      snapshot_.value[i] = p.value;
      snapshot_.slot0[i] = p.slot[0];
      snapshot_.slot1[i] = p.slot[1];
      snapshot_.updates[i] = p.updates;
      ++i;
    });
    snapshot_.rng = rng_.state();
    snapshot_.step = step_;
    snapshot_.chains = chains_;
    snapshot_.average = average_;
  }
  void restore_snapshot() {
    std::size_t i = 0;
    for_each_saved_parameter([&](auto& p) {
      p.value = snapshot_.value[i];
      p.slot[0] = snapshot_.slot0[i];
      p.slot[1] = snapshot_.slot1[i];
      p.updates = snapshot_.updates[i];
      ++i;
    });
    rng_.set_state(snapshot_.rng);
    chains_ = snapshot_.chains;
    average_ = snapshot_.average;
    // Draw a different stream from here, or the same batch would diverge again.
    rng_();
    step_ = snapshot_.step;
  }

  template <class F>
  void for_each_term(F&& f) {
    std::apply([&](auto&... t) { (f(t), ...); }, terms_);
  }

  void sample_data(const Matrix<S>& data) {
    const Index B = options_.batch_size;
    data_batch_.resize(data.rows(), B);
    for (Index j = 0; j < B; ++j)
      data_batch_.col(j) = data.col(Index(rng_.below(std::uint64_t(data.cols()))));
  }

  template <class Net>
  static void zero_grads(Net& net) {
    net.for_each_parameter([](auto& p) { p.zero_grad(); });
  }

  template <class Net>
  void clip_and_update(Net& net, Optimizer& opt, const char* which) {
    double sq = 0.0;
    net.for_each_parameter([&](auto& p) { sq += double(p.grad.squaredNorm()); });
    if (!std::isfinite(sq))
      throw DivergenceError(
          std::string("non-finite ") + which + " gradient at step " + std::to_string(step_ + 1),
          step_ + 1);
    if (options_.clip_norm > 0.0 && sq > options_.clip_norm * options_.clip_norm) {
      const S scale = S(options_.clip_norm / std::sqrt(sq));
      net.for_each_parameter([&](auto& p) { p.grad *= scale; });
    }
    net.for_each_parameter([&](auto& p) {
      if (p.trainable) opt.update(p);
    });
  }

  void check_finite(double v, const char* what) const {
    if (!std::isfinite(v))
      throw DivergenceError(
          "non-finite " + std::string(what) + " at step " + std::to_string(step_ + 1), step_ + 1);
  }

  template <class C>
  void call_begin(C& c) {
    if constexpr (requires { c.on_train_begin(*this); }) c.on_train_begin(*this);
  }
  template <class C>
  void call_step(C& c, const StepInfo& info) {
    if constexpr (requires {
                    { c.on_step(*this, info) } -> std::convertible_to<bool>;
                  }) {
      if (!c.on_step(*this, info)) stop_ = true;
    } else if constexpr (requires { c.on_step(*this, info); }) {
      c.on_step(*this, info);
    }
  }
  template <class C>
  void call_end(C& c) {
    if constexpr (requires { c.on_train_end(*this); }) c.on_train_end(*this);
  }

  EnergyNet energy_;
  GenNet generator_;
  TrainerOptions options_;
  Optimizer energy_opt_, generator_opt_;
  std::tuple<LossTerms...> terms_;
  Rng rng_;
  std::int64_t step_ = 0;
  bool stop_ = false;
  Index rollbacks_ = 0;
  Snapshot snapshot_;
  double last_mean_ = 0.0;
  Matrix<S> data_batch_, grad_x_, negative_, block_x_, block_z_, langevin_from_, chains_;
  RowVector<S> weights_, jump_energy_, jump_new_;  // jump_*: TrainerOptions::langevin_jumps
  Matrix<S> jump_to_;
  std::vector<Matrix<S>> average_;  // TrainerOptions::energy_average
  bool average_swapped_ = false;    // swap_energy_average
  std::vector<Replica> replicas_;
  std::vector<Parameter<S>*> parameter_list_;
};

}  // namespace deepenergy
