// Checkpoints: round trip, bit-identical resumption, and every kind of bad
// file refused with a message that says what is wrong.
#include <doctest/doctest.h>

#include <cstdint>
#include <cstring>
#include <deepenergy/checkpoint.hpp>
#include <deepenergy/datasets.hpp>
#include <deepenergy/deepenergy.hpp>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include <unistd.h>

using namespace deepenergy;

namespace {

template <class S>
using Trainer = DeepEnergyGAN<paper::Energy<S>, paper::Gen<S>, AdaGrad, KernelEntropy<S>>;

// With restart < 1: Langevin steps on persistent negative chains
// (TrainerOptions::langevin_restart), which checkpoints must keep too; with
// average > 0 the energy's average (TrainerOptions::energy_average), too.
template <class S>
Trainer<S> make(Index hidden, std::uint64_t seed, double restart = 1.0, double average = 0.0) {
  paper::Config c;
  c.hidden = hidden;
  TrainerOptions opt;
  opt.seed = seed;
  opt.batch_size = 32;
  opt.energy_average = average;
  if (restart < 1.0) {
    opt.langevin_steps = 2;
    opt.langevin_step_size = 0.05;
    opt.langevin_restart = restart;
  }
  return Trainer<S>(paper::make_energy<S>(c), paper::make_generator<S>(c), opt);
}

template <class S>
Matrix<S> data() {
  return datasets::two_spiral<S>(500, std::uint64_t{3}) / S(5);
}

/// A fresh path in the temporary directory, removed (with its .tmp) at scope end.
struct TempFile {
  std::string path;
  explicit TempFile(const std::string& name)
      : path((std::filesystem::temp_directory_path() /
              ("deepenergy_test_" + std::to_string(::getpid()) + "_" + name))
                 .string()) {}
  ~TempFile() {
    std::error_code ec;
    std::filesystem::remove(path, ec);
    std::filesystem::remove(path + ".tmp", ec);
  }
};

/// A checkpoint file (saved with no extras, chains, average or loss terms'
/// parameters, so its tail is the fixed 48 bytes below) with its
/// persistent chains' field replaced by `chains` (the bytes of a matrix, or
/// "" for none), its energy average's by `average` (the bytes of a count and
/// the matrices; by default none, a zero count from version 3 on), the loss
/// terms' parameter count (0, from version 4 on) and its
/// version set to `version`: the size and the checksum made right again.
std::string with_chains(std::string bytes, const std::string& chains, char version,
                        std::optional<std::string> given_average = std::nullopt) {
  const std::string average =
      given_average ? *given_average : std::string(version >= 3 ? 8 : 0, '\0');
  // The tail: step (8), chains (16 bytes when 0x0), average count (8), loss
  // terms' parameter count (8), extras count (8), checksum (8).
  const std::string terms(version >= 4 ? 8 : 0, '\0');
  std::string b = bytes.substr(0, bytes.size() - 48) + chains + average + terms +
                  bytes.substr(bytes.size() - 16, 8);
  b[8] = version;
  const std::uint64_t total = b.size() + 8;
  for (int i = 0; i < 8; ++i) b[16 + std::size_t(i)] = static_cast<char>(total >> (8 * i));
  const std::uint64_t sum = checkpoint_detail::fnv1a64(b.data(), b.size());
  for (int i = 0; i < 8; ++i) b.push_back(static_cast<char>(sum >> (8 * i)));
  return b;
}

std::string read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

/// The message of the Error that load_checkpoint throws ("" if none).
template <class T>
std::string load_error(const std::string& path, T& trainer) {
  try {
    load_checkpoint(path, trainer);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

template <class S>
struct Snapshot {
  std::vector<Matrix<S>> values, slots0, slots1;
  std::vector<std::int64_t> updates;
};

template <class T>
auto snapshot(T& t) {
  Snapshot<typename T::Scalar> s;
  const auto add = [&](auto& p) {
    s.values.push_back(p.value);
    s.slots0.push_back(p.slot[0]);
    s.slots1.push_back(p.slot[1]);
    s.updates.push_back(p.updates);
  };
  t.energy().for_each_parameter(add);
  t.generator().for_each_parameter(add);
  return s;
}

/// Bitwise equality (no tolerance): same shapes and the same values.
template <class S>
bool same(const std::vector<Matrix<S>>& a, const std::vector<Matrix<S>>& b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (a[i].rows() != b[i].rows() || a[i].cols() != b[i].cols()) return false;
    if (a[i].size() > 0 &&
        std::memcmp(a[i].data(), b[i].data(), sizeof(S) * std::size_t(a[i].size())) != 0)
      return false;
  }
  return true;
}

}  // namespace

TEST_CASE_TEMPLATE("a checkpoint restores the trainer and training resumes bit-identically", S,
                   float, double) {
  TempFile file("roundtrip.ckpt");
  const Matrix<S> x = data<S>();
  auto original = make<S>(16, 5);
  original.train(x, 20);
  const CheckpointExtras extras{{"mean", {0.25, -1.5}}, {"dataset", {0}}};
  save_checkpoint(file.path, original, extras, "a test model");
  CHECK_FALSE(std::filesystem::exists(file.path + ".tmp"));

  auto restored = make<S>(16, 99);  // other seed: other weights and rng
  const CheckpointInfo info = load_checkpoint(file.path, restored);
  CHECK(info.version == checkpoint_format_version);
  CHECK(info.scalar == (sizeof(S) == 4 ? "float" : "double"));
  CHECK(info.description == "a test model");
  CHECK(info.step == 20);
  CHECK(info.extras == extras);
  CHECK(restored.step_count() == 20);
  CHECK(restored.rng() == original.rng());

  const Matrix<S> batch = x.leftCols(64);
  const RowVector<S> e1 = original.energy().energy(batch);
  const RowVector<S> e2 = restored.energy().energy(batch);
  CHECK(std::memcmp(e1.data(), e2.data(), sizeof(S) * 64) == 0);

  const auto a = snapshot(original);
  const auto b = snapshot(restored);
  CHECK(same(a.values, b.values));
  CHECK(same(a.slots0, b.slots0));
  CHECK(same(a.slots1, b.slots1));
  CHECK(a.updates == b.updates);

  // Five more steps on both: a run that stopped and one that never did.
  original.train(x, 5);
  restored.train(x, 5);
  const auto c = snapshot(original);
  const auto d = snapshot(restored);
  CHECK(same(c.values, d.values));
  CHECK(same(c.slots0, d.slots0));
  CHECK(c.updates == d.updates);
  CHECK(restored.step_count() == 25);
  CHECK(restored.rng() == original.rng());
}

TEST_CASE_TEMPLATE("persistent chains are saved, and a resumed run continues them", S, float,
                   double) {
  TempFile file("chains.ckpt");
  const Matrix<S> x = data<S>();
  auto original = make<S>(16, 5, 0.3);
  original.train(x, 20);
  REQUIRE(original.persistent_chains().cols() == 32);
  save_checkpoint(file.path, original);
  auto restored = make<S>(16, 99, 0.3);
  load_checkpoint(file.path, restored);
  CHECK(same<S>({restored.persistent_chains()}, {original.persistent_chains()}));
  original.train(x, 5);
  restored.train(x, 5);
  CHECK(same(snapshot(restored).values, snapshot(original).values));
  CHECK(same<S>({restored.persistent_chains()}, {original.persistent_chains()}));

  SUBCASE("other chains give another continuation (so the check above can fail)") {
    auto moved = make<S>(16, 99, 0.3);
    load_checkpoint(file.path, moved);
    auto other = make<S>(16, 99, 0.3);
    load_checkpoint(file.path, other);
    other.set_persistent_chains(
        Matrix<S>(moved.persistent_chains().array() + S(0.01)));  // same shape, same stream
    moved.train(x, 5);
    other.train(x, 5);
    CHECK(same(snapshot(moved).values, snapshot(original).values));
    CHECK_FALSE(same(snapshot(other).values, snapshot(original).values));
  }
}

TEST_CASE_TEMPLATE("the energy average is saved, and a resumed run continues it", S, float,
                   double) {
  TempFile file("average.ckpt");
  const Matrix<S> x = data<S>();
  auto original = make<S>(16, 5, 1.0, 0.9);
  original.train(x, 20);
  REQUIRE(!original.energy_average().empty());
  save_checkpoint(file.path, original);
  auto restored = make<S>(16, 99, 1.0, 0.9);
  load_checkpoint(file.path, restored);
  CHECK(same(restored.energy_average(), original.energy_average()));
  original.train(x, 5);
  restored.train(x, 5);
  CHECK(same(snapshot(restored).values, snapshot(original).values));
  CHECK(same(restored.energy_average(), original.energy_average()));

  SUBCASE("a trainer without averaging drops it; one from a file without it restarts it") {
    auto plain = make<S>(16, 99);
    load_checkpoint(file.path, plain);
    CHECK(plain.energy_average().empty());
    TempFile old("average-v2.ckpt");
    auto none = make<S>(16, 5);  // no average in its file
    none.train(x, 20);
    save_checkpoint(old.path, none);
    auto fresh = make<S>(16, 99, 1.0, 0.9);
    load_checkpoint(old.path, fresh);
    CHECK(fresh.energy_average().empty());
    fresh.train(x, 1);  // starts from the values after that update
    CHECK_FALSE(same(fresh.energy_average(), original.energy_average()));
    std::vector<Matrix<S>> values;
    fresh.energy().for_each_parameter([&](auto& p) { values.push_back(p.value); });
    CHECK(same(fresh.energy_average(), values));
  }
}

namespace {
// A loss term with parameters of its own: MutualInformationEntropy's
// statistics network T, built on its first use.
using MiTrainer = DeepEnergyGAN<paper::Energy<double>, paper::Gen<double>, AdaGrad,
                                KernelEntropy<double>, MutualInformationEntropy<double>>;
MiTrainer make_mi(std::uint64_t seed, Index t_hidden = 8) {
  paper::Config c;
  c.hidden = 16;
  TrainerOptions opt;
  opt.seed = seed;
  opt.batch_size = 32;
  return MiTrainer(paper::make_energy<double>(c), paper::make_generator<double>(c), opt, AdaGrad{},
                   KernelEntropy<double>(), MutualInformationEntropy<double>(1.0, t_hidden));
}
Snapshot<double> term_snapshot(MiTrainer& t) {
  Snapshot<double> s;
  t.for_each_term_parameter([&](Parameter<double>& p) {
    s.values.push_back(p.value);
    s.slots0.push_back(p.slot[0]);
    s.slots1.push_back(p.slot[1]);
    s.updates.push_back(p.updates);
  });
  return s;
}
}  // namespace

TEST_CASE("loss terms' parameters are saved, and a resumed run continues them") {
  TempFile file("terms.ckpt");
  const Matrix<double> x = data<double>();
  auto original = make_mi(5);
  original.train(x, 10);
  save_checkpoint(file.path, original);
  CHECK(read_checkpoint_info<double>(file.path).description.find(
            "; loss terms: MutualInformationEntropy.W1 8x6, MutualInformationEntropy.b1 8x1") !=
        std::string::npos);
  auto restored = make_mi(99);  // T not built yet: it takes the file's shapes
  CHECK(term_snapshot(restored).values.at(0).size() == 0);
  load_checkpoint(file.path, restored);
  const auto a = term_snapshot(original);
  const auto b = term_snapshot(restored);
  REQUIRE(a.values.size() == 4);
  CHECK(a.updates.at(0) == 10);
  CHECK(same(a.values, b.values));
  CHECK(same(a.slots0, b.slots0));
  CHECK(a.updates == b.updates);
  original.train(x, 5);
  restored.train(x, 5);
  CHECK(same(term_snapshot(restored).values, term_snapshot(original).values));
  CHECK(same(snapshot(restored).values, snapshot(original).values));

  SUBCASE("a fresh T instead gives another continuation (so the checks above can fail)") {
    auto fresh = make_mi(99);
    load_checkpoint(file.path, fresh);
    fresh.for_each_term_parameter([](Parameter<double>& p) { p.value.resize(0, 0); });
    fresh.train(x, 5);
    CHECK_FALSE(same(snapshot(fresh).values, snapshot(original).values));
  }
  SUBCASE("a file without the term's parameters, or a T of another size, is refused") {
    auto without = make<double>(16, 99);
    CHECK(load_error(file.path, without) ==
          file.path + ": the loss terms have 4 parameters in the file but 0 in the model");
    auto built = make_mi(99, 4);
    built.train(x, 1);  // T built with 4 hidden units
    CHECK(load_error(file.path, built) ==
          file.path +
              ": parameter 0 (MutualInformationEntropy.W1) of the loss terms has shape 8x6 in "
              "the file but 4x6 in the model");
    auto unbuilt = make_mi(99, 4);  // takes the file's 8 units, then says so at its first use
    load_checkpoint(file.path, unbuilt);
    CHECK_THROWS_WITH_AS(unbuilt.train(x, 1),
                         "MutualInformationEntropy.W1 is 8x6 but samples of 2 and latents of 4 "
                         "dimensions with 4 hidden units need 4x6 (T keeps the shape it was "
                         "first built with or restored to)",
                         Error);
    TempFile none("terms-none.ckpt");
    save_checkpoint(none.path, without);  // format 4, no loss terms' parameters
    auto with_t = make_mi(99);
    CHECK(load_error(none.path, with_t) ==
          none.path + ": the loss terms have 0 parameters in the file but 4 in the model");
  }
  SUBCASE("a renamed or truncated loss terms' section is named") {
    TempFile bad("terms-bad.ckpt");
    const std::string bytes = read_bytes(file.path);
    std::string renamed = bytes;
    const std::size_t at = renamed.rfind("MutualInformationEntropy.b1");  // not the description
    REQUIRE(at != std::string::npos);
    renamed[at + 25] = 'c';
    renamed.resize(renamed.size() - 8);  // a new checksum, as if saved so
    const std::uint64_t sum = checkpoint_detail::fnv1a64(renamed.data(), renamed.size());
    for (int i = 0; i < 8; ++i) renamed.push_back(static_cast<char>(sum >> (8 * i)));
    write_bytes(bad.path, renamed);
    auto target = make_mi(99);
    CHECK(load_error(bad.path, target) ==
          bad.path +
              ": parameter 1 of the loss terms is MutualInformationEntropy.c1 in the file but "
              "MutualInformationEntropy.b1 in the model");
    // Inside W1's value: after its name and its shape (two u64).
    const std::size_t cut = bytes.rfind("MutualInformationEntropy.W1") + 27 + 16 + 10;
    write_bytes(bad.path, bytes.substr(0, cut));
    CHECK(load_error(bad.path, target) ==
          bad.path + ": truncated at byte " + std::to_string(cut) +
              " while reading the value of parameter 0 (MutualInformationEntropy.W1) of the "
              "loss terms (a 8x6 matrix from byte " +
              std::to_string(cut - 10) + "); the file is incomplete");
    CHECK(term_snapshot(target).values.at(0).size() == 0);  // unchanged by the failed loads
  }
  SUBCASE("a file saved before T was built unbuilds a built T, as a fresh run has it") {
    TempFile early("terms-early.ckpt");
    auto start = make_mi(5);
    save_checkpoint(early.path, start);  // T's four parameters, 0x0
    auto trained = make_mi(99);
    trained.train(x, 3);
    REQUIRE(term_snapshot(trained).values.at(0).size() == 48);
    load_checkpoint(early.path, trained);
    CHECK(term_snapshot(trained).values.at(0).size() == 0);
    start.train(x, 4);
    trained.train(x, 4);
    CHECK(same(term_snapshot(trained).values, term_snapshot(start).values));
    CHECK(same(snapshot(trained).values, snapshot(start).values));
  }
  SUBCASE("a format 3 file, from before the loss terms' parameters, leaves T as it is") {
    TempFile plain("terms-plain.ckpt");
    TempFile v3("terms-v3.ckpt");
    auto t = make<double>(16, 5);
    t.train(x, 3);
    save_checkpoint(plain.path, t);
    write_bytes(v3.path, with_chains(read_bytes(plain.path), std::string(16, '\0'), 3));
    auto mi = make_mi(7);
    mi.train(x, 2);
    const auto before = term_snapshot(mi);
    const CheckpointInfo info = load_checkpoint(v3.path, mi);
    CHECK(info.version == 3);
    CHECK(same(term_snapshot(mi).values, before.values));
    CHECK(same(snapshot(mi).values, snapshot(t).values));
  }
}

TEST_CASE("with the energy average swapped in, save writes the values training goes on from") {
  TempFile swapped("swapped.ckpt");
  TempFile plain("plain-values.ckpt");
  const Matrix<double> x = data<double>();
  auto t = make<double>(16, 5, 1.0, 0.9);
  t.train(x, 10);
  save_checkpoint(plain.path, t);
  t.swap_energy_average();
  save_checkpoint(swapped.path, t);
  CHECK(t.energy_average_swapped());  // as it was
  CHECK(read_bytes(swapped.path) == read_bytes(plain.path));
  // A failed load leaves a swapped trainer as it was.
  TempFile damaged("damaged.ckpt");
  std::string bytes = read_bytes(plain.path);
  bytes[bytes.size() / 2] = static_cast<char>(bytes[bytes.size() / 2] ^ 1);
  write_bytes(damaged.path, bytes);
  const auto in = snapshot(t);
  CHECK(load_error(damaged.path, t).find("checksum mismatch") != std::string::npos);
  CHECK(t.energy_average_swapped());
  CHECK(same(snapshot(t).values, in.values));
  // Loading into a trainer with its average swapped in puts the file's
  // values in as they are.
  load_checkpoint(plain.path, t);
  CHECK_FALSE(t.energy_average_swapped());
  auto ref = make<double>(16, 7, 1.0, 0.9);
  load_checkpoint(plain.path, ref);
  CHECK(same(snapshot(t).values, snapshot(ref).values));
  CHECK(same(t.energy_average(), ref.energy_average()));
}

TEST_CASE("a load inside an EnergyAverageScope ends in the state the scope found") {
  TempFile with_average("scope-average.ckpt");
  TempFile without("scope-none.ckpt");
  const Matrix<double> x = data<double>();
  auto a = make<double>(16, 5, 1.0, 0.9);
  a.train(x, 10);
  save_checkpoint(with_average.path, a);
  auto b = make<double>(16, 6);  // no average in its file
  b.train(x, 10);
  save_checkpoint(without.path, b);
  auto t = make<double>(16, 7, 1.0, 0.9);
  t.train(x, 3);
  t.swap_energy_average();
  {
    const EnergyAverageScope training_values(t, EnergyValues::training);
    load_checkpoint(with_average.path, t);
  }  // swapped in again: the file's average
  CHECK(t.energy_average_swapped());
  std::vector<Matrix<double>> in;
  t.energy().for_each_parameter([&](auto& p) { in.push_back(p.value); });
  CHECK(same(in, a.energy_average()));
  {
    const EnergyAverageScope training_values(t, EnergyValues::training);
    load_checkpoint(without.path, t);
  }  // nothing to swap in
  CHECK_FALSE(t.energy_average_swapped());
  CHECK(t.energy_average().empty());
  CHECK(same(snapshot(t).values, snapshot(b).values));
}

namespace {
// Only what save_checkpoint and load_checkpoint require: no persistent
// chains, no energy average (their optional parts compiled out).
struct MinimalTrainer {
  using Scalar = float;
  Trainer<float> t = make<float>(16, 2);
  auto& energy() { return t.energy(); }
  auto& generator() { return t.generator(); }
  Rng& rng() { return t.rng(); }
  std::int64_t step_count() const { return t.step_count(); }
  void set_step_count(std::int64_t s) { t.set_step_count(s); }
};
}  // namespace

TEST_CASE("a trainer without chains or an average saves and loads") {
  TempFile file("minimal.ckpt");
  MinimalTrainer a;
  a.t.train(data<float>(), 3);
  save_checkpoint(file.path, a);
  MinimalTrainer b;
  b.t = make<float>(16, 9);
  load_checkpoint(file.path, b);
  CHECK(b.step_count() == 3);
  CHECK(same(snapshot(b.t).values, snapshot(a.t).values));
  // The training values are all it has; its average cannot be asked for.
  { const EnergyAverageScope training_values(b, EnergyValues::training); }
  CHECK_THROWS_WITH_AS(EnergyAverageScope(b, EnergyValues::average),
                       "EnergyAverageScope: this trainer type has no energy average", Error);
}

TEST_CASE("format 2 checkpoints, from before the energy average, still load") {
  TempFile v3("v3.ckpt");
  TempFile v2("v2.ckpt");
  auto t = make<float>(16, 2);
  t.train(data<float>(), 3);
  save_checkpoint(v3.path, t);
  write_bytes(v2.path, with_chains(read_bytes(v3.path), std::string(16, '\0'), 2));
  auto from_v2 = make<float>(16, 4, 1.0, 0.9);
  from_v2.train(data<float>(), 1);  // an average of its own, which the file's (none) replaces
  REQUIRE(!from_v2.energy_average().empty());
  const CheckpointInfo info = load_checkpoint(v2.path, from_v2);
  CHECK(info.version == 2);
  CHECK(info.step == 3);
  CHECK(from_v2.energy_average().empty());
  CHECK(same(snapshot(from_v2).values, snapshot(t).values));
}

TEST_CASE("format 1 checkpoints, from before the persistent chains, still load") {
  TempFile current("current.ckpt");
  TempFile v1("v1.ckpt");
  auto t = make<float>(16, 2);
  t.train(data<float>(), 3);
  save_checkpoint(current.path, t);
  write_bytes(v1.path, with_chains(read_bytes(current.path), "", 1));
  auto from_v1 = make<float>(16, 4, 0.3);
  from_v1.set_persistent_chains(Matrix<float>::Ones(2, 32));
  const CheckpointInfo info = load_checkpoint(v1.path, from_v1);
  CHECK(info.version == 1);
  CHECK(info.step == 3);
  CHECK(from_v1.persistent_chains().size() == 0);  // the chains restart from G
  CHECK(same(snapshot(from_v1).values, snapshot(t).values));
}

TEST_CASE("the default description lists every parameter with its shape") {
  TempFile file("describe.ckpt");
  auto t = make<float>(8, 1);
  save_checkpoint(file.path, t);
  const CheckpointInfo info = read_checkpoint_info<float>(file.path);
  CHECK(info.description == describe_parameters(t));
  CHECK(info.description.find("energy: Dense.W 8x2, Dense.b 8x1") == 0);
  CHECK(info.description.find("; generator: Dense.W 8x4") != std::string::npos);
  CHECK(info.extras.empty());
}

TEST_CASE("damaged checkpoints are refused with what is wrong") {
  TempFile good("good.ckpt");
  TempFile bad("bad.ckpt");
  auto t = make<float>(16, 2);
  t.train(data<float>(), 3);
  save_checkpoint(good.path, t, {{"mean", {1.0, 2.0}}});
  const std::string bytes = read_bytes(good.path);
  REQUIRE(bytes.size() > 1000);
  auto target = make<float>(16, 4);
  const auto before = snapshot(target);

  SUBCASE("truncated files name the byte and the field") {
    for (std::size_t cut :
         {std::size_t{3}, std::size_t{10}, std::size_t{20}, std::size_t{40}, std::size_t{300},
          bytes.size() / 2, bytes.size() - 30, bytes.size() - 1}) {
      CAPTURE(cut);
      write_bytes(bad.path, bytes.substr(0, cut));
      const std::string msg = load_error(bad.path, target);
      CHECK(msg.find(bad.path + ": truncated at byte " + std::to_string(cut) + " ") == 0);
      CHECK(msg.find(" while reading ") != std::string::npos);
    }
    write_bytes(bad.path, bytes.substr(0, 20));
    CHECK(load_error(bad.path, target).find("while reading the file size") != std::string::npos);
    // Inside the first energy parameter's value: after the network's name
    // (length 6, "energy"), its count, the name "Dense.W" and the shape.
    const std::size_t net = bytes.find(std::string("\x06\0\0\0\0\0\0\0energy", 14));
    REQUIRE(net != std::string::npos);
    const std::size_t inside = net + 14 + 8 + 8 + 7 + 16 + 10;
    write_bytes(bad.path, bytes.substr(0, inside));
    CHECK(load_error(bad.path, target) ==
          bad.path + ": truncated at byte " + std::to_string(inside) +
              " while reading the value of parameter 0 (Dense.W) of the energy network (a 16x2 "
              "matrix from byte " +
              std::to_string(inside - 10) + "); the file is incomplete");
    write_bytes(bad.path, bytes.substr(0, bytes.size() - 4));
    CHECK(load_error(bad.path, target).find("while reading the checksum") != std::string::npos);
    write_bytes(bad.path, "");
    CHECK(load_error(bad.path, target) ==
          bad.path + ": the file is empty; expected a deepenergy checkpoint");
  }
  SUBCASE("wrong magic") {
    std::string b = bytes;
    b[0] = 'X';
    write_bytes(bad.path, b);
    CHECK(load_error(bad.path, target) == bad.path + ": not a deepenergy checkpoint (bad magic)");
    write_bytes(bad.path, "x,y\n1,2\n");
    CHECK(load_error(bad.path, target) == bad.path + ": not a deepenergy checkpoint (bad magic)");
  }
  SUBCASE("one flipped byte in the payload") {
    for (std::size_t at : {std::size_t{200}, bytes.size() / 2, bytes.size() - 20}) {
      CAPTURE(at);
      std::string b = bytes;
      b[at] = static_cast<char>(b[at] ^ 0x10);
      write_bytes(bad.path, b);
      CHECK(load_error(bad.path, target) == bad.path + ": checksum mismatch: file is damaged");
    }
  }
  SUBCASE("trailing bytes") {
    write_bytes(bad.path, bytes + "xx");
    CHECK(load_error(bad.path, target).find("2 unexpected bytes after the end") !=
          std::string::npos);
  }
  SUBCASE("another format version") {
    for (char version : {'\0', '\5'}) {
      std::string b = bytes;
      b[8] = version;
      write_bytes(bad.path, b);
      CHECK(load_error(bad.path, target) ==
            bad.path + ": checkpoint format version " + std::to_string(int(version)) +
                " is not supported; this build reads versions 1 to 4");
    }
  }
  SUBCASE("an impossible generator state, step counter or parameter value") {
    TempFile plain("plain.ckpt");
    save_checkpoint(plain.path, t);  // no extras, chains, average or terms: the tail is fixed
    const std::string saved = read_bytes(plain.path);
    // The tail: ... rng words (32), has_spare (1), spare (8), step (8), then
    // 48 bytes (see with_chains).
    const std::size_t step_at = saved.size() - 56, words_at = step_at - 8 - 1 - 32;
    const auto resealed = [](std::string b) {
      b.resize(b.size() - 8);
      const std::uint64_t sum = checkpoint_detail::fnv1a64(b.data(), b.size());
      for (int i = 0; i < 8; ++i) b.push_back(static_cast<char>(sum >> (8 * i)));
      return b;
    };
    write_bytes(bad.path, resealed(saved));
    auto scratch = make<float>(16, 4);
    CHECK(load_error(bad.path, scratch).empty());  // resealing alone changes nothing
    std::string zero = saved;
    std::fill_n(zero.begin() + std::ptrdiff_t(words_at), 32, '\0');
    write_bytes(bad.path, resealed(zero));
    CHECK(load_error(bad.path, target) ==
          bad.path +
              ": the random number generator state is all zeros, which no generator reaches; the "
              "file is damaged");
    std::string negative = saved;
    std::fill_n(negative.begin() + std::ptrdiff_t(step_at), 8, '\xff');  // -1
    write_bytes(bad.path, resealed(negative));
    CHECK(load_error(bad.path, target) ==
          bad.path + ": the step counter is -1; the file is damaged");
    CHECK_THROWS_WITH_AS(read_checkpoint_info<float>(bad.path),
                         (bad.path + ": the step counter is -1; the file is damaged").c_str(),
                         Error);

    auto diverged = make<float>(16, 4);
    Index k = 0;
    diverged.generator().for_each_parameter([&](auto& p) {
      if (k++ == 1) p.value(0) = std::numeric_limits<float>::quiet_NaN();
    });
    std::string second;  // the generator's parameter 1
    k = 0;
    diverged.generator().for_each_parameter([&](auto& p) {
      if (k++ == 1) second = p.name;
    });
    save_checkpoint(bad.path, diverged);
    CHECK(load_error(bad.path, target) ==
          bad.path + ": parameter 1 (" + second +
              ") of the generator network holds non-finite values: the file is damaged or was "
              "saved from a diverged model");
  }
  SUBCASE("persistent chains of points of another size") {
    TempFile plain("plain.ckpt");
    save_checkpoint(plain.path, t);  // no extras, no chains
    checkpoint_detail::Writer w;
    w.matrix(Matrix<float>(Matrix<float>::Zero(3, 32)));
    write_bytes(bad.path, with_chains(read_bytes(plain.path), w.buffer(), 2));
    CHECK(load_error(bad.path, target) ==
          bad.path +
              ": the persistent chains are points of size 3 in the file but the energy "
              "network's input has size 2");
    checkpoint_detail::Writer nan;
    nan.matrix(
        Matrix<float>(Matrix<float>::Constant(2, 32, std::numeric_limits<float>::quiet_NaN())));
    write_bytes(bad.path, with_chains(read_bytes(plain.path), nan.buffer(), 2));
    CHECK(load_error(bad.path, target) ==
          bad.path + ": the persistent chains hold non-finite values; the file is damaged");
    write_bytes(bad.path, with_chains(read_bytes(plain.path), w.buffer().substr(0, 100), 2));
    CHECK(load_error(bad.path, target).find("while reading the persistent chains") !=
          std::string::npos);
  }
  SUBCASE("an energy average that does not fit the energy") {
    TempFile plain("plain.ckpt");
    save_checkpoint(plain.path, t);  // no extras, no chains, no average
    const auto average = [&](auto edit) {
      std::vector<Matrix<float>> a;
      t.energy().for_each_parameter([&](auto& p) { a.push_back(p.value); });
      edit(a);
      checkpoint_detail::Writer w;
      w.u64(a.size());
      for (const auto& m : a) w.matrix(m);
      return w.buffer();
    };
    const std::string chains(16, '\0');
    write_bytes(bad.path, with_chains(read_bytes(plain.path), chains, 3, average([](auto&) {})));
    CHECK(load_error(bad.path, target).empty());  // the file made here is right as it is
    target = make<float>(16, 4);
    write_bytes(bad.path, with_chains(read_bytes(plain.path), chains, 3,
                                      average([](auto& a) { a.pop_back(); })));
    CHECK(load_error(bad.path, target).find(": the file's energy average has ") !=
          std::string::npos);
    write_bytes(bad.path, with_chains(read_bytes(plain.path), chains, 3,
                                      average([](auto& a) { a[0] = Matrix<float>::Zero(3, 3); })));
    std::string first;  // "name) has shape 3x3 but the parameter has shape RxC"
    target.energy().for_each_parameter([&](auto& p) {
      if (first.empty())
        first = p.name + ") has shape 3x3 but the parameter has shape " +
                std::to_string(p.value.rows()) + "x" + std::to_string(p.value.cols());
    });
    CHECK(load_error(bad.path, target) ==
          bad.path + ": the file's energy average of parameter 0 (" + first);
    write_bytes(bad.path, with_chains(read_bytes(plain.path), chains, 3, average([](auto& a) {
                                        a[1](0) = std::numeric_limits<float>::infinity();
                                      })));
    const std::string non_finite = load_error(bad.path, target);
    CHECK(non_finite.find(": the file's energy average of parameter 1 (") != std::string::npos);
    CHECK(non_finite.find(") holds non-finite values; the file is damaged") != std::string::npos);
    checkpoint_detail::Writer huge;
    huge.u64(std::uint64_t(1) << 60);
    write_bytes(bad.path, with_chains(read_bytes(plain.path), chains, 3, huge.buffer()));
    CHECK(load_error(bad.path, target).find("while reading the energy average (at byte ") !=
          std::string::npos);
    // A file cut inside the average says so.
    const std::string whole = with_chains(read_bytes(plain.path), chains, 3, average([](auto&) {}));
    const std::size_t cut = whole.size() - 200;
    write_bytes(bad.path, whole.substr(0, cut));
    const std::string msg = load_error(bad.path, target);
    CHECK(msg.find(bad.path + ": truncated at byte " + std::to_string(cut) +
                   " while reading matrix ") == 0);
    CHECK(msg.find(" of the energy average") != std::string::npos);
  }
  SUBCASE("another architecture") {
    auto narrow = make<float>(8, 4);
    CHECK(load_error(good.path, narrow) ==
          good.path +
              ": parameter 0 (Dense.W) of the energy network has shape 16x2 in the file but 8x2 "
              "in the model");
    paper::Config c;
    c.hidden = 16;
    c.learn_sigma = true;  // one more energy parameter
    Trainer<float> more(paper::make_energy<float>(c), paper::make_generator<float>(c));
    CHECK(load_error(good.path, more) ==
          good.path + ": the energy network has 6 parameters in the file but 7 in the model");
  }
  SUBCASE("another scalar type") {
    auto d = make<double>(16, 4);
    CHECK(load_error(good.path, d) == good.path +
                                          ": the checkpoint was written with scalar type float, "
                                          "this model uses double");
    TempFile dfile("double.ckpt");
    save_checkpoint(dfile.path, d);
    CHECK(load_error(dfile.path, target) == dfile.path +
                                                ": the checkpoint was written with scalar type "
                                                "double, this model uses float");
  }
  SUBCASE("a missing file names the path") {
    const std::string missing = bad.path + ".missing";
    CHECK(load_error(missing, target) == missing + ": cannot open checkpoint: no such file");
  }
  // Whatever went wrong, the target kept its own state.
  const auto after = snapshot(target);
  CHECK(same(before.values, after.values));
  CHECK(target.step_count() == 0);
}

TEST_CASE("saving into a directory that does not exist fails with the path") {
  auto t = make<float>(8, 1);
  const std::string path =
      (std::filesystem::temp_directory_path() / "deepenergy_no_such_dir" / "m.ckpt").string();
  std::string msg;
  try {
    save_checkpoint(path, t);
  } catch (const Error& e) {
    msg = e.what();
  }
  CHECK(msg == path + ": cannot open " + path + ".tmp for writing");
}
