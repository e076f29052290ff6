#include "redmirror/control/config.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <functional>
#include <string>

namespace redmirror::control {
namespace {

class ConfigFileTest : public ::testing::Test {
 protected:
  std::string write(const std::string& yaml) {
    std::ofstream(path_) << yaml;
    return path_;
  }
  void TearDown() override { std::remove(path_.c_str()); }
  // One file per test: ctest runs the tests of this fixture in parallel processes.
  std::string path_ = ::testing::TempDir() + "redmirror_config_" +
                      ::testing::UnitTest::GetInstance()->current_test_info()->name() + ".yaml";
};

std::string errorOf(const std::function<void()>& action) {
  try {
    action();
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}

TEST_F(ConfigFileTest, ReadsEveryField) {
  ProxyConfig config;
  loadConfigFile(write("listen: 127.0.0.1:7000\nprimary: '[::1]:7001'\nworkers: 3\n"
                       "log_level: debug\nobserve: false\nconnect_timeout_ms: 100\n"
                       "shutdown_timeout_ms: 200\nhigh_water_bytes: 65536\n"
                       "low_water_bytes: 1024\nbacklog: 64\n"),
                 config);
  EXPECT_EQ(config.listen.str(), "127.0.0.1:7000");
  EXPECT_EQ(config.primary.host, "::1");
  EXPECT_EQ(config.primary.port, 7001);
  EXPECT_EQ(config.workers, 3u);
  EXPECT_EQ(config.logLevel, "debug");
  EXPECT_FALSE(config.observe);
  EXPECT_EQ(config.connectTimeoutMs, 100u);
  EXPECT_EQ(config.shutdownTimeoutMs, 200u);
  EXPECT_EQ(config.highWaterBytes, 65536u);
  EXPECT_EQ(config.lowWaterBytes, 1024u);
  EXPECT_EQ(config.backlog, 64);
  EXPECT_NO_THROW(validateConfig(config));
}

TEST_F(ConfigFileTest, LinkBatchingFieldsAndTheirLimit) {
  ProxyConfig config;
  loadConfigFile(write("link_batch_delay_us: 0\nlink_batch_bytes: 4096\n"), config);
  EXPECT_EQ(config.linkBatchDelayUs, 0u);
  EXPECT_EQ(config.linkBatchBytes, 4096u);
  EXPECT_NO_THROW(validateConfig(config));
  loadConfigFile(write("link_batch_delay_us: 250000\n"), config);
  try {
    validateConfig(config);
    FAIL() << "a 250 ms batch delay was accepted";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("link_batch_delay_us"), std::string::npos) << e.what();
  }
  EXPECT_THROW(loadConfigFile(write("link_batch_bytes: lots\n"), config), ConfigError);
}

TEST_F(ConfigFileTest, AnEmptyFileKeepsDefaults) {
  ProxyConfig config;
  loadConfigFile(write(""), config);
  EXPECT_EQ(config.listen.str(), "127.0.0.1:6380");
  EXPECT_TRUE(config.observe);
}

TEST_F(ConfigFileTest, ErrorsNameTheField) {
  ProxyConfig config;
  EXPECT_NE(errorOf([&] { loadConfigFile(write("listne: 1.2.3.4:5\n"), config); })
                .find("unknown field 'listne'"),
            std::string::npos);
  EXPECT_NE(errorOf([&] { loadConfigFile(write("workers: many\n"), config); })
                .find("field 'workers': expected an integer"),
            std::string::npos);
  EXPECT_NE(errorOf([&] { loadConfigFile(write("primary: nohost\n"), config); })
                .find("field 'primary'"),
            std::string::npos);
  EXPECT_NE(errorOf([&] { loadConfigFile(write("primary: 127.0.0.1:99999\n"), config); })
                .find("invalid port '99999'"),
            std::string::npos);
  EXPECT_NE(errorOf([&] { loadConfigFile(write("listen: [unclosed\n"), config); }).find(path_),
            std::string::npos);
  EXPECT_NE(errorOf([&] { loadConfigFile("/nonexistent/redmirror.yaml", config); })
                .find("cannot be read"),
            std::string::npos);
}

TEST(ConfigValidation, RejectsInconsistentSettings) {
  ProxyConfig config;
  config.logLevel = "loud";
  EXPECT_NE(errorOf([&] { validateConfig(config); }).find("log_level"), std::string::npos);
  config = ProxyConfig{};
  config.lowWaterBytes = config.highWaterBytes;
  EXPECT_NE(errorOf([&] { validateConfig(config); }).find("low_water_bytes"), std::string::npos);
  config = ProxyConfig{};
  config.primary = config.listen;
  EXPECT_NE(errorOf([&] { validateConfig(config); }).find("proxy to itself"), std::string::npos);
}

TEST(AddressParsing, AcceptsIpv4Ipv6AndLocalhost) {
  EXPECT_EQ(parseAddressField("--primary", "localhost:6379").port, 6379);
  EXPECT_EQ(parseAddressField("--primary", "[::1]:6379").host, "::1");
  EXPECT_NE(errorOf([] { parseAddressField("--listen", "nonsense"); }).find("--listen"),
            std::string::npos);
  EXPECT_NE(errorOf([] { parseAddressField("--listen", "example.com:80"); }).find("invalid address"),
            std::string::npos);
}

}  // namespace
}  // namespace redmirror::control
