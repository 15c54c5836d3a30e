// THD+N of a recorded steady tone, for tests.
#pragma once

#include <cmath>
#include <vector>

namespace testtools {

// THD+N of a steady tone near `approx_hz`: least-squares fit of a sinusoid
// (frequency refined by golden-section search on the residual),
// residual RMS over fundamental RMS, in dB.
inline double thd_n_db(const std::vector<float>& x, double rate, double approx_hz) {
  const std::size_t n = x.size();
  auto fit = [&](double f, double* residual) {
    double ss = 0, cc = 0, sc = 0, xs = 0, xc = 0;
    const double w = 2 * M_PI * f / rate;
    for (std::size_t i = 0; i < n; ++i) {
      const double s = std::sin(w * static_cast<double>(i)), c = std::cos(w * static_cast<double>(i));
      ss += s * s; cc += c * c; sc += s * c; xs += x[i] * s; xc += x[i] * c;
    }
    const double det = ss * cc - sc * sc;
    const double a = (xs * cc - xc * sc) / det, b = (xc * ss - xs * sc) / det;
    if (residual != nullptr) {
      double r = 0;
      for (std::size_t i = 0; i < n; ++i) {
        const double e = x[i] - a * std::sin(w * static_cast<double>(i)) - b * std::cos(w * static_cast<double>(i));
        r += e * e;
      }
      *residual = std::sqrt(r / static_cast<double>(n));
    }
    return std::sqrt((a * a + b * b) / 2);
  };
  // Minimise the residual (a least-squares fit's amplitude is not largest
  // at the true frequency over a window of a non-whole number of cycles).
  auto residual_at = [&](double f) {
    double r = 0;
    fit(f, &r);
    return r;
  };
  double lo = approx_hz * 0.99, hi = approx_hz * 1.01;
  const double g = (std::sqrt(5.0) - 1) / 2;
  for (int it = 0; it < 80; ++it) {
    const double m1 = hi - g * (hi - lo), m2 = lo + g * (hi - lo);
    if (residual_at(m1) < residual_at(m2)) hi = m2; else lo = m1;
  }
  double residual = 0;
  const double amp = fit((lo + hi) / 2, &residual);
  return 20 * std::log10(residual / amp);
}


}  // namespace testtools
