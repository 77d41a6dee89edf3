// The XML bodies of S3's multipart upload and its errors: parsed with pugixml, written by hand.
// Element names are matched without any namespace prefix: AWS sends the 2006-03-01 namespace,
// radosgw and MinIO sometimes none. Text is taken as the server sends it: ETags keep their
// quotes.
#pragma once

#include <cstdint>
#include <expected>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace piperun::stages::upload {

// What a failed request tells. `code` may be empty when the body is not S3 XML; a response we
// cannot read carries code "MalformedResponse" and a message naming what was missing.
struct S3Error {
  std::string code, message, request_id;
};

// An <Error> document (<Code>, <Message>, <RequestId>); nullopt when the body is anything else:
// empty, HTML from a proxy, another document.
std::optional<S3Error> parse_error(std::string_view body);

// The UploadId of an <InitiateMultipartUploadResult>.
std::expected<std::string, S3Error> parse_initiate_multipart(std::string_view body);

struct CompletedPart {
  unsigned number;
  std::string etag;
  std::string checksum_name;  // e.g. "ChecksumCRC32C", empty = none
  std::string checksum_value;
};

// <CompleteMultipartUpload xmlns="http://s3.amazonaws.com/doc/2006-03-01/"> with one <Part> a
// part (<PartNumber>, <ETag>, <ChecksumX> when named), in ascending part number whatever the
// order of `parts`: S3 refuses any other order.
std::string complete_multipart_body(std::span<const CompletedPart> parts);

struct CompleteResult {
  std::string etag, location;  // etag may be empty (radosgw sends none)
};

// A <CompleteMultipartUploadResult>. S3 may answer 200 OK and still fail, with an <Error> as
// the body (sent after whitespace that kept the connection alive): that is returned as the error.
std::expected<CompleteResult, S3Error> parse_complete_multipart(std::string_view body);

// CopyObject's answer: the new object's ETag. Like CompleteMultipartUpload, a 200 can carry an
// <Error> instead.
std::expected<std::string, S3Error> parse_copy_object(std::string_view body);

struct ListedPart {
  unsigned number;
  std::uint64_t size;
  std::string etag;
};

// The parts of one <ListPartsResult>, in the order listed. Only this page's: see
// parse_list_parts_page for the marker of the next.
std::expected<std::vector<ListedPart>, S3Error> parse_list_parts(std::string_view body);

// One page of a <ListPartsResult>: S3 lists at most 1,000 parts a request; when `truncated`,
// ask again with part-number-marker=next_marker.
struct ListedPartsPage {
  std::vector<ListedPart> parts;
  bool truncated = false;
  unsigned next_marker = 0;
};

std::expected<ListedPartsPage, S3Error> parse_list_parts_page(std::string_view body);

}  // namespace piperun::stages::upload
