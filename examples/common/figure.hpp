// A small raster plotting helper for the examples: figures like the paper's
// Figure 2 (left: training data in red and samples in blue; right:
// the energy as a heat map, blue low and red high, with a colour bar).
//
// Deliberately outside include/: the library itself does no image I/O.
//
// PNG encoding uses stb_image_write. This header only declares stb's
// functions; their definitions are compiled once, in examples/common/stb_impl.cpp
// (which defines STB_IMAGE_WRITE_IMPLEMENTATION). Every program that calls
// write_png or write_figure must compile and link that file too. Keeping the
// implementation in one .cpp (instead of a static, header-only copy in every
// translation unit) avoids duplicate code and stb's warnings in our targets.
//
// Text uses a built-in 5x7 bitmap font: digits, lowercase letters (uppercase
// letters are drawn as lowercase), space and + - . , : ; = / _ % ( ) [ ] < >.
// Any other character is drawn as a small hollow box.
#pragma once

#include "deepenergy/atomic_file.hpp"
#include "deepenergy/types.hpp"

#if __has_include(<stb/stb_image_write.h>)
#include <stb/stb_image_write.h>
#elif __has_include(<stb_image_write.h>)
#include <stb_image_write.h>
#else
#error "examples/common/figure.hpp needs stb_image_write.h (Debian/Ubuntu: libstb-dev)"
#endif

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <limits>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

namespace deepenergy::figure {

struct Rgb {
  std::uint8_t r = 0, g = 0, b = 0;
};

inline constexpr Rgb white{255, 255, 255};
inline constexpr Rgb black{0, 0, 0};
inline constexpr Rgb grey{128, 128, 128};
inline constexpr Rgb data_red{214, 39, 40};
inline constexpr Rgb sample_blue{31, 90, 220};

// ---------------------------------------------------------------------------
// Font

namespace font_detail {

struct Glyph {
  char ch;
  std::array<std::uint8_t, 7> rows;  ///< top to bottom; bit 4 is the leftmost pixel
};

// clang-format off
inline constexpr Glyph glyphs[] = {
    {' ', {0b00000, 0b00000, 0b00000, 0b00000, 0b00000, 0b00000, 0b00000}},
    {'0', {0b01110, 0b10001, 0b10011, 0b10101, 0b11001, 0b10001, 0b01110}},
    {'1', {0b00100, 0b01100, 0b00100, 0b00100, 0b00100, 0b00100, 0b01110}},
    {'2', {0b01110, 0b10001, 0b00001, 0b00010, 0b00100, 0b01000, 0b11111}},
    {'3', {0b11111, 0b00010, 0b00100, 0b00010, 0b00001, 0b10001, 0b01110}},
    {'4', {0b00010, 0b00110, 0b01010, 0b10010, 0b11111, 0b00010, 0b00010}},
    {'5', {0b11111, 0b10000, 0b11110, 0b00001, 0b00001, 0b10001, 0b01110}},
    {'6', {0b00110, 0b01000, 0b10000, 0b11110, 0b10001, 0b10001, 0b01110}},
    {'7', {0b11111, 0b00001, 0b00010, 0b00100, 0b01000, 0b01000, 0b01000}},
    {'8', {0b01110, 0b10001, 0b10001, 0b01110, 0b10001, 0b10001, 0b01110}},
    {'9', {0b01110, 0b10001, 0b10001, 0b01111, 0b00001, 0b00010, 0b01100}},
    {'+', {0b00000, 0b00100, 0b00100, 0b11111, 0b00100, 0b00100, 0b00000}},
    {'-', {0b00000, 0b00000, 0b00000, 0b11111, 0b00000, 0b00000, 0b00000}},
    {'.', {0b00000, 0b00000, 0b00000, 0b00000, 0b00000, 0b01100, 0b01100}},
    {',', {0b00000, 0b00000, 0b00000, 0b00000, 0b01100, 0b00100, 0b01000}},
    {':', {0b00000, 0b01100, 0b01100, 0b00000, 0b01100, 0b01100, 0b00000}},
    {';', {0b00000, 0b01100, 0b01100, 0b00000, 0b01100, 0b00100, 0b01000}},
    {'=', {0b00000, 0b00000, 0b11111, 0b00000, 0b11111, 0b00000, 0b00000}},
    {'/', {0b00000, 0b00001, 0b00010, 0b00100, 0b01000, 0b10000, 0b00000}},
    {'_', {0b00000, 0b00000, 0b00000, 0b00000, 0b00000, 0b00000, 0b11111}},
    {'%', {0b11000, 0b11001, 0b00010, 0b00100, 0b01000, 0b10011, 0b00011}},
    {'(', {0b00010, 0b00100, 0b01000, 0b01000, 0b01000, 0b00100, 0b00010}},
    {')', {0b01000, 0b00100, 0b00010, 0b00010, 0b00010, 0b00100, 0b01000}},
    {'[', {0b01110, 0b01000, 0b01000, 0b01000, 0b01000, 0b01000, 0b01110}},
    {']', {0b01110, 0b00010, 0b00010, 0b00010, 0b00010, 0b00010, 0b01110}},
    {'<', {0b00010, 0b00100, 0b01000, 0b10000, 0b01000, 0b00100, 0b00010}},
    {'>', {0b01000, 0b00100, 0b00010, 0b00001, 0b00010, 0b00100, 0b01000}},
    {'a', {0b00000, 0b00000, 0b01110, 0b00001, 0b01111, 0b10001, 0b01111}},
    {'b', {0b10000, 0b10000, 0b10110, 0b11001, 0b10001, 0b10001, 0b11110}},
    {'c', {0b00000, 0b00000, 0b01110, 0b10000, 0b10000, 0b10001, 0b01110}},
    {'d', {0b00001, 0b00001, 0b01101, 0b10011, 0b10001, 0b10001, 0b01111}},
    {'e', {0b00000, 0b00000, 0b01110, 0b10001, 0b11111, 0b10000, 0b01110}},
    {'f', {0b00110, 0b01001, 0b01000, 0b11100, 0b01000, 0b01000, 0b01000}},
    {'g', {0b00000, 0b00000, 0b01111, 0b10001, 0b01111, 0b00001, 0b01110}},
    {'h', {0b10000, 0b10000, 0b10110, 0b11001, 0b10001, 0b10001, 0b10001}},
    {'i', {0b00100, 0b00000, 0b01100, 0b00100, 0b00100, 0b00100, 0b01110}},
    {'j', {0b00010, 0b00000, 0b00110, 0b00010, 0b00010, 0b10010, 0b01100}},
    {'k', {0b10000, 0b10000, 0b10010, 0b10100, 0b11000, 0b10100, 0b10010}},
    {'l', {0b01100, 0b00100, 0b00100, 0b00100, 0b00100, 0b00100, 0b01110}},
    {'m', {0b00000, 0b00000, 0b11010, 0b10101, 0b10101, 0b10001, 0b10001}},
    {'n', {0b00000, 0b00000, 0b10110, 0b11001, 0b10001, 0b10001, 0b10001}},
    {'o', {0b00000, 0b00000, 0b01110, 0b10001, 0b10001, 0b10001, 0b01110}},
    {'p', {0b00000, 0b00000, 0b11110, 0b10001, 0b11110, 0b10000, 0b10000}},
    {'q', {0b00000, 0b00000, 0b01111, 0b10001, 0b01111, 0b00001, 0b00001}},
    {'r', {0b00000, 0b00000, 0b10110, 0b11001, 0b10000, 0b10000, 0b10000}},
    {'s', {0b00000, 0b00000, 0b01110, 0b10000, 0b01110, 0b00001, 0b11110}},
    {'t', {0b01000, 0b01000, 0b11100, 0b01000, 0b01000, 0b01001, 0b00110}},
    {'u', {0b00000, 0b00000, 0b10001, 0b10001, 0b10001, 0b10011, 0b01101}},
    {'v', {0b00000, 0b00000, 0b10001, 0b10001, 0b10001, 0b01010, 0b00100}},
    {'w', {0b00000, 0b00000, 0b10001, 0b10001, 0b10101, 0b10101, 0b01010}},
    {'x', {0b00000, 0b00000, 0b10001, 0b01010, 0b00100, 0b01010, 0b10001}},
    {'y', {0b00000, 0b00000, 0b10001, 0b10001, 0b01111, 0b00001, 0b01110}},
    {'z', {0b00000, 0b00000, 0b11111, 0b00010, 0b00100, 0b01000, 0b11111}},
};
inline constexpr std::array<std::uint8_t, 7> unknown_glyph{0b11111, 0b10001, 0b10001, 0b10001,
                                                           0b10001, 0b10001, 0b11111};
// clang-format on

inline const std::array<std::uint8_t, 7>& glyph(char ch) {
  if (ch >= 'A' && ch <= 'Z') ch = static_cast<char>(ch - 'A' + 'a');
  for (const Glyph& g : glyphs) {
    if (g.ch == ch) return g.rows;
  }
  return unknown_glyph;
}

}  // namespace font_detail

/// Width in pixels of `text` drawn at `scale` (each glyph is 5 x 7 pixels
/// times scale, followed by one scaled pixel of spacing).
inline int text_width(std::string_view text, int scale) {
  if (text.empty()) return 0;
  return static_cast<int>(text.size()) * 6 * scale - scale;
}
inline int text_height(int scale) {
  return 7 * scale;
}

// ---------------------------------------------------------------------------
// Canvas

/// An 8-bit RGB image, row-major, (0, 0) at the top left.
class Canvas {
 public:
  Canvas(int width, int height, Rgb background = white)
      : width_(width), height_(height), pixels_(static_cast<std::size_t>(width) * height * 3) {
    if (width <= 0 || height <= 0) {
      throw Error("figure::Canvas: size " + std::to_string(width) + " x " + std::to_string(height) +
                  "; expected a positive width and height");
    }
    fill(background);
  }

  int width() const { return width_; }
  int height() const { return height_; }
  const std::vector<std::uint8_t>& pixels() const { return pixels_; }

  void fill(Rgb c) { fill_rect(0, 0, width_, height_, c); }

  Rgb get(int x, int y) const {
    const std::size_t i = index(x, y);
    return {pixels_[i], pixels_[i + 1], pixels_[i + 2]};
  }

  /// Sets a pixel; pixels outside the canvas are ignored.
  void set(int x, int y, Rgb c) {
    if (!inside(x, y)) return;
    const std::size_t i = index(x, y);
    pixels_[i] = c.r;
    pixels_[i + 1] = c.g;
    pixels_[i + 2] = c.b;
  }

  /// Blends c over a pixel with opacity alpha in [0, 1].
  void blend(int x, int y, Rgb c, double alpha) {
    if (!inside(x, y)) return;
    const std::size_t i = index(x, y);
    const auto mix = [alpha](std::uint8_t under, std::uint8_t over) {
      return static_cast<std::uint8_t>(std::lround(under + alpha * (over - under)));
    };
    pixels_[i] = mix(pixels_[i], c.r);
    pixels_[i + 1] = mix(pixels_[i + 1], c.g);
    pixels_[i + 2] = mix(pixels_[i + 2], c.b);
  }

  void fill_rect(int x0, int y0, int w, int h, Rgb c) {
    for (int y = std::max(0, y0); y < std::min(height_, y0 + h); ++y) {
      for (int x = std::max(0, x0); x < std::min(width_, x0 + w); ++x) set(x, y, c);
    }
  }

  /// A one-pixel outline just outside the w x h rectangle at (x0, y0).
  void frame(int x0, int y0, int w, int h, Rgb c) {
    for (int x = x0 - 1; x <= x0 + w; ++x) {
      set(x, y0 - 1, c);
      set(x, y0 + h, c);
    }
    for (int y = y0 - 1; y <= y0 + h; ++y) {
      set(x0 - 1, y, c);
      set(x0 + w, y, c);
    }
  }

  /// A filled disc of the given radius (pixels) blended with opacity alpha.
  void dot(double cx, double cy, double radius, Rgb c, double alpha) {
    const int x0 = static_cast<int>(std::floor(cx - radius));
    const int x1 = static_cast<int>(std::ceil(cx + radius));
    const int y0 = static_cast<int>(std::floor(cy - radius));
    const int y1 = static_cast<int>(std::ceil(cy + radius));
    for (int y = y0; y <= y1; ++y) {
      for (int x = x0; x <= x1; ++x) {
        const double dx = x + 0.5 - cx;
        const double dy = y + 0.5 - cy;
        if (dx * dx + dy * dy <= radius * radius) blend(x, y, c, alpha);
      }
    }
  }

  /// Draws text with its top-left corner at (x, y).
  void text(int x, int y, std::string_view s, int scale, Rgb c) {
    for (const char ch : s) {
      const auto& rows = font_detail::glyph(ch);
      for (int r = 0; r < 7; ++r) {
        for (int col = 0; col < 5; ++col) {
          if ((rows[static_cast<std::size_t>(r)] >> (4 - col)) & 1) {
            fill_rect(x + col * scale, y + r * scale, scale, scale, c);
          }
        }
      }
      x += 6 * scale;
    }
  }
  /// Text horizontally centred on cx, top at y.
  void text_centred(int cx, int y, std::string_view s, int scale, Rgb c) {
    text(cx - text_width(s, scale) / 2, y, s, scale, c);
  }
  /// Text ending at x (right-aligned), top at y.
  void text_right(int x, int y, std::string_view s, int scale, Rgb c) {
    text(x - text_width(s, scale), y, s, scale, c);
  }

 private:
  bool inside(int x, int y) const { return x >= 0 && y >= 0 && x < width_ && y < height_; }
  std::size_t index(int x, int y) const {
    return (static_cast<std::size_t>(y) * static_cast<std::size_t>(width_) +
            static_cast<std::size_t>(x)) *
           3;
  }

  int width_;
  int height_;
  std::vector<std::uint8_t> pixels_;
};

/// Encodes the canvas as PNG and writes it atomically: to "path.tmp", checked,
/// then renamed over path. Throws deepenergy::Error naming the path on failure.
inline void write_png(const std::string& path, const Canvas& canvas) {
  std::vector<unsigned char> png;
  const auto append = [](void* context, void* data, int size) {
    auto* out = static_cast<std::vector<unsigned char>*>(context);
    const auto* bytes = static_cast<const unsigned char*>(data);
    out->insert(out->end(), bytes, bytes + size);
  };
  if (stbi_write_png_to_func(append, &png, canvas.width(), canvas.height(), 3,
                             canvas.pixels().data(), canvas.width() * 3) == 0 ||
      png.empty()) {
    throw Error("figure::write_png(" + path + "): PNG encoding failed");
  }
  write_file_atomically(path, std::string(png.begin(), png.end()));
}

// ---------------------------------------------------------------------------
// Colours and numbers

/// A blue-white-red diverging colour map ("coolwarm"-like): t = 0 is blue
/// (low), 0.5 light grey, 1 red (high). t is clamped to [0, 1].
inline Rgb coolwarm(double t) {
  struct Stop {
    double t;
    double r, g, b;
  };
  static constexpr Stop stops[] = {
      {0.00, 59, 76, 192},   {0.25, 124, 159, 249}, {0.50, 221, 221, 221},
      {0.75, 244, 154, 123}, {1.00, 180, 4, 38},
  };
  if (!(t >= 0.0)) t = 0.0;  // also maps NaN to 0
  if (t > 1.0) t = 1.0;
  std::size_t k = 0;
  while (k + 2 < std::size(stops) && t > stops[k + 1].t) ++k;
  const Stop& a = stops[k];
  const Stop& b = stops[k + 1];
  const double u = (t - a.t) / (b.t - a.t);
  const auto channel = [u](double lo, double hi) {
    return static_cast<std::uint8_t>(std::lround(lo + u * (hi - lo)));
  };
  return {channel(a.r, b.r), channel(a.g, b.g), channel(a.b, b.b)};
}

/// A short, locale-independent label for v with at most max_chars characters
/// when possible ("%.3g" style by default, dropping precision to fit).
inline std::string format_number(double v, int max_chars = 7, int max_precision = 3) {
  if (!std::isfinite(v)) return std::isnan(v) ? "nan" : (v > 0 ? "inf" : "-inf");
  if (v == 0.0) v = 0.0;  // no "-0"
  std::string best;
  for (int precision = max_precision; precision >= 1; --precision) {
    char buf[40];
    const auto [ptr, ec] =
        std::to_chars(buf, buf + sizeof buf, v, std::chars_format::general, precision);
    if (ec != std::errc{}) continue;
    best.assign(buf, ptr);
    if (static_cast<int>(best.size()) <= max_chars) break;
  }
  return best;
}

// ---------------------------------------------------------------------------
// Energy grids

/// The plotted region [xmin, xmax] x [ymin, ymax] in data units.
struct Box {
  double xmin = -1.0, xmax = 1.0, ymin = -1.0, ymax = 1.0;
};

/// The nx * ny grid points (2 x (nx ny), one per column) covering box with
/// both ends included: column i + nx j is
///   (xmin + i (xmax - xmin) / (nx - 1), ymin + j (ymax - ymin) / (ny - 1)).
/// Evaluate the energy on these columns and pass the values through
/// energy_grid() to get the nx x ny matrix write_figure expects.
inline Matrix<double> grid_points(const Box& box, Index nx, Index ny) {
  if (nx < 2 || ny < 2) {
    throw Error("figure::grid_points: grid " + std::to_string(nx) + " x " + std::to_string(ny) +
                "; expected at least 2 x 2");
  }
  Matrix<double> p(2, nx * ny);
  for (Index j = 0; j < ny; ++j) {
    for (Index i = 0; i < nx; ++i) {
      p(0, i + nx * j) =
          box.xmin + (box.xmax - box.xmin) * static_cast<double>(i) / static_cast<double>(nx - 1);
      p(1, i + nx * j) =
          box.ymin + (box.ymax - box.ymin) * static_cast<double>(j) / static_cast<double>(ny - 1);
    }
  }
  return p;
}

/// Values at grid_points(box, nx, ny) (any 1 x nx*ny or nx*ny x 1 array) as the
/// nx x ny matrix whose entry (i, j) belongs to grid column i + nx j.
template <class Derived>
Matrix<double> energy_grid(const Eigen::DenseBase<Derived>& values, Index nx, Index ny) {
  if (values.size() != nx * ny) {
    throw Error("figure::energy_grid: " + std::to_string(values.size()) + " values; expected " +
                std::to_string(nx * ny) + " (nx * ny)");
  }
  Matrix<double> e(nx, ny);
  for (Index k = 0; k < nx * ny; ++k) e(k % nx, k / nx) = static_cast<double>(values(k));
  return e;
}

// ---------------------------------------------------------------------------
// The figure

struct FigureOptions {
  int width = 1200;
  int height = 560;
  std::string left_title = "data (red) and samples (blue)";
  std::string right_title = "energy";
  double point_radius = 1.3;   ///< dot radius in pixels
  double data_alpha = 0.45;    ///< opacity of each training point
  double sample_alpha = 0.45;  ///< opacity of each generator sample
  /// Colour range of the heat map; NaN (the default) means the grid's finite
  /// minimum / maximum.
  double energy_min = std::numeric_limits<double>::quiet_NaN();
  double energy_max = std::numeric_limits<double>::quiet_NaN();
  bool overlay_data_on_energy = false;  ///< also draw the data (small dark dots) on the heat map
};

namespace figure_detail {

struct Plot {
  int x0, y0, size;
  Box box;
  double px(double x) const { return x0 + (x - box.xmin) / (box.xmax - box.xmin) * size; }
  double py(double y) const { return y0 + (box.ymax - y) / (box.ymax - box.ymin) * size; }
};

inline void scatter(Canvas& c, const Plot& p, const Matrix<double>& pts, Rgb colour, double radius,
                    double alpha) {
  for (Index j = 0; j < pts.cols(); ++j) {
    const double x = pts(0, j);
    const double y = pts(1, j);
    if (!(x >= p.box.xmin && x <= p.box.xmax && y >= p.box.ymin && y <= p.box.ymax)) continue;
    c.dot(p.px(x), p.py(y), radius, colour, alpha);
  }
}

inline void axes(Canvas& c, const Plot& p, int scale) {
  c.frame(p.x0, p.y0, p.size, p.size, black);
  const int tick = 5;
  for (int k = 0; k < tick; ++k) {
    c.set(p.x0, p.y0 + p.size + 1 + k, black);
    c.set(p.x0 + p.size - 1, p.y0 + p.size + 1 + k, black);
    c.set(p.x0 - 2 - k, p.y0, black);
    c.set(p.x0 - 2 - k, p.y0 + p.size - 1, black);
  }
  const int below = p.y0 + p.size + tick + 4;
  c.text(p.x0, below, format_number(p.box.xmin), scale, black);
  c.text_right(p.x0 + p.size, below, format_number(p.box.xmax), scale, black);
  c.text_centred(p.x0 + p.size / 2, below + text_height(scale) + 4, "x", scale, black);
  const int left = p.x0 - tick - 6;
  c.text_right(left, p.y0, format_number(p.box.ymax), scale, black);
  c.text_right(left, p.y0 + p.size - text_height(scale), format_number(p.box.ymin), scale, black);
  c.text_right(left, p.y0 + p.size / 2 - text_height(scale) / 2, "y", scale, black);
}

}  // namespace figure_detail

/// Draws a Figure-2-style figure and writes it as PNG (atomically).
///
/// data and samples are 2 x N and 2 x M (one point per column, data units);
/// energy is nx x ny, entry (i, j) the energy at
/// (xmin + i (xmax - xmin)/(nx - 1), ymin + j (ymax - ymin)/(ny - 1)) -- see
/// grid_points() and energy_grid(). Left panel: data (red) and samples (blue)
/// over box; points outside it are not drawn. Right panel: the energy as a
/// heat map (bilinear between grid points; blue low, red high, non-finite
/// values grey), a colour bar with five labelled values, and the same axes.
inline void write_figure(const std::string& path, const Matrix<double>& data,
                         const Matrix<double>& samples, const Matrix<double>& energy,
                         const Box& box, const FigureOptions& options = {}) {
  using figure_detail::Plot;
  if (data.rows() != 2 || samples.rows() != 2) {
    throw Error("figure::write_figure(" + path + "): data has " + std::to_string(data.rows()) +
                " rows and samples " + std::to_string(samples.rows()) +
                "; expected 2 (2D points, one per column)");
  }
  if (energy.rows() < 2 || energy.cols() < 2) {
    throw Error("figure::write_figure(" + path + "): energy grid is " +
                std::to_string(energy.rows()) + " x " + std::to_string(energy.cols()) +
                "; expected at least 2 x 2");
  }
  if (!(box.xmax > box.xmin) || !(box.ymax > box.ymin) || !std::isfinite(box.xmin) ||
      !std::isfinite(box.xmax) || !std::isfinite(box.ymin) || !std::isfinite(box.ymax)) {
    throw Error("figure::write_figure(" + path + "): box [" + std::to_string(box.xmin) + ", " +
                std::to_string(box.xmax) + "] x [" + std::to_string(box.ymin) + ", " +
                std::to_string(box.ymax) + "]; expected finite bounds with min < max");
  }

  Canvas canvas(options.width, options.height, white);
  const int scale = options.height >= 400 ? 2 : 1;
  const int th = text_height(scale);

  // Layout: two panels side by side; the right one also holds the colour bar.
  const int half = options.width * 7 / 15;  // left panel width (560 of 1200)
  const int title_space = th + 16;          // title line above each panel
  const int bottom_space = 2 * th + 24;
  const int label_space = 7 * 6 * scale + 12;  // room for a 7-character y label
  const int left_size =
      std::min(half - label_space - 30, options.height - title_space - bottom_space - 8);
  const int bar_width = 18;
  const int bar_gap = 14;      // heat map to colour bar
  const int bar_text_gap = 8;  // colour bar to its labels
  const int bar_space = bar_gap + bar_width + bar_text_gap + 7 * 6 * scale + 4;
  const int right_size = std::min(options.width - half - label_space - 10 - bar_space,
                                  options.height - title_space - bottom_space - 8);
  const int size = std::max(16, std::min(left_size, right_size));
  // Centre the panels (titles, plots and axis labels) vertically.
  const int top = std::max(title_space, (options.height - size - bottom_space + title_space) / 2);
  const int title_y = top - title_space + 4;

  const Plot left{label_space + 10, top, size, box};
  const Plot right{half + label_space + 10, top, size, box};

  // Left panel: data, then samples on top.
  canvas.text_centred(left.x0 + size / 2, title_y, options.left_title, scale, black);
  figure_detail::scatter(canvas, left, data, data_red, options.point_radius, options.data_alpha);
  figure_detail::scatter(canvas, left, samples, sample_blue, options.point_radius,
                         options.sample_alpha);
  figure_detail::axes(canvas, left, scale);

  // Right panel: the energy heat map.
  double lo = options.energy_min;
  double hi = options.energy_max;
  if (std::isnan(lo) || std::isnan(hi)) {
    double fmin = std::numeric_limits<double>::infinity();
    double fmax = -std::numeric_limits<double>::infinity();
    for (Index k = 0; k < energy.size(); ++k) {
      const double v = energy(k);
      if (!std::isfinite(v)) continue;
      fmin = std::min(fmin, v);
      fmax = std::max(fmax, v);
    }
    if (fmin > fmax) fmin = fmax = 0.0;  // nothing finite: all grey
    if (std::isnan(lo)) lo = fmin;
    if (std::isnan(hi)) hi = fmax;
  }
  const double span = hi > lo ? hi - lo : 1.0;
  const Index nx = energy.rows();
  const Index ny = energy.cols();
  for (int py = 0; py < size; ++py) {
    // Pixel centre -> continuous grid coordinates (j grows upwards).
    const double gy = (1.0 - (py + 0.5) / size) * static_cast<double>(ny - 1);
    const Index j0 = std::min<Index>(static_cast<Index>(gy), ny - 2);
    const double fy = gy - static_cast<double>(j0);
    for (int px = 0; px < size; ++px) {
      const double gx = (px + 0.5) / size * static_cast<double>(nx - 1);
      const Index i0 = std::min<Index>(static_cast<Index>(gx), nx - 2);
      const double fx = gx - static_cast<double>(i0);
      const double v = (1 - fx) * (1 - fy) * energy(i0, j0) + fx * (1 - fy) * energy(i0 + 1, j0) +
                       (1 - fx) * fy * energy(i0, j0 + 1) + fx * fy * energy(i0 + 1, j0 + 1);
      canvas.set(right.x0 + px, right.y0 + py, std::isfinite(v) ? coolwarm((v - lo) / span) : grey);
    }
  }
  if (options.overlay_data_on_energy) {
    figure_detail::scatter(canvas, right, data, Rgb{20, 20, 20}, 0.8, 0.25);
  }
  canvas.text_centred(right.x0 + size / 2, title_y, options.right_title, scale, black);
  figure_detail::axes(canvas, right, scale);

  // Colour bar: high at the top, five labelled values.
  const int bx = right.x0 + size + bar_gap;
  for (int py = 0; py < size; ++py) {
    const Rgb c = coolwarm(1.0 - (py + 0.5) / size);
    canvas.fill_rect(bx, right.y0 + py, bar_width, 1, c);
  }
  canvas.frame(bx, right.y0, bar_width, size, black);
  // Three significant digits unless that makes two labels equal (a narrow
  // range far from zero, e.g. -3203 to -3140 would read "-3e+03" five times).
  std::array<std::string, 5> bar_labels;
  for (int precision = 3; precision <= 7; ++precision) {
    for (int k = 0; k <= 4; ++k)
      bar_labels[k] = format_number(lo + k / 4.0 * (hi - lo), 7, precision);
    if (std::adjacent_find(bar_labels.begin(), bar_labels.end()) == bar_labels.end()) break;
  }
  for (int k = 0; k <= 4; ++k) {
    const double t = k / 4.0;
    const int y = right.y0 + static_cast<int>(std::lround((1.0 - t) * (size - 1)));
    for (int d = 0; d < 4; ++d) canvas.set(bx + bar_width + 1 + d, y, black);
    const int ty = std::clamp(y - th / 2, right.y0 - th / 2, right.y0 + size - th / 2);
    canvas.text(bx + bar_width + bar_text_gap, ty, bar_labels[k], scale, black);
  }

  write_png(path, canvas);
}

}  // namespace deepenergy::figure
