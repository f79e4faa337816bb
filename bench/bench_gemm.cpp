// Reference GEMM: what Eigen alone achieves for the shapes a dense layer with
// 128 inputs and 128 outputs sees, (128 x 128) * (128 x batch), in float.
// Other benchmarks compare their throughput against this one.
#include <deepenergy/rng.hpp>
#include <deepenergy/types.hpp>

#include <benchmark/benchmark.h>
#include <Eigen/Core>

namespace {

template <class S>
void fill_uniform(deepenergy::Matrix<S>& m, deepenergy::Rng& rng) {
  for (deepenergy::Index j = 0; j < m.cols(); ++j)
    for (deepenergy::Index i = 0; i < m.rows(); ++i)
      m(i, j) = static_cast<S>(rng.uniform(-1.0, 1.0));
}

template <class S>
void gemm(benchmark::State& state) {
  Eigen::setNbThreads(1);  // one thread, like every other benchmark unless named otherwise
  constexpr deepenergy::Index kSize = 128;
  const deepenergy::Index batch = state.range(0);
  deepenergy::Rng rng(1);
  deepenergy::Matrix<S> a(kSize, kSize), b(kSize, batch), c(kSize, batch);
  fill_uniform(a, rng);
  fill_uniform(b, rng);

  for (auto _ : state) {
    c.noalias() = a * b;
    benchmark::DoNotOptimize(c.data());
    benchmark::ClobberMemory();
  }

  const double flops = 2.0 * static_cast<double>(kSize * kSize * batch);
  state.counters["GFLOP/s"] = benchmark::Counter(
      flops * 1e-9 * static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
  state.SetItemsProcessed(state.iterations() * batch);
}
void reference_gemm(benchmark::State& state) {
  gemm<float>(state);
}
// The same in double: the reference for the *_double benchmarks.
void reference_gemm_double(benchmark::State& state) {
  gemm<double>(state);
}
BENCHMARK(reference_gemm)->Arg(64)->Arg(256)->Arg(1024)->Arg(4096);
BENCHMARK(reference_gemm_double)->Arg(64)->Arg(256)->Arg(1024)->Arg(4096);

}  // namespace
