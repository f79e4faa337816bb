// DeepEnergyGAN: learning a 2D Gaussian, determinism, options, callbacks,
// loss terms and a user-defined expert.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <deepenergy/deepenergy.hpp>

#include "helpers.hpp"

using namespace deepenergy;

namespace {

template <class S>
Matrix<S> gaussian_data(Index n, std::uint64_t seed) {
  Rng rng(seed);
  Matrix<S> x(2, n);
  for (Index j = 0; j < n; ++j) {
    x(0, j) = S(rng.normal(1.0, 0.3));
    x(1, j) = S(rng.normal(-1.0, 0.3));
  }
  return x;
}

paper::Config small_config() {
  paper::Config c;
  c.hidden = 32;
  return c;
}

template <class Net>
std::vector<Matrix<double>> parameters_of(Net& net) {
  std::vector<Matrix<double>> v;
  net.for_each_parameter([&](auto& p) { v.push_back(p.value.template cast<double>()); });
  return v;
}

using ReplayTrainer = DeepEnergyGAN<paper::Energy<double>, paper::Gen<double>, SGD>;

/// Recomputes one energy update of `t` (SGD, learning rate 0.1, batch 5) by
/// hand, replaying its random stream: the data batch, the latents, then
/// whatever `refine(x, rng)` draws to turn G(z) into the negative samples.
/// Checks that t.energy_update lands on the same parameters.
template <class Refine>
void check_replayed_energy_update(ReplayTrainer& t, const Matrix<double>& data, Refine refine) {
  ReplayTrainer ref = t;
  Rng rng = t.rng();
  Matrix<double> batch(2, 5);
  for (Index j = 0; j < 5; ++j) batch.col(j) = data.col(Index(rng.below(5)));
  Matrix<double> z;
  ref.generator().latent().sample(z, 5, rng);
  Matrix<double> x = ref.generator().forward(z);
  refine(ref, x, rng);
  ref.energy().for_each_parameter([](auto& p) { p.zero_grad(); });
  ref.energy().energy(batch);
  ref.energy().backward(RowVector<double>::Constant(5, 1.0 / 5));
  ref.energy().energy(x);
  ref.energy().backward(RowVector<double>::Constant(5, -1.0 / 5));
  std::vector<Matrix<double>> want;
  ref.energy().for_each_parameter([&](auto& p) { want.push_back(p.value - 0.1 * p.grad); });

  StepInfo info;
  t.energy_update(data, info);
  std::size_t i = 0;
  t.energy().for_each_parameter([&](auto& p) { CHECK(p.value.isApprox(want[i++], 1e-12)); });
  CHECK(info.energy_loss == doctest::Approx(info.data_energy - info.sample_energy));
}

}  // namespace

TEST_CASE_TEMPLATE("the paper's recipe moves the generator onto a 2D Gaussian", S, float, double) {
  const Matrix<S> data = gaussian_data<S>(2000, 1);
  TrainerOptions opt;
  opt.seed = 7;
  auto t = paper::make_trainer<S>(small_config(), opt);
  t.train(data, 1500);
  Rng rng(99);
  const Matrix<S> x = t.generator().sample(4000, rng);
  const Vector<S> mean = x.rowwise().mean();
  MESSAGE("generator mean " << mean.transpose() << " (data mean 1, -1)");
  CHECK(std::abs(double(mean(0)) - 1.0) < 0.1);
  CHECK(std::abs(double(mean(1)) + 1.0) < 0.1);
}

TEST_CASE_TEMPLATE("with generator entropy, both networks learn a 2D Gaussian", S, float, double) {
  // Eq. 5 alone leaves the energy nearly flat once G covers the data (the
  // phases cancel); the entropy term makes the generator sample exp(-E) so
  // the energy takes the data's shape.
  const Matrix<S> data = gaussian_data<S>(2000, 1);
  TrainerOptions opt;
  opt.seed = 7;
  DeepEnergyGAN<paper::Energy<S>, paper::Gen<S>, AdaGrad, KernelEntropy<S>> t(
      paper::make_energy<S>(small_config()), paper::make_generator<S>(small_config()), opt);
  t.train(data, 1500);

  Rng rng(99);
  const Matrix<S> x = t.generator().sample(4000, rng);
  const Vector<S> mean = x.rowwise().mean();
  const Vector<S> sd = (x.colwise() - mean).array().square().rowwise().mean().sqrt();
  MESSAGE("generator mean " << mean.transpose() << ", std " << sd.transpose());
  CHECK(std::abs(double(mean(0)) - 1.0) < 0.1);
  CHECK(std::abs(double(mean(1)) + 1.0) < 0.1);
  CHECK(std::abs(double(sd(0)) - 0.3) < 0.06);
  CHECK(std::abs(double(sd(1)) - 0.3) < 0.06);

  // Lower energy at the data mean than 3 sigma away in every direction.
  Matrix<S> probe(2, 17);
  probe.col(0) << S(1), S(-1);
  for (Index i = 0; i < 16; ++i)
    probe.col(i + 1) << S(1 + 0.9 * std::cos(0.3927 * double(i))),
        S(-1 + 0.9 * std::sin(0.3927 * double(i)));
  const RowVector<S> e = t.energy().energy(probe);
  MESSAGE("E(3 sigma ring) - E(mean): " << (e.array() - e(0)).matrix());
  for (Index j = 1; j < 17; ++j) CHECK(e(0) < e(j));
}

TEST_CASE("same seed gives bit-identical parameters; another seed does not") {
  const Matrix<float> data = gaussian_data<float>(500, 2);
  TrainerOptions opt;
  opt.seed = 11;
  auto a = paper::make_trainer<float>(small_config(), opt);
  auto b = paper::make_trainer<float>(small_config(), opt);
  a.train(data, 40);
  b.train(data, 40);
  CHECK(parameters_of(a.energy()) == parameters_of(b.energy()));
  CHECK(parameters_of(a.generator()) == parameters_of(b.generator()));
  opt.seed = 12;
  auto c = paper::make_trainer<float>(small_config(), opt);
  c.train(data, 40);
  CHECK(parameters_of(a.energy()) != parameters_of(c.energy()));
}

TEST_CASE("energy update follows eq. 1 and 4: positive minus negative phase") {
  // One energy update with SGD(lr) must move theta by -lr * (mean dE/dtheta
  // on the data batch - mean dE/dtheta on G(z)), recomputed here by hand.
  paper::Config c;
  c.hidden = 6;
  TrainerOptions opt;
  opt.batch_size = 5;
  opt.seed = 3;
  opt.energy_learning_rate = 0.1;
  ReplayTrainer t(paper::make_energy<double>(c), paper::make_generator<double>(c), opt);
  check_replayed_energy_update(t, gaussian_data<double>(5, 4), [](auto&, auto&, Rng&) {});
}

TEST_CASE("TrainerOptions: each bad value is named") {
  auto fails = [](TrainerOptions o, const char* what) {
    CHECK_THROWS_WITH_AS(o.validate(), doctest::Contains(what), Error);
  };
  TrainerOptions o;
  o.batch_size = 0;
  fails(o, "batch_size = 0, expected a positive integer");
  o = {};
  o.energy_learning_rate = -1;
  fails(o, "energy_learning_rate");
  o = {};
  o.generator_learning_rate = std::nan("");
  fails(o, "generator_learning_rate");
  o = {};
  o.energy_updates_per_generator_update = 0;
  fails(o, "energy_updates_per_generator_update");
  o = {};
  o.latent_bound = 0.0;
  fails(o, "latent_bound");
  o = {};
  o.clip_norm = -1;
  fails(o, "clip_norm");
  o = {};
  o.langevin_steps = -1;
  fails(o, "langevin_steps = -1, expected zero (off) or a positive integer");
  o = {};
  o.langevin_step_size = 0.0;
  fails(o, "langevin_step_size");
  o = {};
  o.block_columns = -1;
  fails(o, "block_columns = -1, expected zero (off) or a positive integer");
  o = {};
  o.langevin_steps = 1;
  o.langevin_restart = -0.1;
  fails(o, "langevin_restart = -0.100000, expected a number in [0, 1]");
  o.langevin_restart = 1.5;
  fails(o, "langevin_restart = 1.500000, expected a number in [0, 1]");
  o.langevin_restart = 0.0;  // chains that never restart
  CHECK_NOTHROW(o.validate());
  o.langevin_restart = std::nan("");
  fails(o, "langevin_restart");
  o = {};
  o.langevin_restart = 0.5;  // with langevin_steps = 0
  fails(o, "expected 1 when langevin_steps = 0 (persistent chains need Langevin steps)");
  o.langevin_steps = 1;
  CHECK_NOTHROW(o.validate());
  o = {};
  o.langevin_jumps = -1;
  fails(o, "langevin_jumps = -1, expected zero (off) or a positive integer");
  o.langevin_jumps = 2;
  fails(o,
        "langevin_jumps = 2, expected 0 when langevin_steps = 0 (the jumps are part of the "
        "Langevin refinement)");
  o.langevin_steps = 1;
  CHECK_NOTHROW(o.validate());
  o.batch_size = 3;
  fails(o, "langevin_jumps = 2, expected 0 when batch_size < 4");
  o.batch_size = 4;
  CHECK_NOTHROW(o.validate());
  o = {};
  o.langevin_data_restart = 0.5;  // with langevin_steps = 0
  fails(o,
        "langevin_data_restart = 0.500000, expected 0 when langevin_steps = 0 (a chain started "
        "at the data needs Langevin steps)");
  o.langevin_steps = 1;
  CHECK_NOTHROW(o.validate());
  o.langevin_data_restart = 1.5;
  fails(o, "langevin_data_restart = 1.500000, expected a number in [0, 1]");
  o.langevin_data_restart = -0.1;
  fails(o, "langevin_data_restart = -0.100000, expected a number in [0, 1]");
  o.langevin_data_restart = std::nan("");
  fails(o, "langevin_data_restart");
  o.langevin_data_restart = 1.0;
  CHECK_NOTHROW(o.validate());
  o = {};
  o.energy_average = 1.0;
  fails(o, "energy_average = 1.000000, expected zero (off) or a decay in (0, 1)");
  o.energy_average = -0.5;
  fails(o, "energy_average = -0.500000");
  o.energy_average = std::nan("");
  fails(o, "energy_average");
  o.energy_average = 0.999;
  CHECK_NOTHROW(o.validate());
}

TEST_CASE("energy average: avg <- d_t avg + (1 - d_t) theta after each energy update") {
  TrainerOptions opt;
  opt.energy_average = 0.3;  // d_t = min(0.3, (1 + t) / (10 + t)): 0.25 at step 2, then 0.3
  opt.batch_size = 16;
  DeepEnergyGAN<paper::Energy<double>, paper::Gen<double>> t(
      paper::make_energy<double>(small_config()), paper::make_generator<double>(small_config()),
      opt);
  CHECK(t.energy_average().empty());  // before the first update
  const Matrix<double> data = gaussian_data<double>(100, 4);
  // The average computed here from the parameters after each step (one
  // energy update per step), starting from the first step's.
  std::vector<Matrix<double>> want;
  for (int step = 1; step <= 6; ++step) {
    t.step(data);
    const auto theta = parameters_of(t.energy());
    const double d = std::min(0.3, (1.0 + step) / (10.0 + step));
    if (want.empty())
      want = theta;
    else
      for (std::size_t i = 0; i < want.size(); ++i) want[i] = d * want[i] + (1 - d) * theta[i];
  }
  const std::vector<Matrix<double>>& got = t.energy_average();
  REQUIRE(got.size() == want.size());
  for (std::size_t i = 0; i < want.size(); ++i) CHECK(got[i].isApprox(want[i], 1e-14));
  // It is an average of moving parameters, not the last ones.
  CHECK_FALSE(got[0].isApprox(parameters_of(t.energy())[0], 1e-6));

  SUBCASE("swap_energy_average exchanges values and average; twice restores both") {
    const auto theta = parameters_of(t.energy());
    const Matrix<double> x = data.leftCols(10);
    const std::vector<Matrix<double>> average = t.energy_average();
    auto averaged = t;  // the average put in by hand
    std::size_t i = 0;
    averaged.energy().for_each_parameter([&](auto& p) { p.value = average[i++]; });
    t.swap_energy_average();
    i = 0;
    t.energy().for_each_parameter([&](auto& p) { CHECK(p.value == average[i++]); });
    const RowVector<double> e = t.energy().energy(x);
    CHECK(e == averaged.energy().energy(x));
    i = 0;
    for (const auto& a : t.energy_average()) CHECK(a == theta[i++]);
    t.swap_energy_average();
    CHECK(parameters_of(t.energy()) == theta);
  }
  SUBCASE("while the average is swapped in, nothing trains it") {
    t.swap_energy_average();
    REQUIRE(t.energy_average_swapped());
    const auto in = parameters_of(t.energy());
    StepInfo info;
    CHECK_THROWS_WITH_AS(t.step(data),
                         "step: the energy holds its parameters' average (swap_energy_average); "
                         "swap it back first",
                         Error);
    CHECK_THROWS_WITH_AS(t.energy_update(data, info), doctest::Contains("energy_update: "), Error);
    CHECK_THROWS_WITH_AS(t.generator_update(info), doctest::Contains("generator_update: "), Error);
    CHECK_THROWS_WITH_AS(t.train(data, 1), doctest::Contains("train: the energy holds"), Error);
    CHECK_THROWS_WITH_AS(t.set_energy_average({}), doctest::Contains("set_energy_average: "),
                         Error);
    CHECK(parameters_of(t.energy()) == in);
    t.swap_energy_average();
    CHECK_FALSE(t.energy_average_swapped());
    CHECK_NOTHROW(t.step(data));
  }
  SUBCASE("EnergyAverageScope puts the average in or out, and back, also on an exception") {
    const auto theta = parameters_of(t.energy());
    const std::vector<Matrix<double>> average = t.energy_average();
    {
      const EnergyAverageScope averaged(t, EnergyValues::average);
      CHECK(t.energy_average_swapped());
      CHECK(parameters_of(t.energy()) == average);
      {
        const EnergyAverageScope training_values(t, EnergyValues::training);
        CHECK_FALSE(t.energy_average_swapped());
        CHECK(parameters_of(t.energy()) == theta);
      }
      {
        const EnergyAverageScope again(t, EnergyValues::average);  // already in: nothing to do
        CHECK(t.energy_average_swapped());
      }
      CHECK(parameters_of(t.energy()) == average);
    }
    CHECK_FALSE(t.energy_average_swapped());
    CHECK(parameters_of(t.energy()) == theta);
    CHECK_THROWS_WITH_AS(
        [&] {
          const EnergyAverageScope averaged(t, EnergyValues::average);
          throw Error("the evaluation failed");
        }(),
        "the evaluation failed", Error);
    CHECK_FALSE(t.energy_average_swapped());
    CHECK(parameters_of(t.energy()) == theta);
    CHECK(t.energy_average() == average);
  }
  SUBCASE("set_energy_average checks what it is given") {
    auto wrong = t.energy_average();
    wrong.pop_back();
    CHECK_THROWS_WITH_AS(
        t.set_energy_average(wrong),
        doctest::Contains(doctest::String(
            ("set_energy_average: the average has " + std::to_string(want.size() - 1) +
             " matrices but the energy has " + std::to_string(want.size()) + " parameters")
                .c_str())),
        Error);
    wrong = t.energy_average();
    wrong[1].resize(wrong[1].rows() + 1, wrong[1].cols());
    wrong[1].setZero();
    CHECK_THROWS_WITH_AS(t.set_energy_average(wrong),
                         doctest::Contains("the average of parameter 1 ("), Error);
    wrong = t.energy_average();
    wrong[0](0) = std::nan("");
    CHECK_THROWS_WITH_AS(t.set_energy_average(wrong), doctest::Contains("non-finite"), Error);
    CHECK(t.energy_average()[0].isApprox(want[0], 1e-14));  // unchanged by the failures
    t.set_energy_average({});  // restarts from the next update's values
    t.step(data);
    const auto theta = parameters_of(t.energy());
    REQUIRE(t.energy_average().size() == theta.size());
    for (std::size_t i = 0; i < theta.size(); ++i) CHECK(t.energy_average()[i] == theta[i]);
  }
}

TEST_CASE("energy average: training does not depend on it") {
  TrainerOptions opt;
  opt.batch_size = 16;
  opt.seed = 3;
  DeepEnergyGAN<paper::Energy<double>, paper::Gen<double>> plain(
      paper::make_energy<double>(small_config()), paper::make_generator<double>(small_config()),
      opt);
  opt.energy_average = 0.9;
  DeepEnergyGAN<paper::Energy<double>, paper::Gen<double>> averaged(
      paper::make_energy<double>(small_config()), paper::make_generator<double>(small_config()),
      opt);
  const Matrix<double> data = gaussian_data<double>(100, 4);
  plain.train(data, 12);
  averaged.train(data, 12);
  CHECK(parameters_of(plain.energy()) == parameters_of(averaged.energy()));
  CHECK(parameters_of(plain.generator()) == parameters_of(averaged.generator()));
  CHECK(averaged.energy_average().size() == parameters_of(plain.energy()).size());
}

TEST_CASE("energy average: off by default, and swap says why it cannot") {
  DeepEnergyGAN<paper::Energy<float>, paper::Gen<float>> t(
      paper::make_energy<float>(small_config()), paper::make_generator<float>(small_config()));
  t.step(gaussian_data<float>(100, 4));
  CHECK(t.energy_average().empty());
  CHECK_THROWS_WITH_AS(t.swap_energy_average(),
                       "swap_energy_average: there is no average "
                       "(TrainerOptions::energy_average is 0)",
                       Error);
  std::vector<Matrix<float>> some;
  t.energy().for_each_parameter([&](auto& p) { some.push_back(p.value); });
  CHECK_THROWS_WITH_AS(EnergyAverageScope(t, EnergyValues::average),
                       doctest::Contains("there is no average"), Error);
  { const EnergyAverageScope training_values(t, EnergyValues::training); }  // nothing to swap
  CHECK_FALSE(t.energy_average_swapped());
  t.set_energy_average(some);  // checked, then dropped: averaging is off
  CHECK(t.energy_average().empty());
  some.pop_back();
  CHECK_THROWS_AS(t.set_energy_average(some), Error);
}

TEST_CASE("Langevin refinement: the negative phase sees x - eps^2/2 dE/dx + eps noise") {
  // One energy update with one Langevin step must equal the update computed
  // by hand on the refined samples (one normal per coordinate after the latents).
  paper::Config c;
  c.hidden = 6;
  TrainerOptions opt;
  opt.batch_size = 5;
  opt.seed = 8;
  opt.energy_learning_rate = 0.1;
  opt.langevin_steps = 1;
  opt.langevin_step_size = 0.3;
  ReplayTrainer t(paper::make_energy<double>(c), paper::make_generator<double>(c), opt);
  check_replayed_energy_update(
      t, gaussian_data<double>(5, 4), [](ReplayTrainer& ref, Matrix<double>& x, Rng& rng) {
        ref.energy().energy(x);
        const Matrix<double> dEdx = ref.energy().input_gradient(RowVector<double>::Ones(5));
        x -= 0.5 * 0.3 * 0.3 * dEdx;
        for (Index k = 0; k < x.size(); ++k) x(k) += 0.3 * rng.normal();
      });
}

TEST_CASE("Langevin refinement lowers the energy of samples far from a minimum") {
  // Started on a wide ring (radius 3, where the quadratic base alone gives
  // 4.5 nats), enough steps to mix (the drift time 2 / eps^2 is 200 steps)
  // must bring the samples to the low-energy centre: E falls by nats.
  paper::Config c;
  c.hidden = 8;
  TrainerOptions opt;
  opt.batch_size = 32;
  opt.seed = 2;
  opt.langevin_steps = 1000;
  opt.langevin_step_size = 0.1;
  using T = DeepEnergyGAN<paper::Energy<double>, paper::Gen<double>>;
  T t(paper::make_energy<double>(c), paper::make_generator<double>(c), opt);
  Matrix<double> start(2, 32);
  for (Index j = 0; j < 32; ++j) {
    const double a = 6.283185307179586 * double(j) / 32.0;
    start.col(j) << 3.0 * std::cos(a), 3.0 * std::sin(a);
  }
  const double before = t.energy().energy(start).mean();
  t.langevin_refine(start);
  const double after = t.energy().energy(t.negative_samples()).mean();
  MESSAGE("mean energy " << before << " -> " << after);
  CHECK(after < before - 1.5);
}

TEST_CASE("persistent chains: a negative sample continues its chain unless it restarts") {
  // A Langevin step far too small to move anything (eps = 1e-6): a column
  // that continues its chain keeps the last update's sample, one that
  // restarts is a fresh generator sample, far from it.
  paper::Config c;
  c.hidden = 8;
  TrainerOptions opt;
  opt.batch_size = 64;
  opt.seed = 4;
  opt.langevin_steps = 1;
  opt.langevin_step_size = 1e-6;
  const Matrix<double> data = gaussian_data<double>(100, 3);
  // Columns of the second update's negative batch equal to the first's.
  const auto continued = [&](double restart) {
    opt.langevin_restart = restart;
    auto t = paper::make_trainer<double>(c, opt);
    StepInfo info;
    t.energy_update(data, info);
    const Matrix<double> first = t.negative_samples();
    CHECK(t.persistent_chains().size() == (restart < 1.0 ? first.size() : 0));
    t.energy_update(data, info);
    Index same = 0;
    for (Index j = 0; j < first.cols(); ++j)
      same += (t.negative_samples().col(j) - first.col(j)).norm() < 1e-4 ? 1 : 0;
    if (restart < 1.0) CHECK(t.persistent_chains() == t.negative_samples());
    return same;
  };
  CHECK(continued(1.0) == 0);   // the default: every chain starts at G
  CHECK(continued(0.0) == 64);  // never restarts
  const Index half = continued(0.5);
  MESSAGE(half << " of 64 columns continued with restart 0.5");
  CHECK(half >= 16);  // Binomial(64, 1/2): 32 +- 4
  CHECK(half <= 48);

  SUBCASE("set_persistent_chains: chains of another batch size restart from the generator") {
    opt.langevin_restart = 0.0;
    auto t = paper::make_trainer<double>(c, opt);
    StepInfo info;
    t.set_persistent_chains(Matrix<double>::Constant(2, 64, 7.0));
    t.energy_update(data, info);
    CHECK((t.negative_samples().array() - 7.0).abs().maxCoeff() < 1e-4);
    t.set_persistent_chains(Matrix<double>::Constant(2, 10, 7.0));
    t.energy_update(data, info);
    CHECK((t.negative_samples().array() - 7.0).abs().minCoeff() > 1.0);
    CHECK_THROWS_WITH_AS(t.set_persistent_chains(Matrix<double>::Zero(3, 64)),
                         "set_persistent_chains: points of size 3, the energy's input has size 2",
                         Error);
    Matrix<double> nan = Matrix<double>::Zero(2, 64);
    nan(1, 5) = std::nan("");
    CHECK_THROWS_WITH_AS(t.set_persistent_chains(nan),
                         "set_persistent_chains: the chains hold non-finite values", Error);
  }
  SUBCASE("a failed energy update leaves the chains as they were") {
    opt.langevin_restart = 0.0;
    auto t = paper::make_trainer<double>(c, opt);
    StepInfo info;
    t.energy_update(data, info);
    // A chain at 1e300 overflows its energy: the update fails its checks.
    Matrix<double> far = t.persistent_chains();
    far.col(3).setConstant(1e300);
    t.set_persistent_chains(far);
    CHECK_THROWS_AS(t.energy_update(data, info), DivergenceError);
    CHECK(t.persistent_chains() == far);
  }
  SUBCASE("with langevin_restart = 1 there are no chains to keep") {
    opt.langevin_restart = 1.0;
    auto t = paper::make_trainer<double>(c, opt);
    t.set_persistent_chains(Matrix<double>::Zero(2, 64));
    CHECK(t.persistent_chains().size() == 0);
  }
}

TEST_CASE("langevin_data_restart: a negative sample starts at the data batch with that share") {
  // As above, a step too small to move anything: a column that starts at the
  // data is one of the data points, one from the generator is not.
  paper::Config c;
  c.hidden = 8;
  TrainerOptions opt;
  opt.batch_size = 64;
  opt.seed = 5;
  opt.langevin_steps = 1;
  opt.langevin_step_size = 1e-6;
  const Matrix<double> data = gaussian_data<double>(100, 3);
  const auto near_data = [&](const Matrix<double>& x) {
    Index n = 0;
    for (Index j = 0; j < x.cols(); ++j)
      n += (data.colwise() - x.col(j)).colwise().norm().minCoeff() < 1e-4 ? 1 : 0;
    return n;
  };
  const auto started_at_data = [&](double share, double restart = 1.0) {
    opt.langevin_data_restart = share;
    opt.langevin_restart = restart;
    auto t = paper::make_trainer<double>(c, opt);
    StepInfo info;
    t.energy_update(data, info);
    const Index first = near_data(t.negative_samples());
    t.energy_update(data, info);
    const Index second = near_data(t.negative_samples());
    // Every chain continues: those at the data stay there, and about half
    // of the others start at it now (the data restart comes after the
    // chains are continued, or the continued chains would overwrite it).
    if (restart < 1.0 && share > 0.0 && share < 1.0) {
      CHECK(second > first);
      CHECK(second < 64);
    }
    return first;
  };
  CHECK(started_at_data(0.0) == 0);  // the default: every chain from G
  CHECK(started_at_data(1.0) == 64);
  const Index half = started_at_data(0.5);
  MESSAGE(half << " of 64 columns started at the data with share 0.5");
  CHECK(half >= 16);  // Binomial(64, 1/2): 32 +- 4
  CHECK(half <= 48);
  // After the persistent chains: a chain that starts at the data is kept,
  // and one that continues stays at its data point (the step moves nothing).
  CHECK(started_at_data(0.5, 0.0) == half);
}

namespace {
// helpers.hpp's double well as an energy term.
struct DoubleWell : deepenergy::test::DoubleWellShape {
  using Scalar = double;
  static constexpr bool reads_raw_input = true;
  static constexpr bool independent_samples = true;
  const Matrix<double>* x = nullptr;
  Index input_dim() const { return 2; }
  void forward(const Matrix<double>& in, RowVector<double>& e) {
    x = &in;
    for (Index j = 0; j < in.cols(); ++j) e(j) += energy_of(in(0, j), in(1, j));
  }
  void backward(const RowVector<double>& w, Matrix<double>& g) {
    for (Index j = 0; j < x->cols(); ++j) {
      const double x0 = (*x)(0, j);
      g(0, j) += w(j) * slope_of(x0);
      g(1, j) += w(j) * (*x)(1, j);
    }
  }
};
}  // namespace

TEST_CASE("langevin_jumps move the chains between modes to exp(-E)'s shares") {
  // Half the chains start in each well of a fixed double well. Langevin
  // steps of 0.05 do not cross a 6-nat barrier in 100 steps, so without
  // jumps the deep well keeps its half; with jumps its share must reach
  // exp(-E)'s (DoubleWellShape::deep_share, by quadrature along x0).
  const double expected = DoubleWell::deep_share();  // 0.723
  using Features = Sequential<Identity<double>>;
  using Energy = EnergyModel<Features, DoubleWell>;
  using T = DeepEnergyGAN<Energy, paper::Gen<double>>;
  paper::Config c;
  c.hidden = 8;
  TrainerOptions opt;
  opt.batch_size = 401;  // odd: the middle chain only serves as a reference
  opt.langevin_steps = 100;
  opt.langevin_step_size = 0.05;
  // The chains after langevin_refine from x0 = +1 or -1 plus N(0, 0.15^2),
  // x1 ~ N(0, 1): every `period`-th column starts in the shallow well, the
  // others in the deep one (spread, so that the jumps' proposals are too).
  const auto refined = [&](Index period) {
    T t(Energy(Features(Identity<double>()), DoubleWell()), paper::make_generator<double>(c), opt);
    Rng draw(opt.seed + 100);
    Matrix<double> start(2, opt.batch_size);
    for (Index j = 0; j < start.cols(); ++j)
      start.col(j) << (j % period == 0 ? 1.0 : -1.0) + 0.15 * draw.normal(), draw.normal();
    t.langevin_refine(start);
    return Matrix<double>(t.negative_samples());
  };
  const auto deep_share = [&](Index jumps) {
    opt.langevin_jumps = jumps;
    double share = 0.0;
    for (std::uint64_t seed = 1; seed <= 8; ++seed) {
      opt.seed = seed;
      const Matrix<double> x = refined(2);
      share += (x.row(0).array() < 0.0).cast<double>().mean() / 8.0;
      CHECK(x.allFinite());
    }
    return share;
  };
  const double without = deep_share(0), with = deep_share(50);
  MESSAGE("share of the chains in the deep well: " << without << " without jumps, " << with
                                                   << " with 50 rounds, exp(-E) " << expected);
  CHECK(std::abs(without - 0.5) < 0.03);
  CHECK(std::abs(with - expected) < 0.03);

  SUBCASE("in column blocks the moves are the same") {
    // Each column's energy is the same in a block as in the whole batch,
    // so the chains must end in the same places. (Blocks of 16 columns per
    // thread: narrower than the batch on any thread count.)
    opt.langevin_jumps = 5;
    opt.seed = 7;
    const auto run = [&](Index block_columns) {
      opt.block_columns = block_columns;
      return refined(3);
    };
    const Matrix<double> whole = run(0), blocks = run(16);
    CHECK((whole - blocks).cwiseAbs().maxCoeff() == 0.0);
  }
}

TEST_CASE("sizes that disagree are named at construction and in train()") {
  paper::Config e3;
  e3.data_dim = 3;
  e3.hidden = 4;
  paper::Config g2;
  g2.hidden = 4;
  CHECK_THROWS_WITH_AS(
      paper::Trainer<float>(paper::make_energy<float>(e3), paper::make_generator<float>(g2)),
      doctest::Contains("generator produces samples of size 2 but the energy model expects input "
                        "of size 3"),
      Error);
  auto t = paper::make_trainer<float>(g2);
  Matrix<float> bad(3, 10);
  bad.setZero();
  CHECK_THROWS_WITH_AS(t.train(bad, 1), doctest::Contains("data have dimension 3"), Error);
  Matrix<float> nan = Matrix<float>::Zero(2, 10);
  nan(1, 4) = std::nanf("");
  CHECK_THROWS_WITH_AS(t.train(nan, 1), doctest::Contains("data point 4"), Error);
  CHECK_THROWS_WITH_AS(t.train(Matrix<float>(2, 0), 1), doctest::Contains("empty"), Error);
}

TEST_CASE("latent_bound option overrides c; clip_norm bounds the update") {
  paper::Config c;
  c.hidden = 8;
  TrainerOptions opt;
  opt.latent_bound = 3.0;
  opt.clip_norm = 1e-3;
  auto t = paper::make_trainer<double>(c, opt);
  CHECK(t.generator().latent().bound() == 3.0);
  const Matrix<double> data = gaussian_data<double>(100, 5) * 50.0;  // large gradients
  auto before = parameters_of(t.energy());
  using T = decltype(t);
  DeepEnergyGAN<paper::Energy<double>, paper::Gen<double>, SGD> s(
      paper::make_energy<double>(c), paper::make_generator<double>(c), opt);
  s.energy_optimizer().learning_rate = 1.0;
  auto s0 = parameters_of(s.energy());
  StepInfo info;
  s.energy_update(data, info);
  auto s1 = parameters_of(s.energy());
  double sq = 0;
  for (std::size_t i = 0; i < s0.size(); ++i) sq += (s1[i] - s0[i]).squaredNorm();
  CHECK(std::sqrt(sq) == doctest::Approx(1e-3).epsilon(1e-6));  // lr 1 * clipped norm
  (void)before;
  (void)sizeof(T);
}

namespace {
struct CountingCallback {
  int begun = 0, steps = 0, ended = 0;
  std::int64_t last = 0;
  template <class T>
  void on_train_begin(T&) {
    ++begun;
  }
  template <class T>
  bool on_step(T&, const StepInfo& info) {
    ++steps;
    last = info.step;
    return info.step < 5;  // stop after step 5
  }
  template <class T>
  void on_train_end(T&) {
    ++ended;
  }
};
struct OnlyEnd {
  bool called = false;
  template <class T>
  void on_train_end(T&) {
    called = true;
  }
};
}  // namespace

TEST_CASE("callbacks implement only the hooks they need and can stop early") {
  paper::Config c;
  c.hidden = 8;
  auto t = paper::make_trainer<float>(c);
  const Matrix<float> data = gaussian_data<float>(100, 6);
  CountingCallback cb;
  OnlyEnd end;
  const StepInfo last = t.train(data, 100, cb, end);
  CHECK(cb.begun == 1);
  CHECK(cb.steps == 5);
  CHECK(cb.ended == 1);
  CHECK(end.called);
  CHECK(last.step == 5);
  CHECK(t.step_count() == 5);
}

namespace {
// alpha * mean(E^2) on both phases (Du and Mordatch 2019) as a loss term.
struct EnergySquarePenalty {
  double alpha = 0.5;
  int calls = 0;
  template <class S>
  double energy_term(Phase, const RowVector<S>& e, RowVector<S>& w) {
    ++calls;
    const double n = double(e.cols());
    w.array() += S(2 * alpha / n) * e.array();
    return alpha * double(e.squaredNorm()) / n;
  }
};
struct PullToOrigin {  // generator term: lambda/2 mean |x|^2
  double lambda = 1.0;
  template <class G, class S>
  double generator_term(G&, const Matrix<S>& x, Matrix<S>& grad_x) {
    grad_x += S(lambda / double(x.cols())) * x;
    return 0.5 * lambda * double(x.squaredNorm()) / double(x.cols());
  }
};
}  // namespace

TEST_CASE("loss terms change the gradients as documented") {
  paper::Config c;
  c.hidden = 8;
  TrainerOptions opt;
  opt.batch_size = 16;
  using T = DeepEnergyGAN<paper::Energy<double>, paper::Gen<double>, SGD, EnergySquarePenalty,
                          PullToOrigin>;
  T t(paper::make_energy<double>(c), paper::make_generator<double>(c), opt, SGD{0.01},
      EnergySquarePenalty{}, PullToOrigin{});
  const Matrix<double> data = gaussian_data<double>(100, 7);
  StepInfo info;
  t.energy_update(data, info);
  CHECK(t.loss_term<0>().calls == 2);
  CHECK(info.energy_loss > info.data_energy - info.sample_energy);  // penalty is positive

  // The generator term's gradient reaches the generator: compare with a
  // finite difference of the total generator loss on one parameter.
  T a = t;
  a.generator().for_each_parameter([](auto& p) { p.zero_grad(); });
  Rng saved = a.rng();
  a.generator_gradient();
  double analytic = 0;
  int k = 0;
  a.generator().for_each_parameter([&](auto& p) {
    if (k++ == 4) analytic = p.grad(0, 0);  // last layer's W
  });
  auto loss_at = [&](double delta) {
    T b = t;
    b.rng() = saved;
    int m = 0;
    b.generator().for_each_parameter([&](auto& p) {
      if (m++ == 4) p.value(0, 0) += delta;
    });
    return b.generator_gradient();
  };
  const double numeric = (loss_at(1e-6) - loss_at(-1e-6)) / 2e-6;
  CHECK(analytic == doctest::Approx(numeric).epsilon(1e-6));
}

namespace {
// A user-defined expert: a Gaussian bump E(h) = -a * exp(-|h - m|^2 / 2) on
// the features, with learned centre m and amplitude a.
template <class S>
struct BumpExpert {
  using Scalar = S;
  Parameter<S> m{"Bump.m", 0, 1}, a{"Bump.a", 1, 1};
  const Matrix<S>* h = nullptr;
  RowVector<S> k;
  explicit BumpExpert(Index dim) : m("Bump.m", dim, 1) { a.value(0, 0) = S(1); }
  Index input_dim() const { return m.value.rows(); }
  void forward(const Matrix<S>& in, RowVector<S>& e) {
    h = &in;
    k = ((-S(0.5)) * (in.colwise() - m.value.col(0)).colwise().squaredNorm().array())
            .exp()
            .matrix();
    e -= a.value(0, 0) * k;
  }
  void backward(const RowVector<S>& w, Matrix<S>& g) {
    a.grad(0, 0) -= k.dot(w);
    Matrix<S> d = (*h).colwise() - m.value.col(0);  // dE/dh = a k (h - m)
    const RowVector<S> c = a.value(0, 0) * (k.array() * w.array()).matrix();
    m.grad.col(0) -= d * c.transpose();
    g += d * c.asDiagonal();
  }
  void backward_input(const RowVector<S>& w, Matrix<S>& g) {
    Matrix<S> d = (*h).colwise() - m.value.col(0);
    g += d * (a.value(0, 0) * (k.array() * w.array()).matrix()).asDiagonal();
  }
  template <class F>
  void for_each_parameter(F&& f) {
    f(m);
    f(a);
  }
};
}  // namespace

TEST_CASE("a user-defined expert passes the gradient check and trains in DeepEnergyGAN") {
  BumpExpert<double> bump(3);
  bump.m.value << 0.1, -0.2, 0.3;
  Rng rng(1);
  Matrix<double> h(3, 5);
  for (Index i = 0; i < h.size(); ++i) h(i) = rng.normal();
  auto r = testing::check_gradients(bump, h);
  MESSAGE("BumpExpert: worst relative error " << r.max_relative_error);
  CHECK(r.max_relative_error < 1e-6);

  using Features = Sequential<Identity<float>>;
  using Energy = EnergyModel<Features, BumpExpert<float>, QuadraticBase<float>>;
  Energy e(Features(Identity<float>()), BumpExpert<float>(2), QuadraticBase<float>(2, 2.0));
  paper::Config c;
  c.hidden = 16;
  TrainerOptions opt;
  opt.seed = 5;
  opt.energy_learning_rate = 0.05;
  DeepEnergyGAN<Energy, paper::Gen<float>> t(std::move(e), paper::make_generator<float>(c), opt);
  const Matrix<float> data = gaussian_data<float>(1000, 8);
  t.train(data, 1000);
  // The bump's centre moves towards the data (beyond it, since the quadratic
  // base pulls towards the origin), and the generator follows the energy.
  const Matrix<float> centre = t.energy().expert<0>().m.value;
  MESSAGE("bump centre after training: " << centre.transpose());
  CHECK(centre(0) > 0.5f);
  CHECK(centre(1) < -0.5f);
  Rng draw(3);
  const Vector<float> mean = t.generator().sample(2000, draw).rowwise().mean();
  MESSAGE("generator mean " << mean.transpose());
  CHECK(std::abs(mean(0) - 1.0f) < 0.15f);
  CHECK(std::abs(mean(1) + 1.0f) < 0.15f);
}

namespace {
// Returns NaN as its loss on the given energy-term calls (1-based), to
// provoke a divergence at a known point.
struct NanAt {
  std::vector<int> at;
  int calls = 0;
  template <class S>
  double energy_term(Phase, const RowVector<S>&, RowVector<S>&) {
    ++calls;
    for (int a : at)
      if (a == calls || a < 0) return std::nan("");
    return 0.0;
  }
};
using NanTrainer = DeepEnergyGAN<paper::Energy<float>, paper::Gen<float>, AdaGrad, NanAt>;
NanTrainer nan_trainer(TrainerOptions opt, std::vector<int> at) {
  paper::Config c;
  c.hidden = 8;
  return NanTrainer(paper::make_energy<float>(c), paper::make_generator<float>(c), opt, AdaGrad{},
                    NanAt{std::move(at)});
}
}  // namespace

TEST_CASE("divergence: the default stops with an error naming the step") {
  // Two energy-term calls per step (positive and negative phase): call 7 is step 4.
  TrainerOptions opt;
  opt.energy_average = 0.9;
  auto t = nan_trainer(opt, {7});
  auto ref = nan_trainer(opt, {});
  const Matrix<float> data = gaussian_data<float>(100, 9);
  auto before = parameters_of(t.energy());
  try {
    t.train(data, 10);
    FAIL("no DivergenceError");
  } catch (const DivergenceError& e) {
    CHECK(e.step() == 4);
    CHECK(std::string(e.what()).find("non-finite energy loss at step 4") != std::string::npos);
  }
  CHECK(t.step_count() == 3);
  ref.train(data, 3);
  CHECK(t.energy_average() == ref.energy_average());  // the failed update left it alone
  for (const auto& m : parameters_of(t.energy())) CHECK(m.allFinite());
  (void)before;
}

TEST_CASE("divergence: rollback restores the last good state and lowers the learning rates") {
  TrainerOptions opt;
  opt.on_divergence = TrainerOptions::OnDivergence::rollback;
  opt.snapshot_interval = 5;
  auto t = nan_trainer(opt, {17});  // step 9: rolls back to the snapshot at step 5
  const Matrix<float> data = gaussian_data<float>(100, 9);
  const StepInfo last = t.train(data, 20);
  CHECK(t.rollbacks() == 1);
  CHECK(last.step == 20);
  CHECK(t.step_count() == 20);
  CHECK(t.energy_optimizer().learning_rate == doctest::Approx(0.005));
  CHECK(t.generator_optimizer().learning_rate == doctest::Approx(0.005));
  for (const auto& m : parameters_of(t.energy())) CHECK(m.allFinite());
}

TEST_CASE("divergence: rollback restores the persistent chains and the average with the rest") {
  // A run that rolls back from step 9 to the snapshot at step 5 must go on
  // exactly like one that stopped at step 5 and did what a rollback does (one
  // draw from the random stream, the learning rates halved): so the chains
  // come back as they were at step 5, not as step 9 left them.
  TrainerOptions opt;
  opt.on_divergence = TrainerOptions::OnDivergence::rollback;
  opt.snapshot_interval = 5;
  opt.langevin_steps = 2;
  opt.langevin_step_size = 0.1;
  opt.langevin_restart = 0.3;
  opt.energy_average = 0.9;         // the average, too
  auto t = nan_trainer(opt, {17});  // step 9
  auto ref = nan_trainer(opt, {});
  const Matrix<float> data = gaussian_data<float>(100, 9);
  t.train(data, 20);
  REQUIRE(t.rollbacks() == 1);
  ref.train(data, 5);
  ref.rng()();
  ref.energy_optimizer().learning_rate *= 0.5;
  ref.generator_optimizer().learning_rate *= 0.5;
  ref.train(data, 15);
  CHECK(t.persistent_chains() == ref.persistent_chains());
  CHECK(parameters_of(t.energy()) == parameters_of(ref.energy()));
  CHECK(t.energy_average() == ref.energy_average());
}

TEST_CASE("divergence: rollback restores the loss terms' parameters with the rest") {
  // MutualInformationEntropy's statistics network trains in every generator
  // update: after the rollback from step 9 to step 5 it must be step 5's.
  using MiTrainer = DeepEnergyGAN<paper::Energy<float>, paper::Gen<float>, AdaGrad, NanAt,
                                  MutualInformationEntropy<float>>;
  const auto make = [](std::vector<int> at) {
    TrainerOptions opt;
    opt.on_divergence = TrainerOptions::OnDivergence::rollback;
    opt.snapshot_interval = 5;
    paper::Config c;
    c.hidden = 8;
    return MiTrainer(paper::make_energy<float>(c), paper::make_generator<float>(c), opt, AdaGrad{},
                     NanAt{std::move(at)}, MutualInformationEntropy<float>(1.0, 8));
  };
  const auto term_values = [](MiTrainer& t) {
    std::vector<Matrix<float>> v;
    t.for_each_term_parameter([&](Parameter<float>& p) { v.push_back(p.value); });
    return v;
  };
  auto t = make({17});  // step 9
  auto ref = make({});
  const Matrix<float> data = gaussian_data<float>(100, 9);
  t.train(data, 20);
  REQUIRE(t.rollbacks() == 1);
  ref.train(data, 5);
  const std::vector<Matrix<float>> at5 = term_values(ref);
  ref.rng()();
  ref.energy_optimizer().learning_rate *= 0.5;
  ref.generator_optimizer().learning_rate *= 0.5;
  ref.train(data, 15);
  REQUIRE(term_values(t).size() == 4);
  CHECK(term_values(t) == term_values(ref));
  CHECK(parameters_of(t.generator()) == parameters_of(ref.generator()));
  CHECK(term_values(ref) != at5);  // T trained on: the check above can fail
}

TEST_CASE("a MutualInformationEntropy of weight 0 changes nothing") {
  // The examples always compose the term (--mi-entropy 0 by default): at
  // weight 0 training must be the same bits as without it, T never built.
  using WithMi = DeepEnergyGAN<paper::Energy<float>, paper::Gen<float>, AdaGrad,
                               KernelEntropy<float>, MutualInformationEntropy<float>>;
  using Without =
      DeepEnergyGAN<paper::Energy<float>, paper::Gen<float>, AdaGrad, KernelEntropy<float>>;
  paper::Config c;
  c.hidden = 8;
  TrainerOptions opt;
  opt.batch_size = 64;
  const Matrix<float> data = gaussian_data<float>(200, 3);
  for (double weight : {0.0, 1.0}) {
    CAPTURE(weight);
    WithMi a(paper::make_energy<float>(c), paper::make_generator<float>(c), opt, AdaGrad{},
             KernelEntropy<float>(0.5), MutualInformationEntropy<float>(weight, 8));
    Without b(paper::make_energy<float>(c), paper::make_generator<float>(c), opt, AdaGrad{},
              KernelEntropy<float>(0.5));
    a.train(data, 10);
    b.train(data, 10);
    std::size_t built = 0;
    a.for_each_term_parameter([&](Parameter<float>& p) { built += p.value.size(); });
    // Weight 1 is the control: the comparison can fail.
    CHECK((parameters_of(a.generator()) == parameters_of(b.generator())) == (weight == 0.0));
    CHECK((built == 0) == (weight == 0.0));
  }
}

TEST_CASE("divergence: rollback gives up after max_rollbacks") {
  TrainerOptions opt;
  opt.on_divergence = TrainerOptions::OnDivergence::rollback;
  opt.max_rollbacks = 2;
  auto t = nan_trainer(opt, {-1});  // every call
  const Matrix<float> data = gaussian_data<float>(100, 9);
  CHECK_THROWS_WITH_AS(t.train(data, 10), doctest::Contains("(after 2 rollbacks)"),
                       DivergenceError);
  CHECK(t.rollbacks() == 2);
}

TEST_CASE("TrainerOptions: rollback settings are validated") {
  TrainerOptions o;
  o.rollback_lr_factor = 1.0;
  CHECK_THROWS_WITH_AS(o.validate(), doctest::Contains("rollback_lr_factor"), Error);
  o = {};
  o.snapshot_interval = 0;
  CHECK_THROWS_WITH_AS(o.validate(), doctest::Contains("snapshot_interval"), Error);
  o = {};
  o.max_rollbacks = -1;
  CHECK_THROWS_WITH_AS(o.validate(), doctest::Contains("max_rollbacks"), Error);
}

TEST_CASE("train() names a negative step count") {
  paper::Config c;
  c.hidden = 4;
  auto t = paper::make_trainer<float>(c);
  const Matrix<float> data = gaussian_data<float>(10, 1);
  CHECK_THROWS_WITH_AS(t.train(data, -3), doctest::Contains("steps = -3, expected >= 0"), Error);
  CHECK(t.step_count() == 0);
}

namespace {
// An expert that adds nothing to the energy and records the widest batch its
// forward saw; Independent says whether it declares independent_samples.
template <class S, bool Independent>
struct ColumnSpy {
  using Scalar = S;
  static constexpr bool reads_raw_input = true;
  static constexpr bool independent_samples = Independent;
  Index widest = 0, calls = 0;
  void forward(const Matrix<S>& x, RowVector<S>&) {
    widest = std::max(widest, x.cols());
    ++calls;
  }
  void backward(const RowVector<S>&, Matrix<S>&) {}
};

template <class S, bool Independent>
using SpiedEnergy = EnergyModel<Sequential<Dense<S>, ReLU<S>, Dense<S>, ReLU<S>>,
                                SoftplusExperts<S>, QuadraticBase<S>, ColumnSpy<S, Independent>>;

template <class S, bool Independent>
SpiedEnergy<S, Independent> spied_energy() {
  return SpiedEnergy<S, Independent>(Sequential<Dense<S>, ReLU<S>, Dense<S>, ReLU<S>>(
                                         Dense<S>(2, 8), ReLU<S>(), Dense<S>(8, 8), ReLU<S>()),
                                     SoftplusExperts<S>(8, 8), QuadraticBase<S>(2),
                                     ColumnSpy<S, Independent>{});
}

template <class Net>
std::vector<Matrix<double>> grads_of(Net& net) {
  std::vector<Matrix<double>> v;
  net.for_each_parameter([&](auto& p) { v.push_back(p.grad.template cast<double>()); });
  return v;
}

template <class Net>
void zero(Net& net) {
  net.for_each_parameter([](auto& p) { p.zero_grad(); });
}

// Block widths depend on the thread count (block_columns per thread): pin it.
struct Threads {
  int saved = Eigen::nbThreads();
  explicit Threads(int n) { Eigen::setNbThreads(n); }
  ~Threads() { Eigen::setNbThreads(saved); }
  Threads(const Threads&) = delete;
  Threads& operator=(const Threads&) = delete;
};

void check_same(const std::vector<Matrix<double>>& a, const std::vector<Matrix<double>>& b,
                double tol = 1e-12) {
  REQUIRE(a.size() == b.size());
  for (std::size_t i = 0; i < a.size(); ++i) {
    INFO("parameter " << i);
    CHECK((a[i] - b[i]).cwiseAbs().maxCoeff() <= tol * (1.0 + b[i].cwiseAbs().maxCoeff()));
  }
}
using SpiedTrainer = DeepEnergyGAN<SpiedEnergy<double, true>, paper::Gen<double>, SGD>;

// The trainers the column-block tests compare: batch 37, hidden width 8, in
// blocks of block_columns (0 = whole batches).
SpiedTrainer spied_trainer(Index block_columns, std::uint64_t seed, Index langevin_steps = 0,
                           double langevin_restart = 1.0, double langevin_data_restart = 0.0) {
  paper::Config c;
  c.hidden = 8;
  TrainerOptions opt;
  opt.batch_size = 37;
  opt.seed = seed;
  opt.block_columns = block_columns;
  opt.langevin_steps = langevin_steps;
  opt.langevin_step_size = 0.2;
  opt.langevin_restart = langevin_restart;
  opt.langevin_data_restart = langevin_data_restart;
  return SpiedTrainer(spied_energy<double, true>(), paper::make_generator<double>(c), opt,
                      SGD{0.05});
}

// Each phase of `blocked` against the same phase of `whole` (same seeds):
// losses and gradients.
template <class T>
void check_phases_match(T& blocked, T& whole, const Matrix<double>& data) {
  zero(blocked.energy());
  zero(whole.energy());
  CHECK(blocked.positive_phase(data) == doctest::Approx(whole.positive_phase(data)).epsilon(1e-12));
  check_same(grads_of(blocked.energy()), grads_of(whole.energy()));
  CHECK(blocked.negative_phase() == doctest::Approx(whole.negative_phase()).epsilon(1e-12));
  check_same(grads_of(blocked.energy()), grads_of(whole.energy()));
  zero(blocked.generator());
  zero(whole.generator());
  CHECK(blocked.generator_gradient() == doctest::Approx(whole.generator_gradient()).epsilon(1e-12));
  check_same(grads_of(blocked.generator()), grads_of(whole.generator()));
}

// Whole steps stay together too (same random stream on both sides).
template <class T>
void check_steps_match(T& blocked, T& whole, const Matrix<double>& data, int steps) {
  for (int i = 0; i < steps; ++i) {
    blocked.step(data);
    whole.step(data);
  }
  check_same(parameters_of(blocked.energy()), parameters_of(whole.energy()), 1e-9);
  check_same(parameters_of(blocked.generator()), parameters_of(whole.generator()), 1e-9);
}
}  // namespace

TEST_CASE("column blocks: each phase gives the whole batch's gradients and losses") {
  // Batch 37 in blocks of at most 8 columns: five blocks of 8, the last one
  // overlapping the one before by 3 columns (weighted 0).
  Threads one(1);
  SpiedTrainer blocked = spied_trainer(8, 11), whole = spied_trainer(0, 11);
  const Matrix<double> data = gaussian_data<double>(37, 5);
  check_phases_match(blocked, whole, data);
  CHECK(blocked.energy().expert<2>().widest == 8);
  CHECK(whole.energy().expert<2>().widest == 37);
  check_steps_match(blocked, whole, data, 3);
}

#ifdef _OPENMP
TEST_CASE("column blocks on two threads: each thread its blocks, the same sums") {
  // Two threads, blocks of at most 8: batch 37 in six blocks of 7, three per
  // thread, the last overlapping the one before by 5 columns.
  Threads two(2);
  SpiedTrainer threaded = spied_trainer(8, 13), whole = spied_trainer(0, 13);
  const Matrix<double> data = gaussian_data<double>(37, 5);
  check_phases_match(threaded, whole, data);
  // In each of the three phases the trainer's own copy ran three of the six
  // blocks: the other thread, on its replica, the rest.
  CHECK(threaded.energy().expert<2>().widest == 7);
  CHECK(threaded.energy().expert<2>().calls == 9);
  // The replicas must follow every update of the parameters.
  check_steps_match(threaded, whole, data, 4);

  SUBCASE("Langevin refinement on both threads moves every sample as on the whole batch") {
    SpiedTrainer a = spied_trainer(8, 13, 3), b = spied_trainer(0, 13, 3);
    StepInfo ia, ib;
    a.energy_update(data, ia);
    b.energy_update(data, ib);
    CHECK((a.negative_samples() - b.negative_samples()).cwiseAbs().maxCoeff() <= 1e-12);
    CHECK(ia.energy_loss == doctest::Approx(ib.energy_loss).epsilon(1e-12));
    check_same(parameters_of(a.energy()), parameters_of(b.energy()));
  }
  SUBCASE("persistent chains continue on both threads as on the whole batch") {
    SpiedTrainer a = spied_trainer(8, 13, 3, 0.5), b = spied_trainer(0, 13, 3, 0.5);
    check_steps_match(a, b, data, 3);
    CHECK((a.persistent_chains() - b.persistent_chains()).cwiseAbs().maxCoeff() <= 1e-9);
  }
  SUBCASE("a generator with BatchNorm runs whole, the energy's blocks on both threads") {
    using BnNet = Sequential<Dense<double>, BatchNorm<double>, ReLU<double>, Dense<double>>;
    using BnGen = Generator<BnNet, UniformLatent<double>>;
    BnGen g(BnNet(Dense<double>(4, 8), BatchNorm<double>(8), ReLU<double>(), Dense<double>(8, 2)),
            UniformLatent<double>(4));
    TrainerOptions bo = threaded.options();  // batch 37, blocks of 8
    DeepEnergyGAN<SpiedEnergy<double, true>, BnGen> a(spied_energy<double, true>(), g, bo);
    bo.block_columns = 0;
    DeepEnergyGAN<SpiedEnergy<double, true>, BnGen> b(spied_energy<double, true>(), g, bo);
    check_steps_match(a, b, data, 3);
    CHECK(a.energy().expert<2>().widest == 7);
  }
}
#endif

TEST_CASE("column blocks: never for parts without independent_samples or hooks on the batch") {
  Threads one(1);
  paper::Config c;
  c.hidden = 8;
  TrainerOptions opt;
  opt.batch_size = 37;  // blocks of 4: ten, the last overlapping by 3
  opt.block_columns = 4;
  const Matrix<double> data = gaussian_data<double>(50, 6);
  SUBCASE("an expert that does not declare independent_samples sees whole batches") {
    DeepEnergyGAN<SpiedEnergy<double, false>, paper::Gen<double>> t(
        spied_energy<double, false>(), paper::make_generator<double>(c), opt);
    t.step(data);
    CHECK(t.energy().expert<2>().widest == 37);
  }
  SUBCASE("a generator with BatchNorm samples whole batches, the energy still in blocks") {
    using BnGen =
        Generator<Sequential<Dense<double>, BatchNorm<double>, ReLU<double>, Dense<double>>,
                  UniformLatent<double>>;
    static_assert(!BnGen::independent_samples);
    BnGen g(Sequential<Dense<double>, BatchNorm<double>, ReLU<double>, Dense<double>>(
                Dense<double>(4, 8), BatchNorm<double>(8), ReLU<double>(), Dense<double>(8, 2)),
            UniformLatent<double>(4));
    DeepEnergyGAN<SpiedEnergy<double, true>, BnGen> t(spied_energy<double, true>(), g, opt);
    TrainerOptions whole_opt = opt;
    whole_opt.block_columns = 0;
    DeepEnergyGAN<SpiedEnergy<double, true>, BnGen> w(spied_energy<double, true>(), g, whole_opt);
    t.step(data);
    w.step(data);
    CHECK(t.energy().expert<2>().widest == 4);
    // AdaGrad's first step divides by |grad|: rounding differences grow.
    check_same(parameters_of(t.generator()), parameters_of(w.generator()), 1e-9);
    check_same(parameters_of(t.energy()), parameters_of(w.energy()), 1e-9);
  }
  SUBCASE("an energy_term hook keeps the energy phases whole") {
    DeepEnergyGAN<SpiedEnergy<double, true>, paper::Gen<double>, AdaGrad, EnergyMagnitudePenalty> t(
        spied_energy<double, true>(), paper::make_generator<double>(c), opt, AdaGrad{},
        EnergyMagnitudePenalty(0.1));
    StepInfo info;
    t.energy_update(data, info);
    CHECK(t.energy().expert<2>().widest == 37);
  }
  SUBCASE("an energy_extra hook (gradient penalty) keeps the energy phases whole") {
    DeepEnergyGAN<SpiedEnergy<double, true>, paper::Gen<double>, AdaGrad, GradientPenalty<double>>
        t(spied_energy<double, true>(), paper::make_generator<double>(c), opt, AdaGrad{},
          GradientPenalty<double>(0.1));
    StepInfo info;
    t.energy_update(data, info);
    CHECK(t.energy().expert<2>().widest == 37);
  }
  SUBCASE("a generator_term (kernel entropy) gets the whole batch; results as without blocks") {
    using T = DeepEnergyGAN<SpiedEnergy<double, true>, paper::Gen<double>, AdaGrad,
                            KernelEntropy<double>>;
    T t(spied_energy<double, true>(), paper::make_generator<double>(c), opt, AdaGrad{},
        KernelEntropy<double>(1.0));
    TrainerOptions whole_opt = opt;
    whole_opt.block_columns = 0;
    T w(spied_energy<double, true>(), paper::make_generator<double>(c), whole_opt, AdaGrad{},
        KernelEntropy<double>(1.0));
    for (int i = 0; i < 2; ++i) {
      t.step(data);
      w.step(data);
    }
    CHECK(t.energy().expert<2>().widest == 4);
    check_same(parameters_of(t.generator()), parameters_of(w.generator()), 1e-9);
    check_same(parameters_of(t.energy()), parameters_of(w.energy()), 1e-9);
  }
}

TEST_CASE("column blocks: Langevin refinement moves every sample as on the whole batch") {
  Threads one(1);
  SpiedTrainer blocked = spied_trainer(8, 12, 3), whole = spied_trainer(0, 12, 3);
  const Matrix<double> data = gaussian_data<double>(37, 5);
  StepInfo a, b;
  blocked.energy_update(data, a);
  whole.energy_update(data, b);
  const Matrix<double> moved = blocked.negative_samples(), want = whole.negative_samples();
  CHECK((moved - want).cwiseAbs().maxCoeff() <= 1e-12);
  CHECK(a.energy_loss == doctest::Approx(b.energy_loss).epsilon(1e-12));
  CHECK(blocked.energy().expert<2>().widest == 8);
  check_same(parameters_of(blocked.energy()), parameters_of(whole.energy()));

  SUBCASE("persistent chains continue in blocks as on the whole batch") {
    SpiedTrainer a = spied_trainer(8, 12, 3, 0.5), b = spied_trainer(0, 12, 3, 0.5);
    check_steps_match(a, b, data, 3);
    CHECK((a.persistent_chains() - b.persistent_chains()).cwiseAbs().maxCoeff() <= 1e-9);
  }
  SUBCASE("chains start at the data in blocks as on the whole batch") {
    SpiedTrainer a = spied_trainer(8, 12, 3, 0.5, 0.5), b = spied_trainer(0, 12, 3, 0.5, 0.5);
    check_steps_match(a, b, data, 3);
    CHECK((a.persistent_chains() - b.persistent_chains()).cwiseAbs().maxCoeff() <= 1e-9);
  }
}
