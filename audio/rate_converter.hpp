// From the stream's rate to JACK's: the stream rendered at its own rate in
// small chunks into a stage, read by a variable-ratio resampler
// (audio::Resampler) at JACK's rate, written to the ports (each port the
// stream channel core::StreamFormat::port_channel names, or silence).
// Output-driven: a chunk is rendered
// only when the resampler has read the last one, so what sits rendered but
// unread (stream the callback took from the buffer before it had to) stays
// under a chunk.
//
// Thread: audio (control only while no callback runs). Allocates at
// construction only; everything else is real-time safe and bounded.
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <memory>

#include "audio/resampler.hpp"
#include "core/stream_format.hpp"

namespace audio {

class RateConverter {
 public:
  /// Largest JACK period converted; larger ones play silence.
  static constexpr std::uint32_t kMaxPeriod = 8192;
  /// Stream frames rendered ahead for the resampler at a time: small, so
  /// that what sits rendered but unread adds little delay.
  static constexpr std::uint32_t kChunkFrames = Resampler::kChunkFrames;

  /// Thread: control, at start-up. Allocates the stage, the interleaved
  /// output and the resampler's tables, for up to kMaxChannels.
  explicit RateConverter(const core::StreamFormat& format)
      : resampler_(format.channels),
        stage_(std::make_unique<float[]>(std::size_t{kChunkFrames} * core::defaults::kMaxChannels)),
        out_(std::make_unique<float[]>(std::size_t{kMaxPeriod} * core::defaults::kMaxChannels)) {
    set_stream(format);
  }

  /// Thread: audio (or control while no callback runs). Real-time safe. A
  /// stream of another format: its channels, the ports they play on, its
  /// rate's kernel band. What is staged and the resampler's history go.
  void set_stream(const core::StreamFormat& format) noexcept {
    channels_ = format.channels;
    ports_ = format.ports;
    port_channel_ = format.port_channel;
    stage_pos_ = stage_len_ = 0;
    resampler_.set_stream(format.channels, format.rate);
  }

  /// Thread: audio. A cycle of `nframes` at `rate`: a new rate (or the
  /// first cycle) starts the resampler afresh. False where the cycle cannot
  /// be converted (longer than kMaxPeriod, no rate): the caller writes
  /// silence.
  bool begin(std::uint32_t nframes, std::uint32_t rate) noexcept {
    if (rate != rate_) {
      rate_ = rate;
      resampler_.reset();
    }
    return nframes <= kMaxPeriod && rate != 0;
  }

  /// Thread: audio. Writes `nframes` to each of `out[0..ports)`,
  /// converted at `ratio` (output rate / input rate), calling
  /// `render(float* dst, std::uint32_t frames)` for each chunk of stream it
  /// needs (interleaved). Returns the stream frames the resampler read.
  template <class Render>
  std::uint32_t run(float* const* out, std::uint32_t nframes, double ratio, Render&& render) noexcept {
    std::uint32_t produced = 0;
    std::uint32_t consumed = 0;
    float* const dst = out_.get();
    for (int guard = 0; produced < nframes && guard < 4 * static_cast<int>(kMaxPeriod); ++guard) {
      if (stage_pos_ == stage_len_) {
        render(stage_.get(), kChunkFrames);
        stage_pos_ = 0;
        stage_len_ = kChunkFrames;
      }
      const Resampler::Result r = resampler_.process(
          stage_.get() + std::size_t{stage_pos_} * channels_, stage_len_ - stage_pos_,
          dst + std::size_t{produced} * channels_, nframes - produced, ratio);
      stage_pos_ += r.used;
      consumed += r.used;
      produced += r.generated;
    }
    std::fill(dst + std::size_t{produced} * channels_, dst + std::size_t{nframes} * channels_, 0.0f);
    for (int p = 0; p < ports_; ++p) {
      const int c = port_channel_[static_cast<std::size_t>(p)];
      if (c < 0) {
        std::fill_n(out[p], nframes, 0.0f);
        continue;
      }
      for (std::uint32_t i = 0; i < nframes; ++i) out[p][i] = dst[std::size_t{i} * channels_ + c];
    }
    return consumed;
  }

  /// Stream frames rendered but not yet read by the resampler.
  std::uint32_t unread() const noexcept { return stage_len_ - stage_pos_; }
  /// JACK's rate in the latest begin().
  std::uint32_t rate() const noexcept { return rate_; }

  /// Thread: audio. The next `frames` stream frames not yet rendered are
  /// read `amount` of a frame further (|amount| < 1), gliding there: a
  /// splice that lands between two samples (Resampler::warp).
  void warp(double frames, double amount) noexcept {
    resampler_.warp(resampler_.taken() + unread(), frames, amount);
  }

  /// Thread: audio, or control while no callback runs. Forgets what is
  /// staged and the resampler's history: a new JACK client.
  void reset() noexcept {
    stage_pos_ = stage_len_ = 0;
    resampler_.reset();
  }

 private:
  int channels_ = 0;  // stream channels rendered, interleaved
  int ports_ = 0;
  std::array<std::int8_t, core::defaults::kMaxChannels> port_channel_{};
  Resampler resampler_;
  const std::unique_ptr<float[]> stage_;  // kChunkFrames x channels, interleaved
  std::uint32_t stage_pos_ = 0;           // first frame not yet read by the resampler
  std::uint32_t stage_len_ = 0;           // frames rendered into stage_
  const std::unique_ptr<float[]> out_;    // kMaxPeriod x channels, interleaved
  std::uint32_t rate_ = 0;
};

}  // namespace audio
