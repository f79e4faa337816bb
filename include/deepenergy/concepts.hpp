// The extension points of deepenergy, each with its contract.
//
// Four contracts are all a user needs to know: Layer, Expert, UpdatePolicy
// (below) and the optional hooks of loss terms and callbacks (trainer.hpp).
// Each one lists what a type MUST provide, what it MAY provide, and what the
// library guarantees in return. Optional hooks are detected with `requires`,
// so a parameter-free type writes no boilerplate. A type that falls short of
// a MUST is reported at compile time by check_layer / check_expert /
// check_update_policy (end of this file) with one sentence naming the missing
// member; the comment above each of their static_asserts says what to add.
//
// Run deepenergy::testing::check_gradients (gradient_check.hpp) on every new
// layer or expert: it compares backward and backward_input with finite
// differences. It needs a double instance, so write the type as a template on
// its scalar (float to train, double to check).
#pragma once

#include <concepts>
#include <type_traits>

#include "deepenergy/rng.hpp"
#include "deepenergy/types.hpp"

namespace deepenergy {

// ---------------------------------------------------------------------------
// Layer
//
// A Layer maps a batch (features x batch, one sample per column) to a batch.
// Layers are stored by value (in Sequential, EnergyModel, Generator), so a
// layer must be move-constructible; it is never used by two owners at once
// (the trainer's threads each run their own copy: see independent_samples).
//
// MUST provide
//   using Scalar = S;                        // float or double
//   const Matrix<S>& forward(const Matrix<S>& x);
//       Returns the output; keeps what backward needs. The returned
//       reference must stay valid and unchanged until this layer's next
//       forward (the next layer may keep a pointer to it). The layer may
//       keep a pointer to `x`: the caller keeps `x` alive and unchanged until
//       the next forward of this layer (Sequential and the trainer do).
//   const Matrix<S>& backward(const Matrix<S>& grad_out);
//       Given dL/dy for the last forward (same shape as its output), returns
//       dL/dx (same shape as its input) and ADDS dL/dtheta to each
//       parameter's `grad`: gradients accumulate, never overwrite.
//
// MAY provide
//   template <class F> void for_each_parameter(F&& f);
//       Calls f(Parameter<S>&) for every trainable tensor, always in the same
//       order (checkpoints and optimisers rely on it). A type with this member
//       "has parameters".
//   const Matrix<S>& backward_input(const Matrix<S>& grad_out);
//       Returns dL/dx WITHOUT touching parameter gradients. REQUIRED when the
//       layer has parameters: the generator step needs the energy's input
//       gradient and must not pay for its weight gradients. A parameter-free
//       layer's backward already is that.
//   void initialize(Rng& rng);                // draw initial parameters
//   Index input_dim() const; Index output_dim() const;
//       Sizes, checked when layers are composed (Error at construction on a
//       mismatch). A layer without them preserves the shape (activations).
//   static constexpr int static_input_dim, static_output_dim;
//       Sizes known at compile time (or Dynamic); mismatches then fail to
//       compile instead of throwing.
//   void set_training(bool);                  // train/inference mode (BatchNorm)
//   static constexpr bool independent_samples = true;
//       Declares that each output column depends only on the same input
//       column (no batch statistics, unlike BatchNorm in training mode).
//       When every part of a network (the energy model, or the generator)
//       declares it, DeepEnergyGAN runs large batches through that network
//       in cache-sized column blocks and sums their gradients (unless a loss
//       term's hooks need the whole batch; TrainerOptions::block_columns).
//       With several threads it runs the blocks on copies of the network,
//       one per thread, refreshing only their Parameters' values from the
//       original: so a layer declaring it must copy deeply (no state shared
//       between copies), and forward/backward must change only the
//       Parameters' grads and the layer's own workspaces (no running
//       statistics, no mode switched during training).
//       Leave it out when unsure: the layer then always sees whole batches.
//
// The library guarantees
//   - forward is called before backward/backward_input on the same batch;
//     backward and backward_input may each be called more than once after
//     one forward (a gradient penalty does), so they must not consume what
//     forward kept;
//   - before each optimiser update the trainer zeroes every `grad`; layers
//     only ever add to it;
//   - DeepEnergyGAN's constructor calls initialize once, from its seeded Rng
//     (values set in the layer's own constructor are then replaced);
//   - buffers are reused, so a layer that resizes its workspace only when the
//     batch size changes allocates nothing in steady state.
// ---------------------------------------------------------------------------
template <class L>
concept Layer = requires(L& l, const Matrix<typename L::Scalar>& m) {
  typename L::Scalar;
  { l.forward(m) } -> std::convertible_to<const Matrix<typename L::Scalar>&>;
  { l.backward(m) } -> std::convertible_to<const Matrix<typename L::Scalar>&>;
};

// ---------------------------------------------------------------------------
// Expert
//
// One term of the energy, E(x) = sum over experts of E_k(input) (paper eq. 2):
// an expert reads either the deep features f(x) (the default) or the raw input
// x (base terms such as QuadraticBase, which make exp(-E) normalisable).
// Experts are stored by value in EnergyModel (move-constructible).
//
// MUST provide
//   using Scalar = S;                         // the feature network's Scalar
//   void forward(const Matrix<S>& input, RowVector<S>& energy);
//       ADDS this expert's energy of every column of `input` to `energy`
//       (one entry per sample); keeps what backward needs. May keep a pointer
//       to `input` until the next forward, as for layers.
//   void backward(const RowVector<S>& weight, Matrix<S>& grad_input);
//       For the last forward: ADDS weight(j) * dE_k(input_j)/d input_j to
//       column j of grad_input, and ADDS sum_j weight(j) * dE_k(input_j)/dtheta
//       to each parameter's grad. `weight` is the per-sample weight of the
//       loss (+1/B for the positive phase, -1/B for the negative phase, plus
//       whatever loss terms add).
//
// MAY provide
//   for_each_parameter, initialize          (as for Layer)
//   Index input_dim() const;
//       Checked at construction against the feature network's output size
//       (or the model's input size when the expert reads the raw input).
//   void backward_input(const RowVector<S>& weight, Matrix<S>& grad_input);
//       backward without parameter gradients; REQUIRED when it has parameters.
//   static constexpr bool reads_raw_input = true;
//       The expert sees the raw input x instead of the features f(x).
//   static constexpr bool independent_samples = true;
//       Each sample's energy depends only on that sample (as for Layer).
//
// The library guarantees
//   - `energy` already has one entry per column of `input` and holds the sum
//     of the experts before this one: add, do not assign or resize;
//   - `grad_input` already has the shape of `input` and holds the other
//     experts' contributions: add, do not assign or resize;
//   - as for layers: forward comes first, backward/backward_input may be
//     called more than once per forward, and grads are zeroed before each
//     update.
// ---------------------------------------------------------------------------
template <class E>
concept Expert = requires(E& e, const Matrix<typename E::Scalar>& m,
                          RowVector<typename E::Scalar>& r, const RowVector<typename E::Scalar>& w,
                          Matrix<typename E::Scalar>& g) {
  typename E::Scalar;
  e.forward(m, r);
  e.backward(w, g);
};

// ---------------------------------------------------------------------------
// UpdatePolicy (optimisers)
//
// An optimiser is a small, stateless policy: all per-parameter state lives in
// the Parameter it updates. The trainer keeps one copy per network, made from
// the optimiser passed to its constructor (so it must be copyable, and
// default-constructible to be left out).
//
// MUST provide
//   double learning_rate;
//       A public member. The trainer OVERWRITES it with
//       TrainerOptions::energy_learning_rate / generator_learning_rate.
//   template <class S> void update(Parameter<S>& p) const;
//       Applies one step to p.value from p.grad, keeping any state it needs in
//       p.slot[0..1] (resize them on first use) and incrementing p.updates.
//       The state lives next to its parameter, so copying a network copies it.
//       It must work for S = float and S = double.
//
// The library guarantees: update is called once per trainable parameter
// (Parameter::trainable) per optimiser step, after all gradients of that step
// have been accumulated, checked to be finite and, with
// TrainerOptions::clip_norm, clipped; p.grad has p.value's shape.
// ---------------------------------------------------------------------------
template <class O>
concept UpdatePolicy = requires(O& o, const O& co, Parameter<float>& pf, Parameter<double>& pd) {
  { o.learning_rate } -> std::convertible_to<double>;
  co.update(pf);
  co.update(pd);
};

namespace detail {

template <class T>
concept HasParameters = requires(T& t) {
  t.for_each_parameter([](auto&) {});
};
template <class T>
concept HasBackwardInput = requires(T& t, const Matrix<typename T::Scalar>& m) {
  {t.backward_input(m)};
};
template <class T>
concept HasExpertBackwardInput = requires(T& t, const RowVector<typename T::Scalar>& w,
                                          Matrix<typename T::Scalar>& g) {
  {t.backward_input(w, g)};
};
template <class T>
concept HasInitialize = requires(T& t, Rng& r) {
  t.initialize(r);
};
template <class T>
concept HasInputDim = requires(const T& t) {
  { t.input_dim() } -> std::convertible_to<Index>;
};
template <class T>
concept HasOutputDim = requires(const T& t) {
  { t.output_dim() } -> std::convertible_to<Index>;
};
template <class T>
concept HasSetTraining = requires(T& t) {
  t.set_training(true);
};
template <class T>
concept ReadsRawInput = requires {
  requires T::reads_raw_input;
};
/// T declares independent_samples (see Layer): its columns may be processed
/// in separate blocks.
template <class T>
concept IndependentSamples = requires {
  requires T::independent_samples;
};

/// Compile-time input size of a layer, Dynamic if unknown, or -2 if the layer
/// preserves its input's shape (activations).
inline constexpr int shape_preserving = -2;
template <class T>
constexpr int static_input_dim_of() {
  if constexpr (requires { T::static_input_dim; })
    return T::static_input_dim;
  else if constexpr (HasInputDim<T>)
    return Dynamic;
  else
    return shape_preserving;
}
template <class T>
constexpr int static_output_dim_of() {
  if constexpr (requires { T::static_output_dim; })
    return T::static_output_dim;
  else if constexpr (HasOutputDim<T>)
    return Dynamic;
  else
    return shape_preserving;
}

template <class T, class F>
void visit_parameters(T& t, F&& f) {
  if constexpr (HasParameters<T>) t.for_each_parameter(f);
}
template <class T>
void initialize_if_possible(T& t, Rng& rng) {
  if constexpr (HasInitialize<T>) t.initialize(rng);
}

}  // namespace detail

// The checks below fire with one sentence when a user type falls short. They
// are written as helper templates so that the failing name reads as the
// message, and the line above each static_assert says how to fix it.

/// Checks that L satisfies the Layer contract (see above).
template <class L>
constexpr bool check_layer() {
  // Your layer needs `using Scalar = float;` (or double) and
  //   const Matrix<Scalar>& forward(const Matrix<Scalar>&);
  static_assert(
      requires(L & l, const Matrix<typename L::Scalar>& m) {
        { l.forward(m) } -> std::convertible_to<const Matrix<typename L::Scalar>&>;
      },
      "deepenergy: this Layer type has no forward(const Matrix<Scalar>&) returning a Matrix");
  // Add: const Matrix<Scalar>& backward(const Matrix<Scalar>& grad_out);
  static_assert(
      requires(L & l, const Matrix<typename L::Scalar>& m) {
        { l.backward(m) } -> std::convertible_to<const Matrix<typename L::Scalar>&>;
      },
      "deepenergy: this Layer type has no backward(const Matrix<Scalar>& grad_out)");
  // A layer with parameters must also be able to backpropagate to its input
  // without computing parameter gradients. Add:
  //   const Matrix<Scalar>& backward_input(const Matrix<Scalar>& grad_out);
  static_assert(!detail::HasParameters<L> || detail::HasBackwardInput<L>,
                "deepenergy: a Layer with parameters must provide backward_input(grad_out)");
  return true;
}

/// Checks that E satisfies the Expert contract (see above).
template <class E>
constexpr bool check_expert() {
  // Your expert needs `using Scalar = float;` (or double) and
  //   void forward(const Matrix<Scalar>& input, RowVector<Scalar>& energy);
  static_assert(
      requires(E & e, const Matrix<typename E::Scalar>& m, RowVector<typename E::Scalar>& r) {
        e.forward(m, r);
      },
      "deepenergy: this Expert type has no energy: add "
      "void forward(const Matrix<Scalar>& input, RowVector<Scalar>& energy)");
  // Add: void backward(const RowVector<Scalar>& weight, Matrix<Scalar>& grad_input);
  static_assert(
      requires(E & e, const RowVector<typename E::Scalar>& w, Matrix<typename E::Scalar>& g) {
        e.backward(w, g);
      },
      "deepenergy: this Expert type has no backward(weight, grad_input)");
  // An expert with parameters must also provide
  //   void backward_input(const RowVector<Scalar>& weight, Matrix<Scalar>& grad_input);
  static_assert(!detail::HasParameters<E> || detail::HasExpertBackwardInput<E>,
                "deepenergy: an Expert with parameters must provide backward_input(weight, "
                "grad_input)");
  return true;
}

/// Checks that O satisfies the UpdatePolicy contract (see above).
template <class O>
constexpr bool check_update_policy() {
  // The trainer sets the learning rate of your optimiser: add a public member
  //   double learning_rate = 0.01;
  static_assert(
      requires(O & o) {
        { o.learning_rate } -> std::convertible_to<double>;
      },
      "deepenergy: this optimiser has no `double learning_rate` member");
  // Add a const member template that works for float and double:
  //   template <class S> void update(Parameter<S>& p) const;
  static_assert(
      requires(const O& o, Parameter<float>& pf, Parameter<double>& pd) {
        o.update(pf);
        o.update(pd);
      },
      "deepenergy: this optimiser has no update: add "
      "template <class S> void update(Parameter<S>& p) const");
  return true;
}

}  // namespace deepenergy
