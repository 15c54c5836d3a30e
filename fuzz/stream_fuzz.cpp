// libFuzzer target: net::StreamReceiver driven by a scripted session.
//
// A simulated net loop (the one net::UdpReceiver runs: datagrams, a timer at
// next_deadline() or the idle tick (kNetTickUs), drain_audio before each) and a fake audio
// side that takes every message off to_audio and sends records home, now or
// later. Stream identity, reordering, FEC, concealment and pool exhaustion
// are all reachable from the script.
//
// Input: a configuration byte (bit 0: decode to mono, else stereo; bit 1:
// accept only payload type 96, else lock to the first; bit 2: --latency auto; bit 3: the
// payload is L24/48000/2, bit 4 (without 3): L16/48000/1, else Opus; for L16/L24,
// bit 5: at 96 kHz, bit 6 (without 5): at 44.1 kHz; bit 7 with bit 3: eight
// channels on eight ports), then a list of
// operations, each opening with a control byte c. First the clock runs
// (c >> 2) ms, then c & 3 says what happens:
//   0  raw datagram: u16 length (big-endian), then that many bytes
//   1  packet from a scripted sender: flags f, u8 length, then the payload.
//      f & 0x0f: sequence step + 3 (0x04: next packet, 0x03: duplicate,
//      0x00: 3 back, 0x0f: 12 ahead; the timestamp moves by step x the
//      sender's previous packet duration); 0x10: sender B instead of A;
//      0x20: payload type 97 instead of 96; 0x40: marker; 0x80: timestamp
//      jumps a further second (a DTX pause)
//   2  fake audio control: g & 1 playing, g & 2 keep records (pool pressure),
//      (g >> 2) & 7: render-ahead in 32-frame steps, g >> 5: the cursor
//      starts that many 240-frame steps behind the newest record
//   3  idle: u8 n, the clock runs n x 5 ms more
// A truncated operation at the end uses what is there.
//
// Checked: every record net links is out of the pool, of the current epoch,
// 1 to a record's capacity of frames (of the channels the format plays) of
// finite samples; epochs count up by one; net never finds
// to_audio full; and once audio has sent everything home, every record is
// back in the pool.
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <span>
#include <vector>

#include "core/defaults.hpp"
#include "core/mailbox.hpp"
#include "core/messages.hpp"
#include "core/record_pool.hpp"
#include "core/spsc_queue.hpp"
#include "net/opus_stream_decoder.hpp"
#include "net/stream_receiver.hpp"

#define FUZZ_CHECK(cond)                                                             \
  do {                                                                               \
    if (!(cond)) {                                                                   \
      std::fprintf(stderr, "stream_fuzz: check failed: %s (%s:%d)\n", #cond, __FILE__, \
                   __LINE__);                                                        \
      std::abort();                                                                  \
    }                                                                                \
  } while (0)

namespace {

namespace d = core::defaults;

constexpr std::int64_t kMs = 1'000'000;
constexpr std::int64_t kTickNs = std::int64_t{d::kNetTickUs} * 1000;
constexpr std::uint32_t kPeriodFrames = 128;
constexpr std::int64_t kPeriodNs = 2'666'667;  // 128 frames at 48 kHz

// Small enough that a fuzzer can drain it; queues sized as cmd/app.cpp sizes them.
constexpr std::size_t kRecords = 24;

// Long-lived so each input does not allocate them again; every input must
// leave them as it found them (all records home, queues empty), which is
// what the harness checks anyway.
struct Shared {
  core::RecordPool pool{kRecords};
  core::SpscQueue<core::Message> to_audio{kRecords};
  core::SpscQueue<core::Message> from_audio{kRecords};
  core::Mailbox<core::StreamModel> model;
  core::Mailbox<core::AudioStatus> status;
};

// No NaN or infinity: x * 0 is 0 for every finite x. One branch, not one a
// sample, so libFuzzer's comparison tracing stays cheap.
bool all_finite(const float* pcm, std::uint32_t samples) {
  float zero = 0.0f;
  for (std::uint32_t i = 0; i < samples; ++i) zero += pcm[i] * 0.0f;
  return zero == 0.0f;
}

struct Sender {
  std::uint32_t ssrc;
  std::uint16_t seq;
  std::uint32_t ts;
  std::uint32_t last_frames = 960;
};

// Plays the audio context: takes the model and records, returns records,
// reports status.
struct FakeAudio {
  explicit FakeAudio(Shared& sh) : to_audio(sh.to_audio), from_audio(sh.from_audio), model(sh.model),
                                   status(sh.status), pool(sh.pool) {
    kept.reserve(pool.size());
  }

  core::SpscQueue<core::Message>& to_audio;
  core::SpscQueue<core::Message>& from_audio;
  core::Mailbox<core::StreamModel>& model;
  core::Mailbox<core::AudioStatus>& status;
  core::RecordPool& pool;
  int channels = 2;       // in each record
  std::uint32_t rate = 48000;  // the stream's
  bool adaptive = false;  // --latency auto: SetTarget may come
  bool playing = false;
  bool keep = false;
  std::uint32_t epoch = 0;
  std::int64_t head = 0;     // newest record end in this epoch
  std::int64_t cursor0 = 0;  // cursor at t0
  std::int64_t t0 = 0;
  std::uint32_t render_ahead = 0;
  std::uint32_t lag = 0;
  std::vector<core::PacketRecord*> kept;
  std::uint64_t resets = 0;
  std::uint64_t fec_links = 0;

  void send_home(core::PacketRecord* r) { FUZZ_CHECK(from_audio.try_push(core::Message::unlink(r))); }

  void collect(std::int64_t now) {
    // The model first, as the player takes it: net publishes a new epoch
    // before it links any record of it.
    if (const core::StreamModel* m = model.take()) {
      FUZZ_CHECK(m->epoch >= epoch);
      if (m->epoch != epoch) {
        resets += m->epoch - epoch;
        epoch = m->epoch;
        head = 0;
        cursor0 = -static_cast<std::int64_t>(lag);
        t0 = now;
      }
      // Only --latency auto moves the target, within its bounds.
      // (960, 240 and 9600 frames at 48 kHz: the same times at the stream's rate.)
      const auto at = [this](double frames48) { return std::lround(frames48 * rate / 48000.0); };
      FUZZ_CHECK(adaptive ? m->target_frames >= at(240) && m->target_frames <= at(9600) : m->target_frames == at(960));
      // The sender's clock stays within 1 % of nominal whatever arrives.
      if (m->clock) FUZZ_CHECK(std::fabs(m->ns_per_frame * rate / 1e9 - 1) <= 0.0101);
    }
    while (auto m = to_audio.try_pop()) {
      core::PacketRecord* r = m->record;
      FUZZ_CHECK(r != nullptr && pool.owns(r) && !r->pooled);
      FUZZ_CHECK(r->epoch <= epoch);  // an older one is a record of a stream just replaced
      FUZZ_CHECK(r != nullptr && r->frames > 0 && r->frames <= d::kRecordSamples / static_cast<std::uint32_t>(channels));
      FUZZ_CHECK(all_finite(r->pcm, r->frames * static_cast<std::uint32_t>(channels)));
      if (r->kind == core::PacketRecord::Kind::Fec) ++fec_links;
      if (r->epoch == epoch) head = std::max(head, r->end());
      if (keep)
        kept.push_back(r);  // at most the pool's size: reserved
      else
        send_home(r);
    }
  }

  void control(std::uint8_t g, std::int64_t now) {
    const bool was_playing = playing;
    playing = (g & 1) != 0;
    keep = (g & 2) != 0;
    render_ahead = ((g >> 2) & 7u) * 32;
    lag = (g >> 5) * 240u;
    if (playing && !was_playing) {
      cursor0 = head - lag;
      t0 = now;
    }
    if (!keep) release_all();
  }

  void release_all() {
    for (core::PacketRecord* r : kept) send_home(r);
    kept.clear();
  }

  // What the callback that ran last before `now` would have pushed.
  void report(std::int64_t now) {
    if (!playing) return;
    core::AudioStatus s;
    s.epoch = epoch;
    s.playing = true;
    const std::int64_t elapsed = now - t0;
    s.cursor = cursor0 + elapsed * rate / 1'000'000'000;
    s.cycle_ns = now - elapsed % kPeriodNs;
    s.schedule_ns = s.cycle_ns;
    s.period_frames = kPeriodFrames;
    s.period_ns = kPeriodNs;
    s.render_ahead = render_ahead;
    s.jack_rate = d::kStreamRate;
    s.stream_rate = rate;
    status.publish(s);
  }
};

class Session {
 public:
  static net::PayloadFormat format_of(std::uint8_t config) {
    using E = net::PayloadFormat::Encoding;
    const std::uint32_t rate = (config & 32) ? 96000 : (config & 64) ? 44100 : 48000;
    if (config & 8) return {E::L24, rate, (config & 128) ? 8 : 2};
    if (config & 16) return {E::L16, rate, 1};
    return {};
  }
  static int ports_of(std::uint8_t config) { return (config & 8) && (config & 128) ? 8 : (config & 1) ? 1 : 2; }

  Session(Shared& sh, std::uint8_t config)
      : sh_(sh),
        format_(format_of(config)),
        decoder_(net::make_payload_decoder(format_, 1)),
        rx_(std::make_unique<net::StreamReceiver>(
            net::StreamConfig{ports_of(config), (config & 2) ? 96 : -1,
                              net::TunerConfig{(config & 4) != 0, 960, 240, 9600}, true, format_},
            sh.pool, sh.to_audio, sh.from_audio, sh.model, sh.status)),
        audio_(sh) {
    audio_.channels = net::stream_format(format_, ports_of(config)).channels;
    audio_.rate = format_.rate;
    audio_.adaptive = (config & 4) != 0;
  }

  void run(const std::uint8_t* p, std::size_t n) {
    std::size_t i = 0;
    auto byte = [&]() -> std::uint8_t { return i < n ? p[i++] : 0; };
    while (i < n) {
      const std::uint8_t c = p[i++];
      run_until(now_ + std::int64_t{c >> 2} * kMs);
      switch (c & 3) {
        case 0: {
          std::size_t len = std::size_t{byte()} << 8;
          len |= byte();
          len = std::min(len, n - i);
          datagram(std::span<const std::uint8_t>(p + i, len));
          i += len;
          break;
        }
        case 1: {
          const std::uint8_t f = byte();
          const std::size_t len = std::min<std::size_t>(byte(), n - i);
          scripted(f, std::span<const std::uint8_t>(p + i, len));
          i += len;
          break;
        }
        case 2:
          audio_.control(byte(), now_);
          settle();
          break;
        case 3:
          run_until(now_ + std::int64_t{byte()} * 5 * kMs);
          break;
      }
    }
    // Let the stream run out (concealment, then nothing), then audio lets go.
    run_until(now_ + 300 * kMs);
    audio_.release_all();
    settle();
    finish();
  }

 private:
  // Audio reads what net sent, net takes home what audio returned. Neither
  // step makes the other side send more, so both queues are now quiet.
  void settle() {
    audio_.collect(now_);
    rx_->drain_audio();
    // Records are either at home or with audio: nothing is lost in between.
    FUZZ_CHECK(sh_.pool.available() + audio_.kept.size() == sh_.pool.size());
  }

  void datagram(std::span<const std::uint8_t> bytes) {
    // An exact-size heap copy, so a read past the datagram is caught.
    const std::unique_ptr<std::uint8_t[]> copy(new std::uint8_t[bytes.size()]);
    std::copy(bytes.begin(), bytes.end(), copy.get());
    rx_->drain_audio();  // as UdpReceiver::on_readable does first
    rx_->on_datagram(std::span<const std::uint8_t>(copy.get(), bytes.size()), now_, now_);
    ++datagrams_;
    settle();
  }

  void scripted(std::uint8_t f, std::span<const std::uint8_t> payload) {
    Sender& s = (f & 0x10) ? b_ : a_;
    const int step = (f & 0x0f) - 3;
    s.seq = static_cast<std::uint16_t>(s.seq + step);
    s.ts += static_cast<std::uint32_t>(static_cast<std::int64_t>(step) * s.last_frames);
    if (f & 0x80) s.ts += format_.rate;
    const int frames = decoder_->frames_in(payload);
    if (frames > 0) s.last_frames = static_cast<std::uint32_t>(frames);

    std::vector<std::uint8_t> pkt(12 + payload.size());
    pkt[0] = 0x80;
    pkt[1] = static_cast<std::uint8_t>(((f & 0x40) ? 0x80 : 0) | ((f & 0x20) ? 97 : 96));
    pkt[2] = static_cast<std::uint8_t>(s.seq >> 8);
    pkt[3] = static_cast<std::uint8_t>(s.seq);
    for (int k = 0; k < 4; ++k) pkt[4 + k] = static_cast<std::uint8_t>(s.ts >> (24 - 8 * k));
    for (int k = 0; k < 4; ++k) pkt[8 + k] = static_cast<std::uint8_t>(s.ssrc >> (24 - 8 * k));
    std::copy(payload.begin(), payload.end(), pkt.begin() + 12);
    datagram(pkt);
  }

  // The net loop of UdpReceiver::arm_timer: wake at the deadline (a past
  // one: a millisecond later), or every tick while audio reports status.
  // Without status, a tick only drains, which settle() does anyway.
  void run_until(std::int64_t until) {
    for (;;) {
      std::int64_t due = rx_->next_deadline();
      if (due <= now_) due = now_ + kMs;
      const std::int64_t at = audio_.playing ? std::min(due, now_ + kTickNs) : due;
      if (at > until) break;
      now_ = at;
      audio_.report(now_);
      rx_->drain_audio();
      rx_->on_timer(now_);
      settle();
    }
    now_ = until;
  }

  void finish() {
    FUZZ_CHECK(audio_.kept.empty());
    FUZZ_CHECK(sh_.pool.available() == sh_.pool.size());
    FUZZ_CHECK(!sh_.to_audio.try_pop().has_value());
    FUZZ_CHECK(!sh_.from_audio.try_pop().has_value());
    const net::NetStats st = rx_->stats().net;
    FUZZ_CHECK(st.datagrams_received == datagrams_);
    // Every datagram is counted once as one of these, except that a packet
    // received and then undecodable is also invalid.
    const std::uint64_t sorted = st.packets_received + st.packets_foreign + st.rtcp_received;
    FUZZ_CHECK(sorted <= st.datagrams_received);
    FUZZ_CHECK(st.packets_invalid >= st.datagrams_received - sorted);
    FUZZ_CHECK(st.packets_duplicate <= st.packets_received);
    FUZZ_CHECK(st.queue_full == 0);  // to_audio holds a pool's worth
    FUZZ_CHECK(audio_.resets == st.stream_resets + (st.locked ? 1 : 0));
    FUZZ_CHECK(audio_.fec_links == st.packets_recovered);
  }

  Shared& sh_;
  const net::PayloadFormat format_;
  const std::unique_ptr<net::PayloadDecoder> decoder_;  // only to know a payload's duration
  std::unique_ptr<net::StreamReceiver> rx_;
  FakeAudio audio_;
  std::int64_t now_ = 1000LL * 1'000'000'000;  // CLOCK_MONOTONIC: some time after boot
  std::uint64_t datagrams_ = 0;
  Sender a_{0x11223344u, 65530, 0xFFFFC000u};  // both counters wrap within a few packets
  Sender b_{0x55667788u, 100, 1000};
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static Shared shared;
  if (size == 0) return 0;
  Session s(shared, data[0]);
  s.run(data + 1, size - 1);
  return 0;
}
