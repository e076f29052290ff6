#pragma once
// ASCII case handling for command names and keywords (Redis compares them with
// strcasecmp, so locale-independent ASCII is the right rule).
#include <cstddef>
#include <string>
#include <string_view>

namespace redmirror::resp {

// Branch-free: the framers call it on every byte of a command name.
constexpr char toLowerAscii(char c) {
  return static_cast<char>(c | ((static_cast<unsigned char>(c - 'A') < 26u) << 5));
}

constexpr bool equalsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (toLowerAscii(a[i]) != toLowerAscii(b[i])) return false;
  }
  return true;
}

inline std::string lowercase(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = toLowerAscii(c);
  return out;
}

}  // namespace redmirror::resp
