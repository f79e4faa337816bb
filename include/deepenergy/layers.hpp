// Layers: Dense, the activations and the flat Sequential composition.
// Each satisfies the Layer contract in concepts.hpp.
#pragma once

#include <algorithm>
#include <cmath>
#include <numbers>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#ifdef _OPENMP
#include <omp.h>
#endif

#include "deepenergy/concepts.hpp"
#include "deepenergy/math.hpp"
#include "deepenergy/rng.hpp"
#include "deepenergy/types.hpp"

namespace deepenergy {

/// How Dense draws its initial weights (biases start at zero).
struct Init {
  enum class Kind { glorot_uniform, he_normal, gaussian };
  Kind kind = Kind::glorot_uniform;
  double stddev = 0.0;  ///< for gaussian only

  /// U(-a, a), a = sqrt(6 / (in + out)) (Glorot and Bengio 2010).
  static Init glorot() { return {Kind::glorot_uniform, 0.0}; }
  /// N(0, 2 / in), for ReLU networks (He et al. 2015).
  static Init he() { return {Kind::he_normal, 0.0}; }
  /// N(0, s^2), as the paper's authors initialised their networks.
  static Init gaussian(double s) { return {Kind::gaussian, s}; }
};

namespace detail {

/// dst = lhs * rhs (Accumulate = false; dst already sized) or dst += lhs * rhs,
/// evaluated as Eigen products on tiles of at most kTileMN x kTileK times
/// kTileK x kTileMN.
///
/// Why: Eigen's GEMM packs its operands into workspaces that it puts on the
/// stack when they fit in EIGEN_STACK_ALLOCATION_LIMIT (128 KiB by default)
/// and allocates on the heap otherwise, once per product. With the paper's
/// width 128 that happens from batch ~300 on (a 128 x B packed panel). Tiles
/// whose packed panels fit keep a training step free of heap allocation
/// (tests/test_allocation.cpp). Eigen blocks a product for the caches in a
/// similar way itself, so the tiling costs nothing measurable; at the paper's
/// batch size 64 every product is a single tile, i.e. one plain Eigen product.
template <bool Accumulate, class Dst, class Lhs, class Rhs>
void tiled_product_serial(Dst&& dst, const Lhs& lhs, const Rhs& rhs) {
  using S = typename std::remove_reference_t<Dst>::Scalar;
  constexpr Index kTileK = 128;
  constexpr Index kTileMN =
      std::max<Index>(16, Index(EIGEN_STACK_ALLOCATION_LIMIT) / (kTileK * Index(sizeof(S))));
  const Index m = lhs.rows(), k = lhs.cols(), n = rhs.cols();
  if (k == 0) {  // an empty sum: the tile loop below would not touch dst
    if constexpr (!Accumulate) dst.setZero();
    return;
  }
  if (m <= kTileMN && n <= kTileMN && k <= kTileK) {
    if constexpr (Accumulate)
      dst.noalias() += lhs * rhs;
    else
      dst.noalias() = lhs * rhs;
    return;
  }
  for (Index j = 0; j < n; j += kTileMN) {
    const Index nj = std::min(kTileMN, n - j);
    for (Index i = 0; i < m; i += kTileMN) {
      const Index mi = std::min(kTileMN, m - i);
      auto d = dst.block(i, j, mi, nj);
      for (Index p = 0; p < k; p += kTileK) {
        const Index kp = std::min(kTileK, k - p);
        if (!Accumulate && p == 0)
          d.noalias() = lhs.block(i, p, mi, kp) * rhs.block(p, j, kp, nj);
        else
          d.noalias() += lhs.block(i, p, mi, kp) * rhs.block(p, j, kp, nj);
      }
    }
  }
}

/// With OpenMP and Eigen::nbThreads() > 1, a product of at least 4 M
/// multiply-adds (the paper's width from batch ~256 on) is split between the threads: by
/// columns of dst when it has at least 64 per thread (the batch, in forward
/// products and input gradients), otherwise along the inner dimension (an
/// out x in weight gradient summed over a small batch), each thread summing
/// its share into its own buffer. Each share runs as the serial tiled
/// product, so these products allocate nothing once the buffers have grown
/// to the largest shape. Smaller products go to Eigen unchanged, which may
/// use its own threads (and allocate) for them.
template <bool Accumulate, class Dst, class Lhs, class Rhs>
void tiled_product(Dst& dst, const Lhs& lhs, const Rhs& rhs) {
#ifdef _OPENMP
  using S = typename Dst::Scalar;
  const Index m = lhs.rows(), k = lhs.cols(), n = rhs.cols();
  const int threads = Eigen::nbThreads();
  // Below that the fork and join cost about as much as the product saves.
  if (threads > 1 && !omp_in_parallel() && double(m) * double(n) * double(k) >= 4e6) {
    if (n >= Index(threads) * 64) {
      const Index chunk = (n + threads - 1) / threads;
#pragma omp parallel for num_threads(threads) schedule(static)
      for (int t = 0; t < threads; ++t) {
        const Index j = Index(t) * chunk;
        if (j < n) {
          const Index nj = std::min(chunk, n - j);
          tiled_product_serial<Accumulate>(dst.middleCols(j, nj), lhs, rhs.middleCols(j, nj));
        }
      }
      return;
    }
    if (k >= Index(threads) * 64) {
      // One buffer per thread but the first, owned by the calling thread;
      // storage that only grows, so products of different shapes sharing
      // this instantiation do not reallocate in turn.
      thread_local std::vector<std::vector<S>> buffers;
      // The calling thread's buffers; inside the region `buffers` would name
      // each worker's own (empty) thread_local vector.
      std::vector<std::vector<S>>& partial = buffers;
      if (partial.size() < std::size_t(threads)) partial.resize(std::size_t(threads));
      for (int t = 1; t < threads; ++t)
        if (partial[std::size_t(t)].size() < std::size_t(m * n))
          partial[std::size_t(t)].resize(std::size_t(m * n));
      const Index chunk = (k + threads - 1) / threads;
#pragma omp parallel for num_threads(threads) schedule(static)
      for (int t = 0; t < threads; ++t) {
        const Index p = Index(t) * chunk;
        const Index kp = p < k ? std::min(chunk, k - p) : 0;
        if (t == 0) {
          tiled_product_serial<Accumulate>(dst.middleCols(0, n), lhs.middleCols(p, kp),
                                           rhs.middleRows(p, kp));
        } else {
          Eigen::Map<Matrix<S>> buf(partial[std::size_t(t)].data(), m, n);
          if (kp > 0)
            tiled_product_serial<false>(buf, lhs.middleCols(p, kp), rhs.middleRows(p, kp));
          else
            buf.setZero();
        }
      }
      for (int t = 1; t < threads; ++t)
        dst += Eigen::Map<const Matrix<S>>(partial[std::size_t(t)].data(), m, n);
      return;
    }
  }
#endif
  tiled_product_serial<Accumulate>(dst.middleCols(0, dst.cols()), lhs, rhs);
}

/// y = W x + b (b a column, broadcast over the samples), dst already sized.
///
/// Why not `y = W x; y.colwise() += b`: Eigen zeroes the destination before
/// every `dst = lhs * rhs` and the bias is then a second pass over it. Filling
/// y with b and accumulating the product into it is one pass fewer and gives
/// the same floats wherever Eigen adds each finished dot product to dst in
/// one rounding (b + Wx = Wx + b): its GEMM kernel does, for inner dimensions
/// up to one tile (128, the paper's width). Not bit-identical to the old
/// two passes (only rounded differently): more than 128 inputs (several
/// tiles), a one-sample batch with 128 or more inputs (Eigen's matrix-vector
/// kernel adds in blocks of 16), and products split between threads along
/// the inner dimension.
template <class Dst, class W, class X, class B>
void affine_product(Dst& y, const W& w, const X& x, const B& b) {
  y.colwise() = b.col(0);
  tiled_product<true>(y, w, x);
}

}  // namespace detail

/// Fully connected layer y = W x + b, W of shape out x in.
/// `In` and `Out` may fix the sizes at compile time.
template <class S = float, int In = Dynamic, int Out = Dynamic>
class Dense {
 public:
  using Scalar = S;
  static constexpr bool independent_samples = true;
  static constexpr int static_input_dim = In;
  static constexpr int static_output_dim = Out;

  explicit Dense(Index in = In, Index out = Out, Init init = Init::glorot())
      : W_("Dense.W", out, in), b_("Dense.b", out, 1), init_(init) {
    if (in <= 0 || out <= 0)
      throw Error("Dense: sizes must be positive, got in=" + std::to_string(in) +
                  " out=" + std::to_string(out));
    if ((In != Dynamic && in != In) || (Out != Dynamic && out != Out))
      throw Error("Dense: runtime sizes " + std::to_string(in) + "x" + std::to_string(out) +
                  " differ from the static sizes " + std::to_string(In) + "x" +
                  std::to_string(Out));
  }

  Index input_dim() const { return W_.value.cols(); }
  Index output_dim() const { return W_.value.rows(); }

  void initialize(Rng& rng) {
    const double fan_in = double(input_dim()), fan_out = double(output_dim());
    auto& W = W_.value;
    for (Index j = 0; j < W.cols(); ++j)
      for (Index i = 0; i < W.rows(); ++i) {
        double v = 0.0;
        switch (init_.kind) {
          case Init::Kind::glorot_uniform: {
            const double a = std::sqrt(6.0 / (fan_in + fan_out));
            v = rng.uniform(-a, a);
            break;
          }
          case Init::Kind::he_normal:
            v = rng.normal(0.0, std::sqrt(2.0 / fan_in));
            break;
          case Init::Kind::gaussian:
            v = rng.normal(0.0, init_.stddev);
            break;
        }
        W(i, j) = S(v);
      }
    b_.value.setZero();
  }

  const Matrix<S>& forward(const Matrix<S>& x) {
    x_ = &x;
    y_.resize(W_.value.rows(), x.cols());
    detail::affine_product(y_, W_.value, x, b_.value);
    return y_;
  }

  const Matrix<S>& backward(const Matrix<S>& g) {
    detail::tiled_product<true>(W_.grad, g, x_->transpose());
    b_.grad.col(0).noalias() += g.rowwise().sum().transpose();
    return backward_input(g);
  }

  const Matrix<S>& backward_input(const Matrix<S>& g) {
    dx_.resize(W_.value.cols(), g.cols());
    detail::tiled_product<false>(dx_, W_.value.transpose(), g);
    return dx_;
  }

  template <class F>
  void for_each_parameter(F&& f) {
    f(W_);
    f(b_);
  }

  Parameter<S>& weight() { return W_; }
  Parameter<S>& bias() { return b_; }
  const Parameter<S>& weight() const { return W_; }
  const Parameter<S>& bias() const { return b_; }

 private:
  Parameter<S> W_, b_;
  Init init_;
  const Matrix<S>* x_ = nullptr;
  Matrix<S> y_, dx_;
};

/// Random Fourier features y = sin(Omega x + phi), Omega of shape out x in
/// with entries N(0, scale^2) and phi ~ U[0, 2 pi), both drawn by
/// initialize() and then fixed (Rahimi and Recht 2007; as the first layer of
/// a network, Tancik et al. 2020). Why: a ReLU network on raw low-dimensional
/// coordinates learns fine structure slowly (spectral bias); on the two-spiral
/// data the paper's energy, trained by exact maximum likelihood, is still
/// close to a Gaussian fit after 5000 steps, and with this layer in front it
/// is within 0.1 nat of the data's entropy. `scale` sets the frequencies, in
/// inverse input units: about 1 / (the finest length to resolve).
/// Omega and phi are Parameters marked not trainable, so checkpoints keep
/// them and optimisers leave them alone.
template <class S = float, int In = Dynamic, int Out = Dynamic>
class FourierFeatures {
 public:
  using Scalar = S;
  static constexpr bool independent_samples = true;
  static constexpr int static_input_dim = In;
  static constexpr int static_output_dim = Out;

  explicit FourierFeatures(Index in = In, Index out = Out, double scale = 1.0)
      : W_("FourierFeatures.Omega", out, in), phi_("FourierFeatures.phi", out, 1), scale_(scale) {
    if (in <= 0 || out <= 0)
      throw Error("FourierFeatures: sizes must be positive, got in=" + std::to_string(in) +
                  " out=" + std::to_string(out));
    if ((In != Dynamic && in != In) || (Out != Dynamic && out != Out))
      throw Error("FourierFeatures: runtime sizes " + std::to_string(in) + "x" +
                  std::to_string(out) + " differ from the static sizes " + std::to_string(In) +
                  "x" + std::to_string(Out));
    if (!(scale > 0.0) || !std::isfinite(scale))
      throw Error("FourierFeatures: scale = " + std::to_string(scale) +
                  ", expected a positive finite number");
    W_.trainable = phi_.trainable = false;
    W_.value.setZero();
    phi_.value.setZero();
  }

  Index input_dim() const { return W_.value.cols(); }
  Index output_dim() const { return W_.value.rows(); }
  double scale() const { return scale_; }

  void initialize(Rng& rng) {
    for (Index j = 0; j < W_.value.cols(); ++j)
      for (Index i = 0; i < W_.value.rows(); ++i) W_.value(i, j) = S(scale_ * rng.normal());
    for (Index i = 0; i < phi_.value.rows(); ++i)
      phi_.value(i, 0) = S(2.0 * std::numbers::pi * rng.uniform());
  }

  const Matrix<S>& forward(const Matrix<S>& x) {
    a_.resize(W_.value.rows(), x.cols());
    detail::affine_product(a_, W_.value, x, phi_.value);
    cos_.resize(a_.rows(), a_.cols());
    cos_.array() = a_.array().cos();  // kept for backward
    a_.array() = a_.array().sin();
    return a_;
  }

  /// No trainable parameters: backward is backward_input.
  const Matrix<S>& backward(const Matrix<S>& g) { return backward_input(g); }

  const Matrix<S>& backward_input(const Matrix<S>& g) {
    t_.resize(g.rows(), g.cols());
    t_.array() = g.array() * cos_.array();
    dx_.resize(W_.value.cols(), g.cols());
    detail::tiled_product<false>(dx_, W_.value.transpose(), t_);
    return dx_;
  }

  template <class F>
  void for_each_parameter(F&& f) {
    f(W_);
    f(phi_);
  }

 private:
  Parameter<S> W_, phi_;
  double scale_;
  Matrix<S> a_, cos_, t_, dx_;
};

namespace detail {

/// Calls f(first_column, column_count) on column blocks of a rows x cols
/// element-wise job: split between the OpenMP threads when Eigen::nbThreads()
/// > 1 and the job has at least 64k elements (so that at the paper's width
/// batches from 512 on use both cores in activations too), else once.
template <class F>
void for_column_blocks(Index rows, Index cols, F&& f) {
#ifdef _OPENMP
  const int threads = Eigen::nbThreads();
  if (threads > 1 && !omp_in_parallel() && rows * cols >= 65536 && cols >= Index(threads) * 16) {
    const Index chunk = (cols + threads - 1) / threads;
#pragma omp parallel for num_threads(threads) schedule(static)
    for (int t = 0; t < threads; ++t) {
      const Index j = Index(t) * chunk;
      if (j < cols) f(j, std::min(chunk, cols - j));
    }
    return;
  }
#endif
  (void)rows;
  f(Index(0), cols);
}

/// Shared plumbing of the element-wise activations: Derived provides
/// apply(x, y) and gradient(x, y, g, dx).
template <class S, class Derived>
class Activation {
 public:
  using Scalar = S;
  static constexpr bool independent_samples = true;

  const Matrix<S>& forward(const Matrix<S>& x) {
    x_ = &x;
    y_.resize(x.rows(), x.cols());
    for_column_blocks(x.rows(), x.cols(), [&](Index j, Index n) {
      static_cast<Derived*>(this)->apply(x.middleCols(j, n).array(), y_.middleCols(j, n).array());
    });
    return y_;
  }
  const Matrix<S>& backward(const Matrix<S>& g) {
    dx_.resize(g.rows(), g.cols());
    for_column_blocks(g.rows(), g.cols(), [&](Index j, Index n) {
      static_cast<Derived*>(this)->gradient(x_->middleCols(j, n).array(),
                                            y_.middleCols(j, n).array(), g.middleCols(j, n).array(),
                                            dx_.middleCols(j, n).array());
    });
    return dx_;
  }

 private:
  const Matrix<S>* x_ = nullptr;
  Matrix<S> y_, dx_;
};

}  // namespace detail

/// max(x, 0).
template <class S = float>
class ReLU : public detail::Activation<S, ReLU<S>> {
 public:
  template <class X, class Y>
  void apply(const X& x, Y y) const {
    y = x.max(S(0));
  }
  template <class X, class Y, class G, class D>
  void gradient(const X&, const Y& y, const G& g, D dx) const {
    dx = (y > S(0)).select(g, S(0));
  }
};

/// x for x > 0, slope * x otherwise.
template <class S = float>
class LeakyReLU : public detail::Activation<S, LeakyReLU<S>> {
 public:
  explicit LeakyReLU(S slope = S(0.01)) : slope_(slope) {}
  template <class X, class Y>
  void apply(const X& x, Y y) const {
    y = (x > S(0)).select(x, slope_ * x);
  }
  template <class X, class Y, class G, class D>
  void gradient(const X& x, const Y&, const G& g, D dx) const {
    dx = (x > S(0)).select(g, slope_ * g);
  }

 private:
  S slope_;
};

/// x for x > 0, alpha (e^x - 1) otherwise.
template <class S = float>
class ELU : public detail::Activation<S, ELU<S>> {
 public:
  explicit ELU(S alpha = S(1)) : alpha_(alpha) {}
  template <class X, class Y>
  void apply(const X& x, Y y) const {
    y = (x > S(0)).select(x, alpha_ * (x.min(S(0)).exp() - S(1)));
  }
  template <class X, class Y, class G, class D>
  void gradient(const X& x, const Y& y, const G& g, D dx) const {
    dx = (x > S(0)).select(g, g * (y + alpha_));
  }

 private:
  S alpha_;
};

template <class S = float>
class Tanh : public detail::Activation<S, Tanh<S>> {
 public:
  template <class X, class Y>
  void apply(const X& x, Y y) const {
    y = x.tanh();
  }
  template <class X, class Y, class G, class D>
  void gradient(const X&, const Y& y, const G& g, D dx) const {
    dx = g * (S(1) - y.square());
  }
};

/// 1 / (1 + e^-x), stable for large |x|.
template <class S = float>
class Sigmoid : public detail::Activation<S, Sigmoid<S>> {
 public:
  template <class X, class Y>
  void apply(const X& x, Y y) const {
    y = x.unaryExpr([](S a) { return math::sigmoid(a); });
  }
  template <class X, class Y, class G, class D>
  void gradient(const X&, const Y& y, const G& g, D dx) const {
    dx = g * y * (S(1) - y);
  }
};

/// log(1 + e^x), stable for large |x|.
template <class S = float>
class Softplus : public detail::Activation<S, Softplus<S>> {
 public:
  template <class X, class Y>
  void apply(const X& x, Y y) const {
    y = x.unaryExpr([](S a) { return math::softplus(a); });
  }
  template <class X, class Y, class G, class D>
  void gradient(const X& x, const Y&, const G& g, D dx) const {
    dx = g * x.unaryExpr([](S a) { return math::sigmoid(a); });
  }
};

/// y = x; passes its input and gradient through without copying.
template <class S = float>
class Identity {
 public:
  using Scalar = S;
  static constexpr bool independent_samples = true;
  const Matrix<S>& forward(const Matrix<S>& x) { return x; }
  const Matrix<S>& backward(const Matrix<S>& g) { return g; }
};

/// Layers applied one after another: Sequential<Dense<>, ReLU<>, Dense<>>.
/// Flat and variadic, so types and error messages stay short.
template <class... Layers>
class Sequential {
  static_assert(sizeof...(Layers) > 0, "deepenergy: Sequential needs at least one layer");
  static_assert((check_layer<Layers>() && ...));

 public:
  using Scalar = typename std::tuple_element_t<0, std::tuple<Layers...>>::Scalar;
  // Every layer of a Sequential must use the same Scalar (all float or all double).
  static_assert((std::is_same_v<Scalar, typename Layers::Scalar> && ...),
                "deepenergy: mismatched scalar types: all layers of a Sequential must have the "
                "same Scalar");

 private:
  static constexpr int first_known(std::initializer_list<int> dims) {
    for (int d : dims)
      if (d != detail::shape_preserving) return d;
    return Dynamic;
  }
  static constexpr int last_known(std::initializer_list<int> dims) {
    int r = Dynamic;
    for (int d : dims)
      if (d != detail::shape_preserving) r = d;
    return r;
  }
  static constexpr bool static_sizes_chain() {
    int cur = detail::shape_preserving;
    bool ok = true;
    auto step = [&](int in, int out) {
      if (in != detail::shape_preserving && in != Dynamic && cur != Dynamic &&
          cur != detail::shape_preserving && in != cur)
        ok = false;
      if (out != detail::shape_preserving) cur = out;
    };
    (step(detail::static_input_dim_of<Layers>(), detail::static_output_dim_of<Layers>()), ...);
    return ok;
  }

 public:
  static constexpr int static_input_dim = first_known({detail::static_input_dim_of<Layers>()...});
  static constexpr int static_output_dim = last_known({detail::static_output_dim_of<Layers>()...});
  // Adjacent layers whose sizes are fixed at compile time must agree: the
  // output size of each layer is the input size of the next one.
  static_assert(static_sizes_chain(),
                "deepenergy: size mismatch between adjacent layers of a Sequential");
  static constexpr bool independent_samples = (detail::IndependentSamples<Layers> && ...);

  explicit Sequential(Layers... layers) : layers_(std::move(layers)...) { check_sizes(); }

  Index input_dim() const { return input_dim_; }
  Index output_dim() const { return output_dim_; }

  const Matrix<Scalar>& forward(const Matrix<Scalar>& x) {
    const Matrix<Scalar>* cur = &x;
    std::apply([&](auto&... l) { ((cur = &l.forward(*cur)), ...); }, layers_);
    return *cur;
  }

  const Matrix<Scalar>& backward(const Matrix<Scalar>& g) {
    return backward_impl<false>(g, std::make_index_sequence<sizeof...(Layers)>{});
  }
  const Matrix<Scalar>& backward_input(const Matrix<Scalar>& g) {
    return backward_impl<true>(g, std::make_index_sequence<sizeof...(Layers)>{});
  }

  template <class F>
  void for_each_parameter(F&& f) {
    std::apply([&](auto&... l) { (detail::visit_parameters(l, f), ...); }, layers_);
  }
  void initialize(Rng& rng) {
    std::apply([&](auto&... l) { (detail::initialize_if_possible(l, rng), ...); }, layers_);
  }
  void set_training(bool on) {
    std::apply(
        [&](auto&... l) {
          auto set = [on](auto& layer) {
            if constexpr (detail::HasSetTraining<std::remove_reference_t<decltype(layer)>>)
              layer.set_training(on);
          };
          (set(l), ...);
        },
        layers_);
  }

  template <std::size_t I>
  auto& layer() {
    return std::get<I>(layers_);
  }
  template <std::size_t I>
  const auto& layer() const {
    return std::get<I>(layers_);
  }
  static constexpr std::size_t size() { return sizeof...(Layers); }

 private:
  template <bool InputOnly, std::size_t... I>
  const Matrix<Scalar>& backward_impl(const Matrix<Scalar>& g, std::index_sequence<I...>) {
    const Matrix<Scalar>* cur = &g;
    constexpr std::size_t N = sizeof...(Layers);
    // Reverse order: layer N-1 first.
    ((cur = &backward_one<InputOnly>(std::get<N - 1 - I>(layers_), *cur)), ...);
    return *cur;
  }
  template <bool InputOnly, class L>
  static const Matrix<Scalar>& backward_one(L& l, const Matrix<Scalar>& g) {
    if constexpr (InputOnly && detail::HasParameters<L>)
      return l.backward_input(g);
    else
      return l.backward(g);
  }

  void check_sizes() {
    Index cur = -1;
    std::size_t i = 0;
    auto one = [&](auto& l) {
      using L = std::remove_reference_t<decltype(l)>;
      if constexpr (detail::HasInputDim<L>) {
        if (cur >= 0 && l.input_dim() != cur)
          throw Error("Sequential: layer " + std::to_string(i) + " expects input size " +
                      std::to_string(l.input_dim()) + " but layer " + std::to_string(i - 1) +
                      " produces size " + std::to_string(cur));
        if (input_dim_ < 0) input_dim_ = l.input_dim();
      }
      if constexpr (detail::HasOutputDim<L>) cur = l.output_dim();
      ++i;
    };
    std::apply([&](auto&... l) { (one(l), ...); }, layers_);
    output_dim_ = cur;
  }

  std::tuple<Layers...> layers_;
  Index input_dim_ = -1, output_dim_ = -1;
};

}  // namespace deepenergy
