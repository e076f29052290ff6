// splitInlineArgs (Redis's sdssplitargs, byte for byte) and Capture::is.
#include <string>
#include <string_view>
#include <vector>

#include "redmirror/resp/request_framer.h"

namespace redmirror::resp {

namespace {

// isspace() in the C locale, which is what Redis runs under.
constexpr bool isSpace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

constexpr bool isHexDigit(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

constexpr int hexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return c - 'A' + 10;
}

}  // namespace

// sdssplitargs works on a NUL-terminated string, so the first NUL ends the line;
// at(i) returns '\0' past the end the way reading the terminator does in C.
bool splitInlineArgs(std::string_view line, std::vector<std::string>& out) {
  out.clear();
  if (const size_t nul = line.find('\0'); nul != std::string_view::npos) line = line.substr(0, nul);
  const size_t n = line.size();
  auto at = [&](size_t i) { return i < n ? line[i] : '\0'; };

  size_t p = 0;
  while (true) {
    while (p < n && isSpace(line[p])) ++p;
    if (p >= n) return true;

    std::string current;
    bool inDouble = false;
    bool inSingle = false;
    bool done = false;
    while (!done) {
      const char c = at(p);
      if (inDouble) {
        if (c == '\\' && at(p + 1) == 'x' && isHexDigit(at(p + 2)) && isHexDigit(at(p + 3))) {
          current.push_back(static_cast<char>(hexValue(at(p + 2)) * 16 + hexValue(at(p + 3))));
          p += 3;
        } else if (c == '\\' && at(p + 1) != '\0') {
          ++p;
          switch (at(p)) {
            case 'n': current.push_back('\n'); break;
            case 'r': current.push_back('\r'); break;
            case 't': current.push_back('\t'); break;
            case 'b': current.push_back('\b'); break;
            case 'a': current.push_back('\a'); break;
            default: current.push_back(at(p)); break;
          }
        } else if (c == '"') {
          // The closing quote must be followed by a space or the end.
          if (at(p + 1) != '\0' && !isSpace(at(p + 1))) { out.clear(); return false; }
          done = true;
        } else if (c == '\0') {
          out.clear();
          return false;
        } else {
          current.push_back(c);
        }
      } else if (inSingle) {
        if (c == '\\' && at(p + 1) == '\'') {
          ++p;
          current.push_back('\'');
        } else if (c == '\'') {
          if (at(p + 1) != '\0' && !isSpace(at(p + 1))) { out.clear(); return false; }
          done = true;
        } else if (c == '\0') {
          out.clear();
          return false;
        } else {
          current.push_back(c);
        }
      } else {
        // Unquoted tokens end only at these four (not at '\v' or '\f', unlike the
        // blank skipping above: that asymmetry is Redis's).
        switch (c) {
          case ' ': case '\n': case '\r': case '\t': case '\0': done = true; break;
          case '"': inDouble = true; break;
          case '\'': inSingle = true; break;
          default: current.push_back(c); break;
        }
      }
      if (p < n) ++p;
    }
    out.push_back(std::move(current));
  }
}

}  // namespace redmirror::resp
