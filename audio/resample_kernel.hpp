// The resampler's inner loop for stereo, the common case: one output frame
// of two channels from a kernel interpolated between two neighbouring
// phases of the table (audio::Resampler). Each interpolated coefficient is
// used for both channels while it is in a register.
//
// Two builds of it: one on 4-float vectors (GCC/Clang vector extensions:
// SSE on x86-64, NEON on ARM), and on x86-64 one on 8-float AVX2 vectors
// with fused multiply-adds, which takes about half the time. best_stereo()
// picks the second where the CPU has AVX2 and FMA; the binary itself stays
// built for any x86-64.
//
// Thread: any. Real-time safe: arithmetic on the caller's arrays.
#pragma once

namespace audio::kernel {

/// Kernel length in input samples: a multiple of 8.
inline constexpr int kTaps = 32;

/// out[0], out[1] = the sums over k < kTaps of (t[k] + a * dt[k]) * x0[k]
/// and * x1[k]: the phase's coefficients t, their differences to the next
/// phase dt, the fraction a between them, and each channel's kTaps input
/// samples x0, x1.
using StereoFn = void (*)(const float* t, const float* dt, float a, const float* x0, const float* x1,
                          float* out) noexcept;

void stereo_vec4(const float* t, const float* dt, float a, const float* x0, const float* x1,
                 float* out) noexcept;
/// The AVX2/FMA build, or nullptr where this binary has none (not x86-64).
/// Call it only where avx2_usable().
extern const StereoFn stereo_avx2;
/// The CPU runs AVX2 and FMA instructions.
bool avx2_usable() noexcept;
/// The fastest build this CPU runs. Thread: control (it asks the CPU once).
StereoFn best_stereo() noexcept;

}  // namespace audio::kernel
