#include "stages/upload/s3_xml.hpp"

#include <algorithm>
#include <charconv>

#include <fmt/format.h>
#include <pugixml.hpp>

namespace piperun::stages::upload {
namespace {

constexpr std::string_view kMalformed = "MalformedResponse";

S3Error malformed(std::string message) {
  return S3Error{std::string(kMalformed), std::move(message), {}};
}

// "s3:UploadId" and "UploadId" are the same element to us: see the header.
std::string_view local_name(const char* name) {
  const std::string_view full(name);
  const auto colon = full.find(':');
  return colon == std::string_view::npos ? full : full.substr(colon + 1);
}

pugi::xml_node child_named(pugi::xml_node parent, std::string_view name) {
  for (pugi::xml_node child : parent.children()) {
    if (child.type() == pugi::node_element && local_name(child.name()) == name) return child;
  }
  return {};
}

std::string_view trim(std::string_view text) {
  constexpr std::string_view kSpace = " \t\r\n";
  const auto first = text.find_first_not_of(kSpace);
  if (first == std::string_view::npos) return {};
  return text.substr(first, text.find_last_not_of(kSpace) - first + 1);
}

template <typename Number>
std::optional<Number> parse_number(std::string_view text) {
  text = trim(text);
  Number value{};
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || error != std::errc{} || end != text.data() + text.size()) return std::nullopt;
  return value;
}

S3Error error_from(pugi::xml_node error) {
  return S3Error{child_named(error, "Code").child_value(),
                 child_named(error, "Message").child_value(),
                 child_named(error, "RequestId").child_value()};
}

// The root element of `body` when it is <expected>; the server's error when it is <Error>;
// otherwise a MalformedResponse saying what came instead.
std::expected<pugi::xml_node, S3Error> root_of(pugi::xml_document& document, std::string_view body,
                                               std::string_view expected) {
  if (trim(body).empty()) {
    return std::unexpected(malformed(fmt::format("empty body where <{}> was expected", expected)));
  }
  const pugi::xml_parse_result parsed =
      document.load_buffer(body.data(), body.size(), pugi::parse_default, pugi::encoding_utf8);
  if (!parsed) {
    return std::unexpected(
        malformed(fmt::format("<{}> expected, the body is not XML: {} at byte {}", expected,
                              parsed.description(), parsed.offset)));
  }
  const pugi::xml_node root = document.document_element();
  const std::string_view name = local_name(root.name());
  if (name == "Error") return std::unexpected(error_from(root));
  if (name != expected) {
    return std::unexpected(malformed(fmt::format("<{}> expected, got <{}>", expected, name)));
  }
  return root;
}

void append_escaped(std::string& out, std::string_view text) {
  for (char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&apos;";
        break;
      default:
        out += c;
    }
  }
}

void append_element(std::string& out, std::string_view name, std::string_view text) {
  out += '<';
  out += name;
  out += '>';
  append_escaped(out, text);
  out += "</";
  out += name;
  out += '>';
}

std::expected<ListedPart, S3Error> listed_part(pugi::xml_node part) {
  const pugi::xml_node number = child_named(part, "PartNumber");
  const pugi::xml_node size = child_named(part, "Size");
  const pugi::xml_node etag = child_named(part, "ETag");
  if (!number || !size || !etag) {
    return std::unexpected(
        malformed(fmt::format("a <Part> of <ListPartsResult> has no <{}>",
                              !number ? "PartNumber" : (!size ? "Size" : "ETag"))));
  }
  const auto parsed_number = parse_number<unsigned>(number.child_value());
  const auto parsed_size = parse_number<std::uint64_t>(size.child_value());
  if (!parsed_number || !parsed_size) {
    return std::unexpected(malformed(fmt::format(
        "a <Part> of <ListPartsResult> has a PartNumber '{}' or Size '{}' that is not a number",
        number.child_value(), size.child_value())));
  }
  return ListedPart{*parsed_number, *parsed_size, etag.child_value()};
}

}  // namespace

std::optional<S3Error> parse_error(std::string_view body) {
  if (trim(body).empty()) return std::nullopt;
  pugi::xml_document document;
  if (!document.load_buffer(body.data(), body.size(), pugi::parse_default, pugi::encoding_utf8)) {
    return std::nullopt;
  }
  const pugi::xml_node root = document.document_element();
  if (local_name(root.name()) != "Error") return std::nullopt;
  return error_from(root);
}

std::expected<std::string, S3Error> parse_initiate_multipart(std::string_view body) {
  pugi::xml_document document;
  auto root = root_of(document, body, "InitiateMultipartUploadResult");
  if (!root) return std::unexpected(std::move(root.error()));
  const std::string_view upload_id = trim(child_named(*root, "UploadId").child_value());
  if (upload_id.empty()) {
    return std::unexpected(malformed("<InitiateMultipartUploadResult> has no <UploadId>"));
  }
  return std::string(upload_id);
}

std::string complete_multipart_body(std::span<const CompletedPart> parts) {
  std::vector<const CompletedPart*> in_order;
  in_order.reserve(parts.size());
  for (const CompletedPart& part : parts)
    in_order.push_back(&part);
  std::stable_sort(
      in_order.begin(), in_order.end(),
      [](const CompletedPart* a, const CompletedPart* b) { return a->number < b->number; });

  std::string body = R"(<CompleteMultipartUpload xmlns="http://s3.amazonaws.com/doc/2006-03-01/">)";
  body.reserve(body.size() + parts.size() * 160);
  for (const CompletedPart* part : in_order) {
    body += "<Part>";
    append_element(body, "PartNumber", fmt::format("{}", part->number));
    append_element(body, "ETag", part->etag);
    if (!part->checksum_name.empty()) {
      append_element(body, part->checksum_name, part->checksum_value);
    }
    body += "</Part>";
  }
  body += "</CompleteMultipartUpload>";
  return body;
}

std::expected<CompleteResult, S3Error> parse_complete_multipart(std::string_view body) {
  pugi::xml_document document;
  auto root = root_of(document, body, "CompleteMultipartUploadResult");
  if (!root) return std::unexpected(std::move(root.error()));
  return CompleteResult{child_named(*root, "ETag").child_value(),
                        child_named(*root, "Location").child_value()};
}

std::expected<std::string, S3Error> parse_copy_object(std::string_view body) {
  pugi::xml_document document;
  auto root = root_of(document, body, "CopyObjectResult");
  if (!root) return std::unexpected(std::move(root.error()));
  return std::string(child_named(*root, "ETag").child_value());
}

std::expected<ListedPartsPage, S3Error> parse_list_parts_page(std::string_view body) {
  pugi::xml_document document;
  auto root = root_of(document, body, "ListPartsResult");
  if (!root) return std::unexpected(std::move(root.error()));
  ListedPartsPage page;
  for (pugi::xml_node child : root->children()) {
    if (child.type() != pugi::node_element || local_name(child.name()) != "Part") continue;
    auto part = listed_part(child);
    if (!part) return std::unexpected(std::move(part.error()));
    page.parts.push_back(std::move(*part));
  }
  page.truncated = trim(child_named(*root, "IsTruncated").child_value()) == "true";
  if (page.truncated) {
    const auto marker =
        parse_number<unsigned>(child_named(*root, "NextPartNumberMarker").child_value());
    if (!marker) {
      return std::unexpected(
          malformed("<ListPartsResult> is truncated but has no <NextPartNumberMarker>"));
    }
    page.next_marker = *marker;
  }
  return page;
}

std::expected<std::vector<ListedPart>, S3Error> parse_list_parts(std::string_view body) {
  auto page = parse_list_parts_page(body);
  if (!page) return std::unexpected(std::move(page.error()));
  return std::move(page->parts);
}

}  // namespace piperun::stages::upload
