#include "cmd/rtcp_setup.hpp"

#include <unistd.h>

#include <cstdio>
#include <random>
#include <string>

#include "audio/resampler.hpp"

namespace cmd {

std::unique_ptr<net::RtcpSession> make_rtcp_session(const Options& o) {
  if (!o.rtcp) return nullptr;
  net::RtcpConfig c;
  // RFC 3550 section 6.5.1: CNAME "user@host"; the program stands in for
  // the user, who may run several.
  char host[256] = {};
  if (gethostname(host, sizeof host - 1) != 0 || host[0] == '\0') std::snprintf(host, sizeof host, "localhost");
  c.cname = std::string("rtp2jack@") + host;
  // Section 8.1: the SSRC must be random; so is the report timing.
  std::random_device rd;
  c.seed = (std::uint64_t{rd()} << 32) ^ rd();
  // Audio renders the stream ahead of its output: the converter's delay
  // (which holds half a render chunk on average).
  c.output_pipeline_frames = audio::Resampler::kDelayFrames;
  return std::make_unique<net::RtcpSession>(c);
}

}  // namespace cmd
