// The paper's configuration, named so examples, benchmarks and users agree on
// it: energy features 2 -> 128 -> 128 (ReLU), 128 SoftplusExperts (number of
// experts = hidden width), plus a QuadraticBase; generator z (d = 4) -> 128 ->
// 128 -> 2, the same structure reversed; AdaGrad with learning rate 0.01;
// batch 64.
#pragma once

#include "deepenergy/batch_norm.hpp"
#include "deepenergy/energy_model.hpp"
#include "deepenergy/experts.hpp"
#include "deepenergy/generator.hpp"
#include "deepenergy/layers.hpp"
#include "deepenergy/optimizers.hpp"
#include "deepenergy/trainer.hpp"

namespace deepenergy::paper {

struct Config {
  Index data_dim = 2;
  Index hidden = 128;  ///< width of every hidden layer and number of experts
  Index latent_dim = 4;
  double latent_bound = 1.0;  ///< z ~ U[-c, c]
  double base_sigma = 1.0;    ///< QuadraticBase sigma (data standardised to unit scale)
  bool learn_sigma = false;
};

template <class S = float>
using EnergyFeatures = Sequential<Dense<S>, ReLU<S>, Dense<S>, ReLU<S>>;
template <class S = float>
using Energy = EnergyModel<EnergyFeatures<S>, SoftplusExperts<S>, QuadraticBase<S>>;
template <class S = float>
using GeneratorNet = Sequential<Dense<S>, ReLU<S>, Dense<S>, ReLU<S>, Dense<S>>;
template <class S = float>
using Gen = Generator<GeneratorNet<S>, UniformLatent<S>>;
template <class S = float, class Optimizer = AdaGrad>
using Trainer = DeepEnergyGAN<Energy<S>, Gen<S>, Optimizer>;

template <class S = float>
Energy<S> make_energy(const Config& c = {}) {
  return Energy<S>(EnergyFeatures<S>(Dense<S>(c.data_dim, c.hidden, Init::he()), ReLU<S>(),
                                     Dense<S>(c.hidden, c.hidden, Init::he()), ReLU<S>()),
                   SoftplusExperts<S>(c.hidden, c.hidden),
                   QuadraticBase<S>(c.data_dim, c.base_sigma, c.learn_sigma));
}

template <class S = float>
Gen<S> make_generator(const Config& c = {}) {
  return Gen<S>(GeneratorNet<S>(Dense<S>(c.latent_dim, c.hidden, Init::he()), ReLU<S>(),
                                Dense<S>(c.hidden, c.hidden, Init::he()), ReLU<S>(),
                                Dense<S>(c.hidden, c.data_dim)),
                UniformLatent<S>(c.latent_dim, c.latent_bound));
}

/// The generator of the paper's extended version: the same layers with a
/// BatchNorm after each hidden Dense (before its ReLU). The BatchNorm scales
/// carry the generator's entropy term BatchNormEntropy (regularizers.hpp).
/// Sample it in inference mode (set_training(false)) once trained, so each
/// sample does not depend on the others in its batch.
template <class S = float>
using BatchNormGeneratorNet =
    Sequential<Dense<S>, BatchNorm<S>, ReLU<S>, Dense<S>, BatchNorm<S>, ReLU<S>, Dense<S>>;
template <class S = float>
using BatchNormGen = Generator<BatchNormGeneratorNet<S>, UniformLatent<S>>;

template <class S = float>
BatchNormGen<S> make_batchnorm_generator(const Config& c = {}) {
  return BatchNormGen<S>(
      BatchNormGeneratorNet<S>(Dense<S>(c.latent_dim, c.hidden, Init::he()), BatchNorm<S>(c.hidden),
                               ReLU<S>(), Dense<S>(c.hidden, c.hidden, Init::he()),
                               BatchNorm<S>(c.hidden), ReLU<S>(), Dense<S>(c.hidden, c.data_dim)),
      UniformLatent<S>(c.latent_dim, c.latent_bound));
}

/// The paper's energy with random Fourier features as its first layer:
/// FourierFeatures 2 -> hidden (frequency scale `scale`, in inverse model
/// units), then Dense hidden -> hidden with ReLU, the same experts and base.
/// Not in the paper: the paper's ReLU features learn the two-spiral data's
/// arms too slowly (see FourierFeatures in layers.hpp); the examples use this
/// energy by default (--fourier-scale; 0 selects the paper's).
template <class S = float>
using FourierEnergyFeatures = Sequential<FourierFeatures<S>, Dense<S>, ReLU<S>>;
template <class S = float>
using FourierEnergy = EnergyModel<FourierEnergyFeatures<S>, SoftplusExperts<S>, QuadraticBase<S>>;

template <class S = float>
FourierEnergy<S> make_fourier_energy(const Config& c = {}, double scale = 2.0) {
  return FourierEnergy<S>(
      FourierEnergyFeatures<S>(FourierFeatures<S>(c.data_dim, c.hidden, scale),
                               Dense<S>(c.hidden, c.hidden, Init::he()), ReLU<S>()),
      SoftplusExperts<S>(c.hidden, c.hidden),
      QuadraticBase<S>(c.data_dim, c.base_sigma, c.learn_sigma));
}

/// The paper's trainer: AdaGrad, learning rate 0.01 for both networks.
template <class S = float>
Trainer<S> make_trainer(const Config& c = {}, TrainerOptions options = {}) {
  return Trainer<S>(make_energy<S>(c), make_generator<S>(c), options);
}

}  // namespace deepenergy::paper
