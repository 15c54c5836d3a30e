// Reads a WAV recording of a steady sine tone and measures what a listener
// would notice: when the sound starts and stops, its pitch and level, holes
// in it, and clicks.
//
// Test-only code (STYLE rule 11). Not real-time: it allocates and throws.
//
// The recordings come from `jack_rec`, which writes a plain 44-byte header
// with the data size filled in only on a clean end of recording; when it is
// killed, or even stopped by SIGINT/SIGTERM, the RIFF and data sizes stay 0.
// The reader therefore trusts the file length over the header.
#pragma once

#include <string>
#include <vector>

namespace testtools {

/// Samples of one WAV file, converted to float in [-1, 1), one vector per
/// channel.
struct WavData {
  int sample_rate = 0;
  int bits_per_sample = 0;
  bool is_float = false;
  /// True when the data chunk's size field was 0, past the end of the file,
  /// or the chunk was cut short; the samples then run to the end of the file.
  bool size_from_file_length = false;
  std::vector<std::vector<float>> channels;
};

/// Thread: any. Reads PCM 8/16/24/32-bit or float 32/64-bit, plain or
/// WAVE_FORMAT_EXTENSIBLE, any channel count. Throws std::runtime_error with
/// the reason when the file is unreadable or not a WAV it understands.
WavData ReadWav(const std::string& path);

/// Knobs of the analysis. The defaults suit a 200 Hz - 10 kHz tone at -30
/// to 0 dBFS, coded with Opus at 64 kbit/s or more. Below 200 Hz, gap
/// windows (half a period) outgrow a 5 ms hole, which then shows only as
/// clicks.
struct AnalysisOptions {
  /// A 1 ms window is "sound" when its RMS is above this, in dB relative to
  /// an RMS of 1.0 (a full-scale square wave).
  double sound_threshold_db = -40.0;
  /// The steady part, used for frequency, level and the click noise floor,
  /// skips this much after onset (start-up transients, jitter-buffer fill)
  /// and before offset (fade-out, decoder tail).
  double steady_skip_start_s = 0.5;
  double steady_skip_end_s = 0.2;
  /// A gap is a run of windows whose RMS is below this fraction of the
  /// steady RMS (0.5 = -6 dB).
  double gap_fraction = 0.5;
  /// A click is a residual above this many robust standard deviations of
  /// the residual's noise over the steady part...
  double click_sigmas = 10.0;
  /// ...and above this fraction of the tone's peak amplitude, so that an
  /// almost noise-free synthetic file does not flag rounding as clicks.
  double click_min_fraction = 0.02;
  /// When > 0: judge level, frequency, gaps and clicks only over this many
  /// seconds from the onset (the length of the tone that was sent).
  double analyse_s = 0;
};

/// What AnalyseChannel found in one channel. Times are from the start of
/// the file. When has_sound is false, only `channel` is meaningful.
struct ChannelAnalysis {
  int channel = 0;  // 0-based
  bool has_sound = false;
  double onset_s = 0;     // start of the first window above the threshold
  double offset_s = 0;    // end of the last window above the threshold
  double duration_s = 0;  // offset_s - onset_s
  double freq_hz = 0;     // over the steady part
  double rms = 0;         // over the steady part, linear (1.0 = full scale)
  int gaps = 0;           // runs of quiet windows between onset and offset
  double longest_gap_ms = 0;
  int clicks = 0;  // steps from onset+5 ms to offset-5 ms; those within 1 ms count once
};

/// Thread: any. Analyses one channel sampled at `sample_rate`.
ChannelAnalysis AnalyseChannel(const std::vector<float>& samples, int sample_rate,
                               const AnalysisOptions& options = {});

/// Thread: any. ReadWav then AnalyseChannel on each channel, in order.
/// Throws like ReadWav.
std::vector<ChannelAnalysis> AnalyseWav(const std::string& path,
                                        const AnalysisOptions& options = {});

}  // namespace testtools
