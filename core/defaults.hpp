// Every default of rtp2jack in one place; --help shows these values.
#pragma once

#include <cstddef>
#include <cstdint>

namespace core::defaults {

inline constexpr std::uint16_t kPort = 5004;
inline constexpr const char* kBind = "0.0.0.0";
inline constexpr double kLatencyMs = 20.0;
// --latency auto: where the target starts, and its default bounds.
inline constexpr double kAutoStartMs = 40.0;
inline constexpr double kMinLatencyMs = 0.0;  // the floor is what playout itself costs
inline constexpr double kMaxAutoLatencyMs = 250.0;
inline constexpr int kChannels = 2;
inline constexpr const char* kName = "rtp2jack";
inline constexpr const char* kConnect = "auto";
inline constexpr double kStatsIntervalS = 1.0;

// RFC 7587 section 4.1: the RTP clock of Opus is always 48 kHz; a stream's
// rate unless its format says otherwise (L16/L24: net::PayloadFormat).
inline constexpr std::uint32_t kStreamRate = 48000;
// Output ports at most, and channels a PCM stream may carry (AES67 and
// PipeWire send up to 8).
inline constexpr int kMaxChannels = 8;
// RFC 6716 section 3.2.1: an Opus packet carries at most 120 ms of audio.
inline constexpr std::uint32_t kMaxPacketFrames = kStreamRate * 120 / 1000;
// RFC 6716 section 2.1.4: the shortest Opus frame is 2.5 ms.
inline constexpr std::uint32_t kMinPacketFrames = kStreamRate * 25 / 10000;
// Samples a packet record holds, all channels together: the longest Opus
// packet in stereo, so that memory does not grow with the channel count. A
// record of C channels holds kRecordSamples / C frames (30 ms of 8 channels
// at 48 kHz, 15 ms at 96 kHz: far more than AES67's 1 ms packets or an
// MTU's worth); a longer PCM packet is counted invalid.
inline constexpr std::uint32_t kRecordSamples = kMaxPacketFrames * 2;
// Stream formats net may have away from home at once (core::Message swap):
// the one audio plays and those it has not taken yet. More changes while
// audio takes none (JACK gone) wait in net, the latest replacing the rest.
inline constexpr std::size_t kMaxFormatsOut = 4;
// Largest latency the command line accepts; sizes the record pool.
inline constexpr double kMaxLatencyMs = 2000.0;
// Short fades that hide the edges of silence.
inline constexpr double kFadeMs = 1.0;
// How often the net context drains returned records and statuses when
// nothing else wakes it. Every datagram and every repair deadline drains
// them too, so this only bounds how stale they get in a pause: a short tick
// (a few ms) would be most of the net thread's CPU at 20 ms packets.
inline constexpr std::uint32_t kNetTickUs = 50000;
// A locked sender that has sent nothing for this long (or four packet
// durations, if longer) no longer holds the lock: another SSRC, or another
// payload type, takes over at once (a sender restart). Shorter silences
// mean a second sender is talking over a live one: it is ignored.
inline constexpr std::uint32_t kStreamIdleMs = 100;
// Net fills a missing packet's place this long before audio needs it: room
// for the net thread's wake-up latency and for a JACK server whose cycles
// come early after running late (2 ms was not always enough with in-band
// FEC on a busy VM: tests/integration/impair_test.sh).
inline constexpr std::uint32_t kConcealMarginUs = 3000;
// A packet that arrives after its place was concealed is decoded in place
// of the concealment (from the decoder's state before it) if audio will
// take it in at least this long before the callback that may play it
// begins: the decode's time (StreamReceiver::rescue).
inline constexpr std::uint32_t kRescueMarginUs = 500;
// Out-of-order packets net holds until the gap before them closes.
inline constexpr std::size_t kHeldPackets = 64;
inline constexpr std::size_t kMaxHeldBytes = 4000;
// Sources on probation (RFC 3550 A.1), and the most of a candidate's first
// datagram kept for replay once its successor confirms it.
inline constexpr std::size_t kProbationSlots = 64;
inline constexpr std::size_t kMaxDatagramBytes = 4096;
// ...and how far apart (sequence numbers, either way) two packets may be to
// confirm their source.
inline constexpr int kProbationSeqWindow = 16;
// Sequence jumps beyond this many packets are a sender restart, not loss.
inline constexpr std::int64_t kMaxSeqJump = 3000;
// Timestamp jumps beyond this are a sender restart (at the stream's rate).
inline constexpr std::int64_t kMaxTimestampJumpS = 60;
// Longest gap the net context fills with concealment; longer gaps are left
// to the audio context, which fades to silence.
inline constexpr double kMaxConcealMs = 100;
// Concealment plays at full level this long, then fades to silence by
// kMaxConcealMs: a long run is a long outage or a stream that ended, and
// extrapolating a sound further only makes something up.
inline constexpr double kConcealFullMs = 40;
// Stream rates played: RFC 7587's 48 kHz for Opus; for L16/L24 (RFC 3551
// section 4.5.11, RFC 3190) 44.1 kHz (CD, PipeWire's default), 48 kHz
// (AES67) and 96 kHz (AES67's high rate). Buffers that hold stream time
// are sized for the highest.
inline constexpr std::uint32_t kMaxStreamRate = 96000;

}  // namespace core::defaults
