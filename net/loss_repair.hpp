// The repair stage's audio: what fills a lost packet's place, and how the
// audio after a gap joins it.
//
// A run of concealment starts where the decoder's state is saved (a late
// packet is decoded from there, as if the run had never been). Periodic
// audio before the run is repeated in its place (net::WaveformConcealer)
// when the payload's own concealment would fade it out; otherwise the
// codec conceals. Past kConcealFullMs of one run the concealment fades
// towards silence. While the repetition plays the codec does not conceal:
// its concealment would decay the decoder's state (Opus: the next 40-60 ms
// glide up from -15 dB), so the audio after the run is decoded from the
// state before it and cross-faded from the repetition, at the level the
// fade had reached. Audio after the codec's concealment rises from that
// level to its own (from silence after the codec's silence): decoded
// audio, a packet's or its FEC copy's, neither steps up nor dips.
//
// A decoder that resumes from the state before a run is out of step with
// the packets after it (Opus: its pitch and synthesis memory are the run's
// length behind): its first 10 to 40 ms dip and swell, and a new note can
// come out as the old one. So the first audio decoded after a repetition,
// a packet's or its FEC copy's, only brings the decoder up to date: the
// repetition plays over it. Each packet after it is compared with the
// repetition's continuation at both ends (kEvidenceMs): one that agrees
// at its start (within kSettledDb) takes over there; one that agrees only
// at its end takes over there; one that is the same sound, unsettled (its
// end within kConsistentDb), is played over too, while the audio played
// over stays within kMaxHoldMs, and takes over at its end after that; one
// that differs at both ends is new sound, and takes over at its start.
// Each take-over is a kBlendMs cross-fade. A run whose fade went below
// kMinHoldLevel is an outage more than a gap: nothing is held over after
// it.
//
// Positions are stream positions (frames at the stream's rate); where
// records go and when is the depacketizer's business.
//
// Thread: net. Owned by net::Depacketizer; storage is allocated once, in
// the constructor.
#pragma once

#include <cstdint>
#include <memory>
#include <span>

#include "net/payload_decoder.hpp"
#include "net/waveform_concealer.hpp"

namespace net {

class LossRepair {
 public:
  /// Repairs the stream `decoder` decodes, at `rate` frames per second.
  LossRepair(PayloadDecoder& decoder, std::uint32_t rate);

  /// A new stream.
  void reset() noexcept;

  /// Starts a run of concealment at `pos` unless one is under way: saves
  /// the decoder's state and decides between repetition and the codec.
  /// True when a run began now.
  bool begin(std::int64_t pos) noexcept;

  /// Up to `frames` of concealment at `pos` (inside a run begin() started):
  /// the frames written to `pcm`, or <= 0 when the codec made none.
  int conceal(std::int64_t pos, float* pcm, std::uint32_t frames) noexcept;

  /// A packet decoded at `pos`; `follows` when it starts where the last
  /// audio made ended (it can join a repetition). Ends the run. The frames
  /// written, or <= 0 when the payload is undecodable.
  int decode(std::span<const std::uint8_t> payload, std::int64_t pos, bool follows, float* pcm,
             int max_frames) noexcept;

  /// The `frames` lost before `next`, recovered from the copy it carries,
  /// at `pos` (where the last audio made ended).
  int recover(std::span<const std::uint8_t> next, std::int64_t pos, float* pcm, int frames) noexcept;

  /// Back to where the run began: the decoder's state then, no run.
  void undo_run() noexcept;

  /// A late packet, decoded for the decoder's state only, from where the
  /// run began: its audio is not kept. The frames it decoded to, and the
  /// run is over; or <= 0, and the decoder is back where the run began.
  int replay(std::span<const std::uint8_t> payload) noexcept;

  /// The next audio does not join the run (the timeline moved under it).
  void detach() noexcept;

  /// Gives up on the gap: no more concealment until a packet decodes.
  void give_up() noexcept;

  /// Decoded frames the repetition played over since the last call.
  std::uint64_t take_frames_held() noexcept;

  std::uint32_t run_frames() const noexcept { return run_; }
  bool in_run() const noexcept { return run_ > 0; }
  bool exhausted() const noexcept;
  /// Frames the run can still conceal at full level.
  std::uint32_t room_at_full_level() const noexcept;
  int channels() const noexcept { return decoder_.channels(); }
  std::uint32_t quantum() const noexcept { return decoder_.quantum(); }

  static constexpr double kEvidenceMs = 5.0;      // compared at each end of a packet
  static constexpr double kSettledDb = -25.0;     // this close to the repetition: settled
  static constexpr double kConsistentDb = -10.0;  // this close: the same sound
  static constexpr double kMaxHoldMs = 40.0;      // decoded audio held over after one run
  static constexpr float kMinHoldLevel = 0.5f;    // a run faded below this is not held over

 private:
  enum class Join { AtStart, BeforeEnd, Whole };

  bool joins(bool follows) const noexcept;
  // The repetition plays on over decoded audio: the decoder is current.
  bool holding() const noexcept { return held_ > 0; }
  void resumed(std::int64_t pos, bool blend, float* pcm, int frames) noexcept;
  // Where decoded audio (`pcm`) takes over from the repetition (`rep`).
  Join choose(const float* pcm, const float* rep, int frames, float level) const noexcept;
  // The repetition's continuation at `pos` hands over to decoded audio.
  void hand_over(std::int64_t pos, float* pcm, int frames, float level) noexcept;
  // Power of a - b against b's over `frames` from `from`, in dB.
  double mismatch_db(const float* a, const float* b, int from, int frames) const noexcept;
  // The fade's gain `t` frames into a run.
  float gain(std::int64_t t) const noexcept;
  void fade_out(float* pcm, int frames) const noexcept;
  // Rises from `from` to full level over kFadeMs.
  void fade_in(float* pcm, int frames, float from) const noexcept;

  PayloadDecoder& decoder_;
  const std::uint32_t full_frames_;  // kConcealFullMs at the stream's rate
  const std::uint32_t max_frames_;   // kMaxConcealMs
  const std::uint32_t fade_frames_;  // kFadeMs
  const std::uint32_t blend_frames_;     // WaveformConcealer::kBlendMs
  const std::uint32_t evidence_frames_;  // kEvidenceMs
  const std::uint32_t max_hold_frames_;  // kMaxHoldMs
  WaveformConcealer concealer_;  // fills a run by repetition where the audio before it is periodic
  const std::unique_ptr<float[]> scratch_;  // replay()'s audio, not kept; the repetition to hand over from
  std::uint32_t run_ = 0;        // frames concealed since the last decoded packet
  std::uint32_t held_ = 0;       // decoded frames the repetition played over since the run
  bool repeat_ = false;          // the payload decoded last asks for repetition in a gap
  bool silent_ = false;          // the codec's silence filled part of this run
  std::uint64_t frames_held_ = 0;  // take_frames_held()
};

}  // namespace net
