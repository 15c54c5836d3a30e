#include "cmd/console.hpp"

#include <cstdarg>
#include <cstdio>

#include "cmd/stats_format.hpp"
#include "core/defaults.hpp"

namespace cmd {

namespace d = core::defaults;

void Console::status(const std::string& line) {
  if (live_) {
    std::fprintf(stderr, "\r\x1b[K%s", line.c_str());
    shown_ = true;
  } else {
    std::fprintf(stderr, "%s\n", line.c_str());
  }
  std::fflush(stderr);
}

void Console::say(const char* format, ...) {
  clear();
  std::va_list args;
  va_start(args, format);
  std::vfprintf(stderr, format, args);
  va_end(args);
}

void Console::end() {
  if (shown_) std::fputc('\n', stderr);
  shown_ = false;
}

void Console::clear() {
  if (shown_) std::fputs("\r\x1b[K", stderr);
  shown_ = false;
}

void print_stats(const Options& o, Console& console, const net::StatsSnapshot& s, double uptime,
                 bool final) {
  if (o.stats == "json") {
    std::printf("%s\n", stats_json(s, uptime, final).c_str());
    std::fflush(stdout);
  } else {
    console.status(stats_text(s, uptime, final));
    if (final) console.end();
  }
}

// --verbose: say what changed since the last look.
void print_events(Console& console, const net::StatsSnapshot& prev, const net::StatsSnapshot& now) {
  if (now.net.locked && (!prev.net.locked || now.net.ssrc != prev.net.ssrc ||
                         now.net.stream_resets != prev.net.stream_resets))
    console.say("rtp2jack: stream ssrc=%08x payload type %u%s\n", now.net.ssrc,
                now.net.payload_type, now.net.stream_resets ? " (sender restarted)" : "");
  if (now.audio.playing && !prev.audio.playing)
    console.say("rtp2jack: playing, %.1f ms packets\n",
                now.net.packet_frames * 1000.0 / now.net.stream_rate);
  if (now.audio.underruns > prev.audio.underruns)
    console.say("rtp2jack: underrun (%llu so far): the buffer ran dry; raise --latency?\n",
                static_cast<unsigned long long>(now.audio.underruns));
  if (prev.audio.target_frames != 0 && now.audio.target_frames != prev.audio.target_frames)
    console.say("rtp2jack: target latency %.1f ms (was %.1f ms)\n",
                now.audio.target_frames * 1000.0 / now.audio.stream_rate,
                prev.audio.target_frames * 1000.0 / prev.audio.stream_rate);
}

}  // namespace cmd
