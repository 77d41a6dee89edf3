// libFuzzer target: stages/upload/s3_xml.hpp, the S3 response bodies a server (or whatever
// answers in its place: a proxy, a load balancer) sends back. The whole input is one body, fed
// to every parser.
//
// Properties, besides no crash and no sanitizer report:
//   - parse_error and the other parsers agree: when the body is an <Error>, every parser returns
//     exactly that error; otherwise a parser fails only with MalformedResponse, naming the
//     element it expected;
//   - parse_list_parts is parse_list_parts_page's parts;
//   - an UploadId is never empty nor padded with blanks;
//   - the parts a listing gives, sent back through complete_multipart_body and read again with
//     pugixml, come back in ascending part number with the same ETags and checksums.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <pugixml.hpp>

#include "property.hpp"
#include "stages/upload/s3_xml.hpp"

namespace piperun::fuzz {
namespace {

using stages::upload::CompletedPart;
using stages::upload::ListedPart;
using stages::upload::S3Error;

constexpr std::string_view kMalformed = "MalformedResponse";

bool same(const S3Error& a, const S3Error& b) {
  return a.code == b.code && a.message == b.message && a.request_id == b.request_id;
}

// How every parser but parse_error must fail: with the <Error> the body is, or as malformed.
template <typename T>
void check_failure(const std::expected<T, S3Error>& result, const std::optional<S3Error>& error,
                   std::string_view expected_root) {
  if (error) {
    require(!result.has_value(), "a parser takes an <Error> body for success", expected_root);
    require(same(result.error(), *error), "a parser returns another error than parse_error's",
            expected_root);
    return;
  }
  if (result) return;
  require(result.error().code == kMalformed, "a failure that is no <Error> is malformed",
          result.error().code);
  require(result.error().message.find(expected_root) != std::string::npos,
          "a malformed response names what was expected", result.error().message);
}

bool blank(char c) {
  return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

// pugixml drops text that is only blanks (no parse_ws_pcdata), so such an ETag cannot come back.
bool round_trips(const std::string& text) {
  return std::any_of(text.begin(), text.end(), [](char c) { return !blank(c); });
}

void check_complete_body(const std::vector<ListedPart>& listed) {
  std::vector<CompletedPart> parts;
  for (const ListedPart& part : listed) {
    if (!round_trips(part.etag)) continue;
    // The ETag doubles as a checksum value, to send both through the escaping.
    parts.push_back({part.number, part.etag, "ChecksumCRC32C", part.etag});
  }
  const std::string body = stages::upload::complete_multipart_body(parts);
  std::vector<CompletedPart> expected = parts;
  std::stable_sort(
      expected.begin(), expected.end(),
      [](const CompletedPart& a, const CompletedPart& b) { return a.number < b.number; });

  pugi::xml_document document;
  require(static_cast<bool>(document.load_buffer(body.data(), body.size())),
          "complete_multipart_body writes XML", body);
  const pugi::xml_node root = document.document_element();
  require(std::string_view(root.name()) == "CompleteMultipartUpload",
          "complete_multipart_body's root is <CompleteMultipartUpload>", body);
  std::size_t i = 0;
  for (pugi::xml_node part : root.children("Part")) {
    require(i < expected.size(), "complete_multipart_body writes one <Part> a part", body);
    require(std::to_string(expected[i].number) == part.child_value("PartNumber"),
            "complete_multipart_body keeps the part numbers, ascending", body);
    require(expected[i].etag == part.child_value("ETag"),
            "complete_multipart_body's ETag reads back as it was", body);
    require(expected[i].checksum_value == part.child_value("ChecksumCRC32C"),
            "complete_multipart_body's checksum reads back as it was", body);
    ++i;
  }
  require(i == expected.size(), "complete_multipart_body writes every part", body);
}

}  // namespace
}  // namespace piperun::fuzz

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace piperun::fuzz;
  namespace upload = piperun::stages::upload;
  const std::string_view body = as_text(data, size);

  const std::optional<S3Error> error = upload::parse_error(body);

  const auto upload_id = upload::parse_initiate_multipart(body);
  check_failure(upload_id, error, "InitiateMultipartUploadResult");
  if (upload_id) {
    require(!upload_id->empty(), "an UploadId is never empty");
    require(!blank(upload_id->front()) && !blank(upload_id->back()),
            "an UploadId has no surrounding blanks", *upload_id);
  }

  check_failure(upload::parse_complete_multipart(body), error, "CompleteMultipartUploadResult");
  check_failure(upload::parse_copy_object(body), error, "CopyObjectResult");

  const auto page = upload::parse_list_parts_page(body);
  check_failure(page, error, "ListPartsResult");
  const auto parts = upload::parse_list_parts(body);
  check_failure(parts, error, "ListPartsResult");
  require(page.has_value() == parts.has_value(), "parse_list_parts fails as its page does");
  if (page) {
    require(page->parts.size() == parts->size(), "parse_list_parts gives the page's parts");
    for (std::size_t i = 0; i < parts->size(); ++i) {
      const ListedPart& a = page->parts[i];
      const ListedPart& b = (*parts)[i];
      require(a.number == b.number && a.size == b.size && a.etag == b.etag,
              "parse_list_parts gives the page's parts");
    }
    if (!page->truncated) require(page->next_marker == 0, "a last page has no next marker");
    check_complete_body(page->parts);
  } else {
    require(same(page.error(), parts.error()), "parse_list_parts fails as its page does");
  }
  return 0;
}
