// Estimates a clock that counts frames (a sender's RTP timestamps, JACK's
// frame counter) against CLOCK_MONOTONIC, from observations (frames, time)
// that come late by a delay that is never negative and usually small:
// network queueing for packet arrivals, scheduling for process callbacks.
//
// The earliest observations define the clock, so the estimate is the lower
// envelope of the observations: the line below every one of them that is
// closest to them on average. That is the linear-programming skew estimator
// of S. B. Moon, P. Skelly and D. Towsley, "Estimation and removal of clock
// skew from network delay measurements", IEEE INFOCOM 1999; its optimum is
// the edge of the observations' lower convex hull that spans their mean
// abscissa. Its error shrinks with the number of observations faster than a
// mean's does under jitter, and late observations (jitter, reordering,
// duplicates) cannot move it at all; missing ones (loss) only thin it out.
//
// Observations are reduced to the earliest one per bucket of frames, and
// the hull is refitted when a bucket closes, over the buckets of the
// current segment (up to kBuckets of them).
//
// A clock may also jump: a JACK server that stalls loses the stall's time
// (its frames come later from then on), a sender's timestamps may skip
// ahead. A jump is a step, never a rate: observations that stay on the far
// side of the envelope by more than a threshold, for long enough, end the
// segment and start a new one at the new offset; the rate carries over.
// A single late observation (a callback woken late, a delayed packet) or a
// single early one (a bogus timestamp) is no step and is ignored. The first
// observations after a step may be the clock's transition rather than its
// new level (Config::settle_count): the new segment's level then rests on
// the few after them.
// A clock whose floor is sharp (Fit::Minima) may also shift by less than
// that threshold: a JACK server's timer that loses a fraction of a
// millisecond. Inside one segment such a shift tilts the fit (about
// 0.2 ppm per microsecond of shift), so when the latest kShiftBuckets
// bucket minima all sit beyond shift_ns (or kShiftSpread times the scatter
// of the buckets before them) on one side of those buckets' level, the
// segment ends before them and they start the next one; the fit leaves out
// such buckets while they are fewer. That is a split, not a step:
// observe() does not report it.
//
// The rate is the slopes of the segments that span long enough, each by its
// weight; older segments fade out. Two fits, for two kinds of noise:
// - Fit::Envelope, for arrivals under network jitter: the hull edge above,
//   weighted by the square of the segment's span (the error of an envelope
//   slope is an offset error over the span). A slope away from nominal
//   counts only while the envelope of the segment's latest half is closer
//   to it than to nominal: a clock's rate holds across a segment, a
//   sender's pacing that falls behind and then holds its lag does not.
// - Fit::Minima, for a clock whose earliest observations wander a little
//   (a JACK server's timer wakes within tens of microseconds of its
//   schedule, with late outliers): least squares through the bucket minima
//   with an intercept per segment, so the segments share one slope
//   (weights: each segment's sum of squared deviations of x).
//
// Thread: whichever context owns the instance. Real-time safe after
// construction: arithmetic on fixed arrays, no allocation, no system call.
#pragma once

#include <array>
#include <cstdint>

namespace core {

class ClockEstimator {
 public:
  enum class Fit : std::uint8_t { Envelope, Minima };
  static constexpr std::size_t kBuckets = 1024;
  static constexpr std::size_t kSegments = 32;
  // The envelope's floor is judged per this many buckets (0.5 s of a
  // sender's); the scale turns its RMS into about a standard deviation
  // of the slope (calibrated on uniform jitter, tests/clock_estimator_test).
  static constexpr std::size_t kFloorBuckets = 10;
  static constexpr std::size_t kMinFloorBlocks = 6;
  static constexpr double kFloorScale = 1.5;
  // A slope this many uncertainties from nominal counts whatever
  // max_uncertainty_ppm says. The floor is judged once there are
  // kMinFloorBlocks blocks (3 s of a sender's), or earlier over as many
  // smaller blocks when it is sharper than kSharpFloorNs.
  static constexpr double kRuledOut = 6;
  // A rate in use that the current segment's slope puts this many of its
  // uncertainties away is dropped for nominal.
  static constexpr double kContradicted = 3;
  static constexpr double kSharpFloorNs = 50'000;
  static constexpr double kMinScatterNs = 1000;
  // A level shift (Config::shift_ns) shows in this many bucket minima in a
  // row, against the level of up to kShiftBase buckets before them (at
  // least kShiftBaseMin).
  static constexpr std::size_t kShiftBuckets = 5;
  static constexpr std::size_t kShiftBase = 20;
  static constexpr std::size_t kShiftBaseMin = 6;
  static constexpr double kShiftSpread = 4;

  struct Config {
    Fit fit = Fit::Envelope;
    double nominal_hz = 48000;          // frames per second the clock claims
    std::int64_t bucket_frames = 2400;  // the earliest observation per this many frames is kept
    // A step later (the clock lost time): every observation more than
    // late_ns after the envelope, for late_count observations in a row
    // spanning late_span_ns or more. The threshold grows to late_spread
    // times the observations' mean lateness when that is larger (jitter).
    std::int64_t late_ns = 100'000;
    int late_count = 3;
    std::int64_t late_span_ns = 0;
    double late_spread = 0;
    // A step earlier: early_count observations in a row more than early_ns
    // (or late_spread times the mean lateness) before the envelope.
    std::int64_t early_ns = 100'000;
    int early_count = 3;
    // After a step is confirmed, the next settle_count observations test
    // for no step, and the second least late of them is the new segment's
    // level (0: the least late of those that showed the step). A JACK
    // dummy driver runs the cycles it owes at once on resuming and keeps
    // its new schedule a few cycles later (tests/lib/timeline.py): its
    // first cycles after a stall sit 0.1 to 0.6 ms off that schedule, now
    // and then one more after them; a level taken from one too early stays
    // that far off until its bucket ages out (offset_buckets), while one a
    // little late drops to the next earlier observation at once.
    int settle_count = 0;
    // While the level is being taken, an observation later than the second
    // least late so far (the least, while it is alone; the confirmed
    // level, before any) by this much is the clock losing time again, as
    // it does in a storm of stalls: the level is taken afresh, past that
    // step's late_count observations as past the first's (0: never).
    // Above the transition's spread; a single late wake-up that crosses it
    // only lengthens the taking.
    std::int64_t settle_again_ns = 0;
    // A level shift of the bucket minima by this much or more splits the
    // segment (Fit::Minima only; 0: never).
    std::int64_t shift_ns = 0;
    // False: no step either way until the rate is measured (min_span_s)
    // with an uncertainty below step_uncertainty_ppm, whether or not that
    // is good enough to count (max_uncertainty_ppm); meanwhile every
    // observation goes into the fit. For a clock whose rate may be far from
    // nominal (a sender's) and is measured under jitter: against a line of
    // the wrong slope a drifting clock looks like a step. A JACK server's
    // clock is close enough to nominal for steps from the first observation.
    bool steps_before_rate = true;
    double step_uncertainty_ppm = 100;
    // Meanwhile a step later is still one that no rate within this many
    // ppm of nominal explains: observations later than the late threshold
    // plus this rate over the span the envelope rests on (0: no step until
    // the rate is measured). A path that gets longer in a stream's first
    // second would otherwise stay in the fit that cannot measure the rate
    // because of it.
    double unmeasured_late_ppm = 0;
    double min_span_s = 1.0;       // a segment's slope counts from this span on
    double max_uncertainty_ppm = 1e9;  // ... and this uncertainty down
    // The nominal rate counts as a segment of this span (with the current
    // segment's fit); 0: not at all. A prior for a clock known to be close
    // to nominal, whose short segments between steps are noisy.
    double prior_span_s = 0;
    // The envelope's offset: the lowest of the last this many buckets (0:
    // of the whole segment). A clock whose floor is sharp follows a shift
    // too small to be a step within that window; under jitter the whole
    // segment's floor is the better one.
    std::size_t offset_buckets = 0;
    // The fit covers the latest this many buckets of the segment (at most
    // kBuckets): long for precision, short to follow a rate that changes.
    std::size_t window_buckets = kBuckets;
    double max_deviation = 0.01;   // the rate stays within nominal x (1 +- this)
    // A rate more than far_ppm off nominal counts only over a segment of
    // far_span_s or more, however sharp its floor (0: any rate, any span).
    // Beyond a real clock's tolerance such a rate is more likely a sender's
    // pacing, which runs fast for a few seconds and then waits.
    double far_ppm = 0;
    double far_span_s = 0;
    // An ended segment's weight falls by e every forget_s; 0: ended
    // segments count only until the current one is measured.
    double forget_s = 600;
  };

  /// A JACK server's frame clock against the process callback's wake-ups:
  /// a sharp floor that wanders by tens of microseconds, late outliers of a
  /// few ms; a stall of 0.3 ms and more (three cycles on the new schedule)
  /// is a step from the start, its new level the second earliest of the
  /// six cycles after those (taken afresh from a cycle 1 ms later than
  /// those before it: a storm), and a shift of its floor by 40 us or more
  /// splits the fit. Segments of a second and more measure the
  /// rate, and the nominal rate counts as one of 3 s: a server's clock is
  /// within ppm of it, a sound card's within tens of ppm, while a second
  /// between stalls measures it to tens of ppm on a busy host.
  static Config jack_config(double rate) noexcept;
  /// A sender's media clock (RTP timestamps at `rate`) against packet
  /// arrivals: jitter of any size, the sender's rate up to 1 % off, taken
  /// as nominal until measured to 30 ppm over 3 s at least, or until it is
  /// six uncertainties from nominal (a sender whose pacing wanders, as
  /// ffmpeg -re's does, would otherwise swing it by hundreds of ppm); a
  /// rate that far off only while the segment's latest half agrees
  /// (ffmpeg -re's packets may fall behind for seconds, then hold), and
  /// back to nominal once the packets put it three uncertainties off; a
  /// rate more than 1500 ppm off only over 6 s (ffmpeg -re's pacing runs
  /// 2500 to 5000 ppm fast for 2 to 3 s at a time, with a sharp floor). A
  /// path that gets longer is a step once every packet for 2 s (and 40
  /// packets) came later than before by more than half their mean lateness
  /// (2 ms at least), and before the rate is measured, later than 1500 ppm
  /// off nominal explains; timestamps that jump ahead, once three packets
  /// in a row show it.
  static Config sender_config(double rate = 48000) noexcept;
  /// sender_config's far rate: beyond it a sender's rate counts only over
  /// 6 s (Config::far_ppm).
  static constexpr double kSenderFarPpm = 1500;

  explicit ClockEstimator(const Config& config) noexcept;

  /// Forgets everything (a new stream, a new JACK client).
  void reset() noexcept;
  /// Forgets everything and takes a new configuration (a new nominal rate).
  void reset(const Config& config) noexcept;

  /// One observation: `frames` on the clock at `t_ns` (CLOCK_MONOTONIC).
  /// Returns the step this observation confirmed, in nanoseconds (positive:
  /// the clock's frames now come that much later), or 0.
  std::int64_t observe(std::int64_t frames, std::int64_t t_ns) noexcept;

  /// At least one observation since reset().
  bool valid() const noexcept { return started_; }

  /// When the envelope puts `frames` (CLOCK_MONOTONIC ns). Valid only.
  std::int64_t time_of(std::int64_t frames) const noexcept;
  /// The frame count the envelope puts at `t_ns` (fractional).
  double frames_at(std::int64_t t_ns) const noexcept;

  /// Nanoseconds per frame, and the rate against its nominal (ppm: positive
  /// when the clock runs fast).
  double ns_per_frame() const noexcept { return nominal_ns_ + slope_; }
  double nominal_ns_per_frame() const noexcept { return nominal_ns_; }
  double deviation_ppm() const noexcept { return (nominal_ns_ / ns_per_frame() - 1.0) * 1e6; }
  /// True once a segment has spanned min_span_s: the rate is measured, not
  /// assumed nominal.
  bool rate_measured() const noexcept { return weight_ > 0; }
  /// The rate's uncertainty, ppm (about one standard deviation): the
  /// current segment's scatter (for an envelope, how sharp the floor under
  /// it is, judged per half-second block) over its span. Huge while not
  /// measured.
  double uncertainty_ppm() const noexcept { return uncertainty_; }
  /// How sharp the floor under the current segment's observations is, at
  /// its latest fit: the RMS of each block's lowest observation above the
  /// envelope (Fit::Envelope; the residuals' for Fit::Minima), ns, whether
  /// or not the fit is good enough to count; huge while it has no slope.
  double segment_floor_ns() const noexcept { return segment_floor_; }
  /// A floor at least this large is not measured yet.
  static constexpr double kUnjudgedNs = 1e8;
  /// The current segment's floor is measured (segment_floor_ns()).
  bool judged() const noexcept { return segment_floor_ < kUnjudgedNs; }

  /// Steps confirmed since reset().
  std::uint64_t steps() const noexcept { return steps_; }
  /// Level shifts that split a segment since reset() (Config::shift_ns).
  std::uint64_t shifts() const noexcept { return shifts_; }
  /// A step is being considered: observations sit beyond the threshold.
  bool step_pending() const noexcept { return pending_ != 0; }
  /// How much later than the envelope the clock runs if a pending later
  /// step is confirmed (the least late of the observations that show it),
  /// ns; 0 when none is pending.
  std::int64_t pending_late_ns() const noexcept { return pending_ > 0 ? static_cast<std::int64_t>(pending_r_) : 0; }
  /// A step was confirmed and its new level is still being taken
  /// (Config::settle_count): the envelope is provisional.
  bool settling() const noexcept { return settling_ > 0; }


 private:
  struct Point {
    std::int64_t bucket = 0;
    double x = 0;  // frames since the origin
    double y = 0;  // ns since the origin, less x nominal periods
  };
  struct Segment {
    double slope = 0;
    double weight = 0;
    double end_x = 0;
  };

  double line(double x) const noexcept { return offset_ + slope_ * x; }
  void add_point(double x, double y) noexcept;
  // One observation while a step's new level is being taken.
  void settle(double x, double y) noexcept;
  // How much later than the envelope a rate unmeasured_late_ppm off nominal
  // puts an observation at x (huge when that is 0).
  double unmeasured_reach(double x) const noexcept;
  void start_segment(double x, double y) noexcept;
  // Keeps the current segment's slope among the ended ones, if it has one.
  void end_segment() noexcept;
  // Splits the current segment where its latest kShiftBuckets shifted
  // level; otherwise returns how many of the latest buckets may have (the
  // fit leaves them out for now).
  std::size_t split_at_shift() noexcept;
  void refit() noexcept;
  // The current segment's slope, weight, and its scatter: how far its
  // offsets can be off its line, in ns, over the square root of how many
  // independent looks at them there were (the RMS of the lowest minimum of
  // each kFloorBuckets above the envelope, times kFloorScale; or the least
  // squares residuals' RMS), and that RMS itself (`floor`); false while it
  // has no slope.
  bool segment_slope(double& slope, double& weight, double& scatter, double* floor = nullptr) const noexcept;
  // The envelope of the buckets from `from` on; `edge` is the length of
  // the hull edge the slope comes from.
  bool envelope_slope(std::size_t from, double& slope, double& offset, double& edge) const noexcept;
  // The segment's latest half puts the rate closer to `slope` than to
  // nominal (always, for Fit::Minima).
  bool recent_agrees(double slope) const noexcept;
  void combine(double now_x) noexcept;
  Point& point(std::size_t i) noexcept { return points_[(first_ + i) % kBuckets]; }
  const Point& point(std::size_t i) const noexcept { return points_[(first_ + i) % kBuckets]; }

  Config config_;
  double nominal_ns_;  // ns per frame at the nominal rate

  bool started_ = false;
  std::int64_t x0_ = 0;  // origin
  std::int64_t t0_ = 0;
  double slope_ = 0;   // ns per frame beyond nominal
  double offset_ = 0;  // the envelope's y at x = 0
  double weight_ = 0;  // of the slope: 0 while assumed nominal
  double lateness_ = 0;  // mean lateness of recent observations (ns)
  std::uint64_t observations_ = 0;  // in that mean, up to 64
  double uncertainty_ = 1e9;  // ppm
  double segment_floor_ = 1e9;  // ns, the current segment's, measured or not
  double segment_uncertainty_ = 1e9;  // ppm, the current segment's slope's, counted or not
  std::uint64_t steps_ = 0;
  std::uint64_t shifts_ = 0;

  // The current segment's buckets, oldest first.
  std::array<Point, kBuckets> points_{};
  std::size_t first_ = 0;
  std::size_t count_ = 0;

  // Ended segments whose slope counts, newest at (seg_next_ - 1).
  std::array<Segment, kSegments> segments_{};
  std::size_t seg_next_ = 0;
  std::size_t seg_count_ = 0;

  // A step under consideration: +1 late, -1 early, 0 none.
  int pending_ = 0;
  int pending_count_ = 0;
  std::int64_t pending_t_ = 0;     // its first observation
  double pending_r_ = 0;           // the lowest observation's distance from the envelope
  double pending_x_ = 0, pending_y_ = 0;  // and where it is: the new envelope
  // A confirmed step's new level being taken: observations left, and the
  // two least late so far (their levels at the rate in use, and where they
  // are), least first.
  static constexpr double kNoLevel = 1e300;
  struct Settle {
    double level = kNoLevel;
    double x = 0, y = 0;
  };
  int settling_ = 0;
  std::array<Settle, 2> settle_{};
  // Observations passed over after the clock stepped again, before the
  // level is taken afresh, and the least late of them (with the step's
  // confirmed level, the reference until the first is taken).
  int passing_ = 0;
  Settle passed_{};

  mutable std::array<std::size_t, kBuckets> hull_{};  // scratch for segment_slope
};

}  // namespace core
