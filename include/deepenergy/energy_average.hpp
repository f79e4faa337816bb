// The energy's parameter average (TrainerOptions::energy_average) outside
// the trainer: the one check of an average against an energy's parameters
// (set_energy_average and load_checkpoint both run it) and a scope guard
// that evaluates the averaged energy. Small and trainer-free, so that
// checkpoint.hpp needs no trainer.
#pragma once

#include <concepts>
#include <string>
#include <type_traits>
#include <vector>

#include "deepenergy/types.hpp"

namespace deepenergy {

/// Throws Error unless `average` can be the parameter average of `energy`:
/// empty, or one finite matrix per parameter, in for_each_parameter order,
/// of that parameter's shape. `subject` starts each message (e.g.
/// "set_energy_average: the average"); `non_finite_note` ends the one about
/// non-finite values (load_checkpoint: "; the file is damaged").
template <class Net, class S>
void check_energy_average(const std::string& subject, Net& energy,
                          const std::vector<Matrix<S>>& average,
                          const std::string& non_finite_note = {}) {
  if (average.empty()) return;
  std::size_t i = 0;
  energy.for_each_parameter([&](auto& p) {
    if (i < average.size()) {
      const Matrix<S>& a = average[i];
      const auto which = [&] {
        return subject + " of parameter " + std::to_string(i) + " (" + p.name + ")";
      };
      if (a.rows() != p.value.rows() || a.cols() != p.value.cols())
        throw Error(which() + " has shape " + std::to_string(a.rows()) + "x" +
                    std::to_string(a.cols()) + " but the parameter has shape " +
                    std::to_string(p.value.rows()) + "x" + std::to_string(p.value.cols()));
      if (!a.allFinite()) throw Error(which() + " holds non-finite values" + non_finite_note);
    }
    ++i;
  });
  if (i != average.size())
    throw Error(subject + " has " + std::to_string(average.size()) +
                " matrices but the energy has " + std::to_string(i) + " parameters");
}

/// A trainer with an energy average that can be swapped in
/// (DeepEnergyGAN::swap_energy_average). swap_energy_average() must not
/// throw while energy_average() is non-empty (EnergyAverageScope's
/// destructor relies on it).
template <class Trainer>
concept averaging_trainer = requires(Trainer& t) {
  { t.energy_average().empty() } -> std::convertible_to<bool>;
  { t.energy_average_swapped() } -> std::convertible_to<bool>;
  t.swap_energy_average();
};

/// Which parameter values an EnergyAverageScope puts into the energy.
enum class EnergyValues {
  training,  ///< the values training goes on from
  average,   ///< their average (TrainerOptions::energy_average)
};

/// Puts a trainer's energy average (EnergyValues::average) or its training
/// values (EnergyValues::training) into trainer.energy() for the guard's
/// lifetime, and the state it found back when the guard ends, also when an
/// exception ends the scope:
///   { const EnergyAverageScope averaged(trainer, EnergyValues::average);
///     evaluate(trainer.energy()); }
/// Nothing happens when the trainer already is in that state. Asking for the
/// average throws Error when there is none (swap_energy_average's) or when
/// the trainer type has no average at all; asking for the training values of
/// such a type does nothing (save_checkpoint does that for any trainer).
template <class Trainer>
class EnergyAverageScope {
  static_assert(!std::is_const_v<Trainer>,
                "EnergyAverageScope changes the trainer's energy: pass a non-const trainer");

 public:
  EnergyAverageScope(Trainer& trainer, EnergyValues values) : trainer_(trainer) {
    const bool averaged = values == EnergyValues::average;
    if constexpr (averaging_trainer<Trainer>) {
      before_ = trainer.energy_average_swapped();
      if (before_ != averaged) trainer.swap_energy_average();
    } else if (averaged) {
      throw Error("EnergyAverageScope: this trainer type has no energy average");
    }
  }
  ~EnergyAverageScope() {
    // Back to the state found. A load_checkpoint inside the scope may have
    // changed the state and the average; with no average there is nothing
    // to swap.
    if constexpr (averaging_trainer<Trainer>)
      if (trainer_.energy_average_swapped() != before_ && !trainer_.energy_average().empty())
        trainer_.swap_energy_average();
  }
  EnergyAverageScope(const EnergyAverageScope&) = delete;
  EnergyAverageScope& operator=(const EnergyAverageScope&) = delete;

 private:
  Trainer& trainer_;
  bool before_ = false;
};

}  // namespace deepenergy
