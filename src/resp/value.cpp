#include "redmirror/resp/value.h"

#include <algorithm>
#include <array>
#include <charconv>

#include "redmirror/resp/limits.h"

namespace redmirror::resp {

namespace {

class Cursor {
 public:
  explicit Cursor(std::string_view bytes) : bytes_(bytes) {}
  // Header lines are a few bytes: a plain scan beats find()'s memchr call.
  bool line(std::string_view& out) {
    for (size_t i = pos_; i + 1 < bytes_.size(); ++i) {
      if (bytes_[i] == '\r' && bytes_[i + 1] == '\n') {
        out = bytes_.substr(pos_, i - pos_);
        pos_ = i + 2;
        return true;
      }
    }
    return false;
  }
  bool take(size_t n, std::string_view& out) {
    if (bytes_.size() - pos_ < n + 2 || bytes_[pos_ + n] != '\r' || bytes_[pos_ + n + 1] != '\n') {
      return false;
    }
    out = bytes_.substr(pos_, n);
    pos_ += n + 2;
    return true;
  }
  // "$<digits>\r\n<payload>\r\n", most elements of most replies, in one pass
  // instead of line() then toInt() then take(). Anything else, including every
  // malformed bulk, is left unread for the general path (and its errors).
  bool plainBulk(std::string_view& payload) {
    size_t i = pos_;
    if (i == bytes_.size() || bytes_[i] != '$') return false;
    const size_t digits = ++i;
    constexpr size_t kMaxDigits = 18;  // cannot overflow
    uint64_t length = 0;
    while (i < bytes_.size() && i - digits < kMaxDigits && bytes_[i] >= '0' && bytes_[i] <= '9') {
      length = length * 10 + static_cast<uint64_t>(bytes_[i] - '0');
      ++i;
    }
    if (i == digits || bytes_.size() - i < 2 || bytes_[i] != '\r' || bytes_[i + 1] != '\n' ||
        length > static_cast<uint64_t>(kMaxBulkLength)) {
      return false;
    }
    i += 2;
    const size_t n = static_cast<size_t>(length);
    if (bytes_.size() - i < n + 2 || bytes_[i + n] != '\r' || bytes_[i + n + 1] != '\n') {
      return false;
    }
    payload = bytes_.substr(i, n);
    pos_ = i + n + 2;
    return true;
  }
  bool atEnd() const { return pos_ == bytes_.size(); }
  size_t remaining() const { return bytes_.size() - pos_; }

 private:
  std::string_view bytes_;
  size_t pos_ = 0;
};

// Plain digits that cannot overflow: the shape of nearly every length and
// integer in a reply, read without from_chars' generality.
bool toSmallUnsigned(std::string_view text, int64_t& out) {
  constexpr size_t kNeverOverflows = 18;  // 10^18 - 1 < INT64_MAX
  if (text.size() > kNeverOverflows) return false;
  int64_t value = 0;
  for (const char c : text) {
    if (c < '0' || c > '9') return false;
    value = value * 10 + (c - '0');
  }
  out = value;
  return true;
}

bool toInt(std::string_view text, int64_t& out) {
  if (text.empty() || text.size() > kMaxNumberLength) return false;
  if (toSmallUnsigned(text, out)) return true;
  const char* begin = text.data();
  if (*begin == '+') ++begin;
  auto [end, ec] = std::from_chars(begin, text.data() + text.size(), out);
  return ec == std::errc() && end == text.data() + text.size();
}

// Fewest bytes one value takes ("_\r\n", "+\r\n"): bounds what an aggregate's
// declared count may reserve, so a lying header cannot make us allocate.
constexpr size_t kMinValueBytes = 3;

struct Open {
  Value* value;
  int64_t remaining;   // -1: streamed, until '.'
  bool attribute;

  std::vector<Value>& children() const { return attribute ? value->attributes : value->elements; }
};

// The aggregates being filled, innermost last. The parser refuses nesting deeper
// than kMaxReplyDepth, so a fixed array is enough and parsing allocates nothing
// but the values themselves.
class OpenStack {
 public:
  bool empty() const { return size_ == 0; }
  bool full() const { return size_ == items_.size(); }
  Open& back() { return items_[size_ - 1]; }
  void push(const Open& open) { items_[size_++] = open; }
  Open pop() { return items_[--size_]; }

 private:
  std::array<Open, kMaxReplyDepth> items_;
  size_t size_ = 0;
};

// Makes `value` a default Value. Callers pass fresh ones: assigning Value{}
// to them would construct, move and destroy a Value for nothing.
void reset(Value& value) {
  const bool isDefault = value.type == 0 && !value.isNull && value.text.empty() &&
                         value.integer == 0 && value.elements.empty() && value.attributes.empty();
  if (!isDefault) value = Value{};
}

class Parser {
 public:
  Parser(std::string_view bytes, std::string& error, size_t maxValues = SIZE_MAX)
      : cursor_(bytes), error_(error), valuesLeft_(maxValues) {}

  bool parse(Value& out) {
    reset(out);
    bool haveRoot = false;
    std::vector<Value> pendingAttributes;
    while (true) {
      std::string_view bulk;
      if (cursor_.plainBulk(bulk)) {
        Value* target = slotForNext(out, haveRoot);
        if (target == nullptr) return tooMany_ ? false : fail("bytes after the value");
        target->type = '$';
        target->text.append(bulk);  // a fresh value: append is assign without the generality
      } else {
        std::string_view header;
        if (!cursor_.line(header) || header.empty()) return fail("truncated or empty header");
        const char type = header[0];
        const std::string_view rest = header.substr(1);
        // A streamed aggregate's end marker closes the innermost open aggregate.
        if (type == '.' && !stack_.empty() && stack_.back().remaining == -1) {
          stack_.back().remaining = 0;
        } else {
          Value* target = slotForNext(out, haveRoot);
          if (target == nullptr) return tooMany_ ? false : fail("bytes after the value");
          if (!readValue(type, rest, *target)) return false;
        }
      }
      closeCompleted(pendingAttributes, haveRoot);
      if (haveRoot && stack_.empty()) break;
    }
    if (!pendingAttributes.empty()) out.attributes = std::move(pendingAttributes);
    if (!cursor_.atEnd()) return fail("bytes after the value");
    return true;
  }

 private:
  bool fail(std::string message) {
    error_ = std::move(message);
    return false;
  }

  // Where the value just read goes: the root, or a new slot in the innermost
  // open aggregate; nullptr when the root is complete.
  Value* slotForNext(Value& out, bool& haveRoot) {
    if (valuesLeft_ == 0) {
      tooMany_ = true;
      fail(std::string(kTooManyValues));
      return nullptr;
    }
    --valuesLeft_;
    if (!haveRoot) {
      reset(out);
      haveRoot = true;
      return &out;
    }
    return stack_.empty() ? nullptr : &nextChild();
  }

  // A new slot in the innermost open aggregate.
  Value& nextChild() {
    Open& open = stack_.back();
    std::vector<Value>& list = open.children();
    list.emplace_back();
    if (open.remaining > 0) --open.remaining;
    return list.back();
  }

  bool readValue(char type, std::string_view rest, Value& value) {
    value.type = type;
    switch (type) {
      case '+': case '-': case ',': case '(': case '#':
        value.text.append(rest);  // a fresh value: append is assign without the generality
        return true;
      case ':':
        return toInt(rest, value.integer) || fail("bad integer");
      case '_':
        value.isNull = true;
        return true;
      case '$': case '!': case '=':
        return rest == "?" ? readStreamedString(value) : readBulk(rest, value);
      case '*': case '%': case '~': case '>': case '|':
        return openAggregate(type, rest, value);
      default:
        return fail(std::string("unknown type byte '") + type + "'");
    }
  }

  // Streamed string: ;len chunks until ;0.
  bool readStreamedString(Value& value) {
    while (true) {
      std::string_view chunkHeader;
      int64_t chunkLength = 0;
      if (!cursor_.line(chunkHeader) || chunkHeader.empty() || chunkHeader[0] != ';' ||
          !toInt(chunkHeader.substr(1), chunkLength) || chunkLength < 0) {
        return fail("bad streamed string chunk");
      }
      if (chunkLength == 0) return true;
      std::string_view chunk;
      if (!cursor_.take(static_cast<size_t>(chunkLength), chunk)) return fail("truncated chunk");
      value.text.append(chunk);
    }
  }

  bool readBulk(std::string_view rest, Value& value) {
    int64_t length = 0;
    if (!toInt(rest, length) || length < -1 || length > kMaxBulkLength) {
      return fail("bad bulk length");
    }
    if (length == -1) {
      value.isNull = true;
      return true;
    }
    std::string_view payload;
    if (!cursor_.take(static_cast<size_t>(length), payload)) return fail("truncated bulk");
    value.text.append(payload);  // a fresh value: append is assign without the generality
    return true;
  }

  bool openAggregate(char type, std::string_view rest, Value& value) {
    int64_t count = -1;
    if (rest != "?") {
      if (!toInt(rest, count) || count < -1 || count > kMaxAggregateLength) {
        return fail("bad aggregate length");
      }
      if (count == -1) {
        value.isNull = true;
        return true;
      }
      if (type == '%' || type == '|') count *= 2;
    }
    if (stack_.full()) return fail("nested too deep");
    const Open open{&value, count, type == '|'};
    reserveChildren(open);
    stack_.push(open);
    return true;
  }

  // Growing a vector of Values element by element moves every Value on each
  // reallocation; the declared count, capped by the bytes left, avoids that.
  void reserveChildren(const Open& open) {
    if (open.remaining <= 0) return;
    const size_t fit = cursor_.remaining() / kMinValueBytes;
    open.children().reserve(std::min(static_cast<size_t>(open.remaining), fit));
  }

  // Closes every aggregate that is complete. An attribute, once complete, is
  // moved onto the value that follows it.
  void closeCompleted(std::vector<Value>& pendingAttributes, bool& haveRoot) {
    while (!stack_.empty() && stack_.back().remaining == 0) {
      const Open done = stack_.pop();
      if (!done.attribute) continue;
      // The attribute occupied a slot where the real value goes next. Only the
      // top-level value keeps its attributes.
      if (stack_.empty()) {
        pendingAttributes = std::move(done.value->attributes);
        haveRoot = false;
      } else {
        stack_.back().children().pop_back();
        if (stack_.back().remaining >= 0) ++stack_.back().remaining;
      }
    }
  }

  Cursor cursor_;
  std::string& error_;
  size_t valuesLeft_;
  bool tooMany_ = false;
  OpenStack stack_;
};

}  // namespace

bool parseValue(std::string_view bytes, Value& out, std::string& error) {
  return Parser(bytes, error).parse(out);
}

bool parseValue(std::string_view bytes, Value& out, std::string& error, size_t maxValues) {
  return Parser(bytes, error, maxValues).parse(out);
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
