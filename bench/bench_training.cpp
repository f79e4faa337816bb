// Training kernels of the paper configuration (paper.hpp): energy 2 -> H -> H
// (ReLU) with H SoftplusExperts and a QuadraticBase, generator 4 -> H -> H -> 2,
// AdaGrad, H = 128 unless a benchmark sweeps it.
//
//   positive_phase/<B>      energy forward + backward (dE/dtheta) on a data batch
//   negative_phase/<B>      G(z), then energy forward + backward on it
//   generator_step/<B>      d mean E(G(z)) / dphi: G forward, E forward, input
//                           gradient through E, backward through G
//   train_step/<B>          one DeepEnergyGAN::step (energy + generator update)
//   train_step_entropy/<B>  the same with the KernelEntropy loss term
//   train_step_width/<H>    train_step at batch 1024 for hidden width H
//   train_step_double/<B>   train_step in double precision
//   train_step_2threads/<B> train_step with Eigen::setNbThreads(2)
//   train_step_whole/<B>    train_step with TrainerOptions::block_columns = 0:
//                           every pass on the whole batch (what the column
//                           blocks save)
//   train_step_blocks/<C>   train_step at batch 1024 with block_columns = C
//                           (the choice of the default)
//
// Every benchmark sets Eigen's thread count itself (OpenMP is linked, and
// Eigen would otherwise use every core). Counters: items_per_second (samples
// per second: batch rows of each kernel's main batch per iteration) and GFLOP/s.
//
// FLOPs are counted analytically and only for the matrix products, as
// multiply-adds x 2 (element-wise activations, softplus/sigmoid, the quadratic
// base, sampling and the optimiser are O(B H) or O(params) and not counted).
// For a Dense layer in -> out on a batch of B samples:
//   forward          y = W x          2 * in * out * B
//   backward weight  dW += g x^T      2 * in * out * B
//   backward input   dx = W^T g       2 * in * out * B
// SoftplusExperts (H features -> K experts) costs the same as a Dense H -> K.
// With data dimension d, latent dimension l, width H and K = H experts, per sample:
//   energy forward         Fe = 2 (d H + H H + H K)
//   energy weight grads    We = Fe
//   energy input grads     Ie = 2 (H K + H H) [+ 2 d H when dE/dx is needed]
//   generator forward      Fg = 2 (l H + H H + H d)
//   generator weight grads Wg = Fg, generator input grads Ig = 2 (H H + H d)
//   positive_phase = Fe + We + Ie
//   negative_phase = Fg + Fe + We + Ie
//   generator_step = Fg + Fe + Ie + 2 d H + Wg + Ig
//   train_step     = positive_phase + negative_phase + generator_step
// The first layer's input gradient is never needed for weight gradients, so it
// is not counted there (the library's Sequential computes it; that is 2 d H per
// sample, under 0.5% of the total). KernelEntropy adds two products with inner
// dimension d on B x B matrices, 4 d B^2 per step (Gram matrix and X K).
#include <deepenergy/datasets.hpp>
#include <deepenergy/paper.hpp>
#include <deepenergy/regularizers.hpp>

#include <benchmark/benchmark.h>
#include <Eigen/Core>

namespace {

using deepenergy::Index;
using deepenergy::Matrix;

struct Flops {
  double d = 2, l = 4, h = 128;
  double energy_forward() const { return 2 * (d * h + h * h + h * h); }
  double energy_weights() const { return energy_forward(); }
  double energy_input() const { return 2 * (h * h + h * h); }
  double gen_forward() const { return 2 * (l * h + h * h + h * d); }
  double gen_weights() const { return gen_forward(); }
  double gen_input() const { return 2 * (h * h + h * d); }
  double positive() const { return energy_forward() + energy_weights() + energy_input(); }
  double negative() const { return gen_forward() + positive(); }
  double generator() const {
    return gen_forward() + energy_forward() + energy_input() + 2 * d * h + gen_weights() +
           gen_input();
  }
  double train_step() const { return positive() + negative() + generator(); }
};

void report(benchmark::State& state, Index batch, double flops_per_sample,
            double flops_per_step = 0.0) {
  const double iters = static_cast<double>(state.iterations());
  state.counters["GFLOP/s"] = benchmark::Counter(
      (flops_per_sample * static_cast<double>(batch) + flops_per_step) * iters * 1e-9,
      benchmark::Counter::kIsRate);
  state.SetItemsProcessed(state.iterations() * batch);
}

template <class S>
Matrix<S> data_set(Index batch) {
  return deepenergy::datasets::two_spiral<S>(std::max<Index>(16384, batch), 11);
}

template <class S, class... Terms>
using TrainerOf = deepenergy::DeepEnergyGAN<deepenergy::paper::Energy<S>, deepenergy::paper::Gen<S>,
                                            deepenergy::AdaGrad, Terms...>;

template <class S, class... Terms>
TrainerOf<S, Terms...> make(Index batch, Index width = 128,
                            Index block_columns = deepenergy::TrainerOptions{}.block_columns) {
  deepenergy::paper::Config c;
  c.hidden = width;
  deepenergy::TrainerOptions opt;
  opt.batch_size = batch;
  opt.block_columns = block_columns;
  opt.seed = 5;
  return TrainerOf<S, Terms...>(deepenergy::paper::make_energy<S>(c),
                                deepenergy::paper::make_generator<S>(c), opt, deepenergy::AdaGrad{},
                                Terms{}...);
}

template <class Net>
void zero_grads(Net& net) {
  net.for_each_parameter([](auto& p) { p.zero_grad(); });
}

void positive_phase(benchmark::State& state) {
  Eigen::setNbThreads(1);
  const Index B = state.range(0);
  auto t = make<float>(B);
  const Matrix<float> batch = data_set<float>(B).leftCols(B);
  for (auto _ : state) {
    zero_grads(t.energy());
    benchmark::DoNotOptimize(t.positive_phase(batch));
  }
  report(state, B, Flops{}.positive());
}

void negative_phase(benchmark::State& state) {
  Eigen::setNbThreads(1);
  const Index B = state.range(0);
  auto t = make<float>(B);
  for (auto _ : state) {
    zero_grads(t.energy());
    benchmark::DoNotOptimize(t.negative_phase());
  }
  report(state, B, Flops{}.negative());
}

void generator_step(benchmark::State& state) {
  Eigen::setNbThreads(1);
  const Index B = state.range(0);
  auto t = make<float>(B);
  for (auto _ : state) {
    zero_grads(t.generator());
    benchmark::DoNotOptimize(t.generator_gradient());
  }
  report(state, B, Flops{}.generator());
}

template <class S, class... Terms>
void run_steps(benchmark::State& state, Index B, Index width, int threads, double extra_per_step,
               Index block_columns = deepenergy::TrainerOptions{}.block_columns) {
  Eigen::setNbThreads(threads);
  auto t = make<S, Terms...>(B, width, block_columns);
  const Matrix<S> data = data_set<S>(B);
  t.step(data);  // warm-up: sizes every workspace and the AdaGrad state
  for (auto _ : state) benchmark::DoNotOptimize(t.step(data));
  Flops f;
  f.h = static_cast<double>(width);
  report(state, B, f.train_step(), extra_per_step);
  Eigen::setNbThreads(1);
}

void train_step(benchmark::State& state) {
  run_steps<float>(state, state.range(0), 128, 1, 0.0);
}

void train_step_entropy(benchmark::State& state) {
  const Index B = state.range(0);
  const double kernel = 4.0 * 2.0 * static_cast<double>(B) * static_cast<double>(B);
  run_steps<float, deepenergy::KernelEntropy<float>>(state, B, 128, 1, kernel);
}

void train_step_width(benchmark::State& state) {
  run_steps<float>(state, 1024, state.range(0), 1, 0.0);
}

void train_step_double(benchmark::State& state) {
  run_steps<double>(state, state.range(0), 128, 1, 0.0);
}

void train_step_2threads(benchmark::State& state) {
  run_steps<float>(state, state.range(0), 128, 2, 0.0);
}

void train_step_whole(benchmark::State& state) {
  run_steps<float>(state, state.range(0), 128, 1, 0.0, 0);
}

void train_step_blocks(benchmark::State& state) {
  run_steps<float>(state, 1024, 128, 1, 0.0, state.range(0));
}

#define DEEPENERGY_BATCHES Arg(64)->Arg(256)->Arg(1024)->Arg(4096)
BENCHMARK(positive_phase)->DEEPENERGY_BATCHES;
BENCHMARK(negative_phase)->DEEPENERGY_BATCHES;
BENCHMARK(generator_step)->DEEPENERGY_BATCHES;
BENCHMARK(train_step)->DEEPENERGY_BATCHES;
BENCHMARK(train_step_entropy)->DEEPENERGY_BATCHES;
BENCHMARK(train_step_width)->Arg(64)->Arg(128)->Arg(256);
BENCHMARK(train_step_double)->DEEPENERGY_BATCHES;
// Wall-clock time: the CPU timer would see only the main thread's share.
BENCHMARK(train_step_2threads)->Arg(64)->Arg(1024)->Arg(4096)->UseRealTime();
BENCHMARK(train_step_whole)->Arg(1024)->Arg(4096);
BENCHMARK(train_step_blocks)->Arg(64)->Arg(128)->Arg(256)->Arg(512);
#undef DEEPENERGY_BATCHES

}  // namespace
