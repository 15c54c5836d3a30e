// rtp2jack: receive an RTP/Opus stream and play it into JACK.
#include <exception>
#include <iostream>
#include <variant>

#include "cmd/app.hpp"
#include "cmd/options.hpp"

int main(int argc, char** argv) {
  const auto parsed = cmd::parse_options(argc, argv);
  if (const int* code = std::get_if<int>(&parsed)) return *code;
  try {
    return cmd::run(std::get<cmd::Options>(parsed));
  } catch (const std::exception& e) {
    std::cerr << "rtp2jack: " << e.what() << "\n";
    return 1;
  }
}
