// libFuzzer target: the Opus checks net applies to every RTP payload
// (OpusStreamDecoder::packet_frames, has_lbrr), then the decoder itself on
// every packet that passes them, as net::StreamReceiver would feed it.
//
// libopus comes from the system and is not instrumented, so ASan cannot see
// it write past our buffers. The output buffers therefore end exactly at a
// PROT_NONE page: one float too many and the process faults. Nor does
// libFuzzer see coverage inside libopus: extra counters stand in for it, one
// per packet shape (TOC byte, frame count, LBRR, decode outcome), so inputs
// that reach a new shape are kept and mutated further.
#include <sys/mman.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <span>

#include "core/defaults.hpp"
#include "net/opus_stream_decoder.hpp"

#define FUZZ_CHECK(cond)                                                               \
  do {                                                                                 \
    if (!(cond)) {                                                                     \
      std::fprintf(stderr, "opus_toc_fuzz: check failed: %s (%s:%d)\n", #cond, __FILE__, \
                   __LINE__);                                                          \
      std::abort();                                                                    \
    }                                                                                  \
  } while (0)

namespace {

constexpr int kMaxFrames = static_cast<int>(core::defaults::kMaxPacketFrames);  // 5760
constexpr int kQuantum = static_cast<int>(core::defaults::kMinPacketFrames);   // 120

// `count` floats whose last one sits just below an inaccessible page.
float* guarded_floats(std::size_t count) {
  const auto page = static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
  const std::size_t bytes = count * sizeof(float);
  const std::size_t rounded = (bytes + page - 1) / page * page;
  void* base = mmap(nullptr, rounded + page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
                    -1, 0);
  if (base == MAP_FAILED) std::abort();
  auto* b = static_cast<unsigned char*>(base);
  if (mprotect(b + rounded, page, PROT_NONE) != 0) std::abort();
  return reinterpret_cast<float*>(b + rounded - bytes);
}

// libFuzzer (Linux) reads this section as extra coverage counters and
// clears it before every input.
struct Shapes {
  std::uint8_t valid_toc[256];      // accepted packets by TOC byte
  std::uint8_t invalid_toc[256];    // rejected packets by TOC byte
  std::uint8_t code3_header[256];   // code 3 frame count byte: VBR, padding, count
  std::uint8_t lbrr_config[32];     // has_lbrr true, by configuration
  std::uint8_t frames[49];          // packet duration in 2.5 ms steps
};
__attribute__((section("__libfuzzer_extra_counters"))) Shapes shapes;

void count(std::uint8_t& counter) {
  if (counter != 0xff) ++counter;
}

struct Rig {
  net::OpusStreamDecoder stereo{2};
  net::OpusStreamDecoder mono{1};
  float* pcm2 = guarded_floats(static_cast<std::size_t>(kMaxFrames) * 2);
  float* pcm1 = guarded_floats(static_cast<std::size_t>(kMaxFrames));
};

// No NaN or infinity: x * 0 is 0 for every finite x. One branch, not one a
// sample, so libFuzzer's comparison tracing stays cheap.
void check_finite(const float* pcm, int samples) {
  float zero = 0.0f;
  for (int i = 0; i < samples; ++i) zero += pcm[i] * 0.0f;
  FUZZ_CHECK(zero == 0.0f);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static Rig rig;
  const std::span<const std::uint8_t> packet(data, size);

  const int frames = net::OpusStreamDecoder::packet_frames(packet);
  const bool lbrr = net::OpusStreamDecoder::has_lbrr(packet);
  if (size == 0) FUZZ_CHECK(frames < 0 && !lbrr);
  // LBRR lives in the SILK layer: never in a CELT-only packet.
  if (lbrr) FUZZ_CHECK(size >= 2 && (data[0] >> 3) < 16);
  if (lbrr) count(shapes.lbrr_config[data[0] >> 3]);
  if (frames < 0) {
    if (size > 0) count(shapes.invalid_toc[data[0]]);
    return 0;
  }
  count(shapes.valid_toc[data[0]]);
  if ((data[0] & 3) == 3 && size >= 2)
    count(shapes.code3_header[data[1]]);

  // A valid packet: whole 2.5 ms steps, at most 120 ms (RFC 6716 section 3.2.5).
  FUZZ_CHECK(frames > 0 && frames <= kMaxFrames && frames % kQuantum == 0);
  count(shapes.frames[frames / kQuantum]);

  // As net uses it: fresh stream, the packet's FEC for a lost predecessor,
  // the packet itself, then concealment of a loss after it.
  for (net::OpusStreamDecoder* dec : {&rig.stereo, &rig.mono}) {
    float* pcm = dec->channels() == 2 ? rig.pcm2 : rig.pcm1;
    dec->reset();
    FUZZ_CHECK(dec->recover(packet, pcm, frames) == frames);
    check_finite(pcm, frames * dec->channels());
    const int n = dec->decode(packet, pcm, kMaxFrames);
    if (n != frames)
      std::fprintf(stderr, "opus_toc_fuzz: %d channel(s): decode gave %d, packet_frames %d\n",
                   dec->channels(), n, frames);
    FUZZ_CHECK(n == frames);
    check_finite(pcm, n * dec->channels());
    FUZZ_CHECK(dec->conceal(pcm, frames) == frames);
    check_finite(pcm, frames * dec->channels());
  }
  return 0;
}
