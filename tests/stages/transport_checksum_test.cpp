// TransportChecksum: each kind's value for known inputs (from `openssl dgst -binary | base64`,
// `xxhsum -H2` and the CRC catalogue's check values), incremental updates over split input,
// reuse after finish, and the names S3 expects.
#include "stages/upload/transport_checksum.hpp"

#include <random>
#include <vector>

#include <gtest/gtest.h>

#include "support/bytes_of.hpp"

namespace piperun::stages::upload {
namespace {

using piperun::testing::bytes_of;

using Kind = piperun::stages::TransportChecksum;

std::string checksum_of(Kind kind, std::string_view text) {
  TransportChecksum checksum(kind);
  checksum.update(bytes_of(text));
  return checksum.finish_base64();
}

TEST(TransportChecksum, Md5OfEmptyAndHello) {
  EXPECT_EQ(checksum_of(Kind::md5, ""), "1B2M2Y8AsgTpgAmY7PhCfg==");
  EXPECT_EQ(checksum_of(Kind::md5, "hello"), "XUFAKrxLKna5cZ2REBfFkg==");
}

TEST(TransportChecksum, Sha256OfEmptyAndHello) {
  EXPECT_EQ(checksum_of(Kind::sha256, ""), "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=");
  EXPECT_EQ(checksum_of(Kind::sha256, "hello"), "LPJNul+wow4m6DsqxbninhsWHlwfp0JecwQzYpOLmCQ=");
}

TEST(TransportChecksum, Crc32cCheckValueIsBigEndian) {
  EXPECT_EQ(checksum_of(Kind::crc32c, "123456789"), "4waSgw==");  // 0xE3069283
  EXPECT_EQ(checksum_of(Kind::crc32c, ""), "AAAAAA==");
  EXPECT_EQ(checksum_of(Kind::crc32c, "hello"), "mnG7TA==");  // 0x9A71BB4C
}

TEST(TransportChecksum, Crc64NvmeCheckValueIsBigEndian) {
  EXPECT_EQ(checksum_of(Kind::crc64nvme, "123456789"), "rosUhgp5mIg=");  // 0xAE8B14860A799888
  EXPECT_EQ(checksum_of(Kind::crc64nvme, ""), "AAAAAAAAAAA=");
  EXPECT_EQ(checksum_of(Kind::crc64nvme, "hello"), "M3eFcAZSQlc=");  // 0x3377857006524257
}

TEST(TransportChecksum, Xxhash128IsTheCanonicalFormXxhsumPrints) {
  // xxhsum -H2: 99aa06d3014798d86001c324468d497f for "", b5e9c1ad071b3e7fc779cfaa5e523818 for
  // "hello".
  EXPECT_EQ(checksum_of(Kind::xxhash128, ""), "maoG0wFHmNhgAcMkRo1Jfw==");
  EXPECT_EQ(checksum_of(Kind::xxhash128, "hello"), "tenBrQcbPn/Hec+qXlI4GA==");
}

TEST(TransportChecksum, NoneHasNoValueAndNoNames) {
  TransportChecksum checksum(Kind::none);
  checksum.update(bytes_of("hello"));
  EXPECT_EQ(checksum.finish_base64(), "");
  EXPECT_EQ(checksum.header_name(), "");
  EXPECT_EQ(checksum.s3_algorithm(), "");
  EXPECT_EQ(checksum.complete_element(), "");
}

constexpr Kind kAllKinds[] = {Kind::md5,    Kind::crc32c,    Kind::crc64nvme,
                              Kind::sha256, Kind::xxhash128, Kind::none};

TEST(TransportChecksum, SplitUpdatesEqualOneShot) {
  std::mt19937_64 generator(7);
  std::vector<std::byte> data(300'000);
  for (std::byte& byte : data)
    byte = static_cast<std::byte>(generator());
  const auto all = std::span<const std::byte>(data);
  for (Kind kind : kAllKinds) {
    TransportChecksum one_shot(kind);
    one_shot.update(all);
    const std::string whole = one_shot.finish_base64();
    for (std::size_t piece : {1u, 3u, 8u, 63u, 4096u, 65537u}) {
      TransportChecksum incremental(kind);
      // A first piece of one byte, then `piece`-sized ones, then whatever is left.
      std::size_t done = 0;
      incremental.update(all.first(1));
      done = 1;
      while (done < all.size()) {
        const std::size_t size = std::min(piece, all.size() - done);
        incremental.update(all.subspan(done, size));
        done += size;
      }
      incremental.update({});
      EXPECT_EQ(incremental.finish_base64(), whole)
          << "kind " << static_cast<int>(kind) << " pieces of " << piece;
    }
  }
}

TEST(TransportChecksum, FinishResetsForTheNextPart) {
  for (Kind kind : kAllKinds) {
    TransportChecksum checksum(kind);
    checksum.update(bytes_of("first part"));
    const std::string first = checksum.finish_base64();
    checksum.update(bytes_of("hello"));
    EXPECT_EQ(checksum.finish_base64(), checksum_of(kind, "hello")) << static_cast<int>(kind);
    EXPECT_EQ(checksum.finish_base64(), checksum_of(kind, "")) << static_cast<int>(kind);
    EXPECT_EQ(first, checksum_of(kind, "first part"));
  }
}

TEST(TransportChecksum, NamesAsS3SpellsThem) {
  struct Names {
    Kind kind;
    std::string_view header, algorithm, element;
  };
  for (const Names& n : {
           Names{Kind::md5, "Content-MD5", "", ""},
           Names{Kind::crc32c, "x-amz-checksum-crc32c", "CRC32C", "ChecksumCRC32C"},
           Names{Kind::crc64nvme, "x-amz-checksum-crc64nvme", "CRC64NVME", "ChecksumCRC64NVME"},
           Names{Kind::sha256, "x-amz-checksum-sha256", "SHA256", "ChecksumSHA256"},
           Names{Kind::xxhash128, "x-amz-checksum-xxhash128", "XXHASH128", "ChecksumXXHASH128"},
       }) {
    const TransportChecksum checksum(n.kind);
    EXPECT_EQ(checksum.kind(), n.kind);
    EXPECT_EQ(checksum.header_name(), n.header);
    EXPECT_EQ(checksum.s3_algorithm(), n.algorithm);
    EXPECT_EQ(checksum.complete_element(), n.element);
  }
}

TEST(TransportChecksum, EveryKindIsAvailableHere) {
  for (Kind kind : kAllKinds)
    EXPECT_TRUE(TransportChecksum::is_available(kind)) << static_cast<int>(kind);
}

TEST(TransportChecksum, MovedChecksumKeepsItsState) {
  TransportChecksum checksum(Kind::xxhash128);
  checksum.update(bytes_of("hel"));
  TransportChecksum moved = std::move(checksum);
  moved.update(bytes_of("lo"));
  EXPECT_EQ(moved.finish_base64(), "tenBrQcbPn/Hec+qXlI4GA==");
}

TEST(TransportChecksum, Base64OfRfc4648Vectors) {
  EXPECT_EQ(base64_encode({}), "");
  EXPECT_EQ(base64_encode(bytes_of("f")), "Zg==");
  EXPECT_EQ(base64_encode(bytes_of("fo")), "Zm8=");
  EXPECT_EQ(base64_encode(bytes_of("foo")), "Zm9v");
  EXPECT_EQ(base64_encode(bytes_of("foob")), "Zm9vYg==");
  EXPECT_EQ(base64_encode(bytes_of("fooba")), "Zm9vYmE=");
  EXPECT_EQ(base64_encode(bytes_of("foobar")), "Zm9vYmFy");
  const std::byte high[] = {std::byte{0xfb}, std::byte{0xff}, std::byte{0xbf}};
  EXPECT_EQ(base64_encode(high), "+/+/") << "the standard alphabet, not the URL one";
}

}  // namespace
}  // namespace piperun::stages::upload
