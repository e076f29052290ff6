#pragma once
// Materialised RESP values, for the diff path and for mirroring effects (SPOP's
// members, a blocking pop's key). Only built from bytes a framer has already
// bounded; parsing is non-recursive with an explicit stack.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace redmirror::resp {

struct Value {
  char type = 0;         // RESP type byte: + - : $ * _ , # ! = ( % ~ >
  bool isNull = false;   // $-1, *-1, _
  std::string text;      // + - $ ! = , ( # payloads (verbatim strings keep their "txt:" prefix)
  int64_t integer = 0;   // ':' value
  std::vector<Value> elements;  // aggregates; maps and attributes flattened key, value, ...
  std::vector<Value> attributes;  // '|' attribute preceding this value, flattened

  bool isAggregate() const {
    return type == '*' || type == '%' || type == '~' || type == '>';
  }
  bool isError() const { return type == '-' || type == '!'; }
  bool isString() const { return type == '$' || type == '+' || type == '='; }
};

// Parses exactly one complete value from `bytes` (a whole frame as the reply
// framer delimited it). Returns false with `error` set otherwise.
bool parseValue(std::string_view bytes, Value& out, std::string& error);
// The same, refusing (error kTooManyValues) a value of more than `maxValues`
// values in all: bounds the tree built from a reply of many small elements
// (an 8 MiB reply of 1-byte strings would otherwise take ~130 MB).
inline constexpr std::string_view kTooManyValues = "too many values";
bool parseValue(std::string_view bytes, Value& out, std::string& error, size_t maxValues);

// Encodes a command as a RESP multibulk request.
std::string encodeCommand(const std::vector<std::string_view>& args);

}  // namespace redmirror::resp
