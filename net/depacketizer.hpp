// The stream's timeline: packets in, in sequence order, and contiguous
// records of audio out, with every gap repaired by the time audio needs it.
//
// - The reorder stage (net::ReorderBuffer) holds packets that came after a
//   gap until the gap is filled: by the missing packet, by its copy in the
//   next packet's in-band FEC, or by concealment (net::LossRepair).
// - Deadlines come from audio's schedule (net::AudioSchedule): a gap is
//   filled kConcealMarginUs before the callback that may play it, and not
//   before, so that a packet that is merely late still makes it.
// - A late packet whose concealment has not played yet replaces it
//   (rescue); one whose concealment is playing is decoded for the decoder's
//   state only, so that the packets after it can still rescue theirs.
// - --latency auto: a late packet plays after its concealment (the
//   timeline stretches), and the tuner's growth is inserted as concealment
//   at once (stretch()).
// - The accounting of concealment that played (net::ConcealmentLedger).
//
// Stream positions are frames at the stream's rate from the epoch's first packet:
// position = extended RTP timestamp + offset(); the offset grows with the
// stretches.
//
// Thread: net. Owned by net::StreamReceiver; nothing allocates after the
// constructor but set_payload().
#pragma once

#include <cstdint>
#include <memory>
#include <span>

#include "core/record_pool.hpp"
#include "core/spsc_queue.hpp"
#include "net/audio_schedule.hpp"
#include "net/concealment_ledger.hpp"
#include "net/latency_tuner.hpp"
#include "net/loss_repair.hpp"
#include "net/net_stats.hpp"
#include "net/payload_decoder.hpp"
#include "net/reorder_buffer.hpp"

namespace net {

class Depacketizer {
 public:
  /// Thread: control, at start-up. The payload `decoder` decodes, at
  /// `rate` frames per second.
  Depacketizer(PayloadDecoder& decoder, std::uint32_t rate, core::RecordPool& pool,
               core::SpscQueue<core::Message>& to_audio, const AudioSchedule& audio,
               LatencyTuner& tuner, NetStats& stats);

  /// Another payload format (its decoder, at `rate`) from the next
  /// restart() on: the repair stage is built anew for it (allocates). The
  /// decoder must outlive its use here.
  void set_payload(PayloadDecoder& decoder, std::uint32_t rate);

  /// A new stream (epoch) starts at extended sequence number `seq`.
  void restart(std::uint32_t epoch, std::int64_t seq, std::uint32_t first_ts) noexcept;

  /// A packet, new to the stream (duplicates are caught before): decoded
  /// if it is next, held if a gap is before it, counted late if its place
  /// was filled already.
  void push(std::span<const std::uint8_t> payload, std::int64_t seq, std::int64_t ts,
            std::uint32_t frames, std::int64_t now_ns) noexcept;

  /// Fills every gap whose deadline has come. `heard_ns`: the stream's
  /// latest packet.
  void fill_due(std::int64_t now_ns, std::int64_t heard_ns) noexcept;

  /// When fill_due() next has work (CLOCK_MONOTONIC ns); INT64_MAX for never.
  std::int64_t next_deadline() const noexcept;

  /// Inserts up to `frames` of concealment where the stream has got to
  /// and moves everything after it as much later (the tuner's growth,
  /// while audio plays). Only within what concealment makes at full level.
  void grow(std::uint32_t frames, std::int64_t now_ns) noexcept;

  /// The tuner's target or the timeline moved since the last call: the
  /// stream model must be published again.
  bool take_moved() noexcept;

  /// Audio's latest status came (the ledger settles with it).
  void on_status() noexcept { ledger_.on_status(audio_.status(), next_pos_); }

  std::int64_t offset() const noexcept { return ts_offset_; }
  /// Duration of the latest packet decoded this epoch (0: none yet).
  std::uint32_t packet_frames() const noexcept { return last_frames_; }
  std::int64_t stretched() const noexcept { return stretched_; }
  /// Frames a record holds of the decoder's channels.
  std::uint32_t max_frames() const noexcept {
    return core::defaults::kRecordSamples / static_cast<std::uint32_t>(decoder_->channels());
  }
  /// Concealed packets that played, as the stats show them.
  std::uint64_t concealed_shown() const noexcept { return ledger_.shown(audio_.status(), next_pos_); }

 private:
  void decode_next(std::span<const std::uint8_t> payload, std::int64_t seq, std::int64_t ts,
                   std::uint32_t frames) noexcept;
  bool place(std::span<const std::uint8_t> payload, std::int64_t seq, std::uint32_t frames,
             std::int64_t& pos) noexcept;
  void emit(std::span<const std::uint8_t> payload, std::int64_t seq, std::int64_t pos,
            std::uint32_t frames) noexcept;
  void release_ready() noexcept;
  void hold(std::span<const std::uint8_t> payload, std::int64_t seq, std::int64_t ts,
            std::uint32_t frames, std::int64_t now_ns) noexcept;
  void skip_to(const HeldPacket& h) noexcept;
  std::int64_t gap_due() const noexcept;
  void fill_one() noexcept;
  void recover(const HeldPacket& h, std::int64_t span) noexcept;
  bool conceal(std::uint32_t frames) noexcept;
  core::PacketRecord* concealed(std::uint32_t frames) noexcept;
  bool rescue() noexcept;
  void rewind_to(std::int64_t pos) noexcept;
  void resync_after_late(std::span<const std::uint8_t> payload, std::int64_t seq,
                         std::int64_t pos) noexcept;
  bool in_time(std::int64_t pos) const noexcept;
  core::PacketRecord* acquire() noexcept;
  void give_back(core::PacketRecord* r) noexcept;
  void stamp(core::PacketRecord* r, std::int64_t seq, std::int64_t pos, int frames,
             core::PacketRecord::Kind kind) const noexcept;
  void link(core::PacketRecord* r) noexcept;

  PayloadDecoder* decoder_;
  std::uint32_t rate_;                 // the stream's frames per second
  core::RecordPool& pool_;
  core::SpscQueue<core::Message>& to_audio_;  // net -> audio: records to link
  const AudioSchedule& audio_;
  LatencyTuner& tuner_;
  NetStats& stats_;
  std::unique_ptr<LossRepair> repair_;  // for decoder_, at rate_
  ConcealmentLedger ledger_;
  ReorderBuffer held_;

  std::uint32_t epoch_ = 0;
  std::int64_t ts_offset_ = 0;         // stream position = extended RTP timestamp + offset
  std::int64_t stretched_ = 0;         // of which the stretches this epoch
  std::int64_t next_seq_ = 0;          // the packet decoded next
  std::int64_t next_pos_ = 0;          // stream position up to which audio was made
  std::int64_t last_decoded_seq_ = -1; // of the latest record decoded from a packet
  std::uint32_t last_frames_ = 0;      // duration of the latest decoded packet
  // Where the current run of concealment began (the decoder's state there
  // is saved): a late packet for that place can still replace the run.
  // -1 when there is none to undo.
  std::int64_t rescue_pos_ = -1;
  std::int64_t now_ns_ = 0;            // of the datagram or timer being handled
  std::int64_t heard_ns_ = 0;          // the stream's latest packet
  bool moved_ = false;                 // take_moved()
};

}  // namespace net
