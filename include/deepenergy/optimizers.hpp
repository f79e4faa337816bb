// Optimisers as update policies (the UpdatePolicy contract in concepts.hpp).
// Their per-parameter state lives in Parameter::slot, next to the value.
#pragma once

#include <cmath>

#include "deepenergy/types.hpp"

namespace deepenergy {

/// AdaGrad (Duchi et al. 2011), the paper's optimiser with learning rate 0.01:
///   G += g^2;  theta -= lr * g / (sqrt(G) + eps)
struct AdaGrad {
  double learning_rate = 0.01;
  double epsilon = 1e-8;

  template <class S>
  void update(Parameter<S>& p) const {
    auto& G = p.slot[0];
    if (G.rows() != p.value.rows() || G.cols() != p.value.cols())
      G.setZero(p.value.rows(), p.value.cols());
    G.array() += p.grad.array().square();
    p.value.array() -= S(learning_rate) * p.grad.array() / (G.array().sqrt() + S(epsilon));
    ++p.updates;
  }
};

/// Stochastic gradient descent with (heavy-ball) momentum:
///   v = momentum * v + g;  theta -= lr * v
struct SGD {
  double learning_rate = 0.01;
  double momentum = 0.0;

  template <class S>
  void update(Parameter<S>& p) const {
    if (momentum == 0.0) {
      p.value.noalias() -= S(learning_rate) * p.grad;
    } else {
      auto& v = p.slot[0];
      if (v.rows() != p.value.rows() || v.cols() != p.value.cols())
        v.setZero(p.value.rows(), p.value.cols());
      v = S(momentum) * v + p.grad;
      p.value.noalias() -= S(learning_rate) * v;
    }
    ++p.updates;
  }
};

/// Adam (Kingma and Ba 2015) with bias correction:
///   m = b1 m + (1-b1) g;  v = b2 v + (1-b2) g^2
///   theta -= lr * (m / (1-b1^t)) / (sqrt(v / (1-b2^t)) + eps)
struct Adam {
  double learning_rate = 1e-3;
  double beta1 = 0.9;
  double beta2 = 0.999;
  double epsilon = 1e-8;

  template <class S>
  void update(Parameter<S>& p) const {
    auto& m = p.slot[0];
    auto& v = p.slot[1];
    if (m.rows() != p.value.rows() || m.cols() != p.value.cols()) {
      m.setZero(p.value.rows(), p.value.cols());
      v.setZero(p.value.rows(), p.value.cols());
    }
    ++p.updates;
    const double t = double(p.updates);
    m = S(beta1) * m + S(1 - beta1) * p.grad;
    v.array() = S(beta2) * v.array() + S(1 - beta2) * p.grad.array().square();
    const S c1 = S(1.0 / (1.0 - std::pow(beta1, t)));
    const S c2 = S(1.0 / (1.0 - std::pow(beta2, t)));
    p.value.array() -= S(learning_rate) * (m.array() * c1) / ((v.array() * c2).sqrt() + S(epsilon));
  }
};

}  // namespace deepenergy
