// The control context: builds the net and audio contexts, owns the JACK
// client's lifecycle, handles signals and prints statistics.
#pragma once

#include "audio/jack_client.hpp"
#include "cmd/options.hpp"

namespace cmd {

/// Wraps the process callback: called on JACK's real-time thread with the
/// audio context's function, which it must call. Lets a checker observe the
/// callback (tests/rt_alloc_check.cpp) without the product knowing.
using ProcessHook = void (*)(audio::JackClient::ProcessFn inner, void* inner_arg,
                             float* const* out, const audio::Cycle& cycle) noexcept;

/// Thread: main. Runs until SIGINT/SIGTERM (returns 0) or a failure (prints
/// one line, returns non-zero).
int run(const Options& options, ProcessHook hook = nullptr);

}  // namespace cmd
