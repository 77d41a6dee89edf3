// --shard K/N: what is accepted, and the one-line error for everything else.
#include "cli/shard_argument.hpp"

#include <string>

#include <gtest/gtest.h>

namespace piperun::cli {
namespace {

TEST(ShardArgument, AcceptsKOfN) {
  const auto shard = parse_shard("2/4");
  ASSERT_TRUE(shard.has_value()) << shard.error();
  EXPECT_EQ(shard->index, 2u);
  EXPECT_EQ(shard->count, 4u);
  EXPECT_EQ(parse_shard("1/1").value(), (pipeline::Shard{.index = 1, .count = 1}));
  EXPECT_EQ(parse_shard("12/12").value(), (pipeline::Shard{.index = 12, .count = 12}));
  EXPECT_EQ(parse_shard("007/10").value(), (pipeline::Shard{.index = 7, .count = 10}));
}

TEST(ShardArgument, RefusesKOutsideOneToN) {
  for (const std::string text : {"0/3", "4/3", "1/0", "0/0"}) {
    const auto shard = parse_shard(text);
    ASSERT_FALSE(shard.has_value()) << text;
    EXPECT_TRUE(shard.error().starts_with("--shard: ")) << shard.error();
    EXPECT_NE(shard.error().find(text), std::string::npos) << shard.error();
  }
}

TEST(ShardArgument, RefusesWhatIsNotTwoWholeNumbers) {
  for (const std::string text : {"", "3", "a/b", "1/b", "/3", "3/", "1/3/5", "+1/3", "-1/3", " 1/3",
                                 "1/3 ", "1.0/3", "1 / 3", "99999999999999999999/1"}) {
    const auto shard = parse_shard(text);
    ASSERT_FALSE(shard.has_value()) << "'" << text << "'";
    EXPECT_TRUE(shard.error().starts_with("--shard: ")) << shard.error();
    EXPECT_EQ(shard.error().find('\n'), std::string::npos) << shard.error();
  }
}

}  // namespace
}  // namespace piperun::cli
