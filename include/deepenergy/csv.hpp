// Reading and writing points as CSV, and the affine standardisation that maps
// a data set's own units to the model's units and back.
//
// File format read by load_csv / read_csv:
//   * one point per line, its coordinates separated by commas; spaces and tabs
//     around a field are ignored ("1.5 , -2" is fine);
//   * blank lines (empty or only spaces/tabs) and whole-line comments (the
//     first non-blank character is '#') are skipped anywhere. A '#' after
//     data on the same line is NOT a comment: that field is reported as not
//     a number;
//   * optionally one header line: the first non-blank, non-comment line is a
//     header when none of its fields is empty or looks like a number (so
//     "x,y" is a header, while "1.5,abc" is a data row with a bad field).
//     Only that line can be a header; any later non-numeric field is an
//     error. A header needs as many names as the data rows have fields;
//   * Windows line ends ("\r\n") are accepted.
// Reading is strict: a field that is not a number, NaN or infinite values, an
// empty field, a row with a different number of fields than the first data
// row, a file with no data rows, a file that cannot be opened and a dimension
// other than the expected one all throw deepenergy::Error. The message starts
// with "path:line:column: " (line 1-based; column = the 1-based field number)
// and says what was expected, e.g.
//   data.csv:12:3: field "abc" in column 3 is not a number; expected a finite decimal number
#pragma once

#include "deepenergy/atomic_file.hpp"
#include "deepenergy/types.hpp"

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <string>
#include <string_view>
#include <system_error>
#include <type_traits>
#include <utility>
#include <vector>

namespace deepenergy {

namespace csv_detail {

inline std::string_view trim(std::string_view s) {
  const auto is_space = [](char c) { return c == ' ' || c == '\t' || c == '\r'; };
  while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
  return s;
}

/// The fields of a line, trimmed; a line without commas is one field.
inline std::vector<std::string_view> split(std::string_view line) {
  std::vector<std::string_view> fields;
  std::size_t start = 0;
  for (;;) {
    const std::size_t comma = line.find(',', start);
    if (comma == std::string_view::npos) {
      fields.push_back(trim(line.substr(start)));
      return fields;
    }
    fields.push_back(trim(line.substr(start, comma - start)));
    start = comma + 1;
  }
}

enum class Parse { ok, empty, not_a_number, not_finite, out_of_range };

/// Parses the whole of `field` as a decimal number (an optional leading '+'
/// is accepted). NaN and infinities are reported as not_finite; a value whose
/// magnitude is too large for S, or so small that it is not distinguishable
/// from zero in double, as out_of_range.
template <class S>
Parse parse_number(std::string_view field, S& out) {
  if (field.empty()) return Parse::empty;
  std::string_view body = field;
  if (body.front() == '+') {
    body.remove_prefix(1);
    if (body.empty() || body.front() == '-' || body.front() == '+') return Parse::not_a_number;
  }
  double value = 0.0;
  const char* last = body.data() + body.size();
  const auto [ptr, ec] = std::from_chars(body.data(), last, value, std::chars_format::general);
  if (ptr != last) return Parse::not_a_number;
  if (ec == std::errc::result_out_of_range) return Parse::out_of_range;
  if (ec != std::errc{}) return Parse::not_a_number;
  if (!std::isfinite(value)) return Parse::not_finite;
  if constexpr (std::is_same_v<S, float>) {
    // Doubles from here up round to infinity as a float (FLT_MAX + half an ulp).
    if (std::abs(value) >= 0x1.ffffffp127) return Parse::out_of_range;
  }
  out = static_cast<S>(value);
  return Parse::ok;
}

/// A field that a reader would take for a (possibly bad) number rather than a
/// name: it parses, or fails only because of its value (NaN, infinity, range).
template <class S>
bool number_like(std::string_view field) {
  S v{};
  const Parse p = parse_number<S>(field, v);
  return p == Parse::ok || p == Parse::not_finite || p == Parse::out_of_range;
}

inline std::string where(const std::string& path, std::size_t line, std::size_t column) {
  return path + ":" + std::to_string(line) + ":" + std::to_string(column) + ": ";
}

inline std::string scalar_name(bool is_float) {
  return is_float ? "float" : "double";
}

}  // namespace csv_detail

/// The contents of a CSV file: the points (D x N, one per column) and the
/// header's column names (empty when the file has no header).
template <class S>
struct CsvData {
  Matrix<S> values;
  std::vector<std::string> header;
};

/// Reads a CSV file of points (format and errors: see the top of this file).
/// expected_dim < 0 accepts any dimension; otherwise every row must have
/// exactly expected_dim fields.
template <class S = float>
CsvData<S> read_csv(const std::string& path, Index expected_dim = -1) {
  using csv_detail::where;
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    const int err = errno;
    throw Error(path + ": cannot open file for reading (" +
                (err != 0 ? std::string(std::strerror(err)) : std::string("unknown error")) +
                "); expected a readable CSV file of points");
  }

  CsvData<S> result;
  std::vector<S> values;  // row-major while reading
  std::size_t dim = 0;    // fields per data row, fixed by the first data row
  std::size_t first_data_line = 0;
  std::size_t header_line = 0;
  std::size_t rows = 0;
  bool seen_content = false;  // a header or data line was read

  std::string line;
  std::size_t line_no = 0;
  while (std::getline(in, line)) {
    ++line_no;
    const std::string_view trimmed = csv_detail::trim(line);
    if (trimmed.empty() || trimmed.front() == '#') continue;
    const std::vector<std::string_view> fields = csv_detail::split(line);

    if (!seen_content) {
      seen_content = true;
      // A header: no field looks like a number and none is empty.
      bool is_header = true;
      for (const std::string_view f : fields) {
        if (f.empty() || csv_detail::number_like<S>(f)) {
          is_header = false;
          break;
        }
      }
      if (is_header) {
        header_line = line_no;
        for (const std::string_view f : fields) result.header.emplace_back(f);
        continue;
      }
    }

    if (rows == 0) {
      dim = fields.size();
      first_data_line = line_no;
      if (header_line != 0 && result.header.size() != dim) {
        throw Error(where(path, line_no, std::min(dim, result.header.size()) + 1) + "row has " +
                    std::to_string(dim) + " fields but the header on line " +
                    std::to_string(header_line) + " has " + std::to_string(result.header.size()) +
                    "; expected one field per header column");
      }
      if (expected_dim >= 0 && static_cast<std::size_t>(expected_dim) != dim) {
        throw Error(where(path, line_no, std::min<std::size_t>(dim, expected_dim) + 1) +
                    "row has " + std::to_string(dim) + " fields; expected " +
                    std::to_string(expected_dim) + " (the expected dimension)");
      }
    } else if (fields.size() != dim) {
      throw Error(where(path, line_no, std::min(dim, fields.size()) + 1) + "ragged row: " +
                  std::to_string(fields.size()) + " fields; expected " + std::to_string(dim) +
                  " as in the first data row (line " + std::to_string(first_data_line) + ")");
    }

    for (std::size_t c = 0; c < fields.size(); ++c) {
      S v{};
      const std::string here = where(path, line_no, c + 1);
      const std::string col = " in column " + std::to_string(c + 1);
      switch (csv_detail::parse_number<S>(fields[c], v)) {
        case csv_detail::Parse::ok:
          break;
        case csv_detail::Parse::empty:
          throw Error(here + "empty field" + col + "; expected a number");
        case csv_detail::Parse::not_a_number:
          throw Error(here + "field \"" + std::string(fields[c]) + "\"" + col +
                      " is not a number; expected a finite decimal number");
        case csv_detail::Parse::not_finite:
          throw Error(here + "field \"" + std::string(fields[c]) + "\"" + col +
                      " is not finite (NaN or infinity); expected a finite number");
        case csv_detail::Parse::out_of_range:
          throw Error(here + "field \"" + std::string(fields[c]) + "\"" + col +
                      " is out of range for " + csv_detail::scalar_name(std::is_same_v<S, float>) +
                      "; expected a finite number of representable size");
      }
      values.push_back(v);
    }
    ++rows;
  }
  if (in.bad()) {
    throw Error(path + ":" + std::to_string(line_no + 1) + ":1: read error; expected to read " +
                "the whole file");
  }
  if (rows == 0) {
    const std::string what =
        header_line != 0 ? "no data rows after the header on line " + std::to_string(header_line)
        : line_no == 0   ? std::string("empty file, no data rows")
                         : std::string("no data rows (only blank or comment lines)");
    throw Error(where(path, line_no + 1, 1) + what +
                "; expected at least one row of comma-separated numbers");
  }

  const auto d = static_cast<Index>(dim);
  const auto n = static_cast<Index>(rows);
  result.values.resize(d, n);
  for (Index j = 0; j < n; ++j) {
    for (Index i = 0; i < d; ++i) {
      result.values(i, j) = values[static_cast<std::size_t>(j * d + i)];
    }
  }
  return result;
}

/// The points of a CSV file as a D x N matrix (one point per column). See
/// read_csv for the header names.
template <class S = float>
Matrix<S> load_csv(const std::string& path, Index expected_dim = -1) {
  return read_csv<S>(path, expected_dim).values;
}

/// Writes x (D x N; any Eigen matrix expression) with one line per column of x, preceded by a
/// header line when `header` is not empty (then it needs D names, none containing a comma,
/// '#' or a line break). Values are written with std::numeric_limits<S>::max_digits10
/// significant digits, so load_csv<S> reads back exactly the same values.
/// The file is written atomically: to "path.tmp", flushed and checked, then
/// renamed over path. Non-finite values are rejected (load_csv would refuse
/// them).
template <class Derived>
void save_csv(const std::string& path, const Eigen::MatrixBase<Derived>& matrix,
              const std::vector<std::string>& header = {}) {
  using S = typename Derived::Scalar;
  static_assert(std::is_floating_point_v<S>, "save_csv writes float or double values");
  const Matrix<S> x = matrix;
  if (!header.empty() && static_cast<Index>(header.size()) != x.rows()) {
    throw Error("save_csv(" + path + "): header has " + std::to_string(header.size()) +
                " names; expected " + std::to_string(x.rows()) + " (one per row of the matrix)");
  }
  for (const std::string& h : header) {
    if (h.find_first_of(",#\r\n") != std::string::npos || csv_detail::trim(h).size() != h.size()) {
      throw Error("save_csv(" + path + "): header name \"" + h +
                  "\" contains a comma, '#', a line break or surrounding spaces; expected a "
                  "plain name");
    }
  }
  for (Index j = 0; j < x.cols(); ++j) {
    for (Index i = 0; i < x.rows(); ++i) {
      if (!std::isfinite(x(i, j))) {
        throw Error("save_csv(" + path + "): value at dimension " + std::to_string(i) +
                    " of point " + std::to_string(j) + " is not finite; expected finite values");
      }
    }
  }

  // Formatted into memory, then written in one atomic step.
  std::string out;
  for (std::size_t i = 0; i < header.size(); ++i) {
    if (i > 0) out += ',';
    out += header[i];
  }
  if (!header.empty()) out += '\n';
  char buf[64];
  for (Index j = 0; j < x.cols(); ++j) {
    for (Index i = 0; i < x.rows(); ++i) {
      if (i > 0) out += ',';
      const auto [ptr, ec] =
          std::to_chars(buf, buf + sizeof buf, x(i, j), std::chars_format::general,
                        std::numeric_limits<S>::max_digits10);
      if (ec != std::errc{}) throw Error("save_csv(" + path + "): cannot format a value");
      out.append(buf, ptr);
    }
    out += '\n';
  }
  write_file_atomically(path, out);
}

/// Per-dimension affine standardisation: transform(x) = (x - mean) / stddev,
/// fitted on a data set (D x N, one point per column) so the model sees
/// zero-mean, unit-variance coordinates, and inverse() maps model units back to
/// data units (samples, plotting grids).
///
/// Densities: with y = transform(x) the Jacobian dy/dx is diag(1 / stddev), so
///   log p_data(x) = log p_model(transform(x)) + log_det_jacobian(),
///   log_det_jacobian() = -sum_d log stddev_d.
/// For an energy model p(y) = exp(-E(y)) / Z the energy in data units is
/// E_data(x) = E(transform(x)) - log_det_jacobian() (a constant shift; it
/// matters for log-likelihoods, not for the shape of the energy surface).
template <class S = float>
class Standardizer {
 public:
  Standardizer() = default;
  /// A standardiser with a known map (e.g. restored from a checkpoint).
  Standardizer(Vector<S> mean, Vector<S> stddev) { set(std::move(mean), std::move(stddev)); }

  /// Fits mean and standard deviation (population: divided by N) of every
  /// dimension of x. Throws Error on empty data and when a dimension is
  /// constant (stddev 0) or its values are not finite.
  Standardizer& fit(const Matrix<S>& x) {
    if (x.rows() == 0 || x.cols() == 0) {
      throw Error("Standardizer::fit: data is " + std::to_string(x.rows()) + " x " +
                  std::to_string(x.cols()) +
                  "; expected at least one dimension and one point (D x N, one point per column)");
    }
    const Matrix<double> xd = x.template cast<double>();
    Vector<S> mean(x.rows());
    Vector<S> stddev(x.rows());
    for (Index d = 0; d < x.rows(); ++d) {
      const double m = xd.row(d).mean();
      const double var = (xd.row(d).array() - m).square().mean();
      const double s = std::sqrt(var);
      if (!std::isfinite(m) || !std::isfinite(s)) {
        throw Error("Standardizer::fit: dimension " + std::to_string(d) +
                    " (0-based row of the D x N data) has non-finite values; expected finite "
                    "data");
      }
      if (!(static_cast<S>(s) > S(0)) || !(s > 1e-12 * std::max(1.0, std::abs(m)))) {
        throw Error("Standardizer::fit: dimension " + std::to_string(d) +
                    " (0-based row of the D x N data) is constant (value " + std::to_string(m) +
                    ", stddev " + std::to_string(s) +
                    "); expected a dimension that varies across points");
      }
      mean(d) = static_cast<S>(m);
      stddev(d) = static_cast<S>(s);
    }
    mean_ = std::move(mean);
    stddev_ = std::move(stddev);
    return *this;
  }

  /// Data units -> model units: (x - mean) / stddev, column by column.
  Matrix<S> transform(const Matrix<S>& x) const {
    check(x, "transform");
    return (x.colwise() - mean_).array().colwise() / stddev_.array();
  }

  /// Model units -> data units: y * stddev + mean, column by column.
  Matrix<S> inverse(const Matrix<S>& y) const {
    check(y, "inverse");
    return (y.array().colwise() * stddev_.array()).matrix().colwise() + mean_;
  }

  /// log |det d transform(x) / dx| = -sum_d log stddev_d (see the class comment).
  S log_det_jacobian() const {
    require_fitted("log_det_jacobian");
    double s = 0.0;
    for (Index d = 0; d < stddev_.size(); ++d) s -= std::log(static_cast<double>(stddev_(d)));
    return static_cast<S>(s);
  }

  bool fitted() const { return mean_.size() > 0; }
  Index dim() const { return mean_.size(); }
  const Vector<S>& mean() const { return mean_; }
  const Vector<S>& stddev() const { return stddev_; }

 private:
  void set(Vector<S> mean, Vector<S> stddev) {
    if (mean.size() == 0 || mean.size() != stddev.size()) {
      throw Error("Standardizer: mean has " + std::to_string(mean.size()) + " entries and stddev " +
                  std::to_string(stddev.size()) + "; expected the same positive number");
    }
    for (Index d = 0; d < mean.size(); ++d) {
      if (!std::isfinite(mean(d)) || !(stddev(d) > S(0)) || !std::isfinite(stddev(d))) {
        throw Error("Standardizer: dimension " + std::to_string(d) +
                    " has mean or stddev that is not finite or stddev <= 0; expected a finite "
                    "mean and a finite positive stddev");
      }
    }
    mean_ = std::move(mean);
    stddev_ = std::move(stddev);
  }

  void require_fitted(const char* who) const {
    if (!fitted()) {
      throw Error(std::string("Standardizer::") + who +
                  ": not fitted; expected fit() (or the mean/stddev constructor) first");
    }
  }

  void check(const Matrix<S>& x, const char* who) const {
    require_fitted(who);
    if (x.rows() != mean_.size()) {
      throw Error(std::string("Standardizer::") + who + ": input has " + std::to_string(x.rows()) +
                  " rows; expected " + std::to_string(mean_.size()) +
                  " (the fitted dimension; one point per column)");
    }
  }

  Vector<S> mean_;
  Vector<S> stddev_;
};

}  // namespace deepenergy
