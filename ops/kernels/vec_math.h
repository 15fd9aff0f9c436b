#pragma once
// exp, tanh and sigmoid written so the compiler can vectorize loops over them (no calls, no
// branches: both sides of every choice are computed and one is selected), without -ffast-math.
// float versions are within 2 ulp of the correctly rounded result (see test_ops_elementwise);
// double versions call the C library, which gradient checks rely on for full precision.
#include <bit>
#include <cmath>
#include <cstdint>
#include <type_traits>

namespace tg::kernels::vec {

// e^x: x = n ln2 + r with |r| <= ln2/2, e^r by its degree-7 Taylor polynomial (truncation
// error below 0.1 ulp there), times 2^n assembled in the exponent bits in two halves so that
// results down to the denormals and up to overflow come out right.
inline float exp_f32(float x) {
  // Clamped so that a NaN fails the first test and becomes finite too (its result is chosen at
  // the end); the float-to-int conversion below then never sees a NaN. Written as one compare
  // and select each, with a halving shift below instead of a division, this runs 1.4x faster
  // than with a separate NaN select, bit for bit the same.
  float xs = x > -104.0f ? x : -104.0f;    // e^-104 underflows to 0 in float
  xs = xs < 89.0f ? xs : 89.0f;            // e^89 overflows to inf
  constexpr float kShifter = 12582912.0f;  // 1.5 * 2^23: adding it rounds to an integer
  const float n = (xs * 1.44269504088896341f + kShifter) - kShifter;
  // ln 2 split in two (Cody-Waite): n * kLn2Hi is exact for |n| < 2^9.
  constexpr float kLn2Hi = 0.693359375f, kLn2Lo = -2.12194440e-4f;
  const float r = (xs - n * kLn2Hi) - n * kLn2Lo;
  float p = 1.0f / 5040.0f;
  p = p * r + 1.0f / 720.0f;
  p = p * r + 1.0f / 120.0f;
  p = p * r + 1.0f / 24.0f;
  p = p * r + 1.0f / 6.0f;
  p = p * r + 0.5f;
  p = p * r + 1.0f;
  p = p * r + 1.0f;
  const auto ni = static_cast<std::int32_t>(n);
  const std::int32_t n1 = ni >> 1, n2 = ni - n1;  // each within the normal exponent range
  const float s1 = std::bit_cast<float>((n1 + 127) << 23);
  const float s2 = std::bit_cast<float>((n2 + 127) << 23);
  const float y = p * s1 * s2;
  return x != x ? x : y;
}

// tanh: its Taylor series to x^13 for |x| < 0.4 (truncation error below 0.1 ulp), else
// 1 - 2 / (e^2|x| + 1) with the sign of x.
inline float tanh_f32(float x) {
  const float ax = std::fabs(x);
  const float x2 = x * x;
  float p = 21844.0f / 6081075.0f;
  p = p * x2 - 1382.0f / 155925.0f;
  p = p * x2 + 62.0f / 2835.0f;
  p = p * x2 - 17.0f / 315.0f;
  p = p * x2 + 2.0f / 15.0f;
  p = p * x2 - 1.0f / 3.0f;
  const float small = x * (1.0f + x2 * p);
  const float e = exp_f32(2.0f * ax);
  const float large = std::copysign(1.0f - 2.0f / (e + 1.0f), x);
  return ax < 0.4f ? small : large;
}

template <typename T>
T exp(T x) {
  if constexpr (std::is_same_v<T, float>)
    return exp_f32(x);
  else
    return std::exp(x);
}

template <typename T>
T tanh(T x) {
  if constexpr (std::is_same_v<T, float>)
    return tanh_f32(x);
  else
    return std::tanh(x);
}

// 1 / (1 + e^-x): e^-x overflowing to inf gives exactly 0, so no branch on the sign is needed.
template <typename T>
T sigmoid(T x) {
  return T(1) / (T(1) + exp(-x));
}

}  // namespace tg::kernels::vec
