#include "redmirror/resp/value.h"

#include <charconv>

#include "redmirror/resp/limits.h"

namespace redmirror::resp {

namespace {

class Cursor {
 public:
  explicit Cursor(std::string_view bytes) : bytes_(bytes) {}
  bool line(std::string_view& out) {
    const size_t cr = bytes_.find("\r\n", pos_);
    if (cr == std::string_view::npos) return false;
    out = bytes_.substr(pos_, cr - pos_);
    pos_ = cr + 2;
    return true;
  }
  bool take(size_t n, std::string_view& out) {
    if (bytes_.size() - pos_ < n + 2 || bytes_.compare(pos_ + n, 2, "\r\n") != 0) return false;
    out = bytes_.substr(pos_, n);
    pos_ += n + 2;
    return true;
  }
  bool atEnd() const { return pos_ == bytes_.size(); }

 private:
  std::string_view bytes_;
  size_t pos_ = 0;
};

bool toInt(std::string_view text, int64_t& out) {
  if (text.empty() || text.size() > kMaxNumberLength) return false;
  const char* begin = text.data();
  if (*begin == '+') ++begin;
  auto [end, ec] = std::from_chars(begin, text.data() + text.size(), out);
  return ec == std::errc() && end == text.data() + text.size();
}

struct Open {
  Value* value;
  int64_t remaining;   // -1: streamed, until '.'
  bool attribute;
};

}  // namespace

bool parseValue(std::string_view bytes, Value& out, std::string& error) {
  Cursor cursor(bytes);
  out = Value{};
  std::vector<Open> stack;
  std::vector<Value> pendingAttributes;
  bool haveRoot = false;
  while (true) {
    std::string_view header;
    if (!cursor.line(header) || header.empty()) {
      error = "truncated or empty header";
      return false;
    }
    const char type = header[0];
    const std::string_view rest = header.substr(1);
    // A streamed aggregate's end marker closes the innermost open aggregate.
    if (type == '.' && !stack.empty() && stack.back().remaining == -1) {
      stack.back().remaining = 0;
    } else {
      Value* target = nullptr;
      if (!haveRoot) {
        out = Value{};
        target = &out;
        haveRoot = true;
      } else if (!stack.empty()) {
        std::vector<Value>& list =
            stack.back().attribute ? stack.back().value->attributes : stack.back().value->elements;
        list.emplace_back();
        target = &list.back();
        if (stack.back().remaining > 0) --stack.back().remaining;
      } else {
        error = "bytes after the value";
        return false;
      }
      Value& value = *target;
      value.type = type;
      int64_t length = 0;
      switch (type) {
        case '+': case '-': case ',': case '(': case '#':
          value.text = std::string(rest);
          break;
        case ':':
          if (!toInt(rest, value.integer)) { error = "bad integer"; return false; }
          break;
        case '_':
          value.isNull = true;
          break;
        case '$': case '!': case '=': {
          if (rest == "?") {
            // Streamed string: ;len chunks until ;0.
            while (true) {
              std::string_view chunkHeader;
              int64_t chunkLength = 0;
              if (!cursor.line(chunkHeader) || chunkHeader.empty() || chunkHeader[0] != ';' ||
                  !toInt(chunkHeader.substr(1), chunkLength) || chunkLength < 0) {
                error = "bad streamed string chunk";
                return false;
              }
              if (chunkLength == 0) break;
              std::string_view chunk;
              if (!cursor.take(static_cast<size_t>(chunkLength), chunk)) { error = "truncated chunk"; return false; }
              value.text.append(chunk);
            }
            break;
          }
          if (!toInt(rest, length) || length < -1 || length > kMaxBulkLength) {
            error = "bad bulk length";
            return false;
          }
          if (length == -1) {
            value.isNull = true;
            break;
          }
          std::string_view payload;
          if (!cursor.take(static_cast<size_t>(length), payload)) { error = "truncated bulk"; return false; }
          value.text = std::string(payload);
          break;
        }
        case '*': case '%': case '~': case '>': case '|': {
          int64_t count = -1;
          if (rest != "?") {
            if (!toInt(rest, count) || count < -1 || count > kMaxAggregateLength) {
              error = "bad aggregate length";
              return false;
            }
            if (count == -1) {
              value.isNull = true;
              break;
            }
            if (type == '%' || type == '|') count *= 2;
          }
          if (stack.size() >= kMaxReplyDepth) { error = "nested too deep"; return false; }
          stack.push_back(Open{&value, count, type == '|'});
          break;
        }
        default:
          error = std::string("unknown type byte '") + type + "'";
          return false;
      }
    }
    // Close every aggregate that is complete. An attribute, once complete, is
    // moved onto the value that follows it.
    while (!stack.empty() && stack.back().remaining == 0) {
      Open done = stack.back();
      stack.pop_back();
      if (done.attribute) {
        // The attribute occupied a slot where the real value goes next. Only the
        // top-level value keeps its attributes.
        if (stack.empty()) {
          pendingAttributes = std::move(done.value->attributes);
          haveRoot = false;
        } else {
          std::vector<Value>& list =
              stack.back().attribute ? stack.back().value->attributes : stack.back().value->elements;
          list.pop_back();
          if (stack.back().remaining >= 0) ++stack.back().remaining;
        }
      }
    }
    if (haveRoot && stack.empty()) break;
  }
  if (!pendingAttributes.empty()) out.attributes = std::move(pendingAttributes);
  if (!cursor.atEnd()) {
    error = "bytes after the value";
    return false;
  }
  return true;
}

std::string encodeCommand(const std::vector<std::string_view>& args) {
  std::string out;
  out += '*';
  out += std::to_string(args.size());
  out += "\r\n";
  for (std::string_view arg : args) {
    out += '$';
    out += std::to_string(arg.size());
    out += "\r\n";
    out.append(arg);
    out += "\r\n";
  }
  return out;
}

}  // namespace redmirror::resp
