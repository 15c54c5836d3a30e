#include "net/stream_receiver.hpp"

#include <algorithm>
#include <cassert>
#include <cstdlib>

#include "core/defaults.hpp"
#include "net/rtp_packet.hpp"
#include "net/unwrap.hpp"

namespace net {

namespace d = core::defaults;

StreamReceiver::StreamReceiver(const StreamConfig& config, core::RecordPool& pool,
                               core::SpscQueue<core::ToAudio>& to_audio,
                               core::SpscQueue<core::ToNet>& from_audio)
    : config_(config),
      pool_(pool),
      to_audio_(to_audio),
      from_audio_(from_audio),
      decoder_(config.channels) {
  recent_.fill(-1);
}

void StreamReceiver::on_datagram(std::span<const std::uint8_t> data,
                                 std::int64_t arrival_ns) noexcept {
  ++stats_.datagrams_received;
  RtpPacket p;
  const RtpError err = parse_rtp(data, p);
  if (err == RtpError::Rtcp) {
    ++stats_.rtcp_received;
    return;
  }
  if (err != RtpError::None) {
    ++stats_.packets_invalid;
    return;
  }
  if (config_.payload_type >= 0 && p.payload_type != config_.payload_type) {
    ++stats_.packets_foreign;
    return;
  }

  const bool ours =
      stats_.locked && p.ssrc == stats_.ssrc && p.payload_type == stats_.payload_type;
  const std::int64_t idle_ns = std::int64_t{d::kStreamIdleMs} * 1'000'000;
  if (stats_.locked && !ours && arrival_ns - last_arrival_ns_ < idle_ns) {
    // Another sender while ours is live: ignore it (stream identity).
    ++stats_.packets_foreign;
    return;
  }

  // The Opus TOC and frame lengths must hold before the packet can lock or
  // reach the decoder (RFC 6716 section 3.4).
  const int packet_frames = OpusStreamDecoder::packet_frames(p.payload);
  if (packet_frames <= 0 || packet_frames > static_cast<int>(d::kMaxPacketFrames)) {
    ++stats_.packets_invalid;
    return;
  }

  if (!ours) {
    lock_stream(p.ssrc, p.payload_type, p.seq, p.timestamp);
  } else {
    const std::int64_t s = unwrap<16>(p.seq, highest_seq_);
    const std::int64_t t = unwrap<32>(p.timestamp, highest_ts_);
    // A jump far outside any reorder window is the sender starting over
    // with the same SSRC (RFC 3550 A.1 treats it as a restart too).
    if (std::llabs(s - highest_seq_) > d::kMaxSeqJump ||
        std::llabs(t - highest_ts_) > d::kMaxTimestampJump)
      lock_stream(p.ssrc, p.payload_type, p.seq, p.timestamp);
  }

  const std::int64_t ext_seq = unwrap<16>(p.seq, highest_seq_);
  const std::int64_t ext_ts = unwrap<32>(p.timestamp, highest_ts_);
  ++stats_.packets_received;
  last_arrival_ns_ = arrival_ns;

  if (ext_seq <= highest_seq_) {
    if (seen(ext_seq)) {
      ++stats_.packets_duplicate;
      return;
    }
    // Its place was already concealed when the later packet arrived.
    mark_seen(ext_seq);
    ++unique_received_;
    ++stats_.packets_reordered;
    ++stats_.packets_late;
    update_jitter(ext_ts, arrival_ns);
    return;
  }

  update_jitter(ext_ts, arrival_ns);
  const std::int64_t missing = ext_seq - highest_seq_ - 1;
  highest_seq_ = ext_seq;
  highest_ts_ = ext_ts;
  mark_seen(ext_seq);
  ++unique_received_;

  std::int64_t pos = ext_ts + ts_offset_;
  if (pos < next_pos_) {
    // The timestamp says this audio overlaps what was already decoded, but
    // the decoder's output is contiguous: keep it so. GStreamer's
    // rtpopuspay does this on its first step (648 instead of 960).
    ts_offset_ += next_pos_ - pos;
    pos = next_pos_;
  }
  if (missing > 0 && pos > next_pos_) conceal(pos - next_pos_);
  // A timestamp jump without loss (DTX, a paused sender) stays a gap in the
  // timeline; audio plays silence through it.

  core::PacketRecord* r = pool_.acquire();
  if (r == nullptr) {
    ++stats_.pool_exhausted;
    next_pos_ = pos + packet_frames;
    return;
  }
  const int n = decoder_.decode(p.payload, r->pcm, static_cast<int>(d::kMaxPacketFrames));
  if (n <= 0) {
    [[maybe_unused]] const bool ok = pool_.release(r);
    assert(ok && "stream_receiver: record came from the pool");
    ++stats_.packets_invalid;
    next_pos_ = pos + packet_frames;
    return;
  }
  r->seq = ext_seq;
  r->timestamp = pos;
  r->arrival_ns = arrival_ns;
  r->frames = static_cast<std::uint32_t>(n);
  r->epoch = epoch_;
  r->kind = core::PacketRecord::Kind::Decoded;
  stats_.packet_frames = r->frames;
  next_pos_ = pos + n;
  link(r);
}

void StreamReceiver::lock_stream(std::uint32_t ssrc, std::uint8_t pt, std::uint16_t seq,
                                 std::uint32_t ts) noexcept {
  if (stats_.locked) {
    ++stats_.stream_resets;
    lost_before_ = stats().net.packets_lost;
  }
  ++epoch_;
  if (!to_audio_.try_push(core::ToAudio{core::ToAudio::Kind::Reset, epoch_, nullptr})) {
    // Only Link/Reset/SetTarget travel this way and the queue holds a whole
    // pool's worth of records more than that: a full queue here is a bug.
    assert(false && "stream_receiver: no room for Reset");
    ++stats_.queue_full;
  }
  decoder_.reset();
  stats_.locked = true;
  stats_.ssrc = ssrc;
  stats_.payload_type = pt;
  base_seq_ = seq;
  highest_seq_ = std::int64_t{seq} - 1;
  highest_ts_ = ts;
  ts_offset_ = -std::int64_t{ts};  // stream positions of an epoch start at 0
  next_pos_ = 0;
  unique_received_ = 0;
  have_transit_ = false;
  recent_.fill(-1);
}

void StreamReceiver::update_jitter(std::int64_t ext_ts, std::int64_t arrival_ns) noexcept {
  // RFC 3550 A.8: J += (|D| - J) / 16, with D the change in relative transit
  // time, all in RTP timestamp units.
  const double arrival = static_cast<double>(arrival_ns) * (d::kStreamRate / 1e9);
  const double transit = arrival - static_cast<double>(ext_ts);
  if (have_transit_) {
    const double dd = std::abs(transit - transit_);
    stats_.jitter_frames += (dd - stats_.jitter_frames) / 16.0;
  }
  transit_ = transit;
  have_transit_ = true;
}

void StreamReceiver::conceal(std::int64_t frames) noexcept {
  // Opus PLC continues the last frame's spectrum and fades by itself; past
  // kMaxConcealFrames the audio context plays silence instead.
  constexpr std::int64_t kQuantum = d::kMinPacketFrames;  // PLC works in 2.5 ms steps
  std::int64_t left = std::min<std::int64_t>(frames, d::kMaxConcealFrames);
  const std::int64_t chunk = std::max<std::int64_t>(kQuantum, stats_.packet_frames);
  while (left >= kQuantum) {
    const std::int64_t want = std::min(chunk, left) / kQuantum * kQuantum;
    core::PacketRecord* r = pool_.acquire();
    if (r == nullptr) {
      ++stats_.pool_exhausted;
      return;
    }
    const int n = decoder_.conceal(r->pcm, static_cast<int>(want));
    if (n <= 0) {
      [[maybe_unused]] const bool ok = pool_.release(r);
      assert(ok && "stream_receiver: record came from the pool");
      return;
    }
    r->seq = -1;
    r->timestamp = next_pos_;
    r->arrival_ns = 0;
    r->frames = static_cast<std::uint32_t>(n);
    r->epoch = epoch_;
    r->kind = core::PacketRecord::Kind::Concealed;
    ++stats_.frames_concealed;
    next_pos_ += n;
    left -= n;
    link(r);
  }
}

void StreamReceiver::link(core::PacketRecord* r) noexcept {
  if (!to_audio_.try_push(core::ToAudio{core::ToAudio::Kind::Link, 0, r})) {
    ++stats_.queue_full;
    [[maybe_unused]] const bool ok = pool_.release(r);
    assert(ok && "stream_receiver: record came from the pool");
  }
}

bool StreamReceiver::seen(std::int64_t ext_seq) const noexcept {
  return recent_[static_cast<std::size_t>(ext_seq) % recent_.size()] == ext_seq;
}

void StreamReceiver::mark_seen(std::int64_t ext_seq) noexcept {
  recent_[static_cast<std::size_t>(ext_seq) % recent_.size()] = ext_seq;
}

void StreamReceiver::drain_audio() noexcept {
  while (auto m = from_audio_.try_pop()) {
    if (m->kind == core::ToNet::Kind::Unlink) {
      [[maybe_unused]] const bool ok = pool_.release(m->record);
      assert(ok && "stream_receiver: audio returned a record that is not out");
    } else {
      audio_ = m->status;
    }
  }
}

StatsSnapshot StreamReceiver::stats() const noexcept {
  StatsSnapshot s;
  s.net = stats_;
  if (stats_.locked) {
    // RFC 3550 A.3: expected = extended highest - base + 1.
    const std::int64_t expected = highest_seq_ - base_seq_ + 1;
    const std::int64_t lost = expected - static_cast<std::int64_t>(unique_received_);
    s.net.packets_lost = lost_before_ + static_cast<std::uint64_t>(std::max<std::int64_t>(lost, 0));
  }
  s.audio = audio_;
  s.net.packets_late += s.audio.records_late;
  return s;
}

}  // namespace net
