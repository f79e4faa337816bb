// The examples' shared program (see app.hpp): command line, data, training
// with progress and checkpoints, evaluation against the data set's oracle,
// the figure and the output files.
#include "app.hpp"

#include <CLI/CLI.hpp>
#include <Eigen/Core>

#include <algorithm>
#include <bit>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <limits>
#include <map>
#include <new>
#include <numeric>
#include <optional>
#include <sstream>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include <unistd.h>
#include <csignal>

#include "deepenergy/checkpoint.hpp"
#include "deepenergy/csv.hpp"
#include "deepenergy/datasets.hpp"
#include "deepenergy/deepenergy.hpp"
#include "deepenergy/evaluation.hpp"
#include "deepenergy/sampling.hpp"
#include "figure.hpp"

namespace deepenergy::examples {
namespace {

using S = float;
// Every model the examples train: the generator's entropy term, the two
// energy regularisers the ablation (README) switches on and MEG's
// mutual-information entropy; a weight of 0 leaves a term out of the
// computation. --batchnorm-entropy > 0 selects the extended paper's generator
// (BatchNorm in it) and adds its entropy term.
template <class Energy, class Gen = paper::Gen<S>, class... More>
using ModelOf = DeepEnergyGAN<Energy, Gen, AdaGrad, KernelEntropy<S>, GradientPenalty<S>,
                              EnergyMagnitudePenalty, MutualInformationEntropy<S>, More...>;
using FourierModel = ModelOf<paper::FourierEnergy<S>>;  // the default (--fourier-scale > 0)
using PaperModel = ModelOf<paper::Energy<S>>;           // --fourier-scale 0
using FourierBatchNormModel =
    ModelOf<paper::FourierEnergy<S>, paper::BatchNormGen<S>, BatchNormEntropy>;
using PaperBatchNormModel = ModelOf<paper::Energy<S>, paper::BatchNormGen<S>, BatchNormEntropy>;
using Clock = std::chrono::steady_clock;

/// Steps of a default run: with the default recipe the two-spiral energy
/// shows both arms after 10,000 steps (README, Results), and the run, with its
/// sampling, evaluation and figure, takes about two minutes on a two-core
/// machine.
constexpr std::int64_t default_steps = 10000;
constexpr Index train_size = datasets::default_size;  // 10,000 as in the paper
constexpr Index test_size = 10000;
constexpr Index sample_count = 10000;      // samples.csv and the figure
constexpr Index eval_sample_count = 2000;  // MMD and alignment KL
constexpr Index oracle_mc = 100000;        // Monte Carlo points of the oracle entropy
constexpr Index energy_grid_size = 200;    // energy_grid.csv and the heat map
constexpr int max_threads = 256;           // more only slows the small products down
constexpr int app_format = 8;              // version of the examples' checkpoint extras
constexpr int app_format_oldest = 2;       // the oldest one this program still reads

/// A command-line mistake: printed as "error: ..." with exit code 2.
struct UsageError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

std::string num(double v, int precision = 6) {
  std::ostringstream s;
  s.precision(precision);
  s << v;
  return s.str();
}

/// Independent seeds for the run's random streams, all derived from --seed.
std::uint64_t derive_seed(std::uint64_t seed, std::uint64_t stream) {
  std::uint64_t z = seed ^ (0x9e3779b97f4a7c15ULL * (stream + 1));
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}
enum Stream : std::uint64_t {
  train_stream = 1,
  test_stream,
  split_stream,
  sample_stream,
  oracle_stream,
  mi_stream  // MutualInformationEntropy's statistics network's initial weights
};

// ---------------------------------------------------------------------------
// Command line

struct Options {
  std::string dataset;
  std::int64_t steps = default_steps;
  Index batch = 64;
  double lr = 0.01;
  double energy_lr = 0.003;
  std::uint64_t seed = 1;
  int threads = 1;
  std::string data, out, load, resume, eval, eval_out;
  double entropy = 1.0;
  double entropy_bandwidth = 0.0;
  Index entropy_neighbours = 10;
  double batchnorm_entropy = 0.0;
  double mi_entropy = 0.0;
  double fourier_scale = 2.0;
  Index langevin_steps = 10;
  double langevin_step_size = 0.05;
  double langevin_restart = 0.02;
  double langevin_data_restart = 0.0;
  Index langevin_jumps = 0;
  double energy_average = 0.999;
  double gradient_penalty = 0.0;
  double energy_penalty = 0.01;
  bool no_standardize = false;
  double base_sigma = 0.5;
  double latent_bound = 1.0;
  Index eval_grid = 100;
  Index sample_steps = 400;
  double sample_step_size = 0.02;
  Index sample_jump_every = 0;
  std::string divergence = "stop";
};

// "1 jump round", "5 jump rounds" (--langevin-jumps, as the run describes itself).
std::string jump_rounds(Index n) {
  return std::to_string(n) + (n == 1 ? " jump round" : " jump rounds");
}

void require_readable(const std::string& flag, const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) throw UsageError(flag + " " + path + ": no such file");
  if (std::filesystem::is_directory(path, ec))
    throw UsageError(flag + " " + path + ": is a directory; expected a file");
  std::ifstream in(path, std::ios::binary);
  if (!in) throw UsageError(flag + " " + path + ": cannot open the file for reading");
}

// `complete`: every setting is known, including those a checkpoint given by
// --load/--resume supplies (validate runs again after reading it).
void validate(const Options& o, bool complete = false) {
  if (o.steps < 0) throw UsageError("--steps must be >= 0 (got " + std::to_string(o.steps) + ")");
  if (o.batch <= 0)
    throw UsageError("--batch must be a positive integer (got " + std::to_string(o.batch) + ")");
  if (!(o.lr > 0.0) || !std::isfinite(o.lr))
    throw UsageError("--lr must be a positive finite number (got " + num(o.lr) + ")");
  if (!(o.energy_lr > 0.0) || !std::isfinite(o.energy_lr))
    throw UsageError("--energy-lr must be a positive finite number (got " + num(o.energy_lr) + ")");
  if (!(o.entropy_bandwidth >= 0.0) || !std::isfinite(o.entropy_bandwidth))
    throw UsageError("--entropy-bandwidth must be a finite number >= 0 (got " +
                     num(o.entropy_bandwidth) + ")");
  if (o.entropy_neighbours < 0)
    throw UsageError("--entropy-neighbours must be >= 0 (got " +
                     std::to_string(o.entropy_neighbours) + ")");
  if (o.entropy_neighbours > 0 && o.entropy_bandwidth > 0.0)
    throw UsageError(
        "--entropy-neighbours and --entropy-bandwidth are alternatives (the "
        "k-nearest-neighbour estimate sets its own scale); give one of them");
  // With --load/--resume the batch and the neighbours both come from the
  // checkpoint: checked once it has been read.
  const bool batch_known = complete || (o.load.empty() && o.resume.empty());
  if (batch_known && o.entropy > 0 && o.entropy_neighbours > 0 && o.entropy_neighbours >= o.batch)
    throw UsageError("--entropy-neighbours " + std::to_string(o.entropy_neighbours) +
                     " needs a larger batch: each sample's neighbours come from the other " +
                     std::to_string(o.batch - 1) + " samples of --batch " +
                     std::to_string(o.batch));
  if (!(o.batchnorm_entropy >= 0.0) || !std::isfinite(o.batchnorm_entropy))
    throw UsageError("--batchnorm-entropy must be a finite number >= 0 (got " +
                     num(o.batchnorm_entropy) + ")");
  if (!(o.mi_entropy >= 0.0) || !std::isfinite(o.mi_entropy))
    throw UsageError("--mi-entropy must be a finite number >= 0 (got " + num(o.mi_entropy) + ")");
  if (!(o.fourier_scale >= 0.0) || !std::isfinite(o.fourier_scale))
    throw UsageError("--fourier-scale must be a finite number >= 0 (got " + num(o.fourier_scale) +
                     ")");
  if (o.langevin_steps < 0)
    throw UsageError("--langevin-steps must be >= 0 (got " + std::to_string(o.langevin_steps) +
                     ")");
  if (!(o.langevin_step_size > 0.0) || !std::isfinite(o.langevin_step_size))
    throw UsageError("--langevin-step-size must be a positive finite number (got " +
                     num(o.langevin_step_size) + ")");
  if (!(o.langevin_restart >= 0.0 && o.langevin_restart <= 1.0))
    throw UsageError("--langevin-restart must be in [0, 1] (got " + num(o.langevin_restart) + ")");
  if (o.langevin_restart < 1.0 && o.langevin_steps == 0)
    throw UsageError("--langevin-restart " + num(o.langevin_restart) +
                     " continues Langevin chains, so it needs --langevin-steps > 0 (or "
                     "--langevin-restart 1)");
  if (!(o.langevin_data_restart >= 0.0 && o.langevin_data_restart <= 1.0))
    throw UsageError("--langevin-data-restart must be in [0, 1] (got " +
                     num(o.langevin_data_restart) + ")");
  if (o.langevin_data_restart > 0.0 && o.langevin_steps == 0)
    throw UsageError("--langevin-data-restart " + num(o.langevin_data_restart) +
                     " starts Langevin chains at the data, so it needs --langevin-steps > 0");
  if (o.langevin_jumps < 0)
    throw UsageError("--langevin-jumps must be >= 0 (got " + std::to_string(o.langevin_jumps) +
                     ")");
  if (o.langevin_jumps > 0 && o.langevin_steps == 0)
    throw UsageError("--langevin-jumps " + std::to_string(o.langevin_jumps) +
                     " is part of the Langevin refinement, so it needs --langevin-steps > 0");
  if (batch_known && o.langevin_jumps > 0 && o.batch < 4)
    throw UsageError("--langevin-jumps " + std::to_string(o.langevin_jumps) +
                     " needs --batch >= 4 (a chain jumps by the difference of two chains of the "
                     "other half of the batch; got --batch " +
                     std::to_string(o.batch) + ")");
  if (!(o.energy_average >= 0.0 && o.energy_average < 1.0))
    throw UsageError("--energy-average must be 0 (off) or a decay in (0, 1) (got " +
                     num(o.energy_average) + ")");
  if (!(o.gradient_penalty >= 0.0) || !std::isfinite(o.gradient_penalty))
    throw UsageError("--gradient-penalty must be a finite number >= 0 (got " +
                     num(o.gradient_penalty) + ")");
  if (!(o.energy_penalty >= 0.0) || !std::isfinite(o.energy_penalty))
    throw UsageError("--energy-penalty must be a finite number >= 0 (got " + num(o.energy_penalty) +
                     ")");
  if (o.threads < 1 || o.threads > max_threads)
    throw UsageError("--threads must be from 1 to " + std::to_string(max_threads) + " (got " +
                     std::to_string(o.threads) + ")");
  if (!(o.entropy >= 0.0) || !std::isfinite(o.entropy))
    throw UsageError("--entropy must be a finite number >= 0 (got " + num(o.entropy) + ")");
  if (!(o.base_sigma > 0.0) || !std::isfinite(o.base_sigma))
    throw UsageError("--base-sigma must be a positive finite number (got " + num(o.base_sigma) +
                     ")");
  if (!(o.latent_bound > 0.0) || !std::isfinite(o.latent_bound))
    throw UsageError("--latent-bound must be a positive finite number (got " + num(o.latent_bound) +
                     ")");
  if (o.sample_steps < 0)
    throw UsageError("--sample-steps must be >= 0 (got " + std::to_string(o.sample_steps) + ")");
  if (o.sample_jump_every < 0)
    throw UsageError("--sample-jump-every must be >= 0 (got " +
                     std::to_string(o.sample_jump_every) + ")");
  if (o.sample_jump_every > 0 && o.sample_steps <= o.sample_jump_every)
    throw UsageError("--sample-jump-every " + std::to_string(o.sample_jump_every) +
                     " needs --sample-steps > " + std::to_string(o.sample_jump_every) + " (got " +
                     std::to_string(o.sample_steps) +
                     "; a round of jumps comes after every that many sampling steps)");
  if (!(o.sample_step_size > 0.0) || !std::isfinite(o.sample_step_size))
    throw UsageError("--sample-step-size must be a positive finite number (got " +
                     num(o.sample_step_size) + ")");
  // The model trains in float: a setting past float's range would become
  // inf or 0 there and fail later under another flag's name.
  const std::pair<const char*, double> in_float[] = {{"--lr", o.lr},
                                                     {"--energy-lr", o.energy_lr},
                                                     {"--entropy", o.entropy},
                                                     {"--entropy-bandwidth", o.entropy_bandwidth},
                                                     {"--batchnorm-entropy", o.batchnorm_entropy},
                                                     {"--mi-entropy", o.mi_entropy},
                                                     {"--fourier-scale", o.fourier_scale},
                                                     {"--langevin-step-size", o.langevin_step_size},
                                                     {"--gradient-penalty", o.gradient_penalty},
                                                     {"--energy-penalty", o.energy_penalty},
                                                     {"--base-sigma", o.base_sigma},
                                                     {"--latent-bound", o.latent_bound},
                                                     {"--sample-step-size", o.sample_step_size}};
  for (const auto& [flag, v] : in_float)
    if (v != 0.0 && !(std::abs(v) >= double(std::numeric_limits<float>::min()) &&
                      std::abs(v) <= double(std::numeric_limits<float>::max())))
      throw UsageError(std::string(flag) + " " + num(v) +
                       " is outside float's range (1.2e-38 to 3.4e+38, or 0), the precision "
                       "the model trains in");
  if (o.data.empty()) {
    try {
      (void)datasets::parse_name(o.dataset);
    } catch (const Error& e) {
      throw UsageError(std::string("--dataset: ") + e.what());
    }
  }
  if (o.eval_grid < 4 || o.eval_grid > 2000)
    throw UsageError("--eval-grid must be between 4 and 2000 (got " + std::to_string(o.eval_grid) +
                     ")");
  if (!o.load.empty() && !o.resume.empty())
    throw UsageError("--load and --resume exclude each other; pass one of them");
  if (!o.eval_out.empty() && o.eval.empty())
    throw UsageError("--eval-out needs --eval FILE.csv (the points to evaluate)");
  if (!o.data.empty()) require_readable("--data", o.data);
  if (!o.load.empty()) require_readable("--load", o.load);
  if (!o.resume.empty()) require_readable("--resume", o.resume);
  if (!o.eval.empty()) require_readable("--eval", o.eval);
}

// ---------------------------------------------------------------------------
// Settings stored with the model (checkpoint extras)

constexpr double user_data_id = -1.0;

/// FNV-1a over the values of a data set, to recognise it again on --resume.
std::uint64_t data_hash(const Matrix<double>& x) {
  std::uint64_t h = 0xcbf29ce484222325ULL;
  for (Index k = 0; k < x.size(); ++k) {
    const auto bits = std::bit_cast<std::uint64_t>(x.data()[k]);
    for (int b = 0; b < 8; ++b) {
      h ^= (bits >> (8 * b)) & 0xff;
      h *= 0x100000001b3ULL;
    }
  }
  return h;
}
std::vector<double> split64(std::uint64_t v) {
  return {double(v & 0xffffffffULL), double(v >> 32)};
}
/// The inverse of split64, checking that both halves are 32-bit integers.
std::uint64_t join64(const std::string& path, const std::string& key,
                     const std::vector<double>& v) {
  for (double half : v)
    if (!(half >= 0.0 && half < 4294967296.0) || half != std::floor(half))
      throw Error(path + ": setting \"" + key + "\" holds " + num(half) +
                  ", not a 32-bit half of an integer; the file is damaged");
  return std::uint64_t(v.at(0)) | (std::uint64_t(v.at(1)) << 32);
}

const std::vector<double>& extra(const CheckpointExtras& e, const std::string& path,
                                 const std::string& key, std::size_t size) {
  const auto it = e.find(key);
  if (it == e.end() || it->second.size() != size)
    throw Error(path + ": not a checkpoint of the deepenergy examples (extra \"" + key +
                "\" is missing or has the wrong size)");
  return it->second;
}

/// A count stored as a double in the checkpoint, checked before the cast.
Index as_index(const std::string& path, const std::string& key, double v) {
  if (!std::isfinite(v) || v != std::floor(v) || std::abs(v) > 1e15)
    throw Error(path + ": setting \"" + key + "\" = " + num(v) + " is not an integer");
  return Index(v);
}

/// With --load/--resume the model's settings come from the checkpoint; a flag
/// given explicitly with another value is a mistake.
void take_settings(const CheckpointInfo& info, const std::string& path, Options& o,
                   const CLI::App& app) {
  const CheckpointExtras& e = info.extras;
  const double format = extra(e, path, "app.format", 1)[0];
  if (!(format >= app_format_oldest && format <= app_format) || format != std::floor(format))
    throw Error(path + ": written by another version of the examples (format " + num(format) +
                ", this program reads " + std::to_string(app_format_oldest) + " to " +
                std::to_string(app_format) + ")");
  const auto check = [&](const char* flag, auto& value, auto stored, const std::string& shown) {
    if (app.count(flag) > 0 && value != stored)
      throw UsageError(std::string(flag) + " differs from the checkpoint " + path + " (which has " +
                       shown +
                       "); with --load/--resume the model's settings come from the "
                       "checkpoint, so omit " +
                       flag);
    value = stored;
  };
  const double id = extra(e, path, "dataset", 1)[0];
  if (id == user_data_id) {
    if (o.data.empty())
      throw UsageError("the checkpoint " + path +
                       " was trained on user data; pass the same file again with --data");
  } else {
    if (!(id >= 0 && id < double(datasets::all_datasets.size())) || id != std::floor(id))
      throw Error(path + ": unknown data set id " + num(id));
    const auto n = static_cast<std::size_t>(id);
    const std::string name(datasets::all_datasets[n].id);
    if (!o.data.empty())
      throw UsageError("the checkpoint " + path + " was trained on the " + name +
                       " data set, not on --data " + o.data);
    check("--dataset", o.dataset, name, name);
  }
  const std::uint64_t seed = join64(path, "seed", extra(e, path, "seed", 2));
  check("--seed", o.seed, seed, std::to_string(seed));
  const Index batch = as_index(path, "batch", extra(e, path, "batch", 1)[0]);
  check("--batch", o.batch, batch, std::to_string(batch));
  const double lr = extra(e, path, "lr", 1)[0];
  check("--lr", o.lr, lr, num(lr, 17));
  const double entropy = extra(e, path, "entropy", 1)[0];
  check("--entropy", o.entropy, entropy, num(entropy, 17));
  // The settings added in format 2, each a number checked the same way.
  const auto setting = [&](const char* flag, const char* key, auto& value) {
    const double stored = extra(e, path, key, 1)[0];
    using T = std::remove_cvref_t<decltype(value)>;
    if constexpr (std::is_integral_v<T>)
      check(flag, value, T(as_index(path, key, stored)), num(stored, 17));
    else
      check(flag, value, stored, num(stored, 17));
  };
  setting("--energy-lr", "energy_lr", o.energy_lr);
  setting("--entropy-bandwidth", "entropy_bandwidth", o.entropy_bandwidth);
  // Format 3 added these two; a format 2 model used the kernel weights and a
  // generator without BatchNorm (unless it has the keys: development versions
  // wrote them under format 2 for a while).
  if (format >= 3 || e.contains("entropy_neighbours"))
    setting("--entropy-neighbours", "entropy_neighbours", o.entropy_neighbours);
  else
    check("--entropy-neighbours", o.entropy_neighbours, Index(0), "0");
  if (format >= 3 || e.contains("batchnorm_entropy"))
    setting("--batchnorm-entropy", "batchnorm_entropy", o.batchnorm_entropy);
  else
    check("--batchnorm-entropy", o.batchnorm_entropy, 0.0, "0");
  // Format 7 added MEG's mutual-information entropy; older models have none.
  if (format >= 7)
    setting("--mi-entropy", "mi_entropy", o.mi_entropy);
  else
    check("--mi-entropy", o.mi_entropy, 0.0, "0");
  setting("--fourier-scale", "fourier_scale", o.fourier_scale);
  setting("--langevin-steps", "langevin_steps", o.langevin_steps);
  setting("--langevin-step-size", "langevin_step_size", o.langevin_step_size);
  // Format 4 added the persistent chains; older models restarted every chain.
  if (format >= 4)
    setting("--langevin-restart", "langevin_restart", o.langevin_restart);
  else
    check("--langevin-restart", o.langevin_restart, 1.0, "1");
  // Format 8 added chains started at the data; older models have none.
  if (format >= 8)
    setting("--langevin-data-restart", "langevin_data_restart", o.langevin_data_restart);
  else
    check("--langevin-data-restart", o.langevin_data_restart, 0.0, "0");
  // Format 6 added the jumps between chains; older models have none.
  if (format >= 6)
    setting("--langevin-jumps", "langevin_jumps", o.langevin_jumps);
  else
    check("--langevin-jumps", o.langevin_jumps, Index(0), "0");
  // Format 5 added the energy average; older models have none.
  if (format >= 5)
    setting("--energy-average", "energy_average", o.energy_average);
  else
    check("--energy-average", o.energy_average, 0.0, "0");
  setting("--gradient-penalty", "gradient_penalty", o.gradient_penalty);
  setting("--energy-penalty", "energy_penalty", o.energy_penalty);
  const double base_sigma = extra(e, path, "base_sigma", 1)[0];
  check("--base-sigma", o.base_sigma, base_sigma, num(base_sigma, 17));
  const double latent_bound = extra(e, path, "latent_bound", 1)[0];
  check("--latent-bound", o.latent_bound, latent_bound, num(latent_bound, 17));
  const bool no_std = extra(e, path, "standardize", 1)[0] == 0.0;
  check("--no-standardize", o.no_standardize, no_std,
        no_std ? "no standardisation" : "standardisation");
  if (extra(e, path, "hidden", 1)[0] != 128.0 || extra(e, path, "latent_dim", 1)[0] != 4.0)
    throw Error(path + ": the model is not the examples' (hidden 128, latent 4)");
}

// ---------------------------------------------------------------------------
// Data

struct Data {
  std::string name;            ///< data set id, or the CSV file's stem
  double id = user_data_id;    ///< index into datasets::all_datasets, or user_data_id
  Matrix<double> train, test;  ///< data units, 2 x N
  // Oracle: the Gaussian mixture's centres and stddev (empty when not a mixture).
  Matrix<double> centres;
  double stddev = 0.0;
  bool four_spin = false;
};

Data make_data(const Options& o) {
  Data d;
  if (!o.data.empty()) {
    const Matrix<double> all = load_csv<double>(o.data, 2);
    if (all.cols() < 20)
      throw Error(o.data + ": has " + std::to_string(all.cols()) +
                  " points; expected at least 20 (10% are held out for testing)");
    // Hold out a random 10% (at least 2 points) as the test set.
    std::vector<Index> order(static_cast<std::size_t>(all.cols()));
    std::iota(order.begin(), order.end(), Index{0});
    Rng rng(derive_seed(o.seed, split_stream));
    for (std::size_t i = order.size() - 1; i > 0; --i)
      std::swap(order[i], order[static_cast<std::size_t>(rng.below(i + 1))]);
    const Index n_test = std::max<Index>(2, all.cols() / 10);
    d.test.resize(2, n_test);
    d.train.resize(2, all.cols() - n_test);
    for (Index j = 0; j < all.cols(); ++j) {
      const Index src = order[static_cast<std::size_t>(j)];
      if (j < n_test)
        d.test.col(j) = all.col(src);
      else
        d.train.col(j - n_test) = all.col(src);
    }
    d.name = std::filesystem::path(o.data).stem().string();
    if (d.name.empty()) d.name = "data";
    return d;
  }
  const datasets::Name name = datasets::parse_name(o.dataset);
  d.name = std::string(datasets::to_string(name));
  d.id = double(static_cast<int>(name));
  Rng train_rng(derive_seed(o.seed, train_stream));
  Rng test_rng(derive_seed(o.seed, test_stream));
  d.train = datasets::make<double>(name, train_size, train_rng);
  d.test = datasets::make<double>(name, test_size, test_rng);
  switch (name) {
    case datasets::Name::two_spiral:
      d.centres = datasets::two_spiral_centres<double>();
      d.stddev = datasets::two_spiral_stddev;
      break;
    case datasets::Name::eight_gaussians:
      d.centres = datasets::eight_gaussians_centres<double>();
      d.stddev = datasets::eight_gaussians_stddev;
      break;
    case datasets::Name::twenty_five_gaussians:
      d.centres = datasets::twenty_five_gaussians_centres<double>();
      d.stddev = datasets::twenty_five_gaussians_stddev;
      break;
    case datasets::Name::four_spin:
      d.four_spin = true;
      break;
  }
  return d;
}

// ---------------------------------------------------------------------------
// Training progress and periodic checkpoints

// SIGINT and SIGTERM during training stop after the current step; the run
// then saves a checkpoint and exits non-zero saying where it is.
volatile std::sig_atomic_t interrupt_signal = 0;
extern "C" void on_interrupt(int sig) {
  interrupt_signal = sig;
}

/// Installs the handlers for its lifetime.
class InterruptGuard {
 public:
  InterruptGuard() {
    interrupt_signal = 0;
    old_int_ = std::signal(SIGINT, on_interrupt);
    old_term_ = std::signal(SIGTERM, on_interrupt);
  }
  ~InterruptGuard() {
    std::signal(SIGINT, old_int_);
    std::signal(SIGTERM, old_term_);
  }
  InterruptGuard(const InterruptGuard&) = delete;
  InterruptGuard& operator=(const InterruptGuard&) = delete;

 private:
  void (*old_int_)(int);
  void (*old_term_)(int);
};

class Progress {
 public:
  Progress(std::int64_t first, std::int64_t last, std::function<void()> save)
      : first_(first), last_(last), save_(std::move(save)), start_(Clock::now()) {
    tty_ = ::isatty(::fileno(stderr)) != 0;
    tenth_ = std::max<std::int64_t>(1, (last_ - first_) / 10);
  }

  template <class Model>
  void on_step(Model& model, const StepInfo& info) {
    if (interrupt_signal != 0) model.request_stop();
    // --divergence rollback: one line per rollback. The hook runs after good
    // steps only, so rollbacks in a row (the retried step diverging again)
    // arrive together.
    if (model.rollbacks() != rollbacks) {
      if (tty_) std::cerr << '\n';
      for (Index k = rollbacks + 1; k <= model.rollbacks(); ++k)
        std::cerr << "rolled back to step " << model.step_count() - 1
                  << " after a divergence (rollback " << k << ")\n";
      rollbacks = model.rollbacks();
      std::cerr << "learning rates now lr " << num(model.generator_optimizer().learning_rate)
                << ", energy lr " << num(model.energy_optimizer().learning_rate) << '\n';
    }
    // After a rollback the trainer is back at an earlier step: trace points
    // from the abandoned steps would repeat their step numbers.
    while (!nll_trace.empty() && nll_trace.back().first >= model.step_count()) nll_trace.pop_back();
    energy_loss = info.energy_loss;
    generator_loss = info.generator_loss;
    const std::int64_t done = model.step_count() - first_;
    const bool report = done % tenth_ == 0 || model.step_count() == last_;
    if (report && model.step_count() != last_) {  // the last one is saved by the caller
      save_();
      saved_step = model.step_count();
    }
    if (report && held_out_nll) {
      // Stability check (README, Results): the held-out NLL at every tenth of
      // training. It reads the model only (no random numbers), so training
      // takes the same path with or without it.
      const auto t = Clock::now();
      double v = std::numeric_limits<double>::quiet_NaN();
      try {
        v = held_out_nll();
      } catch (const Error&) {  // e.g. a non-finite energy on the grid: recorded as null
      }
      nll_trace.emplace_back(model.step_count(), v);
      nll_seconds += std::chrono::duration<double>(Clock::now() - t).count();
    }
    if (tty_) {
      const double now = seconds();
      if (now - last_draw_ >= 0.2 || model.step_count() == last_) {
        last_draw_ = now;
        std::cerr << '\r' << line(model.step_count(), done) << "   " << std::flush;
        if (model.step_count() == last_) std::cerr << '\n';
      }
    } else if (report) {
      std::cerr << line(model.step_count(), done) << '\n';
    }
  }

  /// Training time so far, without the held-out NLL evaluations.
  double seconds() const {
    return std::chrono::duration<double>(Clock::now() - start_).count() - nll_seconds;
  }

  double energy_loss = std::numeric_limits<double>::quiet_NaN();
  double generator_loss = std::numeric_limits<double>::quiet_NaN();
  std::int64_t saved_step = -1;  ///< step of the last periodic checkpoint, -1 if none
  Index rollbacks = 0;           ///< --divergence rollback: how many in this run
  /// When set, evaluated at every tenth of training into nll_trace (step, NLL).
  std::function<double()> held_out_nll;
  std::vector<std::pair<std::int64_t, double>> nll_trace;
  double nll_seconds = 0.0;  ///< spent in held_out_nll (not counted as training)

  /// The largest |NLL change| between consecutive trace points that both lie
  /// in the second half of this run's steps; NaN if there are no such pairs
  /// or a value in them is NaN (a non-finite energy is never "stable").
  double max_jump_second_half() const {
    const std::int64_t half = first_ + (last_ - first_) / 2;
    double worst = -1.0;
    for (std::size_t i = 1; i < nll_trace.size(); ++i) {
      if (nll_trace[i - 1].first <= half) continue;
      const double jump = std::abs(nll_trace[i].second - nll_trace[i - 1].second);
      if (std::isnan(jump)) return jump;
      worst = std::max(worst, jump);
    }
    return worst >= 0.0 ? worst : std::numeric_limits<double>::quiet_NaN();
  }

 private:
  std::string line(std::int64_t step, std::int64_t done) const {
    const double t = seconds();
    const double rate = t > 0 ? double(done) / t : 0.0;
    const double eta = rate > 0 ? double(last_ - step) / rate : 0.0;
    char buf[200];
    std::snprintf(
        buf, sizeof buf,
        "step %lld/%lld  energy loss %+.4f  generator loss %+.4f  %.0f steps/s  ETA %.0fs",
        static_cast<long long>(step), static_cast<long long>(last_), energy_loss, generator_loss,
        rate, eta);
    std::string text = buf;
    if (!nll_trace.empty() && nll_trace.back().first == step)
      text += "  held-out NLL " + num(nll_trace.back().second, 5);
    return text;
  }

  std::int64_t first_, last_, tenth_;
  std::function<void()> save_;
  Clock::time_point start_;
  bool tty_ = false;
  double last_draw_ = -1.0;
};

// ---------------------------------------------------------------------------
// JSON (written by hand: a flat object of numbers and strings)

class Json {
 public:
  void number(const std::string& key, double v) {
    if (!std::isfinite(v)) return raw(key, "null");
    char buf[40];
    const auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
    raw(key, ec == std::errc{} ? std::string(buf, end) : "null");
  }
  void integer(const std::string& key, std::int64_t v) { raw(key, std::to_string(v)); }
  void boolean(const std::string& key, bool v) { raw(key, v ? "true" : "false"); }
  void string(const std::string& key, const std::string& v) { raw(key, quote(v)); }
  void null(const std::string& key) { raw(key, "null"); }
  void integers(const std::string& key, const std::vector<std::int64_t>& v) {
    std::string a = "[";
    for (std::size_t i = 0; i < v.size(); ++i) a += (i ? ", " : "") + std::to_string(v[i]);
    raw(key, a + "]");
  }
  void numbers(const std::string& key, const std::vector<double>& v) {
    std::string a = "[";
    for (std::size_t i = 0; i < v.size(); ++i) {
      char buf[40];
      const auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v[i]);
      a += (i ? ", " : "") +
           (std::isfinite(v[i]) && ec == std::errc{} ? std::string(buf, end) : std::string("null"));
    }
    raw(key, a + "]");
  }
  std::string text() const { return "{\n" + body_ + "\n}\n"; }

 private:
  static std::string quote(const std::string& s) {
    std::string q = "\"";
    for (const char ch : s) {
      if (ch == '"' || ch == '\\') {
        q += '\\';
        q += ch;
      } else if (static_cast<unsigned char>(ch) < 0x20) {
        char buf[8];
        std::snprintf(buf, sizeof buf, "\\u%04x", static_cast<unsigned>(ch));
        q += buf;
      } else {
        q += ch;
      }
    }
    return q + "\"";
  }
  void raw(const std::string& key, const std::string& value) {
    if (!body_.empty()) body_ += ",\n";
    body_ += "  " + quote(key) + ": " + value;
  }
  std::string body_;
};

/// Writes text to path atomically (path.tmp, checked, renamed).
void write_text(const std::string& path, const std::string& text) {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) throw Error("cannot open " + tmp + " for writing");
    out << text;
    out.flush();
    if (!out) throw Error("writing " + tmp + " failed");
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) throw Error("cannot rename " + tmp + " to " + path + ": " + ec.message());
}

// ---------------------------------------------------------------------------
// The program

/// E(x) of every column of x (model units), in chunks of eval::energy_chunk.
template <class F>
RowVector<double> energies(F& energy, const Matrix<double>& x) {
  RowVector<double> e(x.cols());
  for (Index b = 0; b < x.cols(); b += eval::energy_chunk) {
    const Index m = std::min(eval::energy_chunk, x.cols() - b);
    e.segment(b, m) = energy(x.middleCols(b, m));
  }
  return e;
}

// What CLI11 (2.1) lets through before validate() sees the values: an empty
// value (--steps=) it reads as 0, an integer past 64 bits it clamps, and a
// negative one it wraps into an unsigned --seed.
void check_raw_values(const CLI::App& app) {
  for (const CLI::Option* opt : app.get_options()) {
    if (opt->count() == 0 || opt->get_items_expected_min() == 0) continue;  // flags take none
    for (const std::string& r : opt->results())
      if (r.empty()) throw UsageError(opt->get_name() + " needs a value (got an empty one)");
  }
  const auto whole = [&](const char* flag, auto type) {
    const CLI::Option* opt = app.get_option_no_throw(flag);
    if (opt == nullptr || opt->count() == 0) return;
    for (const std::string& r : opt->results()) {
      decltype(type) v{};
      const auto [end, ec] = std::from_chars(r.data(), r.data() + r.size(), v);
      if (ec != std::errc() || end != r.data() + r.size())
        throw UsageError(std::string(flag) + " must be a whole number from " +
                         std::to_string(std::numeric_limits<decltype(type)>::min()) + " to " +
                         std::to_string(std::numeric_limits<decltype(type)>::max()) + " (got '" +
                         r + "')");
    }
  };
  for (const char* flag :
       {"--steps", "--batch", "--entropy-neighbours", "--langevin-steps", "--langevin-jumps",
        "--eval-grid", "--sample-steps", "--sample-jump-every"})
    whole(flag, std::int64_t{});
  whole("--seed", std::uint64_t{});
  whole("--threads", int{});
}

std::string command_line(int argc, char** argv) {
  std::string s;
  for (int i = 0; i < argc; ++i) {
    if (i > 0) s += ' ';
    s += argv[i];
  }
  return s;
}

int run(int argc, char** argv, const std::string& default_dataset) {
  const auto t0 = Clock::now();
  Options o;
  o.dataset = default_dataset;

  CLI::App app{
      "Trains the deep energy model of Kim & Bengio (2016) with its deep directed generator on a "
      "2D data set (energy: 128 softplus experts on 128 deep features plus a quadratic base; "
      "generator 4-128-128-2; AdaGrad), evaluates it against the data set's oracle and writes "
      "figure.png, samples.csv (the generator's samples refined by Langevin on the energy), "
      "generator_samples.csv, energy_grid.csv, model.ckpt and metrics.json into the output "
      "directory. The defaults add to the paper's recipe what makes the energy take the data's "
      "shape (README, \"Training that reaches the density\"): Fourier input features, the "
      "generator's entropy term (with Dai et al.'s nearest-neighbour weights; kernel weights on "
      "the 8 and 25 Gaussians), negative samples from persistent Langevin chains (on the 8 and 25 "
      "Gaussians every chain starts at the generator and 5 rounds of jumps between chains "
      "precede the steps), an energy magnitude penalty and a lower energy learning rate; "
      "--fourier-scale 0 --entropy 0 --langevin-steps 0 --energy-penalty 0 --energy-lr 0.01 is "
      "the paper's literal recipe (its samples are the generator's: --sample-steps 0)."};
  app.get_formatter()->column_width(34);
  app.add_option("--dataset", o.dataset,
                 "data set: " + datasets::valid_names() + " (ignored with --data)")
      ->capture_default_str();
  app.add_option("--steps", o.steps,
                 "total training steps (with --resume: train until the model has this many)")
      ->capture_default_str();
  app.add_option("--batch", o.batch, "batch size (data and generator samples)")
      ->capture_default_str();
  app.add_option("--lr", o.lr, "AdaGrad learning rate of the generator (the paper's 0.01)")
      ->capture_default_str();
  app.add_option("--energy-lr", o.energy_lr, "AdaGrad learning rate of the energy")
      ->capture_default_str();
  app.add_option("--seed", o.seed,
                 "seed of everything random: weights, training data, test data, samples")
      ->capture_default_str();
  app.add_option(
         "--threads", o.threads,
         "threads (OpenMP) for the large products and element-wise passes; 2 pays off from "
         "batch ~1024 on an idle machine, 1 is fastest at batch 64 (README, Performance); 1 to 256")
      ->capture_default_str();
  app.add_option("--data", o.data,
                 "train on your own 2D points instead (CSV, 2 columns, header optional); a random "
                 "10% is held out as the test set");
  app.add_option("--out", o.out, "output directory (default: out/<data set or CSV file name>)");
  app.add_option("--load", o.load, "use the model in this checkpoint instead of training");
  app.add_option("--resume", o.resume, "continue training the model in this checkpoint");
  app.add_option("--eval", o.eval,
                 "CSV of 2D points (x,y; header optional) to evaluate the trained model at");
  app.add_option("--eval-out", o.eval_out,
                 "where --eval writes x,y,energy,log_density per point (default: <out>/eval.csv)");
  app.add_option("--entropy", o.entropy,
                 "weight of the generator's entropy term (KernelEntropy); 0 = off (eq. 5 alone)")
      ->capture_default_str();
  app.add_option("--entropy-bandwidth", o.entropy_bandwidth,
                 "KernelEntropy's kernel width in model units, for the kernel weights (a value "
                 "> 0 turns the default --entropy-neighbours off); 0 = the median heuristic")
      ->capture_default_str();
  app.add_option("--entropy-neighbours", o.entropy_neighbours,
                 "KernelEntropy with Dai et al.'s weights: the mean of each sample's k nearest "
                 "neighbours in the batch instead of kernel weights; 0 = kernel weights. By "
                 "default 10, but 0 with --entropy-bandwidth > 0, with --entropy 0, with a "
                 "--batch of 10 or less and on a built-in mixture whose components are narrower "
                 "than 0.05 model units (the 8 and 25 Gaussians); with --load/--resume the "
                 "checkpoint's")
      ->capture_default_str();
  app.add_option("--batchnorm-entropy", o.batchnorm_entropy,
                 "weight of BatchNormEntropy (the extended paper's): BatchNorm after each of G's "
                 "hidden layers, and -W sum 1/2 log(2 pi e gamma^2) in G's loss (KernelEntropy "
                 "stays on unless --entropy 0); 0 = the paper's generator, without BatchNorm")
      ->capture_default_str();
  app.add_option("--mi-entropy", o.mi_entropy,
                 "weight of MutualInformationEntropy (MEG's): a statistics network T (64 ReLU "
                 "units, AdaGrad 0.01, saved in the checkpoint) estimates the mutual information "
                 "between G's samples and their latents, and -W times it joins G's loss, beside "
                 "KernelEntropy; 0 = off")
      ->capture_default_str();
  app.add_option("--fourier-scale", o.fourier_scale,
                 "frequency scale of the energy's random Fourier input features, in inverse "
                 "model units; 0 = the paper's ReLU first layer")
      ->capture_default_str();
  app.add_option("--langevin-steps", o.langevin_steps,
                 "Langevin steps on the energy per training step for the negative phase's "
                 "samples (persistent chains restarted from the generator's samples, see "
                 "--langevin-restart); 0 = the paper's negative phase, the generator's samples")
      ->capture_default_str();
  app.add_option("--langevin-restart", o.langevin_restart,
                 "persistent negative chains: the share of the negative batch that restarts from "
                 "the generator at each step, the rest continuing the previous step's Langevin "
                 "chains (Tieleman's persistent contrastive divergence); 1 = every chain starts "
                 "at the generator, 0 = chains never restart. By default 1 on a built-in "
                 "mixture whose components are narrower than 0.05 model units (the 8 and 25 "
                 "Gaussians) and with --langevin-steps 0")
      ->capture_default_str();
  app.add_option("--langevin-data-restart", o.langevin_data_restart,
                 "the share of the negative batch that starts at the step's data batch instead "
                 "(contrastive divergence), after the persistent chains are continued; then "
                 "jumps and Langevin steps as for the others; needs --langevin-steps > 0. On the "
                 "8 and 25 Gaussians the held-out NLL stops rising but the samples cover fewer "
                 "modes (README, Results); 0 = off")
      ->capture_default_str();
  app.add_option("--langevin-jumps", o.langevin_jumps,
                 "rounds of mode-jumping moves between the negative batch's chains before the "
                 "Langevin steps (differential-evolution Metropolis: x_i + x_k - x_l, accepted "
                 "with probability min(1, exp(E(x_i) - E(x_i'))); 0 = off. By default 5 on a "
                 "built-in mixture whose components are narrower than 0.05 model units (the 8 "
                 "and 25 Gaussians) when --langevin-steps > 0 and --batch >= 4, else 0 (on the "
                 "spirals 1 round lowers the NLL gap but raises the samples' MMD^2; README, "
                 "Results); with --load/--resume the checkpoint's")
      ->capture_default_str();
  app.add_option("--langevin-step-size", o.langevin_step_size,
                 "Langevin step size eps (x -= eps^2/2 dE/dx, plus eps N(0, I)), model units; "
                 "by default 0.35 of a built-in mixture's component stddev where that is narrower "
                 "than 0.05 (0.0049 for the 8 Gaussians, 0.0062 for the 25)")
      ->capture_default_str();
  app.add_option("--energy-average", o.energy_average,
                 "decay d of an exponential moving average of the energy's parameters, updated "
                 "after every energy update from the first one's values (avg <- d_t avg + "
                 "(1 - d_t) theta, d_t = min(d, (1 + t) / (10 + t)) at step t); everything the "
                 "run reports (held-out NLL trace, samples, figure, energy_grid.csv, --eval, "
                 "metrics) uses the averaged energy, training the last parameters, and the "
                 "checkpoint keeps both. 0 = the last parameters")
      ->capture_default_str();
  app.add_option("--gradient-penalty", o.gradient_penalty,
                 "weight of lambda |dE/dx|^2 on the data (GradientPenalty); 0 = off")
      ->capture_default_str();
  app.add_option("--energy-penalty", o.energy_penalty,
                 "weight of alpha (E(x+)^2 + E(x-)^2) (EnergyMagnitudePenalty); 0 = off")
      ->capture_default_str();
  app.add_flag("--no-standardize", o.no_standardize,
               "train on the raw data instead of zero-mean, unit-variance coordinates");
  app.add_option("--base-sigma", o.base_sigma,
                 "sigma of the energy's quadratic base |x|^2 / (2 sigma^2), in model units")
      ->capture_default_str();
  app.add_option(
         "--divergence", o.divergence,
         "on a non-finite loss or gradient: stop (error naming the step; the last "
         "periodic checkpoint stays on disk) or rollback (restore the last good state, "
         "halve the learning rates, at most 3 times per run; checkpoints keep the halved rates)")
      ->check(CLI::IsMember({"stop", "rollback"}))
      ->capture_default_str();
  app.add_option("--latent-bound", o.latent_bound, "generator latent z ~ U[-c, c]^4: c")
      ->capture_default_str();
  app.add_option(
         "--eval-grid", o.eval_grid,
         "log Z quadrature: cells per dimension of the coarse grid (the estimate uses twice "
         "as many; cost grows with its square)")
      ->capture_default_str();
  app.add_option("--sample-steps", o.sample_steps,
                 "Langevin steps on the trained energy from the generator's samples before "
                 "samples.csv, the figure and the sample metrics (short chains: each sample "
                 "settles into a well near where G put it); 0 = the generator's own samples. "
                 "Not a training setting: --load can change it")
      ->capture_default_str();
  app.add_option("--sample-step-size", o.sample_step_size,
                 "step size of --sample-steps, model units; by default 0.85 of a built-in "
                 "mixture's component stddev where that is smaller (0.012 for the 8 Gaussians, "
                 "0.015 for the 25)")
      ->capture_default_str();
  app.add_option("--sample-jump-every", o.sample_jump_every,
                 "N: a round of mode-jumping moves between the samples (those of "
                 "--langevin-jumps, among each block of 256) after every N of the --sample-steps "
                 "(needs --sample-steps > N): the steps alone keep each sample in the well G put "
                 "it near, the jumps share the samples among the wells as exp(-E) says (the "
                 "wells some sample is in). After "
                 "the default training the 8 and 25 Gaussians' wells differ in depth and the "
                 "samples gather in the deepest (fewer modes covered); after "
                 "--langevin-data-restart 0.5 they cover more modes (README, Results). 0 = off. "
                 "Not a training setting: --load can change it")
      ->capture_default_str();
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // --help and --version are "errors" with code 0; print them as CLI11 does.
    if (e.get_exit_code() == 0) return app.exit(e);
    std::cerr << "error: " << e.what() << "\n(see --help)\n";
    return 2;
  }
  try {
    check_raw_values(app);
  } catch (const UsageError& e) {
    std::cerr << "error: " << e.what() << "\n(see --help)\n";
    return 2;
  }
  // Without Langevin steps there are no chains to continue: the default
  // restart share gives way (an explicit one is refused by validate).
  if (o.langevin_steps == 0 && app.count("--langevin-restart") == 0) o.langevin_restart = 1.0;
  // The default entropy weights (10 nearest neighbours) give way to the
  // kernel's where a kernel bandwidth is asked for, where the batch is too
  // small to have 10 neighbours (an explicit value is checked by validate),
  // and without the entropy term (so that no run says "10 neighbours" for a
  // term it does not have).
  if (app.count("--entropy-neighbours") == 0 &&
      (o.entropy_bandwidth > 0.0 || o.batch <= o.entropy_neighbours || o.entropy == 0.0))
    o.entropy_neighbours = 0;
  try {
    validate(o);
  } catch (const UsageError& e) {
    std::cerr << "error: " << e.what() << "\n(see --help)\n";
    return 2;
  }

  const std::string ckpt_in = o.load.empty() ? o.resume : o.load;
  CheckpointInfo info;
  if (!ckpt_in.empty()) {
    info = read_checkpoint_info<S>(ckpt_in);
    try {
      take_settings(info, ckpt_in, o, app);
    } catch (const UsageError& e) {
      std::cerr << "error: " << e.what() << '\n';
      return 2;
    }
    try {
      validate(o, true);  // the values taken from the checkpoint, too
    } catch (const UsageError& e) {
      throw Error(ckpt_in + ": a setting stored in the checkpoint is invalid: " + e.what());
    }
  }
  Eigen::setNbThreads(o.threads);

  // Data, and the affine map T from data units to model units.
  const Data d = make_data(o);
  if (o.out.empty()) o.out = "out/" + d.name;
  if (o.eval_out.empty() && !o.eval.empty()) o.eval_out = o.out + "/eval.csv";
  Standardizer<double> st(Vector<double>::Zero(2), Vector<double>::Ones(2));
  if (!o.no_standardize) {
    if (!ckpt_in.empty()) {
      const auto& m = extra(info.extras, ckpt_in, "standardizer.mean", 2);
      const auto& s = extra(info.extras, ckpt_in, "standardizer.stddev", 2);
      st = Standardizer<double>(Vector<double>::Map(m.data(), 2), Vector<double>::Map(s.data(), 2));
    } else {
      st.fit(d.train);
    }
  }
  const double log_det = st.log_det_jacobian();
  // A built-in mixture's component stddev in model units (0 for other data).
  const double component = d.stddev > 0.0 ? d.stddev / st.stddev().maxCoeff() : 0.0;
  // Langevin step: 0.05 model units, unless a built-in mixture's components
  // are narrower than that; then 0.35 of their stddev, so that a step stays
  // well inside a mode (with 0.05 the 8 and 25 Gaussians' energy wells grow
  // without bound; README, Results). The spirals' components are wider.
  if (ckpt_in.empty() && app.count("--langevin-step-size") == 0 && component > 0.0 &&
      component < o.langevin_step_size)
    o.langevin_step_size = 0.35 * component;
  // Persistent chains: 2% restart from G at each step (README, Results: over
  // 5 seeds, 0.02 against 0.05 lowered the spirals' median NLL gaps by 14%
  // and 18%), but none persist on
  // such a mixture (README, Results: over 5 seeds, 0.2 left one 25-Gaussian
  // seed at 24/25 modes and doubled the NLL jumps on both mixtures). Our
  // explanation, not measured: in steps that small a chain rarely crosses
  // between modes, so the chains' shares per mode go stale.
  // The entropy's kernel weights there too: with 10 nearest neighbours one
  // 25-Gaussian seed of 5 covered 24/25 modes, missing the target the kernel
  // meets in every seed (the 8 Gaussians would do better with them: 8/8 modes
  // in every seed against 7 in two; README, Results, says so). One rule for
  // both mixtures, like the two above, keeps their results as before.
  // And 5 rounds of jumps between the chains, so that each mode gets its
  // share of exp(-E) in the negative phase (README, Results: over 5 seeds the
  // 25 Gaussians' gap 3.96 against 10.1, every NLL jump under 1 nat, the 8
  // Gaussians' 16.9 against 23.4); not without Langevin steps (the jumps
  // are part of them) or with a batch under 4 (too few chains to jump
  // between), which TrainerOptions::validate would refuse: a default must
  // not fail a run that did not ask for it.
  const bool narrow_mixture = ckpt_in.empty() && component > 0.0 && component < 0.05;
  if (narrow_mixture && app.count("--langevin-restart") == 0) o.langevin_restart = 1.0;
  if (narrow_mixture && app.count("--entropy-neighbours") == 0) o.entropy_neighbours = 0;
  if (narrow_mixture && app.count("--langevin-jumps") == 0 && o.langevin_steps > 0 && o.batch >= 4)
    o.langevin_jumps = 5;
  // The sampling step: the same reasoning, with a longer step (the chain must
  // travel from G's samples into the wells) that still stays inside a mode.
  if (app.count("--sample-step-size") == 0 && component > 0.0)
    o.sample_step_size = std::min(o.sample_step_size, 0.85 * component);
  const std::uint64_t hash = data_hash(d.train);
  if (!ckpt_in.empty() && d.id == user_data_id) {
    if (join64(ckpt_in, "data.hash", extra(info.extras, ckpt_in, "data.hash", 2)) != hash)
      throw Error("--data " + o.data + " is not the data the checkpoint " + ckpt_in +
                  " was trained on (other points or another --seed)");
  }
  const Matrix<S> train_model = st.transform(d.train).cast<S>();

  // The model: the paper's networks, by default with Fourier input features,
  // plus the generator's entropy term and the energy regularisers (off at 0).
  paper::Config config;
  config.base_sigma = o.base_sigma;
  config.latent_bound = o.latent_bound;
  TrainerOptions topt;
  topt.batch_size = o.batch;
  topt.energy_learning_rate = o.energy_lr;
  topt.generator_learning_rate = o.lr;
  topt.langevin_steps = o.langevin_steps;
  topt.langevin_step_size = o.langevin_step_size;
  topt.langevin_restart = o.langevin_restart;
  topt.langevin_data_restart = o.langevin_data_restart;
  topt.langevin_jumps = o.langevin_jumps;
  topt.energy_average = o.energy_average;
  topt.seed = o.seed;
  if (o.divergence == "rollback") topt.on_divergence = TrainerOptions::OnDivergence::rollback;
  const KernelEntropy<S> entropy(o.entropy, o.entropy_bandwidth, o.entropy_neighbours);
  const GradientPenalty<S> gradient_penalty(o.gradient_penalty);
  const EnergyMagnitudePenalty energy_penalty(o.energy_penalty);
  const MutualInformationEntropy<S> mi_entropy(o.mi_entropy, 64, 0.01,
                                               derive_seed(o.seed, mi_stream));
  // Everything from here on is the same for every model type: a generic lambda,
  // instantiated once per model type.
  const auto train_and_report = [&](auto& model) -> int {
    if (!ckpt_in.empty()) load_checkpoint(ckpt_in, model);
    // Rollbacks of earlier runs lowered the learning rates; --resume goes on
    // with the lowered ones (checkpoints from before "lr_scale" have none).
    double lr_scale = 1.0;
    if (!o.resume.empty() && info.extras.contains("lr_scale")) {
      lr_scale = extra(info.extras, ckpt_in, "lr_scale", 1)[0];
      if (!(lr_scale > 0.0 && lr_scale <= 1.0))
        throw Error(ckpt_in + ": setting \"lr_scale\" = " + num(lr_scale) + " is not in (0, 1]");
    }
    model.generator_optimizer().learning_rate *= lr_scale;
    model.energy_optimizer().learning_rate *= lr_scale;

    CheckpointExtras extras{
        {"app.format", {double(app_format)}},
        {"dataset", {d.id}},
        {"seed", split64(o.seed)},
        {"batch", {double(o.batch)}},
        {"lr", {o.lr}},
        {"entropy", {o.entropy}},
        {"energy_lr", {o.energy_lr}},
        {"entropy_bandwidth", {o.entropy_bandwidth}},
        {"entropy_neighbours", {double(o.entropy_neighbours)}},
        {"batchnorm_entropy", {o.batchnorm_entropy}},
        {"mi_entropy", {o.mi_entropy}},
        {"fourier_scale", {o.fourier_scale}},
        {"langevin_steps", {double(o.langevin_steps)}},
        {"langevin_step_size", {o.langevin_step_size}},
        {"langevin_restart", {o.langevin_restart}},
        {"langevin_data_restart", {o.langevin_data_restart}},
        {"langevin_jumps", {double(o.langevin_jumps)}},
        {"energy_average", {o.energy_average}},
        {"gradient_penalty", {o.gradient_penalty}},
        {"energy_penalty", {o.energy_penalty}},
        {"base_sigma", {o.base_sigma}},
        {"latent_bound", {o.latent_bound}},
        {"hidden", {double(config.hidden)}},
        {"latent_dim", {double(config.latent_dim)}},
        {"standardize", {o.no_standardize ? 0.0 : 1.0}},
        {"standardizer.mean", {st.mean()(0), st.mean()(1)}},
        {"standardizer.stddev", {st.stddev()(0), st.stddev()(1)}},
        {"data.hash", split64(hash)},
        {"data.count", {double(d.train.cols())}},
    };
    const std::string description =
        "deepenergy examples: " + d.name + ", hidden 128, latent 4, " +
        (o.fourier_scale > 0 ? "Fourier features (scale " + num(o.fourier_scale) + ")"
                             : std::string("the paper's ReLU features")) +
        ", KernelEntropy " + num(o.entropy) +
        (o.entropy_neighbours > 0 ? " (" + std::to_string(o.entropy_neighbours) + " neighbours)"
                                  : std::string()) +
        (o.batchnorm_entropy > 0
             ? ", BatchNorm generator, BatchNormEntropy " + num(o.batchnorm_entropy)
             : std::string()) +
        (o.mi_entropy > 0 ? ", MutualInformationEntropy " + num(o.mi_entropy) : std::string()) +
        ", Langevin steps " + std::to_string(o.langevin_steps) +
        (o.langevin_restart < 1.0 ? ", persistent chains (restart " + num(o.langevin_restart) + ")"
                                  : std::string()) +
        (o.langevin_data_restart > 0
             ? ", chains started at the data (" + num(o.langevin_data_restart) + ")"
             : std::string()) +
        (o.langevin_jumps > 0 ? ", " + jump_rounds(o.langevin_jumps) : std::string()) +
        (o.energy_average > 0 ? ", energy average " + num(o.energy_average) : std::string()) +
        "; " + describe_parameters(model);

    std::filesystem::create_directories(o.out);
    const std::string ckpt_out = o.out + "/model.ckpt";
    // The scale of the rates now: the loaded one, halved per rollback of this run.
    const auto lr_scale_now = [&] {
      return lr_scale * std::pow(topt.rollback_lr_factor, double(model.rollbacks()));
    };
    const auto save = [&] {
      extras["lr_scale"] = {lr_scale_now()};
      save_checkpoint(ckpt_out, model, extras, description);
    };

    // ---- training ----
    const std::int64_t first = model.step_count();
    const std::int64_t last = o.load.empty() ? std::max(o.steps, first) : first;
    double train_seconds = 0.0;
    Progress progress(first, last, save);
    // A std::function, so the evaluation (here and below) is compiled once for all models.
    const std::function<RowVector<double>(const Matrix<double>&)> energy_fn =
        [&model](const Matrix<double>& x) -> RowVector<double> {
      const Matrix<S> xf = x.cast<S>();
      return model.energy().energy(xf).template cast<double>();
    };
    const Matrix<double> train_model_d = train_model.cast<double>();
    const Matrix<double> test_model = st.transform(d.test);
    // The trace measures the model the run reports: the averaged energy
    // (--energy-average), swapped in for the evaluation and out again.
    progress.held_out_nll = [&] {
      const EnergyAverageScope averaged(
          model, model.energy_average().empty() ? EnergyValues::training : EnergyValues::average);
      const double log_z =
          eval::log_partition(energy_fn, eval::box_from_data(train_model_d), 2 * o.eval_grid);
      return eval::nll(energy_fn, test_model, log_z) - log_det;
    };
    if (last > first) {
      std::cerr << "training " << d.name << ": steps " << first + 1 << " to " << last << " (batch "
                << o.batch << ", lr " << num(o.lr * lr_scale) << ", energy lr "
                << num(o.energy_lr * lr_scale)
                << (lr_scale != 1.0
                        ? " (x" + num(lr_scale) + " of the given rates, after earlier rollbacks)"
                        : std::string())
                << ", entropy " << num(o.entropy)
                << (o.entropy_neighbours > 0
                        ? " (" + std::to_string(o.entropy_neighbours) + " neighbours)"
                        : std::string())
                << (o.batchnorm_entropy > 0 ? ", BatchNorm entropy " + num(o.batchnorm_entropy)
                                            : std::string())
                << (o.mi_entropy > 0 ? ", mutual-information entropy " + num(o.mi_entropy)
                                     : std::string())
                << ", energy penalty " << num(o.energy_penalty)
                << (o.gradient_penalty > 0 ? ", gradient penalty " + num(o.gradient_penalty)
                                           : std::string())
                << ", Langevin steps " << o.langevin_steps << " of size "
                << num(o.langevin_step_size, 3) << ", "
                << (o.langevin_restart < 1.0
                        ? "persistent chains (restart " + num(o.langevin_restart) + "), "
                        : std::string())
                << (o.langevin_data_restart > 0
                        ? "chains started at the data (" + num(o.langevin_data_restart) + "), "
                        : std::string())
                << (o.langevin_jumps > 0 ? jump_rounds(o.langevin_jumps) + ", " : std::string())
                << (o.energy_average > 0 ? "energy average " + num(o.energy_average) + ", "
                                         : std::string())
                << o.threads << (o.threads == 1 ? " thread" : " threads") << ")\n";
      InterruptGuard guard;
      try {
        model.train(train_model, last - first, progress);
      } catch (const DivergenceError& e) {
        // The model in memory holds a partial step; the periodic checkpoint on
        // disk is the last good state.
        throw Error(
            std::string(e.what()) + "; " +
            (progress.saved_step >= 0 ? "the last good checkpoint is " + ckpt_out + " (step " +
                                            std::to_string(progress.saved_step) + ")"
                                      : std::string("no checkpoint was written by this run")) +
            (o.divergence == "rollback"
                 ? std::string("; try a lower --lr / --energy-lr")
                 : std::string("; try --divergence rollback or a lower --lr / --energy-lr")));
      }
      train_seconds = progress.seconds();
      if (interrupt_signal != 0) {
        const int sig = interrupt_signal;
        save();
        std::cerr << "\ninterrupted by " << (sig == SIGINT ? "SIGINT" : "SIGTERM") << " at step "
                  << model.step_count() << ": checkpoint saved to " << ckpt_out
                  << "; continue with --resume " << ckpt_out << '\n';
        return 128 + sig;
      }
    }
    if (o.load.empty()) save();
    // From here on the energy is the averaged one (--energy-average): the
    // checkpoint above keeps both, so --resume trains on the raw values.
    if (!model.energy_average().empty()) model.swap_energy_average();

    // ---- outputs: samples, energy grid, figure ----
    // The generator's samples, then the refined ones: Langevin on E from them.
    const auto sample_start = Clock::now();
    Rng sample_rng(derive_seed(o.seed, sample_stream));
    model.generator().set_training(false);  // a BatchNorm in G: its running averages
    Matrix<S> refined = model.generator().sample(sample_count, sample_rng);
    const Matrix<double> generator_samples_model = refined.template cast<double>();
    LangevinOptions sampling;
    sampling.steps = o.sample_steps;
    sampling.step_size = o.sample_step_size;
    sampling.jump_every = o.sample_jump_every;
    try {
      langevin_sample(model.energy(), refined, sampling, sample_rng);
    } catch (const Error& e) {
      // The model is already on disk (or came from --load): only sampling is lost.
      throw Error(std::string(e.what()) + " (here --sample-step-size " + num(o.sample_step_size) +
                  " with --sample-steps " + std::to_string(o.sample_steps) +
                  "; --sample-steps 0 gives the generator's own samples)" +
                  (o.load.empty() ? "; the trained model is saved in " + ckpt_out +
                                        ": sample it again with --load " + ckpt_out
                                  : std::string()));
    }
    const Matrix<double> samples = st.inverse(refined.template cast<double>());
    const Matrix<double> generator_samples = st.inverse(generator_samples_model);
    const double sample_seconds =
        std::chrono::duration<double>(Clock::now() - sample_start).count();
    save_csv(o.out + "/samples.csv", samples, {"x", "y"});
    save_csv(o.out + "/generator_samples.csv", generator_samples, {"x", "y"});

    figure::Box box;
    if (d.id != user_data_id) {
      const double hw = datasets::all_datasets[static_cast<std::size_t>(d.id)].half_width;
      box = {-hw, hw, -hw, hw};
    } else {
      const Vector<double> lo = d.train.rowwise().minCoeff(), hi = d.train.rowwise().maxCoeff();
      const Vector<double> mid = 0.5 * (lo + hi);
      const double half = 0.55 * std::max(hi(0) - lo(0), hi(1) - lo(1));
      box = {mid(0) - half, mid(0) + half, mid(1) - half, mid(1) + half};
    }
    const Matrix<double> grid = figure::grid_points(box, energy_grid_size, energy_grid_size);
    const RowVector<double> grid_energy = energies(energy_fn, st.transform(grid));
    Matrix<double> grid_csv(3, grid.cols());
    grid_csv << grid, grid_energy;
    save_csv(o.out + "/energy_grid.csv", grid_csv, {"x", "y", "energy"});
    {
      figure::FigureOptions fo;
      fo.left_title =
          d.name + ": data (red), " + (o.sample_steps > 0 ? "samples" : "G samples") + " (blue)";
      fo.right_title = "energy, " + std::to_string(model.step_count()) + " steps";
      // Colour scale: the range of the energy over the training points (1st to
      // 99th percentile) widened by a quarter on each side, so the data's
      // structure spans the colours; energies outside saturate (blue below,
      // red above, e.g. far corners where the quadratic base dominates).
      const RowVector<double> at_data = energies(energy_fn, st.transform(d.train));
      std::vector<double> sorted(at_data.data(), at_data.data() + at_data.size());
      std::sort(sorted.begin(), sorted.end());
      const double q01 = sorted[sorted.size() / 100];
      const double q99 = sorted[sorted.size() * 99 / 100];
      const double span = std::max(q99 - q01, 1e-6);
      fo.energy_min = q01 - 0.25 * span;
      fo.energy_max = q99 + 0.25 * span;
      figure::write_figure(o.out + "/figure.png", d.train, samples,
                           figure::energy_grid(grid_energy, energy_grid_size, energy_grid_size),
                           box, fo);
    }

    // ---- evaluation ----
    const auto eval_start = Clock::now();
    const eval::PartitionEstimate pz =
        eval::log_partition_with_error(energy_fn, eval::box_from_data(train_model_d), o.eval_grid);
    const double nll = eval::nll(energy_fn, test_model, pz.log_z) - log_det;
    Rng oracle_rng(derive_seed(o.seed, oracle_stream));
    std::optional<eval::Estimate> oracle;
    if (d.centres.cols() > 0)
      oracle = eval::mixture_entropy(d.centres, d.stddev, oracle_mc, oracle_rng);
    else if (d.four_spin)
      oracle = eval::four_spin_entropy(oracle_mc, oracle_rng);
    const Matrix<double> test2k = d.test.leftCols(std::min(eval_sample_count, d.test.cols()));
    // MMD with the bandwidth of the refined samples for both sets of samples,
    // so the two figures compare.
    const double mmd_h =
        eval::median_heuristic_bandwidth(samples.leftCols(eval_sample_count), test2k);
    const double mmd2 = eval::mmd2_unbiased(samples.leftCols(eval_sample_count), test2k, mmd_h);
    const double generator_mmd2 =
        eval::mmd2_unbiased(generator_samples.leftCols(eval_sample_count), test2k, mmd_h);
    // KL(P_G || P_E) measures the generator, so it takes G's own samples.
    const double align_kl = eval::alignment_kl(
        energy_fn, generator_samples_model.leftCols(eval_sample_count), pz.log_z);
    std::optional<eval::ModeCoverage> modes, generator_modes;
    if (d.centres.cols() > 0) {
      modes = eval::mode_coverage(samples, d.centres, d.stddev);
      generator_modes = eval::mode_coverage(generator_samples, d.centres, d.stddev);
    }
    // KDE baseline: bandwidth chosen on the last 10% of the training points.
    const Index n_val = std::max<Index>(1, d.train.cols() / 10);
    const eval::Kde kde =
        eval::fit_kde(d.train.leftCols(d.train.cols() - n_val), d.train.rightCols(n_val));
    const double kde_nll = -eval::kde_log_density(kde, d.test).mean();
    const double eval_seconds = std::chrono::duration<double>(Clock::now() - eval_start).count();

    // ---- --eval ----
    if (!o.eval.empty()) {
      const Matrix<double> pts = load_csv<double>(o.eval, 2);
      const RowVector<double> e = energies(energy_fn, st.transform(pts));
      Matrix<double> table(4, pts.cols());
      table << pts, e, (-e.array() - pz.log_z + log_det).matrix();
      save_csv(o.eval_out, table, {"x", "y", "energy", "log_density"});
    }

    // ---- report ----
    const double nan = std::numeric_limits<double>::quiet_NaN();
    const double entropy_value = oracle ? oracle->value : nan;
    const double wall = std::chrono::duration<double>(Clock::now() - t0).count();
    const std::int64_t steps_run = last - first;
    Json j;
    j.string("dataset", d.name);
    j.string("command", command_line(argc, argv));
    j.string("mode", !o.load.empty() ? "load" : !o.resume.empty() ? "resume" : "train");
    j.integer("steps", model.step_count());
    j.integer("steps_this_run", steps_run);
    j.number("wall_seconds", wall);
    j.number("train_seconds", train_seconds);
    j.number("eval_seconds", eval_seconds);
    j.number("sample_seconds", sample_seconds);
    j.number("steps_per_second", train_seconds > 0 ? double(steps_run) / train_seconds : nan);
    j.number("energy_loss", progress.energy_loss);
    j.number("generator_loss", progress.generator_loss);
    j.integer("batch", o.batch);
    j.number("lr", o.lr);
    j.number("energy_lr", o.energy_lr);
    j.number("entropy_weight", o.entropy);
    j.number("entropy_bandwidth", o.entropy_bandwidth);
    j.integer("entropy_neighbours", o.entropy_neighbours);
    j.number("batchnorm_entropy_weight", o.batchnorm_entropy);
    j.number("mi_entropy_weight", o.mi_entropy);
    j.number("fourier_scale", o.fourier_scale);
    j.integer("langevin_steps", o.langevin_steps);
    j.number("langevin_step_size", o.langevin_step_size);
    j.number("langevin_restart", o.langevin_restart);
    j.number("langevin_data_restart", o.langevin_data_restart);
    j.integer("langevin_jumps", o.langevin_jumps);
    j.number("energy_average", o.energy_average);
    j.number("gradient_penalty", o.gradient_penalty);
    j.number("energy_penalty", o.energy_penalty);
    j.number("base_sigma", o.base_sigma);
    j.integer("sample_steps", o.sample_steps);
    j.number("sample_step_size", o.sample_step_size);
    j.integer("sample_jump_every", o.sample_jump_every);
    j.number("latent_bound", o.latent_bound);
    j.boolean("standardized", !o.no_standardize);
    j.number("log_det_jacobian", log_det);
    j.integer("seed", static_cast<std::int64_t>(o.seed));
    j.integer("threads", o.threads);
    j.integer("train_points", d.train.cols());
    j.integer("test_points", d.test.cols());
    j.number("log_z", pz.log_z);
    j.number("log_z_error", pz.error_estimate);
    j.integer("log_z_grid", pz.n);
    j.number("test_nll", nll);
    j.number("oracle_entropy", entropy_value);
    j.number("oracle_entropy_stderr", oracle ? oracle->standard_error : nan);
    j.number("gap", nll - entropy_value);
    j.number("kde_nll", kde_nll);
    j.number("kde_gap", kde_nll - entropy_value);
    j.number("kde_bandwidth", kde.bandwidth);
    j.number("mmd2", mmd2);
    j.number("mmd_bandwidth", mmd_h);
    j.number("generator_mmd2", generator_mmd2);
    j.integer("mmd_points", eval_sample_count);
    if (modes) {
      j.integer("modes_covered", modes->modes_covered);
      j.integer("modes_total", d.centres.cols());
      j.number("high_quality_fraction", modes->high_quality_fraction);
      j.integer("generator_modes_covered", generator_modes->modes_covered);
      j.number("generator_high_quality_fraction", generator_modes->high_quality_fraction);
    } else {
      for (const char* key : {"modes_covered", "modes_total", "high_quality_fraction",
                              "generator_modes_covered", "generator_high_quality_fraction"})
        j.null(key);
    }
    j.number("alignment_kl", align_kl);
    j.integer("rollbacks", progress.rollbacks);
    j.number("lr_scale", lr_scale_now());
    {
      std::vector<std::int64_t> steps;
      std::vector<double> values;
      for (const auto& [step, v] : progress.nll_trace) {
        steps.push_back(step);
        values.push_back(v);
      }
      j.integers("nll_trace_steps", steps);
      j.numbers("nll_trace", values);
      j.number("nll_max_jump_second_half", progress.max_jump_second_half());
      j.number("nll_trace_seconds", progress.nll_seconds);
    }
    j.string("units",
             "log_z and alignment_kl in model units (standardised coordinates); test_nll, "
             "oracle_entropy, gap and kde_* in nats in the data's own units");
    j.string("samples",
             "mmd2, modes_covered and high_quality_fraction are of the refined samples "
             "(samples.csv: the generator's after sample_steps Langevin steps on the energy, with "
             "a round of jumps between them after every sample_jump_every steps when that is "
             "> 0), "
             "generator_* of the generator's own (generator_samples.csv); mmd_bandwidth is the "
             "refined samples' median heuristic, used for both");
    write_text(o.out + "/metrics.json", j.text());

    const auto row = [](const std::string& name, const std::string& value) {
      std::printf("  %-28s %s\n", name.c_str(), value.c_str());
    };
    std::printf(
        "%s: %lld steps, %.1f s (training %.1f s, %.0f steps/s; sampling %.1f s; evaluation %.1f "
        "s)\n",
        d.name.c_str(), static_cast<long long>(model.step_count()), wall, train_seconds,
        train_seconds > 0 ? double(steps_run) / train_seconds : 0.0, sample_seconds, eval_seconds);
    row("log Z (model units)", num(pz.log_z, 5) + " +- " + num(pz.error_estimate, 2) + "  (" +
                                   std::to_string(pz.n) + "^2 grid)");
    row("test NLL (nats, data units)", num(nll, 5));
    if (oracle) {
      row("oracle entropy", num(oracle->value, 5) + " +- " + num(oracle->standard_error, 2));
      row("gap (NLL - entropy)", num(nll - oracle->value, 4));
    }
    row("KDE test NLL",
        num(kde_nll, 5) +
            (oracle ? "  (gap " + num(kde_nll - oracle->value, 4) + ")" : std::string()));
    const std::string sample_jumps =
        o.sample_jump_every > 0
            ? ", a jump round every " + std::to_string(o.sample_jump_every) + ","
            : std::string();
    row("samples", (o.sample_steps > 0 ? std::to_string(o.sample_steps) + " Langevin steps of " +
                                             num(o.sample_step_size, 3) + sample_jumps +
                                             " from G's; after the ';': G's own"
                                       : std::string("G's own (--sample-steps 0)")));
    row("MMD^2 (2000 vs 2000)",
        num(mmd2, 3) + "; " + num(generator_mmd2, 3) + "  (bandwidth " + num(mmd_h, 3) + ")");
    if (modes)
      row("modes covered", std::to_string(modes->modes_covered) + " / " +
                               std::to_string(d.centres.cols()) + ", high quality " +
                               num(100.0 * modes->high_quality_fraction, 3) + "%; " +
                               std::to_string(generator_modes->modes_covered) + " / " +
                               std::to_string(d.centres.cols()) + ", " +
                               num(100.0 * generator_modes->high_quality_fraction, 3) + "%");
    row("alignment KL(P_G || P_E)", num(align_kl, 4));
    if (!progress.nll_trace.empty()) {
      const double jump = progress.max_jump_second_half();
      row("held-out NLL, 2nd half",
          "largest change between evaluations " + (std::isnan(jump) ? "n/a" : num(jump, 3)) +
              " nats (" + std::to_string(progress.nll_trace.size()) +
              " evaluations, every tenth of this run; " + num(progress.nll_seconds, 2) +
              " s, not in the training time)");
    }
    if (progress.rollbacks > 0)
      row("divergence rollbacks", std::to_string(progress.rollbacks) +
                                      " (learning rates halved each time; the checkpoint "
                                      "keeps the lowered ones for --resume)");
    std::printf(
        "wrote %s/{figure.png, samples.csv, generator_samples.csv, energy_grid.csv, "
        "%smetrics.json}\n",
        o.out.c_str(), o.load.empty() ? "model.ckpt, " : "");
    if (!o.eval.empty()) std::printf("wrote %s (x, y, energy, log_density)\n", o.eval_out.c_str());
    return 0;
  };

  if (o.batchnorm_entropy > 0) {
    const BatchNormEntropy batchnorm_entropy(o.batchnorm_entropy);
    if (o.fourier_scale > 0) {
      FourierBatchNormModel model(paper::make_fourier_energy<S>(config, o.fourier_scale),
                                  paper::make_batchnorm_generator<S>(config), topt, AdaGrad{},
                                  entropy, gradient_penalty, energy_penalty, mi_entropy,
                                  batchnorm_entropy);
      return train_and_report(model);
    }
    PaperBatchNormModel model(paper::make_energy<S>(config),
                              paper::make_batchnorm_generator<S>(config), topt, AdaGrad{}, entropy,
                              gradient_penalty, energy_penalty, mi_entropy, batchnorm_entropy);
    return train_and_report(model);
  }
  if (o.fourier_scale > 0) {
    FourierModel model(paper::make_fourier_energy<S>(config, o.fourier_scale),
                       paper::make_generator<S>(config), topt, AdaGrad{}, entropy, gradient_penalty,
                       energy_penalty, mi_entropy);
    return train_and_report(model);
  }
  PaperModel model(paper::make_energy<S>(config), paper::make_generator<S>(config), topt, AdaGrad{},
                   entropy, gradient_penalty, energy_penalty, mi_entropy);
  return train_and_report(model);
}

}  // namespace

int run_example(int argc, char** argv, const std::string& default_dataset) {
  try {
    return run(argc, argv, default_dataset);
  } catch (const UsageError& e) {
    std::cerr << "error: " << e.what() << '\n';
    return 2;
  } catch (const std::bad_alloc&) {
    std::cerr << "error: out of memory: the settings (--batch, --data, --sample-steps' samples) "
                 "need more memory than this machine has\n";
    return 1;
  } catch (const std::exception& e) {
    std::cerr << "error: " << e.what() << '\n';
    return 1;
  } catch (...) {
    std::cerr << "error: unknown exception\n";
    return 1;
  }
}

}  // namespace deepenergy::examples
