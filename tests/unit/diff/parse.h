// Test helper: a RESP value from its bytes, with the real parser (a parse
// failure fails the test).
#pragma once

#include <gtest/gtest.h>

#include <string>
#include <string_view>

#include "redmirror/resp/value.h"

namespace redmirror::diff {

inline resp::Value parse(std::string_view bytes) {
  resp::Value value;
  std::string error;
  EXPECT_TRUE(resp::parseValue(bytes, value, error)) << error << " in " << bytes;
  return value;
}

}  // namespace redmirror::diff
