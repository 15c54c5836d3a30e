// opus_floor: the least a receiver of an RTP/Opus stream can do, for the CPU
// benchmark's floor: a blocking UDP socket, the RTP header skipped
// (RFC 3550 section 5.1: CSRCs, extension, padding), every payload decoded
// with libopus (opus_decode_float, 48 kHz stereo) and thrown away. No
// jitter buffer, no threads, no JACK: the floor adds `jack_thru` on the same
// server for that part.
//
//   opus_floor PORT        # until SIGTERM; prints packets and decoded frames
#include <arpa/inet.h>
#include <netinet/in.h>
#include <opus/opus.h>
#include <sys/socket.h>
#include <unistd.h>

#include <csignal>
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <vector>

namespace {
volatile std::sig_atomic_t g_stop = 0;
void on_term(int) { g_stop = 1; }
}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: opus_floor PORT\n");
    return 2;
  }
  const int port = std::atoi(argv[1]);
  struct sigaction sa {};
  sa.sa_handler = on_term;  // no SA_RESTART: recv returns EINTR
  sigaction(SIGTERM, &sa, nullptr);
  sigaction(SIGINT, &sa, nullptr);

  const int fd = socket(AF_INET, SOCK_DGRAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (fd < 0 || bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    std::perror("opus_floor: bind");
    return 1;
  }
  int err = 0;
  OpusDecoder* dec = opus_decoder_create(48000, 2, &err);
  if (err != OPUS_OK) return 1;
  std::vector<float> pcm(5760 * 2);  // 120 ms, the longest Opus packet
  std::vector<unsigned char> buf(2048);
  unsigned long long packets = 0, frames = 0;
  while (!g_stop) {
    const ssize_t n = recv(fd, buf.data(), buf.size(), 0);
    if (n < 12) continue;
    const unsigned char* p = buf.data();
    if ((p[0] >> 6) != 2) continue;
    std::size_t off = 12 + 4 * std::size_t(p[0] & 0x0f);
    std::size_t len = static_cast<std::size_t>(n);
    if ((p[0] & 0x20) && len > 0) len -= std::min<std::size_t>(p[len - 1], len);
    if ((p[0] & 0x10) && off + 4 <= len) off += 4 + 4 * std::size_t((p[off + 2] << 8) | p[off + 3]);
    if (off >= len) continue;
    const int got = opus_decode_float(dec, p + off, static_cast<opus_int32>(len - off), pcm.data(), 5760, 0);
    if (got > 0) {
      ++packets;
      frames += static_cast<unsigned long long>(got);
    }
  }
  std::printf("{\"packets\":%llu,\"frames\":%llu}\n", packets, frames);
  opus_decoder_destroy(dec);
  close(fd);
  return 0;
}
