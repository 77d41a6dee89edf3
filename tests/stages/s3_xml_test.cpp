// S3's multipart XML as AWS and radosgw send it: with and without the namespace, entities in
// ETags, an <Error> inside a 200, truncated listings, and bodies that are not what we asked for.
#include "stages/upload/s3_xml.hpp"

#include <gtest/gtest.h>

namespace piperun::stages::upload {
namespace {

constexpr std::string_view kAwsInitiate = R"(<?xml version="1.0" encoding="UTF-8"?>
<InitiateMultipartUploadResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
  <Bucket>example-bucket</Bucket>
  <Key>example-object</Key>
  <UploadId>VXBsb2FkIElEIGZvciA2aWWpbmcncyBteS1tb3ZpZS5tMnRzIHVwbG9hZA</UploadId>
</InitiateMultipartUploadResult>)";

constexpr std::string_view kRadosgwInitiate =
    R"(<?xml version="1.0" encoding="UTF-8"?><InitiateMultipartUploadResult )"
    R"(xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Tenant></Tenant><Bucket>artifacts</Bucket>)"
    R"(<Key>a/b.zst</Key><UploadId>2~iCw_lDY8VoNAlqfBbM3FMJ9RHBs-RH2</UploadId>)"
    R"(</InitiateMultipartUploadResult>)";

constexpr std::string_view kAwsNoSuchUpload = R"(<?xml version="1.0" encoding="UTF-8"?>
<Error>
  <Code>NoSuchUpload</Code>
  <Message>The specified upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed.</Message>
  <UploadId>VXBsb2FkIElEIGZvciA2aWWpbmcncyBteS1tb3ZpZS5tMnRzIHVwbG9hZA</UploadId>
  <RequestId>4442587FB7D0A2F9</RequestId>
  <HostId>eftixk72aD6Ap51TnqcoF8eFidJG9Z/2mkiDFu8yU9AS1ed4OpIszj7UDNEHGran</HostId>
</Error>)";

// What AWS sends when CompleteMultipartUpload fails after the 200 and its keep-alive spaces.
constexpr std::string_view kErrorInside200 =
    "  \n  \n"
    R"(<?xml version="1.0" encoding="UTF-8"?>)"
    "\n"
    R"(<Error><Code>InternalError</Code><Message>We encountered an internal error. )"
    R"(Please try again.</Message><RequestId>656c76696e6727732072657175657374</RequestId>)"
    R"(<HostId>Uuag1LuByRx9e6j5Onimru9pO4ZVKnJ2Qz7/C1NPcfTWAtRPfTaOFg==</HostId></Error>)";

constexpr std::string_view kProxyPage =
    "<html><head><title>502 Bad Gateway</title></head>"
    "<body><center><h1>502 Bad Gateway</h1></center><hr><center>nginx</center></body></html>";

TEST(S3Xml, ParsesAnAwsError) {
  const auto error = parse_error(kAwsNoSuchUpload);
  ASSERT_TRUE(error);
  EXPECT_EQ(error->code, "NoSuchUpload");
  EXPECT_EQ(error->message.substr(0, 34), "The specified upload does not exis");
  EXPECT_EQ(error->request_id, "4442587FB7D0A2F9");
}

TEST(S3Xml, ParsesARadosgwErrorWithAnEmptyMessage) {
  const auto error = parse_error(
      R"(<?xml version="1.0" encoding="UTF-8"?><Error><Code>NoSuchBucket</Code><Message></Message>)"
      R"(<BucketName>artifacts</BucketName><RequestId>tx00000a1b2c3d4e5f6a7b8-0065a1b2c3-1234-default)"
      R"(</RequestId><HostId>1234-default-default</HostId></Error>)");
  ASSERT_TRUE(error);
  EXPECT_EQ(error->code, "NoSuchBucket");
  EXPECT_EQ(error->message, "");
  EXPECT_EQ(error->request_id, "tx00000a1b2c3d4e5f6a7b8-0065a1b2c3-1234-default");
}

TEST(S3Xml, AnythingButAnErrorDocumentIsNoError) {
  EXPECT_FALSE(parse_error(""));
  EXPECT_FALSE(parse_error("  \r\n"));
  EXPECT_FALSE(parse_error(kProxyPage));
  EXPECT_FALSE(parse_error("upstream connect error or disconnect/reset before headers"));
  EXPECT_FALSE(parse_error("<Error><Code>Trunc"));
  EXPECT_FALSE(parse_error(kAwsInitiate));
}

TEST(S3Xml, ErrorWithANamespacePrefixIsStillAnError) {
  const auto error =
      parse_error(R"(<s3:Error xmlns:s3="http://s3.amazonaws.com/doc/2006-03-01/">)"
                  R"(<s3:Code>SlowDown</s3:Code><s3:Message>Reduce your request rate.</s3:Message>)"
                  R"(</s3:Error>)");
  ASSERT_TRUE(error);
  EXPECT_EQ(error->code, "SlowDown");
  EXPECT_EQ(error->message, "Reduce your request rate.");
  EXPECT_EQ(error->request_id, "");
}

TEST(S3Xml, InitiateGivesTheUploadIdOfAwsAndRadosgw) {
  EXPECT_EQ(parse_initiate_multipart(kAwsInitiate).value_or("(error)"),
            "VXBsb2FkIElEIGZvciA2aWWpbmcncyBteS1tb3ZpZS5tMnRzIHVwbG9hZA");
  EXPECT_EQ(parse_initiate_multipart(kRadosgwInitiate).value_or("(error)"),
            "2~iCw_lDY8VoNAlqfBbM3FMJ9RHBs-RH2");
  EXPECT_EQ(parse_initiate_multipart("<InitiateMultipartUploadResult><UploadId>abc</UploadId>"
                                     "</InitiateMultipartUploadResult>")
                .value_or("(error)"),
            "abc")
      << "without a namespace";
}

TEST(S3Xml, InitiateReturnsTheServersError) {
  const auto result = parse_initiate_multipart(kAwsNoSuchUpload);
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().code, "NoSuchUpload");
  EXPECT_EQ(result.error().request_id, "4442587FB7D0A2F9");
}

TEST(S3Xml, InitiateWithoutAnUploadIdIsMalformed) {
  for (std::string_view body :
       {std::string_view("<InitiateMultipartUploadResult><Bucket>b</Bucket>"
                         "</InitiateMultipartUploadResult>"),
        std::string_view("<InitiateMultipartUploadResult><UploadId>  </UploadId>"
                         "</InitiateMultipartUploadResult>")}) {
    const auto result = parse_initiate_multipart(body);
    ASSERT_FALSE(result) << body;
    EXPECT_EQ(result.error().code, "MalformedResponse");
    EXPECT_NE(result.error().message.find("UploadId"), std::string::npos) << result.error().message;
  }
}

TEST(S3Xml, MalformedEmptyAndForeignBodiesSayWhatWasExpected) {
  struct Case {
    std::string_view body, says;
  };
  for (const Case& c : {Case{"", "empty body"}, Case{"\n ", "empty body"},
                        Case{"<InitiateMultipartUploadResult><UploadId>abc", "not XML"},
                        Case{"not xml at all", "not XML"}, Case{kProxyPage, "not XML"},
                        Case{"<html><body>502</body></html>", "got <html>"},
                        Case{"<ListPartsResult/>", "got <ListPartsResult>"}}) {
    const auto result = parse_initiate_multipart(c.body);
    ASSERT_FALSE(result) << c.body;
    EXPECT_EQ(result.error().code, "MalformedResponse") << c.body;
    EXPECT_NE(result.error().message.find("<InitiateMultipartUploadResult>"), std::string::npos)
        << result.error().message;
    EXPECT_NE(result.error().message.find(c.says), std::string::npos) << result.error().message;
  }
}

TEST(S3Xml, CompleteBodyListsThePartsInOrderWithEscapedETags) {
  const std::vector<CompletedPart> parts{
      {2, R"("0c78aef83f66abc1fa1e8477f296d394")", "", ""},
      {1, R"("a54357aff0632cce46d942af68356b38")", "", ""},
  };
  EXPECT_EQ(complete_multipart_body(parts),
            R"(<CompleteMultipartUpload xmlns="http://s3.amazonaws.com/doc/2006-03-01/">)"
            "<Part><PartNumber>1</PartNumber>"
            "<ETag>&quot;a54357aff0632cce46d942af68356b38&quot;</ETag></Part>"
            "<Part><PartNumber>2</PartNumber>"
            "<ETag>&quot;0c78aef83f66abc1fa1e8477f296d394&quot;</ETag></Part>"
            "</CompleteMultipartUpload>");
}

TEST(S3Xml, CompleteBodyCarriesEachPartsChecksum) {
  const std::vector<CompletedPart> parts{
      {1, R"("7778aef83f66abc1fa1e8477f296d394")", "ChecksumCRC32C", "yZRlqg=="},
      {2, "<odd&'etag'>", "ChecksumCRC32C", "4waSgw=="},
  };
  EXPECT_EQ(complete_multipart_body(parts),
            R"(<CompleteMultipartUpload xmlns="http://s3.amazonaws.com/doc/2006-03-01/">)"
            "<Part><PartNumber>1</PartNumber>"
            "<ETag>&quot;7778aef83f66abc1fa1e8477f296d394&quot;</ETag>"
            "<ChecksumCRC32C>yZRlqg==</ChecksumCRC32C></Part>"
            "<Part><PartNumber>2</PartNumber>"
            "<ETag>&lt;odd&amp;&apos;etag&apos;&gt;</ETag>"
            "<ChecksumCRC32C>4waSgw==</ChecksumCRC32C></Part>"
            "</CompleteMultipartUpload>");
}

TEST(S3Xml, CompleteBodyOfNoPartsIsStillADocument) {
  EXPECT_EQ(complete_multipart_body({}),
            R"(<CompleteMultipartUpload xmlns="http://s3.amazonaws.com/doc/2006-03-01/">)"
            "</CompleteMultipartUpload>");
}

TEST(S3Xml, CompleteResultOfAwsKeepsTheETagsQuotes) {
  const auto result = parse_complete_multipart(R"(<?xml version="1.0" encoding="UTF-8"?>
<CompleteMultipartUploadResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
  <Location>https://example-bucket.s3.amazonaws.com/Example-Object</Location>
  <Bucket>Example-Bucket</Bucket>
  <Key>Example-Object</Key>
  <ETag>&quot;3858f62230ac3c915f300c664312c11f-9&quot;</ETag>
</CompleteMultipartUploadResult>)");
  ASSERT_TRUE(result) << result.error().message;
  EXPECT_EQ(result->etag, R"("3858f62230ac3c915f300c664312c11f-9")");
  EXPECT_EQ(result->location, "https://example-bucket.s3.amazonaws.com/Example-Object");
}

TEST(S3Xml, CompleteResultOfRadosgwMayHaveNoETag) {
  const auto result = parse_complete_multipart(
      R"(<?xml version="1.0" encoding="UTF-8"?><CompleteMultipartUploadResult )"
      R"(xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Location>127.0.0.1:7480/artifacts/a/b.zst)"
      R"(</Location><Bucket>artifacts</Bucket><Key>a/b.zst</Key></CompleteMultipartUploadResult>)");
  ASSERT_TRUE(result) << result.error().message;
  EXPECT_EQ(result->etag, "");
  EXPECT_EQ(result->location, "127.0.0.1:7480/artifacts/a/b.zst");
}

TEST(S3Xml, AnErrorInsideA200IsAnError) {
  const auto result = parse_complete_multipart(kErrorInside200);
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().code, "InternalError");
  EXPECT_EQ(result.error().message, "We encountered an internal error. Please try again.");
  EXPECT_EQ(result.error().request_id, "656c76696e6727732072657175657374");
  EXPECT_TRUE(parse_error(kErrorInside200)) << "and parse_error sees it too";
}

TEST(S3Xml, CompleteResultThatIsOnlyKeepAliveSpaceIsMalformed) {
  const auto result = parse_complete_multipart("  \n  \n  ");
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().code, "MalformedResponse");
  EXPECT_NE(result.error().message.find("CompleteMultipartUploadResult"), std::string::npos);
}

constexpr std::string_view kAwsListParts = R"(<?xml version="1.0" encoding="UTF-8"?>
<ListPartsResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
  <Bucket>example-bucket</Bucket>
  <Key>example-object</Key>
  <UploadId>XXBsb2FkIElEIGZvciBlbHZpbmcncyVcdS1tb3ZpZS5tMnRzEEEwbG9hZA</UploadId>
  <Initiator>
    <ID>arn:aws:iam::111122223333:user/some-user-11116a31-17b5-4fb7-9df5-b288870f11xx</ID>
    <DisplayName>umat-user-11116a31-17b5-4fb7-9df5-b288870f11xx</DisplayName>
  </Initiator>
  <Owner>
    <ID>75aa57f09aa0c8caeab4f8c24e99d10f8e7faeebf76c078efc7c6caea54ba06a</ID>
    <DisplayName>someName</DisplayName>
  </Owner>
  <StorageClass>STANDARD</StorageClass>
  <PartNumberMarker>1</PartNumberMarker>
  <NextPartNumberMarker>3</NextPartNumberMarker>
  <MaxParts>2</MaxParts>
  <IsTruncated>true</IsTruncated>
  <Part>
    <PartNumber>2</PartNumber>
    <LastModified>2010-11-10T20:48:34.000Z</LastModified>
    <ETag>"7778aef83f66abc1fa1e8477f296d394"</ETag>
    <Size>10485760</Size>
  </Part>
  <Part>
    <PartNumber>3</PartNumber>
    <LastModified>2010-11-10T20:48:33.000Z</LastModified>
    <ETag>&quot;aaaa18db4cc2f85cedef654fccc4a4x8&quot;</ETag>
    <Size>6442450944</Size>
  </Part>
</ListPartsResult>)";

TEST(S3Xml, ListPartsOfAws) {
  const auto parts = parse_list_parts(kAwsListParts);
  ASSERT_TRUE(parts) << parts.error().message;
  ASSERT_EQ(parts->size(), 2u);
  EXPECT_EQ((*parts)[0].number, 2u);
  EXPECT_EQ((*parts)[0].size, 10485760u);
  EXPECT_EQ((*parts)[0].etag, R"("7778aef83f66abc1fa1e8477f296d394")");
  EXPECT_EQ((*parts)[1].number, 3u);
  EXPECT_EQ((*parts)[1].size, 6442450944u) << "parts above 4 GiB";
  EXPECT_EQ((*parts)[1].etag, R"("aaaa18db4cc2f85cedef654fccc4a4x8")");
}

TEST(S3Xml, ListPartsPageTellsWhereTheNextStarts) {
  const auto page = parse_list_parts_page(kAwsListParts);
  ASSERT_TRUE(page) << page.error().message;
  EXPECT_TRUE(page->truncated);
  EXPECT_EQ(page->next_marker, 3u);
  EXPECT_EQ(page->parts.size(), 2u);
}

TEST(S3Xml, ListPartsOfRadosgwWithoutNamespaceOrParts) {
  const auto page = parse_list_parts_page(
      "<ListPartsResult><Bucket>artifacts</Bucket><Key>a/b.zst</Key>"
      "<UploadId>2~iCw_lDY8VoNAlqfBbM3FMJ9RHBs-RH2</UploadId><PartNumberMarker>0"
      "</PartNumberMarker><NextPartNumberMarker>0</NextPartNumberMarker><MaxParts>1000</MaxParts>"
      "<IsTruncated>false</IsTruncated></ListPartsResult>");
  ASSERT_TRUE(page) << page.error().message;
  EXPECT_TRUE(page->parts.empty());
  EXPECT_FALSE(page->truncated);
}

TEST(S3Xml, ListPartsWithABrokenPartIsMalformed) {
  struct Case {
    std::string_view body, says;
  };
  for (const Case& c : {
           Case{"<ListPartsResult><Part><PartNumber>1</PartNumber><ETag>\"e\"</ETag></Part>"
                "</ListPartsResult>",
                "no <Size>"},
           Case{"<ListPartsResult><Part><Size>5</Size><ETag>\"e\"</ETag></Part>"
                "</ListPartsResult>",
                "no <PartNumber>"},
           Case{"<ListPartsResult><Part><PartNumber>1</PartNumber><Size>5</Size></Part>"
                "</ListPartsResult>",
                "no <ETag>"},
           Case{"<ListPartsResult><Part><PartNumber>one</PartNumber><Size>5</Size>"
                "<ETag>\"e\"</ETag></Part></ListPartsResult>",
                "not a number"},
           Case{"<ListPartsResult><Part><PartNumber>1</PartNumber><Size>-5</Size>"
                "<ETag>\"e\"</ETag></Part></ListPartsResult>",
                "not a number"},
           Case{"<ListPartsResult><IsTruncated>true</IsTruncated></ListPartsResult>",
                "no <NextPartNumberMarker>"},
       }) {
    const auto parts = parse_list_parts(c.body);
    ASSERT_FALSE(parts) << c.body;
    EXPECT_EQ(parts.error().code, "MalformedResponse");
    EXPECT_NE(parts.error().message.find(c.says), std::string::npos) << parts.error().message;
  }
}

TEST(S3Xml, ListPartsReturnsTheServersError) {
  const auto parts = parse_list_parts(kAwsNoSuchUpload);
  ASSERT_FALSE(parts);
  EXPECT_EQ(parts.error().code, "NoSuchUpload");
}

}  // namespace
}  // namespace piperun::stages::upload
