// Signature V4: the worked examples of the S3 documentation ("Signature Calculations for the
// Authorization Header: Transferring Payload in a Single Chunk"), then the canonical form's
// rules one at a time.
#include "stages/upload/sigv4.hpp"

#include <gtest/gtest.h>

#include "stages/upload/uri_encode.hpp"
#include "support/bytes_of.hpp"

namespace piperun::stages::upload {
namespace {

using piperun::testing::bytes_of;

using namespace std::chrono;

// The S3 documentation's example account, bucket and moment.
const Credentials kExampleCredentials{"AKIAIOSFODNN7EXAMPLE",
                                      "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", ""};
constexpr std::string_view kExampleHost = "examplebucket.s3.amazonaws.com";
constexpr std::string_view kEmptySha256 =
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
const system_clock::time_point kExampleTime = sys_days{year{2013} / May / 24};

RequestToSign example_get(std::string_view path) {
  RequestToSign request;
  request.method = "GET";
  request.host = kExampleHost;
  request.encoded_path = path;
  request.payload_hash = kEmptySha256;
  request.region = "us-east-1";
  request.now = kExampleTime;
  return request;
}

std::string header_value(const SignedRequest& signed_request, std::string_view name) {
  for (const Header& header : signed_request.headers) {
    if (header.name == name) return header.value;
  }
  return "(absent)";
}

std::string signature_of(const SignedRequest& signed_request) {
  const std::string authorization = header_value(signed_request, "Authorization");
  const auto at = authorization.find("Signature=");
  return at == std::string::npos ? authorization : authorization.substr(at + 10);
}

TEST(SigV4, S3ExampleGetObject) {
  RequestToSign request = example_get("/test.txt");
  request.headers = {{"Range", "bytes=0-9"}};
  EXPECT_EQ(canonical_request(request, kExampleCredentials),
            "GET\n"
            "/test.txt\n"
            "\n"
            "host:examplebucket.s3.amazonaws.com\n"
            "range:bytes=0-9\n"
            "x-amz-content-sha256:"
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\n"
            "x-amz-date:20130524T000000Z\n"
            "\n"
            "host;range;x-amz-content-sha256;x-amz-date\n"
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");

  const SignedRequest signed_request = sign_v4(request, kExampleCredentials);
  EXPECT_EQ(signed_request.canonical_query, "");
  EXPECT_EQ(header_value(signed_request, "Authorization"),
            "AWS4-HMAC-SHA256 "
            "Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,"
            "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date,"
            "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");
  EXPECT_EQ(header_value(signed_request, "Range"), "bytes=0-9");
  EXPECT_EQ(header_value(signed_request, "x-amz-date"), "20130524T000000Z");
  EXPECT_EQ(header_value(signed_request, "x-amz-content-sha256"), kEmptySha256);
  EXPECT_EQ(header_value(signed_request, "x-amz-security-token"), "(absent)");
  EXPECT_EQ(header_value(signed_request, "host"), "(absent)") << "the caller sends Host";
  EXPECT_EQ(signed_request.headers.size(), 4u);
}

TEST(SigV4, S3ExamplePutObject) {
  constexpr std::string_view kBody = "Welcome to Amazon S3.";
  const std::string payload_hash = sha256_hex(bytes_of(kBody));
  ASSERT_EQ(payload_hash, "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072");
  const std::string path = "/" + uri_encode("test$file.text", false);
  ASSERT_EQ(path, "/test%24file.text");

  RequestToSign request = example_get(path);
  request.method = "PUT";
  request.payload_hash = payload_hash;
  request.headers = {{"Date", "Fri, 24 May 2013 00:00:00 GMT"},
                     {"x-amz-storage-class", "REDUCED_REDUNDANCY"}};
  const SignedRequest signed_request = sign_v4(request, kExampleCredentials);
  EXPECT_EQ(header_value(signed_request, "Authorization"),
            "AWS4-HMAC-SHA256 "
            "Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,"
            "SignedHeaders=date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class,"
            "Signature=98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd");
  EXPECT_EQ(header_value(signed_request, "Date"), "Fri, 24 May 2013 00:00:00 GMT");
  EXPECT_EQ(header_value(signed_request, "x-amz-storage-class"), "REDUCED_REDUNDANCY");
}

TEST(SigV4, S3ExampleGetBucketLifecycle) {
  RequestToSign request = example_get("/");
  request.query = {{"lifecycle", ""}};
  const SignedRequest signed_request = sign_v4(request, kExampleCredentials);
  EXPECT_EQ(signed_request.canonical_query, "lifecycle=");
  EXPECT_EQ(signature_of(signed_request),
            "fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543");
}

TEST(SigV4, S3ExampleListObjectsSortsTheQuery) {
  RequestToSign request = example_get("/");
  request.query = {{"prefix", "J"}, {"max-keys", "2"}};
  const SignedRequest signed_request = sign_v4(request, kExampleCredentials);
  EXPECT_EQ(signed_request.canonical_query, "max-keys=2&prefix=J");
  EXPECT_EQ(signature_of(signed_request),
            "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7");
}

TEST(SigV4, QueryNamesAndValuesAreEncodedThenSorted) {
  RequestToSign request = example_get("/bucket/key");
  request.query = {
      {"uploadId", "a/b+c d"}, {"partNumber", "7"}, {"uploads", ""}, {"a", "2"}, {"a", "1"}};
  EXPECT_EQ(sign_v4(request, kExampleCredentials).canonical_query,
            "a=1&a=2&partNumber=7&uploadId=a%2Fb%2Bc%20d&uploads=");
}

TEST(SigV4, HeadersAreLowerCasedTrimmedAndSorted) {
  RequestToSign request = example_get("/bucket/key");
  request.headers = {{"  X-Amz-Meta-Note ", "  two   words\there  "},
                     {"Content-MD5", "XUFAKrxLKna5cZ2REBfFkg=="},
                     {"x-amz-meta-list", "a"},
                     {"X-AMZ-META-LIST", "b"}};
  const std::string canonical = canonical_request(request, kExampleCredentials);
  EXPECT_NE(canonical.find("\ncontent-md5:XUFAKrxLKna5cZ2REBfFkg==\n"
                           "host:examplebucket.s3.amazonaws.com\n"
                           "x-amz-content-sha256:" +
                           std::string(kEmptySha256) +
                           "\n"
                           "x-amz-date:20130524T000000Z\n"
                           "x-amz-meta-list:a,b\n"
                           "x-amz-meta-note:two words here\n"
                           "\n"
                           "content-md5;host;x-amz-content-sha256;x-amz-date;x-amz-meta-list;"
                           "x-amz-meta-note\n"),
            std::string::npos)
      << canonical;
  const SignedRequest signed_request = sign_v4(request, kExampleCredentials);
  EXPECT_EQ(header_value(signed_request, "  X-Amz-Meta-Note "), "  two   words\there  ")
      << "sent as given: the server trims as the signer did";
}

TEST(SigV4, TheSignersOwnHeadersCannotBeOverridden) {
  RequestToSign request = example_get("/test.txt");
  request.headers = {{"Range", "bytes=0-9"},
                     {"Host", "elsewhere.example"},
                     {"X-Amz-Date", "19990101T000000Z"},
                     {"authorization", "forged"}};
  const SignedRequest signed_request = sign_v4(request, kExampleCredentials);
  EXPECT_EQ(signature_of(signed_request),
            "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");
  EXPECT_EQ(signed_request.headers.size(), 4u);
}

TEST(SigV4, ASessionTokenIsSentAndSigned) {
  const Credentials temporary{"AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
                              "FQoGZXIvYXdzEXAMPLE+token/=="};
  RequestToSign request = example_get("/test.txt");
  const SignedRequest signed_request = sign_v4(request, temporary);
  EXPECT_EQ(header_value(signed_request, "x-amz-security-token"), "FQoGZXIvYXdzEXAMPLE+token/==");
  EXPECT_NE(header_value(signed_request, "Authorization")
                .find("SignedHeaders=host;x-amz-content-sha256;x-amz-date;x-amz-security-token,"),
            std::string::npos);
  EXPECT_NE(signature_of(signed_request), signature_of(sign_v4(request, kExampleCredentials)));
}

TEST(SigV4, UnsignedPayloadIsSignedLiterally) {
  RequestToSign request = example_get("/bucket/big.zst");
  request.method = "PUT";
  request.payload_hash = "UNSIGNED-PAYLOAD";
  const SignedRequest signed_request = sign_v4(request, kExampleCredentials);
  EXPECT_EQ(header_value(signed_request, "x-amz-content-sha256"), "UNSIGNED-PAYLOAD");
  EXPECT_TRUE(canonical_request(request, kExampleCredentials).ends_with("\nUNSIGNED-PAYLOAD"));
}

TEST(SigV4, TheKeyCacheGivesTheSameSignatures) {
  SigningKeyCache keys;
  RequestToSign request = example_get("/test.txt");
  request.headers = {{"Range", "bytes=0-9"}};
  for (int round = 0; round < 2; ++round) {
    EXPECT_EQ(signature_of(sign_v4(request, kExampleCredentials, keys)),
              "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");
  }
  // A new day needs a new key: the cached one must not be reused.
  request.now = kExampleTime + days{1};
  EXPECT_EQ(signature_of(sign_v4(request, kExampleCredentials, keys)),
            signature_of(sign_v4(request, kExampleCredentials)));
  request.region = "eu-west-1";
  EXPECT_EQ(signature_of(sign_v4(request, kExampleCredentials, keys)),
            signature_of(sign_v4(request, kExampleCredentials)));
}

TEST(SigV4, AmzDateIsUtcWholeSeconds) {
  EXPECT_EQ(amz_date(kExampleTime), "20130524T000000Z");
  EXPECT_EQ(amz_date(sys_days{year{2024} / February / 29} + hours{23} + minutes{59} + seconds{58} +
                     milliseconds{999}),
            "20240229T235958Z");
}

TEST(SigV4, Sha256HexOfKnownInputs) {
  EXPECT_EQ(sha256_hex({}), kEmptySha256);
  EXPECT_EQ(sha256_hex(bytes_of("hello")),
            "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824");
}

}  // namespace
}  // namespace piperun::stages::upload
