// Tests of CSV reading/writing and the Standardizer (include/deepenergy/csv.hpp).
#include "deepenergy/csv.hpp"

#include "deepenergy/rng.hpp"

#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <numbers>
#include <string>
#include <type_traits>
#include <vector>

namespace fs = std::filesystem;
using deepenergy::Error;
using deepenergy::Index;
using deepenergy::Matrix;
using deepenergy::Standardizer;
using deepenergy::Vector;

namespace {

/// A fresh directory under the system temp dir, removed with its contents at
/// the end of the test.
class TempDir {
 public:
  TempDir() {
    static std::atomic<int> counter{0};
    const auto stamp = std::chrono::steady_clock::now().time_since_epoch().count();
    path_ = fs::temp_directory_path() /
            ("deepenergy_test_csv_" + std::to_string(stamp) + "_" + std::to_string(counter++));
    fs::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ignored;
    fs::remove_all(path_, ignored);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  /// Writes `text` verbatim to a file called `name` and returns its path.
  std::string write(const std::string& name, const std::string& text) const {
    const fs::path p = path_ / name;
    std::ofstream out(p, std::ios::binary);
    out << text;
    return p.string();
  }
  std::string file(const std::string& name) const { return (path_ / name).string(); }

 private:
  fs::path path_;
};

/// The message of the Error that load_csv throws on `path` (fails the test
/// when nothing is thrown).
template <class S = double>
std::string load_error(const std::string& path, Index expected_dim = -1) {
  try {
    (void)deepenergy::load_csv<S>(path, expected_dim);
  } catch (const Error& e) {
    return e.what();
  }
  FAIL("load_csv(" << path << ") did not throw");
  return {};
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

}  // namespace

TEST_CASE_TEMPLATE("load_csv reads points as columns, with or without a header", S, float, double) {
  TempDir dir;
  const std::string plain = dir.write("plain.csv", "1,2\n3.5,-4\n-0.25,1e3\n");
  const Matrix<S> x = deepenergy::load_csv<S>(plain);
  REQUIRE(x.rows() == 2);
  REQUIRE(x.cols() == 3);
  CHECK(x(0, 0) == S(1));
  CHECK(x(1, 0) == S(2));
  CHECK(x(0, 1) == S(3.5));
  CHECK(x(1, 1) == S(-4));
  CHECK(x(0, 2) == S(-0.25));
  CHECK(x(1, 2) == S(1000));

  const std::string with_header = dir.write("header.csv", "x,y\n1,2\n3.5,-4\n-0.25,1e3\n");
  const auto data = deepenergy::read_csv<S>(with_header);
  CHECK(data.values == x);
  REQUIRE(data.header.size() == 2);
  CHECK(data.header[0] == "x");
  CHECK(data.header[1] == "y");
  CHECK(deepenergy::load_csv<S>(with_header, 2) == x);
  CHECK(deepenergy::read_csv<S>(plain).header.empty());
}

TEST_CASE("load_csv skips comments and blank lines and tolerates spaces") {
  TempDir dir;
  const std::string path = dir.write("messy.csv",
                                     "# a comment before the header\n"
                                     "\n"
                                     "  x , y ,z\r\n"
                                     "   # an indented comment\n"
                                     " 1 ,\t2, +3 \r\n"
                                     "\t\n"
                                     "4,5.5,-6e-1\n"
                                     "#last\n");
  const auto data = deepenergy::read_csv<double>(path);
  REQUIRE(data.values.rows() == 3);
  REQUIRE(data.values.cols() == 2);
  CHECK(data.values(0, 0) == 1.0);
  CHECK(data.values(1, 0) == 2.0);
  CHECK(data.values(2, 0) == 3.0);
  CHECK(data.values(0, 1) == 4.0);
  CHECK(data.values(1, 1) == 5.5);
  CHECK(data.values(2, 1) == -0.6);
  CHECK(data.header == std::vector<std::string>{"x", "y", "z"});

  // A single column and no final newline.
  const auto one = deepenergy::load_csv<float>(dir.write("one.csv", "value\n1\n2\n3"));
  CHECK(one.rows() == 1);
  CHECK(one.cols() == 3);
  CHECK(one(0, 2) == 3.0f);
}

TEST_CASE_TEMPLATE("save_csv then load_csv gives back exactly the same values", S, float, double) {
  TempDir dir;
  deepenergy::Rng rng(17);
  Matrix<S> x(3, 50);
  for (Index j = 0; j < x.cols(); ++j) {
    for (Index i = 0; i < x.rows(); ++i) {
      x(i, j) = static_cast<S>(rng.normal() * std::pow(10.0, rng.uniform(-30.0, 30.0)));
    }
  }
  x(0, 0) = std::numeric_limits<S>::max();
  x(1, 0) = std::numeric_limits<S>::lowest();
  x(2, 0) = std::numeric_limits<S>::denorm_min();
  x(0, 1) = S(0.1);
  x(1, 1) = S(-0.0);
  x(2, 1) = std::numeric_limits<S>::epsilon();

  const std::string path = dir.file("round.csv");
  deepenergy::save_csv(path, x, {"a", "b", "c"});
  const auto back = deepenergy::read_csv<S>(path, 3);
  CHECK(back.values == x);
  CHECK(back.header == std::vector<std::string>{"a", "b", "c"});
  CHECK_FALSE(fs::exists(path + ".tmp"));

  // Without a header, and overwriting an existing file.
  deepenergy::save_csv(path, x);
  CHECK(deepenergy::load_csv<S>(path) == x);
  CHECK(deepenergy::read_csv<S>(path).header.empty());
}

TEST_CASE("save_csv rejects what load_csv could not read back") {
  TempDir dir;
  Matrix<double> x = Matrix<double>::Ones(2, 3);
  CHECK_THROWS_AS(deepenergy::save_csv(dir.file("a.csv"), x, {"only one"}), Error);
  CHECK_THROWS_AS(deepenergy::save_csv(dir.file("a.csv"), x, {"a,b", "c"}), Error);
  x(1, 2) = std::numeric_limits<double>::quiet_NaN();
  CHECK_THROWS_AS(deepenergy::save_csv(dir.file("a.csv"), x), Error);
  CHECK_FALSE(fs::exists(dir.file("a.csv")));
  // A directory that does not exist: the message names the file.
  std::string message;
  try {
    deepenergy::save_csv(dir.file("missing/dir/b.csv"), Matrix<double>::Ones(2, 2));
  } catch (const Error& e) {
    message = e.what();
  }
  CHECK(contains(message, "missing/dir/b.csv"));
}

TEST_CASE("bad CSV files name file, line and column and what is wrong") {
  TempDir dir;

  SUBCASE("non-numeric field") {
    const std::string p = dir.write("word.csv", "x,y\n1,2\n3,4\n5,abc\n");
    const std::string m = load_error(p);
    CHECK(contains(m, p + ":4:2: "));
    CHECK(contains(m, "\"abc\""));
    CHECK(contains(m, "column 2"));
    CHECK(contains(m, "not a number"));
  }
  SUBCASE("trailing comment after data is not a comment") {
    const std::string p = dir.write("trail.csv", "1,2\n3,4 # note\n");
    const std::string m = load_error(p);
    CHECK(contains(m, p + ":2:2: "));
    CHECK(contains(m, "not a number"));
  }
  SUBCASE("a bad field on the first line is not taken for a header") {
    const std::string p = dir.write("first.csv", "1.5,abc\n1,2\n");
    const std::string m = load_error(p);
    CHECK(contains(m, p + ":1:2: "));
    CHECK(contains(m, "not a number"));
  }
  SUBCASE("a second header-like line is an error") {
    const std::string p = dir.write("twoheaders.csv", "x,y\nu,v\n1,2\n");
    const std::string m = load_error(p);
    CHECK(contains(m, p + ":2:1: "));
    CHECK(contains(m, "\"u\""));
    CHECK(contains(m, "not a number"));
  }
  SUBCASE("NaN") {
    const std::string p = dir.write("nan.csv", "1,2\n\n3,NaN\n");
    const std::string m = load_error(p);
    CHECK(contains(m, p + ":3:2: "));
    CHECK(contains(m, "not finite"));
  }
  SUBCASE("infinity") {
    const std::string p = dir.write("inf.csv", "# c\n-inf,2\n");
    const std::string m = load_error(p);
    CHECK(contains(m, p + ":2:1: "));
    CHECK(contains(m, "not finite"));
  }
  SUBCASE("out of range") {
    const std::string p = dir.write("big.csv", "1,2\n1e39,0\n");
    const std::string m = load_error<float>(p);
    CHECK(contains(m, p + ":2:1: "));
    CHECK(contains(m, "out of range for float"));
    CHECK(deepenergy::load_csv<double>(p)(0, 1) == 1e39);
    const std::string p2 = dir.write("huge.csv", "1,1e400\n");
    CHECK(contains(load_error<double>(p2), p2 + ":1:2: "));
  }
  SUBCASE("ragged row, too few fields") {
    const std::string p = dir.write("short.csv", "1,2,3\n4,5,6\n7,8\n");
    const std::string m = load_error(p);
    CHECK(contains(m, p + ":3:3: "));
    CHECK(contains(m, "ragged"));
    CHECK(contains(m, "expected 3"));
  }
  SUBCASE("ragged row, too many fields") {
    const std::string p = dir.write("long.csv", "1,2\n4,5,6\n");
    const std::string m = load_error(p);
    CHECK(contains(m, p + ":2:3: "));
    CHECK(contains(m, "ragged"));
    CHECK(contains(m, "expected 2"));
  }
  SUBCASE("header and rows disagree") {
    const std::string p = dir.write("hdr.csv", "x,y,z\n1,2\n");
    const std::string m = load_error(p);
    CHECK(contains(m, p + ":2:3: "));
    CHECK(contains(m, "header"));
  }
  SUBCASE("empty field") {
    const std::string p = dir.write("hole.csv", "1,2,3\n4, ,6\n");
    const std::string m = load_error(p);
    CHECK(contains(m, p + ":2:2: "));
    CHECK(contains(m, "empty field"));
    const std::string q = dir.write("comma.csv", "1,2\n3,4,\n");
    CHECK(contains(load_error(q), q + ":2:3: "));
  }
  SUBCASE("empty file") {
    const std::string p = dir.write("empty.csv", "");
    const std::string m = load_error(p);
    CHECK(contains(m, p + ":1:1: "));
    CHECK(contains(m, "no data rows"));
  }
  SUBCASE("only comments") {
    const std::string p = dir.write("comments.csv", "# nothing\n\n# here\n");
    const std::string m = load_error(p);
    CHECK(contains(m, p + ":4:1: "));
    CHECK(contains(m, "no data rows"));
  }
  SUBCASE("only a header") {
    const std::string p = dir.write("header_only.csv", "x,y\n\n");
    const std::string m = load_error(p);
    CHECK(contains(m, p + ":3:1: "));
    CHECK(contains(m, "no data rows after the header on line 1"));
  }
  SUBCASE("missing file") {
    const std::string p = dir.file("does_not_exist.csv");
    const std::string m = load_error(p);
    CHECK(contains(m, p + ": "));
    CHECK(contains(m, "cannot open"));
  }
  SUBCASE("dimension mismatch") {
    const std::string p = dir.write("dim.csv", "# three columns\n1,2,3\n4,5,6\n");
    const std::string m = load_error(p, 2);
    CHECK(contains(m, p + ":2:3: "));
    CHECK(contains(m, "expected 2"));
    CHECK(contains(m, "dimension"));
    const std::string m4 = load_error(p, 4);
    CHECK(contains(m4, p + ":2:4: "));
    CHECK(contains(m4, "expected 4"));
    CHECK(deepenergy::load_csv<double>(p, 3).cols() == 2);
  }
}

TEST_CASE_TEMPLATE("Standardizer: fit, transform and inverse", S, float, double) {
  Matrix<S> x(2, 4);
  x << 1, 2, 3, 6,  //
      10, 10, 30, 30;
  Standardizer<S> st;
  CHECK_FALSE(st.fitted());
  st.fit(x);
  REQUIRE(st.fitted());
  CHECK(st.dim() == 2);
  // Means 3 and 20; population stddevs sqrt((4 + 1 + 0 + 9) / 4) and 10.
  CHECK(st.mean()(0) == doctest::Approx(3.0));
  CHECK(st.mean()(1) == doctest::Approx(20.0));
  CHECK(st.stddev()(0) == doctest::Approx(std::sqrt(3.5)));
  CHECK(st.stddev()(1) == doctest::Approx(10.0));

  const Matrix<S> y = st.transform(x);
  CHECK(y(1, 0) == doctest::Approx(-1.0));
  CHECK(y(1, 3) == doctest::Approx(1.0));
  CHECK(y(0, 3) == doctest::Approx(3.0 / std::sqrt(3.5)));
  for (Index d = 0; d < 2; ++d) {
    CHECK(static_cast<double>(y.row(d).mean()) == doctest::Approx(0.0).scale(1.0));
    CHECK(static_cast<double>(y.row(d).squaredNorm()) / 4.0 == doctest::Approx(1.0));
  }
  const Matrix<S> back = st.inverse(y);
  const double tol = std::is_same_v<S, float> ? 1e-5 : 1e-12;
  CHECK((back - x).cwiseAbs().maxCoeff() <= S(tol * 30));

  // log|det| = -log(sqrt(3.5)) - log(10).
  CHECK(static_cast<double>(st.log_det_jacobian()) ==
        doctest::Approx(-0.5 * std::log(3.5) - std::log(10.0)));

  // The known-map constructor gives the same map.
  const Standardizer<S> copy(st.mean(), st.stddev());
  CHECK(copy.transform(x) == y);

  // Wrong dimension in use.
  CHECK_THROWS_AS((void)st.transform(Matrix<S>::Zero(3, 2)), Error);
  CHECK_THROWS_AS((void)st.inverse(Matrix<S>::Zero(1, 2)), Error);
}

TEST_CASE("Standardizer: the log-det-Jacobian converts densities to data units") {
  // x ~ N(m, s^2) in 1D; the standardised y ~ N(0, 1).
  // log p_data(x) = log N(y; 0, 1) + log_det_jacobian() must equal log N(x; m, s^2).
  Matrix<double> x(1, 2);
  x << 1.0, 5.0;  // mean 3, stddev 2
  Standardizer<double> st;
  st.fit(x);
  CHECK(st.log_det_jacobian() == doctest::Approx(-std::log(2.0)));
  Matrix<double> probe(1, 1);
  probe << 4.2;
  const double y = st.transform(probe)(0, 0);
  const double log_std_normal = -0.5 * y * y - 0.5 * std::log(2.0 * std::numbers::pi);
  const double z = (4.2 - 3.0) / 2.0;
  const double log_data = -0.5 * z * z - 0.5 * std::log(2.0 * std::numbers::pi) - std::log(2.0);
  CHECK(log_std_normal + st.log_det_jacobian() == doctest::Approx(log_data));
}

TEST_CASE("Standardizer: errors name the problem") {
  Standardizer<double> st;
  Matrix<double> x(3, 4);
  x << 1, 2, 3, 4,  //
      7, 7, 7, 7,   //
      0, 1, 0, 1;
  std::string message;
  try {
    st.fit(x);
  } catch (const Error& e) {
    message = e.what();
  }
  CHECK(contains(message, "dimension 1"));
  CHECK(contains(message, "constant"));
  CHECK_FALSE(st.fitted());

  message.clear();
  try {
    st.fit(Matrix<double>(2, 0));
  } catch (const Error& e) {
    message = e.what();
  }
  CHECK(contains(message, "2 x 0"));

  Matrix<double> bad = Matrix<double>::Random(2, 5);
  bad(0, 3) = std::numeric_limits<double>::infinity();
  message.clear();
  try {
    st.fit(bad);
  } catch (const Error& e) {
    message = e.what();
  }
  CHECK(contains(message, "dimension 0"));
  CHECK(contains(message, "finite"));

  CHECK_THROWS_AS((void)st.transform(x), Error);  // not fitted
  CHECK_THROWS_AS((void)st.log_det_jacobian(), Error);
  Vector<double> m(2), s(2);
  m << 0, 0;
  s << 1, 0;
  CHECK_THROWS_AS(Standardizer<double>(m, s), Error);
}
