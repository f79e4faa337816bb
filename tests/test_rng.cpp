// Tests of deepenergy::Rng (include/deepenergy/rng.hpp).
#include "deepenergy/rng.hpp"

#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

namespace {

constexpr int kDraws = 100000;

std::vector<std::uint64_t> draw_words(deepenergy::Rng& rng, int n) {
  std::vector<std::uint64_t> out;
  out.reserve(static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i) out.push_back(rng());
  return out;
}

}  // namespace

TEST_CASE("equal seeds give equal streams") {
  deepenergy::Rng a(12345), b(12345);
  CHECK(a == b);
  CHECK(draw_words(a, 1000) == draw_words(b, 1000));
  for (int i = 0; i < 100; ++i) {
    CHECK(a.uniform() == b.uniform());
    CHECK(a.normal() == b.normal());
    CHECK(a.below(17) == b.below(17));
  }
  CHECK(a == b);
}

TEST_CASE("reseed restarts the stream") {
  deepenergy::Rng a(99);
  const auto first = draw_words(a, 64);
  a.normal();  // leaves a spare value behind; reseed must drop it
  a.reseed(99);
  CHECK(a == deepenergy::Rng(99));
  CHECK(draw_words(a, 64) == first);
}

TEST_CASE("different seeds give different streams") {
  deepenergy::Rng a(1), b(2), zero(0);
  const auto wa = draw_words(a, 256);
  const auto wb = draw_words(b, 256);
  const auto wz = draw_words(zero, 256);
  int same_ab = 0, same_az = 0;
  for (std::size_t i = 0; i < wa.size(); ++i) {
    same_ab += wa[i] == wb[i];
    same_az += wa[i] == wz[i];
  }
  CHECK(same_ab == 0);
  CHECK(same_az == 0);
  // Seed 0 must not produce a degenerate (all-zero) state.
  int zeros = 0;
  for (auto w : wz) zeros += w == 0;
  CHECK(zeros == 0);
}

TEST_CASE("uniform() lies in the unit interval with mean 1/2") {
  deepenergy::Rng rng(2024);
  double sum = 0.0, lo = 1.0, hi = 0.0;
  for (int i = 0; i < kDraws; ++i) {
    const double u = rng.uniform();
    REQUIRE(u >= 0.0);
    REQUIRE(u < 1.0);
    sum += u;
    lo = u < lo ? u : lo;
    hi = u > hi ? u : hi;
  }
  CHECK(std::abs(sum / kDraws - 0.5) < 0.01);
  CHECK(lo < 0.001);
  CHECK(hi > 0.999);
}

TEST_CASE("uniform(lo hi) stays between its bounds") {
  deepenergy::Rng rng(5);
  for (int i = 0; i < 10000; ++i) {
    const double u = rng.uniform(-2.0, 3.0);
    REQUIRE(u >= -2.0);
    REQUIRE(u < 3.0);
  }
}

TEST_CASE("normal() has mean 0 and variance 1") {
  deepenergy::Rng rng(77);
  double sum = 0.0, sum_sq = 0.0;
  for (int i = 0; i < kDraws; ++i) {
    const double z = rng.normal();
    sum += z;
    sum_sq += z * z;
  }
  const double mean = sum / kDraws;
  const double var = sum_sq / kDraws - mean * mean;
  CHECK(std::abs(mean) < 0.02);
  CHECK(std::abs(var - 1.0) < 0.02);
}

TEST_CASE("normal(mean stddev) is shifted and scaled") {
  deepenergy::Rng rng(78);
  double sum = 0.0, sum_sq = 0.0;
  for (int i = 0; i < kDraws; ++i) {
    const double z = rng.normal(3.0, 0.5);
    sum += z;
    sum_sq += z * z;
  }
  const double mean = sum / kDraws;
  const double var = sum_sq / kDraws - mean * mean;
  CHECK(std::abs(mean - 3.0) < 0.02);
  CHECK(std::abs(var - 0.25) < 0.02);
}

TEST_CASE("below(n) stays below n and hits every value") {
  deepenergy::Rng rng(3);
  for (std::uint64_t n : {1ULL, 2ULL, 3ULL, 7ULL, 10ULL, 1000ULL}) {
    std::vector<int> seen(static_cast<std::size_t>(n < 16 ? n : 16), 0);
    for (int i = 0; i < 20000; ++i) {
      const std::uint64_t k = rng.below(n);
      REQUIRE(k < n);
      if (k < seen.size()) ++seen[k];
    }
    for (int count : seen) CHECK(count > 0);
  }
  // A bound above 2^63 exercises the rejection path.
  const std::uint64_t big = (std::uint64_t{1} << 63) + 12345;
  for (int i = 0; i < 1000; ++i) REQUIRE(rng.below(big) < big);
}

TEST_CASE("state() and set_state() reproduce the sequence") {
  deepenergy::Rng rng(42);
  for (int i = 0; i < 10; ++i) rng();
  rng.normal();  // a spare normal value is part of the state

  const deepenergy::Rng::State saved = rng.state();
  std::vector<double> expected;
  for (int i = 0; i < 50; ++i) {
    expected.push_back(rng.normal());
    expected.push_back(rng.uniform());
    expected.push_back(static_cast<double>(rng.below(1000)));
  }

  deepenergy::Rng restored(0);
  restored.set_state(saved);
  std::vector<double> replay;
  for (int i = 0; i < 50; ++i) {
    replay.push_back(restored.normal());
    replay.push_back(restored.uniform());
    replay.push_back(static_cast<double>(restored.below(1000)));
  }
  CHECK(replay == expected);
  CHECK(restored == rng);
}

TEST_CASE("Rng works as a UniformRandomBitGenerator") {
  static_assert(std::uniform_random_bit_generator<deepenergy::Rng>);
  static_assert(deepenergy::Rng::min() == 0);
  static_assert(deepenergy::Rng::max() == ~std::uint64_t{0});
  deepenergy::Rng rng(8);
  std::uniform_int_distribution<int> die(1, 6);
  for (int i = 0; i < 100; ++i) {
    const int x = die(rng);
    REQUIRE(x >= 1);
    REQUIRE(x <= 6);
  }
}
