#include "net/stream_receiver.hpp"

#include <cassert>
#include <cstdlib>

#include "core/defaults.hpp"

namespace net {

namespace d = core::defaults;

StreamReceiver::StreamReceiver(const StreamConfig& config, core::RecordPool& pool,
                               core::SpscQueue<core::Message>& to_audio,
                               core::SpscQueue<core::Message>& from_audio,
                               core::Mailbox<core::StreamModel>& model,
                               core::Mailbox<core::AudioStatus>& status)
    : config_(config),
      pool_(pool),
      to_audio_(to_audio),
      from_audio_(from_audio),
      model_out_(model),
      status_in_(status),
      lock_({config.payload_type, config.probation}),
      tuner_(config.latency),
      format_(config.format),
      payload_type_(config.payload_type),
      decoder_(make_payload_decoder(config.format, stream_format(config.format, config.channels).channels)),
      depack_(*decoder_, config.format.rate, pool, to_audio, schedule_, tuner_, stats_) {
  counter_.set_rate(rate());
  clock_.set_rate(rate());
  tuner_.set_rate(rate());
  publish();  // the target, before any stream
}

void StreamReceiver::on_datagram(std::span<const std::uint8_t> data, std::int64_t arrival_ns,
                                 std::int64_t now_ns) noexcept {
  ++stats_.datagrams_received;
  if (format_waiting_) {
    // Audio has not taken the formats already sent (JACK is gone): the
    // stream waits for it to take this one.
    ++stats_.queue_full;
    return;
  }
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
  if (!lock_.accepts(p, now_ns)) return;
  // The payload must hold (for Opus: the TOC and frame lengths, RFC 6716
  // section 3.4) before the packet can lock or reach the decoder.
  const int frames = decoder_->frames_in(p.payload);
  if (frames <= 0 || frames > static_cast<int>(depack_.max_frames())) {
    ++stats_.packets_invalid;
    return;
  }
  const SourceLock::Admission a = lock_.admit(p, data, lock_.ours(p) && !far_jump(p), arrival_ns);
  for (std::size_t i = 0; i < static_cast<std::size_t>(a.count); ++i)
    take(a.packets[i], a.ours[i], a.arrival_ns[i], now_ns);
}

bool StreamReceiver::far_jump(const RtpPacket& p) const noexcept {
  // A jump far outside any reorder window is the sender starting over with
  // the same SSRC (RFC 3550 A.1 treats it as a restart too), once its
  // successor confirms it.
  return std::llabs(counter_.extend_seq(p.seq) - counter_.highest_seq()) > d::kMaxSeqJump ||
         std::llabs(counter_.extend_ts(p.timestamp) - counter_.highest_ts()) > d::kMaxTimestampJumpS * rate();
}

void StreamReceiver::take(const RtpPacket& p, bool ours, std::int64_t arrival_ns,
                          std::int64_t now_ns) noexcept {
  if (!ours) lock_stream(p);
  const auto frames = static_cast<std::uint32_t>(decoder_->frames_in(p.payload));
  const std::int64_t seq = counter_.extend_seq(p.seq);
  const std::int64_t ts = counter_.extend_ts(p.timestamp);
  ++stats_.packets_received;
  lock_.heard(now_ns, std::int64_t{frames} * 1'000'000'000 / rate());
  if (counter_.duplicate(seq)) {
    ++stats_.packets_duplicate;
    service(now_ns);
    return;
  }
  if (!counter_.arrived(seq, ts, arrival_ns)) ++stats_.packets_reordered;
  depack_.push(p.payload, seq, ts, frames, now_ns);
  // Where the sender's timeline puts it (after the depacketizer corrected a
  // sender's overlapping first timestamps); net's own stretches do not move
  // the network's lateness, nor the sender's clock. Lateness is on JACK's
  // timeline: a packet of a sender that stalled with JACK is no later for
  // it; the backlog of one that did not, playout skips.
  const std::int64_t sender_pos = ts + depack_.offset() - depack_.stretched();
  tuner_.on_arrival(sender_pos, arrival_ns, schedule_.status());
  clock_.observe(sender_pos, arrival_ns, schedule_.status());
  if (trace_ != nullptr) {
    const ClockTraceRecord r{epoch_, rate(), sender_pos, arrival_ns, schedule_.status()};
    std::fwrite(&r, sizeof r, 1, trace_);
  }
  depack_.take_moved();
  publish();
  service(now_ns);
}

void StreamReceiver::lock_stream(const RtpPacket& p) noexcept {
  if (lock_.locked()) ++stats_.stream_resets;
  ++epoch_;
  lock_.lock(p.ssrc, p.payload_type);
  counter_.restart(p.seq, p.timestamp);
  depack_.restart(epoch_, p.seq, p.timestamp);
  tuner_.reset();
  sender_steps_ += clock_.system().steps();
  clock_.reset();
  // The new epoch reaches audio before any record of it (records of an
  // epoch audio has not seen wait for nothing: they go home).
  publish();
}

void StreamReceiver::set_format(const PayloadFormat& format, int payload_type) {
  if (format == format_ && payload_type == payload_type_) return;
  // Net's side at once: a decoder for the new format (the depacketizer's
  // repair stage with it), and every stage's rate.
  auto decoder = make_payload_decoder(format, stream_format(format, config_.channels).channels);
  depack_.set_payload(*decoder, format.rate);
  decoder_ = std::move(decoder);
  format_ = format;
  stats_.packet_frames = 0;  // no packet of this format yet
  counter_.set_rate(format.rate);
  sender_steps_ += clock_.system().steps();
  clock_.set_rate(format.rate);
  tuner_.set_rate(format.rate);
  lock_.set_payload_type(payload_type);
  payload_type_ = payload_type;
  // A new stream: what was locked, held or due to be repaired is the old
  // format's and is not decoded again; the source locks afresh.
  lock_.release();
  ++epoch_;
  depack_.restart(epoch_, 0, 0);
  format_waiting_ = true;
  send_format();
  publish();
}

void StreamReceiver::send_format() noexcept {
  // The swap pattern: ahead of any record of the new stream on the same
  // queue, so audio installs it before it reads one. The queue has room
  // for every format away.
  for (std::size_t i = 0; i < formats_.size(); ++i) {
    if (away_[i]) continue;
    formats_[i] = std::make_unique<core::StreamFormat>(stream_format(format_, config_.channels));
    [[maybe_unused]] const bool sent = to_audio_.try_push(core::Message::swap(formats_[i].get()));
    assert(sent && "stream_receiver: no room for a format on the way to audio");
    away_[i] = true;
    format_waiting_ = false;
    return;
  }
}

void StreamReceiver::format_home(core::StreamFormat* f) noexcept {
  // Audio plays another one now: this one is destroyed here, where it was
  // made.
  for (std::size_t i = 0; i < formats_.size(); ++i)
    if (formats_[i].get() == f) {
      formats_[i].reset();
      away_[i] = false;
      return;
    }
  assert(false && "stream_receiver: audio returned a format net did not make");
}

void StreamReceiver::service(std::int64_t now_ns) noexcept {
  tune(now_ns);
  depack_.fill_due(now_ns, lock_.heard_ns());
  if (depack_.take_moved()) publish();
}

void StreamReceiver::tune(std::int64_t now_ns) noexcept {
  const std::uint32_t before = tuner_.target_frames();
  if (!tuner_.update(schedule_.status(), now_ns)) return;
  const std::uint32_t after = tuner_.target_frames();
  if (after > before) depack_.grow(after - before, now_ns);
  publish();
}

void StreamReceiver::publish() noexcept {
  // Mutate target state, by the latest value: audio takes the newest model
  // at its next callback, and nothing is ever lost to a full queue.
  model_.epoch = epoch_;
  model_.target_frames = tuner_.target_frames();
  model_.stretched_frames = depack_.stretched();
  model_.clock = lock_.locked() && clock_.valid();
  if (model_.clock) {
    // Referred to the newest packet's place: the model is extrapolated
    // least there.
    const std::int64_t x = counter_.highest_ts() + depack_.offset() - depack_.stretched();
    model_.ref_pos = x + depack_.stretched();
    const core::ClockEstimator& clock = clock_.model();
    model_.jack_timeline = clock_.on_jack();
    model_.ref_ns = clock.time_of(x);
    model_.ns_per_frame = clock_.ns_per_frame();
    model_.clock_uncertainty_ppm = clock.uncertainty_ppm();
  }
  model_.stalls_heard = clock_.stalls_heard();
  model_.stall_shared = clock_.stall_shared();
  model_out_.publish(model_);
}

void StreamReceiver::drain_audio() noexcept {
  while (auto m = from_audio_.try_pop()) {
    if (m->format != nullptr) {
      format_home(m->format);
      continue;
    }
    [[maybe_unused]] const bool ok = pool_.release(m->record);
    assert(ok && "stream_receiver: audio returned a record that is not out");
  }
  if (format_waiting_) send_format();
  if (const core::AudioStatus* s = status_in_.take()) {
    schedule_.update(*s);
    depack_.on_status();
  }
}

StatsSnapshot StreamReceiver::stats() const noexcept {
  StatsSnapshot s;
  s.net = stats_;
  s.net.locked = lock_.locked();
  s.net.ssrc = lock_.ssrc();
  s.net.payload_type = lock_.payload_type();
  s.net.packets_foreign += lock_.foreign();
  s.net.packets_lost = counter_.lost();
  s.net.jitter_frames = counter_.jitter();
  s.net.stream_rate = rate();
  s.audio = schedule_.status();
  s.net.packets_late += s.audio.records_late;
  s.net.packets_rescued = s.audio.records_rescued;
  s.net.packets_concealed = depack_.concealed_shown();
  s.net.sender_steps = sender_steps_ + clock_.system().steps();
  s.net.sender_clock_ppm = model_.clock ? clock_.system().deviation_ppm() : 0;
  s.net.sender_on_jack = model_.clock && model_.jack_timeline;
  s.net.recommended_frames = tuner_.recommended_frames();
  s.net.lateness_frames = tuner_.peak_lateness_frames();
  s.net.target_changes = tuner_.changes();
  s.net.latency_auto = config_.latency.adaptive;
  return s;
}

ReceptionState StreamReceiver::reception() const noexcept {
  ReceptionState r;
  r.locked = lock_.locked();
  r.ssrc = lock_.ssrc();
  r.epoch = epoch_;
  r.base_seq = counter_.base_seq();
  r.highest_seq = counter_.highest_seq();
  r.received = counter_.received();
  r.packets = stats_.packets_received;
  r.rate = rate();
  r.jitter = counter_.jitter();
  r.highest_ts = counter_.highest_ts();
  r.ts_offset = depack_.offset();
  return r;
}

}  // namespace net
