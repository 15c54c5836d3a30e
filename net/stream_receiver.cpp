#include "net/stream_receiver.hpp"

#include <algorithm>
#include <cassert>
#include <climits>
#include <cstdlib>
#include <cstring>

#include "net/rtp_packet.hpp"
#include "net/unwrap.hpp"

namespace net {

namespace d = core::defaults;

namespace {
constexpr std::int64_t kQuantum = d::kMinPacketFrames;  // Opus works in 2.5 ms steps
constexpr std::int64_t kNsPerSec = 1'000'000'000;
}  // namespace

StreamReceiver::StreamReceiver(const StreamConfig& config, core::RecordPool& pool,
                               core::SpscQueue<core::PacketRecord*>& to_audio,
                               core::SpscQueue<core::PacketRecord*>& from_audio,
                               core::Mailbox<core::StreamModel>& model,
                               core::Mailbox<core::AudioStatus>& status)
    : config_(config),
      pool_(pool),
      to_audio_(to_audio),
      from_audio_(from_audio),
      model_out_(model),
      status_in_(status),
      lock_({config.payload_type, config.probation}),
      decoder_(config.channels),
      concealer_(config.channels, d::kStreamRate),
      tuner_(config.latency) {
  recent_.fill(INT64_MIN);  // no real extended sequence number
  publish();  // the target, before any stream
}

void StreamReceiver::on_datagram(std::span<const std::uint8_t> data, std::int64_t arrival_ns,
                                 std::int64_t now_ns) noexcept {
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
  if (!lock_.accepts(p, now_ns)) return;

  // The Opus TOC and frame lengths must hold before the packet can lock or
  // reach the decoder (RFC 6716 section 3.4).
  const int packet_frames = OpusStreamDecoder::packet_frames(p.payload);
  if (packet_frames <= 0 || packet_frames > static_cast<int>(d::kMaxPacketFrames)) {
    ++stats_.packets_invalid;
    return;
  }

  bool ours = lock_.ours(p);
  if (ours) {
    const std::int64_t s = unwrap<16>(p.seq, highest_seq_);
    const std::int64_t t = unwrap<32>(p.timestamp, highest_ts_);
    // A jump far outside any reorder window is the sender starting over
    // with the same SSRC (RFC 3550 A.1 treats it as a restart too), once
    // its successor confirms it.
    if (std::llabs(s - highest_seq_) > d::kMaxSeqJump ||
        std::llabs(t - highest_ts_) > d::kMaxTimestampJump)
      ours = false;
  }
  const SourceLock::Admission a = lock_.admit(p, data, ours, arrival_ns);
  for (int i = 0; i < a.count; ++i) {
    const RtpPacket& q = a.packets[static_cast<std::size_t>(i)];
    take(q, OpusStreamDecoder::packet_frames(q.payload), a.ours[static_cast<std::size_t>(i)],
         a.arrival_ns[static_cast<std::size_t>(i)], now_ns);
  }
}

void StreamReceiver::take(const RtpPacket& p, int packet_frames, bool ours, std::int64_t arrival_ns,
                          std::int64_t now_ns) noexcept {
  if (!ours) lock_stream(p.ssrc, p.payload_type, p.seq, p.timestamp);

  const std::int64_t seq = unwrap<16>(p.seq, highest_seq_);
  const std::int64_t ts = unwrap<32>(p.timestamp, highest_ts_);
  ++stats_.packets_received;
  lock_.heard(now_ns, static_cast<std::uint32_t>(packet_frames));
  now_ns_ = now_ns;

  if (seen(seq)) {
    ++stats_.packets_duplicate;
    service(now_ns);
    return;
  }
  mark_seen(seq);
  ++unique_received_;
  update_jitter(ts, arrival_ns);
  if (seq > highest_seq_) {
    highest_seq_ = seq;
    highest_ts_ = ts;
  } else {
    ++stats_.packets_reordered;
  }

  const auto frames = static_cast<std::uint32_t>(packet_frames);
  if (seq < next_seq_) {
    ++stats_.packets_late;  // its place was filled (concealed) already
  } else if (seq == next_seq_) {
    decode_in_order(p.payload, seq, ts, frames);
    release_ready();
  } else {
    hold(p.payload, seq, ts, frames, now_ns);
  }
  // Where the sender's timeline puts it (after decode_in_order corrected a
  // sender's overlapping first timestamps); net's own stretches do not move
  // the network's lateness, nor the sender's clock.
  // Lateness on JACK's timeline: a packet of a sender that stalled with
  // JACK is no later for it; the backlog of one that did not, playout
  // skips.
  tuner_.on_packet(ts + ts_offset_ - stretched_, SenderClock::jack_time(arrival_ns, audio_));
  clock_.observe(ts + ts_offset_ - stretched_, arrival_ns, audio_);
  publish();
  service(now_ns);
}

void StreamReceiver::publish() noexcept {
  // Mutate target state, by the latest value: audio takes the newest model
  // at its next callback, and nothing is ever lost to a full queue.
  model_.epoch = epoch_;
  model_.target_frames = tuner_.target_frames();
  model_.stretched_frames = stretched_;
  model_.clock = stats_.locked && clock_.valid();
  if (model_.clock) {
    // Referred to the newest packet's place: the model is extrapolated
    // least there.
    const std::int64_t x = highest_ts_ + ts_offset_ - stretched_;
    model_.ref_pos = x + stretched_;
    const core::ClockEstimator& clock = clock_.model();
    model_.jack_timeline = clock_.on_jack();
    model_.ref_ns = clock.time_of(x);
    model_.ns_per_frame = clock.ns_per_frame();
    model_.clock_uncertainty_ppm = clock.uncertainty_ppm();
  }
  model_out_.publish(model_);
}

void StreamReceiver::on_timer(std::int64_t now_ns) noexcept { service(now_ns); }

void StreamReceiver::service(std::int64_t now_ns) noexcept {
  now_ns_ = now_ns;
  tune(now_ns);
  // Bounded: each step fills at least 2.5 ms or moves past a held packet.
  for (int i = 0; i < 512 && gap_due() <= now_ns; ++i) {
    // Deadlines assume JACK's callbacks come on schedule after audio's
    // latest status. When the next one is overdue, the server has stalled
    // (or lost time): audio's cursor stands still, and so does the sender
    // when it runs in the same JACK graph. Filling a gap that only a later
    // callback needs would make the packet that is merely waiting with it
    // late: wait for the next status instead (the timer looks again every
    // millisecond). The next callback's own needs are still met.
    if (audio_overdue(now_ns) && need_time(next_pos_) > audio_.schedule_ns + audio_.period_ns) break;
    fill_one();
  }
}

bool StreamReceiver::audio_overdue(std::int64_t now_ns) const noexcept {
  // Audio pushes a status every callback, and net takes them in before
  // each look: none for one and a half periods (plus wake-up slack) means
  // the callback after the latest has not run.
  constexpr std::int64_t kSlackNs = 500'000;
  return audio_.playing && audio_.epoch == epoch_ && audio_.period_ns > 0 &&
         now_ns - audio_.schedule_ns > audio_.period_ns + audio_.period_ns / 2 + kSlackNs;
}

void StreamReceiver::tune(std::int64_t now_ns) noexcept {
  const std::uint32_t before = tuner_.target_frames();
  if (tuner_.update(audio_, now_ns)) {
    // Growth is wanted now (packets came late, or the buffer ran dry):
    // while audio plays, insert the difference as concealment where the
    // stream has got to, and shift what follows by as much, so the buffer
    // is deeper at once, at the cost of one concealment. Steering alone
    // would take seconds, with a late packet concealed every few. Beyond
    // what concealment can make at full level, steering does the rest.
    const std::uint32_t after = tuner_.target_frames();
    if (after > before && audio_.playing && audio_.epoch == epoch_ && last_frames_ > 0) {
      const std::uint32_t room = conceal_run_ < d::kConcealFullFrames ? d::kConcealFullFrames - conceal_run_ : 0;
      const auto want = static_cast<std::uint32_t>(
          std::min<std::int64_t>((after - before + kQuantum - 1) / kQuantum * kQuantum, room / kQuantum * kQuantum));
      if (want > 0) stretch(want);
    }
    publish();
  }
}

core::PacketRecord* StreamReceiver::concealed_record(std::uint32_t frames) noexcept {
  core::PacketRecord* r = pool_.acquire();
  if (r == nullptr) {
    ++stats_.pool_exhausted;
    return nullptr;
  }
  const int n = decoder_.conceal(r->pcm, static_cast<int>(frames));
  if (n <= 0) {
    [[maybe_unused]] const bool ok = pool_.release(r);
    assert(ok && "stream_receiver: record came from the pool");
    return nullptr;
  }
  if (concealer_.active()) concealer_.render(next_pos_, r->pcm, n);
  r->seq = -1;
  r->timestamp = next_pos_;
  r->frames = static_cast<std::uint32_t>(n);
  r->epoch = epoch_;
  r->kind = core::PacketRecord::Kind::Concealed;
  return r;
}

std::uint32_t StreamReceiver::stretch(std::uint32_t frames) noexcept {
  if (conceal_run_ == 0) begin_run();
  core::PacketRecord* r = concealed_record(frames);
  if (r == nullptr) return 0;
  const auto n = static_cast<std::int64_t>(r->frames);
  next_pos_ += n;
  ts_offset_ += n;  // everything not yet made moves later by as much
  stretched_ += n;
  conceal_run_ += static_cast<std::uint32_t>(n);
  rescue_pos_ = -1;  // the timeline moved: a late packet no longer lands where the run began
  stats_.frames_stretched += static_cast<std::uint64_t>(n);
  link(r);
  return static_cast<std::uint32_t>(n);
}

bool StreamReceiver::rescue() noexcept {
  // Audio takes in what net links at the start of each callback: a record
  // linked before the callback that may render its first sample begins
  // (need_time) is in time to replace the concealment there, unplayed.
  // The margin covers the decode. Before playout starts nothing has played.
  const std::int64_t need = need_time(rescue_pos_);
  if (need != INT64_MAX && now_ns_ > need - std::int64_t{d::kRescueMarginUs} * 1000) return false;
  // The run's concealment was made for a packet that did come: counted as
  // concealment now, and audio counts it rescued when it replaces it (the
  // stats show the difference: concealment that played).
  stats_.frames_concealed += conceal_unconfirmed_;
  conceal_unconfirmed_ = 0;
  decoder_.restore();
  rewind_to(rescue_pos_);
  return true;
}

void StreamReceiver::rewind_to(std::int64_t pos) noexcept {
  // The timeline goes back over concealment audio holds: what net makes
  // again below rescued_until_ replaces records that were counted.
  rescued_until_ = std::max(rescued_until_, next_pos_);
  next_pos_ = pos;
  conceal_run_ = 0;
  rescue_pos_ = -1;
  // What is made next replaces the run from its start (rescue), or goes on
  // with it (a late packet's resync: begin() repeats the same history).
  concealer_.end();
}

void StreamReceiver::resync_after_late(std::span<const std::uint8_t> payload, std::int64_t seq,
                                       std::int64_t pos) noexcept {
  // Too late to replace its own concealment, which plays. But net may have
  // concealed the places after it too (with a small target it conceals
  // ahead of every packet of a sender's late phase), and the packets for
  // those can only replace them (rescue) as the successor of the packet
  // decoded last: otherwise one late packet makes every packet after it
  // late as well, a run of concealment fading to silence until one comes
  // before its own deadline. So decode it, for the decoder's
  // state only, from where the run began, and take the timeline back to
  // its end: what follows is made again over the concealment audio holds
  // (rescued_until_), while that has not begun to play.
  if (rescue_pos_ < 0 || rescue_pos_ > pos || conceal_run_ == 0) return;
  const std::int64_t need = need_time(pos + last_frames_);
  if (need == INT64_MAX || now_ns_ > need - std::int64_t{d::kRescueMarginUs} * 1000) return;
  core::PacketRecord* r = pool_.acquire();
  if (r == nullptr) return;  // not counted: the packet was, and nothing is lost but this repair
  decoder_.restore();
  const int n = decoder_.decode(payload, r->pcm, static_cast<int>(d::kMaxPacketFrames));
  [[maybe_unused]] const bool ok = pool_.release(r);
  assert(ok && "stream_receiver: record came from the pool");
  if (n <= 0) {
    // The decoder is back where the run began; the run goes on from there.
    decoder_.save();
    return;
  }
  rewind_to(pos + n);
  last_decoded_seq_ = seq;
  last_frames_ = static_cast<std::uint32_t>(n);
}

std::int64_t StreamReceiver::next_deadline() const noexcept { return gap_due(); }

std::int64_t StreamReceiver::need_time(std::int64_t pos) const noexcept {
  // Observer + cached state: audio's latest Status says where its cursor was
  // after the callback that began at schedule_ns. Callback m after it
  // renders up to cursor + mn, plus the chunk it may render ahead for the
  // converter, and begins at schedule_ns + m periods.
  if (!audio_.playing || audio_.epoch != epoch_ || audio_.period_frames == 0 || audio_.period_ns == 0)
    return INT64_MAX;
  const std::int64_t n = audio_.period_frames;
  const std::int64_t ahead = pos - audio_.cursor - audio_.render_ahead;
  const std::int64_t m = ahead < 0 ? 0 : ahead / n + 1;
  return audio_.schedule_ns + m * audio_.period_ns;
}

std::int64_t StreamReceiver::gap_due() const noexcept {
  if (!stats_.locked || last_frames_ == 0) return INT64_MAX;
  const HeldPacket* h = held_.earliest();
  const bool can_conceal = conceal_run_ < d::kMaxConcealFrames;
  if (h == nullptr && !can_conceal) return INT64_MAX;
  // Concealment gave up on this gap: nothing is gained by waiting for it.
  if (h != nullptr && !can_conceal) return 0;
  // Due before the callback that may render the gap's first sample.
  const std::int64_t need = need_time(next_pos_);
  if (need != INT64_MAX) return need - std::int64_t{d::kConcealMarginUs} * 1000;
  // Before playout starts (or while audio is silent) there is no deadline:
  // give a missing packet the target latency to turn up.
  if (h == nullptr) return INT64_MAX;
  return h->received_ns + std::int64_t{tuner_.target_frames()} * kNsPerSec / d::kStreamRate;
}

void StreamReceiver::fill_one() noexcept {
  HeldPacket* h = held_.earliest();
  if (h != nullptr) {
    const std::int64_t pos = h->ts + ts_offset_;
    const std::int64_t span = pos - next_pos_;
    if (span <= 0 || conceal_run_ >= d::kMaxConcealFrames) {
      skip_to(*h);  // filled up to it already, or too long a gap to conceal
      return;
    }
    // One packet's worth left before the held one (the last of a run of
    // losses, or the only one), and it carries that packet in its LBRR:
    // recover it rather than guess.
    if (h->lbrr && span <= h->frames && span % kQuantum == 0) {
      tuner_.on_loss_with_fec(h->frames);
      core::PacketRecord* r = pool_.acquire();
      if (r == nullptr) {
        ++stats_.pool_exhausted;
        skip_to(*h);
        return;
      }
      const bool blend = resume_after_run(next_pos_);
      const int n = decoder_.decode_fec(std::span<const std::uint8_t>(h->data.data(), h->size),
                                        r->pcm, static_cast<int>(span));
      if (n > 0) {
        resumed(next_pos_, blend, r->pcm, n);
        r->seq = next_seq_;
        r->timestamp = next_pos_;
              r->frames = static_cast<std::uint32_t>(n);
        r->epoch = epoch_;
        r->kind = core::PacketRecord::Kind::Fec;
        ++stats_.frames_fec;
        next_pos_ += n;
        link(r);
      } else {
        [[maybe_unused]] const bool ok = pool_.release(r);
        assert(ok && "stream_receiver: record came from the pool");
      }
      skip_to(*h);
      return;
    }
    const std::int64_t want = std::min<std::int64_t>(last_frames_, span) / kQuantum * kQuantum;
    if (want == 0 || !conceal(static_cast<std::uint32_t>(want))) skip_to(*h);
    return;
  }
  // Nothing after the gap has arrived yet: the packet is late or lost, or
  // the stream paused or ended, and its time has come. Conceal it (at the
  // end of a stream that is a short, natural fade-out).
  if (!conceal(last_frames_)) conceal_run_ = d::kMaxConcealFrames;  // no record: stop trying
}

bool StreamReceiver::conceal(std::uint32_t frames) noexcept {
  if (conceal_run_ == 0) {
    begin_run();
    rescue_pos_ = next_pos_;
  }
  core::PacketRecord* r = concealed_record(frames);
  if (r == nullptr) return false;
  const int n = static_cast<int>(r->frames);
  // Past kConcealFullFrames of one run, fade towards silence.
  const int ch = decoder_.channels();
  for (int i = 0; i < n; ++i) {
    const std::int64_t t = std::int64_t{conceal_run_} + i;
    if (t < d::kConcealFullFrames) continue;
    const float g = std::max(0.0f, 1.0f - static_cast<float>(t - d::kConcealFullFrames) /
                                              (d::kMaxConcealFrames - d::kConcealFullFrames));
    for (int c = 0; c < ch; ++c) r->pcm[i * ch + c] *= g;
  }
  // Counted when the run can no longer be replaced, not now: a packet
  // after it is held (a real loss) or not, the missing one may still come
  // and replace it (rescue(), then audio counts it rescued), and counted
  // now it would show as played concealment that never plays. Made again
  // after a rescue rewound the timeline, it replaces a concealment audio
  // holds, which was counted already.
  if (next_pos_ >= rescued_until_) ++conceal_unconfirmed_;
  next_pos_ += n;
  conceal_run_ += static_cast<std::uint32_t>(n);
  link(r);
  return true;
}

void StreamReceiver::begin_run() noexcept {
  // Keep the decoder as it is: rescue() and the audio after the run decode
  // from here. Periodic audio before the run is repeated in its place when
  // the stream has a SILK layer (RFC 6716 section 3.1): Opus's concealment
  // of SILK fades out within 40 ms. Its concealment of CELT-only frames is
  // a pitch repetition already, and holds the level.
  decoder_.save();
  if (silk_layer_) {
    concealer_.begin(next_pos_);
  } else {
    concealer_.end();
  }
}

bool StreamReceiver::resume_after_run(std::int64_t pos) noexcept {
  // Audio after a run of repetition at full level joins the repetition. It
  // is decoded from the decoder's state before the run: the codec's own
  // concealment, which did not play, decayed that state's energies, and its
  // next frames would glide up from them (Opus: 40-60 ms at -15 to +1 dB).
  // After a longer run (faded) it fades in from its own concealment.
  const bool blend = concealer_.active() && conceal_run_ <= d::kConcealFullFrames && pos == next_pos_;
  if (blend) decoder_.restore();
  return blend;
}

void StreamReceiver::resumed(std::int64_t pos, bool blend, float* pcm, int frames) noexcept {
  if (blend) {
    concealer_.blend_into(pos, pcm, frames);
  } else {
    concealer_.played(pos, pcm, frames);
  }
}

void StreamReceiver::skip_to(const HeldPacket& h) noexcept {
  next_seq_ = std::max(next_seq_, h.seq);
  release_ready();
}

void StreamReceiver::decode_in_order(std::span<const std::uint8_t> payload, std::int64_t seq,
                                     std::int64_t ts, std::uint32_t frames) noexcept {
  next_seq_ = seq + 1;
  std::int64_t pos = ts + ts_offset_;
  if (seq == last_decoded_seq_ + 1 && conceal_run_ > 0 && pos < next_pos_ && pos == rescue_pos_ &&
      rescue()) {
    // Late, but audio has not played the concealment made in its place:
    // decoded as if it had come in time, it replaces that concealment.
  } else if (seq == last_decoded_seq_ + 1 && conceal_run_ > 0 && pos < next_pos_ &&
      tuner_.absorb(static_cast<std::uint32_t>(next_pos_ - pos), lock_.heard_ns())) {
    // --latency auto: the packet after the last one decoded, late, its
    // place concealed. Play it after the concealment instead of dropping
    // it, and everything after it as much later: the concealment becomes a
    // stretch of the timeline, and the buffer is as much deeper, which is
    // what the network now needs.
    stats_.frames_stretched += static_cast<std::uint64_t>(next_pos_ - pos);
    ts_offset_ += next_pos_ - pos;
    stretched_ += next_pos_ - pos;
    pos = next_pos_;
    conceal_unconfirmed_ = 0;
    publish();
  }
  // Concealment with nothing after it was for a real loss if packets are
  // missing before this one or this one is late; not if the sender paused.
  if (seq != last_decoded_seq_ + 1 || pos < next_pos_) {
    // A loss its successor's FEC could have repaired, had it come in time.
    if (conceal_unconfirmed_ > 0 && seq != last_decoded_seq_ + 1 && OpusStreamDecoder::has_lbrr(payload))
      tuner_.on_loss_with_fec(frames);
    stats_.frames_concealed += conceal_unconfirmed_;
  }
  conceal_unconfirmed_ = 0;
  if (pos + frames <= next_pos_ && last_decoded_seq_ >= 0) {
    // Its whole place was concealed while it was on its way.
    ++stats_.packets_late;
    resync_after_late(payload, seq, pos);
    return;
  }
  if (pos < next_pos_ && seq == last_decoded_seq_ + 1 && conceal_run_ == 0) {
    // The timestamp says this audio overlaps the packet decoded just before,
    // but the decoder's output is contiguous: keep it so. GStreamer's
    // rtpopuspay does this on its first step (648 instead of 960).
    ts_offset_ += next_pos_ - pos;
    pos = next_pos_;
  }
  // A timestamp jump without loss (DTX, a paused sender) stays a hole in the
  // timeline; audio plays silence through it.

  core::PacketRecord* r = pool_.acquire();
  if (r == nullptr) {
    ++stats_.pool_exhausted;
    next_pos_ = std::max(next_pos_, pos + frames);
    return;
  }
  const bool blend = resume_after_run(pos);
  const int n = decoder_.decode(payload, r->pcm, static_cast<int>(d::kMaxPacketFrames));
  if (n <= 0) {
    [[maybe_unused]] const bool ok = pool_.release(r);
    assert(ok && "stream_receiver: record came from the pool");
    ++stats_.packets_invalid;
    return;
  }
  resumed(pos, blend, r->pcm, n);
  silk_layer_ = OpusStreamDecoder::has_silk(payload);
  if (conceal_run_ > d::kConcealFullFrames) {
    // Concealment faded (towards) silence before this: fade the sound back in.
    const int ch = decoder_.channels();
    const int ramp = std::min<int>(n, d::kFadeFrames);
    for (int i = 0; i < ramp; ++i)
      for (int c = 0; c < ch; ++c) r->pcm[i * ch + c] *= static_cast<float>(i) / static_cast<float>(ramp);
  }
  r->seq = seq;
  r->timestamp = pos;
  r->frames = static_cast<std::uint32_t>(n);
  r->epoch = epoch_;
  r->kind = core::PacketRecord::Kind::Decoded;
  stats_.packet_frames = r->frames;
  last_frames_ = r->frames;
  last_decoded_seq_ = seq;
  conceal_run_ = 0;
  rescue_pos_ = -1;
  next_pos_ = std::max(next_pos_, pos + n);
  link(r);
}

void StreamReceiver::release_ready() noexcept {
  // Held packets that are now in order go to the decoder; any that fell
  // behind (the gap was concealed past them) are late.
  while (HeldPacket* h = held_.earliest()) {
    if (h->seq > next_seq_) break;
    if (h->seq == next_seq_) {
      decode_in_order(std::span<const std::uint8_t>(h->data.data(), h->size), h->seq, h->ts,
                      h->frames);
    } else {
      ++stats_.packets_late;
    }
    held_.drop(h);
  }
}

void StreamReceiver::hold(std::span<const std::uint8_t> payload, std::int64_t seq,
                          std::int64_t ts, std::uint32_t frames, std::int64_t now_ns) noexcept {
  if (payload.size() > d::kMaxHeldBytes) {
    ++stats_.packets_late;  // too large to hold: cannot wait for the gap before it
    return;
  }
  if (held_.full()) {
    // A gap that outlived a whole window of packets: give up on it.
    skip_to(*held_.earliest());
    if (seq < next_seq_) {
      ++stats_.packets_late;
      return;
    }
    if (seq == next_seq_) {
      decode_in_order(payload, seq, ts, frames);
      release_ready();
      return;
    }
  }
  [[maybe_unused]] const bool kept =
      held_.hold(payload, seq, ts, frames, OpusStreamDecoder::has_lbrr(payload), now_ns);
  assert(kept && "stream_receiver: a slot was freed above");
}

void StreamReceiver::lock_stream(std::uint32_t ssrc, std::uint8_t pt, std::uint16_t seq,
                                 std::uint32_t ts) noexcept {
  if (stats_.locked) {
    ++stats_.stream_resets;
    lost_before_ = stats().net.packets_lost;
  }
  ++epoch_;
  decoder_.reset();
  concealer_.reset();
  stats_.locked = true;
  stats_.ssrc = ssrc;
  stats_.payload_type = pt;
  lock_.lock(ssrc, pt);
  base_seq_ = seq;
  highest_seq_ = std::int64_t{seq} - 1;
  highest_ts_ = ts;
  ts_offset_ = -std::int64_t{ts};  // stream positions of an epoch start at 0
  stretched_ = 0;
  next_seq_ = seq;
  next_pos_ = 0;
  last_decoded_seq_ = -1;
  last_frames_ = 0;
  conceal_run_ = 0;
  rescue_pos_ = -1;
  rescued_until_ = 0;
  conceal_unconfirmed_ = 0;
  unique_received_ = 0;
  have_transit_ = false;
  tuner_.reset();
  sender_steps_ += clock_.system().steps();
  clock_.reset();
  recent_.fill(INT64_MIN);  // no real extended sequence number
  held_.clear();
  // The new epoch reaches audio before any record of it (records of an
  // epoch audio has not seen wait for nothing: they go home).
  publish();
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

void StreamReceiver::link(core::PacketRecord* r) noexcept {
  if (r->timestamp < rescued_until_) replaced_ns_ = now_ns_;
  if (!to_audio_.try_push(r)) {
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
    [[maybe_unused]] const bool ok = pool_.release(*m);
    assert(ok && "stream_receiver: audio returned a record that is not out");
  }
  if (const core::AudioStatus* s = status_in_.take()) {
    audio_ = *s;
    if (rescues_settled()) concealed_shown_ = concealed_played();
  }
}

bool StreamReceiver::rescues_settled() const noexcept {
  // Net has made again everything a rescue rewound, and audio has taken it
  // in: the status is from a callback that began after the last of it was
  // linked (audio takes in what is queued at the start of each callback).
  // Every rescue net counted is then counted by audio too, or was refused
  // (the concealment had begun to play) and so counts as played.
  return next_pos_ >= rescued_until_ && audio_.cycle_ns > replaced_ns_;
}

std::uint64_t StreamReceiver::concealed_played() const noexcept {
  // Concealment that a rescued packet replaced before it played was never
  // heard: the count is of concealment that played.
  return stats_.frames_concealed - std::min(stats_.frames_concealed, audio_.records_rescued);
}

StatsSnapshot StreamReceiver::stats() const noexcept {
  StatsSnapshot s;
  s.net = stats_;
  s.net.packets_foreign += lock_.foreign();
  if (stats_.locked) {
    // RFC 3550 A.3: expected = extended highest - base + 1.
    const std::int64_t expected = highest_seq_ - base_seq_ + 1;
    const std::int64_t lost = expected - static_cast<std::int64_t>(unique_received_);
    s.net.packets_lost = lost_before_ + static_cast<std::uint64_t>(std::max<std::int64_t>(lost, 0));
  }
  s.audio = audio_;
  s.net.packets_late += s.audio.records_late;
  s.net.packets_rescued = s.audio.records_rescued;
  // Between a rescue and audio taking its replacement in, the count would
  // show the rescued concealment as played, then take it back.
  s.net.frames_concealed = rescues_settled() ? concealed_played() : concealed_shown_;
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
  r.locked = stats_.locked;
  r.ssrc = stats_.ssrc;
  r.epoch = epoch_;
  r.base_seq = base_seq_;
  r.highest_seq = highest_seq_;
  r.received = unique_received_;
  r.packets = stats_.packets_received;
  r.jitter = stats_.jitter_frames;
  r.highest_ts = highest_ts_;
  r.ts_offset = ts_offset_;
  return r;
}

}  // namespace net
