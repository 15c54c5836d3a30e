#include "audio/resample_kernel.hpp"

#include <cstring>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#define RTP2JACK_KERNEL_AVX2 1
#endif

namespace audio::kernel {

static_assert(kTaps % 8 == 0, "the vector builds take 8 taps a step");

void stereo_vec4(const float* t, const float* dt, float a, const float* x0, const float* x1,
                 float* out) noexcept {
  using V4 = float __attribute__((vector_size(16)));
  const V4 av = {a, a, a, a};
  V4 s0 = {}, s1 = {};
  for (int k = 0; k < kTaps; k += 4) {
    V4 tv, dv, v0, v1;
    std::memcpy(&tv, t + k, sizeof tv);
    std::memcpy(&dv, dt + k, sizeof dv);
    std::memcpy(&v0, x0 + k, sizeof v0);
    std::memcpy(&v1, x1 + k, sizeof v1);
    const V4 c = tv + av * dv;
    s0 += c * v0;
    s1 += c * v1;
  }
  out[0] = (s0[0] + s0[1]) + (s0[2] + s0[3]);
  out[1] = (s1[0] + s1[1]) + (s1[2] + s1[3]);
}

#ifdef RTP2JACK_KERNEL_AVX2
namespace {

__attribute__((target("avx2,fma"))) void stereo_avx2_impl(const float* t, const float* dt, float a,
                                                           const float* x0, const float* x1,
                                                           float* out) noexcept {
  const __m256 av = _mm256_set1_ps(a);
  __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps();
  for (int k = 0; k < kTaps; k += 8) {
    const __m256 c = _mm256_fmadd_ps(av, _mm256_loadu_ps(dt + k), _mm256_loadu_ps(t + k));
    s0 = _mm256_fmadd_ps(c, _mm256_loadu_ps(x0 + k), s0);
    s1 = _mm256_fmadd_ps(c, _mm256_loadu_ps(x1 + k), s1);
  }
  // Each channel's eight lanes to four, then both channels' four to one
  // each: [s0, s1, s0, s1].
  const __m128 q0 = _mm_add_ps(_mm256_castps256_ps128(s0), _mm256_extractf128_ps(s0, 1));
  const __m128 q1 = _mm_add_ps(_mm256_castps256_ps128(s1), _mm256_extractf128_ps(s1, 1));
  const __m128 h = _mm_hadd_ps(q0, q1);
  const __m128 sums = _mm_hadd_ps(h, h);
  out[0] = _mm_cvtss_f32(sums);
  out[1] = _mm_cvtss_f32(_mm_shuffle_ps(sums, sums, 1));
}

}  // namespace

const StereoFn stereo_avx2 = stereo_avx2_impl;

bool avx2_usable() noexcept {
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
}
#else
const StereoFn stereo_avx2 = nullptr;

bool avx2_usable() noexcept { return false; }
#endif

StereoFn best_stereo() noexcept { return avx2_usable() ? stereo_avx2 : stereo_vec4; }

}  // namespace audio::kernel
