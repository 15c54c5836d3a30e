// Small readers for the text fields of SDP lines and --format: a whole
// number, and a case-insensitive name.
//
// Thread: any. No allocation.
#pragma once

#include <algorithm>
#include <cctype>
#include <charconv>
#include <string_view>

namespace net {

/// `s` is exactly a number of type T (no sign, space or suffix beyond
/// what from_chars reads).
template <typename T>
bool parse_number(std::string_view s, T& out) noexcept {
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && end == s.data() + s.size();
}

/// ASCII case-insensitive equality (encoding names: "L24", "opus").
inline bool iequals(std::string_view a, std::string_view b) noexcept {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

}  // namespace net
