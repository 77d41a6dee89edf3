// uri_encode: SigV4's percent-encoding, byte by byte, with and without '/'.
#include "stages/upload/uri_encode.hpp"

#include <gtest/gtest.h>

namespace piperun::stages::upload {
namespace {

TEST(UriEncode, KeepsUnreservedAndEncodesEveryOtherByte) {
  EXPECT_EQ(uri_encode("AZaz09-._~", true), "AZaz09-._~");
  EXPECT_EQ(uri_encode("a b", true), "a%20b");
  EXPECT_EQ(uri_encode("1+1*2", true), "1%2B1%2A2");
  EXPECT_EQ(uri_encode("a=b&c", true), "a%3Db%26c");
  EXPECT_EQ(uri_encode("%", true), "%25");
  EXPECT_EQ(uri_encode("", true), "");
}

TEST(UriEncode, SlashIsKeptOnlyInPaths) {
  EXPECT_EQ(uri_encode("dir/sub/file.zst", false), "dir/sub/file.zst");
  EXPECT_EQ(uri_encode("dir/sub/file.zst", true), "dir%2Fsub%2Ffile.zst");
}

TEST(UriEncode, BytesAreEncodedWhateverTheirEncoding) {
  EXPECT_EQ(uri_encode("caf\xc3\xa9", false), "caf%C3%A9") << "UTF-8, uppercase hex";
  EXPECT_EQ(uri_encode("bad\xff\x80name", false), "bad%FF%80name") << "not UTF-8 at all";
  EXPECT_EQ(uri_encode(std::string_view("a\0b", 3), false), "a%00b");
}

}  // namespace
}  // namespace piperun::stages::upload
