// The control context: builds the net and audio contexts, owns the JACK
// client's lifecycle, handles signals and prints statistics.
#pragma once

#include "cmd/options.hpp"

namespace cmd {

/// Thread: main. Runs until SIGINT/SIGTERM (returns 0) or a failure (prints
/// one line, returns non-zero).
int run(const Options& options);

}  // namespace cmd
