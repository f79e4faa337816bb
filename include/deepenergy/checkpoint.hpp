// Checkpoints: a trainer's complete state in one versioned binary file, so a
// saved model can be used later and an interrupted run can resume exactly.
//
// Not part of the umbrella header (it does file I/O); include it explicitly:
//   #include <deepenergy/checkpoint.hpp>
//
//   deepenergy::save_checkpoint("model.ckpt", trainer, {{"mean", {0.1, 2.0}}});
//   auto info = deepenergy::load_checkpoint("model.ckpt", trainer);  // throws Error
//
// File layout (format version 4; versions 1 to 3 are still read: 1 has no
// chains, 1 and 2 no energy average, 1 to 3 no loss terms' parameters). All
// integers are little-endian; float and double values are stored as their
// IEEE-754 bit patterns, little-endian, so a file means the same thing on
// every platform.
//
//   magic          8 bytes  "DEEPENRG"
//   version        u32      checkpoint_format_version
//   scalar         u32      sizeof(Scalar): 4 = float, 8 = double
//   file size      u64      total bytes in the file, checksum included
//   description    string   free text (architecture summary)
//   2 networks, energy then generator, each:
//     network      string   "energy" / "generator"
//     count        u64      number of parameters
//     per parameter, in for_each_parameter order:
//       name       string
//       value      matrix   rows u64, cols u64, rows*cols scalars (column-major)
//       slot[0]    matrix   optimiser state, any shape (0x0 when unused)
//       slot[1]    matrix
//       updates    i64
//   rng            4 x u64 words, u8 has_spare, f64 spare  (Rng::state())
//   step           i64      the trainer's step counter
//   chains         matrix   the persistent negative chains (format 2 on;
//                           0x0 when there are none; see
//                           TrainerOptions::langevin_restart)
//   average        u64      count (format 3 on; 0 = none, else the energy's
//                           parameter count), then count matrices: the
//                           average of the energy's parameter values
//                           (TrainerOptions::energy_average)
//   loss terms     (format 4 on) the parameters of the loss terms that have
//                  some (DeepEnergyGAN::for_each_term_parameter), as a
//                  network's: count u64, then per parameter as above
//   extras         u64 count, then per entry: string key, u64 n, n x f64
//   checksum       u64      FNV-1a 64 over every byte before it
//
// A string is a u64 length and that many bytes.
//
// Loading reads the whole file and checks, in order: the magic, the version,
// the scalar type, the recorded size against the real size (a short file is
// reported with the byte offset and the field where it ends), the checksum,
// that the Rng state is one a generator can be in and the step counter is
// not negative, then every network's parameter count, names and shapes
// against the trainer and that their values are finite (their optimiser
// slots free of NaN, update counts not negative), the loss terms'
// parameters the same way (a 0x0 one, a term's not built yet, on either
// side matches any shape), that the persistent chains are finite points of
// the energy's input size, and finally that the energy average is finite and
// matches the energy's parameters in count and shapes.
// Nothing in the trainer changes unless every check passes. Every failure
// throws deepenergy::Error whose message starts with the path.
#pragma once

#include <algorithm>
#include <array>
#include <bit>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <string>
#include <system_error>
#include <type_traits>
#include <utility>
#include <vector>

#include "deepenergy/atomic_file.hpp"
#include "deepenergy/energy_average.hpp"
#include "deepenergy/rng.hpp"
#include "deepenergy/types.hpp"

namespace deepenergy {

inline constexpr char checkpoint_magic[8] = {'D', 'E', 'E', 'P', 'E', 'N', 'R', 'G'};
inline constexpr std::uint32_t checkpoint_format_version = 4;
/// The oldest format load_checkpoint still reads (1: no persistent chains;
/// 1 and 2: no energy average; 1 to 3: no loss terms' parameters).
inline constexpr std::uint32_t checkpoint_oldest_format_version = 1;

/// Small named numeric values stored with a checkpoint (e.g. a Standardizer's
/// mean and stddev, a data set's id, a configuration value).
using CheckpointExtras = std::map<std::string, std::vector<double>>;

/// What a checkpoint holds besides the networks.
struct CheckpointInfo {
  std::uint32_t version = 0;
  std::string scalar;       ///< "float" or "double"
  std::string description;  ///< as given to save_checkpoint (or derived)
  std::int64_t step = 0;    ///< the trainer's step count when saved
  CheckpointExtras extras;
};

namespace checkpoint_detail {

inline std::string scalar_name(std::uint32_t size) {
  if (size == 4) return "float";
  if (size == 8) return "double";
  return "unknown (" + std::to_string(size) + "-byte)";
}

template <class S>
constexpr std::uint32_t scalar_tag() {
  static_assert(std::is_same_v<S, float> || std::is_same_v<S, double>,
                "deepenergy checkpoints store float or double parameters");
  return sizeof(S);
}

/// FNV-1a, 64 bit.
inline std::uint64_t fnv1a64(const char* data, std::size_t n) {
  std::uint64_t h = 0xcbf29ce484222325ULL;
  for (std::size_t i = 0; i < n; ++i) {
    h ^= static_cast<unsigned char>(data[i]);
    h *= 0x100000001b3ULL;
  }
  return h;
}

class Writer {
 public:
  void bytes(const void* p, std::size_t n) { out_.append(static_cast<const char*>(p), n); }
  void u8(std::uint8_t v) { out_.push_back(static_cast<char>(v)); }
  void u32(std::uint32_t v) {
    for (int i = 0; i < 4; ++i) u8(static_cast<std::uint8_t>(v >> (8 * i)));
  }
  void u64(std::uint64_t v) {
    for (int i = 0; i < 8; ++i) u8(static_cast<std::uint8_t>(v >> (8 * i)));
  }
  void i64(std::int64_t v) { u64(static_cast<std::uint64_t>(v)); }
  void f64(double v) { u64(std::bit_cast<std::uint64_t>(v)); }
  void scalar(float v) { u32(std::bit_cast<std::uint32_t>(v)); }
  void scalar(double v) { f64(v); }
  void str(const std::string& s) {
    u64(s.size());
    bytes(s.data(), s.size());
  }
  template <class S>
  void matrix(const Matrix<S>& m) {
    u64(static_cast<std::uint64_t>(m.rows()));
    u64(static_cast<std::uint64_t>(m.cols()));
    for (Index k = 0; k < m.size(); ++k) scalar(m.data()[k]);
  }
  std::string& buffer() { return out_; }
  /// Ends the file: the size field (bytes 16 to 23, written as 0) gets the
  /// total size, and the FNV-1a checksum of every byte before it is appended.
  std::string& finish() {
    const std::uint64_t total = out_.size() + 8;
    for (int i = 0; i < 8; ++i) out_[16 + std::size_t(i)] = static_cast<char>(total >> (8 * i));
    u64(fnv1a64(out_.data(), out_.size()));
    return out_;
  }

 private:
  std::string out_;
};

/// Reads the buffer front to back; running past its end throws
/// "<path>: truncated at byte N while reading <what>".
class Reader {
 public:
  Reader(const std::string& path, const std::string& buf, std::size_t end)
      : path_(path), buf_(buf), end_(end) {}

  void need(std::size_t n, const std::string& what) const {
    if (n > end_ - pos_)
      throw Error(path_ + ": truncated at byte " + std::to_string(end_) + " while reading " + what +
                  " (at byte " + std::to_string(pos_) + "); the file is incomplete");
  }
  std::uint8_t u8(const std::string& what) {
    need(1, what);
    return static_cast<std::uint8_t>(buf_[pos_++]);
  }
  std::uint32_t u32(const std::string& what) {
    need(4, what);
    std::uint32_t v = 0;
    for (int i = 0; i < 4; ++i)
      v |= std::uint32_t(static_cast<unsigned char>(buf_[pos_++])) << (8 * i);
    return v;
  }
  std::uint64_t u64(const std::string& what) {
    need(8, what);
    std::uint64_t v = 0;
    for (int i = 0; i < 8; ++i)
      v |= std::uint64_t(static_cast<unsigned char>(buf_[pos_++])) << (8 * i);
    return v;
  }
  std::int64_t i64(const std::string& what) { return static_cast<std::int64_t>(u64(what)); }
  double f64(const std::string& what) { return std::bit_cast<double>(u64(what)); }
  template <class S>
  S scalar(const std::string& what) {
    if constexpr (std::is_same_v<S, float>)
      return std::bit_cast<float>(u32(what));
    else
      return f64(what);
  }
  std::string str(const std::string& what) {
    const std::uint64_t n = u64(what + " (length)");
    need(n, what);
    std::string s = buf_.substr(pos_, n);
    pos_ += n;
    return s;
  }
  template <class S>
  Matrix<S> matrix(const std::string& what) {
    const std::uint64_t rows = u64(what + " (rows)");
    const std::uint64_t cols = u64(what + " (cols)");
    // Refuse absurd dimensions (a 0 x 2^63 matrix takes no bytes but is no
    // valid shape; found by fuzzing), then shapes the remaining bytes cannot
    // hold, before allocating.
    constexpr std::uint64_t max_dim = std::uint64_t(1) << 31;
    if (rows > max_dim || cols > max_dim)
      throw Error(path_ + ": " + what + " has the impossible shape " + std::to_string(rows) + "x" +
                  std::to_string(cols) + " (at byte " + std::to_string(pos_) +
                  "); the file is damaged");
    const std::uint64_t left = (end_ - pos_) / sizeof(S);
    if ((rows != 0 && cols > left / rows) || rows * cols > left)
      throw Error(path_ + ": truncated at byte " + std::to_string(end_) + " while reading " + what +
                  " (a " + std::to_string(rows) + "x" + std::to_string(cols) +
                  " matrix from byte " + std::to_string(pos_) + "); the file is incomplete");
    Matrix<S> m(static_cast<Index>(rows), static_cast<Index>(cols));
    for (Index k = 0; k < m.size(); ++k) m.data()[k] = scalar<S>(what);
    return m;
  }
  std::size_t pos() const { return pos_; }

 private:
  const std::string& path_;
  const std::string& buf_;
  std::size_t end_;
  std::size_t pos_ = 0;
};

template <class S>
struct StoredParameter {
  std::string name;
  Matrix<S> value;
  std::array<Matrix<S>, 2> slot;
  std::int64_t updates = 0;
};

template <class S>
struct Contents {
  CheckpointInfo info;
  std::array<std::vector<StoredParameter<S>>, 2> nets;
  Rng::State rng;
  Matrix<S> chains;                       ///< 0x0 in format 1
  std::vector<Matrix<S>> average;         ///< empty before format 3
  std::vector<StoredParameter<S>> terms;  ///< the loss terms'; empty before format 4
};

inline constexpr std::array<const char*, 2> network_names{"energy", "generator"};

/// "Dense.W 128x2, Dense.b 128x1, ..." for one network.
template <class Net>
std::string describe_network(Net& net) {
  std::string s;
  net.for_each_parameter([&](auto& p) {
    if (!s.empty()) s += ", ";
    s += p.name + " " + std::to_string(p.value.rows()) + "x" + std::to_string(p.value.cols());
  });
  return s;
}

inline std::string read_file(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec))
    throw Error(path + ": cannot open checkpoint: no such file");
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(path + ": cannot open checkpoint for reading");
  std::string buf((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) throw Error(path + ": reading the checkpoint failed");
  return buf;
}

/// Reads a parameter list (count, then each parameter) of `owner` ("energy
/// network", "loss terms").
template <class S>
void read_parameters(Reader& r, const std::string& owner, std::vector<StoredParameter<S>>& out) {
  const std::uint64_t count = r.u64("the parameter count of the " + owner);
  out.clear();
  for (std::uint64_t k = 0; k < count; ++k) {
    StoredParameter<S> p;
    const std::string which = "parameter " + std::to_string(k) + " of the " + owner;
    p.name = r.str("the name of " + which);
    const std::string named =
        "parameter " + std::to_string(k) + " (" + p.name + ") of the " + owner;
    p.value = r.template matrix<S>("the value of " + named);
    p.slot[0] = r.template matrix<S>("optimiser slot 0 of " + named);
    p.slot[1] = r.template matrix<S>("optimiser slot 1 of " + named);
    p.updates = r.i64("the update count of " + named);
    out.push_back(std::move(p));
  }
}

/// Parses everything after the header up to `end`; returns where it stopped.
template <class S>
std::size_t parse_body(const std::string& path, const std::string& buf, std::size_t end,
                       Contents<S>& c) {
  Reader r(path, buf, end);
  for (std::size_t i = 0; i < sizeof checkpoint_magic + 4 + 4 + 8; ++i) r.u8("the header");
  c.info.description = r.str("the model description");
  for (std::size_t n = 0; n < 2; ++n) {
    const std::string net = network_names[n];
    const std::string got = r.str("the name of network " + std::to_string(n));
    if (got != net)
      throw Error(path + ": network " + std::to_string(n) + " is called \"" + got +
                  "\" in the file; expected \"" + net + "\"; the file is damaged");
    read_parameters(r, net + " network", c.nets[n]);
  }
  for (auto& w : c.rng.words) w = r.u64("the random number generator state");
  c.rng.has_spare = r.u8("the random number generator state") != 0;
  c.rng.spare = r.f64("the random number generator state");
  c.info.step = r.i64("the step counter");
  // xoshiro256** never reaches the all-zero state and stays there if put in
  // it (every draw 0: a normal variate's rejection loop would never end).
  if (c.rng.words == decltype(c.rng.words){})
    throw Error(path +
                ": the random number generator state is all zeros, which no generator "
                "reaches; the file is damaged");
  if (c.rng.has_spare && !std::isfinite(c.rng.spare))
    throw Error(path +
                ": the random number generator's spare normal variate is not finite; "
                "the file is damaged");
  if (c.info.step < 0)
    throw Error(path + ": the step counter is " + std::to_string(c.info.step) +
                "; the file is damaged");
  if (c.info.version >= 2) c.chains = r.template matrix<S>("the persistent chains");
  if (c.info.version >= 3) {
    const std::uint64_t count = r.u64("the size of the energy average");
    // Each matrix takes at least its two u64 sizes: a count the rest of the
    // file cannot hold is reported where the file would end.
    r.need(count > (end - r.pos()) / 16 ? end - r.pos() + 1 : count * 16, "the energy average");
    c.average.clear();
    for (std::uint64_t k = 0; k < count; ++k)
      c.average.push_back(
          r.template matrix<S>("matrix " + std::to_string(k) + " of the energy average"));
  }
  if (c.info.version >= 4) read_parameters(r, "loss terms", c.terms);
  const std::uint64_t extras = r.u64("the number of extras");
  for (std::uint64_t k = 0; k < extras; ++k) {
    const std::string key = r.str("the key of extra " + std::to_string(k));
    const std::uint64_t n = r.u64("the size of extra \"" + key + "\"");
    r.need(n > (end - r.pos()) / 8 ? end - r.pos() + 1 : n * 8,
           "the values of extra \"" + key + "\"");
    std::vector<double> v(static_cast<std::size_t>(n));
    for (auto& x : v) x = r.f64("the values of extra \"" + key + "\"");
    c.info.extras[key] = std::move(v);
  }
  return r.pos();
}

/// Parses a whole checkpoint file (no model checks). S is the scalar type
/// the caller expects; a file of the other type is refused.
template <class S>
Contents<S> parse(const std::string& path, const std::string& buf) {
  Contents<S> c;
  if (buf.empty()) throw Error(path + ": the file is empty; expected a deepenergy checkpoint");
  if (buf.size() < sizeof checkpoint_magic &&
      std::memcmp(buf.data(), checkpoint_magic, buf.size()) == 0)
    throw Error(path + ": truncated at byte " + std::to_string(buf.size()) +
                " while reading the magic; the file is incomplete");
  if (buf.size() < sizeof checkpoint_magic ||
      std::memcmp(buf.data(), checkpoint_magic, sizeof checkpoint_magic) != 0)
    throw Error(path + ": not a deepenergy checkpoint (bad magic)");
  // Header first, against the real size; then, if the file is short, parse
  // what there is to say where it ends.
  {
    Reader head(path, buf, buf.size());
    for (std::size_t i = 0; i < sizeof checkpoint_magic; ++i) head.u8("the magic");
    c.info.version = head.u32("the format version");
    if (c.info.version < checkpoint_oldest_format_version ||
        c.info.version > checkpoint_format_version)
      throw Error(path + ": checkpoint format version " + std::to_string(c.info.version) +
                  " is not supported; this build reads versions " +
                  std::to_string(checkpoint_oldest_format_version) + " to " +
                  std::to_string(checkpoint_format_version));
    const std::uint32_t tag = head.u32("the scalar type");
    c.info.scalar = scalar_name(tag);
    if (tag != scalar_tag<S>())
      throw Error(path + ": the checkpoint was written with scalar type " + c.info.scalar +
                  ", this model uses " + scalar_name(scalar_tag<S>()));
    const std::uint64_t recorded = head.u64("the file size");
    if (recorded > buf.size()) {
      // Walk the structure to name the field where the file ends.
      parse_body<S>(path, buf, buf.size(), c);
      throw Error(path + ": truncated at byte " + std::to_string(buf.size()) + " of " +
                  std::to_string(recorded) + " while reading the checksum; the file is incomplete");
    }
    if (recorded < buf.size())
      throw Error(path + ": " + std::to_string(buf.size() - recorded) +
                  " unexpected bytes after the end of the checkpoint (" + std::to_string(recorded) +
                  " bytes); the file is damaged");
    if (recorded < 24 + 8) throw Error(path + ": checksum mismatch: file is damaged");
  }
  const std::size_t body_end = buf.size() - 8;
  std::uint64_t stored = 0;
  for (int i = 0; i < 8; ++i)
    stored |= std::uint64_t(static_cast<unsigned char>(buf[body_end + std::size_t(i)])) << (8 * i);
  if (stored != fnv1a64(buf.data(), body_end))
    throw Error(path + ": checksum mismatch: file is damaged");
  const std::size_t end = parse_body<S>(path, buf, body_end, c);
  if (end != body_end)
    throw Error(path + ": " + std::to_string(body_end - end) +
                " unexpected bytes before the checksum; the file is damaged");
  return c;
}

/// The loss terms' parameters of a trainer as one "network" (none for a
/// trainer without for_each_term_parameter).
template <class Trainer>
struct TermParameters {
  Trainer& trainer;
  template <class F>
  void for_each_parameter(F&& f) {
    if constexpr (requires { trainer.for_each_term_parameter(f); })
      trainer.for_each_term_parameter(f);
  }
};

/// Throws unless the network's parameters match the stored ones in count,
/// names and value shapes. `which` names the owner ("energy network", "loss
/// terms") and `has` its verb ("has", "have"). With `lazy` (a loss term's
/// parameters, built on first use) a 0x0 on either side matches any shape:
/// a model parameter not built yet takes the stored one, and a stored one
/// saved before it was built unbuilds it, to be built again on next use.
template <class Net, class S>
void check_network(const std::string& path, Net& net, const std::vector<StoredParameter<S>>& stored,
                   const std::string& which, const char* has = "has", bool lazy = false) {
  std::size_t count = 0;
  net.for_each_parameter([&](auto&) { ++count; });
  if (count != stored.size())
    throw Error(path + ": the " + which + " " + has + " " + std::to_string(stored.size()) +
                " parameters in the file but " + std::to_string(count) + " in the model");
  std::size_t k = 0;
  net.for_each_parameter([&](auto& p) {
    const StoredParameter<S>& s = stored[k];
    const std::string id = "parameter " + std::to_string(k);
    if (s.name != p.name)
      throw Error(path + ": " + id + " of the " + which + " is " + s.name + " in the file but " +
                  p.name + " in the model");
    const bool unbuilt = lazy && (p.value.size() == 0 || s.value.size() == 0);
    if (!unbuilt && (s.value.rows() != p.value.rows() || s.value.cols() != p.value.cols()))
      throw Error(path + ": " + id + " (" + p.name + ") of the " + which + " has shape " +
                  std::to_string(s.value.rows()) + "x" + std::to_string(s.value.cols()) +
                  " in the file but " + std::to_string(p.value.rows()) + "x" +
                  std::to_string(p.value.cols()) + " in the model");
    // An optimiser slot may hold +inf (AdaGrad's sum of squares after huge
    // gradients, a learning rate of 0 from then on), never NaN. Flat loops:
    // Eigen's reductions walk every column, and a stored 0 x 2^40 is empty.
    const auto all_of = [](const Matrix<S>& m, auto ok) {
      return std::all_of(m.data(), m.data() + m.size(), ok);
    };
    const auto finite = [](S v) { return std::isfinite(v); };
    const auto not_nan = [](S v) { return !std::isnan(v); };
    if (s.updates < 0)
      throw Error(path + ": " + id + " (" + p.name + ") of the " + which +
                  " has a negative update count; the file is damaged");
    const bool value_ok = all_of(s.value, finite);
    if (!value_ok || !all_of(s.slot[0], not_nan) || !all_of(s.slot[1], not_nan))
      throw Error(path + ": " + id + " (" + p.name + ") of the " + which +
                  (value_ok ? " has NaN in its optimiser state" : " holds non-finite values") +
                  ": the file is damaged or was saved from a diverged model");
    ++k;
  });
}

/// Throws unless the stored persistent chains (if any) are finite points of
/// the size the trainer's energy takes.
template <class Trainer, class S>
void check_chains(const std::string& path, Trainer& trainer, const Matrix<S>& chains) {
  if (chains.size() == 0) return;
  if (!chains.allFinite())
    throw Error(path + ": the persistent chains hold non-finite values; the file is damaged");
  if constexpr (requires { trainer.energy().input_dim(); }) {
    const Index dim = trainer.energy().input_dim();
    if (dim >= 0 && chains.rows() != dim)
      throw Error(path + ": the persistent chains are points of size " +
                  std::to_string(chains.rows()) +
                  " in the file but the energy network's input has size " + std::to_string(dim));
  }
}

/// Throws unless the stored energy average (if any) fits the energy
/// (check_energy_average, energy_average.hpp).
template <class Net, class S>
void check_average(const std::string& path, Net& net, const std::vector<Matrix<S>>& average) {
  check_energy_average(path + ": the file's energy average", net, average, "; the file is damaged");
}

template <class Net, class S>
void restore_network(Net& net, std::vector<StoredParameter<S>>& stored) {
  std::size_t k = 0;
  net.for_each_parameter([&](auto& p) {
    StoredParameter<S>& s = stored[k++];
    p.value = std::move(s.value);
    p.slot = std::move(s.slot);
    p.updates = s.updates;
    p.grad.setZero(p.value.rows(), p.value.cols());
  });
}

/// Writes bytes to path atomically: path.tmp, flushed (and fsync'ed where
/// available), checked, then renamed over path.
}  // namespace checkpoint_detail

/// A summary of the trainer's parameters: "energy: Dense.W 128x2, ...;
/// generator: ..." and, where loss terms have parameters, "; loss terms: ...".
/// The default description of save_checkpoint.
template <class Trainer>
std::string describe_parameters(Trainer& trainer) {
  // A term's parameters are listed once built (0x0 before its first use).
  std::string term_list;
  checkpoint_detail::TermParameters<Trainer>{trainer}.for_each_parameter([&](auto& p) {
    if (p.value.size() == 0) return;
    if (!term_list.empty()) term_list += ", ";
    term_list +=
        p.name + " " + std::to_string(p.value.rows()) + "x" + std::to_string(p.value.cols());
  });
  return "energy: " + checkpoint_detail::describe_network(trainer.energy()) +
         "; generator: " + checkpoint_detail::describe_network(trainer.generator()) +
         (term_list.empty() ? std::string() : "; loss terms: " + term_list);
}

/// Saves the trainer's complete state (parameters with their optimiser slots
/// and update counts, the loss terms' included, the Rng state, the step
/// counter, the persistent negative chains and the energy average where the
/// trainer has them; with the average swapped in, the values swapped out are
/// saved as the parameters) and `extras` to path, atomically (see
/// write_file_atomically). An empty description is replaced by
/// describe_parameters(trainer). Throws Error when the file cannot be written.
template <class Trainer>
void save_checkpoint(const std::string& path, Trainer& trainer, const CheckpointExtras& extras = {},
                     std::string description = {}) {
  using S = typename Trainer::Scalar;
  using checkpoint_detail::Writer;
  // With the energy average swapped in, write the values training goes on
  // from as the parameters (swapped back for the writing, then in again).
  const EnergyAverageScope training_values(trainer, EnergyValues::training);
  if (description.empty()) description = describe_parameters(trainer);
  Writer w;
  w.bytes(checkpoint_magic, sizeof checkpoint_magic);
  w.u32(checkpoint_format_version);
  w.u32(checkpoint_detail::scalar_tag<S>());
  w.u64(0);  // the file size, set by finish()
  w.str(description);
  const auto write_params = [&w](auto& net) {
    std::uint64_t count = 0;
    net.for_each_parameter([&](auto&) { ++count; });
    w.u64(count);
    net.for_each_parameter([&](auto& p) {
      w.str(p.name);
      w.matrix(p.value);
      w.matrix(p.slot[0]);
      w.matrix(p.slot[1]);
      w.i64(p.updates);
    });
  };
  w.str(checkpoint_detail::network_names[0]);
  write_params(trainer.energy());
  w.str(checkpoint_detail::network_names[1]);
  write_params(trainer.generator());
  const Rng::State rs = trainer.rng().state();
  for (std::uint64_t word : rs.words) w.u64(word);
  w.u8(rs.has_spare ? 1 : 0);
  w.f64(rs.spare);
  w.i64(trainer.step_count());
  if constexpr (requires { trainer.persistent_chains(); })
    w.matrix(trainer.persistent_chains());
  else
    w.matrix(Matrix<S>());
  if constexpr (requires { trainer.energy_average(); }) {
    w.u64(trainer.energy_average().size());
    for (const Matrix<S>& a : trainer.energy_average()) w.matrix(a);
  } else {
    w.u64(0);
  }
  checkpoint_detail::TermParameters<Trainer> terms{trainer};
  write_params(terms);
  w.u64(extras.size());
  for (const auto& [key, values] : extras) {
    w.str(key);
    w.u64(values.size());
    for (double v : values) w.f64(v);
  }
  write_file_atomically(path, w.finish());
}

/// Reads a checkpoint's description, step and extras without a model (e.g.
/// to rebuild the right configuration before load_checkpoint). S is the
/// scalar type expected. Performs every file check of load_checkpoint.
template <class S = float>
CheckpointInfo read_checkpoint_info(const std::string& path) {
  const std::string buf = checkpoint_detail::read_file(path);
  return checkpoint_detail::parse<S>(path, buf).info;
}

/// Restores a trainer saved by save_checkpoint: parameter values, optimiser
/// slots and update counts (the loss terms' too, from format 4 on; an older
/// file leaves them as they are), the Rng state, the step counter and the
/// persistent negative chains (none from a format 1 file: they restart from
/// the generator; chains of another batch size, or in a trainer with
/// langevin_restart = 1, are not used) and the energy average (none before
/// format 3: averaging restarts from the next update; dropped by a trainer
/// with energy_average = 0), so training continues exactly as if it had
/// never stopped.
/// Verifies the file (see the top of this header), that every parameter's
/// name and shape matches the trainer's networks and its stored values are
/// finite, that the chains are
/// finite points of the energy's input size and that the average matches
/// the energy's parameters; throws Error saying what
/// mismatched, leaving the trainer unchanged. A trainer with its energy
/// average swapped in (swap_energy_average) ends with the file's values and
/// average, not swapped. Returns the description, step and extras.
template <class Trainer>
CheckpointInfo load_checkpoint(const std::string& path, Trainer& trainer) {
  using S = typename Trainer::Scalar;
  const std::string buf = checkpoint_detail::read_file(path);
  checkpoint_detail::Contents<S> c = checkpoint_detail::parse<S>(path, buf);
  checkpoint_detail::check_network(path, trainer.energy(), c.nets[0], "energy network");
  checkpoint_detail::check_network(path, trainer.generator(), c.nets[1], "generator network");
  checkpoint_detail::TermParameters<Trainer> terms{trainer};
  if (c.info.version >= 4)
    checkpoint_detail::check_network(path, terms, c.terms, "loss terms", "have", /*lazy=*/true);
  checkpoint_detail::check_chains(path, trainer, c.chains);
  checkpoint_detail::check_average(path, trainer.energy(), c.average);
  if constexpr (averaging_trainer<Trainer>) {
    if (trainer.energy_average_swapped()) trainer.swap_energy_average();  // then overwritten
  }
  checkpoint_detail::restore_network(trainer.energy(), c.nets[0]);
  checkpoint_detail::restore_network(trainer.generator(), c.nets[1]);
  if (c.info.version >= 4) checkpoint_detail::restore_network(terms, c.terms);
  trainer.rng().set_state(c.rng);
  trainer.set_step_count(c.info.step);
  if constexpr (requires { trainer.set_persistent_chains(c.chains); })
    trainer.set_persistent_chains(std::move(c.chains));
  if constexpr (requires { trainer.set_energy_average(std::move(c.average)); })
    trainer.set_energy_average(std::move(c.average));
  return std::move(c.info);
}

}  // namespace deepenergy
