#include "net/concealment_ledger.hpp"

#include <doctest/doctest.h>

#include <cstdint>

namespace {

// Audio's status from a callback that began at `cycle_ns`, having replaced
// `rescued` concealed records so far.
core::AudioStatus status(std::int64_t cycle_ns, std::uint64_t rescued = 0) {
  core::AudioStatus s;
  s.playing = true;
  s.cycle_ns = cycle_ns;
  s.records_rescued = rescued;
  return s;
}

}  // namespace

TEST_CASE("concealment_ledger: a run counts when confirmed, not before, and not when forgotten") {
  net::ConcealmentLedger l;
  const auto a = status(100);
  CHECK_FALSE(l.pending());
  l.made(0);
  l.made(960);
  CHECK(l.pending());
  CHECK(l.shown(a, 1920) == 0);  // might still be replaced, or a pause
  l.confirm();
  CHECK_FALSE(l.pending());
  CHECK(l.shown(a, 1920) == 2);
  l.confirm();  // nothing pending: nothing more
  CHECK(l.shown(a, 1920) == 2);
  // A run the sender's pause explains is not counted.
  l.made(1920);
  l.made(2880);
  l.forget();
  CHECK_FALSE(l.pending());
  l.confirm();
  CHECK(l.shown(a, 3840) == 2);
  // reset() drops what is pending, not what was counted.
  l.made(3840);
  l.reset();
  CHECK_FALSE(l.pending());
  l.confirm();
  CHECK(l.shown(a, 0) == 2);
}

TEST_CASE("concealment_ledger: concealment made again below a rewound end is not counted twice") {
  net::ConcealmentLedger l;
  const auto a = status(100);
  l.made(0);
  l.made(240);
  l.made(480);
  l.confirm();  // a rescue confirms the run it replaces
  REQUIRE(l.shown(a, 720) == 3);
  // The timeline goes back to 240 over records made up to 720; what is made
  // again at 240 and 480 replaces records counted already.
  l.rewound(720);
  l.made(240);
  l.made(480);
  CHECK_FALSE(l.pending());
  l.confirm();
  CHECK(l.shown(a, 720) == 3);
  // Beyond the rewound end it is new concealment.
  l.made(720);
  CHECK(l.pending());
  l.confirm();
  CHECK(l.shown(a, 960) == 4);
  // A second rewind to an earlier end does not lower the mark.
  l.rewound(480);
  l.made(600);
  CHECK_FALSE(l.pending());
  // A new stream starts with no mark.
  l.reset();
  l.made(0);
  CHECK(l.pending());
}

TEST_CASE("concealment_ledger: the count shown holds until net and audio settle, and never steps back") {
  net::ConcealmentLedger l;
  // Two concealed records played; audio's status settles at 2.
  l.made(0);
  l.made(240);
  l.confirm();
  l.on_status(status(1000), 480);
  REQUIRE(l.shown(status(1000), 480) == 2);

  // A third is made at 480 and rescued: counted now (3), and audio will
  // count it rescued once it takes the replacement in.
  l.made(480);
  l.confirm();
  l.rewound(720);        // the timeline goes back to 480 over [480, 720)
  l.linked(480, 5000);   // the replacement, linked at 5000
  // Net has not made everything up to the rewound end again: not settled,
  // whatever audio says.
  CHECK(l.shown(status(6000), 600) == 2);
  // A status from a callback that began before the replacement was linked
  // cannot have counted it: 3 - 0 would show one concealment too many, and
  // step back to 2 when audio counts the rescue.
  CHECK(l.shown(status(4000), 720) == 2);
  l.on_status(status(4000), 720);
  CHECK(l.shown(status(4000), 720) == 2);
  // A record linked above the rewound end does not hold it back.
  l.linked(720, 7000);
  // Audio took it in: settled, 3 counted less 1 rescued.
  l.on_status(status(6000, 1), 960);
  CHECK(l.shown(status(6000, 1), 960) == 2);

  // Later statuses keep it there while records_rescued only grows.
  l.on_status(status(8000, 1), 1200);
  CHECK(l.shown(status(8000, 1), 1200) == 2);
}

TEST_CASE("concealment_ledger: a rescue audio refused played, and counts") {
  net::ConcealmentLedger l;
  l.made(0);
  l.confirm();
  l.rewound(240);
  l.linked(0, 5000);
  // Audio's next status, after the link, has not counted a rescue: the
  // concealment had begun to play, so it counts as played.
  l.on_status(status(6000, 0), 240);
  CHECK(l.shown(status(6000, 0), 240) == 1);
  // More rescued than counted (a rescue of an earlier epoch) shows 0, not
  // a wrapped-around count.
  CHECK(l.shown(status(7000, 5), 240) == 0);
}
