// Admin access: uid lists, peer credentials, the token comparison, and the
// per-connection command rate.
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "redmirror/control/admin_access.h"
#include "redmirror/control/admin_limits.h"
#include "redmirror/control/config.h"

namespace redmirror::control {
namespace {

TEST(UidListTest, ParsesNumericUids) {
  std::vector<uint32_t> uids;
  std::string error;
  ASSERT_TRUE(parseUidList("1000", uids, error)) << error;
  EXPECT_EQ(uids, (std::vector<uint32_t>{1000}));
  ASSERT_TRUE(parseUidList("0,1000,4294967295", uids, error)) << error;
  EXPECT_EQ(uids, (std::vector<uint32_t>{0, 1000, 4294967295u}));
}

TEST(UidListTest, RefusesAnythingElseNamingThePart) {
  for (const char* bad : {"", "root", "1000,", ",1000", "10 00", "-1", "1000,,1", "4294967296", "1e3"}) {
    std::vector<uint32_t> uids{42};
    std::string error;
    EXPECT_FALSE(parseUidList(bad, uids, error)) << bad;
    EXPECT_FALSE(error.empty()) << bad;
    EXPECT_EQ(uids, (std::vector<uint32_t>{42})) << "changed on error: " << bad;
  }
  std::vector<uint32_t> uids;
  std::string error;
  parseUidList("1000,bob", uids, error);
  EXPECT_NE(error.find("'bob'"), std::string::npos) << error;
}

TEST(UidAllowListTest, EmptyAllowsAnyoneListedAllowsOnlyThem) {
  AdminPeer peer;
  peer.hasCredentials = true;
  peer.uid = 1000;
  EXPECT_EQ(UidAllowList().refusal(peer), "");
  EXPECT_EQ(UidAllowList({0, 1000}).refusal(peer), "");
  const std::string refusal = UidAllowList({0, 1001}).refusal(peer);
  EXPECT_NE(refusal.find("uid 1000"), std::string::npos) << refusal;
  AdminPeer unknown;  // SO_PEERCRED failed
  EXPECT_NE(UidAllowList({1000}).refusal(unknown), "");
  EXPECT_EQ(UidAllowList().refusal(unknown), "");
}

TEST(PeerCredentialsTest, UnixPeerIsThisProcess) {
  int fds[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM, 0, fds), 0);
  const std::optional<AdminPeer> peer = unixPeer(fds[0]);
  ::close(fds[0]);
  ::close(fds[1]);
  ASSERT_TRUE(peer.has_value());
  EXPECT_TRUE(peer->hasCredentials);
  EXPECT_EQ(peer->uid, ::getuid());
  EXPECT_EQ(peer->gid, ::getgid());
  EXPECT_EQ(peer->pid, ::getpid());
  EXPECT_EQ(peer->describe(), "uid " + std::to_string(::getuid()) + " gid " + std::to_string(::getgid()) +
                                  " pid " + std::to_string(::getpid()));
}

TEST(AdminTokenTest, MatchesOnlyTheSameBytes) {
  const AdminToken token = AdminToken::fromSecret("correct-horse-battery-staple");
  EXPECT_TRUE(token.matches("correct-horse-battery-staple"));
  EXPECT_FALSE(token.matches("correct-horse-battery-stapl"));    // a prefix
  EXPECT_FALSE(token.matches("correct-horse-battery-staple "));  // longer
  EXPECT_FALSE(token.matches("Correct-horse-battery-staple"));   // first byte
  EXPECT_FALSE(token.matches("correct-horse-battery-staplE"));   // last byte
  EXPECT_FALSE(token.matches(""));
  EXPECT_FALSE(token.matches(std::string("correct-horse-battery-staple\0", 29)));
}

class TokenFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/redmirror_token_XXXXXX";
    dir_ = ::mkdtemp(pattern);
    path_ = dir_ + "/token";
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  void write(const std::string& text) { std::ofstream(path_) << text; }
  std::string dir_;
  std::string path_;
};

TEST_F(TokenFileTest, FirstLineTrimmed) {
  write("  0123456789abcdef-token \r\nsecond line\n");
  const AdminToken token = AdminToken::fromFile("admin_token_file", path_);
  EXPECT_TRUE(token.matches("0123456789abcdef-token"));
  EXPECT_FALSE(token.matches("second line"));
}

TEST_F(TokenFileTest, RefusesMissingEmptyOrShortNamingTheField) {
  auto errorOf = [&] {
    try {
      AdminToken::fromFile("admin_token_file", path_);
    } catch (const ConfigError& e) {
      return std::string(e.what());
    }
    return std::string("accepted");
  };
  EXPECT_NE(errorOf().find("admin_token_file: cannot read"), std::string::npos) << errorOf();
  write("\n");
  EXPECT_NE(errorOf().find("admin_token_file"), std::string::npos) << errorOf();
  write("short-token\n");
  EXPECT_NE(errorOf().find("shorter than 16"), std::string::npos) << errorOf();
  EXPECT_EQ(errorOf().find("short-token"), std::string::npos) << "the error shows the token: " << errorOf();
}

TEST(CommandRateLimiterTest, BurstThenSustainedRate) {
  CommandRateLimiter limiter(10, 5, 1000);  // 10 a second, 5 at once
  for (int i = 0; i < 5; ++i) EXPECT_TRUE(limiter.allow(1000)) << i;
  EXPECT_FALSE(limiter.allow(1000));
  EXPECT_FALSE(limiter.allow(1099));  // 0.99 of a command earned
  EXPECT_TRUE(limiter.allow(1100));
  EXPECT_FALSE(limiter.allow(1100));
  // A long pause refills the burst, never more.
  int allowed = 0;
  while (limiter.allow(1000000)) ++allowed;
  EXPECT_EQ(allowed, 5);
}

TEST(CommandRateLimiterTest, ZeroRateMeansNoLimit) {
  CommandRateLimiter limiter(0, 1, 0);
  for (int i = 0; i < 10000; ++i) ASSERT_TRUE(limiter.allow(0));
}

TEST(CommandRateLimiterTest, ClockGoingBackwardsOrFarForwardIsSafe) {
  CommandRateLimiter limiter(1000000, 3, 5000);
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(limiter.allow(5000));
  EXPECT_FALSE(limiter.allow(4000));  // earlier: nothing earned
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(limiter.allow(UINT64_MAX)) << i;
  EXPECT_FALSE(limiter.allow(UINT64_MAX));
}

}  // namespace
}  // namespace redmirror::control
