// A small, portable random number generator.
//
// std::normal_distribution and friends are implementation-defined, so the same
// seed would give different runs on different standard libraries. This one is
// xoshiro256** seeded through SplitMix64, with uniform and normal variates
// computed here, so a seed means the same numbers everywhere.
#pragma once

#include <array>
#include <cmath>
#include <cstdint>
#include <numbers>

namespace deepenergy {

class Rng {
 public:
  using result_type = std::uint64_t;

  explicit Rng(std::uint64_t seed = 0) { reseed(seed); }

  void reseed(std::uint64_t seed) {
    std::uint64_t x = seed;
    for (auto& s : state_) s = splitmix64(x);
    has_spare_ = false;
    spare_ = 0.0;
  }

  static constexpr result_type min() { return 0; }
  static constexpr result_type max() { return ~result_type{0}; }

  result_type operator()() {
    const std::uint64_t result = rotl(state_[1] * 5, 7) * 9;
    const std::uint64_t t = state_[1] << 17;
    state_[2] ^= state_[0];
    state_[3] ^= state_[1];
    state_[1] ^= state_[2];
    state_[0] ^= state_[3];
    state_[2] ^= t;
    state_[3] = rotl(state_[3], 45);
    return result;
  }

  /// Uniform in [0, 1) with 53 random bits.
  double uniform() { return static_cast<double>((*this)() >> 11) * 0x1.0p-53; }
  /// Uniform in [lo, hi).
  double uniform(double lo, double hi) { return lo + (hi - lo) * uniform(); }
  /// Standard normal (Box-Muller; the second value is kept for the next call).
  double normal() {
    if (has_spare_) {
      has_spare_ = false;
      return spare_;
    }
    double u1 = uniform();
    while (u1 <= 0.0) u1 = uniform();
    const double u2 = uniform();
    const double r = std::sqrt(-2.0 * std::log(u1));
    const double a = 2.0 * std::numbers::pi * u2;
    spare_ = r * std::sin(a);
    has_spare_ = true;
    return r * std::cos(a);
  }
  double normal(double mean, double stddev) { return mean + stddev * normal(); }
  /// Uniform integer in [0, n), without modulo bias.
  std::uint64_t below(std::uint64_t n) {
    const std::uint64_t limit = max() - max() % n;
    std::uint64_t x;
    do x = (*this)();
    while (x >= limit);
    return x % n;
  }

  /// The complete state, for checkpoints: four words, the spare flag and value.
  /// state() never returns four zero words, and set_state must not be given
  /// them (xoshiro256** would then draw only zeros; load_checkpoint refuses
  /// such a file).
  struct State {
    std::array<std::uint64_t, 4> words{};
    bool has_spare = false;
    double spare = 0.0;
  };
  State state() const { return {state_, has_spare_, spare_}; }
  void set_state(const State& s) {
    state_ = s.words;
    has_spare_ = s.has_spare;
    spare_ = s.spare;
  }

  friend bool operator==(const Rng& a, const Rng& b) {
    return a.state_ == b.state_ && a.has_spare_ == b.has_spare_ && a.spare_ == b.spare_;
  }

 private:
  static std::uint64_t rotl(std::uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  static std::uint64_t splitmix64(std::uint64_t& x) {
    std::uint64_t z = (x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }

  std::array<std::uint64_t, 4> state_{};
  bool has_spare_ = false;
  double spare_ = 0.0;
};

}  // namespace deepenergy
