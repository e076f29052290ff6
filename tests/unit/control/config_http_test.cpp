// The `http` field: an address, named in its errors, and not the listener's.
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <string>

#include "redmirror/control/config.h"

namespace redmirror::control {
namespace {

std::string loadError(const std::string& yaml, ProxyConfig& config) {
  const std::string path = ::testing::TempDir() + "redmirror_config_http_" +
                           ::testing::UnitTest::GetInstance()->current_test_info()->name() + ".yaml";
  std::ofstream(path) << yaml;
  std::string error;
  try {
    loadConfigFile(path, config);
    validateConfig(config);
  } catch (const ConfigError& e) {
    error = e.what();
  }
  std::remove(path.c_str());
  return error;
}

TEST(ConfigHttp, OffUnlessGiven) {
  ProxyConfig config;
  EXPECT_EQ(loadError("listen: 127.0.0.1:7000\n", config), "");
  EXPECT_FALSE(config.http.has_value());
}

TEST(ConfigHttp, ReadsTheAddress) {
  ProxyConfig config;
  EXPECT_EQ(loadError("http: 127.0.0.1:9121\n", config), "");
  ASSERT_TRUE(config.http.has_value());
  EXPECT_EQ(config.http->str(), "127.0.0.1:9121");
}

TEST(ConfigHttp, ErrorsNameTheField) {
  ProxyConfig config;
  EXPECT_NE(loadError("http: nowhere\n", config).find("field 'http'"), std::string::npos);
  ProxyConfig same;
  EXPECT_EQ(loadError("listen: 127.0.0.1:7000\nhttp: 127.0.0.1:7000\n", same), "http: the same address as listen");
}

}  // namespace
}  // namespace redmirror::control
